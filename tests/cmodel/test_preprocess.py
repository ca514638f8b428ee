"""Macro expansion as the C preprocessor does it, and module init headers spelled through macros."""

from __future__ import annotations

from ftaudit.cmodel.preprocess import Macro, expand, init_headers, macros_from, parse_define


def table(*defines: str) -> dict[str, Macro]:
    return macros_from(("define", d) for d in defines)


def test_pasting_stringizing_and_rescanning() -> None:
    macros = table("INIT_MODULE(m) PyInit_ ## m", "STR(x) #x", "XSTR(x) STR(x)", "NAME _psycopg",
                   "MOD_INIT(name) PyMODINIT_FUNC PyInit_##name(void)", "CAT(a, b) a##b", "ID(x) x")
    assert expand("INIT_MODULE(_psycopg)(void)", macros) == "PyInit__psycopg(void)"
    assert expand("MOD_INIT(crc32c)", macros) == "PyMODINIT_FUNC PyInit_crc32c(void)"
    assert expand("STR(NAME)", macros) == '"NAME"'  # `#` takes the argument as written
    assert expand("XSTR(NAME)", macros) == '"_psycopg"'  # ... after one more level it is expanded
    assert expand("CAT(PyInit_, NAME)", macros) == "PyInit_NAME"  # `##` pastes as written
    assert expand("ID(INIT_MODULE)(x)", macros) == "PyInit_x"  # the result is rescanned with what follows


def test_expansion_is_bounded() -> None:
    assert expand("SELF", table("SELF SELF + 1")) == "SELF+1"  # never inside its own expansion
    assert expand("A", table("A B B B B", "B C C C C", "C D D D D", "D E E E E", "E x x x x x x x x x x x x")) \
        is not None
    bomb = table(*[f"L{i} L{i + 1} L{i + 1} L{i + 1} L{i + 1}" for i in range(20)])
    assert expand("L0", bomb) is None  # 4^20 tokens: not followed
    assert expand("F(1, (2, 3)", table("F(a, b) a b")) is None  # unbalanced


def test_parse_define() -> None:
    assert parse_define("MOD_INIT(name) PyMODINIT_FUNC PyInit_##name(void)") == Macro(
        "MOD_INIT", ("name",), "PyMODINIT_FUNC PyInit_##name(void)")
    assert parse_define("INIT_BROTLI PyInit__brotli") == Macro("INIT_BROTLI", None, "PyInit__brotli")
    assert parse_define("V(...) f(__VA_ARGS__)") == Macro("V", ("...",), "f(__VA_ARGS__)")
    assert expand("V(1, 2)", table("V(...) f(__VA_ARGS__)")) == "f(1,2)"
    assert parse_define("BAD(1) x") is None


def test_init_headers_through_macros() -> None:
    macros = table("INIT_MODULE(m) PyInit_ ## m", "MOD_INIT(name) PyMODINIT_FUNC PyInit_##name(void)",
                   "init_function PyInit_ahocorasick", "UNRELATED(x) (x + 1)")
    mask = (b"PyMODINIT_FUNC INIT_MODULE(_psycopg)(void);\n"      # a prototype: not a definition
            b"PyMODINIT_FUNC INIT_MODULE(_psycopg)(void) {\n  return UNRELATED(1);\n}\n"
            b"MOD_INIT(crc32c)\n{\n  return 0;\n}\n"
            b"PyMODINIT_FUNC init_function(void) { return 0; }\n")
    found = [(mask[h.start:h.end].decode(), h.name) for h in init_headers(mask, macros)]
    assert found == [("INIT_MODULE(_psycopg)", "PyInit__psycopg"), ("MOD_INIT(crc32c)", "PyInit_crc32c"),
                     ("init_function", "PyInit_ahocorasick")]


def _parse_text(src: bytes, target: str = "3.14t", minimum: tuple[int, int] | None = None,
                headers: dict[str, bytes] | None = None) -> bytes:
    from dataclasses import replace
    from pathlib import Path

    from ftaudit.cmodel.directives import scan
    from ftaudit.cmodel.guards import GuardIndex
    from ftaudit.cmodel.preprocess import parse_text
    from ftaudit.target import parse_target

    raw = scan(src)
    chosen = replace(parse_target(target), minimum=minimum)
    reader = (lambda path: (headers or {}).get(Path(path).name)) if headers is not None else None
    out = parse_text(raw, GuardIndex(raw.directives), chosen, "src/m.c", reader)[0].source
    assert len(out) == len(src) and out.count(b"\n") == src.count(b"\n")  # offsets and lines kept
    return out


def test_split_init_header_reads_as_one_function() -> None:
    src = (b"#if PY_MAJOR_VERSION >= 3\nPyMODINIT_FUNC PyInit_x(void)\n#else\nvoid initx(void)\n#endif\n"
           b"{\n    return NULL;\n}\n")
    out = _parse_text(src)
    assert b"initx" not in out and b"#if" not in out and b"#else" not in out and b"PyMODINIT_FUNC PyInit_x" in out


def test_version_branches_are_blanked_only_when_no_supported_build_compiles_them() -> None:
    src = (b"#if PY_VERSION_HEX < 0x03090000\nint old;\n#else\nint new;\n#endif\n"
           b"#ifdef Py_GIL_DISABLED\nint ft;\n#endif\n")
    assert _parse_text(src) == src  # requires-python unknown: 3.8 may be supported
    out = _parse_text(src, minimum=(3, 9))
    assert b"old" not in out and b"int new;" in out and b"#ifdef Py_GIL_DISABLED\nint ft;" in out
    chained = b"#if PY_VERSION_HEX >= 0x030D0000\nint a;\n#elif PY_VERSION_HEX >= 0x030A0000\nint b;\n#endif\n"
    assert _parse_text(chained, minimum=(3, 11)) == chained  # 3.11 and 3.12 take the #elif: both stay


def test_init_headers_from_the_projects_headers_are_rewritten() -> None:
    src = b'#include "python.h"\nPyMODINIT_FUNC\nINIT_MODULE(_psycopg)(void)\n{\n    return NULL;\n}\n'
    out = _parse_text(src, headers={"python.h": b"#define INIT_MODULE(m) PyInit_ ## m\n"})
    assert b"\nPyInit__psycopg      (void)\n" in out
    assert _parse_text(src, headers={}) == src  # the header is not there: nothing to expand
