"""FT401–FT406: struct fields and functions that CPython 3.10–3.15 made private, changed or removed.

Matching is done once per file by ``ftaudit.analysis.capi_uses`` against the catalogue in
``ftaudit.facts.capi``; these rules decide severity (removed in a version the project builds
for → error; scheduled, private or type not visible → lower) and write the message, the help and,
where an edit is mechanical, the fix.
"""

from __future__ import annotations

import re

from ftaudit.analysis.capi_uses import Use, freshly_allocated, internal_includes, uses_internals
from ftaudit.analysis.reachability import init_only
from ftaudit.candidate import Candidate
from ftaudit.cmodel import CUnit, Tri
from ftaudit.cmodel.nodes import text
from ftaudit.cmodel.preprocess import project_macros
from ftaudit.compat_edits import replace_span
from ftaudit.context import FileContext
from ftaudit.facts import capi_names
from ftaudit.facts.capi import CATALOGUE, INTERNAL_FIELDS, LOCALS_WRITES, CApi, fmt, markdown_table
from ftaudit.findings import Applicability, Fix, Severity
from ftaudit.rule import Example, Rule
from ftaudit.source import Language

C_LANGUAGES = frozenset({Language.C, Language.CPP})
WHATSNEW_311 = "https://docs.python.org/3/whatsnew/3.11.html#c-api-changes"
WHATSNEW_313 = "https://docs.python.org/3/whatsnew/3.13.html#c-api-changes"
COMPAT = "https://pythoncapi-compat.readthedocs.io/"
FRAME_DOCS = "https://docs.python.org/3/c-api/frame.html"
_UNKNOWN_TYPE = ("name", "fieldname")
_LOWER = {Severity.ERROR: Severity.WARNING, Severity.WARNING: Severity.NOTE, Severity.NOTE: Severity.NOTE}


def lower(severity: Severity) -> Severity:
    return _LOWER[severity]


def version_severity(use: Use) -> Severity:
    """Error when the name is gone (or a no-op) in a version this code is built for, else warning."""
    return Severity.ERROR if use.broken else Severity.WARNING


def compiled_note(use: Use, ctx: FileContext) -> str:
    """`` (compiled here for 3.11–3.12)`` when the code is guarded away from the target itself."""
    if not use.versions or ctx.target.version in use.versions or not use.broken:
        return ""
    first, last = use.versions[0], use.versions[-1]
    span = fmt(first) if first == last else f"{fmt(first)}–{fmt(last)}"
    return f" (this code is compiled for {span})"


def subject(use: Use, ctx: FileContext) -> str:
    """How the finding names what was written: ``frame->f_code``, ``PyFrame_FastToLocals()``."""
    unit = ctx.c_unit
    assert unit is not None
    api = use.api
    if api.kind == "field" and use.node is not None:
        return f"`{' '.join(unit.text(use.node).split())}`"
    if api.kind == "lvalue":
        return f"assignment through `{api.name}()`"
    return f"`{api.name}`"


def evidence_note(use: Use) -> str:
    if use.evidence == "name":
        return " (the object's type is not visible here; its name suggests a " + use.api.owner + ")"
    if use.evidence == "fieldname" and use.api.kind == "field" and use.api.owner != "PyObject":
        return " (the object's type is not visible here; the field name is specific to " + use.api.owner + ")"
    return ""


COMPAT_FIX_NOTE = (
    "When the project supports a version without the accessor (`requires-python` below it, or none), the edit "
    "keeps the old lines under `#else` of a `#if PY_VERSION_HEX >= …` guard (or, when the file includes "
    "pythoncapi_compat.h, relies on its backport), so every supported version still builds.")


def versioned_fix(ctx: FileContext, api: CApi, node, replacement: str, *, unsafe: bool = False) -> Fix | None:
    """Replace ``node`` with ``replacement`` so the file still builds on every supported version: in place,
    through pythoncapi_compat.h, or with the old lines kept under `#else` (`ftaudit.compat_edits`).
    Safe unless ``unsafe`` (a change of meaning): the old code stays where the new API is missing."""
    edit = replace_span(ctx, node.start_byte, node.end_byte, replacement, api.since, api.compat)
    if edit is None:
        return None
    return Fix(Applicability.UNSAFE if unsafe else Applicability.SAFE,
               f"Replace with `{replacement}`{edit.note(api.since)}", edit.edits)


def read_fix(ctx: FileContext, use: Use) -> Fix | None:
    """``obj->f_lineno`` -> ``PyFrame_GetLineNumber(obj)`` for plain reads through ``->``."""
    api, node, obj = use.api, use.node, use.obj
    if not api.rewrite or use.write or node is None or obj is None or use.macro is not None:
        return None
    if text(node.child_by_field_name("operator")) != "->":
        return None
    parent = node.parent
    if parent is not None and parent.type == "pointer_expression" and text(
            parent.child_by_field_name("operator")) == "&":
        return None
    unit = ctx.c_unit
    assert unit is not None
    replacement = api.rewrite.format(obj=unit.text(obj))
    return versioned_fix(ctx, api, node, replacement)


