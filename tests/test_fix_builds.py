"""Every fix still builds: apply all edits (safe and unsafe) to every C fixture, rescan, and compile.

Each C/C++ fixture is compiled with ``-fsyntax-only -Werror=implicit-function-declaration`` against every
CPython header set at hand (the interpreter running the tests, 3.11 or newer; the free-threaded 3.13t of
the ground-truth tests when it is built; any named by ``FTAUDIT_FT_PYTHON``) before and after
``ftaudit scan --fix --unsafe-fixes``. A file that compiled against a header set before must compile after:
an edit may use an API newer than what the project supports only behind a version guard or through
pythoncapi_compat.h. The fixes must also be idempotent (a second ``--fix`` changes nothing) and keep line
endings and the final newline. ``pytest -s`` prints which fixed files each header set compiled.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
from support import REPO

SUFFIXES = {".c": "c", ".cc": "c++", ".cpp": "c++", ".cxx": "c++"}
BUILD_SCRIPT = REPO / "tools" / "build-freethreaded-python.sh"


def _compiler(language: str) -> str | None:
    if language == "c":
        return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")


@cache
def header_sets() -> dict[str, Path]:
    """Label ("3.11", "3.13t") -> include folder with Python.h, for every interpreter at hand."""
    found: dict[str, Path] = {}
    pythons = [sys.executable, *[p for p in os.environ.get("FTAUDIT_FT_PYTHON", "").split(os.pathsep) if p]]
    if not os.environ.get("FTAUDIT_FT_PYTHON"):
        built = subprocess.run(["bash", str(BUILD_SCRIPT), "--reuse-only"], capture_output=True, text=True,
                               timeout=120)
        if built.returncode == 0:
            pythons.append(built.stdout.strip().splitlines()[-1])
    for python in pythons:
        info = subprocess.run([python, "-I", "-c", "import json, sys, sysconfig; print(json.dumps("
                               "[sys.version_info[:2], sysconfig.get_config_var('Py_GIL_DISABLED'), "
                               "sysconfig.get_paths()['include']]))"], capture_output=True, text=True, timeout=60)
        if info.returncode != 0:
            continue
        (major, minor), free_threaded, include = json.loads(info.stdout)
        if (Path(include) / "Python.h").is_file():
            found[f"{major}.{minor}{'t' if free_threaded else ''}"] = Path(include)
    return found


def compiles(source: Path, include: Path) -> subprocess.CompletedProcess | None:
    """Compile for syntax and declarations; None when there is no compiler for the language."""
    language = SUFFIXES[source.suffix]
    compiler = _compiler(language)
    if compiler is None:
        return None
    flags = ["-fsyntax-only", "-x", language, "-Werror=implicit-function-declaration"] if language == "c" \
        else ["-fsyntax-only", "-x", language]
    return subprocess.run([compiler, *flags, f"-I{include}", f"-I{source.parent}", str(source)],
                          capture_output=True, text=True, timeout=120)


def fixture_sources(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and "hostile" not in p.parts)


def scan(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftaudit", "scan", ".", "--target-version", "3.14t",
                           "--exit-zero", *args], cwd=folder, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def fixed_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict]]:
    """(original fixtures, fixed copy, the findings whose edits were offered)."""
    if not header_sets():
        pytest.skip("no CPython headers (Python.h) for any interpreter at hand")
    copy = tmp_path_factory.mktemp("fixbuild") / "fixtures"
    shutil.copytree(REPO / "fixtures", copy, ignore=shutil.ignore_patterns("hostile"))
    before = json.loads(scan(copy, "--output-format", "json").stdout)
    offered = [f for f in before if f.get("fix") and f["fix"]["applicability"] in ("safe", "unsafe")]
    proc = scan(copy, "--fix", "--unsafe-fixes", "-q")
    assert proc.returncode == 0, proc.stderr
    return REPO / "fixtures", copy, offered


def test_fixes_are_offered_by_every_fixable_rule_family(fixed_tree: tuple[Path, Path, list[dict]]) -> None:
    _, _, offered = fixed_tree
    codes = {f["code"] for f in offered}
    # The fixtures exercise these edits; a fixture change that drops one makes this test say nothing.
    assert {"FT101", "FT102", "FT401", "FT404", "FT405"} <= codes, codes


def test_every_fixed_file_still_compiles_where_it_did(fixed_tree: tuple[Path, Path, list[dict]]) -> None:
    original, copy, _ = fixed_tree
    changed = [p for p in fixture_sources(copy) if p.read_bytes() != (original / p.relative_to(copy)).read_bytes()]
    assert changed, "--fix changed no C file"
    jobs = [(label, include, path) for label, include in header_sets().items() for path in changed]

    def check(job: tuple[str, Path, Path]) -> tuple[str, Path, str]:
        label, include, path = job
        old = compiles(original / path.relative_to(copy), include)
        if old is None:
            return label, path, "no compiler"
        if old.returncode != 0:
            return label, path, "did not compile before"
        new = compiles(path, include)
        assert new is not None
        return label, path, "ok" if new.returncode == 0 else "BROKEN: " + new.stderr[-1500:]

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(check, jobs))
    for label, path, outcome in results:
        print(f"{label:6} {path.relative_to(copy)}: {outcome.splitlines()[0]}")
    broken = [(label, str(path.relative_to(copy)), outcome) for label, path, outcome in results
              if outcome.startswith("BROKEN")]
    assert not broken, broken
    compiled = {(label, str(path.relative_to(copy))) for label, path, outcome in results if outcome == "ok"}
    # fixtures/fixbuild builds on 3.11 and 3.13t before its fixes (FT101 one-line slot array, FT102 with a
    # comment after the create call, FT405 under a version guard): it must build after them on both.
    for label in {"3.11", "3.13t"} & set(header_sets()):
        assert {(label, "fixbuild/src/_fastobj.c"), (label, "fixbuild/src/_counter_legacy.c")} <= compiled


def test_fix_is_idempotent_and_leaves_nothing_to_apply(fixed_tree: tuple[Path, Path, list[dict]]) -> None:
    _, copy, _ = fixed_tree
    snapshot = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    again = scan(copy, "--fix", "--unsafe-fixes")
    assert "Fixed 0 findings" in again.stderr, again.stderr
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == snapshot
    left = json.loads(scan(copy, "--output-format", "json").stdout)
    assert [f for f in left if f.get("fix") and f["fix"]["applicability"] in ("safe", "unsafe")] == []


def test_fixes_keep_crlf_line_endings_and_a_missing_final_newline(tmp_path: Path) -> None:
    text = ("#include <Python.h>\n\nstatic PyObject *\nappend(PyObject *self, PyObject *args)\n{\n"
            "    PyObject *list, *item;\n    if (!PyArg_ParseTuple(args, \"OO\", &list, &item)) {\n"
            "        return NULL;\n    }\n    if (Py_REFCNT(list) == 1) {\n        PyList_Append(list, item);\n"
            "    }\n    return Py_NewRef(list);\n}\n\nstatic int\nlineno(PyFrameObject *frame)\n{\n"
            "    return frame->f_lineno;\n}")
    source = tmp_path / "ext.c"
    source.write_bytes(text.replace("\n", "\r\n").encode())
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'ext'\nrequires-python = '>=3.11'\n")
    proc = scan(tmp_path, "--fix", "--unsafe-fixes", "--select", "FT401,FT405")
    assert "Fixed 2 findings" in proc.stderr, proc.stderr
    data = source.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"") and not data.endswith(b"\n")
    lines = data.decode().split("\r\n")
    assert lines[9:14] == ["#if PY_VERSION_HEX >= 0x030E0000",
                           "    if (PyUnstable_Object_IsUniquelyReferenced(list)) {",
                           "#else", "    if (Py_REFCNT(list) == 1) {", "#endif"]
    assert lines[-2:] == ["    return PyFrame_GetLineNumber(frame);", "}"]
    for label, include in header_sets().items():
        result = compiles(source, include)
        assert result is None or result.returncode == 0, (label, result.stderr)
