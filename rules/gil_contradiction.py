"""FT108: a module declares it does not need the GIL while its extension still has racy state.

Project-level: every C file reports its GIL-free declarations and its racy writes (from the shared
analysis, including the ones the project pass confirms through exported functions); build files
report which sources are linked into which extension. A declaration is contradicted by the racy
state of every file linked with it, or of its own file when the linkage is unknown.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any

from ftaudit.analysis.reachability import runtime_exported
from ftaudit.analysis.shared_state import analyse
from ftaudit.cmodel import Tri
from ftaudit.context import FileContext, ProjectContext
from ftaudit.findings import Position, RelatedLocation, Severity
from ftaudit.rule import Example, Rule
from ftaudit.source import Language

from .gil_declarations import HOWTO, multi_phase_defs

MAX_NAMED = 5


_GLOB = re.compile(r"[*?\[]")


def _expand(group: set[str], summaries: dict[str, Any]) -> set[str]:
    """An extension's sources with `glob("src/*.c")` patterns matched against the scanned files."""
    patterns = [p for p in group if _GLOB.search(p)]
    if not patterns:
        return group
    return (group - set(patterns)) | {path for path in summaries for p in patterns if fnmatchcase(path, p)}


def _declarations(ctx: FileContext) -> list[dict[str, Any]]:
    """Where this file declares Py_MOD_GIL_NOT_USED (or the binding equivalent) for the target."""
    unit = ctx.c_unit
    found = []

    def add(node: Any, module: str, how: str) -> None:
        start, end = ctx.span(node)
        ctx.keep_lines(start.line, end.line)
        found.append({"start": (start.line, start.column), "end": (end.line, end.column), "module": module,
                      "how": how})

    for module_def in multi_phase_defs(unit):
        for entry in module_def.slots.find("Py_mod_gil") if module_def.slots else []:
            if entry.value == "Py_MOD_GIL_NOT_USED" and entry.compiled(ctx.target) is not Tri.NO:
                add(entry.node, module_def.m_name or f"{module_def.name} (PyModuleDef)", "the Py_mod_gil slot")
    for init in unit.module_inits:
        for call in init.set_gil_calls:
            value = ctx.c_unit.text(call.args[1]).strip() if len(call.args) > 1 else ""
            if value == "Py_MOD_GIL_NOT_USED" and unit.compiled(call.node, ctx.target) is not Tri.NO:
                add(call.node, init.module_name, "PyUnstable_Module_SetGIL")
    for module in unit.binding_modules:
        if module.kind == "pybind11" and module.node is not None and any(
                "mod_gil_not_used" in a.replace(" ", "") for a in module.args):
            add(module.node, module.name, "py::mod_gil_not_used()")
    return found