def setter_fix(ctx: FileContext, use: Use, setter: str, target_node, value_node, api: CApi) -> Fix | None:
    """``Py_TYPE(o) = t;`` / ``o->ob_type = t;`` -> ``Py_SET_TYPE(o, t);`` when it is a whole statement."""
    assignment = use.node
    if assignment is None or assignment.type != "assignment_expression" or use.macro is not None:
        return None
    if text(assignment.child_by_field_name("operator")) != "=" or assignment.parent is None:
        return None
    if assignment.parent.type != "expression_statement" or target_node is None or value_node is None:
        return None
    unit = ctx.c_unit
    assert unit is not None
    replacement = f"{setter}({unit.text(target_node)}, {unit.text(value_node)})"
    return versioned_fix(ctx, api, assignment, replacement)


# Private fields that still exist, names only scheduled for removal after the target, deprecated names
# that still work: they compile and behave on the target, so they are not findings (measured on the
# ecosystem check: 15 of 18 FT402 and 19 of 21 FT406 false positives were such names).
_STILL_THERE = frozenset({"private", "pending", "deprecated"})


_PRIVATE_NAME = re.compile(rb"(?<![\w.>])_Py[A-Za-z0-9_]+")
_PRIVATE_DEFINE = re.compile(r"^\s*_Py\w*")

class _CApiRule(Rule):
    """Reports the catalogue uses of one rule code."""

    languages = C_LANGUAGES
    # The use analysis decides itself which guarded code counts: a branch compiled only for older CPythons
    # the project still supports is reported when the API is gone there too (`frame->f_code` under
    # `#if PY_VERSION_HEX < 0x030C0000` breaks the 3.11 build).
    reports_uncompiled = True

    def check(self, ctx: FileContext) -> None:
        unit = ctx.c_unit
        if unit is None:
            return
        for use in ctx.analyses.capi_uses:
            if use.api.rule != self.code:
                continue
            if not use.broken and use.api.status in _STILL_THERE:
                continue  # declared and working on every targeted version: fragile, not broken
            if not use.broken and use.versions and use.api.status == "removed":
                continue  # compiled only for versions that still have it: guarded compatibility code
            decided = self.decide(use, ctx)
            if decided is not None:
                ctx.report_candidate(decided)

    def decide(self, use: Use, ctx: FileContext) -> Candidate | None:
        severity = version_severity(use)
        if use.evidence in _UNKNOWN_TYPE and use.api.kind == "field":
            severity = lower(severity)
        where = " in a macro body" if use.macro is not None else ""
        message = (f"{subject(use, ctx)}{where} {use.api.change()}{compiled_note(use, ctx)}: "
                   f"{use.api.reason}{evidence_note(use)}")
        if use.api.kind == "field" and ctx.c_unit is not None and uses_internals(ctx.c_unit):
            severity = Severity.NOTE
            message += (" (this file builds against CPython's internal headers, where the field may exist; such "
                        "code must be revisited for every CPython release)")
        help_text = use.api.advice()[0].upper() + use.api.advice()[1:] + "."
        return Candidate(use.anchor, message, help_text, severity, read_fix(ctx, use))


def _may_write_locals(unit: CUnit, name: str) -> bool:
    """The function, or a same-file function it calls (two levels), writes into a mapping or runs code."""
    seen, todo = set(), [name]
    for _ in range(3):
        following: list[str] = []
        for current in todo:
            function = unit.functions.get(current)
            if current in seen or function is None:
                continue
            seen.add(current)
            if any(call.name in LOCALS_WRITES for call in function.calls):
                return True
            following.extend(unit.callees(current))
        todo = following
    return False


