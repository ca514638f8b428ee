"""Precise mode: libclang's preprocessor, with compile_commands.json flags, settles #if guards."""

from __future__ import annotations

import json
import sys
import sysconfig
from pathlib import Path

import pytest
from support import run, write_tree

from ftaudit import precise

INCLUDE = sysconfig.get_paths().get("include")
pytestmark = [
    pytest.mark.skipif(precise.available() is not None, reason=f"libclang unavailable: {precise.available()}"),
    pytest.mark.skipif(not INCLUDE or not (Path(INCLUDE) / "Python.h").is_file(),
                       reason="this interpreter ships no Python.h to preprocess against"),
]
HERE = f"{sys.version_info[0]}.{sys.version_info[1]}"

MODULE = """\
#include <Python.h>
#include "config.h"

static long hits;

static PyObject *
count(PyObject *self, PyObject *args)
{
#if FAST_PATH
    return PyLong_FromLong(0);
#else
    hits++;
    return PyLong_FromLong(hits);
#endif
}

static PyMethodDef methods[] = {{"count", count, METH_NOARGS, NULL}, {NULL}};
"""


def project(tmp_path: Path, fast_path: int) -> Path:
    write_tree(tmp_path, {"src/mod.c": MODULE, "include/config.h": f"#define FAST_PATH {fast_path}\n"})
    database = [{"directory": str(tmp_path), "file": "src/mod.c",
                 "arguments": ["cc", f"-I{INCLUDE}", "-Iinclude", "-c", "src/mod.c", "-o", "build/mod.o"]}]
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "compile_commands.json").write_text(json.dumps(database))
    return tmp_path


def scan(tmp_path: Path, *extra: str):
    return run(["scan", "src", "--isolated", "--no-cache", "--select", "FT201", "--output-format", "json",
                "--python", sys.executable, *extra], tmp_path)


def rows(result) -> list[int]:
    return [f["location"]["row"] for f in json.loads(result.stdout)]


def test_flags_from_compile_commands_decide_a_guard_tree_sitter_cannot(tmp_path: Path) -> None:
    project(tmp_path, fast_path=1)
    # tree-sitter cannot see -Iinclude: FAST_PATH is unknown, the #else branch may be compiled.
    assert rows(scan(tmp_path)) == [12]
    # The real preprocessor with the build's flags knows the #else branch is not compiled.
    result = scan(tmp_path, "--engine", "libclang")
    assert rows(result) == [] and result.stderr == ""


def test_the_compiled_branch_is_still_reported(tmp_path: Path) -> None:
    project(tmp_path, fast_path=0)
    assert rows(scan(tmp_path, "--engine", "libclang", "-p", "build")) == [12]


def test_a_build_for_another_python_is_not_trusted(tmp_path: Path) -> None:
    project(tmp_path, fast_path=1)
    result = run(["scan", "src", "--isolated", "--no-cache", "--select", "FT201", "--output-format", "json",
                  "--engine", "libclang", "--target-version", "3.14t"], tmp_path)
    assert rows(result) == [12]  # tree-sitter's answer, since the ranges were for another CPython
    assert f"preprocessed for CPython {HERE}" in result.stderr and "not the target 3.14t" in result.stderr


def test_without_a_database_the_guessed_flags_are_announced(tmp_path: Path) -> None:
    write_tree(tmp_path, {"src/mod.c": MODULE.replace('#include "config.h"\n', "#define FAST_PATH 1\n")})
    result = scan(tmp_path, "--engine", "libclang")
    assert "no compile_commands.json found" in result.stderr and "guessed flags" in result.stderr
    assert rows(result) == []


def test_database_arguments_are_usable_from_any_folder(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    source = tmp_path / "src" / "mod.c"
    database = [{"directory": str(build), "file": "../src/mod.c",
                 "command": "cc -Iinclude -isystem ../vendor -I /abs -DX=1 -MD -MF mod.d -c ../src/mod.c -o mod.o"}]
    (build / "compile_commands.json").write_text(json.dumps(database))
    args = precise.load_database(build / "compile_commands.json")[str(source.resolve())]
    assert args == (f"-I{build / 'include'}", "-isystem", str(build / "../vendor"), "-I", "/abs", "-DX=1")
