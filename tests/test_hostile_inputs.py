"""Hostile inputs: each gets at most one diagnostic (or is analysed), and the scan goes on for the rest.

Deep but valid Python, coding cookies that name non-text codecs, classic-Mac (CR-only) line ends, and
terminal escapes or bidi controls in source lines and file names.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import run, write_tree

from ftaudit.config import Settings
from ftaudit.engine import scan
from ftaudit.result import ScanResult
from ftaudit.source import Language, SourceFile

LOCALS_WRITE = "def f():\n    locals()['x'] = 1\n"  # FT501 on line 2 of any file that starts with it
OTHER = {"other.py": LOCALS_WRITE}  # a sibling whose finding shows the scan went on


def _scan(root: Path, **options: object) -> ScanResult:
    return scan([root], Settings(root=root, cache=False, **options), jobs=1)  # type: ignore[arg-type]


def _found(result: ScanResult) -> list[tuple[str, str, int, int]]:
    return [(Path(f.path).name, f.code, f.start.line, f.start.column) for f in result.findings]


def _diagnosed(result: ScanResult) -> list[tuple[str, str]]:
    return [(Path(d.path).name, d.kind.value) for d in result.diagnostics]


# -- 1. deep but valid Python ---------------------------------------------------------------------
def _elif_chain(branches: int, indent: str = "") -> str:
    arms = "".join(f"{indent}elif a == {i}:\n{indent}    pass\n" for i in range(branches))
    return f"{indent}if a:\n{indent}    pass\n{arms}"


# 3.12's parser refuses ASTs deeper than about 1,000 levels outright (3.11 and 3.13 build them when
# given room); there these files are the one-diagnostic case below instead.
@pytest.mark.skipif(sys.version_info[:2] == (3, 12), reason="Python 3.12 cannot build ASTs this deep")
def test_deep_sum_and_long_elif_chain_are_analysed(tmp_path: Path) -> None:
    terms = "+".join(["a"] * 3000)
    elifs = "def g(a):\n" + _elif_chain(5000, "    ") + "    else:\n        locals()['y'] = 2\n"
    write_tree(tmp_path, {
        "sum.py": f"{LOCALS_WRITE}x = {terms}\n",
        "sum_only.py": f"x = {terms}\n",  # no FT5xx trigger word: the scope walk does not even run
        "elifs.py": elifs,  # the scope walk follows all 5,000 nested `If` nodes to the last branch
        **OTHER,
    })
    result = _scan(tmp_path)
    assert result.diagnostics == []
    assert _found(result) == [("elifs.py", "FT501", 10_005, 9), ("other.py", "FT501", 2, 5), ("sum.py", "FT501", 2, 5)]
    assert [Path(p).name for p in result.files] == ["elifs.py", "other.py", "sum.py", "sum_only.py"]


def test_too_deep_for_the_parser_is_one_diagnostic(tmp_path: Path) -> None:
    # 20,000 `elif`s overflow the parser's own stack (a MemoryError from ast.parse), on every version.
    write_tree(tmp_path, {"elifs.py": LOCALS_WRITE + _elif_chain(20_000), **OTHER})
    result = _scan(tmp_path)
    assert _diagnosed(result) == [("elifs.py", "too-complex")]
    assert result.diagnostics[0].message == ("nested too deeply for Python's parser to build its syntax tree; "
                                             "Python rules skipped for this file")
    assert _found(result) == [("other.py", "FT501", 2, 5)]


def test_too_deep_for_the_scope_walk_is_one_diagnostic(tmp_path: Path) -> None:
    # Deep enough that either the parser (3.12, 3.13) or the FT5xx scope walk (3.11) gives up: one
    # diagnostic for the file however many FT5xx rules ask, never a crash of the scan.
    write_tree(tmp_path, {"sum.py": LOCALS_WRITE + "x = " + "+".join(["a"] * 20_000) + "\n", **OTHER})
    result = _scan(tmp_path)
    assert _diagnosed(result) == [("sum.py", "too-complex")]
    assert _found(result) == [("other.py", "FT501", 2, 5)]


def test_deep_python_through_the_cli_exits_normally(tmp_path: Path) -> None:
    write_tree(tmp_path, {"elifs.py": _elif_chain(20_000), **OTHER})
    result = run(["scan", ".", "--isolated", "--no-cache", "--output-format", "concise", "--select", "FT5"], tmp_path)
    assert result.exit_code == 1  # the finding in other.py, not an internal error
    assert result.stdout.splitlines()[0].startswith("other.py:2:5: FT501 ")
    assert "ftaudit: warning: elifs.py: too-complex: nested too deeply" in result.stderr


# -- 2. coding cookies --------------------------------------------------------------------------------
NOT_TEXT = ["rot13", "base64", "zlib", "hex", "uu", "bz2", "quopri"]


def test_cookies_naming_codecs_that_are_not_text_encodings(tmp_path: Path) -> None:
    body = "def f():\n    locals()['x'] = 1\n"  # FT501 on line 3 under the cookie
    write_tree(tmp_path, {f"{name}.py": f"# -*- coding: {name} -*-\n{body}" for name in NOT_TEXT} | OTHER)
    result = _scan(tmp_path)
    assert [(Path(d.path).name, d.kind.value, d.message) for d in result.diagnostics] == [
        (f"{name}.py", "encoding", f"declares {name!r}, which is not a text encoding; read as UTF-8")
        for name in sorted(NOT_TEXT)]
    expected = [(f"{name}.py", "FT501", 3, 5) for name in NOT_TEXT] + [("other.py", "FT501", 2, 5)]
    assert _found(result) == sorted(expected)


@pytest.mark.parametrize(("cookie", "message"), [
    ("undefined", "declares 'undefined', which cannot decode the ASCII line that declares it; read as UTF-8"),
    ("utf-16", "declares 'utf-16', which cannot decode the ASCII line that declares it; read as UTF-8"),
    ("cp037", "declares 'cp037', which cannot decode the ASCII line that declares it; read as UTF-8"),
    ("no-such-codec", "declares unknown encoding 'no-such-codec'; read as UTF-8"),
    ("latin-1", None),
    ("unicode_escape", None),
])
def test_other_cookies_are_read_or_diagnosed(tmp_path: Path, cookie: str, message: str | None) -> None:
    write_tree(tmp_path, {"m.py": f"#!/usr/bin/env python\n# coding: {cookie}\ndef f():\n    locals()['x'] = 1\n",
                          "m.pyx": f"# coding: {cookie}\ncdef int x = 1\n", **OTHER})
    result = _scan(tmp_path)
    expected = [] if message is None else [("m.py", "encoding", message), ("m.pyx", "encoding", message)]
    assert [(Path(d.path).name, d.kind.value, d.message) for d in result.diagnostics] == expected
    assert [f for f in _found(result) if f[1] == "FT501"] == [("m.py", "FT501", 4, 5), ("other.py", "FT501", 2, 5)]


def test_bom_with_a_cookie_for_another_encoding_is_read_as_utf8() -> None:
    source = SourceFile(Path("m.py"), "m.py", b"\xef\xbb\xbf# coding: latin-1\nx = '\xc3\xa9'\n", Language.PYTHON)
    assert source.text == "\ufeff# coding: latin-1\nx = 'é'\n"
    assert source.encoding_problem == "declares 'latin-1' but starts with a UTF-8 byte order mark; read as UTF-8"


def test_cookie_on_a_cr_only_second_line_is_found() -> None:
    source = SourceFile(Path("m.py"), "m.py", b"#!/usr/bin/python\r# coding: latin-1\rx = '\xe9'\r", Language.PYTHON)
    assert source.text_lines == ["#!/usr/bin/python", "# coding: latin-1", "x = 'é'", ""]
    assert source.encoding_problem is None
    # ... and only lines 1-2 count, however the lines end.
    late = SourceFile(Path("m.py"), "m.py", b"x = 1\ry = 2\r# coding: rot13\r", Language.PYTHON)
    assert late.text == "x = 1\ry = 2\r# coding: rot13\r" and late.encoding_problem is None


# -- 3. CR-only line ends -----------------------------------------------------------------------------
C_SOURCE = """#include <Python.h>
static PyObject *refcount_of(PyObject *self, PyObject *obj) {
    return PyLong_FromSsize_t(obj->ob_refcnt);
}
#if PY_VERSION_HEX < 0x030A0000
static void old_retype(PyObject *obj, PyTypeObject *type) {
    Py_TYPE(obj) = type;
}
#endif
static void retype(PyObject *obj, PyTypeObject *type) {
    Py_TYPE(obj) = type;  // NOLINT(FT404)
    Py_TYPE(obj) = type;  /* the one reported */
    // NOLINTNEXTLINE(FT404)
    Py_TYPE(obj) = type;
}
"""
PY_SOURCE = """import sys