class FrameFieldAccess(_CApiRule):
    code = "FT401"
    slug = "frame-field-access"
    summary = "`PyFrameObject` field access or a frame function removed or emptied since 3.11"
    severity = Severity.ERROR
    fixable = True
    what = (
        "Finds reads and writes of `PyFrameObject` fields (`f_code`, `f_back`, `f_lineno`, `f_lasti`, `f_locals`, "
        "`f_globals`, `f_builtins`, `f_gen`, `f_trace`, `f_valuestack`, `f_localsplus`, `f_iblock`, "
        "`f_blockstack`, …) and calls of `PyFrame_FastToLocals[WithError]`, `PyFrame_LocalsToFast`, "
        "`PyFrame_BlockSetup` and `PyFrame_BlockPop`, in functions and in same-file macro bodies. The object's "
        "type comes from its declaration, a cast, or the API that returned it (`PyEval_GetFrame()->f_back`): "
        "`->f_back` on a `struct node *` is not a finding. When the type cannot be seen (a macro parameter), a "
        "frame-like name (`f`, `frame`, `pyframe`) or a field name no other struct uses is accepted as evidence "
        "and the severity drops to warning. Code compiled only for Pythons before the change "
        "(`#if PY_VERSION_HEX < 0x030B0000`) is the compatibility pattern and is not reported; with "
        "`requires-python`, code built for any version from 3.11 to the target is."
    )
    why = (
        "Python 3.11 made `PyFrameObject` opaque: the interpreter's frames are `_PyInterpreterFrame`s and the "
        "frame object is created lazily, so the fields do not exist and the code does not compile. Since 3.13 "
        "(PEP 667) `PyFrame_FastToLocals*` and `PyFrame_LocalsToFast` do nothing, so tracers and debuggers that "
        "write locals through them silently stop working."
    )
    instead = (
        "Use the accessor functions. Most of them return a **strong reference** that must be released with "
        "`Py_DECREF` (that is why the edit is not offered automatically), and pythoncapi_compat.h backports them "
        "to older versions:\n\n" + markdown_table(["FT401"])
    )
    suggestion = ("Use the `PyFrame_Get*` accessors (3.9–3.12; backported by pythoncapi_compat.h) and release what "
                  "they return.")
    fix_safety = ("Only `frame->f_lineno` → `PyFrame_GetLineNumber(frame)` is offered (same type, no reference to "
                  "release); it is safe. " + COMPAT_FIX_NOTE)
    references = (WHATSNEW_311, FRAME_DOCS, "https://peps.python.org/pep-0667/", COMPAT)
    tags = ("c-api", "removed-api", "python-3.11")
    bad = (
        Example(
            "static int trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg) {\n"
            "    PyCodeObject *code = frame->f_code;  // <- FT401\n"
            "    int line = frame->f_lineno;  // <- FT401\n"
            "    PyFrameObject *caller = frame->f_back;  // <- FT401\n"
            "    return record(code, line, caller);\n"
            "}\n",
            fixed="""
            static int trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg) {
                PyCodeObject *code = frame->f_code;  // <- FT401
                int line = PyFrame_GetLineNumber(frame);  // <- FT401
                PyFrameObject *caller = frame->f_back;  // <- FT401
                return record(code, line, caller);
            }
            """,
        ),
        Example(
            "#define FRAME_LOCALS(f) ((f)->f_locals)  // <- FT401\n"
            "static int set_local(PyFrameObject *frame, PyObject *name, PyObject *value) {\n"
            "    PyFrame_FastToLocals(frame);  // <- FT401\n"
            "    int rc = PyDict_SetItem(FRAME_LOCALS(frame), name, value);\n"
            "    PyFrame_LocalsToFast(frame, 0);  // <- FT401\n"
            "    return rc;\n"
            "}\n",
            title="Macro bodies, and the PEP 667 no-op functions around a write into the locals",
        ),
    )
    good = (
        Example(
            "static int trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg) {\n"
            "    PyCodeObject *code = PyFrame_GetCode(frame);\n"
            "    int line = PyFrame_GetLineNumber(frame);\n"
            "    int rc = record(code, line, NULL);\n"
            "    Py_DECREF(code);\n"
            "    return rc;\n"
            "}\n",
        ),
        Example(
            "#if PY_VERSION_HEX < 0x030B0000\n"
            "#  define FRAME_CODE(f) ((f)->f_code)\n"
            "#else\n"
            "#  define FRAME_CODE(f) PyFrame_GetCode(f)\n"
            "#endif\n"
            "struct node { struct node *f_back; int f_lineno; };\n"
            "static int depth(struct node *n) { return n->f_back ? 1 + depth(n->f_back) : n->f_lineno; }\n",
            title="Version-guarded compatibility code and unrelated structs with the same field names",
        ),
        Example(
            "static PyObject *call_hook(PyObject *hook, PyFrameObject *frame) {\n"
            "    PyFrame_FastToLocals(frame);  /* a no-op since 3.13: frame.f_locals is always current */\n"
            "    PyObject *result = PyObject_CallOneArg(hook, (PyObject *)frame);\n"
            "    PyFrame_LocalsToFast(frame, 1);  /* the hook writes through the f_locals proxy */\n"
            "    return result;\n"
            "}\n",
            title="The no-op sync calls around code that only uses frame.f_locals",
        ),
        Example(
            "#define Py_BUILD_CORE\n"
            "#include \"internal/pycore_frame.h\"\n"
            "static void link(PyFrameObject *dummy, PyFrameObject *back) {\n"
            "    dummy->f_back = back;  /* the internal struct _frame still has it */\n"
            "}\n",
            title="A member the internal header still declares, in code built against it",
        ),
    )

    def decide(self, use: Use, ctx: FileContext) -> Candidate | None:
        unit = ctx.c_unit
        assert unit is not None
        if use.api.status == "no-op" and use.api.kind == "call" and use.macro is None and (
                use.function is None or not _may_write_locals(unit, use.function.name)):
            return None  # PEP 667: with nothing written into a locals dict, the sync is needless, not wrong
        if use.api.kind == "field" and any(use.api.name in fields for header, fields in INTERNAL_FIELDS.items()
                                           if header in internal_includes(unit)):
            return None  # built against the internal header, which still declares the member
        return super().decide(use, ctx)


