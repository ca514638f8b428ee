"""Pathological C inputs: the model stays linear in time and memory, reads C literals as C does,
and never raises. Sizes are ones where the old code took minutes or gigabytes; no timing asserts."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from ftaudit.cmodel import Tri, build_unit, evaluate_condition
from ftaudit.cmodel import locks as locks_module
from ftaudit.cmodel.buildfiles import read_cargo, read_cmake, read_meson, read_pyproject
from ftaudit.cmodel.directives import Directive, _clean
from ftaudit.cmodel.directives import scan as scan_directives
from ftaudit.cmodel.guards import EMPTY_STACK, GuardIndex
from ftaudit.cmodel.includes import quoted_include
from ftaudit.cmodel.literals import c_char, c_integer
from ftaudit.cmodel.nodes import strip_address
from ftaudit.cmodel.preprocess import init_headers, macros_from
from ftaudit.cmodel.unit import CUnit
from ftaudit.config import Settings
from ftaudit.engine import scan
from ftaudit.target import parse_target

FT313 = parse_target("3.13t")


def make(source: str | bytes, path: str = "t.c") -> CUnit:
    data = source.encode() if isinstance(source, str) else source
    return build_unit(data, path, FT313)


def scan_folder(folder: Path) -> tuple[list[tuple[str, int, str]], list[str]]:
    """(file, line, code) of every finding, and every error diagnostic, for a scan of ``folder``."""
    settings = Settings(root=folder, respect_gitignore=False, cache=False, target=FT313)
    result = scan([folder], settings, jobs=1)
    findings = sorted((Path(f.path).name, f.start.line, f.code) for f in result.findings)
    return findings, [d.render() for d in result.diagnostics if d.is_error]


# -- 3. C integer and character literals ------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("07777", 0o7777),
        ("0", 0),
        ("00", 0),
        ("42", 42),
        ("0x1F", 31),
        ("0X1fULL", 31),
        ("0b1010", 10),
        ("0B1'0'1", 5),
        ("1'000'000", 1_000_000),
        ("10u", 10),
        ("10l", 10),
        ("10UL", 10),
        ("10lu", 10),
        ("10ll", 10),
        ("10ULL", 10),
        ("10LLu", 10),
        ("10i64", 10),
        ("10uwb", 10),
        ("18446744073709551615u", 2**64 - 1),
        ("18446744073709551616", None),  # wider than uintmax_t
        ("089", None),  # not octal
        ("0x", None),
        ("0b2", None),
        ("1.5", None),
        ("1e3", None),
        ("10uu", None),
        ("10lL", None),
        ("1''0", None),
        ("10'", None),
        ("0x'1", None),
        ("9" * 5000, None),  # Python's int() would refuse it with a ValueError
        ("", None),
        ("abc", None),
    ],
)
def test_c_integer_literals(literal: str, value: int | None) -> None:
    assert c_integer(literal) == value


@pytest.mark.parametrize(
    ("literal", "value"),
    [("'a'", 97), ("'\\n'", 10), ("'\\0'", 0), ("'\\x41'", 65), ("'\\101'", 65), ("L'\\t'", 9),
     ("u8'z'", 122), ("'\\''", 39), ("'ab'", None), ("'\\q'", None), ("''", None), ("'a", None)],
)
def test_c_character_literals(literal: str, value: int | None) -> None:
    assert c_char(literal) == value


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("07777 == 4095", Tri.YES),
        ("0x1Fu == 31 && 0b11 == 3 && 1'000 == 1000", Tri.YES),
        ("10ULL > 9", Tri.YES),
        ("'a' == 97 && '\\n' == 10", Tri.YES),
        ("089 > 1", Tri.MAYBE),  # not a number: unknown, never an exception
        ("1.5 > 1", Tri.MAYBE),
        ("-7 / 2 == -3 && -7 % 2 == -1", Tri.YES),  # C truncates towards zero
        ("1 << 99999999999", Tri.MAYBE),  # undefined in C; must not build a huge integer
        ("(1 << 63) * (1 << 63) * 99999", Tri.MAYBE),
        ("1 / 0", Tri.MAYBE),
        ("(" * 5000 + "1" + ")" * 5000, Tri.MAYBE),  # too deep for the evaluator: unknown
    ],
)
def test_condition_arithmetic_is_cs_and_bounded(condition: str, expected: Tri) -> None:
    assert evaluate_condition(condition, FT313) is expected


OCTAL = """\
#include <Python.h>
#define MODE 07777
#define MASK 0x1FFu
#if MODE > 5 && MASK == 511
static PyObject *cache;
static PyObject *get(PyObject *self, PyObject *args) {
    cache = PyDict_New();
    return cache;
}
#endif
#if MODE == 7777
static PyObject *decimal_reading;
#endif
static PyMethodDef methods[] = {{"get", get, METH_NOARGS, NULL}, {NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "m", NULL, 0, methods};
PyMODINIT_FUNC PyInit_m(void) { return PyModule_Create(&mod); }
"""


def test_octal_define_decides_its_guard() -> None:
    unit = make(OCTAL)
    variables = {v.name: v for v in unit.globals}
    assert [g.condition for g in variables["cache"].guards] == ["MODE > 5 && MASK == 511"]
    assert unit.compiled(variables["cache"].node) is Tri.YES
    assert unit.compiled(variables["decimal_reading"].node) is Tri.NO  # 07777 is 4095, not 7777
    assert unit.defines_for(FT313)["MODE"] == 4095


def test_octal_define_scan_gives_findings_not_internal_errors(tmp_path: Path) -> None:
    (tmp_path / "m.c").write_text(OCTAL)
    findings, errors = scan_folder(tmp_path)
    assert errors == []
    assert findings == [("m.c", 7, "FT201"), ("m.c", 16, "FT102"), ("m.c", 16, "FT601")]


# -- 4. a NUL byte in an include path -----------------------------------------------------------------


def test_nul_byte_in_include_path_is_not_followed(tmp_path: Path) -> None:
    # After the first 8 KiB, so the file is not taken for a binary one.
    padding = "/* " + "padding " * 1200 + "*/\n"
    data = ("#include <Python.h>\n" + padding + '#include "sub/a\0b.h"\n' + OCTAL.split("\n", 1)[1]).encode()
    assert data.index(b"\0") > 8192
    (tmp_path / "m.c").write_bytes(data)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a").write_text("#define MODE 0\n")
    findings, errors = scan_folder(tmp_path)
    assert errors == []
    assert findings == [("m.c", 9, "FT201"), ("m.c", 18, "FT102"), ("m.c", 18, "FT601")]


def test_quoted_include_names_no_file_can_have() -> None:
    def directive(text: str) -> Directive:
        return Directive("include", text, 1, 0, len(text))

    assert quoted_include(directive('"util.h"')) == "util.h"
    assert quoted_include(directive('"a\0b.h"')) is None
    assert quoted_include(directive('""')) is None
    assert quoted_include(directive('"unclosed.h')) is None
    assert quoted_include(directive("<Python.h>")) is None


def test_a_header_reader_that_raises_is_not_followed() -> None:
    def read(path: Path) -> bytes | None:
        raise ValueError(f"cannot read {path}")

    source = b'#include "x.h"\n#define A 1\n#if A\nint a;\n#endif\n'
    unit = build_unit(source, "/tmp/t.c", FT313, read_header=read)
    assert unit.compiled(unit.globals[0].node) is Tri.YES


# -- 2. memory for nested #if and long #elif chains -----------------------------------------------------


def test_deeply_nested_ifs_take_linear_memory() -> None:
    depth = 10_000  # the old guard stacks held depth²/2 entries each way: ~800 MB here, 3.2 GB at 20,000
    source = "#if A\n" * depth + "int x;\n" + "#endif\n" * depth
    tracemalloc.start()
    try:
        unit = make(source)
        guards = unit.guards_at(unit.globals[0].node)
        compiled = unit.compiled(unit.globals[0].node)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(guards) == depth and guards[0].line == 1 and guards[-1].line == depth
    assert compiled is Tri.MAYBE
    assert peak < 100_000_000


def test_ten_thousand_elifs_decide_each_branch_once() -> None:
    count = 10_000
    source = "#define A 7\n#if A == 0\nint x0;\n" + "".join(
        f"#elif A == {i}\nint x{i};\n" for i in range(1, count)) + "#else\nint other;\n#endif\n"
    tracemalloc.start()
    try:
        unit = make(source)
        taken = [v.name for v in unit.globals if unit.compiled(v.node) is not Tri.NO]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert taken == ["x7"]
    last = unit.guards_at(unit.globals[-1].node)[-1]
    assert last.kind == "else" and len(last.negated) == count and last.negated[:2] == ("A == 0", "A == 1")
    assert "previous" not in repr(last)  # the chain link is not printed (10,000 levels deep)
    assert peak < 100_000_000  # each branch used to copy the conditions of all before it


def test_elif_chain_inside_a_function_is_walked_once_per_branch() -> None:
    count = 5_000
    branches = "".join(f"#elif MODE == {i}\n    f({i});\n" for i in range(1, count))
    source = (f"#define MODE {count - 1}\nstatic PyMutex m;\nvoid f(int);\nint run(void) {{\n#if MODE == 0\n    f(0);\n"
              f"{branches}#endif\n    PyMutex_Lock(&m);\n    f(-1);\n    PyMutex_Unlock(&m);\n    return 0;\n}}\n")
    unit = make(source)
    last = next(c for c in unit.calls if c.name == "f" and unit.text(c.args[0]) == "-1")
    assert unit.lock_state(last.node).held == ("m",)
    assert unit.compiled(unit.calls[count - 1].node) is Tri.YES
    assert [c for c in unit.calls[: count - 1] if unit.compiled(c.node) is not Tri.NO] == []


def test_long_version_elif_chain_is_blanked_in_one_pass() -> None:
    count = 3_000  # each branch re-read all before it, for ~20 supported builds: minutes
    source = "#if PY_VERSION_HEX >= 0x030D0000\nint new_api;\n" + "".join(
        f"#elif PY_VERSION_HEX >= 0x{0x03000000 + i:08x}\nint x{i};\n" for i in range(1, count)) + "#endif\n"
    unit = make(source)
    # Every build takes the first or the second branch: the others are dead code for the parser.
    assert [v.name for v in unit.globals] == ["new_api", "x1"]
    assert [unit.compiled(v.node) for v in unit.globals] == [Tri.YES, Tri.NO]


def test_unclosed_init_macro_uses_are_read_in_one_pass() -> None:
    count = 40_000  # each use scanned 4 KB for its `)` and the rest of the file for `{`: over a minute
    source = ("#define INIT_MODULE(m) PyInit_ ## m\n" + "INIT_MODULE(" * count
              + "\n;\nPyMODINIT_FUNC INIT_MODULE(real)(void) { return NULL; }\n").encode()
    macros = macros_from([("define", "INIT_MODULE(m) PyInit_ ## m")])
    headers = init_headers(scan_directives(source).mask, macros)
    assert [(h.name, h.start) for h in headers] == [("PyInit_real", source.rindex(b"INIT_MODULE(real)"))]
    make(source)  # tree-sitter's recovery swallows the header after so much garbage; the model copes


def test_a_define_of_one_long_word_is_read_in_linear_time(tmp_path: Path) -> None:
    # Found by the fuzzer: "does this body call something" tried every position of a 240 KB word.
    # Through the lock-wrapper search of the project's headers (and the file's own defines).
    word = "y" * 240_000
    (tmp_path / "long.h").write_text(f"#define LONG_WORD {word}\n")
    source = f'#include "long.h"\n#define OWN_WORD {word}\nstatic int n;\nvoid f(void) {{ n++; }}\n'.encode()
    unit = build_unit(source, str(tmp_path / "m.c"), read_header=lambda p: p.read_bytes() if p.exists() else None)
    assert not unit.lock_state(unit.functions["f"].calls[0].node if unit.functions["f"].calls
                               else unit.functions["f"].body).locked


def test_a_header_of_unfinished_class_heads_is_classified_in_linear_time() -> None:
    # "Is this .h C++?" tried every line start against the rest of the file: 12 s on a 600 KB header.
    source = ("class Wide\n" * 40_000 + "int c_only;\n").encode()
    unit = build_unit(source, "wide.h")
    assert unit.language == "c"


def test_guard_stacks_are_tuple_like() -> None:
    unit = make("#ifdef A\n#if B\nint x;\n#else\nint y;\n#endif\n#endif\nint z;\n")
    x, y, z = (unit.guards_at(v.node) for v in unit.globals)
    assert [g.condition for g in x] == ["A", "B"] and [g.kind for g in y] == ["ifdef", "else"]
    assert x[0] is y[0] and x[-1].condition == "B" and x[1:] == (x[1],)
    assert x == tuple(x) and tuple(x) == x and x != y and z == () and not z and z is EMPTY_STACK
    assert hash(x) == hash(tuple(x)) and list(reversed(y)) == [y[1], y[0]]
    assert repr(x) == repr(tuple(x))
    with pytest.raises(IndexError):
        x[2]


def test_ten_thousand_defines_keep_one_entry_per_change() -> None:
    count = 10_000
    source = "".join(f"#define D{i} {i}\n#if D{i} > 3\nint x{i};\n#endif\n#undef D{i}\n" for i in range(count))
    tracemalloc.start()
    try:
        unit = make(source)
        compiled = [unit.compiled(v.node) for v in unit.globals]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert compiled == [Tri.NO] * 4 + [Tri.YES] * (count - 4)
    at = unit.defines_at(FT313)
    assert at is unit.defines_at(FT313)  # one function: guard answers computed with it are kept
    middle = unit.source.index(b"int x5000;")
    assert at(middle)["D5000"] == 5000 and "D4999" in at(middle) and at(middle)["D4999"] is None
    assert "D5001" not in at(middle)
    assert peak < 150_000_000  # a copy of the whole table per #define: ~1.4 GB here


# -- 1. linear lock analysis and collection -------------------------------------------------------


def test_lock_state_for_every_call_of_a_3000_term_expression(monkeypatch: pytest.MonkeyPatch) -> None:
    terms = 3_000  # the old parent walk: ~10^10 node steps
    built = []
    original = locks_module._Innermost.__init__

    def counting(self: locks_module._Innermost, spans: list[tuple[int, int]]) -> None:
        built.append(len(spans))
        original(self, spans)

    monkeypatch.setattr(locks_module._Innermost, "__init__", counting)
    total = "+".join(f"f({i})" for i in range(terms))
    source = (f"static PyMutex m;\nint f(int);\nint g;\nint run(void) {{\n    PyMutex_Lock(&m);\n    g = {total};\n"
              f"    PyMutex_Unlock(&m);\n    return f(-1);\n}}\nint h = {total};\n")
    unit = make(source)
    states = [unit.lock_state(call.node) for call in unit.calls if call.name == "f"]
    assert len(states) == 2 * terms + 1
    assert {s.held for s in states[:terms]} == {("m",)}
    assert states[terms].held == () and {s.held for s in states[terms + 1 :]} == {()}
    assert built == [5]  # one index over run()'s 5 recorded statements answers all 6,001 questions


def test_expression_deeper_than_65536_levels_is_collected() -> None:
    terms = 70_000  # tree-sitter's query cursor took minutes past 65,536 levels
    unit = make("int f(int x) { return x; }\nint g = " + "+".join(["f(1)"] * terms) + ";\n")
    assert len(unit.calls) == terms and unit.function_list[0].name == "f"
    assert unit.references.get("f") is None  # calls, not address-taking uses
    assert [v.name for v in unit.globals] == ["g"]


def test_long_else_if_chain_needs_no_recursion() -> None:
    count = 4_000
    chain = " else ".join(f"if (x == {i}) {{ y = f({i}); }}" for i in range(count))
    source = (f"static PyMutex m;\nint f(int);\nint run(int x) {{\n    int y = 0;\n    PyMutex_Lock(&m);\n"
              f"    {chain}\n    PyMutex_Unlock(&m);\n    return y;\n}}\n")
    unit = make(source)
    assert {unit.lock_state(c.node).held for c in unit.calls if c.name == "f"} == {("m",)}


def test_ten_thousand_statements_and_many_locals() -> None:
    count = 10_000
    body = "".join(f"    int v{i} = f({i});\n" for i in range(count))
    unit = make(f"int f(int);\nint run(void) {{\n{body}    return v{count - 1};\n}}\n")
    variables = unit.variables_in("run")
    assert len(variables) == count and variables["v9"].scope[1] == unit.function_list[0].body.end_byte
    last_use = unit.root.named_descendant_for_byte_range(*_span(unit, f"return v{count - 1}", 7))
    assert unit.type_of(last_use).name == f"v{count - 1}"


def _span(unit: CUnit, needle: str, skip: int) -> tuple[int, int]:
    start = unit.source.index(needle.encode()) + skip
    return start, start + len(needle) - skip


def test_an_unterminated_comment_is_one_comment() -> None:
    # tree-sitter's lexer retried the comment at every `/*` inside it: 8,000 took 80 s.
    source = "int a;\n#define M(x) x\n/*" + "/* " * 20_000 + "\nint b;\n"
    unit = make(source)
    assert [v.name for v in unit.globals] == ["a"]
    assert [(r.name, r.action) for r in unit.rewrites][-1] == ("/*", "unterminated-comment")
    macro_source = "#define X 1 /*" + " /* x" * 20_000 + "\n"
    macro = make(macro_source).macros["X"]
    assert [n.type for n in macro.body_nodes()] == ["expression_statement"]


def test_strip_address_of_deeply_parenthesised_argument() -> None:
    assert strip_address("&" + "(" * 100_000 + " &x " + ")" * 100_000) == "x"
    assert strip_address("(a)(b)") == "(a)(b)" and strip_address("& ( ( self->m ) )") == "self->m"


def test_directive_comments_are_stripped_in_one_pass() -> None:
    raw = b"1 /* a */ + 2 " + b"/* " * 200_000
    assert _clean(raw).startswith("1   + 2 /*") and len(_clean(raw)) > 500_000
    assert _clean(b"1 //* c */") == "1" and _clean(b"2 /* x // y */ + 3") == "2   + 3"


# -- 5. odd inputs never raise -----------------------------------------------------------------------

ODD = {
    "empty.c": b"",
    "endifs.c": b"#endif\n" * 100 + b"#else\n#elif 1\nint x;\n",
    "comment.c": b"int x; /* never closed\n#if 1\nint y;\n",
    "string.c": b'int f(void) { char *s = "abc\n return 0; }\n#define S "abc\nint c = \'\n',
    "no_name.c": b"#define\n#define 123\n#define (x) y\n#undef\n#include\n#include \"\n"
                 b"#if\n#elif\n#endif\n#ifdef\nint z;\n#endif\n",
    "literals.c": b"#define A 0b101\n#define B 1'000ULL\n#define C 0x\n#define D 089\n"
                  b"#define E 999999999999999999999999\n"
                  b"#if A == 5 && B > 999 && C && D && E && 1 << 999999 && 'ab'\nint x;\n#endif\n",
    "elifs.c": b"#if A == 0\nint x0;\n" + b"".join(b"#elif A == %d\nint x%d;\n" % (i, i) for i in range(1, 10_000))
               + b"#endif\n",
    "long_line.c": b"int f(int x) { return x; }\nint g = " + b"+".join([b"f(1)"] * 100_000) + b";\n",
    "long_define.c": b"#define X " + b"__attribute__((" * 50_000 + b"\n#define Y " + b"/* " * 50_000 + b"\n",
    "chained.c": b"int f(void) { g" + b"(1)" * 50_000 + b"; return 0; }\n",
    "unpaired.c": b"void f(void) {\n" + b"Py_BEGIN_ALLOW_THREADS\n" * 3_000 + b"Py_TRASHCAN_END\n" * 3_000 + b"}\n",
    "binding.cpp": b"NB_MODULE(" * 20_000 + b"\n",
    "deep_decl.c": b"int " + b"(" * 20_000 + b"x" + b")" * 20_000 + b";\n",
}


def exercise(unit: CUnit) -> None:
    """Every question the rules ask of a unit, on every node they ask it about."""
    for target in (FT313, parse_target("3.12")):
        unit.defines_for(target)
    _ = (unit.references, unit.entry_points, unit.init_functions, unit.slot_arrays, unit.module_defs,
         unit.module_inits, unit.binding_modules, unit.critical_sections, unit.allow_threads_regions, unit.macros)
    for function in unit.function_list:
        unit.callees(function.name), unit.reachable_from_python(function.name), unit.variables_in(function.name)
    for call in unit.calls:
        unit.lock_state(call.node), unit.compiled(call.node), unit.is_atomic_call(call)
        for arg in call.args:
            unit.type_of(arg)
    for node in [*unit.assignments, *unit.updates, *(v.node for v in unit.globals)]:
        unit.lock_state(node), unit.compiled(node)
    for macro in unit.macros.values():
        macro.body_nodes()
    for directive in unit.directives:
        unit.compiled(directive.start)


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_input_never_raises_in_the_model(name: str) -> None:
    exercise(make(ODD[name], name))


def test_odd_inputs_scan_without_internal_errors(tmp_path: Path) -> None:
    for name, data in ODD.items():
        (tmp_path / name).write_bytes(data)
    _, errors = scan_folder(tmp_path)
    assert errors == []


def test_guard_index_ignores_unbalanced_directives() -> None:
    unit = make("#endif\n#else\nint a;\n#if 1\nint b;\n")
    index: GuardIndex = unit.guard_index
    assert index.unbalanced and [len(unit.guards_at(v.node)) for v in unit.globals] == [0, 1]


def test_build_file_readers_survive_deep_nesting() -> None:
    assert read_pyproject("a = " + "[" * 100_000).errors
    assert read_cargo("a = " + "[" * 100_000).errors
    assert read_meson("extension_module(" * 50_000).errors == []
    assert read_cmake("pybind11_add_module(" * 50_000).errors == []