def f(**kw):
    x = 1  # noqa: FT502
    locals().update(kw)
    s = '''two
lines # noqa: FT501
'''
    locals()['y'] = 2  # noqa: FT501
    return x, s
"""
ENDINGS = {"lf": b"\n", "cr": b"\r", "crlf": b"\r\n"}


def test_cr_only_files_give_the_findings_and_lines_of_their_lf_twins(tmp_path: Path) -> None:
    write_tree(tmp_path, {f"{kind}.{ext}": text.encode().replace(b"\n", end)
                          for kind, end in ENDINGS.items() for ext, text in (("c", C_SOURCE), ("py", PY_SOURCE))})
    result = _scan(tmp_path)
    assert result.diagnostics == []
    found: dict[str, list[tuple[str, int, int, int, int]]] = {}
    for f in result.findings:
        found.setdefault(Path(f.path).name, []).append((f.code, f.start.line, f.start.column, f.end.line,
                                                        f.end.column))
    assert found["lf.c"] == [("FT404", 3, 36, 3, 45), ("FT404", 12, 5, 12, 12)]
    assert found["lf.py"] == [("FT001", 4, 12, 4, 25), ("FT501", 5, 5, 5, 24)]
    # The code frames' lines are the same text too.
    lines = {Path(path).name: kept for path, kept in result.lines.items()}
    assert lines["lf.c"][3] == "    return PyLong_FromSsize_t(obj->ob_refcnt);"
    for kind in ("cr", "crlf"):
        for ext in ("c", "py"):
            assert found[f"{kind}.{ext}"] == found[f"lf.{ext}"]
            assert lines[f"{kind}.{ext}"] == lines[f"lf.{ext}"]


def test_line_mapping_with_mixed_line_ends() -> None:
    data = b"a\rbc\r\nd\n\r\re"
    source = SourceFile(Path("m.c"), "m.c", data, Language.C)
    assert source.line_starts == [0, 2, 6, 8, 9, 10]
    assert [source.line_text(n) for n in range(1, 7)] == ["a", "bc", "d", "", "", "e"]
    assert source.text_lines == ["a", "bc\r", "d", "", "", "e"]  # as for CRLF files: the CR of a CRLF kept
    assert source.position(3) == source.position(data.index(b"c")) and source.position(3).line == 2
    assert source.position(10).line == 6
    for offset in range(len(data)):
        position = source.position(offset)
        if source.line_starts[position.line - 1] + len(source.line_bytes(position.line)) >= offset:
            assert source.offset(position) == offset
    assert source.c_data == b"a\nbc\r\nd\n\n\ne" and len(source.c_data) == len(data)


def test_lf_and_crlf_files_keep_the_fast_path() -> None:
    for data in (b"a\nb\n", b"a\r\nb\r\n", b"no line end"):
        source = SourceFile(Path("m.c"), "m.c", data, Language.C)
        assert not source.lone_cr and source.c_data is data
        assert [source.line_text(n) for n in range(1, source.line_count + 1)] == data.decode().splitlines() + (
            [""] if data.endswith(b"\n") else [])


# -- 4. terminal escapes and bidi controls ------------------------------------------------------------
ESCAPES = "\x1b]0;pwned\x07\x1b[2J"
ESCAPED_C = ("#include <Python.h>\n"
             "static PyObject *refcount_of(PyObject *self, PyObject *obj) {\n"
             f"\t/* {ESCAPES} */ return PyLong_FromSsize_t(obj->ob_refcnt);\n"
             "}\n")


def test_escape_sequences_in_source_lines_are_shown_not_sent(tmp_path: Path) -> None:
    write_tree(tmp_path, {"esc.c": ESCAPED_C})
    result = run(["scan", "esc.c", "--isolated", "--no-cache", "--color", "never", "--select", "FT404"], tmp_path)
    out = result.stdout
    assert result.exit_code == 1 and "\x1b" not in out and "\x07" not in out
    lines = out.splitlines()
    assert lines[1] == " --> esc.c:3:54"
    code = "3 |     /* \u241b]0;pwned\u2407\u241b[2J */ return PyLong_FromSsize_t(obj->ob_refcnt);"
    assert code in lines
    carets = lines[lines.index(code) + 1]
    # The carets still sit under `ob_refcnt` (the tab expanded, each control picture one column wide).
    assert carets.index("^") == code.index("ob_refcnt") and carets.count("^") == len("ob_refcnt")


def test_control_and_bidi_characters_in_file_names(tmp_path: Path) -> None:
    name = "evil\x1b[2J\u202eg.c"
    write_tree(tmp_path, {name: ESCAPED_C})
    concise = run(["scan", ".", "--isolated", "--no-cache", "--color", "never", "--output-format", "concise",
                   "--select", "FT404"], tmp_path).stdout
    assert "\x1b" not in concise and "\u202e" not in concise
    assert concise.startswith("evil\u241b[2J<U+202E>g.c:3:54: FT404 ")
    full = run(["scan", ".", "--isolated", "--no-cache", "--color", "never", "--select", "FT404"], tmp_path).stdout
    assert " --> evil\u241b[2J<U+202E>g.c:3:54" in full and "\x1b" not in full and "\u202e" not in full
    html_path = tmp_path / "report.html"
    run(["scan", ".", "--isolated", "--no-cache", "--select", "FT404", "--output-format", "html",
         "-o", str(html_path)], tmp_path)
    html = html_path.read_text(encoding="utf-8")
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in html  # not in text, not in attributes
    assert '<span class="ctrl" title="invisible character">&lt;U+202E&gt;</span>g.c' in html
    assert '<span class="ctrl" title="invisible character">&lt;U+001B&gt;</span>]0;pwned' in html  # the code line


@pytest.mark.skipif(sys.platform != "linux", reason="needs a file system that takes any bytes in names")
def test_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "bad\udcff.c").write_bytes(ESCAPED_C.encode())  # the byte 0xFF, as os.fsdecode spells it
    concise = run(["scan", ".", "--isolated", "--no-cache", "--color", "never", "--output-format", "concise",
                   "--select", "FT404"], tmp_path).stdout
    assert concise.startswith("bad<0xFF>.c:3:54: FT404 ")
    html_path = tmp_path / "report.html"
    result = run(["scan", ".", "--isolated", "--no-cache", "--select", "FT404", "--output-format", "html",
                  "-o", str(html_path)], tmp_path)
    assert result.exit_code == 1
    assert "bad&lt;0xFF&gt;.c" in html_path.read_text(encoding="utf-8")


def test_file_name_that_is_not_utf8_with_the_result_cache(tmp_path: Path) -> None:
    # The cache names its entries after a hash of the path: the name's bytes, not its text.
    project = tmp_path / "proj\udcfe"
    project.mkdir()
    (project / "bad\udcff.c").write_bytes(ESCAPED_C.encode())
    for _ in range(2):  # the second run reads the entry the first wrote
        result = run(["scan", ".", "--isolated", "--color", "never", "--output-format", "concise",
                      "--select", "FT404"], project, env={"FTAUDIT_CACHE_HOME": str(tmp_path / "cache")})
        assert result.exit_code == 1, result.output
        assert result.stdout.startswith("bad<0xFF>.c:3:54: FT404 ")


def test_html_snippets_of_huge_lines_are_shown_plain() -> None:
    from ftaudit.report.html import HIGHLIGHT_LIMIT, highlight

    # Pygments takes about a second per finding on a few 13,000-character lines (minified or mangled
    # code); past the limit the snippet is escaped and shown without colours.
    line = "x = a < b; /* \u202e */ " * (HIGHLIGHT_LIMIT // 10)
    rendered = highlight("m.c", [line, "int y;"])
    assert len(rendered) == 2 and rendered[1] == "int y;"
    assert str(rendered[0]).startswith('x = a &lt; b; /* <span class="ctrl" title="invisible character">&lt;U+202E')
    assert 'class="k' not in str(rendered[0])  # no Pygments token spans
    assert highlight("m.c", ["int y;"])[0].startswith('<span class="kt">int</span>')  # short ones keep colours