class ThreadStateFieldAccess(_CApiRule):
    code = "FT402"
    slug = "thread-state-field-access"
    summary = "`PyThreadState` field access"
    severity = Severity.ERROR
    fixable = True
    what = (
        "Finds `PyThreadState` fields: removed ones (`frame`, `cframe`, `recursion_depth`, `use_tracing`, "
        "`curexc_*`, `trash_delete_*`) in code compiled for a version that lacks them. Private fields that "
        "still exist on every targeted version (`exc_info`, `c_tracefunc`, `dict`, …) and the documented public "
        "member `interp` are not findings: they compile and work. The object must be known to be a "
        "`PyThreadState` (declaration, "
        "cast, or `PyThreadState_Get()->…`), or, when its type cannot be seen, be named like one (`tstate`, "
        "`ts`, `thread_state`); `->frame` on any other struct is not a finding. Version-guarded code for older "
        "Pythons is not reported."
    )
    why = (
        "3.11 moved the frame stack, recursion counters and tracing flags out of `PyThreadState`; 3.12 replaced "
        "`curexc_*` with one exception object; 3.13 removed `cframe`. Code that touches them no longer compiles, "
        "and the fields that remain are internal and may change in any release."
    )
    instead = "Use the accessor functions:\n\n" + markdown_table(["FT402"])
    suggestion = ("Use `PyThreadState_GetFrame` / `GetInterpreter` / `GetID` (3.9) and `PyThreadState_EnterTracing` / "
                  "`LeaveTracing` (3.11); pythoncapi_compat.h backports them.")
    fix_safety = ("Reads of `tstate->interp` and `tstate->id` become `PyThreadState_GetInterpreter(tstate)` / "
                  "`PyThreadState_GetID(tstate)` (3.9); safe. " + COMPAT_FIX_NOTE)
    references = (WHATSNEW_311, "https://docs.python.org/3/c-api/init.html#c.PyThreadState_GetFrame", COMPAT)
    tags = ("c-api", "removed-api", "python-3.11")
    bad = (
        Example(
            "static PyObject *current_line(PyObject *self, PyObject *unused) {\n"
            "    PyThreadState *tstate = PyThreadState_Get();\n"
            "    PyFrameObject *frame = tstate->frame;  // <- FT402\n"
            "    if (tstate->recursion_depth > 50) {  // <- FT402\n"
            "        Py_RETURN_NONE;\n"
            "    }\n"
            "    tstate->use_tracing = 0;  // <- FT402\n"
            "    return PyLong_FromLong(PyFrame_GetLineNumber(frame));\n"
            "}\n",
        ),
    )
    good = (
        Example(
            "struct job { struct job *frame; int id; };\n"
            "static PyObject *current_line(PyObject *self, PyObject *unused) {\n"
            "    PyThreadState *tstate = PyThreadState_Get();\n"
            "    PyFrameObject *frame = PyThreadState_GetFrame(tstate);\n"
            "    if (frame == NULL) {\n"
            "        Py_RETURN_NONE;\n"
            "    }\n"
            "    int line = PyFrame_GetLineNumber(frame);\n"
            "    Py_DECREF(frame);\n"
            "    return PyLong_FromLong(line);\n"
            "}\n"
            "static int job_id(struct job *j) { return j->frame ? j->frame->id : 0; }\n",
        ),
    )


