"""FT1xx for C: does each extension module declare whether it needs the GIL, and does it say so safely?

On a free-threaded CPython, importing a module that has not declared GIL independence turns the GIL
back on for the whole process. The source model finds module definitions, slot arrays (with the
preprocessor guards of each entry) and PyInit_* functions; these rules only decide.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ftaudit.analysis.extension_state import (
    BUILD_LANGUAGES,
    ExtensionState,
    LinkedSources,
    RacyState,
    build_summary,
    named,
    racy_globals,
)
from ftaudit.cmodel import CUnit, Tri
from ftaudit.cmodel.module_defs import module_phrase
from ftaudit.compat_edits import needs_guard
from ftaudit.context import FileContext, ProjectContext
from ftaudit.facts.declarations import SET_GIL_GUARD, SLOT_GUARD
from ftaudit.findings import Applicability, Edit, Fix, Position, Severity
from ftaudit.readiness import Readiness
from ftaudit.rule import Example, Rule
from ftaudit.source import Language
from ftaudit.summaries import summary_type
from ftaudit.target import FREE_THREADED, Target

C_LANGUAGES = frozenset({Language.C, Language.CPP})
HOWTO = "https://docs.python.org/3/howto/free-threading-extensions.html"
MODULE_DOCS = "https://docs.python.org/3/c-api/module.html#c.Py_mod_gil"
SETGIL_DOCS = "https://docs.python.org/3/c-api/module.html#c.PyUnstable_Module_SetGIL"


def multi_phase_defs(unit: CUnit) -> list:
    """Module definitions created through PyModuleDef_Init (a non-NULL m_slots means the same)."""
    multi = {init.module_def.name for init in unit.module_inits if init.kind == "multi" and init.module_def}
    return [d for d in unit.module_defs
            if d.name in multi or (d.slots_name not in (None, "NULL", "0") and d.slots is not None)]


def gil_entries(module_def, target: Target) -> tuple[list, list]:
    """Py_mod_gil entries of a module's slots: (compiled for target or maybe, not compiled)."""
    entries = module_def.slots.find("Py_mod_gil") if module_def.slots else []
    live = [e for e in entries if e.compiled(target) is not Tri.NO]
    return live, [e for e in entries if e not in live]


def _line_start(ctx: FileContext, offset: int) -> int:
    """Where the line holding ``offset`` starts, counted as the analysis counts lines (a lone CR ends one)."""
    return ctx.source.line_starts[ctx.source.line_of(offset) - 1]


def _indent_of(ctx: FileContext, offset: int) -> str:
    start = _line_start(ctx, offset)
    line = ctx.source.data[start:offset].decode("utf-8", "replace")
    return line[: len(line) - len(line.lstrip())]


def _insert_before_line(ctx: FileContext, offset: int, lines: list[str]) -> Edit:
    start = _line_start(ctx, offset)
    position = ctx.source.position(start)
    return Edit("".join(line + "\n" for line in lines), position, position)


def _slot_fix(ctx: FileContext, module_def) -> Fix | None:
    sentinel = module_def.slots.sentinel if module_def.slots is not None else None
    if sentinel is None:
        return None
    # Guard unless the project is known to need 3.13+: a needless guard costs nothing, a missing one
    # breaks older builds.
    guarded = needs_guard(ctx, (3, 13))
    slot = "{Py_mod_gil, Py_MOD_GIL_NOT_USED},"
    line_start = _line_start(ctx, sentinel.start_byte)
    if ctx.source.data[line_start:sentinel.start_byte].strip():
        # `{{Py_mod_exec, f}, {0, NULL}};` on one line: insert just before the sentinel, the guard's
        # directives on lines of their own (a directive must start its line).
        at = ctx.source.position(sentinel.start_byte)
        content = f"\n{SLOT_GUARD}\n{slot}\n#endif\n" if guarded else f"{slot} "
        return Fix(Applicability.UNSAFE, "Declare that the module does not need the GIL", (Edit(content, at, at),))
    body = [f"{_indent_of(ctx, sentinel.start_byte)}{slot}"]
    if guarded:
        body = [SLOT_GUARD, *body, "#endif"]
    return Fix(Applicability.UNSAFE, "Declare that the module does not need the GIL",
               (_insert_before_line(ctx, sentinel.start_byte, body),))


