"""Questions 3 and 4: functions, calls, the call graph, entry points and init-only functions."""

from __future__ import annotations

from cmodel_helpers import node_at

MODULE = """\
#include <Python.h>

static int shared_helper(int x) { return x + 1; }
static int init_helper(void) { return shared_helper(2); }
static int init_helper2(void) { return init_helper(); }
static int leaf(void) { return 0; }
static int cb(void *arg) { return leaf(); }
static int unused(void) { return 0; }
int exported(void) { return leaf(); }

static PyObject *
method(PyObject *self, PyObject *arg)
{
    register_callback(cb, NULL);
    return PyLong_FromLong(shared_helper(1));
}

static PyObject *get_x(PyObject *self, void *closure) { return NULL; }
static int traverse(PyObject *m, visitproc visit, void *arg) { return 0; }
static void dealloc(PyObject *self) { Py_TYPE(self)->tp_free(self); }

static int
exec_module(PyObject *m)
{
    if (init_helper2() < 0) {
        return -1;
    }
    return 0;
}

static PyMethodDef methods[] = {
    {"method", (PyCFunction)method, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};
static PyGetSetDef getset[] = {
    {"x", (getter)get_x, NULL, NULL, NULL},
    {NULL},
};
static PyTypeObject Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "m.T",
    .tp_dealloc = dealloc,
};
static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};
static struct PyModuleDef def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "m",
    .m_methods = methods,
    .m_slots = slots,
    .m_traverse = traverse,
};

PyMODINIT_FUNC
PyInit_m(void)
{
    return PyModuleDef_Init(&def);
}
"""


def test_functions_and_calls(unit) -> None:
    u = unit(MODULE)
    assert list(u.functions) == [
        "shared_helper",
        "init_helper",
        "init_helper2",
        "leaf",
        "cb",
        "unused",
        "exported",
        "method",
        "get_x",
        "traverse",
        "dealloc",
        "exec_module",
        "PyInit_m",
    ]
    method = u.functions["method"]
    assert (method.line, method.is_static, method.body.type) == (11, True, "compound_statement")
    assert [c.name for c in method.calls] == ["register_callback", "PyLong_FromLong", "shared_helper"]
    call = method.calls[0]
    assert [u.text(a) for a in call.args] == ["cb", "NULL"]
    assert call.function == "method" and call.node.type == "call_expression"
    assert not u.functions["exported"].is_static
    assert u.functions["PyInit_m"].line == 56  # the line of PyMODINIT_FUNC
    assert len(u.calls) == sum(len(f.calls) for f in u.functions.values())


def test_function_at(unit) -> None:
    u = unit(MODULE)
    assert u.function_at(node_at(u, "register_callback")).name == "method"
    assert u.function_at(node_at(u, "methods[]")) is None
    assert u.function_at(u.source.index(b"init_helper2() < 0")).name == "exec_module"


def test_call_graph(unit) -> None:
    u = unit(MODULE)
    assert u.callees("method") == {"shared_helper"}
    assert u.callers("shared_helper") == {"method", "init_helper"}
    assert u.callers("leaf") == {"cb", "exported"}
    assert u.callees("PyInit_m") == set()


def test_entry_points(unit) -> None:
    u = unit(MODULE)
    assert u.entry_points == {"method", "get_x", "dealloc", "exec_module", "traverse", "cb"}
    contexts = {ref.name: ref.context for refs in u.references.values() for ref in refs}
    assert contexts["cb"] == "argument" and contexts["method"] == "initializer"


def test_reachable_from_python(unit) -> None:
    u = unit(MODULE)
    reachable = {name for name in u.functions if u.reachable_from_python(name)}
    assert reachable == {"method", "shared_helper", "get_x", "traverse", "dealloc", "cb", "leaf", "exported"}
    assert not u.reachable_from_python("PyInit_m")
    assert not u.reachable_from_python("init_helper")
    assert not u.reachable_from_python("unused")


def test_init_only(unit) -> None:
    u = unit(MODULE)
    assert u.init_functions == {"PyInit_m", "exec_module", "init_helper", "init_helper2"}
    assert u.is_init_only("init_helper")
    assert not u.is_init_only("shared_helper")  # also called from a method
    assert not u.is_init_only("unused")


def test_init_only_excludes_address_taken_and_non_static(unit) -> None:
    u = unit("""\
    static int setup(void) { return 0; }
    static int also_callback(void) { return 0; }
    int public_setup(void) { return 0; }
    static int a(void);
    static int b(void) { return a(); }
    static int a(void) { return b(); }
    PyMODINIT_FUNC PyInit_x(void) {
        setup();
        also_callback();
        public_setup();
        a();
        Py_AtExit(also_callback);
        return PyModule_Create(&def);
    }
    """)
    assert u.init_functions == {"PyInit_x", "setup", "a", "b"}  # mutual recursion reached only from init


def test_macro_wrapped_calls_are_followed(unit) -> None:
    u = unit("""\
    static int worker(int x) { return x; }
    #define CALL_WORKER(x) worker(x)
    static PyObject *m(PyObject *s, PyObject *a) { return PyLong_FromLong(CALL_WORKER(1)); }
    static PyMethodDef methods[] = {{"m", m, METH_O, NULL}, {NULL}};
    """)
    assert u.callees("m") == {"worker"}
    assert u.reachable_from_python("worker")
    assert "worker" not in u.entry_points


def test_cpp_functions(unit) -> None:
    u = unit(
        """\
    namespace {
    int hidden(int x) { return x; }
    }
    int visible(int x) { return hidden(x); }
    template <typename T> T twice(T x) { return x + x; }
    int user() { return twice<int>(2); }
    """,
        path="m.cpp",
    )
    assert u.functions["hidden"].is_static
    assert not u.functions["visible"].is_static
    assert u.callees("user") == {"twice"}