class CodeObjectFieldAccess(_CApiRule):
    code = "FT403"
    slug = "code-object-field-access"
    summary = "Removed `PyCodeObject` field or an old `PyCode_New*` constructor"
    severity = Severity.WARNING
    what = (
        "Finds `PyCodeObject` fields that 3.10/3.11 removed (`co_code`, `co_varnames`, `co_cellvars`, "
        "`co_freevars`, `co_cell2arg`, `co_zombieframe`, `co_lnotab`) and calls of `PyCode_New` / "
        "`PyCode_NewWithPosOnlyArgs`. Fields that still exist (`co_name`, `co_filename`, `co_firstlineno`, "
        "`co_flags`, …) are not findings. A removed field in code built for the target is an error; the "
        "constructors, whose signature changed, are warnings."
    )
    why = (
        "3.11 rebuilt code objects around `co_localsplusnames` and adaptive bytecode: the removed fields do not "
        "exist and the accessors compute them on demand. `PyCode_New*` gained parameters in 3.11 and became "
        "`PyUnstable_Code_New*` in 3.12, so a call written for 3.10 does not compile."
    )
    instead = ("Use the accessors, which return new references:\n\n" + markdown_table(["FT403"]) +
               "\nTo build a code object, start from `PyCode_NewEmpty(filename, funcname, firstlineno)` and call "
               "its `replace()` method with the fields to change.")
    suggestion = ("Use `PyCode_GetCode` / `GetVarnames` / `GetCellvars` / `GetFreevars` (3.11; backported) and "
                  "`Py_DECREF` them.")
    references = (WHATSNEW_311, "https://docs.python.org/3/c-api/code.html", COMPAT)
    tags = ("c-api", "removed-api", "python-3.11")
    bad = (
        Example(
            "static PyObject *names(PyObject *self, PyObject *arg) {\n"
            "    PyCodeObject *code = (PyCodeObject *)arg;\n"
            "    PyObject *bytes = code->co_code;  // <- FT403\n"
            "    return PyTuple_Pack(3, bytes, code->co_varnames, code->co_name);  // <- FT403\n"
            "}\n",
        ),
    )
    good = (
        Example(
            "static PyObject *names(PyObject *self, PyObject *arg) {\n"
            "    PyCodeObject *code = (PyCodeObject *)arg;\n"
            "    PyObject *varnames = PyCode_GetVarnames(code);\n"
            "    if (varnames == NULL) {\n"
            "        return NULL;\n"
            "    }\n"
            "    PyObject *result = PyTuple_Pack(3, varnames, code->co_name, code->co_filename);\n"
            "    Py_DECREF(varnames);\n"
            "    return result;\n"
            "}\n",
        ),
    )


class RefcountFieldAccess(_CApiRule):
    code = "FT404"
    slug = "refcount-field-access"
    summary = "Direct `ob_refcnt`/`ob_type`/`ob_size` access or assignment through `Py_REFCNT`/`Py_TYPE`/`Py_SIZE`"
    severity = Severity.ERROR
    fixable = True
    what = (
        "Finds `->ob_refcnt`, `->ob_type` and `->ob_size` (reads and writes) and assignments through the accessor "
        "macros (`Py_REFCNT(o) = n`, `Py_TYPE(o) = t`, `Py_SIZE(o) = n`, `Py_REFCNT(o)++`). `ob_refcnt` on a "
        "free-threaded target and the macro assignments are errors; writing `ob_type`/`ob_size` directly still "
        "compiles and is a warning; reading them is not a finding (it compiles and works on every targeted build)."
    )
    why = (
        "The free-threaded build has no `ob_refcnt` (the count is split into a thread-local and a shared part), "
        "so the code does not compile for 3.13t/3.14t. `Py_REFCNT` stopped being an lvalue in 3.10 and `Py_TYPE`/"
        "`Py_SIZE` in 3.11. Direct header access is impossible once `PyObject` is opaque (abi3t, 3.15)."
    )
    instead = ("Use the accessors (all since 3.9; pythoncapi_compat.h backports them):\n\n" +
               markdown_table(["FT404"]))
    suggestion = ("Use `Py_REFCNT` / `Py_TYPE` / `Py_SIZE` to read and `Py_SET_REFCNT` / `Py_SET_TYPE` / "
                  "`Py_SET_SIZE` to write.")
    fix_safety = ("Reads through `->` become `Py_REFCNT(o)`/`Py_TYPE(o)`/`Py_SIZE(o)`, and whole-statement "
                  "assignments `o->ob_type = t;` / `Py_TYPE(o) = t;` become `Py_SET_TYPE(o, t);`. Safe. "
                  + COMPAT_FIX_NOTE + " Increments and compound assignments are left to you.")
    references = (WHATSNEW_311, "https://docs.python.org/3/c-api/structures.html#c.Py_SET_TYPE",
                  "https://peps.python.org/pep-0703/", COMPAT)
    tags = ("c-api", "free-threading", "removed-api")
    bad = (
        Example(
            "static PyObject *refcount_of(PyObject *self, PyObject *obj) {\n"
            "    return PyLong_FromSsize_t(obj->ob_refcnt);  // <- FT404\n"
            "}\n"
            "static void retype(PyObject *obj, PyTypeObject *type) {\n"
            "    Py_TYPE(obj) = type;  // <- FT404\n"
            "}\n",
            files={"pyproject.toml": "[project]\nname = 'fastobj'\nrequires-python = '>=3.10'\n"},
            fixed="""
            static PyObject *refcount_of(PyObject *self, PyObject *obj) {
                return PyLong_FromSsize_t(Py_REFCNT(obj));  // <- FT404
            }
            static void retype(PyObject *obj, PyTypeObject *type) {
                Py_SET_TYPE(obj, type);  // <- FT404
            }
            """,
            title="With `requires-python = '>=3.10'` the accessors exist everywhere: replaced in place",
        ),
    )
    good = (
        Example(
            "static PyObject *refcount_of(PyObject *self, PyObject *obj) {\n"
            "    return PyLong_FromSsize_t(Py_REFCNT(obj));\n"
            "}\n"
            "static void retype(PyObject *obj, PyTypeObject *type) {\n"
            "    Py_SET_TYPE(obj, type);\n"
            "}\n",
        ),
    )

    def decide(self, use: Use, ctx: FileContext) -> Candidate | None:
        api = use.api
        unit = ctx.c_unit
        assert unit is not None
        severity = version_severity(use)
        fix = None
        if api.kind == "lvalue":
            call = use.node.child_by_field_name("left") if use.node is not None else None
            setter = api.replacement.split("(")[0]
            right = use.node.child_by_field_name("right") if use.node is not None else None
            fix = setter_fix(ctx, use, setter, use.obj, right, api) if call else None
            message = (f"`{api.name}()` is not an lvalue since {fmt(api.version)}: "  # type: ignore[arg-type]
                       f"`{' '.join(unit.text(use.node).split())}` does not compile")
        else:
            if use.write:
                severity = Severity.ERROR if use.broken else Severity.WARNING
                setter = next(part.strip().split("(")[0] for part in api.replacement.split("/") if "SET" in part)
                right = use.node.parent.child_by_field_name("right") if use.node and use.node.parent else None
                write_use = Use(api, use.anchor, use.node.parent if use.node else None, use.obj, use.function,
                                use.macro, use.evidence, use.versions, use.broken, write=True)
                fix = setter_fix(ctx, write_use, setter, use.obj, right, api)
                verb = "writes"
            else:
                if api.name != "ob_refcnt" and not use.broken:
                    return None  # `o->ob_type`/`o->ob_size` reads compile and work on every targeted build
                fix = read_fix(ctx, use)
                verb = "reads"
            field_text = " ".join(unit.text(use.node).split()) if use.node is not None else api.name
            message = f"`{field_text}` {verb} the object header directly: {api.reason}"
            if api.name == "ob_refcnt" and use.broken:
                message = f"`{field_text}` does not compile on the free-threaded build: {api.reason}"
        help_text = use.api.advice()[0].upper() + use.api.advice()[1:] + "."
        return Candidate(use.anchor, message + compiled_note(use, ctx), help_text, severity, fix)