@summary_type
@dataclass(frozen=True)
class PendingReport:
    """A missing declaration found in a file, reported by the project pass once the extension's racy
    state says whether its edit may be applied."""

    start: Position
    end: Position
    message: str
    help: str | None
    fix: Fix | None
    subject: str  # the module


@summary_type
@dataclass(frozen=True)
class PendingState(RacyState):
    """A C file's racy state and its pending reports (none on builds with the GIL)."""

    pending: tuple[PendingReport, ...]


class _DeclarationRule(Rule):
    """FT101/FT102: a module that does not declare GIL independence, with an edit that declares it.

    Project-level so that the edit is only offered when the extension has no racy global state: adding
    `Py_MOD_GIL_NOT_USED` to racy code would be a promise the code breaks (FT108 on the rescan). Each C
    file summarises its pending reports and its racy state; build files say which files are linked."""

    project_level = True
    languages = C_LANGUAGES | BUILD_LANGUAGES
    readiness = Readiness.NEEDS_DECLARATION
    applies_to = FREE_THREADED  # with the GIL an undeclared module imports as it always did

    def pending(self, ctx: FileContext) -> list[PendingReport | None]:
        """This file's reports (``entry``'s answers)."""
        raise NotImplementedError

    def entry(self, ctx: FileContext, anchor: Any, message: str, fix: Fix | None, subject: str,
              help_text: str | None = None) -> PendingReport | None:
        """A report for the project pass, or None in code the target does not compile (the project pass
        cannot ask the preprocessor, so such reports are dropped here, as ``ctx.report`` would)."""
        if not ctx.compiled(anchor):
            return None
        start, end = ctx.span(anchor)
        ctx.keep_lines(start.line, end.line)
        return PendingReport(start, end, message, help_text, fix, subject)

    def summarize(self, ctx: FileContext) -> PendingState | LinkedSources | None:
        if ctx.source.language not in C_LANGUAGES:
            return build_summary(ctx)
        if ctx.c_unit is None:
            return None
        return PendingState(*racy_globals(ctx), pending=tuple(r for r in self.pending(ctx) if r is not None))

    def check_project(self, project: ProjectContext) -> None:
        state = ExtensionState(project)
        for path, summary in sorted(project.summaries.items()):
            if not isinstance(summary, PendingState) or not summary.pending:
                continue
            racy = state.racy(path)
            for report in summary.pending:
                message, fix, help_text = report.message, report.fix, report.help
                if racy and fix is not None:
                    # Shown, never applied: the declaration is only true once these are protected.
                    fix = Fix(Applicability.DISPLAY_ONLY, fix.message + " (once the listed state is thread-safe)",
                              fix.edits)
                    message += f"; first make its racy global state thread-safe: {named(racy, here=path)}"
                    help_text = ("Protect the listed globals (atomics, a PyMutex, initialisation in the exec "
                                 "function, module state), then declare the module GIL-free.")
                project.report(path, report.start, report.end, message, help=help_text, fix=fix,
                               subject=report.subject)


