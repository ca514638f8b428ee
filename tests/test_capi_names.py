"""The generated C API name table: header reading, the generator's rows, and FT406's use of it."""

from __future__ import annotations

import json
from pathlib import Path

from support import REPO, load_tool, run

from ftaudit.facts import capi_names


def _generator():
    return load_tool("tools/capi-names/generate.py", "capi_generate")


HEADER = """\
#ifndef Py_CPYTHON_DEMO_H
#  error "this header file must not be included directly"
#endif
/* PyAPI_FUNC(int) _PyCommented(void); */
PyAPI_FUNC(int) _PyDemo_Run(PyObject *code,
                            int flags);
PyAPI_FUNC(PyObject *) PyDemo_New(void);
PyAPI_FUNC(int (*)(void)) _PyDemo_Hook(void);
PyAPI_DATA(int) _PyDemo_Flag;
#define _PyDemo_CAST(op) ((PyDemoObject *)(op))
typedef struct _PyDemoState { int x; } _PyDemoState;
typedef int (*Py_demofunc)(PyObject *);
#ifdef Py_BUILD_CORE
PyAPI_FUNC(int) _PyDemo_CoreOnly(void);
#  if defined(MS_WINDOWS)
PyAPI_FUNC(int) _PyDemo_CoreWindows(void);
#  endif
#else
PyAPI_FUNC(int) _PyDemo_Public(void);
#endif
"""


def test_names_a_header_declares() -> None:
    assert capi_names.names_in_header(HEADER) == {
        "_PyDemo_Run", "PyDemo_New", "_PyDemo_Hook", "_PyDemo_Flag", "_PyDemo_CAST", "_PyDemoState",
        "Py_demofunc", "_PyDemo_Public",
    }


def test_internal_headers_are_not_public() -> None:
    names = capi_names.names_in_headers([("cpython/demo.h", HEADER),
                                         ("internal/pycore_demo.h", "PyAPI_FUNC(int) _PyDemo_Internal(void);")])
    assert "_PyDemo_Run" in names and "_PyDemo_Internal" not in names


def test_the_generator_writes_unknown_rows_for_versions_it_cannot_read(tmp_path: Path) -> None:
    include = tmp_path / "include"
    (include / "cpython").mkdir(parents=True)
    (include / "cpython" / "demo.h").write_text(HEADER)
    table = _generator().build({}, {}, {"3.13": include})
    assert {v: row for v, row in table["versions"].items() if row == "unknown"} == {
        "3.9": "unknown", "3.10": "unknown", "3.11": "unknown", "3.12": "unknown", "3.14": "unknown"}
    assert table["names"]["_PyDemo_Run"] == 1 << 4  # the bit of 3.13 (the fifth version)


def test_the_shipped_table_is_pinned_and_honest() -> None:
    data = json.loads(capi_names.TABLE.read_text())
    pins = (REPO / "tools" / "capi-names" / "sources.toml").read_text()
    for version, row in data["versions"].items():
        if row != "unknown" and "sha256" in row:
            assert row["sha256"] in pins, version  # every read release is pinned by checksum
    table = capi_names.load()
    assert table.declares((3, 11), "_PyEval_SetProfile") is True
    assert table.declares((3, 13), "_PyEval_SetProfile") is False
    assert table.declares((3, 12), "_PyEval_SetProfile") is None  # not read here: unknown, not guessed


def test_ft406_reports_private_names_the_target_no_longer_declares(tmp_path: Path) -> None:
    fixture = REPO / "fixtures" / "c" / "internals" / "profile_hooks.c"
    found = {}
    for target in ("3.13", "3.14t", "3.11"):
        result = run(["scan", str(fixture), "--isolated", "--select", "FT406", "--output-format", "json",
                      "--target-version", target], REPO)
        found[target] = [(f["location"]["row"], f["severity"]) for f in json.loads(result.stdout)
                         if "_PyEval_SetProfile" in f["message"]]
    # The row of 3.13 is known: an error. 3.14 is unknown here: 3.13's row answers, as a warning.
    # 3.11 declares it; the call under `#if PY_VERSION_HEX < 0x030D0000` (line 23) is never reported.
    assert found == {"3.13": [(16, "error")], "3.14t": [(16, "warning")], "3.11": []}