class RefcountUniquenessCheck(_CApiRule):
    code = "FT405"
    slug = "refcount-uniqueness-check"
    summary = "`Py_REFCNT(o) == 1` used to decide that an object is not shared"
    severity = Severity.WARNING
    fixable = True
    what = (
        "Finds comparisons of `Py_REFCNT(o)` (or `o->ob_refcnt`) with 1 that test whether the object is "
        "unshared: `== 1`, `<= 1`, `< 2`, and the opposite branch `!= 1`, `> 1`, `>= 2`, either operand order. "
        "Inside `assert(...)` it is a note."
    )
    why = (
        "The usual reason for the test is to mutate the object in place when nobody else can see it. On the "
        "free-threaded build the count is split between the owning thread and a shared counter, and since 3.14 "
        "the interpreter can hold borrowed stack references that are not counted at all, so a count of 1 does "
        "not prove that no other thread or frame uses the object: the in-place mutation becomes a data race or "
        "a visible change to a caller's value (NumPy hit this, gh-133164)."
    )
    instead = (
        "`PyUnstable_Object_IsUniquelyReferenced(o)` (3.14; pythoncapi_compat.h backports it) answers the "
        "question correctly on every build. For temporaries passed to a function, "
        "`PyUnstable_Object_IsUniqueReferencedTemporary(o)` (3.14, not backported) also accounts for borrowed "
        "stack references."
    )
    suggestion = "Use `PyUnstable_Object_IsUniquelyReferenced(o)` (3.14; pythoncapi_compat.h backports it)."
    fix_safety = ("The comparison becomes `PyUnstable_Object_IsUniquelyReferenced(o)` (or its negation). It is "
                  "unsafe: it changes behaviour on the free-threaded build (by design). " + COMPAT_FIX_NOTE)
    references = ("https://docs.python.org/3/c-api/object.html#c.PyUnstable_Object_IsUniquelyReferenced",
                  "https://github.com/python/cpython/issues/133164", COMPAT)
    tags = ("c-api", "free-threading", "python-3.14")
    bad = (
        Example(
            "static PyObject *append(PyObject *self, PyObject *args) {\n"
            "    PyObject *list, *item;\n"
            "    if (!PyArg_ParseTuple(args, \"OO\", &list, &item)) {\n"
            "        return NULL;\n"
            "    }\n"
            "    if (Py_REFCNT(list) == 1) {  // <- FT405\n"
            "        PyList_Append(list, item);\n"
            "        return Py_NewRef(list);\n"
            "    }\n"
            "    return PySequence_Concat(list, item);\n"
            "}\n",
            files={"pyproject.toml": "[project]\nname = 'fastlist'\nrequires-python = '>=3.11'\n"},
            fixed="""
            static PyObject *append(PyObject *self, PyObject *args) {
                PyObject *list, *item;
                if (!PyArg_ParseTuple(args, "OO", &list, &item)) {
                    return NULL;
                }
            #if PY_VERSION_HEX >= 0x030E0000
                if (PyUnstable_Object_IsUniquelyReferenced(list)) {  // <- FT405
            #else
                if (Py_REFCNT(list) == 1) {  // <- FT405
            #endif
                    PyList_Append(list, item);
                    return Py_NewRef(list);
                }
                return PySequence_Concat(list, item);
            }
            """,
            title="The project supports 3.11, which lacks the API: the old line stays under `#else`",
        ),
    )
    good = (
        Example(
            "static PyObject *make_pair(PyObject *a, PyObject *b) {\n"
            "    PyObject *pair = PyTuple_New(2);\n"
            "    if (pair == NULL) {\n"
            "        return NULL;\n"
            "    }\n"
            "    assert(Py_REFCNT(pair) == 1);  /* just allocated here: nobody else can hold it */\n"
            "    PyTuple_SET_ITEM(pair, 0, Py_NewRef(a));\n"
            "    PyTuple_SET_ITEM(pair, 1, Py_NewRef(b));\n"
            "    return pair;\n"
            "}\n",
            title="Asserting that an object this function just allocated is unshared",
        ),
        Example(
            "static PyObject *cache;\n"
            "static void module_free(void *module) {\n"
            "    if (Py_REFCNT(cache) == 1) {  /* module teardown: no other thread uses the module */\n"
            "        Py_CLEAR(cache);\n"
            "    }\n"
            "}\n"
            "static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_name = \"m\", .m_free = module_free};\n",
            title="In the module's own teardown",
        ),
        Example(
            "static PyObject *append(PyObject *self, PyObject *args) {\n"
            "    PyObject *list, *item;\n"
            "    if (!PyArg_ParseTuple(args, \"OO\", &list, &item)) {\n"
            "        return NULL;\n"
            "    }\n"
            "    if (PyUnstable_Object_IsUniquelyReferenced(list)) {\n"
            "        PyList_Append(list, item);\n"
            "        return Py_NewRef(list);\n"
            "    }\n"
            "    if (Py_REFCNT(list) > 1000) {\n"
            "        log_hot(list);\n"
            "    }\n"
            "    return PySequence_Concat(list, item);\n"
            "}\n",
        ),
    )

    def decide(self, use: Use, ctx: FileContext) -> Candidate | None:
        unit = ctx.c_unit
        assert unit is not None
        comparison = " ".join(unit.text(use.node).split()) if use.node is not None else "Py_REFCNT(o) == 1"
        if use.function is not None and use.function.name in init_only(unit):
            return None  # module init and teardown run while no other thread uses the module's objects
        if use.in_assert and freshly_allocated(unit, use.function, use.obj):
            return None  # asserting that a just-allocated object is unshared is true on every build
        severity = Severity.NOTE if use.in_assert else Severity.WARNING
        where = " in an assertion" if use.in_assert else ""
        message = (f"`{comparison}`{where} uses the reference count as a uniqueness test: {use.api.reason}")
        fix = None
        if use.obj is not None and use.node is not None and use.macro is None:
            call = f"PyUnstable_Object_IsUniquelyReferenced({unit.text(use.obj)})"
            replacement = f"!{call}" if use.negated else call
            fix = versioned_fix(ctx, use.api, use.node, replacement, unsafe=True)
        return Candidate(use.anchor, message, use.api.advice()[0].upper() + use.api.advice()[1:] + ".", severity, fix)