class MissingGilSlot(_DeclarationRule):
    reads_generated = True
    code = "FT101"
    slug = "missing-gil-slot"
    summary = "Multi-phase module does not declare `Py_mod_gil`"
    severity = Severity.WARNING
    languages = C_LANGUAGES
    fixable = True
    what = (
        "Finds multi-phase extension modules (a `PyModuleDef` whose `m_slots` array is used through "
        "`PyModuleDef_Init`) with no `Py_mod_gil` slot compiled for the target. Preprocessor guards are "
        "evaluated: a slot inside `#if PY_VERSION_HEX >= 0x030D0000` or `#ifdef Py_mod_gil` counts; one "
        "under a condition that is false for the target does not. An explicit `Py_MOD_GIL_USED` is a "
        "deliberate choice and is reported by FT109 instead."
    )
    why = (
        "On a free-threaded CPython (3.13t and newer), importing a module that does not declare "
        "`Py_MOD_GIL_NOT_USED` re-enables the GIL for the whole process and prints a RuntimeWarning, so "
        "every other thread loses its parallelism because of this one import."
    )
    instead = (
        "Once the module is thread-safe (see FT2xx), add `{Py_mod_gil, Py_MOD_GIL_NOT_USED}` to the slot "
        "array before the `{0, NULL}` sentinel. `Py_mod_gil` exists since CPython 3.13; if the project "
        f"still supports older versions, guard it with `{SLOT_GUARD}` … `#endif`. pythoncapi_compat.h "
        "does not backport it."
    )
    suggestion = (f"Add `{{Py_mod_gil, Py_MOD_GIL_NOT_USED}}` (3.13+, under `{SLOT_GUARD}`) once the module is "
                  "thread-safe.")
    fix_safety = (
        "Unsafe: the declaration is a promise. It is only true once the module's global state is "
        "protected; adding it to racy code turns a slow import into data races (FT108 checks this)."
    )
    references = (HOWTO, MODULE_DOCS, "https://peps.python.org/pep-0703/")
    tags = ("free-threading", "module-declaration")
    bad = (
        Example(
            "static PyModuleDef_Slot slots[] = {  // <- FT101\n"
            "    {Py_mod_exec, module_exec},\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_slots = slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
            fixed="""
            static PyModuleDef_Slot slots[] = {  // <- FT101
                {Py_mod_exec, module_exec},
            #if PY_VERSION_HEX >= 0x030D0000
                {Py_mod_gil, Py_MOD_GIL_NOT_USED},
            #endif
                {0, NULL},
            };
            static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = "m", .m_slots = slots};
            PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }
            """,
        ),
        Example(
            "static PyModuleDef_Slot slots[] = {  // <- FT101\n"
            "    {Py_mod_exec, module_exec},\n"
            "#if PY_VERSION_HEX >= 0x030F0000\n"
            "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n"
            "#endif\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, \"m\", NULL, 0, NULL, slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
            target="3.14t", title="The slot is only compiled for 3.15, not for the 3.14t target",
        ),
    )
    good = (
        Example(
            "static PyModuleDef_Slot slots[] = {\n"
            "    {Py_mod_exec, module_exec},\n"
            "#if PY_VERSION_HEX >= 0x030D0000\n"
            "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n"
            "#endif\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_slots = slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
        ),
        Example(
            "/* A helper file of the extension: no module definition, nothing to declare. */\n"
            "int add(int a, int b) { return a + b; }\n",
        ),
    )

    def pending(self, ctx: FileContext) -> list[PendingReport | None]:
        unit = ctx.c_unit
        assert unit is not None
        found: list[PendingReport | None] = []
        for module_def in multi_phase_defs(unit):
            live, dead = gil_entries(module_def, ctx.target)
            if live:
                continue
            name = unit.module_name(module_def).subject
            why_dead = ""
            if dead:
                why_dead = (f" (the one at line {dead[0].line} is not compiled for {ctx.target.label}: "
                            f"{' && '.join(g.condition for g in dead[0].guards) or 'excluded'})")
            declared = module_def.slots if module_def.slots is not None else module_def
            anchor = declared.name_node or declared.node
            # With a slot already present under the wrong guard, a second one would be a duplicate slot
            # (CPython refuses the module): the fix is to change that guard, which is not mechanical.
            fix = None if dead else _slot_fix(ctx, module_def)
            help_text = (f"Compile the existing slot at line {dead[0].line} for {ctx.target.label}: guard it with "
                         f"`{SLOT_GUARD}`." if dead else None)
            found.append(self.entry(
                ctx, anchor,
                f"{module_phrase(name)} does not declare `Py_mod_gil`{why_dead}: importing it re-enables the GIL "
                f"on free-threaded {ctx.target.label}",
                fix, name, help_text))
        return found


