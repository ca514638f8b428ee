"""Object-like defines from the project's own quoted includes feed guard evaluation."""

from __future__ import annotations

from pathlib import Path

from ftaudit.cmodel import Tri, build_unit
from ftaudit.context import read_header


def test_header_defines_decide_guards(tmp_path: Path) -> None:
    (tmp_path / "util.h").write_text(
        "#ifndef UTIL_H\n#define UTIL_H\n#undef TRACE_LOG\n#define USE_FAST 1\n#include \"deeper.h\"\n"
        "#ifdef _WIN32\n#define PLATFORM_FLAG 1\n#endif\n#endif\n")
    (tmp_path / "deeper.h").write_text("#define DEEP_OPTION 0\n")
    source = (b'#include "util.h"\n#include "missing.h"\n#include <Python.h>\n'
              b"#if TRACE_LOG\nint trace;\n#endif\n#if USE_FAST\nint fast;\n#endif\n"
              b"#if DEEP_OPTION\nint deep;\n#endif\n#if PLATFORM_FLAG\nint platform;\n#endif\n")
    unit = build_unit(source, path=str(tmp_path / "mod.c"), read_header=read_header)
    at = {name: source.index(f"int {name};".encode()) for name in ("trace", "fast", "deep", "platform")}
    assert unit.compiled(at["trace"]) is Tri.NO        # #undef in the header
    assert unit.compiled(at["fast"]) is Tri.YES
    assert unit.compiled(at["deep"]) is Tri.NO         # two includes deep
    assert unit.compiled(at["platform"]) is Tri.MAYBE  # defined only under a condition: unknown
    # Without a reader, nothing is assumed.
    assert build_unit(source, path=str(tmp_path / "mod.c")).compiled(at["fast"]) is Tri.MAYBE


def test_compat_header_conditions_are_evaluated_for_the_target(tmp_path: Path) -> None:
    from ftaudit.target import parse_target

    (tmp_path / "compat.h").write_text(
        "#ifndef COMPAT_H\n#define COMPAT_H\n"
        "#if PY_VERSION_HEX >= 0x030B0000\n#define USE_CFRAME 0\n#else\n#define USE_CFRAME 1\n#endif\n"
        "#endif\n")
    source = b'#include "compat.h"\n#include "compat.h"\n#if USE_CFRAME\nint cframe;\n#endif\n'
    at = source.index(b"int cframe;")
    unit = build_unit(source, path=str(tmp_path / "mod.c"), read_header=read_header)
    assert unit.compiled(at) is Tri.NO
    assert unit.compiled(at, parse_target("3.10")) is Tri.YES


def test_a_header_analysed_on_its_own_keeps_its_include_guard_open() -> None:
    source = b"#ifndef MOD_H\n#define MOD_H\nstatic int state;\n#endif\n"
    assert build_unit(source, path="mod.h").compiled(source.index(b"static")) is Tri.YES
