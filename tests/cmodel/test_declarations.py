"""Question 2: globals, static locals, locals/parameters, typedefs and the type of a name."""

from __future__ import annotations

from cmodel_helpers import node_at


def _globals(u) -> dict:  # type: ignore[no-untyped-def]
    return {v.name: v for v in u.globals}


def test_several_declarators_in_one_declaration(unit) -> None:
    u = unit("static int a, *b = NULL, c[4];\n")
    g = _globals(u)
    assert [v.name for v in u.globals] == ["a", "b", "c"]
    assert (g["a"].pointer_depth, g["a"].is_array, g["a"].storage) == (0, False, "static")
    assert (g["b"].pointer_depth, g["b"].const_levels, u.text(g["b"].initializer)) == (
        1,
        (False, False),
        "NULL",
    )
    assert (g["c"].is_array, g["c"].base_type) == (True, "int")
    assert all(v.line == 1 and v.function is None for v in u.globals)


def test_const_levels(unit) -> None:
    u = unit("""\
    static const char *kwlist[] = {"a", NULL};
    static const char *const names[] = {"a"};
    static char *const fixed = "x";
    static const int limit = 3;
    static PyObject *cache;
    """)
    g = _globals(u)
    assert g["kwlist"].const_levels == (True, False) and not g["kwlist"].is_const
    assert g["names"].const_levels == (True, True) and g["names"].is_const and g["names"].deeply_const
    assert g["fixed"].const_levels == (False, True) and g["fixed"].is_const and not g["fixed"].deeply_const
    assert g["limit"].is_const and g["limit"].const_levels == (True,)
    assert not g["cache"].is_const and g["cache"].base_type == "PyObject" and g["cache"].pointer_depth == 1


def test_static_locals_are_globals_too(unit) -> None:
    u = unit("""\
    static PyObject *
    get_cache(void)
    {
        static PyObject *cache = NULL;
        int local = 0;
        return cache;
    }
    """)
    (cache,) = u.globals
    assert (cache.name, cache.function, cache.storage, cache.line) == ("cache", "get_cache", "static", 4)
    assert set(u.variables_in("get_cache")) == {"cache", "local"}


def test_thread_local_atomic_volatile(unit) -> None:
    u = unit("""\
    static _Thread_local int t1;
    static __thread int t2;
    static Py_THREAD_LOCAL int t3;
    __declspec(thread) int t4;
    static thread_local int t5;
    static _Atomic int a1;
    static _Atomic(int) a2;
    static atomic_int a3;
    static volatile int v1;
    static int plain;
    """)
    g = _globals(u)
    assert [n for n, v in g.items() if v.thread_local] == ["t1", "t2", "t3", "t4", "t5"]
    assert [n for n, v in g.items() if v.atomic] == ["a1", "a2", "a3"]
    assert [n for n, v in g.items() if v.volatile] == ["v1"]
    assert g["t1"].storage == "static"
    assert g["a2"].base_type == "int"


def test_cpp_atomic_and_thread_local(unit) -> None:
    u = unit(
        """\
    #include <atomic>
    static std::atomic<int> counter{0};
    thread_local int depth = 0;
    static std::atomic_flag flag;
    """,
        path="m.cpp",
    )
    g = _globals(u)
    assert g["counter"].atomic and g["counter"].base_type == "std::atomic<int>"
    assert g["depth"].thread_local
    assert g["flag"].atomic


def test_function_pointers_and_struct_globals(unit) -> None:
    u = unit("""\
    static int (*hook)(int) = NULL;
    static struct node root;
    static PyObject *(*const dispatch)(PyObject *) = NULL;
    int prototype(int x);
    extern PyObject *shared;
    """)
    g = _globals(u)
    assert "prototype" not in g
    assert g["hook"].is_function_pointer and g["hook"].pointer_depth == 1 and not g["hook"].is_const
    assert g["root"].base_type == "struct node" and g["root"].pointer_depth == 0
    assert g["dispatch"].is_function_pointer and g["dispatch"].is_const
    assert g["shared"].storage == "extern"


def test_typedefs_are_resolved(unit) -> None:
    u = unit("""\
    typedef struct _frame_like FrameLike;
    typedef PyFrameObject Frame;
    typedef Frame *FramePtr;
    typedef struct { int x; } Plain;
    typedef const char *cstr;
    static FramePtr current;
    static Plain p;
    static cstr label;
    static const cstr fixed_label = "x";
    """)
    assert u.resolve_typedef("Frame") == "PyFrameObject"
    assert u.resolve_typedef("FramePtr") == "PyFrameObject"
    assert u.resolve_typedef("Plain") == "Plain"  # an anonymous struct keeps its typedef name
    assert u.resolve_typedef("FrameLike") == "FrameLike"
    assert set(u.typedefs) == {"FrameLike", "Frame", "FramePtr", "Plain", "cstr"}
    g = _globals(u)
    assert (g["current"].base_type, g["current"].declared_type, g["current"].pointer_depth) == (
        "PyFrameObject",
        "FramePtr",
        1,
    )
    assert g["label"].const_levels == (True, False) and not g["label"].is_const
    assert g["fixed_label"].const_levels == (True, True) and g["fixed_label"].is_const


def test_type_of_tells_frames_from_other_structs(unit) -> None:
    u = unit("""\
    typedef struct node { struct node *f_back; } node;
    static PyFrameObject *last_frame;
    static int depth(PyFrameObject *frame, struct node *n) {
        int d = 0;
        while (frame) { frame = frame->f_back; d++; }
        while (n) { n = n->f_back; d++; }
        {
            node *frame = NULL;
            d += frame->f_back != NULL;
        }
        return d + (last_frame->f_back != NULL);
    }
    """)
    first = node_at(u, "frame->f_back")
    assert u.type_of(first).base_type == "PyFrameObject" and u.type_of(first).is_parameter
    assert u.type_of(node_at(u, "n->f_back")).base_type == "struct node"
    shadow = u.type_of(node_at(u, "frame->f_back", 1))
    assert (shadow.base_type, shadow.line) == ("node", 8)  # the typedef name, not the struct
    assert u.type_of(node_at(u, "last_frame->f_back")).function is None
    params = u.variables_in("depth")
    assert params["frame"].is_parameter and params["frame"].pointer_depth == 1
    assert params["d"].base_type == "int" and not params["d"].is_parameter


def test_unused_parameters(unit) -> None:
    u = unit("static PyObject *m(PyObject *Py_UNUSED(self), PyObject *arg) { return arg; }\n")
    assert set(u.variables_in("m")) == {"self", "arg"}


def test_guards_on_variables(unit) -> None:
    u = unit("""\
    #ifndef Py_GIL_DISABLED
    static PyObject *cache;
    #endif
    """)
    (cache,) = u.globals
    assert [(g.kind, g.condition) for g in cache.guards] == [("ifndef", "Py_GIL_DISABLED")]


def test_project_thread_local_macros_from_other_headers(unit) -> None:
    u = unit("""
        static NPY_TLS int freenum = 0;
        static MY_THREAD_LOCAL struct item *freelist[5];
        static int shared;
    """)
    assert {v.name: v.thread_local for v in u.globals} == {"freenum": True, "freelist": True, "shared": False}
