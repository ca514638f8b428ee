"""FT1xx on realistic whole modules of every style: exact findings, and fixes that really fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from support import REPO, run

from ftaudit.config import Settings
from ftaudit.engine import scan
from ftaudit.fixes import apply_edits

FIXTURES = REPO / "fixtures" / "ft1xx"


def findings(*args: str) -> list[tuple[str, str, int]]:
    result = run(["scan", ".", "--isolated", "--output-format", "json", *args], FIXTURES)
    assert result.exit_code in (0, 1), result.output
    return [(f["filename"], f["code"], f["location"]["row"]) for f in json.loads(result.stdout)]


def test_every_declaration_style() -> None:
    assert findings("--select", "FT1") == [
        ("cython_ext/helper_unused/lonely.pyx", "FT104", 1),   # its buildinfo.py is not imported by setup.py
        # helper_module/fast/scan.pyx: declared by setupinfo.py, which setup.py imports (no finding)
        ("cython_ext/plain/stats.pyx", "FT104", 1),            # ready.pyx declares; tidy/ via setup.py
        ("declared_racy/src/core.c", "FT108", 32),             # racy state in the linked stats.c
        # sources=["src/core.c"] + platform_sources: clock_posix.c's racy state is linked in; the loop-built
        # timing.alpha is its own extension, so beta.c's counter does not contradict alpha's declaration.
        ("declared_racy_platform/src/beta.c", "FT109", 20),    # deliberate Py_MOD_GIL_USED
        ("declared_racy_platform/src/core.c", "FT108", 18),
        ("init_spellings/_chainstyle.c", "FT102", 42),         # MOD_DEF(m, …) creates it; #if splits an else-if chain
        ("init_spellings/_crcstyle.c", "FT102", 19),           # MOD_INIT(_crcstyle) from compat.h
        ("init_spellings/_objstyle.c", "FT102", 23),          # INIT_OBJ / CREATE_OBJ object-like macros
        ("init_spellings/_pgstyle.c", "FT102", 30),            # INIT_MODULE(_pgstyle)(void), pasted
        ("init_spellings/_splitstyle.c", "FT102", 26),         # #if PY_MAJOR_VERSION >= 3 … #else … #endif {
        # PSYCO_INIT from "psyco/rooted.h", found from the project folder; the _WIN32 export shim
        # PyInit___init__ only forwards to PyInit__rooted and is no module of its own.
        ("init_spellings/_visible.c", "FT102", 23),           # VISIBLE_EXPORT PyMODINIT_FUNC PyInit__visible
        ("init_spellings/psyco/_rooted.c", "FT102", 20),
        ("legacy_py39/_old.c", "FT103", 5),                    # requires-python >= 3.9: slot unguarded
        ("legacy_py39/_old.c", "FT103", 26),                   # SetGIL outside #ifdef Py_GIL_DISABLED
        # modname_*: modules the file does not name (tests/test_module_names.py checks their messages)
        ("modname_assigned/_speedups.c", "FT101", 16),
        ("modname_macro/_accel.c", "FT109", 17),
        ("modname_macro/_tables.c", "FT101", 7),
        ("modname_noinit/hooks.c", "FT101", 4),
        ("modname_noinit/plugin.c", "FT108", 21),
        ("multiphase/_bare.c", "FT101", 21),                   # no slot at all
        ("multiphase/_compress.c", "FT101", 34),               # slot only compiled for 3.15
        ("multiphase/_legacy_gil.c", "FT109", 6),              # deliberate Py_MOD_GIL_USED
        ("nanobind_ext/CMakeLists.txt", "FT106", 9),           # _legacy lacks FREE_THREADED
        ("pybind11_ext/geometry.cpp", "FT105", 10),            # `vectors`, not `shapes`
        ("pyo3_ext/src/lib.rs", "FT107", 10),                  # PyO3 0.24; pyo3_new (0.28) is fine
        ("singlephase/_timer.c", "FT102", 27),                 # _clock declares under Py_GIL_DISABLED
    ]


def test_target_without_free_threading_has_no_declaration_findings() -> None:
    assert findings("--select", "FT101,FT102,FT105,FT109", "--target-version", "3.12") == []


def test_target_3_15_sees_the_guarded_slot() -> None:
    assert ("multiphase/_compress.c", "FT101", 34) not in findings("--select", "FT101", "--target-version", "3.15t")


def test_ft108_names_the_racy_globals_with_related_locations() -> None:
    result = run(["scan", "declared_racy", "--isolated", "--select", "FT108", "--output-format", "json"], FIXTURES)
    [finding] = json.loads(result.stdout)
    assert finding["severity"] == "error"
    assert "`count` (declared_racy/src/stats.c:4)" in finding["message"]
    assert [(r["filename"], r["location"]["row"]) for r in finding["related"]] == [
        ("declared_racy/src/stats.c", 11), ("declared_racy/src/stats.c", 12), ("declared_racy/src/stats.c", 18),
    ]


def test_racy_state_of_the_linked_file_is_reported_through_the_project_pass() -> None:
    got = findings("--select", "FT2")
    assert got == [
        ("declared_racy/src/stats.c", "FT201", 11),
        ("declared_racy/src/stats.c", "FT201", 12),
        ("declared_racy/src/stats.c", "FT202", 18),
        ("declared_racy_platform/src/beta.c", "FT201", 9),
        ("declared_racy_platform/src/clock_posix.c", "FT201", 15),
        # The writes in register_types()/module_setup() run only from the macro-spelled init: not findings.
        ("init_spellings/_pgstyle.c", "FT201", 9),
        ("init_spellings/_splitstyle.c", "FT201", 9),
        # typecast_setup() is exported but only _rooted.c's init calls it; typecast_cast() runs per call.
        ("init_spellings/psyco/typecast.c", "FT201", 17),
        ("modname_noinit/plugin.c", "FT201", 10),              # what its GIL-free declaration contradicts
        # `m.def("count", []() { return ++calls; })`: the lambda runs per call, not during NB_MODULE.
        ("nanobind_ext/src/legacy.cpp", "FT201", 7),
    ]


def _fix_and_rescan(tmp_path: Path, relative: str, code: str) -> tuple[str, list[str]]:
    folder = tmp_path / "tree"
    shutil.copytree(FIXTURES, folder)
    settings = Settings(root=folder, select=[code], respect_gitignore=False)
    before = [f for f in scan([folder], settings, jobs=1).findings if f.path.endswith(relative)]
    assert len(before) == 1 and before[0].fix is not None, before
    path = folder / relative
    path.write_text(apply_edits(path.read_text(), before[0].fix.edits))
    after = scan([folder], settings, jobs=1)
    assert not [d for d in after.diagnostics if d.is_error]
    return path.read_text(), [f.code for f in after.findings if f.path.endswith(relative)]


def test_ft101_fix_inserts_a_guarded_slot_that_satisfies_the_rule(tmp_path: Path) -> None:
    text, remaining = _fix_and_rescan(tmp_path, "multiphase/_bare.c", "FT101")
    assert remaining == []
    assert ("    {Py_mod_exec, bare_exec},\n#if PY_VERSION_HEX >= 0x030D0000\n    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n"
            "#endif\n    {0, NULL},\n") in text


def test_ft101_offers_no_edit_when_a_slot_exists_under_the_wrong_guard() -> None:
    result = run(["scan", "multiphase/_compress.c", "--isolated", "--select", "FT101", "--output-format", "json"],
                 FIXTURES)
    [finding] = json.loads(result.stdout)
    assert finding["fix"] is None  # a second slot would be a duplicate: CPython refuses the module
    assert finding["help"] == ("Compile the existing slot at line 38 for 3.14t: guard it with "
                               "`#if PY_VERSION_HEX >= 0x030D0000`.")


def test_ft102_fix_goes_after_the_null_check(tmp_path: Path) -> None:
    text, remaining = _fix_and_rescan(tmp_path, "singlephase/_timer.c", "FT102")
    assert remaining == []
    assert ("    if (m == NULL) {\n        return NULL;\n    }\n#ifdef Py_GIL_DISABLED\n"
            "    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);\n#endif\n") in text


def test_ft104_fix_adds_the_header_directive(tmp_path: Path) -> None:
    text, remaining = _fix_and_rescan(tmp_path, "cython_ext/plain/stats.pyx", "FT104")
    assert remaining == []
    assert text.startswith("# cython: freethreading_compatible=True\n# cython: language_level=3")


def test_init_functions_spelled_through_the_preprocessor_name_their_module() -> None:
    result = run(["scan", "init_spellings", "--isolated", "--select", "FT102", "--output-format", "json"], FIXTURES)
    assert [(Path(f["filename"]).name, f["message"].split("`")[1]) for f in json.loads(result.stdout)] == [
        ("_chainstyle.c", "_chainstyle"), ("_crcstyle.c", "_crcstyle"), ("_objstyle.c", "_objstyle"),
        ("_pgstyle.c", "_pgstyle"),
        ("_splitstyle.c", "_splitstyle"), ("_visible.c", "_visible"), ("_rooted.c", "_rooted")]