class ModuleRequiresGil(Rule):
    reads_generated = True
    code = "FT109"
    applies_to = FREE_THREADED  # a build with the GIL always holds it: requiring it changes nothing there
    slug = "module-requires-gil"
    summary = "Module explicitly declares that it needs the GIL"
    severity = Severity.NOTE
    languages = C_LANGUAGES
    readiness = Readiness.REQUIRES_GIL
    what = (
        "Reports modules that declare `Py_MOD_GIL_USED` (a `Py_mod_gil` slot or "
        "`PyUnstable_Module_SetGIL(m, Py_MOD_GIL_USED)`). That is a deliberate choice, not an omission, "
        "so it is a note and never FT101/FT102."
    )
    why = (
        "Importing such a module re-enables the GIL for the whole process on a free-threaded build. "
        "The note keeps the decision visible so it can be revisited when the module becomes thread-safe."
    )
    instead = (
        "Keep it while the module relies on the GIL; switch to `Py_MOD_GIL_NOT_USED` once its global "
        "state is protected (FT2xx finds what needs protecting)."
    )
    suggestion = "Switch to `Py_MOD_GIL_NOT_USED` once the module no longer relies on the GIL."
    references = (HOWTO, MODULE_DOCS)
    tags = ("free-threading", "module-declaration")
    bad = (
        Example(
            "static PyModuleDef_Slot slots[] = {\n"
            "    {Py_mod_gil, Py_MOD_GIL_USED},  // <- FT109\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_slots = slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
        ),
    )
    good = (
        Example(
            "static PyModuleDef_Slot slots[] = {\n"
            "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_slots = slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
        ),
    )

    def check(self, ctx: FileContext) -> None:
        unit = ctx.c_unit
        if unit is None:
            return
        for module_def in multi_phase_defs(unit):
            for entry in gil_entries(module_def, ctx.target)[0]:
                if entry.value == "Py_MOD_GIL_USED":
                    name = unit.module_name(module_def).subject
                    ctx.report(entry.node, f"{module_phrase(name)} declares "
                               "`Py_MOD_GIL_USED`: importing it keeps the GIL enabled on free-threaded builds",
                               subject=name)
        for init in unit.module_inits:
            for call in init.set_gil_calls:
                compiled = unit.compiled(call.node, ctx.target) is not Tri.NO
                if compiled and _set_gil_value(unit, call) == "Py_MOD_GIL_USED":
                    ctx.report(call.node, f"Module `{init.module_name}` calls PyUnstable_Module_SetGIL with "
                               "`Py_MOD_GIL_USED`: importing it keeps the GIL enabled on free-threaded builds",
                               subject=init.module_name)


def _set_gil_value(unit: CUnit, call) -> str:
    return unit.text(call.args[1]).strip() if len(call.args) >= 2 else ""


def _statement_of(node):
    while node is not None and node.type not in ("expression_statement", "declaration", "return_statement"):
        node = node.parent
    return node


