"""Question 1: preprocessor guards recorded from the raw bytes, and whether code is compiled."""

from __future__ import annotations

from cmodel_helpers import line_of_text, node_at

from ftaudit.cmodel import Tri
from ftaudit.target import parse_target

FT313 = parse_target("3.13t")
GIL312 = parse_target("3.12")

NESTED = """\
#include <Python.h>
#ifdef Py_GIL_DISABLED
static int ft_only;
#  if PY_VERSION_HEX >= 0x030E0000
static int ft_314;
#  elif PY_VERSION_HEX >= 0x030D0000
static int ft_313;
#  else
static int ft_old;
#  endif
#else
static int gil_build;
#endif
static int always;
"""


def test_guard_stack_outermost_first(unit) -> None:
    u = unit(NESTED)
    guards = u.guards_at(node_at(u, "ft_313"))
    assert [(g.kind, g.condition, g.line) for g in guards] == [
        ("ifdef", "Py_GIL_DISABLED", 2),
        ("elif", "PY_VERSION_HEX >= 0x030D0000", 6),
    ]
    assert guards[1].negated == ("PY_VERSION_HEX >= 0x030E0000",)
    assert u.guards_at(node_at(u, "always")) == ()


def test_else_branch_carries_negated_conditions(unit) -> None:
    u = unit(NESTED)
    (_outer, inner) = u.guards_at(node_at(u, "ft_old"))
    assert inner.kind == "else"
    assert inner.negated == ("PY_VERSION_HEX >= 0x030E0000", "PY_VERSION_HEX >= 0x030D0000")
    (gil,) = u.guards_at(node_at(u, "gil_build"))
    assert (gil.kind, gil.negated) == ("else", ("defined(Py_GIL_DISABLED)",))


def test_compiled_per_target(unit) -> None:
    u = unit(NESTED, target=FT313)
    assert u.compiled(node_at(u, "ft_only")) is Tri.YES
    assert u.compiled(node_at(u, "ft_314")) is Tri.NO
    assert u.compiled(node_at(u, "ft_313")) is Tri.YES
    assert u.compiled(node_at(u, "ft_old")) is Tri.NO
    assert u.compiled(node_at(u, "gil_build")) is Tri.NO
    assert u.compiled(node_at(u, "always")) is Tri.YES
    # The same unit answers for another target on request.
    assert u.compiled(node_at(u, "gil_build"), GIL312) is Tri.YES
    assert u.compiled(node_at(u, "ft_313"), GIL312) is Tri.NO
    assert u.compiled(node_at(u, "ft_314"), parse_target("3.14t")) is Tri.YES


def test_else_of_version_check(unit) -> None:
    u = unit(
        """\
    #if PY_VERSION_HEX < 0x030D0000
    static int old_api;
    #else
    static int new_api;
    #endif
    """,
        target=FT313,
    )
    assert u.compiled(node_at(u, "old_api")) is Tri.NO
    assert u.compiled(node_at(u, "new_api")) is Tri.YES
    assert u.compiled(node_at(u, "new_api"), GIL312) is Tri.NO


def test_unknown_condition_is_maybe_never_no(unit) -> None:
    u = unit("""\
    #ifdef MY_FEATURE
    static int a;
    #else
    static int b;
    #endif
    #if defined(MY_FEATURE) && 0
    static int c;
    #endif
    """)
    assert u.compiled(node_at(u, "int a;")) is Tri.MAYBE
    assert u.compiled(node_at(u, "int b;")) is Tri.MAYBE
    assert u.compiled(node_at(u, "int c;")) is Tri.NO


def test_guards_inside_initializer_list_function_body_and_struct(unit) -> None:
    u = unit(
        """\
    typedef struct {
        int a;
    #ifdef Py_GIL_DISABLED
        PyMutex lock;
    #endif
    } S;
    static PyModuleDef_Slot slots[] = {
        {Py_mod_exec, exec_mod},
    #if PY_VERSION_HEX >= 0x030D0000
        {Py_mod_gil, Py_MOD_GIL_NOT_USED},
    #endif
        {0, NULL}
    };
    static int f(void) {
        int x = 0;
    #if 0
        x = 1;
    #endif
        return x;
    }
    """,
        target=FT313,
    )
    assert [g.condition for g in u.guards_at(node_at(u, "PyMutex lock"))] == ["Py_GIL_DISABLED"]
    gil_entry = node_at(u, "Py_mod_gil")
    assert [g.line for g in u.guards_at(gil_entry)] == [9]
    assert u.compiled(gil_entry) is Tri.YES
    assert u.compiled(gil_entry, GIL312) is Tri.NO
    assert u.compiled(node_at(u, "x = 1")) is Tri.NO
    assert u.compiled(node_at(u, "return x")) is Tri.YES
    assert not u.has_errors


def test_offsets_and_lines(unit) -> None:
    u = unit(NESTED)
    offset = u.source.index(b"ft_313")
    assert u.guards_at(offset) == u.guards_at(node_at(u, "ft_313"))
    assert u.line_of(offset) == line_of_text(u, "ft_313") == 7
    assert u.line_of(0) == 1


def test_directive_with_continuation_and_comment(unit) -> None:
    u = unit(
        """\
    #if defined(Py_GIL_DISABLED) /* ft */ \\
        && PY_VERSION_HEX >= 0x030D0000
    static int both;
    #endif
    """,
        target=FT313,
    )
    (guard,) = u.guards_at(node_at(u, "both"))
    assert " ".join(guard.condition.split()) == "defined(Py_GIL_DISABLED) && PY_VERSION_HEX >= 0x030D0000"
    assert u.compiled(node_at(u, "both")) is Tri.YES


def test_cplusplus_is_known_from_the_language(unit) -> None:
    src = """\
    #ifdef __cplusplus
    static int cpp_only;
    #endif
    """
    c_unit = unit(src, path="m.c")
    assert c_unit.compiled(node_at(c_unit, "cpp_only")) is Tri.NO
    cpp_unit = unit(src, path="m.cpp")
    assert cpp_unit.compiled(node_at(cpp_unit, "cpp_only")) is Tri.YES
    header = unit(src, path="m.h")
    assert header.compiled(node_at(header, "cpp_only")) is Tri.MAYBE


def test_same_file_integer_defines_decide_later_guards() -> None:
    from cmodel_helpers import make_unit

    from ftaudit.cmodel import Tri
    from ftaudit.target import parse_target

    source = """
        #if PY_VERSION_HEX < 0x030b0000
        #define USE_STATIC_TYPES 1
        #else
        #define USE_STATIC_TYPES 0
        #endif
        #define HAVE_FEATURE
        #if USE_STATIC_TYPES
        int old_path;
        #endif
        #ifdef HAVE_FEATURE
        int feature;
        #endif
        #if UNKNOWN_SETTING
        int unknown;
        #endif
    """
    unit = make_unit(source, target=parse_target("3.14t"))
    at = {name: unit.source.index(name.encode()) for name in ("old_path", "feature", "unknown")}
    assert unit.compiled(at["old_path"]) is Tri.NO
    assert unit.compiled(at["old_path"], parse_target("3.9")) is Tri.YES
    assert unit.compiled(at["feature"]) is Tri.YES
    assert unit.compiled(at["unknown"]) is Tri.MAYBE
