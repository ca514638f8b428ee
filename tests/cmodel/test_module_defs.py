"""Question 5: PyModuleDef variables, slot arrays, PyInit_* kinds, SetGIL calls, binding modules."""

from __future__ import annotations

from ftaudit.cmodel import Tri
from ftaudit.target import parse_target

FT313 = parse_target("3.13t")
GIL312 = parse_target("3.12")


def test_multi_phase_with_guarded_gil_slot_declared_after_def(unit) -> None:
    u = unit(
        """\
    static PyModuleDef_Slot module_slots[];
    static struct PyModuleDef spam_module = {
        PyModuleDef_HEAD_INIT,
        "spam",
        "docs",
        sizeof(spam_state),
        spam_methods,
        module_slots,
        spam_traverse,
        spam_clear,
        NULL,
    };
    static PyModuleDef_Slot module_slots[] = {
        {Py_mod_exec, spam_exec},
    #if PY_VERSION_HEX >= 0x030D0000
        {Py_mod_gil, Py_MOD_GIL_NOT_USED},
    #endif
        {0, NULL},
    };
    PyMODINIT_FUNC PyInit_spam(void) { return PyModuleDef_Init(&spam_module); }
    """,
        target=FT313,
    )
    (mod,) = u.module_defs
    assert (mod.name, mod.m_name, mod.m_size, mod.slots_name, mod.line) == (
        "spam_module",
        "spam",
        "sizeof(spam_state)",
        "module_slots",
        2,
    )
    assert mod.fields["m_methods"] == "spam_methods" and mod.fields["m_free"] == "NULL"
    slots = mod.slots
    assert slots is not None and slots.name == "module_slots" and slots.terminated
    assert [(e.slot, e.value, e.line) for e in slots.entries] == [
        ("Py_mod_exec", "spam_exec", 14),
        ("Py_mod_gil", "Py_MOD_GIL_NOT_USED", 16),
    ]
    gil = slots.find("Py_mod_gil")[0]
    assert [g.condition for g in gil.guards] == ["PY_VERSION_HEX >= 0x030D0000"]
    assert gil.compiled() is Tri.YES
    assert gil.compiled(GIL312) is Tri.NO
    assert slots.entries[0].guards == () and slots.entries[0].compiled() is Tri.YES
    (init,) = u.module_inits
    assert (init.name, init.module_name, init.kind, init.module_def is mod, init.create_call.name) == (
        "PyInit_spam",
        "spam",
        "multi",
        True,
        "PyModuleDef_Init",
    )


def test_designated_initialisers(unit) -> None:
    u = unit("""\
    static PyModuleDef_Slot slots[] = {
        {.slot = Py_mod_exec, .value = exec_fn},
        {.slot = Py_mod_gil, .value = Py_MOD_GIL_USED},
        {0}
    };
    static PyModuleDef def = {
        .m_base = PyModuleDef_HEAD_INIT,
        .m_name = "des" "ignated",
        .m_size = 0,
        .m_slots = slots,
    };
    """)
    (mod,) = u.module_defs
    assert (mod.m_name, mod.m_size, mod.slots_name) == ("designated", "0", "slots")
    assert [(e.slot, e.value) for e in mod.slots.entries] == [
        ("Py_mod_exec", "exec_fn"),
        ("Py_mod_gil", "Py_MOD_GIL_USED"),
    ]


def test_single_phase_with_set_gil(unit) -> None:
    u = unit(
        """\
    static struct PyModuleDef legacy = {PyModuleDef_HEAD_INIT, "legacy", NULL, -1, methods};
    PyMODINIT_FUNC
    PyInit_legacy(void)
    {
        PyObject *mod = PyModule_Create(&legacy);
        if (mod == NULL) {
            return NULL;
        }
    #ifdef Py_GIL_DISABLED
        PyUnstable_Module_SetGIL(mod, Py_MOD_GIL_NOT_USED);
    #endif
        return mod;
    }
    """,
        target=FT313,
    )
    (mod,) = u.module_defs
    assert (mod.m_size, mod.slots_name, mod.slots) == ("-1", None, None)
    (init,) = u.module_inits
    assert (init.kind, init.module_def is mod, init.module_var, init.create_call.name) == (
        "single",
        True,
        "mod",
        "PyModule_Create",
    )
    (set_gil,) = init.set_gil_calls
    assert [g.condition for g in set_gil.guards] == ["Py_GIL_DISABLED"]
    assert u.set_gil_calls == [set_gil]
    assert set_gil.line == 10