class RemovedCApi(_CApiRule):
    code = "FT406"
    slug = "removed-c-api"
    summary = "Removed, deprecated or soon-removed C API function, macro or variable"
    severity = Severity.ERROR
    what = (
        "Finds uses (calls, function pointers, types, variables, and mentions in same-file macro bodies) of the "
        "C APIs CPython removed in 3.13 (`PyEval_CallObject`, `PyEval_AcquireLock`, `PyObject_AsCharBuffer`, "
        "`Py_TRASHCAN_SAFE_BEGIN`, private `_PyObject_LookupAttr`, `_PyLong_AsInt`, `_PyTime_*`, …), deprecated "
        "by PEP 667 (`PyEval_GetLocals` family), or scheduled for removal in 3.15 (`Py_UNICODE`, "
        "`PyImport_ImportModuleNoBlock`, the `Py_*Flag` globals, old initialisation functions) or 3.18 "
        "(`_PyUnicodeWriter_*`, `_PyLong_Sign`, …). Only names that are gone (or no-ops) in a version the code "
        "is compiled for are reported, as errors; a name that is deprecated or scheduled for removal after the "
        "target still compiles and works there, and is reported once the target reaches its removal "
        "(`--target-version 3.15t`). Version-guarded code and a file that defines the name itself (a "
        "compatibility shim) are not reported. Beyond that hand-kept table, any `_Py*` name that CPython's "
        "public headers declared in an earlier release but the target's headers no longer declare is "
        "reported (an error; a warning when the target's headers are not in the table and the newest "
        "ones read answer): `ftaudit/facts/capi_names.json`, generated by `tools/capi-names/generate.py` "
        "from source releases pinned by sha256 (3.9, 3.11 and 3.13 today; the others are unknown rows). "
        "A name the project declares or defines itself (the file, or a `#define` in its headers) is not."
    )
    why = (
        "A removed API breaks the build on the new CPython; a deprecated one emits compiler warnings now and "
        "breaks later. Each has a supported replacement, most of them backported by pythoncapi_compat.h."
    )
    instead = "Replacements:\n\n" + markdown_table(["FT406"])
    suggestion = "Switch to the replacement API; pythoncapi_compat.h backports most of them."
    references = (WHATSNEW_313, "https://docs.python.org/3/deprecations/c-api-pending-removal-in-3.15.html",
                  "https://docs.python.org/3/deprecations/c-api-pending-removal-in-3.18.html", COMPAT)
    tags = ("c-api", "removed-api", "deprecated-api")
    bad = (
        Example(
            "static PyObject *call(PyObject *self, PyObject *args) {\n"
            "    PyObject *func, *fargs;\n"
            "    if (!PyArg_ParseTuple(args, \"OO\", &func, &fargs)) {\n"
            "        return NULL;\n"
            "    }\n"
            "    PyThreadState *ts = _PyThreadState_UncheckedGet();  /* an alias since 3.13 */\n"
            "    return PyEval_CallObject(func, fargs);  // <- FT406\n"
            "}\n",
        ),
    )
    good = (
        Example(
            "static PyObject *call(PyObject *self, PyObject *args) {\n"
            "    PyObject *func, *fargs;\n"
            "    if (!PyArg_ParseTuple(args, \"OO\", &func, &fargs)) {\n"
            "        return NULL;\n"
            "    }\n"
            "#if PY_VERSION_HEX < 0x030900A4\n"
            "    return PyEval_CallObject(func, fargs);\n"
            "#else\n"
            "    return PyObject_CallObject(func, fargs);  /* not PyEval_CallObject */\n"
            "#endif\n"
            "}\n",
        ),
    )

    def check(self, ctx: FileContext) -> None:
        super().check(ctx)
        self._undeclared_private_names(ctx)

    def _undeclared_private_names(self, ctx: FileContext) -> None:
        """`_Py*` names the target's public headers do not declare (from the generated table of real
        headers): each is reported once per file, at its first compiled use."""
        unit = ctx.c_unit
        if unit is None or b"_Py" not in unit.raw.mask or uses_internals(unit):
            return  # a file working with CPython's internal headers gets `_Py` names from them
        table = capi_names.load()
        target = ctx.target.version
        row = target if target in table.known else table.newest_known(target)
        if row is None:
            return
        curated = {api.name for api in CATALOGUE}
        own = set(unit.functions) | set(unit._prototype_names()) | set(unit.macros) | set(unit.typedefs)
        own |= set(project_macros(unit.raw.directives, unit.path, unit.read_header, ctx.target,
                                  guards=unit.guard_index, relevant=_PRIVATE_DEFINE))
        seen: set[str] = set()
        for match in _PRIVATE_NAME.finditer(unit.raw.mask):
            name = match.group().decode("ascii")
            if name in seen or name in own or name in curated or table.declares(row, name) is not False:
                continue
            last = table.last_declared(name)
            if last is None or unit.compiled(match.start(), ctx.target) is Tri.NO:
                continue  # not a name CPython ever declared (a project's own), or version-guarded code
            seen.add(name)
            label = f"{row[0]}.{row[1]}"
            if row == target:
                message = (f"`{name}` is not declared by CPython {label}'s headers (last declared in "
                           f"{last[0]}.{last[1]} among the versions read): a private API that went away, so "
                           "the build fails (GCC 14 and Clang 16 make implicit declarations errors)")
                severity = Severity.ERROR
            else:
                message = (f"`{name}` is not declared by CPython {label}'s headers, the newest read here for "
                           f"{target[0]}.{target[1]} (last declared in {last[0]}.{last[1]}): a private API that "
                           "went away")
                severity = Severity.WARNING
            ctx.report((match.start(), match.end()), message, severity=severity,
                       help="Use the public replacement (the What's New of the release that removed it says "
                            "which); pythoncapi_compat.h backports many, or keep the call under a "
                            "`#if PY_VERSION_HEX < …` guard for the versions that still have it.")

    def decide(self, use: Use, ctx: FileContext) -> Candidate | None:
        api = use.api
        severity = Severity.ERROR if use.broken else Severity.WARNING
        where = " in a macro body" if use.macro is not None else ""
        name = text(use.anchor) if api.name.endswith("*") and not isinstance(use.anchor, tuple) else api.name
        message = f"`{name}`{where} {api.change()}{compiled_note(use, ctx)}: {api.reason}"
        return Candidate(use.anchor, message, api.advice()[0].upper() + api.advice()[1:] + ".", severity)
