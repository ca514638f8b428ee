"""FT601-FT606: can the module run in several interpreters of one process (PEP 684/489/630/687)?

``ftaudit.analysis.isolation`` reads each file's modules (single- or multi-phase, what their
``Py_mod_multiple_interpreters`` slot says) and what keeps them from being isolated: static types,
process-global Python objects, ``PyState_*`` lookups and ``PyGILState_*`` calls. These rules decide and explain.

What the rules say was checked on a real 3.13 (tests/test_groundtruth.py): an interpreter created with the
isolated configuration refuses every module but one declaring ``Py_MOD_PER_INTERPRETER_GIL_SUPPORTED``; on a
free-threaded build no sub-interpreter imports a single-phase module; a static type and a global
``PyObject *`` leak objects from one interpreter into another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import ClassVar

from ftaudit.analysis.extension_state import BUILD_LANGUAGES, ExtensionState, LinkedSources, build_summary
from ftaudit.analysis.isolation import (
    NOT_SUPPORTED_VALUE,
    OWN_GIL_VALUE,
    SHARED_GIL_VALUE,
    SLOT,
    SLOT_GUARD,
    Isolation,
    ModuleSupport,
    Support,
)
from ftaudit.cmodel.module_defs import module_phrase
from ftaudit.context import FileContext, ProjectContext
from ftaudit.findings import Position, RelatedLocation, Severity
from ftaudit.readiness import ModuleClaim, Subinterpreters
from ftaudit.rule import Example, Rule
from ftaudit.source import Language
from ftaudit.summaries import summary_type
from ftaudit.target import Applies

from .binding_declarations import folder_of, governs

C_LANGUAGES = frozenset({Language.C, Language.CPP})
# Per-interpreter GILs, the isolated configuration and the slot arrived in 3.12.
SINCE_312 = Applies(since=(3, 12))
ISOLATION_HOWTO = "https://docs.python.org/3/howto/isolating-extensions.html"
SLOT_DOCS = "https://docs.python.org/3/c-api/module.html#c.Py_mod_multiple_interpreters"
PEP_684 = "https://peps.python.org/pep-0684/"
PEP_489 = "https://peps.python.org/pep-0489/"
PEP_630 = "https://peps.python.org/pep-0630/"
PEP_687 = "https://peps.python.org/pep-0687/"
GILSTATE_DOCS = "https://docs.python.org/3/c-api/init.html#non-python-created-threads"

# A module with a multi-phase definition, for the examples.
_MODULE = """
static int module_exec(PyObject *m) {{ {exec} return 0; }}
static PyModuleDef_Slot slots[] = {{
    {{Py_mod_exec, module_exec}},{slot}
    {{0, NULL}},
}};
static struct PyModuleDef mod = {{PyModuleDef_HEAD_INIT, "m", NULL, 0, NULL, slots}};
PyMODINIT_FUNC PyInit_m(void) {{ return PyModuleDef_Init(&mod); }}
"""
_OWN_GIL_SLOT = "\n    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},"
_NOT_SUPPORTED_SLOT = "\n    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},"


def _module(exec_body: str = "", slot: str = _OWN_GIL_SLOT, before: str = "") -> str:
    return before + _MODULE.format(exec=exec_body, slot=slot)


def isolation(ctx: FileContext) -> Isolation | None:
    return ctx.analyses.isolation


def _charged(found: Isolation, function: str | None) -> tuple[str, Severity] | None:
    """The module that state used by ``function`` leaks from, among those several interpreters may load (the
    first one claiming its own GIL, else the first), and the severity: a warning when it claims its own
    GIL, a note otherwise. None when no such module runs the function."""
    shared = [m for m in found.owners(function) if m.support.several_interpreters]
    if not shared:
        return None
    own = [m for m in shared if m.support is Support.OWN_GIL]
    module = own[0] if own else shared[0]
    return module.subject, Severity.WARNING if own else Severity.NOTE


def _where_loaded(module: ModuleSupport) -> str:
    if module.support is Support.OWN_GIL:
        return "every interpreter that imports it, each with its own GIL, runs it at the same time"
    return "several interpreters of the process can import it"


# What the readiness table says of each kind of module, and how the module says it.
_TABLE = {
    Support.OWN_GIL: (Subinterpreters.OWN_GIL, f"`{SLOT}`: `{OWN_GIL_VALUE}`"),
    Support.SHARED_GIL: (Subinterpreters.SHARED_GIL, f"`{SLOT}`: `Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED`"),
    Support.DEFAULT: (Subinterpreters.SHARED_GIL, f"no `{SLOT}` slot (CPython's default: shared GIL only)"),
    Support.NOT_SUPPORTED: (Subinterpreters.MAIN_ONLY, f"`{SLOT}`: `{NOT_SUPPORTED_VALUE}`"),
    Support.SINGLE_PHASE: (Subinterpreters.SINGLE_PHASE, "single-phase initialisation"),
}


def _shared_spelling(own: str) -> str:
    """The shared-GIL declaration in the same vocabulary as the own-GIL one (the slot value, or pybind11's)."""
    return "py::multiple_interpreters::shared_gil()" if own.startswith("py::") else SHARED_GIL_VALUE


def _obstacles(ctx: FileContext, found: Isolation, module: ModuleSupport | None) -> tuple[Obstacle, ...]:
    """What in the file shares objects between interpreters: charged to ``module`` (in a file with several
    modules, what its code uses), or everything (``module`` None: a file without modules)."""
    def mine(function: str | None) -> bool:
        return module is None or any(owner is module for owner in found.owners(function))

    problems = [(v.node, f"static type `{v.name}` (FT603)") for v, ready in found.static_types if mine(ready.function)]
    problems += [(g.anchor, f"process-global `{g.name}` (FT604)") for g in found.object_globals if mine(g.function)]
    problems += [(c.node, f"`{c.name}` (FT605)") for c in found.state_lookups if mine(c.function)]
    problems += [(c.node, f"`{c.name}` (FT606)") for c in found.gilstate_calls if mine(c.function)]
    out = []
    for node, what in sorted(problems, key=lambda problem: problem[0].start_byte):
        if ctx.compiled(node):
            start, end = ctx.span(node)
            ctx.keep_lines(start.line, end.line)
            out.append(Obstacle(what, start, end))
    return tuple(out)


def _claim(module: ModuleSupport) -> ModuleClaim:
    state, how = _TABLE[module.support]
    if module.module_def is None and module.support is not Support.SINGLE_PHASE:  # pybind11, nanobind
        how = f"`{module.spelled}`" if module.spelled else "the binding generator's default (not supported)"
    if module.support is Support.OWN_GIL:
        # State is looked for in the module's file and the files the build links with it: without a build
        # file that lists the sources, in this file only.
        how += " (shared objects looked for in the files its build links together)"
    return ModuleClaim(module.subject, state.value, how)


@summary_type
@dataclass(frozen=True)
class SubinterpreterClaims:
    """What a file's modules declare about sub-interpreters, for the readiness table
    (``DeclaresSubinterpreterSupport``), and each per-interpreter GIL claim with what in this file
    contradicts it (the project pass adds what the extension's other files hold)."""

    claims: tuple[ModuleClaim, ...]
    own_gil: tuple[OwnGilClaim, ...] = ()


@summary_type
@dataclass(frozen=True)
class Obstacle:
    """Something that shares Python objects between interpreters, for a related location."""

    what: str  # "static type `T` (FT603)"
    start: Position
    end: Position


@summary_type
@dataclass(frozen=True)
class OwnGilClaim:
    subject: str
    spelled: str
    start: Position
    end: Position
    obstacles: tuple[Obstacle, ...]


@summary_type
@dataclass(frozen=True)
class HelperObstacles:
    """A C file that defines no module: what in it would contradict a per-interpreter GIL claim of the
    module it is linked into (build files say which)."""

    obstacles: tuple[Obstacle, ...]


@summary_type
@dataclass(frozen=True)
class PendingModule:
    """A single-phase module of a file, reported by the project pass."""

    subject: str
    start: Position
    end: Position


@summary_type
@dataclass(frozen=True)
class SinglePhaseModules:
    """A file's single-phase modules, and the first module of the file that declares sub-interpreter
    support (None: none does)."""

    reports: tuple[PendingModule, ...]
    claimed: str | None


class _IsolationRule(Rule):
    languages = C_LANGUAGES
    applies_to = SINCE_312
    tags = ("subinterpreters", "isolation")
    subinterpreters: ClassVar[bool | Subinterpreters] = True


class SinglePhaseModule(_IsolationRule):
    code = "FT601"
    slug = "single-phase-module"
    summary = "Single-phase module: isolated sub-interpreters cannot import it"
    severity = Severity.NOTE
    reads_generated = True
    what = (
        "Finds `PyInit_*` functions that create their module with `PyModule_Create` (single-phase "
        "initialisation) instead of returning `PyModuleDef_Init(&def)` (multi-phase, PEP 489)."
    )
    why = (
        "Since 3.12 an interpreter created with the isolated configuration (`_interpreters.create()` in "
        "3.13, `concurrent.interpreters.create()` in 3.14) checks each extension and refuses a "
        "single-phase one with an `ImportError` (\"does not support loading in subinterpreters\"). On a "
        "free-threaded build every sub-interpreter does that check, so no sub-interpreter can import the "
        "module; on a build with the GIL only the legacy `Py_NewInterpreter()` still loads it, sharing its "
        "state with the main interpreter. A note, unless another module of the same extension (its file, or a "
        "file the build links with it) declares sub-interpreter support: then a warning naming that module."
    )
    instead = (
        "Convert to multi-phase initialisation (3.5+): `PyInit_*` returns `PyModuleDef_Init(&def)`, the "
        "body of the old init moves into a `Py_mod_exec` slot function, and the module's globals move into "
        "module state (`m_size`, `PyModule_GetState`). Then declare `Py_mod_multiple_interpreters` (3.12+). "
        "pythoncapi_compat.h has nothing to backport here: every supported CPython has multi-phase init."
    )
    suggestion = "Return `PyModuleDef_Init(&def)` from `PyInit_*` and move the set-up into a `Py_mod_exec` slot."
    references = (PEP_489, PEP_684, ISOLATION_HOWTO)
    bad = (
        Example("""
            static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "m", NULL, -1, NULL};
            PyMODINIT_FUNC PyInit_m(void) {
                PyObject *m = PyModule_Create(&mod);  // <- FT601
                return m;
            }
            """),
    )
    good = (Example(_module(slot=_NOT_SUPPORTED_SLOT)),)

    # Project-level for its severity: a note, unless another module of the same extension (its file, or the
    # files the build links with it) declares sub-interpreter support: then a warning naming that module.
    # The same answer for a focused scan (pre-commit reads the linked sources as context) and a full one.
    project_level = True
    languages = C_LANGUAGES | BUILD_LANGUAGES

    def summarize(self, ctx: FileContext) -> SinglePhaseModules | LinkedSources | None:
        if ctx.source.language not in C_LANGUAGES:
            return build_summary(ctx)
        found = isolation(ctx)
        if found is None or not found.modules:
            return None
        reports = []
        for module in found.modules:
            if module.support is Support.SINGLE_PHASE and ctx.compiled(module.anchor):
                start, end = ctx.span(module.anchor)
                ctx.keep_lines(start.line, end.line)
                reports.append(PendingModule(module.subject, start, end))
        claimed = next((m.subject for m in found.modules if m.support.claimed and ctx.compiled(m.anchor)), None)
        return SinglePhaseModules(tuple(reports), claimed) if reports or claimed else None

    def check_project(self, project: ProjectContext) -> None:
        state = ExtensionState(project)
        claimed = {path: s.claimed for path, s in project.summaries.items()
                   if isinstance(s, SinglePhaseModules) and s.claimed}
        for path, summary in sorted(project.summaries.items()):
            if not isinstance(summary, SinglePhaseModules):
                continue
            claims = [(other, claimed[other]) for other in sorted(state.linked(path)) if other in claimed]
            for module in summary.reports:
                also, severity = "", None
                if claims:
                    where, subject = claims[0]
                    also = (f"; module `{subject}` ({'this file' if where == path else where}) declares "
                            "sub-interpreter support")
                    severity = Severity.WARNING
                project.report(path, module.start, module.end,
                               f"{module_phrase(module.subject)} uses single-phase initialisation: interpreters "
                               "created with the isolated configuration (every sub-interpreter of a free-threaded "
                               f"build) refuse to import it{also}", severity=severity, subject=module.subject)


class MultipleInterpretersSlot(_IsolationRule):
    code = "FT602"
    slug = "multiple-interpreters-slot"
    summary = ("Multi-phase module without `Py_mod_multiple_interpreters`, or a per-interpreter GIL claim its "
               "code breaks")
    severity = Severity.NOTE
    reads_generated = True
    what = (
        "Reports two things about a multi-phase module's `Py_mod_multiple_interpreters` slot. (1) The slot "
        "is missing (a note). (2) The module declares `Py_MOD_PER_INTERPRETER_GIL_SUPPORTED` (or pybind11's "
        "`per_interpreter_gil()`) while its file, or a file the build links into the same extension "
        "(`setup.py`, meson or CMake source lists), holds what FT603-FT606 find: static types, process-global "
        "Python objects, `PyState_*` lookups or `PyGILState_Ensure` (an error, with each of them as a related "
        "location)."
    )
    why = (
        "Without the slot CPython treats the module as supporting only sub-interpreters that share the main "
        "interpreter's GIL: an isolated interpreter (its own GIL, the default of `_interpreters.create()` "
        "and `concurrent.interpreters`) refuses to import it. A per-interpreter GIL claim is a promise that "
        "no Python object is shared between interpreters; with static types or global objects, objects of one "
        "interpreter are used by another without a common lock: reference counts race and objects are freed "
        "while another interpreter still holds them."
    )
    instead = (
        f"Declare the slot (3.12+, under `{SLOT_GUARD}` while older versions are supported): "
        f"`{{{SLOT}, {OWN_GIL_VALUE}}}` once the module keeps its objects in module state and uses heap "
        f"types, otherwise `{{{SLOT}, {NOT_SUPPORTED_VALUE}}}` to say so. For a contradicted claim, fix what "
        "the related locations show (FT603-FT606) or declare `Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED` (shared "
        "GIL only) until then. pythoncapi_compat.h does not backport the slot."
    )
    suggestion = (f"Declare `{{{SLOT}, …}}` (3.12+, under `{SLOT_GUARD}`): `{OWN_GIL_VALUE}` once the module is "
                  f"isolated, `{NOT_SUPPORTED_VALUE}` until then.")
    references = (SLOT_DOCS, PEP_684, ISOLATION_HOWTO)
    bad = (
        Example(_module(slot="").replace("static PyModuleDef_Slot slots[] = {",
                                         "static PyModuleDef_Slot slots[] = {  // <- FT602"),
                title="No slot: isolated interpreters refuse the module"),
        Example(_module(exec_body="cache = PyDict_New();",
                        before="static PyObject *cache;  // <- FT604\n").replace(
                            "{Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},",
                            "{Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},  // <- FT602"),
                title="A per-interpreter GIL claim with a process-global object"),
    )
    good = (
        Example(_module()),
        Example(_module(slot=_NOT_SUPPORTED_SLOT, exec_body="cache = PyDict_New();",
                        before="static PyObject *cache;\n"),
                title="Global state, and the module says it is not for sub-interpreters"),
    )

    # Project-level: a claim is contradicted by any file linked into the same extension (setup.py, meson,
    # CMake source lists), as FT108 does for racy state; the summaries also feed the readiness table.
    project_level = True
    languages = C_LANGUAGES | BUILD_LANGUAGES

    def summarize(self, ctx: FileContext) -> SubinterpreterClaims | HelperObstacles | LinkedSources | None:
        if ctx.source.language not in C_LANGUAGES:
            return build_summary(ctx)
        found = isolation(ctx)
        if found is None:
            return None
        if not found.modules:
            obstacles = _obstacles(ctx, found, None)
            return HelperObstacles(obstacles) if obstacles else None
        own = []
        for module in found.modules:
            if module.support is Support.OWN_GIL and ctx.compiled(module.anchor):
                start, end = ctx.span(module.anchor)
                ctx.keep_lines(start.line, end.line)
                own.append(OwnGilClaim(module.subject, module.spelled, start, end, _obstacles(ctx, found, module)))
        return SubinterpreterClaims(tuple(_claim(m) for m in found.modules if ctx.compiled(m.anchor)), tuple(own))

    def check_project(self, project: ProjectContext) -> None:
        state = ExtensionState(project)
        helpers = {path: s for path, s in project.summaries.items() if isinstance(s, HelperObstacles)}
        for path, summary in sorted(project.summaries.items()):
            if not isinstance(summary, SubinterpreterClaims):
                continue
            linked = sorted(state.linked(path) - {path})
            for claim in summary.own_gil:
                problems = [(path, o) for o in claim.obstacles]
                problems += [(other, o) for other in linked if other in helpers for o in helpers[other].obstacles]
                if not problems:
                    continue
                listed = ", ".join(o.what.split(" (")[0] + ("" if where == path else f" ({where})")
                                   for where, o in problems[:3])
                more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
                project.report(
                    path, claim.start, claim.end,
                    f"{module_phrase(claim.subject)} declares `{claim.spelled}`, but its code is not isolated from "
                    f"other interpreters: {listed}{more}", severity=Severity.ERROR, subject=claim.subject,
                    help="Move the listed state into module state and use heap types, or declare "
                         f"`{_shared_spelling(claim.spelled)}` (shared GIL only) until then.",
                    related=tuple(RelatedLocation(where, o.start, o.end, o.what) for where, o in problems))

    def check(self, ctx: FileContext) -> None:
        found = isolation(ctx)
        if found is None:
            return
        for module in found.modules:
            if module.support is Support.DEFAULT:
                ctx.report(module.anchor,
                           f"{module_phrase(module.subject)} does not declare `{SLOT}`: CPython assumes it "
                           "supports only sub-interpreters sharing the main GIL, so isolated interpreters (their "
                           "own GIL) refuse to import it", subject=module.subject)



class StaticTypeInSharedModule(_IsolationRule):
    code = "FT603"
    slug = "static-type"
    summary = "Static `PyTypeObject` in a module several interpreters can load"
    severity = Severity.WARNING
    what = (
        "Finds file-scope `static PyTypeObject X = {…}` definitions that the file readies or adds to a module "
        "(`PyType_Ready(&X)`, `PyModule_AddType`), in a file whose module several interpreters can load: "
        "multi-phase without `Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED`. A warning when the module "
        "declares its own GIL per interpreter, a note when it only shares the main GIL."
    )
    why = (
        "A static type is one object for the whole process: every interpreter that imports the module gets "
        "the same type, its `__dict__`, its `__subclasses__()` and its reference count. A class defined in "
        "one interpreter shows up in another's `X.__subclasses__()` (checked on 3.13), and with a GIL per "
        "interpreter the shared reference count and caches race. Static types also cannot reach module "
        "state (PEP 573)."
    )
    instead = (
        "Create the type as a heap type in the exec function: `PyType_FromModuleAndSpec(module, &spec, "
        "NULL)` (3.9+; `PyType_FromMetaclass` 3.12+ for a metaclass), add it with `PyModule_AddType` (3.9+, "
        "backported by pythoncapi_compat.h), store it in module state, and find it with `PyType_GetModuleByDef` "
        "(3.11+, no backport) or `PyType_GetModuleState` (3.10+). A heap type's instances must visit their type "
        "in `tp_traverse` (`Py_VISIT(Py_TYPE(self))`); `Py_TPFLAGS_IMMUTABLETYPE` (3.10) keeps the old "
        "immutability. Or declare `Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED`."
    )
    suggestion = ("Make it a heap type (`PyType_FromModuleAndSpec`, 3.9+) kept in module state, or declare "
                  "`Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED`.")
    references = (PEP_630, PEP_687, ISOLATION_HOWTO)
    bad = (
        Example(_module(exec_body="if (PyType_Ready(&PointType) < 0) return -1;", before=(
            "static PyTypeObject PointType = {  // <- FT603\n"
            "    PyVarObject_HEAD_INIT(NULL, 0)\n"
            "    .tp_name = \"m.Point\",\n"
            "    .tp_basicsize = sizeof(PyObject),\n"
            "};\n")).replace(
                "{Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},",
                "{Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},  // <- FT602")),
    )
    good = (
        Example(_module(slot=_NOT_SUPPORTED_SLOT, exec_body="if (PyType_Ready(&PointType) < 0) return -1;", before=(
            "static PyTypeObject PointType = {\n"
            "    PyVarObject_HEAD_INIT(NULL, 0)\n"
            "    .tp_name = \"m.Point\",\n"
            "};\n")), title="The module says it is not for sub-interpreters"),
    )

    def check(self, ctx: FileContext) -> None:
        found = isolation(ctx)
        if found is None:
            return
        for variable, ready in found.static_types:
            charged = _charged(found, ready.function)
            if charged is None:
                continue
            subject, severity = charged
            ctx.report(variable.node,
                       f"Static type `{variable.name}` is one object for every interpreter that imports module "
                       f"`{subject}`: its dict, subclasses and reference count are shared between them",
                       severity=severity, subject=subject)


class ProcessGlobalObject(_IsolationRule):
    code = "FT604"
    slug = "process-global-object"
    summary = "Process-global Python object in a module several interpreters can load"
    severity = Severity.WARNING
    what = (
        "Finds file-scope and function-`static` `PyObject *` (or other `Py…Object *`) variables that the "
        "file writes anywhere, module init and teardown included, in a file whose module several interpreters "
        "can load. Unlike FT201, a write made only in the exec function is reported: each interpreter runs "
        "the exec function again and overwrites what the previous one stored. A warning when the module "
        "declares its own GIL per interpreter, a note when it only shares the main GIL."
    )
    why = (
        "The variable is one slot for the whole process. When a second interpreter imports the module, its "
        "exec function replaces the first interpreter's object (checked on 3.13: the main interpreter then "
        "reads the sub-interpreter's dict), and the first interpreter's code keeps using an object another "
        "interpreter owns, frees, or has already torn down."
    )
    instead = (
        "Keep the object in module state: a field of the struct that `m_size` sizes, set in `Py_mod_exec`, "
        "read through `PyModule_GetState(module)` (3.0+), `PyType_GetModuleByDef(type, &def)` (3.11+) or "
        "`PyType_GetModuleState(type)` (3.10+) from methods, and visited in `m_traverse`/`m_clear`. Or declare "
        "`Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED`."
    )
    suggestion = ("Move it into module state (`PyModule_GetState`; `PyType_GetModuleByDef` 3.11+ from methods), "
                  "or declare `Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED`.")
    references = (PEP_630, PEP_687, ISOLATION_HOWTO)
    bad = (
        Example(_module(exec_body="decimal_module = PyImport_ImportModule(\"decimal\");",
                        slot="", before="static PyObject *decimal_module;  // <- FT604\n")),
    )
    good = (
        Example(_module(slot=_NOT_SUPPORTED_SLOT, exec_body="cache = PyDict_New();",
                        before="static PyObject *cache;\n")),
        Example(_module(exec_body="PyObject *local = PyDict_New(); Py_XDECREF(local);"),
                title="Only local objects"),
    )

    def check(self, ctx: FileContext) -> None:
        found = isolation(ctx)
        if found is None:
            return
        for entry in found.object_globals:
            charged = _charged(found, entry.function)
            if charged is None:
                continue
            subject, severity = charged
            ctx.report(entry.anchor,
                       f"Process-global `{entry.name}` ({entry.kind}, written in `{entry.function}`) holds a Python "
                       f"object for every interpreter that imports module `{subject}`: what one interpreter "
                       "stores there, another one replaces or uses",
                       severity=severity, subject=subject,
                       related=(ctx.related(entry.write, f"written here, in `{entry.function}`"),))


class ModuleStateLookup(_IsolationRule):
    code = "FT605"
    slug = "pystate-module-lookup"
    summary = "`PyState_FindModule`/`PyState_AddModule`: single-phase only"
    severity = Severity.WARNING
    what = (
        "Finds calls of `PyState_FindModule`, `PyState_AddModule` and `PyState_RemoveModule`. A warning in a "
        "file that defines a multi-phase module, where they cannot work; a note in single-phase code, where "
        "they tie the module to single-phase initialisation."
    )
    why = (
        "These functions find a module by its definition in a per-interpreter table that only single-phase "
        "modules are registered in: for a module with `m_slots`, `PyState_AddModule` fails with "
        "`SystemError` and `PyState_FindModule` returns NULL. They are the single-phase way to reach module "
        "state, and they stand in the way of multi-phase initialisation."
    )
    instead = (
        "Reach the module from the code that needs it: the `self` of a module function, "
        "`PyType_GetModuleByDef(Py_TYPE(obj), &def)` (3.11+) from a method of a heap type, "
        "`PyType_GetModuleState(type)` (3.10+), or the defining class of a `METH_METHOD` method (3.9+). "
        "pythoncapi_compat.h does not backport `PyType_GetModuleByDef`."
    )
    suggestion = "Reach the module through `self` or `PyType_GetModuleByDef(type, &def)` (3.11+)."
    references = (PEP_489, PEP_630, ISOLATION_HOWTO)
    bad = (
        Example(_module(slot="", before=(
            "static struct PyModuleDef mod;\n"
            "static PyObject *get_state(void) {\n"
            "    return PyState_FindModule(&mod);  // <- FT605\n"
            "}\n")).replace("static PyModuleDef_Slot slots[] = {", "static PyModuleDef_Slot slots[] = {  // <- FT602")),
    )
    good = (
        Example(_module(before=(
            "static struct PyModuleDef mod;\n"
            "static PyObject *get_module(PyObject *type) {\n"
            "    return PyType_GetModuleByDef((PyTypeObject *)type, &mod);\n"
            "}\n"))),
    )

    def check(self, ctx: FileContext) -> None:
        found = isolation(ctx)
        if found is None or not found.state_lookups:
            return
        multi = found.multi_phase
        for call in found.state_lookups:
            effect = ("this file's module is multi-phase, so lookups find nothing (NULL) and registration fails "
                      "(SystemError)" if multi else
                      "it works only for single-phase modules, which isolated interpreters refuse")
            ctx.report(call.node, f"`{call.name}` uses CPython's table of single-phase modules: {effect}",
                       severity=None if multi else Severity.NOTE)


class GilStateInSubinterpreters(_IsolationRule):
    code = "FT606"
    slug = "gilstate-with-subinterpreters"
    summary = "`PyGILState_Ensure` in a module that declares sub-interpreter support"
    severity = Severity.WARNING
    what = (
        "Finds `PyGILState_Ensure` calls in a file whose module declares `Py_mod_multiple_interpreters` "
        "support (`Py_MOD_PER_INTERPRETER_GIL_SUPPORTED` or `Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED`, or "
        "pybind11 3.0's `py::multiple_interpreters` option). Without an explicit claim it stays silent: for "
        "foreign threads `PyGILState_Ensure` is what the free-threading HOWTO recommends, and FT602 already "
        "says that the module declares nothing."
    )
    why = (
        "`PyGILState_Ensure` on a thread without a thread state creates one for the main interpreter, "
        "whichever interpreter registered the callback: a callback from a foreign thread then runs a "
        "sub-interpreter's objects under the main interpreter (and, with a GIL per interpreter, without "
        "holding their GIL)."
    )
    instead = (
        "Record the interpreter when the callback is registered (`PyInterpreterState_Get()`, 3.9+; "
        "pythoncapi_compat.h backports it) and attach to it on the foreign thread: `PyThreadState *ts = "
        "PyThreadState_New(interp); PyEval_RestoreThread(ts);` … `PyThreadState_Clear(ts); "
        "PyThreadState_DeleteCurrent();`. Or declare `Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED`."
    )
    suggestion = ("Save `PyInterpreterState_Get()` at registration and attach with `PyThreadState_New(interp)` + "
                  "`PyEval_RestoreThread` on the foreign thread.")
    references = (GILSTATE_DOCS, PEP_684)
    bad = (
        Example(_module(before=(
            "static void on_event(void *arg) {\n"
            "    PyGILState_STATE g = PyGILState_Ensure();  // <- FT606\n"
            "    PyGILState_Release(g);\n"
            "}\n")).replace(
                "{Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},",
                "{Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},  // <- FT602")),
    )
    good = (
        Example(_module(slot="", before=(
            "static void on_event(void *arg) {\n"
            "    PyGILState_STATE g = PyGILState_Ensure();\n"
            "    PyGILState_Release(g);\n"
            "}\n")).replace("static PyModuleDef_Slot slots[] = {", "static PyModuleDef_Slot slots[] = {  // <- FT602"),
            title="No claim: the module only runs where PyGILState means the right interpreter"),
    )

    def check(self, ctx: FileContext) -> None:
        found = isolation(ctx)
        if found is None or not found.gilstate_calls:
            return
        for call in found.gilstate_calls:
            claimed = [m for m in found.owners(call.function) if m.support.claimed]
            if not claimed:
                continue
            subject = claimed[0].subject
            ctx.report(call.node,
                       f"`PyGILState_Ensure` attaches this thread to the main interpreter, but module `{subject}` "
                       "declares that sub-interpreters may load it", subject=subject)


# -- FT607: Cython's sub-interpreter directive ------------------------------------------------------------
CYTHON_DIRECTIVE = "subinterpreters_compatible"
CYTHON_MODULE_STATE = "CYTHON_USE_MODULE_STATE"
_CYTHON_CLAIMS = {"own_gil": Subinterpreters.OWN_GIL, "shared_gil": Subinterpreters.SHARED_GIL}


@summary_type
@dataclass(frozen=True)
class PyxSubinterpreters:
    """A `.pyx` module: its header's `subinterpreters_compatible` (None: not set), where, and whether the
    file itself turns module-state mode on (`# distutils: define_macros=CYTHON_USE_MODULE_STATE=1`)."""

    directive: str | None
    line: int
    width: int
    module_state: bool
    module: str

    @property
    def claims(self) -> tuple[ModuleClaim, ...]:
        """For the readiness table: what the module's own header makes of it."""
        # Without module state the claim has no effect: FT607 then says so, and its finding puts the module
        # back to "main interpreter only" (``subinterpreters`` below).
        claim = _CYTHON_CLAIMS.get(self.directive or "")
        if claim is not None:
            return (ModuleClaim(self.module, claim.value, f"`# cython: {CYTHON_DIRECTIVE}={self.directive}`"),)
        return (ModuleClaim(self.module, Subinterpreters.MAIN_ONLY.value,
                            "Cython's default: one interpreter per process"),)


@summary_type
@dataclass(frozen=True)
class CythonSubinterpreterBuild:
    """A build file's `subinterpreters_compatible` for the `.pyx` files below it, and whether it defines
    `CYTHON_USE_MODULE_STATE`."""

    directive: str | None
    module_state: bool


class CythonSubinterpreters(_IsolationRule):
    code = "FT607"
    slug = "cython-subinterpreters-without-module-state"
    summary = "Cython `subinterpreters_compatible` set without module-state mode: it has no effect"
    severity = Severity.WARNING
    languages = frozenset({Language.CYTHON, Language.PYTHON, Language.TOML, Language.MESON, Language.CMAKE})
    project_level = True
    subinterpreters = Subinterpreters.MAIN_ONLY  # the directive is void: Cython's one-interpreter default
    what = (
        f"Finds `.pyx` modules whose `{CYTHON_DIRECTIVE}` directive (Cython 3.1+; in the `# cython:` header or "
        "set by a build file of a folder above: `compiler_directives` in `setup.py`, meson `cython_args`, "
        f"`pyproject.toml`) asks for `own_gil` or `shared_gil` while neither the module nor a build file defines "
        f"`{CYTHON_MODULE_STATE}`."
    )
    why = (
        f"Cython writes the `Py_mod_multiple_interpreters` slot only when the C code is compiled with "
        f"`{CYTHON_MODULE_STATE}=1` (module-state mode, still marked experimental). Without it the directive "
        "does nothing: the module keeps Cython's default check and refuses a second interpreter (\"Interpreter "
        "change detected\"), and isolated interpreters refuse it because it declares no slot. By default "
        "(no directive) a Cython module is for one interpreter per process, which is not reported. pybind11 3.0 "
        "(`py::multiple_interpreters::per_interpreter_gil()`), nanobind (never) and PyO3 (refuses "
        "sub-interpreters) decide in their own code; the readiness table shows what pybind11 and nanobind "
        "modules declare."
    )
    instead = (
        f"Define the macro for the module: `# distutils: define_macros={CYTHON_MODULE_STATE}=1` in the `.pyx`, "
        f"`define_macros=[('{CYTHON_MODULE_STATE}', '1')]` on the `Extension`, or `-D{CYTHON_MODULE_STATE}=1` in "
        "meson/CMake. Cython 3.1 or newer is needed for the directive."
    )
    suggestion = f"Define `{CYTHON_MODULE_STATE}=1` for the module, or the directive has no effect."
    references = ("https://cython.readthedocs.io/en/latest/src/userguide/source_files_and_compilation.html",
                  PEP_684)
    bad = (
        Example("# cython: subinterpreters_compatible=own_gil  <- FT607\n\ndef add(int a, int b):\n"
                "    return a + b\n", path="fastmath.pyx",
                files={"setup.py": "from setuptools import setup\nfrom Cython.Build import cythonize\n"
                                   "setup(ext_modules=cythonize('fastmath.pyx'))\n"}),
    )
    good = (
        Example("# cython: subinterpreters_compatible=own_gil\n"
                "# distutils: define_macros=CYTHON_USE_MODULE_STATE=1\n\ndef add(int a, int b):\n    return a + b\n",
                path="fastmath.pyx"),
        Example("def add(int a, int b):\n    return a + b\n", path="pkg/fastmath.pyx",
                files={"setup.py": "from setuptools import Extension, setup\nfrom Cython.Build import cythonize\n"
                                   "ext = Extension('pkg.fastmath', ['pkg/fastmath.pyx'],\n"
                                   "                define_macros=[('CYTHON_USE_MODULE_STATE', '1')])\n"
                                   "setup(ext_modules=cythonize([ext], compiler_directives="
                                   "{'subinterpreters_compatible': 'own_gil'}))\n"},
                title="Both set for the project in setup.py"),
    )

    def summarize(self, ctx: FileContext) -> PyxSubinterpreters | CythonSubinterpreterBuild | None:
        from ftaudit.cmodel.buildfiles import MesonInfo, SetupInfo, read_pyproject
        from ftaudit.cmodel.cython import parse_cython

        source = ctx.source
        mentions = _defines_module_state(source.text, source.language is Language.CYTHON)
        if source.language is Language.CYTHON:
            if source.path.suffix != ".pyx":
                return None
            module = parse_cython(source.text)
            line = module.directive_lines.get(CYTHON_DIRECTIVE, 1)
            ctx.keep_lines(line)
            return PyxSubinterpreters(_directive_value(module.directive(CYTHON_DIRECTIVE)), line,
                                      len(source.line_text(line)), mentions, source.path.stem)
        if source.path.name == "setup.py" or (source.language is Language.PYTHON and b"cythonize" in source.data):
            setup = ctx.build_model
            value = setup.compiler_directives.get(CYTHON_DIRECTIVE) if isinstance(setup, SetupInfo) else None
        elif source.path.name == "pyproject.toml":
            value = read_pyproject(source.text).cython_directives.get(CYTHON_DIRECTIVE)
        elif source.language is Language.MESON and isinstance(meson := ctx.build_model, MesonInfo):
            value = meson.cython_directives.get(CYTHON_DIRECTIVE)
        elif source.language is Language.CMAKE:
            value = None
        else:
            return None
        directive = _directive_value(value)
        return CythonSubinterpreterBuild(directive, mentions) if directive or mentions else None

    def check_project(self, project: ProjectContext) -> None:
        builds = [(folder_of(path), s) for path, s in project.summaries.items()
                  if isinstance(s, CythonSubinterpreterBuild)]
        for path, summary in sorted(project.summaries.items()):
            if not isinstance(summary, PyxSubinterpreters):
                continue
            governing = [s for folder, s in builds if governs(folder, path)]
            directive = summary.directive or next((s.directive for s in governing if s.directive), None)
            if directive not in _CYTHON_CLAIMS:
                continue
            if summary.module_state or any(s.module_state for s in governing):
                continue
            line = summary.line if summary.directive else 1
            project.report(
                path, Position(line, 1), Position(line, max(2, summary.width + 1)),
                f"Cython module `{PurePosixPath(path).name}` asks for `{CYTHON_DIRECTIVE}={directive}`, but "
                f"nothing defines `{CYTHON_MODULE_STATE}`: Cython then writes no `{SLOT}` slot and keeps its "
                "one-interpreter check, so every sub-interpreter still refuses the module",
                subject=summary.module)


# `CYTHON_USE_MODULE_STATE` defined to something other than 0: `=1`, `', '1'`, `": 1` or no value at all
# (`-UCYTHON_USE_MODULE_STATE` undefines it).
_MODULE_STATE_ON = re.compile(r"(?<!-U)" + CYTHON_MODULE_STATE + r"""\b(?!['"]?\s*[,=:]\s*['"]?0\b)""")
_DISTUTILS_LINE = re.compile(r"^#\s*distutils\s*:\s*define_macros\s*=(.*)$", re.MULTILINE)


def _defines_module_state(text: str, pyx: bool) -> bool:
    """Whether the file defines ``CYTHON_USE_MODULE_STATE`` (to anything but 0): in a `.pyx` its
    `# distutils: define_macros=` header; in a build file, any spelling outside a `#` comment."""
    if CYTHON_MODULE_STATE not in text:
        return False
    if pyx:
        return any(_MODULE_STATE_ON.search(m.group(1)) for m in _DISTUTILS_LINE.finditer(text))
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return bool(_MODULE_STATE_ON.search(code))


def _directive_value(value: object) -> str | None:
    if value is None:
        return None
    words = str(value).split()  # `own_gil  # why`: a comment may follow the value
    text = words[0].strip("'\"").lower() if words else ""
    return text or None