def test_several_modules_and_macro_wrapped_init(unit) -> None:
    u = unit("""\
    #define MODULE_INIT(def) return PyModuleDef_Init(&def)
    static PyModuleDef_Slot a_slots[] = {{Py_mod_gil, Py_MOD_GIL_NOT_USED}, {0, NULL}};
    static struct PyModuleDef a_def = {PyModuleDef_HEAD_INIT, "a", NULL, 0, NULL, a_slots};
    static struct PyModuleDef b_def = {PyModuleDef_HEAD_INIT, "b", NULL, 0, NULL, NULL};
    PyMODINIT_FUNC PyInit_a(void) { MODULE_INIT(a_def); }
    PyMODINIT_FUNC PyInit_b(void) { PyObject *m; m = PyModule_Create2(&b_def, PYTHON_API_VERSION); return m; }
    PyMODINIT_FUNC PyInit_c(void) { return make_module(); }
    """)
    assert [(d.name, d.m_name, d.slots_name) for d in u.module_defs] == [
        ("a_def", "a", "a_slots"),
        ("b_def", "b", "NULL"),
    ]
    kinds = {(i.name, i.kind, i.module_def_name, i.module_var) for i in u.module_inits}
    assert kinds == {
        ("PyInit_a", "multi", "a_def", None),
        ("PyInit_b", "single", "b_def", "m"),
        ("PyInit_c", "unknown", None, None),
    }
    assert u.module_inits[0].create_call.name == "MODULE_INIT"


def test_single_phase_through_a_helper(unit) -> None:
    u = unit("""\
    static PyObject *create(void) { PyObject *m = PyModule_Create(&def); return m; }
    PyMODINIT_FUNC PyInit_h(void) { return create(); }
    """)
    (init,) = u.module_inits
    assert (init.kind, init.create_call.function, init.module_var, init.module_def_name) == (
        "single",
        "create",
        "m",
        "def",
    )


def test_pybind11_and_nanobind_modules(unit) -> None:
    u = unit(
        """\
    #include <pybind11/pybind11.h>
    namespace py = pybind11;
    static int add(int a, int b) { return a + b; }
    PYBIND11_MODULE(example, m, py::mod_gil_not_used()) {
        m.doc() = "example";
        m.def("add", &add);
    }
    PYBIND11_MODULE(plain, mod) {
        mod.def("add", &add).def("add2", &add);
        mod.set_gil_not_used();
    }
    NB_MODULE(nbex, m) {
        m.def("add", [](int a, int b) { return a + b; });
    }
    """,
        path="bind.cpp",
    )
    first, second, third = u.binding_modules
    assert (first.kind, first.name, first.module_var, first.args, first.line) == (
        "pybind11",
        "example",
        "m",
        ["py::mod_gil_not_used()"],
        4,
    )
    assert [c.name for c in first.method_calls] == ["m.doc", "m.def"]
    assert (second.name, second.module_var, second.args) == ("plain", "mod", [])
    assert second.calls_method("set_gil_not_used") and not first.calls_method("set_gil_not_used")
    assert (third.kind, third.name, third.macro) == ("nanobind", "nbex", "NB_MODULE")
    assert third.body is not None and third.body.type == "compound_statement"
    assert "PYBIND11_MODULE(example)" in u.init_functions
    assert u.entry_points >= {"add"}


def test_positional_initializer_skips_branches_not_compiled_for_the_target(unit) -> None:
    u = unit("""
        static PyModuleDef_Slot module_slots[] = {{Py_mod_exec, module_exec}, {0, NULL}};
        static struct PyModuleDef moduledef = {
            PyModuleDef_HEAD_INIT,
            "_speedups",
            module_doc,
        #if PY_VERSION_HEX >= 0x030D0000
            sizeof(state_t),
        #else
            0,
        #endif
            methods,
            module_slots,
            NULL, NULL, NULL,
        };
    """)
    [module_def] = u.module_defs
    assert module_def.m_size == "sizeof(state_t)"
    assert module_def.slots_name == "module_slots"
    assert module_def.slots is not None and module_def.slots.name == "module_slots"


def test_slot_array_exposes_its_name_and_sentinel(unit) -> None:
    u = unit("""
        static PyModuleDef_Slot slots[] = {
            {Py_mod_exec, module_exec},
            {0, NULL},
        };
        static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = "m", .m_slots = slots};
    """)
    [module_def] = u.module_defs
    assert u.text(module_def.name_node) == "mod"
    assert u.text(module_def.slots.name_node) == "slots"
    assert u.text(module_def.slots.sentinel) == "{0, NULL}"
    assert module_def.slots.terminated
