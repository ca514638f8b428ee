"""Robustness: real-world macro soup must not derail the rest of the file."""

from __future__ import annotations

from cmodel_helpers import node_at

from ftaudit.cmodel import Tri
from ftaudit.target import parse_target

SOUP = """\
#include <Python.h>
#include "pythoncapi_compat.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FOR_EACH_OP(X) X(add) X(sub) X(mul)
#define DECLARE_OP(name) static PyObject *op_##name(PyObject *a, PyObject *b);
FOR_EACH_OP(DECLARE_OP)

typedef struct {
    PyObject_HEAD
    PyObject *weakreflist;
#ifdef Py_GIL_DISABLED
    PyMutex mutex;
#endif
    Py_ssize_t size;
} VecObject;

static PyObject *cached_zero = NULL;
static Py_THREAD_LOCAL int recursion;

static PyObject *
vec_norm(VecObject *self, PyObject *Py_UNUSED(ignored))
{
    double r = 0;
    Py_BEGIN_ALLOW_THREADS
    r = compute_norm(self) * 2;
    Py_END_ALLOW_THREADS
    if (cached_zero == NULL) {
        cached_zero = PyFloat_FromDouble(0.0);
    }
    return PyFloat_FromDouble(r);
}

static PyObject *
vec_append(VecObject *self, PyObject *item)
{
    Py_BEGIN_CRITICAL_SECTION(self);
    self->size++;
    Py_END_CRITICAL_SECTION();
    Py_RETURN_NONE;
}

static PyMethodDef vec_methods[] = {
    {"norm", (PyCFunction)vec_norm, METH_NOARGS, NULL},
#if PY_VERSION_HEX >= 0x030D0000
    {"append", (PyCFunction)vec_append, METH_O, NULL},
#endif
    {NULL, NULL, 0, NULL}
};

static PyTypeObject VecType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    "soup.Vec",
    sizeof(VecObject),
    .tp_methods = vec_methods,
};

static int
soup_exec(PyObject *m)
{
    if (PyType_Ready(&VecType) < 0) {
        return -1;
    }
    return PyModule_AddObjectRef(m, "Vec", (PyObject *)&VecType);
}

static PyModuleDef_Slot soup_slots[] = {
    {Py_mod_exec, soup_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL}
};

static struct PyModuleDef soup_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "soup",
    .m_size = 0,
    .m_slots = soup_slots,
};

PyMODINIT_FUNC
PyInit_soup(void)
{
    return PyModuleDef_Init(&soup_module);
}

#ifdef __cplusplus
}
#endif
"""


def test_macro_soup_answers(unit) -> None:
    u = unit(SOUP, target=parse_target("3.13t"))
    assert not u.has_errors  # normalisation removes every ERROR of the raw parse
    assert unit(SOUP.replace("compute_norm(self) * 2;", "compute_norm(self) * 2"), path="s.c").has_errors
    assert list(u.functions) == ["vec_norm", "vec_append", "soup_exec", "PyInit_soup"]
    names = {v.name: v for v in u.globals}
    assert set(names) >= {"cached_zero", "recursion", "vec_methods", "VecType", "soup_slots", "soup_module"}
    assert names["recursion"].thread_local and not names["cached_zero"].thread_local
    assert names["VecType"].base_type == "PyTypeObject"
    # Despite the missing ';' inside the ALLOW_THREADS region, the file after it is intact.
    assert u.lock_state(node_at(u, "compute_norm")).allow_threads
    assert not u.lock_state(node_at(u, "cached_zero = PyFloat")).allow_threads
    assert u.lock_state(node_at(u, "self->size++")).critical_sections == ("self",)
    assert u.entry_points == {"vec_norm", "vec_append", "soup_exec"}
    assert u.init_functions == {"soup_exec", "PyInit_soup"}
    (mod,) = u.module_defs
    assert [e.slot for e in mod.slots.entries] == [
        "Py_mod_exec",
        "Py_mod_multiple_interpreters",
        "Py_mod_gil",
    ]
    assert [e.compiled() for e in mod.slots.entries] == [Tri.YES, Tri.YES, Tri.YES]
    assert [e.compiled(parse_target("3.11")) for e in mod.slots.entries] == [Tri.YES, Tri.NO, Tri.NO]
    assert u.module_inits[0].kind == "multi"
    assert u.compiled(node_at(u, "PyMutex mutex")) is Tri.YES
    assert u.compiled(node_at(u, '{"append"')) is Tri.YES
    assert u.functions["PyInit_soup"].line == 88


def test_error_nodes_stay_local(unit) -> None:
    # An X-macro invocation and an unknown statement macro break the parse locally only.
    u = unit("""\
    #define LIST(X) X(a) X(b)
    LIST(DEFINE)
    static int before_ok;
    static void f(void) {
        UNKNOWN_STATEMENT_MACRO
        x = 1;
        PyMutex_Lock(&m);
        locked();
    }
    static int after_ok;
    PyMODINIT_FUNC PyInit_z(void) { return PyModule_Create(&def); }
    """)
    assert {"before_ok", "after_ok"} <= {v.name for v in u.globals}
    assert u.lock_state(node_at(u, "locked")).held == ("m",)
    assert u.module_inits[0].kind == "single"
