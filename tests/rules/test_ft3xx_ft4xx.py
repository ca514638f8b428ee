"""FT3xx/FT4xx on realistic modules (a line tracer, a memoising cache, the demo extension), plus the
precision requirements: types, version guards, macro bodies, comments and strings, targets, fixes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from support import REPO, run, write_tree

from ftaudit.analysis.capi_uses import _EXACT, _PREFIX
from ftaudit.config import Settings
from ftaudit.engine import scan
from ftaudit.facts.capi import CATALOGUE, markdown_table
from ftaudit.findings import Applicability
from ftaudit.fixes import apply_edits
from ftaudit.registry import load_registry
from ftaudit.target import parse_target

FIXTURES = REPO / "fixtures" / "c"
EXPECT = re.compile(r"expect: (FT\d{3})/(error|warning|note)")


def findings(folder: Path, *args: str, isolated: bool = True) -> list[tuple[str, int, str, str]]:
    options = ["--isolated"] if isolated else []
    result = run(["scan", ".", *options, "--output-format", "json", "--select", "FT3,FT4", *args], folder)
    assert result.exit_code in (0, 1), result.output
    return [(f["filename"], f["location"]["row"], f["code"], f["severity"]) for f in json.loads(result.stdout)]


def expected(path: Path, relative: str) -> list[tuple[str, int, str, str]]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        found += [(relative, number, m.group(1), m.group(2)) for m in EXPECT.finditer(line)]
    return found


@pytest.mark.parametrize("relative", ["tracer/_linetracer.c", "memo/_memo.c", "registry/_registry.c",
                                      "session/_session.c", "profiler/_sampler.c", "profiler/_switch.c",
                                      "profiler/_tracer.c",
                                      "internals/util.h", "internals/ctracer.c", "internals/early.c",
                                      "internals/profile_hooks.c",
                                      "tables/tables.c"])
def test_fixture_findings_are_exactly_the_marked_lines(relative: str) -> None:
    got = [f for f in findings(FIXTURES) if f[0] == relative]
    assert got == expected(FIXTURES / relative, relative)


def test_demo_extension() -> None:
    assert findings(REPO / "fixtures" / "demo_ext") == [
        ("src/_legacy.c", 10, "FT301", "warning"),      # PyList_GetItem on the registry list
        ("src/_legacy.c", 24, "FT405", "warning"),      # Py_REFCNT(list) == 1, then mutates it
        ("src/_legacy.c", 42, "FT404", "error"),        # obj->ob_refcnt
        ("src/_speedups.c", 41, "FT301", "warning"),    # PyDict_GetItem on the module cache
        ("src/_speedups.c", 95, "FT401", "error"),      # frame->f_lineno (the guarded f_code is fine)
    ]


def test_gil_target_has_no_ft3xx_and_ob_refcnt_is_only_a_warning() -> None:
    got = findings(FIXTURES / "memo", "--target-version", "3.12")
    assert [f for f in got if f[2].startswith("FT3")] == []
    assert ("_memo.c", 168, "FT404", "warning") in got   # ob_refcnt exists on the default build
    assert ("_memo.c", 167, "FT404", "error") in got     # Py_TYPE(x) = t broke in 3.11


def test_code_guarded_for_supported_old_versions_counts_with_requires_python(tmp_path: Path) -> None:
    code = (
        "static int line_of(PyFrameObject *frame) {\n"
        "#if PY_VERSION_HEX < 0x030C0000\n"
        "    return frame->f_code->co_firstlineno;\n"
        "#else\n"
        "    return PyFrame_GetLineNumber(frame);\n"
        "#endif\n"
        "}\n"
    )
    write_tree(tmp_path / "old", {"mod.c": code, "pyproject.toml": "[project]\nrequires-python = '>=3.9'\n"})
    write_tree(tmp_path / "new", {"mod.c": code, "pyproject.toml": "[project]\nrequires-python = '>=3.12'\n"})
    assert findings(tmp_path / "old", isolated=False) == [("mod.c", 3, "FT401", "error")]   # built for 3.11 too
    assert findings(tmp_path / "new", isolated=False) == []
    assert findings(tmp_path / "old") == []   # target 3.14t alone: the guarded line is not built
    result = run(["scan", ".", "--select", "FT401", "--output-format", "json"], tmp_path / "old")
    assert "this code is compiled for 3.11" in json.loads(result.stdout)[0]["message"]


def test_precision_types_names_comments_strings_and_macros(tmp_path: Path) -> None:
    write_tree(tmp_path, {"mod.cpp": (
        "// PyDict_GetItem(d, k) and frame->f_back in a comment\n"
        "static const char *doc = \"tstate->frame, PyList_GetItem\";\n"
        "int my_PyDict_GetItem_calls;\n"
        "struct node { node *f_back; node *frame; int ob_size_hint; };\n"
        "struct Walker { node *frame; int depth() { return this->frame ? 1 : 0; } };\n"
        "#define NEXT(n) ((n)->f_back)\n"                               # generic field, no frame-like name
        "#define BACK(frame) ((frame)->f_back)  // <- warning\n"       # frame-like macro parameter
        "#define ROOT(ts) ((ts)->recursion_depth)\n"                   # macro parameter named like a tstate
        "static int depth(node *n) { return n->f_back ? 1 : n->frame != nullptr; }\n"
        "#if MYLIB_PY311\n"
        "static int ok(PyFrameObject *f) { return PyFrame_GetLineNumber(f); }\n"
        "#else\n"
        "static int old(PyFrameObject *f) { return f->f_lineno; }\n"   # only for < 3.11 (name says so)
        "#endif\n"
        "static PyObject *t(PyObject *tuple) { return PyTuple_GetItem(tuple, 0); }\n"
    )})
    assert findings(tmp_path) == [("mod.cpp", 7, "FT401", "warning"), ("mod.cpp", 8, "FT402", "warning")]


def test_compat_shims_and_same_file_definitions_are_not_findings(tmp_path: Path) -> None:
    write_tree(tmp_path, {"compat.h": (
        "static inline PyCodeObject *PyFrame_GetCode(PyFrameObject *frame) {\n"
        "    return (PyCodeObject *)Py_NewRef(frame->f_code);\n"
        "}\n"
        "static inline int PySys_GetOptionalAttrString(const char *name, PyObject **value) {\n"
        "    *value = Py_XNewRef(PySys_GetObject(name));\n"
        "    return *value != NULL;\n"
        "}\n"
        "#define PyEval_CallObject(func, args) PyObject_CallObject(func, args)\n"
        "static PyObject *call(PyObject *f, PyObject *a) { return PyEval_CallObject(f, a); }\n"
    )})
    assert findings(tmp_path) == []


def test_fixes_rewrite_and_satisfy_the_rules(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "c")
    folder = tmp_path / "c"
    settings = Settings(root=folder, select=["FT401", "FT402", "FT404"], respect_gitignore=False)
    result = scan([folder], settings, jobs=1)
    fixable = [f for f in result.findings if f.fix is not None]
    assert sorted((Path(f.path).name, f.start.line, f.code, f.fix.applicability) for f in fixable) == [
        ("_linetracer.c", 46, "FT401", Applicability.SAFE),
        ("_memo.c", 167, "FT404", Applicability.SAFE),
        ("_memo.c", 168, "FT404", Applicability.SAFE),
        ("_tracer.c", 22, "FT401", Applicability.SAFE),
    ]
    for path in {f.path for f in fixable}:
        source = Path(path)
        edits = [e for f in fixable if f.path == path for e in f.fix.edits]
        source.write_text(apply_edits(source.read_text(), edits))
    tracer, memo = (folder / "tracer/_linetracer.c").read_text(), (folder / "memo/_memo.c").read_text()
    assert "int lineno = PyFrame_GetLineNumber(frame);" in tracer
    assert "if (tstate->interp != PyInterpreterState_Main())" in tracer  # the documented public member
    assert "    Py_SET_TYPE(obj, frozen_type);  " in memo
    assert "return PyLong_FromSsize_t(Py_REFCNT(obj));" in memo
    # A frame reached through a struct member a header declares with a macro-spelled type.
    assert "return PyFrame_GetLineNumber(entry->frame);" in (folder / "profiler/_tracer.c").read_text()
    after = {(Path(f.path).name, f.start.line) for f in scan([folder], settings, jobs=1).findings}
    assert not {(Path(f.path).name, f.start.line) for f in fixable} & after


def test_uniqueness_fix_is_unsafe_and_keeps_the_branch_direction(tmp_path: Path) -> None:
    write_tree(tmp_path, {"mod.c": (
        "static void grow(PyObject *list) {\n"
        "    if (Py_REFCNT(list) > 1) { copy(list); } else { append(list); }\n"
        "}\n"
    )})
    [finding] = scan([tmp_path], Settings(root=tmp_path, select=["FT405"], respect_gitignore=False), jobs=1).findings
    assert finding.fix is not None and finding.fix.applicability is Applicability.UNSAFE
    assert "if (!PyUnstable_Object_IsUniquelyReferenced(list))" in apply_edits(
        (tmp_path / "mod.c").read_text(), finding.fix.edits)


def test_fix_keeps_the_old_code_for_older_pythons_or_uses_the_backport(tmp_path: Path) -> None:
    code = "static void f(PyObject *o, PyTypeObject *t)\n{\n    Py_TYPE(o) = t;\n}\n"
    write_tree(tmp_path, {"mod.c": code, "pyproject.toml": "[project]\nrequires-python = '>=3.8'\n"})
    result = run(["scan", ".", "--select", "FT404", "--output-format", "json"], tmp_path)
    [finding] = json.loads(result.stdout)
    # 3.8 lacks Py_SET_TYPE (3.9): the edit keeps the old statement for it, so it is safe.
    assert finding["fix"]["applicability"] == "safe"
    [edit] = finding["fix"]["edits"]
    assert (edit["location"], edit["end_location"]) == ({"row": 3, "column": 1}, {"row": 4, "column": 1})
    assert edit["content"] == ("#if PY_VERSION_HEX >= 0x03090000\n    Py_SET_TYPE(o, t);\n#else\n"
                               "    Py_TYPE(o) = t;\n#endif\n")
    # With pythoncapi_compat.h included, its backport is used in place.
    (tmp_path / "mod.c").write_text('#include "pythoncapi_compat.h"\n' + code)
    [finding] = json.loads(run(["scan", ".", "--select", "FT404", "--output-format", "json"], tmp_path).stdout)
    [edit] = finding["fix"]["edits"]
    assert edit["content"] == "Py_SET_TYPE(o, t)" and edit["location"] == {"row": 4, "column": 5}
    assert "pythoncapi_compat.h provides it" in finding["fix"]["message"]
    # Inside a macro body lines cannot be duplicated: no edit rather than a broken one.
    (tmp_path / "mod.c").write_text("#define RETYPE(o, t) do { \\\n    Py_TYPE(o) = t; \\\n} while (0)\n")
    result = json.loads(run(["scan", ".", "--select", "FT404", "--output-format", "json"], tmp_path).stdout)
    assert result and [f["fix"] for f in result] == [None] * len(result)


def test_immutable_containers_option(tmp_path: Path) -> None:
    code = ("static int n(PyArray_Descr *descr) {\n"
            "    PyObject *k, *v; Py_ssize_t pos = 0; int n = 0;\n"
            "    while (PyDict_Next(descr->fields, &pos, &k, &v)) { n++; }\n"
            "    PyObject *title = PyDict_GetItem(descr->fields, k);\n"
            "    return n + (int)PyObject_Length(title);\n"
            "}\n")
    write_tree(tmp_path, {"mod.c": code})
    assert [f[2] for f in findings(tmp_path)] == ["FT302", "FT301"]
    (tmp_path / "pyproject.toml").write_text(
        "[tool.ftaudit.rule-options.FT301]\nimmutable-containers = ['*->fields']\n"
        "[tool.ftaudit.rule-options.FT302]\nimmutable-containers = ['*->fields']\n")
    result = run(["scan", ".", "--select", "FT3", "--output-format", "json"], tmp_path)
    assert json.loads(result.stdout) == []


def test_critical_section_two_objects_and_other_locks(tmp_path: Path) -> None:
    write_tree(tmp_path, {"mod.c": (
        "static PyMutex m;\n"
        "static void merge(PyObject *a, PyObject *b) {\n"
        "    PyObject *k, *v; Py_ssize_t pos = 0;\n"
        "    Py_BEGIN_CRITICAL_SECTION2(a, b);\n"
        "    while (PyDict_Next(b, &pos, &k, &v)) { PyDict_SetItem(a, k, v); }\n"
        "    Py_END_CRITICAL_SECTION2();\n"
        "    PyMutex_Lock(&m);\n"
        "    while (PyDict_Next(a, &pos, &k, &v)) { }\n"
        "    PyMutex_Unlock(&m);\n"
        "}\n"
        "static PyObject *py_merge(PyObject *self, PyObject *args) {\n"
        "    PyObject *into, *from;\n"
        "    if (!PyArg_ParseTuple(args, \"OO\", &into, &from)) return NULL;\n"
        "    merge(into, from);\n"
        "    Py_RETURN_NONE;\n"
        "}\n"
        "static PyMethodDef methods[] = {{\"merge\", py_merge, METH_VARARGS, NULL}, {NULL}};\n"
    )})
    assert findings(tmp_path) == [("mod.c", 8, "FT302", "note")]


def test_catalogue_is_consistent_and_documented() -> None:
    codes = set(load_registry().rules)
    seen = set()
    for api in CATALOGUE:
        assert api.rule in codes, api
        key = (api.rule, api.kind, api.owner, api.name)
        assert key not in seen, f"duplicate row {key}"
        seen.add(key)
        assert api.reason and not api.reason.endswith(".")
        if api.since and api.version and api.status in ("removed", "pending", "deprecated"):
            assert api.since <= max(api.version, (3, 13)), api  # the replacement exists when the name goes
        if api.kind == "field":
            assert api.owner in ("PyFrameObject", "PyThreadState", "PyCodeObject", "PyObject")
        name = api.name.rstrip("*")
        assert _EXACT.fullmatch(name) or _PREFIX.match(name + "x"), api
        table = markdown_table([api.rule])
        assert f"{api.name}`" in table or f"{api.name}(x)" in table
    doc = load_registry().rules["FT406"].instead
    assert "`PyEval_CallObject`" in doc and "`_PyThreadState_UncheckedGet`" in doc


def test_target_3_15_makes_scheduled_removals_errors(tmp_path: Path) -> None:
    write_tree(tmp_path, {"mod.c": "static PyObject *imp(const char *n) { return PyImport_ImportModuleNoBlock(n); }\n"})
    assert findings(tmp_path) == []  # still declared (deprecated) on 3.14: it compiles and works
    assert findings(tmp_path, "--target-version", "3.15t") == [("mod.c", 1, "FT406", "error")]
    assert parse_target("3.15t").version == (3, 15)


def test_module_initialisation_is_private(tmp_path: Path) -> None:
    write_tree(tmp_path, {"mod.c": (
        "static PyObject *pi;\n"
        "static int exec_mod(PyObject *m) {\n"
        "    PyObject *d = PyModule_GetDict(m);\n"
        "    pi = Py_XNewRef(PyDict_GetItemString(d, \"pi\"));\n"
        "    return pi == NULL ? -1 : 0;\n"
        "}\n"
        "static PyModuleDef_Slot slots[] = {{Py_mod_exec, exec_mod}, {0, NULL}};\n"
    )})
    assert findings(tmp_path) == []


def test_a_helper_returning_a_per_thread_dict_on_the_target_is_per_thread(tmp_path: Path) -> None:
    # The helper returns the thread's own dict from 3.10 on and a shared global before; no free-threaded
    # build compiles the old branch, so its result is per thread (line 16 is silent). `any_store`
    # returns the shared dict on every version: reported (line 20).
    code = ("#include <Python.h>\n"
            "static PyObject *shared_store;\n"
            "static PyObject *thread_store(void) {\n"
            "#if PY_VERSION_HEX >= 0x030A0000\n"
            "    return PyThreadState_GetDict();\n"
            "#else\n"
            "    return shared_store;\n"
            "#endif\n"
            "}\n"
            "static PyObject *any_store(void) {\n"
            "    return shared_store;\n"
            "}\n"
            "static PyObject *depth(PyObject *self, PyObject *unused) {\n"
            "    PyObject *mine = thread_store();\n"
            "    PyObject *other = NULL;\n"
            "    PyObject *d = PyDict_GetItemString(mine, \"depth\");\n"
            "    PyObject *theirs = any_store();\n"
            "    if (theirs != NULL) {\n"
            "        Py_SETREF(other, Py_XNewRef(NULL));\n"
            "        other = PyDict_GetItemString(theirs, \"depth\");\n"
            "    }\n"
            "    return Py_XNewRef(d ? d : other);\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"depth\", depth, METH_NOARGS, NULL}, {NULL}};\n")
    write_tree(tmp_path, {"mod.c": code, "pyproject.toml": "[project]\nname = 'm'\nrequires-python = '>=3.8'\n"})
    assert [(f[1], f[2]) for f in findings(tmp_path, "--select", "FT301")] == [(20, "FT301")]


def test_setstate_state_is_private_only_when_the_type_builds_it_fresh(tmp_path: Path) -> None:
    # Fresh: __reduce__ packs a dict it just made (psycopg2's Error), so pickle and copy hand
    # __setstate__ a private dict (line 9 silent). Live: __reduce__ packs the object's own dict, and
    # copy.copy passes that very dict to the copy's __setstate__ (line 20 reported).
    code = ("#include <Python.h>\n"
            "typedef struct { PyObject_HEAD PyObject *attrs; } Rec;\n"
            "static PyObject *fresh_reduce(Rec *self, PyObject *unused) {\n"
            "    PyObject *state = PyDict_New();\n"
            "    if (state == NULL) return NULL;\n"
            "    return PyTuple_Pack(3, (PyObject *)Py_TYPE(self), PyTuple_New(0), state);\n"
            "}\n"
            "static PyObject *fresh_setstate(Rec *self, PyObject *state) {\n"
            "    PyObject *name = PyDict_GetItemString(state, \"name\");\n"
            "    Py_XSETREF(self->attrs, Py_XNewRef(name));\n"
            "    Py_RETURN_NONE;\n"
            "}\n"
            "static PyObject *live_reduce(Rec *self, PyObject *unused) {\n"
            "    return Py_BuildValue(\"(O()O)\", (PyObject *)Py_TYPE(self), self->attrs);\n"
            "}\n"
            "static PyObject *live_setstate(Rec *self, PyObject *state) {\n"
            "    PyObject *name;\n"
            "    Py_ssize_t n = PyDict_Size(state);\n"
            "    (void)n;\n"
            "    name = PyDict_GetItemString(state, \"name\");\n"
            "    Py_XSETREF(self->attrs, Py_XNewRef(name));\n"
            "    Py_RETURN_NONE;\n"
            "}\n"
            "static PyMethodDef fresh_methods[] = {\n"
            "    {\"__reduce__\", (PyCFunction)fresh_reduce, METH_NOARGS, NULL},\n"
            "    {\"__setstate__\", (PyCFunction)fresh_setstate, METH_O, NULL},\n"
            "    {NULL, NULL, 0, NULL},\n"
            "};\n"
            "static PyMethodDef live_methods[] = {\n"
            "    {\"__reduce__\", (PyCFunction)live_reduce, METH_NOARGS, NULL},\n"
            "    {\"__setstate__\", (PyCFunction)live_setstate, METH_O, NULL},\n"
            "    {NULL, NULL, 0, NULL},\n"
            "};\n")
    write_tree(tmp_path, {"rec.c": code})
    assert [(f[1], f[2]) for f in findings(tmp_path, "--select", "FT301")] == [(20, "FT301")]


def test_a_borrowed_pointer_kept_in_a_global_is_reported_even_if_only_compared_here(tmp_path: Path) -> None:
    # From the hostile review: select_hook only compares `current_hook`, but fire() calls it later.
    code = ("#include <Python.h>\n"
            "static PyObject *registry;\n"
            "static PyObject *current_hook;\n"
            "static PyObject *select_hook(PyObject *self, PyObject *name) {\n"
            "    current_hook = PyDict_GetItem(registry, name);\n"
            "    if (current_hook == NULL) Py_RETURN_FALSE;\n"
            "    Py_RETURN_TRUE;\n"
            "}\n"
            "static PyObject *fire(PyObject *self, PyObject *arg) {\n"
            "    return current_hook ? PyObject_CallOneArg(current_hook, arg) : Py_NewRef(Py_None);\n"
            "}\n"
            "static PyMethodDef methods[] = {\n"
            "    {\"select_hook\", select_hook, METH_O, NULL}, {\"fire\", fire, METH_O, NULL}, {NULL}};\n")
    write_tree(tmp_path, {"hooks.c": code})
    assert [(f[1], f[2]) for f in findings(tmp_path, "--select", "FT301")] == [(5, "FT301")]


def test_the_assignment_that_reaches_the_use_decides_the_container(tmp_path: Path) -> None:
    # netifaces' shape: the variable first holds a borrowed lookup, then, in the branch, a list of its own
    # that PyList_SET_ITEM fills (line 7 silent); likewise a list made afresh in each iteration (line 24).
    # A write in between (line 18) or later in the loop around the use (line 32) leaves it undecided.
    code = ("#include <Python.h>\n"
            "static int add(PyObject *result, PyObject *key, PyObject *obj) {\n"
            "    PyObject *list = PyDict_GetItem(result, key);\n"
            "    if (list == NULL) {\n"
            "        list = PyList_New(1);\n"
            "        if (list == NULL) return -1;\n"
            "        PyList_SET_ITEM(list, 0, obj);\n"
            "        return PyDict_SetItem(result, key, list);\n"
            "    }\n"
            "    return PyList_Append(list, obj);\n"
            "}\n"
            "static void swap(PyObject *obj, int other) {\n"
            "    PyObject *list = PyObject_GetAttrString(obj, \"items\");\n"
            "    list = PyList_New(1);\n"
            "    if (other) {\n"
            "        list = PyObject_GetAttrString(obj, \"items\");\n"
            "    }\n"
            "    PyList_SET_ITEM(list, 0, obj);\n"
            "}\n"
            "static void fresh_each_time(PyObject *obj, int n) {\n"
            "    PyObject *list = PyObject_GetAttrString(obj, \"items\");\n"
            "    for (int i = 0; i < n; i++) {\n"
            "        list = PyList_New(1);\n"
            "        PyList_SET_ITEM(list, 0, obj);\n"
            "        list = PyObject_GetAttrString(obj, \"items\");\n"
            "    }\n"
            "}\n"
            "static void loop(PyObject *obj, int n) {\n"
            "    PyObject *list = PyObject_GetAttrString(obj, \"items\");\n"
            "    list = PyList_New(1);\n"
            "    for (int i = 0; i < n; i++) {\n"
            "        PyList_SET_ITEM(list, 0, obj);\n"
            "        list = PyObject_GetAttrString(obj, \"items\");\n"
            "    }\n"
            "}\n"
            "static PyObject *py_add(PyObject *self, PyObject *args) {\n"
            "    add(args, args, args); swap(args, 1); fresh_each_time(args, 2); loop(args, 2);\n"
            "    Py_RETURN_NONE;\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"add\", py_add, METH_VARARGS, NULL}, {NULL}};\n")
    write_tree(tmp_path, {"mod.c": code})
    assert [(f[1], f[2]) for f in findings(tmp_path, "--select", "FT303")] == [(18, "FT303"), (32, "FT303")]


def test_notes_name_the_hazard_that_is_left(tmp_path: Path) -> None:
    # Inside a critical section the lock keeps other threads out: the note must not say they can free the
    # value, only that the pointer must not outlive (or be used across a suspension of) the section.
    write_tree(tmp_path, {"mod.c": (
        "#include <Python.h>\n"
        "static PyMutex m;\n"
        "static PyObject *get(PyObject *self, PyObject *d) {\n"
        "    PyObject *v, *k; Py_ssize_t pos = 0;\n"
        "    Py_BEGIN_CRITICAL_SECTION(d);\n"
        "    v = Py_XNewRef(PyDict_GetItemString(d, \"x\"));\n"
        "    Py_END_CRITICAL_SECTION();\n"
        "    PyMutex_Lock(&m);\n"
        "    while (PyDict_Next(d, &pos, &k, NULL)) { }\n"
        "    PyMutex_Unlock(&m);\n"
        "    return v;\n"
        "}\n"
        "static PyMethodDef methods[] = {{\"get\", get, METH_O, NULL}, {NULL}};\n")})
    result = run(["scan", ".", "--isolated", "--select", "FT301,FT302", "--output-format", "json"], tmp_path)
    notes = {f["code"]: f["message"] for f in json.loads(result.stdout)}
    assert notes["FT301"] == (
        "`PyDict_GetItemString` returns a borrowed reference into `d` inside a critical section on it: the pointer "
        "is valid only while the section holds, so not after `Py_END_CRITICAL_SECTION()`, nor across a nested "
        "critical section or a blocking call, which can suspend it")
    assert notes["FT302"] == (
        "`PyDict_Next` iterates `d` under `m` but not in a critical section on it: a thread that changes `d` "
        "without holding that lock (Python code using the dict never does) can still free the borrowed keys and "
        "values during the loop")
    assert "another thread can delete" not in notes["FT301"] and "without a critical section" not in notes["FT302"]