def _set_gil_fix(ctx: FileContext, init) -> Fix | None:
    """Insert the SetGIL call after the creating statement and its NULL check, if there is one."""
    unit = ctx.c_unit
    assert unit is not None
    statement = _statement_of(init.create_call.node) if init.create_call else None
    if statement is None or statement.type == "return_statement" or not init.module_var:
        return None
    anchor = statement
    following = statement.next_named_sibling
    while following is not None and following.type == "comment":  # `PyModule_Create(&def);  // note`
        following = following.next_named_sibling
    if following is not None and following.type == "if_statement":
        condition = unit.text(following.child_by_field_name("condition") or following)
        if init.module_var in condition and ("NULL" in condition or "!" in condition):
            anchor = following
    starts = ctx.source.line_starts
    line = ctx.source.line_of(anchor.end_byte)  # the next line starts after this one's ending
    insert_at = starts[line] if line < len(starts) else len(ctx.source.data)
    indent = _indent_of(ctx, statement.start_byte)
    call = f"{indent}PyUnstable_Module_SetGIL({init.module_var}, Py_MOD_GIL_NOT_USED);"
    position = ctx.source.position(insert_at)
    return Fix(Applicability.UNSAFE, "Declare that the module does not need the GIL",
               (Edit(f"{SET_GIL_GUARD}\n{call}\n#endif\n", position, position),))


class MissingSetGil(_DeclarationRule):
    reads_generated = True
    code = "FT102"
    slug = "missing-set-gil"
    summary = "Single-phase module never calls `PyUnstable_Module_SetGIL`"
    severity = Severity.WARNING
    languages = C_LANGUAGES
    fixable = True
    what = (
        "Finds single-phase extension modules — a `PyInit_*` that creates its module with "
        "`PyModule_Create`/`PyModule_Create2` — that never call "
        "`PyUnstable_Module_SetGIL(module, Py_MOD_GIL_NOT_USED)` in code compiled for the target."
    )
    why = (
        "Single-phase modules have no slots, so the only way to declare GIL independence is this call. "
        "Without it, importing the module on a free-threaded CPython re-enables the GIL for the process."
    )
    instead = (
        "Once the module is thread-safe, call `PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED)` right "
        f"after the module is created, inside `{SET_GIL_GUARD}` … `#endif`: the function is only declared "
        "in free-threaded builds (CPython 3.13+). Not backported by pythoncapi_compat.h. Converting the "
        "module to multi-phase initialisation (`PyModuleDef_Init` + a `Py_mod_gil` slot) is the longer-term fix."
    )
    suggestion = (f"Call `PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED)` under `{SET_GIL_GUARD}` after creating "
                  "the module.")
    fix_safety = "Unsafe: the declaration is only true once the module's global state is protected."
    references = (HOWTO, SETGIL_DOCS)
    tags = ("free-threading", "module-declaration")
    bad = (
        Example(
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, \"m\", NULL, -1, methods};\n"
            "PyMODINIT_FUNC\n"
            "PyInit_m(void)\n"
            "{\n"
            "    PyObject *m = PyModule_Create(&mod);  // <- FT102\n"
            "    if (m == NULL) {\n"
            "        return NULL;\n"
            "    }\n"
            "    return m;\n"
            "}\n",
            fixed="""
            static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "m", NULL, -1, methods};
            PyMODINIT_FUNC
            PyInit_m(void)
            {
                PyObject *m = PyModule_Create(&mod);  // <- FT102
                if (m == NULL) {
                    return NULL;
                }
            #ifdef Py_GIL_DISABLED
                PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
            #endif
                return m;
            }
            """,
        ),
    )
    good = (
        Example(
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, \"m\", NULL, -1, methods};\n"
            "PyMODINIT_FUNC\n"
            "PyInit_m(void)\n"
            "{\n"
            "    PyObject *m = PyModule_Create(&mod);\n"
            "    if (m == NULL) {\n"
            "        return NULL;\n"
            "    }\n"
            "#ifdef Py_GIL_DISABLED\n"
            "    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);\n"
            "#endif\n"
            "    return m;\n"
            "}\n",
        ),
    )

    def pending(self, ctx: FileContext) -> list[PendingReport | None]:
        unit = ctx.c_unit
        assert unit is not None
        found: list[PendingReport | None] = []
        for init in unit.module_inits:
            if init.kind != "single" or init.create_call is None:
                continue
            declared = [c for c in init.set_gil_calls if unit.compiled(c.node, ctx.target) is not Tri.NO]
            if declared:
                continue
            found.append(self.entry(
                ctx, init.create_call.node,
                f"Single-phase module `{init.module_name}` never calls PyUnstable_Module_SetGIL: importing it "
                f"re-enables the GIL on free-threaded {ctx.target.label}",
                _set_gil_fix(ctx, init), init.module_name))
        return found


