"""Offset-preserving normalisation: each macro-table entry, and what must never be rewritten."""

from __future__ import annotations

import textwrap

import pytest
from cmodel_helpers import node_at

from ftaudit.cmodel import MACRO_TABLE, build_unit
from ftaudit.cmodel.parsers import parser


def _both(source: str, path: str = "t.c"):  # type: ignore[no-untyped-def]
    data = textwrap.dedent(source).encode()
    raw_tree = parser("c").parse(data)
    return raw_tree, build_unit(data, path)


def test_same_length_and_newlines_kept(unit) -> None:
    u = unit("""\
    typedef struct { PyObject_HEAD int x; } A;
    static int f(int x) { int r; Py_BEGIN_ALLOW_THREADS r = x * x; Py_END_ALLOW_THREADS return r; }
    """)
    assert len(u.normalised.text) == len(u.source)
    assert u.normalised.text.count(b"\n") == u.source.count(b"\n")
    assert {r.name for r in u.rewrites} >= {"PyObject_HEAD", "Py_BEGIN_ALLOW_THREADS", "Py_END_ALLOW_THREADS"}


@pytest.mark.parametrize(
    "source",
    [
        "typedef struct {\n    PyObject_HEAD\n    PyObject *dict;\n} Obj;\n",
        "typedef struct {\n    PyObject_VAR_HEAD\n    PyObject *items[1];\n} Var;\n",
        "static _Thread_local int depth;\n",
        "static Py_THREAD_LOCAL int depth;\n",
        "static int f(int x) {\n    int r;\n    Py_BEGIN_ALLOW_THREADS\n    r = x * x;\n"
        "    Py_END_ALLOW_THREADS\n    return r;\n}\n",
        "static int g(PyObject *o) {\n    Py_BEGIN_CRITICAL_SECTION(o)\n    x = 1;\n"
        "    Py_END_CRITICAL_SECTION()\n    return 0;\n}\n",
        'static PyTypeObject T = {\n    PyVarObject_HEAD_INIT(NULL, 0)\n    "m.T",\n    sizeof(int),\n};\n',
        "static void dealloc(PyObject *self) {\n    Py_TRASHCAN_BEGIN(self, dealloc)\n    free(self);\n"
        "    Py_TRASHCAN_END\n}\n",
        "static Py_ALWAYS_INLINE int fast(void) { return 1; }\n",
        "static int h(void) {\n    Py_BEGIN_ALLOW_THREADS\n    work();\n    Py_BLOCK_THREADS\n    cb();\n"
        "    Py_UNBLOCK_THREADS\n    Py_END_ALLOW_THREADS\n    return 0;\n}\n",
        '#ifdef __cplusplus\nextern "C" {\n#endif\nint api(void);\n#ifdef __cplusplus\n}\n#endif\n',
        "#define RAISES_NEG\nRAISES_NEG static int pg(void) { return -1; }\n",
        "static PyModuleDef_Slot s[] = {\n    {Py_mod_exec, ex},\n#if PY_VERSION_HEX >= 0x030D0000\n"
        "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n#endif\n    {0, NULL}\n};\n",
    ],
)
def test_each_shape_parses_cleanly_after_normalisation(source: str) -> None:
    raw_tree, u = _both(source)
    assert raw_tree.root_node.has_error, "the snippet should break the raw parse (else the entry is moot)"
    assert not u.has_errors, u.root


def test_head_with_semicolon_stays_clean(unit) -> None:
    u = unit("typedef struct {\n    PyObject_HEAD;\n    int x;\n} WithSemicolon;\n")
    assert not u.has_errors
    assert u.text(node_at(u, "int x")) == "int x;"


def test_assignment_inside_allow_threads_stays_an_assignment(unit) -> None:
    u = unit("""\
    static int f(int x) {
        int r;
        Py_BEGIN_ALLOW_THREADS r = x * x; Py_END_ALLOW_THREADS
        return r;
    }
    """)
    node = node_at(u, "r = x * x")
    while node.type != "assignment_expression":
        node = node.parent
    assert u.text(node.child_by_field_name("left")) == "r"
    assert node.parent.type == "expression_statement"
    assert node.parent.parent.type == "compound_statement"  # the region became a block
    (region,) = u.allow_threads_regions
    assert region.block == node.parent.parent
    assert u.line_of(region.begin_offset) == 3


