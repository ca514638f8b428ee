"""FT108: a module declares it does not need the GIL while its extension still has racy state.

Project-level: every C file reports its GIL-free declarations and its racy writes (from the shared
analysis, including the ones the project pass confirms through exported functions); build files
report which sources are linked into which extension. A declaration is contradicted by the racy
state of every file linked with it, or of its own file when the linkage is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftaudit.analysis.extension_state import (
    ExtensionState,
    LinkedSources,
    RacyState,
    build_summary,
    named,
    racy_globals,
)
from ftaudit.cmodel import Tri
from ftaudit.cmodel.module_defs import module_phrase
from ftaudit.context import FileContext, ProjectContext
from ftaudit.findings import RelatedLocation, Severity
from ftaudit.readiness import ModuleDeclaration, Readiness
from ftaudit.rule import Example, Rule
from ftaudit.source import Language
from ftaudit.summaries import summary_type

from .gil_declarations import HOWTO, multi_phase_defs

MAX_NAMED = 5


@summary_type
@dataclass(frozen=True)
class DeclaringState(RacyState):
    """A C file's racy state and the modules it declares GIL-free (``readiness.DeclaresGilFree``)."""

    declarations: tuple[ModuleDeclaration, ...]


def _declarations(ctx: FileContext) -> tuple[ModuleDeclaration, ...]:
    """Where this file declares Py_MOD_GIL_NOT_USED (or the binding equivalent) for the target."""
    unit = ctx.c_unit
    assert unit is not None
    found = []

    def add(node: Any, module: str, how: str) -> None:
        start, end = ctx.span(node)
        ctx.keep_lines(start.line, end.line)
        found.append(ModuleDeclaration(module, how, start, end))

    for module_def in multi_phase_defs(unit):
        for entry in module_def.slots.find("Py_mod_gil") if module_def.slots else []:
            if entry.value == "Py_MOD_GIL_NOT_USED" and entry.compiled(ctx.target) is not Tri.NO:
                add(entry.node, unit.module_name(module_def).subject, "the Py_mod_gil slot")
    for init in unit.module_inits:
        for call in init.set_gil_calls:
            value = unit.text(call.args[1]).strip() if len(call.args) > 1 else ""
            if value == "Py_MOD_GIL_NOT_USED" and unit.compiled(call.node, ctx.target) is not Tri.NO:
                add(call.node, init.module_name, "PyUnstable_Module_SetGIL")
    for module in unit.binding_modules:
        if module.kind == "pybind11" and module.node is not None and any(
                "mod_gil_not_used" in a.replace(" ", "") for a in module.args):
            add(module.node, module.name, "py::mod_gil_not_used()")
    return tuple(found)


class GilDeclarationContradicted(Rule):
    code = "FT108"
    security_severity = 6.5  # memory corruption (use after free, torn pointer) when it races
    slug = "gil-declaration-contradicted"
    summary = "Module declares it does not need the GIL but its extension has racy global state"
    severity = Severity.ERROR
    languages = frozenset({Language.C, Language.CPP, Language.PYTHON, Language.MESON, Language.CMAKE})
    project_level = True
    readiness = Readiness.RACY
    what = (
        "Reports a `Py_MOD_GIL_NOT_USED` declaration (a `Py_mod_gil` slot, a `PyUnstable_Module_SetGIL` call, "
        "or pybind11's `py::mod_gil_not_used()`) when the same extension still has FT201 or FT202 findings: "
        "unsynchronised writes to globals or racy lazy initialisation. The extension is every source file "
        "linked into it according to `setup.py` (`Extension(sources=...)`), `meson.build` "
        "(`extension_module`) or `CMakeLists.txt`; when the linkage is unknown, the declaring file alone. "
        "The racy globals are listed with their locations (related locations in SARIF). When only some "
        "files are scanned (pre-commit passes the changed ones) and the declaring file is not among them, "
        "the finding is reported in each scanned file that holds racy state, at its first racy global, "
        "with the declaration as the related location."
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
    suggestion = ("Protect the listed globals (atomics, a `PyMutex`, initialisation in the exec slot, module state) "
                  "before declaring.")
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

    def summarize(self, ctx: FileContext) -> DeclaringState | LinkedSources | None:
        if ctx.source.language not in (Language.C, Language.CPP):
            return build_summary(ctx)
        if ctx.c_unit is None:
            return None
        return DeclaringState(*racy_globals(ctx), declarations=_declarations(ctx))

    def check_project(self, project: ProjectContext) -> None:
        state = ExtensionState(project)
        for path, summary in sorted(project.summaries.items()):
            if not isinstance(summary, DeclaringState) or not summary.declarations:
                continue
            racy = state.racy(path)
            if not racy:
                continue
            related = tuple(RelatedLocation(p, e.at, e.at, f"racy write to `{e.name}`") for p, e in racy)
            for declaration in summary.declarations:
                message = (f"{module_phrase(declaration.module)} declares it does not need the GIL "
                           f"({declaration.how}), but its extension still has racy global state: "
                           f"{named(racy, MAX_NAMED)}")
                if path in project.focus:
                    project.report(path, declaration.start, declaration.end, message, related=related,
                                   subject=declaration.module)
                    continue
                # A focused scan (pre-commit passes the changed files) that did not ask about the
                # declaring file: the contradiction is reported in each asked file that holds racy
                # state, at its first racy global, with the declaration as a related location.
                here = RelatedLocation(path, declaration.start, declaration.end, "the declaration")
                for racy_path in sorted({p for p, _ in racy if p in project.focus}):
                    first = next(e for p, e in racy if p == racy_path)
                    project.report(racy_path, first.at, first.at,
                                   f"`{first.name}` is racy global state of an extension whose "
                                   f"{module_phrase(declaration.module)[0].lower()}"
                                   f"{module_phrase(declaration.module)[1:]} declares it does not need the "
                                   f"GIL ({declaration.how}, {path}:{declaration.start.line})",
                                   related=(here, *(r for r in related if r.path != racy_path or r.start != first.at)),
                                   subject=declaration.module)