class GilDeclarationContradicted(Rule):
    code = "FT108"
    security_severity = 6.5  # memory corruption (use after free, torn pointer) when it races
    slug = "gil-declaration-contradicted"
    summary = "Module declares it does not need the GIL but its extension has racy global state"
    severity = Severity.ERROR
    languages = frozenset({Language.C, Language.CPP, Language.PYTHON, Language.MESON, Language.CMAKE})
    project_level = True
    what = (
        "Reports a `Py_MOD_GIL_NOT_USED` declaration (a `Py_mod_gil` slot, a `PyUnstable_Module_SetGIL` call, "
        "or pybind11's `py::mod_gil_not_used()`) when the same extension still has FT201 or FT202 findings: "
        "unsynchronised writes to globals or racy lazy initialisation. The extension is every source file "
        "linked into it according to `setup.py` (`Extension(sources=...)`), `meson.build` "
        "(`extension_module`) or `CMakeLists.txt`; when the linkage is unknown, the declaring file alone. "
        "The racy globals are listed with their locations (related locations in SARIF)."
    )
    why = (
        "The declaration tells the free-threaded interpreter to keep the GIL off while this module runs. "
        "Globals that relied on the GIL then race for real: lost updates, double initialisation, and "
        "use-after-free on `PyObject *` caches. This is the most likely real bug class of a port."
    )
    instead = (
        "Fix the listed FT201/FT202 findings first — atomics, a `PyMutex` (3.13+), initialisation in the "
        "exec function, or module state — or keep `Py_MOD_GIL_USED` until they are fixed."
    )
    suggestion = "Protect the listed globals (atomics, PyMutex, init in exec, module state) before declaring."
    references = (HOWTO, "https://py-free-threading.github.io/porting-extensions/")
    tags = ("free-threading", "module-declaration", "data-race")
    bad = (
        Example(
            "static long calls;\n"
            "static PyObject *count(PyObject *self, PyObject *args) { calls++; return PyLong_FromLong(calls); }\n"
            "static PyMethodDef methods[] = {{\"count\", count, METH_NOARGS, NULL}, {NULL}};\n"
            "static PyModuleDef_Slot slots[] = {\n"
            "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},  // <- FT108\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_methods = methods,\n"
            "                                 .m_slots = slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
        ),
        Example(
            "PyObject *get_cache(void);\n"
            "static PyObject *cached(PyObject *self, PyObject *args) { return Py_XNewRef(get_cache()); }\n"
            "static PyMethodDef methods[] = {{\"cached\", cached, METH_NOARGS, NULL}, {NULL}};\n"
            "static PyModuleDef_Slot slots[] = {\n"
            "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},  // <- FT108\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_methods = methods,\n"
            "                                 .m_slots = slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
            path="src/module.c",
            files={
                "src/cache.c": "static PyObject *cache;\n"
                               "PyObject *get_cache(void) {\n"
                               "    if (cache == NULL) { cache = PyDict_New(); }\n"
                               "    return cache;\n"
                               "}\n",
                "setup.py": "from setuptools import Extension, setup\n"
                            "setup(ext_modules=[Extension('m', ['src/module.c', 'src/cache.c'])])\n",
            },
            title="The racy cache lives in another file linked into the same extension",
        ),
    )
    good = (
        Example(
            "#include <stdatomic.h>\n"
            "static _Atomic long calls;\n"
            "static PyObject *count(PyObject *self, PyObject *args) {\n"
            "    return PyLong_FromLong(atomic_fetch_add(&calls, 1) + 1);\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"count\", count, METH_NOARGS, NULL}, {NULL}};\n"
            "static PyModuleDef_Slot slots[] = {\n"
            "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_methods = methods,\n"
            "                                 .m_slots = slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
        ),
        Example(
            "static PyModuleDef_Slot slots[] = {\n"
            "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_slots = slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
            path="src/module.c",
            files={
                "src/other_ext.c": "static long hits;\nPyObject *hit(void) { hits++; return NULL; }\n",
                "setup.py": "from setuptools import Extension, setup\n"
                            "setup(ext_modules=[Extension('m', ['src/module.c']),\n"
                            "                   Extension('other', ['src/other_ext.c'])])\n",
            },
            title="Racy state in a different extension does not contradict this one",
        ),
    )

    def summarize(self, ctx: FileContext) -> dict[str, Any] | None:
        from ftaudit.cmodel.buildfiles import read_cmake, read_meson, read_setup_py

        source = ctx.source
        if source.language is Language.PYTHON:
            if source.path.name != "setup.py":
                return None
            groups = [e.sources for e in read_setup_py(source.text).extensions]
        elif source.language is Language.MESON:
            groups = [m.sources for m in read_meson(source.text).extension_modules]
        elif source.language is Language.CMAKE:
            groups = [m.sources for m in read_cmake(source.text).modules]
        else:
            return self._summarize_c(ctx)
        folder = PurePosixPath(source.display).parent
        linked = [sorted((folder / s).as_posix() for s in group if "$" not in s) for group in groups]
        return {"kind": "build", "extensions": [g for g in linked if g]}

    def _summarize_c(self, ctx: FileContext) -> dict[str, Any] | None:
        unit = ctx.c_unit
        if unit is None:
            return None
        state = analyse(unit, ctx.target)
        racy = []
        for write in state.racy_writes:
            racy.append((write.variable.name, write.variable.line, ctx.source.position(write.node.start_byte),
                         sorted(write.roots)))
        for lazy in state.lazy_inits:
            racy.append((lazy.variable.name, lazy.variable.line, ctx.source.position(lazy.condition.start_byte),
                         sorted(lazy.roots)))
        seen: set[str] = set()
        entries = []
        for name, declared_line, position, roots in racy:
            if name in seen:
                continue
            seen.add(name)
            entries.append({"name": name, "declared": declared_line, "at": (position.line, position.column),
                            "roots": roots})
        declarations = _declarations(ctx)
        # Always summarised: a file with nothing to report may still be the one whose init code
        # calls another file's exported helper, which the project pass must know.
        return {"kind": "c", "declarations": declarations, "racy": entries,
                "reach": state.reach.summary if state.reach else None}

    def check_project(self, project: ProjectContext) -> None:
        summaries = project.summaries
        reach = {p: s["reach"] for p, s in summaries.items() if s.get("reach")}
        runtime = runtime_exported(reach, project.unnamed)
        extensions = [set(group) for s in summaries.values() if s["kind"] == "build" for group in s["extensions"]]
        for path, summary in sorted(summaries.items()):
            if summary["kind"] != "c" or not summary["declarations"]:
                continue
            groups = [_expand(group, summaries) for group in extensions]
            linked = set().union(*(group for group in groups if path in group)) or {path}
            racy = []
            for other in sorted(linked):
                other_summary = summaries.get(other)
                if not other_summary or other_summary["kind"] != "c":
                    continue
                for entry in other_summary["racy"]:
                    if not entry["roots"] or any(r in runtime for r in entry["roots"]):
                        racy.append((other, entry))
            if not racy:
                continue
            named = ", ".join(f"`{e['name']}` ({p}:{e['declared']})" for p, e in racy[:MAX_NAMED])
            more = f" and {len(racy) - MAX_NAMED} more" if len(racy) > MAX_NAMED else ""
            related = tuple(
                RelatedLocation(p, Position(*e["at"]), Position(*e["at"]), f"racy write to `{e['name']}`")
                for p, e in racy
            )
            for declaration in summary["declarations"]:
                project.report(
                    path, Position(*declaration["start"]), Position(*declaration["end"]),
                    f"Module `{declaration['module']}` declares it does not need the GIL ({declaration['how']}), "
                    f"but its extension still has racy global state: {named}{more}",
                    related=related, subject=declaration["module"],
                )