class UnguardedGilDeclaration(Rule):
    reads_generated = True
    code = "FT103"
    readiness = Readiness.NEEDS_DECLARATION
    slug = "unguarded-gil-declaration"
    summary = "GIL declaration not guarded for CPython builds that lack it"
    severity = Severity.WARNING
    languages = C_LANGUAGES
    what = (
        "Reports a `Py_mod_gil` slot that is compiled for CPython versions older than 3.13 while the "
        "project still supports them (from `requires-python`), and a `PyUnstable_Module_SetGIL` call "
        "that is compiled in builds with the GIL. The guards are evaluated, not pattern-matched: "
        "`#if PY_VERSION_HEX >= 0x030D0000`, `#ifdef Py_mod_gil` and `#ifdef Py_GIL_DISABLED` all count."
    )
    why = (
        "`Py_mod_gil` does not exist before 3.13, so an unguarded slot breaks the build on older "
        "Pythons. `PyUnstable_Module_SetGIL` is declared only when `Py_GIL_DISABLED` is defined (CPython's "
        "`modsupport.h`), so an unguarded call breaks every default (GIL) build, 3.13 and newer included — "
        "that half of the rule applies whatever the project's minimum version is."
    )
    instead = (
        f"Wrap the slot in `{SLOT_GUARD}` … `#endif` and the call in `{SET_GIL_GUARD}` … `#endif`, as "
        "the free-threading HOWTO shows."
    )
    suggestion = "Add the version or build guard the HOWTO shows."
    references = (HOWTO, SETGIL_DOCS)
    tags = ("free-threading", "portability")
    bad = (
        Example(
            "static PyModuleDef_Slot slots[] = {\n"
            "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},  // <- FT103\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_slots = slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
            files={"pyproject.toml": "[project]\nname = 'm'\nrequires-python = '>=3.9'\n"},
        ),
        Example(
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, \"m\", NULL, -1, NULL};\n"
            "PyMODINIT_FUNC PyInit_m(void) {\n"
            "    PyObject *m = PyModule_Create(&mod);\n"
            "    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);  // <- FT103\n"
            "    return m;\n"
            "}\n",
            files={"pyproject.toml": "[project]\nname = 'm'\nrequires-python = '>=3.13'\n"},
            title="Even with a 3.13 minimum: GIL builds do not declare the function",
        ),
    )
    good = (
        Example(
            "static PyModuleDef_Slot slots[] = {\n"
            "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_slots = slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
            files={"pyproject.toml": "[project]\nname = 'm'\nrequires-python = '>=3.13'\n"},
            title="A project that needs 3.13 anyway needs no slot guard",
        ),
        Example(
            "static PyModuleDef_Slot slots[] = {\n"
            "#ifdef Py_mod_gil\n"
            "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n"
            "#endif\n"
            "    {0, NULL},\n"
            "};\n"
            "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_slots = slots};\n"
            "PyMODINIT_FUNC PyInit_m(void) { return PyModuleDef_Init(&mod); }\n",
            files={"pyproject.toml": "[project]\nname = 'm'\nrequires-python = '>=3.9'\n"},
        ),
    )

    def check(self, ctx: FileContext) -> None:
        unit = ctx.c_unit
        if unit is None:
            return
        target = ctx.target
        if target.supports_older_than((3, 13)):
            oldest = replace(target, version=min(target.minimum or target.version, (3, 12)), free_threaded=False)
            for module_def in unit.module_defs:
                if module_def.slots is None:
                    continue
                for entry in module_def.slots.find("Py_mod_gil"):
                    if entry.compiled(oldest) is Tri.YES:
                        ctx.report(entry.node, f"`Py_mod_gil` is compiled for CPython {oldest.label}, which does "
                                   f"not define it (the project supports {_minimum_label(target)})",
                                   help=f"Wrap the slot in `{SLOT_GUARD}` … `#endif`.",
                                   subject=unit.module_name(module_def).subject)
        gil_build = Target(version=max(target.minimum or target.version, (3, 13)), free_threaded=False)
        for call in unit.set_gil_calls:
            if unit.compiled(call.node, gil_build) is Tri.YES:
                module = next((i.module_name for i in unit.module_inits if call in i.set_gil_calls), "")
                ctx.report(call.node, "`PyUnstable_Module_SetGIL` is called in builds with the GIL, where it is "
                           "not declared", help=f"Wrap the call in `{SET_GIL_GUARD}` … `#endif`.", subject=module)