def test_comments_strings_and_directives_are_never_rewritten(unit) -> None:
    source = """\
    /* Py_BEGIN_ALLOW_THREADS in a comment, PyObject_HEAD too */
    // _Thread_local in a line comment
    static const char *doc = "Py_END_ALLOW_THREADS PyObject_HEAD _Thread_local";
    #define WRAP Py_BEGIN_ALLOW_THREADS
    static char c = '{';
    """
    u = unit(source)
    assert u.normalised.text == u.source
    assert u.rewrites == []


def test_unpaired_allow_threads_becomes_empty_statement(unit) -> None:
    u = unit("""\
    static int f(int x) {
    #ifdef A
        Py_BEGIN_ALLOW_THREADS
    #endif
        x++;
    #ifdef A
        Py_END_ALLOW_THREADS
    #endif
        return x;
    }
    """)
    assert not u.has_errors
    actions = {(r.name, r.action) for r in u.rewrites}
    assert ("Py_BEGIN_ALLOW_THREADS", "open") in actions  # not paired across #if groups ...
    assert u.normalised.text[u.rewrites[0].start : u.rewrites[0].start + 1] == b";"  # ... so ';'


def test_macro_table_is_data() -> None:
    names = [row.name for row in MACRO_TABLE]
    assert len(names) == len(set(names))
    assert {"Py_BEGIN_ALLOW_THREADS", "PyObject_HEAD", "_Thread_local", "Py_BEGIN_CRITICAL_SECTION"} <= set(
        names
    )
    assert all(row.why for row in MACRO_TABLE)


def test_generated_corpus_error_share_drops() -> None:
    from bench_cmodel import error_share, generate

    files = [(f"gen{i}.c", generate(f"gen{i}", 1 + i)) for i in range(4)]
    assert error_share(files) == (4, 4, 0)


def test_header_language_detection(unit) -> None:
    assert unit("int f(void);\n", path="x.h").language == "c"
    assert unit("namespace a { int f(); }\n", path="x.h").language == "cpp"
    assert unit("// namespace in a comment { std::x\nint f(void);\n", path="x.h").language == "c"
    assert unit('extern "C++" { int f(); }\n', path="x.h").language == "cpp"
    assert unit("template <typename T> T f(T x);\n", path="x.h").language == "cpp"
    assert unit("int f(void);\n", path="x.hpp").language == "cpp"
    assert unit("int f(void);\n", path="x.cc", language="c").language == "c"


def test_large_number_tables_are_blanked_for_the_parser_lines_kept() -> None:
    rows = ",\n".join("    {" + ", ".join(f"0x{i * 7 % 256:02X}" for i in range(j, j + 12)) + "}" for j in range(60))
    source = (
        "static const unsigned char table[][12] = {\n" + rows + "\n};\n"
        "static int small[] = {1, 2, 3};\n"
        "static PyMethodDef methods[] = {\n" + "".join(f'    {{"f{i}", f{i}, METH_NOARGS, NULL}},\n'
                                                       for i in range(40)) + "    {NULL}\n};\n"
        "int total(void) { return small[0] + table[1][2]; }\n"
    ).encode()
    unit = build_unit(source, "tables.c")
    text = unit.normalised.text
    assert len(text) == len(source) and text.count(b"\n") == source.count(b"\n")
    first, last = source.index(b"{\n") + 1, source.index(b"\n};")
    assert text[first:last].strip() == b""  # the 60 rows of numbers: blanked
    assert b"{1, 2, 3}" in text and b'"f39", f39' in text  # a short table and a method table: kept
    assert [v.name for v in unit.globals] == ["table", "small", "methods"]
    total_line = source.count(b"\n", 0, source.index(b"int total")) + 1
    assert unit.functions["total"].line == total_line