def _whole_line(ctx: FileContext, line: int) -> tuple[Position, Position]:
    return Position(line, 1), Position(line, len(ctx.source.line_text(line)) + 1)


def _minimum_label(target: Target) -> str:
    version = target.minimum or target.version
    return f"{version[0]}.{version[1]}+"


class Pybind11MissingModGilNotUsed(Rule):
    code = "FT105"
    applies_to = FREE_THREADED  # with the GIL the module runs under it: nothing to declare
    readiness = Readiness.NEEDS_DECLARATION
    slug = "pybind11-missing-mod-gil-not-used"
    summary = "pybind11 module does not declare `py::mod_gil_not_used()`"
    severity = Severity.WARNING
    languages = frozenset({Language.CPP, Language.C})
    what = (
        "Finds `PYBIND11_MODULE(name, m)` definitions without `py::mod_gil_not_used()` among the macro's "
        "arguments (any namespace spelling: `py::`, `pybind11::`, unqualified) and without a call such as "
        "`m.set_gil_not_used()` on the module in its body."
    )
    why = "pybind11 modules are multi-phase modules like any other: undeclared, they re-enable the GIL on import."
    instead = (
        "Once the bindings are thread-safe, write `PYBIND11_MODULE(name, m, py::mod_gil_not_used())` "
        "(pybind11 2.13+)."
    )
    suggestion = "Add `py::mod_gil_not_used()` to `PYBIND11_MODULE` (pybind11 2.13+)."
    references = ("https://pybind11.readthedocs.io/en/stable/advanced/misc.html#free-threading-support", HOWTO)
    tags = ("free-threading", "module-declaration", "pybind11")
    bad = (Example("#include <pybind11/pybind11.h>\nnamespace py = pybind11;\n"
                   "int add(int a, int b) { return a + b; }\n"
                   "PYBIND11_MODULE(example, m) {  // <- FT105\n    m.def(\"add\", &add);\n}\n"),)
    good = (
        Example("#include <pybind11/pybind11.h>\nnamespace py = pybind11;\n"
                "int add(int a, int b) { return a + b; }\n"
                "PYBIND11_MODULE(example, m, py::mod_gil_not_used()) {\n    m.def(\"add\", &add);\n}\n"),
        Example("#include <pybind11/pybind11.h>\n"
                "PYBIND11_MODULE(example, m, pybind11::mod_gil_not_used(), pybind11::multiple_interpreters::"
                "per_interpreter_gil()) {\n}\n"),
    )

    def check(self, ctx: FileContext) -> None:
        unit = ctx.c_unit
        if unit is None:
            return
        for module in unit.binding_modules:
            if module.kind != "pybind11":
                continue
            if any("mod_gil_not_used" in arg.replace(" ", "") for arg in module.args):
                continue
            if any("gil_not_used" in call.name for call in module.method_calls):
                continue
            anchor = module.node if module.node is not None else _whole_line(ctx, module.line)
            ctx.report(anchor, f"pybind11 module `{module.name}` does not declare `py::mod_gil_not_used()`: "
                       f"importing it re-enables the GIL on free-threaded {ctx.target.label}", subject=module.name)
