"""FT203/FT204/FT205: critical sections, thread-unsafe libc calls, and C API calls while detached.

The source model pairs critical-section macros, tracks detached thread-state regions, and knows
which code runs at run time; these rules decide and explain.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from ftaudit.candidate import Candidate
from ftaudit.cmodel import CUnit, Tri
from ftaudit.cmodel.nodes import declarator_name, function_declarator, is_written
from ftaudit.context import FileContext
from ftaudit.facts.libc import UNSAFE_LIBC
from ftaudit.findings import Severity
from ftaudit.rule import Example, Rule
from ftaudit.source import Language

from ._runtime import RunTimeRule

C_LANGUAGES = frozenset({Language.C, Language.CPP})
HOWTO = "https://docs.python.org/3/howto/free-threading-extensions.html"
CS_DOCS = "https://docs.python.org/3/c-api/init.html#python-critical-section-api"
_LEAVING = {"return_statement": "return", "goto_statement": "goto", "break_statement": "break",
            "continue_statement": "continue"}
_BREAK_TARGETS = ("for_statement", "while_statement", "do_statement", "switch_statement", "for_range_loop")
_CONTINUE_TARGETS = ("for_statement", "while_statement", "do_statement", "for_range_loop")
_END_NAMES = {"1": "Py_END_CRITICAL_SECTION()", "2": "Py_END_CRITICAL_SECTION2()"}


def _callee(node: Node) -> Node:
    if node.type == "call_expression":
        return node.child_by_field_name("function") or node
    return node


def _inside(node: Node, start: int, end: int) -> bool:
    return start <= node.start_byte and node.end_byte <= end


def _leaves_region(node: Node, start: int, end: int) -> bool:
    """Whether a return/goto/break/continue inside [start, end) jumps out of it."""
    if node.type in ("return_statement", "goto_statement"):
        return True  # a goto label inside the region is rare enough to accept the report
    targets = _BREAK_TARGETS if node.type == "break_statement" else _CONTINUE_TARGETS
    parent = node.parent
    while parent is not None and parent.start_byte >= start:
        if parent.type in targets and _inside(parent, start, end):
            return False  # the loop/switch it leaves is itself inside the region
        parent = parent.parent
    return True


class CriticalSectionMisuse(Rule):
    code = "FT203"
    slug = "critical-section-misuse"
    summary = "Critical-section macros that do not pair up, jumps that leave the section, or nested sections"
    severity = Severity.ERROR
    languages = C_LANGUAGES
    what = (
        "Checks `Py_BEGIN_CRITICAL_SECTION(o)` / `Py_END_CRITICAL_SECTION()` (and the `2` and `_MUTEX` "
        "variants): a begin without an end in the same block, an end without a begin, a `…2` begin closed "
        "by a one-object end (or the reverse), and a `return`, `goto`, `break` or `continue` that jumps out "
        "of the section: these are errors. A single-object section begun inside another one is reported as a note: "
        "nesting is allowed, with a caveat."
    )
    why = (
        "The macros open and close a C scope and must pair up in the same block; a jump out of the section "
        "skips the end, so the object stays locked (a deadlock on the free-threaded build, silently fine on "
        "the default build, where the macros do nothing). Nesting is not two locks held at once: when the "
        "inner begin has to wait for its object, CPython suspends the outer section (lets go of its lock and "
        "takes it back once the inner one is held), so another thread may see or change the outer object "
        "across the inner begin."
    )
    instead = (
        "Keep begin and end in one block and leave it only through its end: set a result variable and "
        "`break` out of a loop that encloses the section, or jump to a label after the end. Close a `…2` "
        "begin with `Py_END_CRITICAL_SECTION2()`. For a nested section, do not rely on what was read from the "
        "outer object before the inner begin; when both objects must be held together and both are already "
        "known where the outer section begins, lock them at once with `Py_BEGIN_CRITICAL_SECTION2(a, b)` … "
        "`Py_END_CRITICAL_SECTION2()` (3.13+; pythoncapi_compat.h provides no-op versions for older Pythons). "
        "The note suggests that only for a variable declared before the outer begin and not assigned "
        "between the two; an object found inside the section, such as a loop's item, can only be locked there. "
        "An inner section on the object the outer one already locks is redundant: drop it."
    )
    suggestion = "Leave the section only through its end macro."
    references = (CS_DOCS, HOWTO)
    tags = ("free-threading", "locking", "correctness")
    bad = (
        Example(
            "static PyObject *first(PyObject *self, PyObject *list) {\n"
            "    PyObject *item = NULL;\n"
            "    Py_BEGIN_CRITICAL_SECTION(list);\n"
            "    if (PyList_GET_SIZE(list) == 0) {\n"
            "        return NULL;  // <- FT203\n"
            "    }\n"
            "    item = Py_NewRef(PyList_GET_ITEM(list, 0));\n"
            "    Py_END_CRITICAL_SECTION();\n"
            "    return item;\n"
            "}\n",
        ),
        Example(
            "static void swap(PyObject *a, PyObject *b) {\n"
            "    Py_BEGIN_CRITICAL_SECTION2(a, b);\n"
            "    exchange(a, b);\n"
            "    Py_END_CRITICAL_SECTION();  // <- FT203\n"
            "}\n",
            title="A two-object begin closed by a one-object end",
        ),
        Example(
            "static void merge(PyObject *dst, PyObject *src) {\n"
            "    Py_BEGIN_CRITICAL_SECTION(dst);\n"
            "    Py_BEGIN_CRITICAL_SECTION(src);  // <- FT203\n"
            "    PyDict_Update(dst, src);\n"
            "    Py_END_CRITICAL_SECTION();\n"
            "    Py_END_CRITICAL_SECTION();\n"
            "}\n",
            title="Nested sections on two parameters (a note that may suggest one `…2` section)",
        ),
        Example(
            "static void clear_items(PyObject *list) {\n"
            "    Py_BEGIN_CRITICAL_SECTION(list);\n"
            "    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {\n"
            "        PyObject *item = PyList_GET_ITEM(list, i);\n"
            "        Py_BEGIN_CRITICAL_SECTION(item);  // <- FT203\n"
            "        PyDict_Clear(item);\n"
            "        Py_END_CRITICAL_SECTION();\n"
            "    }\n"
            "    Py_END_CRITICAL_SECTION();\n"
            "}\n",
            title="A loop's item locked inside the section on its list (a note; it cannot be locked earlier)",
        ),
    )
    good = (
        Example(
            "static PyObject *first(PyObject *self, PyObject *list) {\n"
            "    PyObject *item = NULL;\n"
            "    Py_BEGIN_CRITICAL_SECTION(list);\n"
            "    if (PyList_GET_SIZE(list) > 0) {\n"
            "        item = Py_NewRef(PyList_GET_ITEM(list, 0));\n"
            "    }\n"
            "    Py_END_CRITICAL_SECTION();\n"
            "    return item;\n"
            "}\n",
        ),
        Example(
            "static void scan(PyObject *dict) {\n"
            "    Py_BEGIN_CRITICAL_SECTION(dict);\n"
            "    for (int i = 0; i < 10; i++) {\n"
            "        if (i == 3) { break; }\n"
            "    }\n"
            "    Py_END_CRITICAL_SECTION();\n"
            "}\n",
            title="A break that stays inside the section",
        ),
        Example(
            "static void merge(PyObject *dst, PyObject *src) {\n"
            "    Py_BEGIN_CRITICAL_SECTION2(dst, src);\n"
            "    PyDict_Update(dst, src);\n"
            "    Py_END_CRITICAL_SECTION2();\n"
            "}\n",
            title="Two objects that must be held together, locked at once",
        ),
    )

    def check(self, ctx: FileContext) -> None:
        unit = ctx.c_unit
        if unit is None:
            return
        regions = [r for r in unit.critical_sections if r.kind != "guard"
                   and unit.compiled(r.begin_offset, ctx.target) is not Tri.NO]
        for region in regions:
            begin = _callee(region.begin)
            if region.end is None:
                ctx.report(begin, f"`{region.name or 'Py_BEGIN_CRITICAL_SECTION'}` has no matching end in the same "
                           "block: the object stays locked", help="Add the matching end macro in the same block.")
                continue
            if not region.matched:
                expected = _END_NAMES["2" if region.kind in ("2", "mutex2") else "1"]
                ctx.report(_callee(region.end), f"`{region.name}` is closed by the wrong end macro: use {expected}",
                           help=f"Close it with `{expected}`.")
            self._jumps(ctx, region)
        for end in unit.stray_critical_section_ends:
            ctx.report(_callee(end), "Critical-section end without a matching begin in the same block")
        self._nesting(ctx, regions)

    def _jumps(self, ctx: FileContext, region) -> None:
        start = region.begin.end_byte if region.begin.type != "compound_statement" else region.begin.start_byte
        end = region.end_offset if region.end_offset is not None else region.begin.end_byte
        scope = region.block if region.block is not None else region.begin
        stack = [scope]
        while stack:
            node = stack.pop()
            if node.type in _LEAVING and _inside(node, start, end) and _leaves_region(node, start, end):
                ctx.report(node, f"`{_LEAVING[node.type]}` leaves the critical section on "
                           f"`{', '.join(region.objects)}` without its end macro: the object stays locked")
            stack.extend(c for c in node.named_children if c.end_byte > start and c.start_byte < end)

    def _nesting(self, ctx: FileContext, regions: list) -> None:
        for inner in regions:
            if inner.kind != "1":
                continue
            for outer in regions:
                outer_end = outer.end_offset if outer.end_offset is not None else outer.begin.end_byte
                if outer is inner or outer.kind != "1" or outer.function != inner.function:
                    continue
                if outer.begin_offset < inner.begin_offset < outer_end:
                    self._report_nested(ctx, outer, inner)
                    break

    def _report_nested(self, ctx: FileContext, outer, inner) -> None:
        """A note, not an error: nesting is allowed; the outer lock may be let go while the inner waits."""
        unit = ctx.c_unit
        assert unit is not None
        outer_objects, inner_objects = ", ".join(outer.objects), ", ".join(inner.objects)
        outer_line = unit.line_of(outer.begin_offset)
        if _same_variable(unit, outer, inner):
            ctx.report(_callee(inner.begin),
                       f"Critical section on `{inner_objects}` begun inside one on the same object (line "
                       f"{outer_line}): it is already locked (CPython releases without the same-object shortcut "
                       "briefly let go of the outer lock here)",
                       help="Drop the inner begin/end pair: the object is locked by the outer section.",
                       severity=Severity.NOTE)
            return
        message = (f"Critical section on `{inner_objects}` begun inside the one on `{outer_objects}`: if it has "
                   f"to wait, the lock on `{outer_objects}` is released meanwhile and taken again after, so "
                   f"other threads can change `{outer_objects}` across this begin")
        name = _together(unit, outer, inner)
        if name is not None:
            advice = (f"If `{outer_objects}` and `{name}` must stay locked together, lock both at once: "
                      f"`Py_BEGIN_CRITICAL_SECTION2({outer_objects}, {inner_objects})` at line {outer_line}, closed "
                      "by `Py_END_CRITICAL_SECTION2()`, instead of the two nested sections.")
        else:
            advice = (f"Nesting is allowed; do not rely on what was read from `{outer_objects}` before this "
                      "begin staying true after it (read or check it again).")
        ctx.report(_callee(inner.begin), message, help=advice, severity=Severity.NOTE)


_CAST = re.compile(r"^\(\s*(?:const\s+)?(?:struct\s+)?[A-Za-z_]\w*(?:\s*\*)+\s*\)")
_NAME = re.compile(r"[A-Za-z_]\w*")
_BRANCHES = frozenset({"if_statement", "for_statement", "while_statement", "do_statement", "switch_statement",
                       "case_statement", "for_range_loop", "conditional_expression", "labeled_statement"})


def _plain_name(expression: str) -> str | None:
    """`value`, `(value)` and `(PyObject *)value` name the variable `value`; anything else is None."""
    expression = expression.strip()
    while True:
        cast = _CAST.match(expression)
        if cast is not None:
            expression = expression[cast.end():].strip()
        elif expression.startswith("(") and expression.endswith(")") and _NAME.fullmatch(expression[1:-1].strip()):
            expression = expression[1:-1].strip()
        else:
            break
    return expression if _NAME.fullmatch(expression) else None


def _together(unit: CUnit, outer, inner) -> str | None:
    """The inner section's variable when `Py_BEGIN_CRITICAL_SECTION2(outer, inner)` could replace the
    nested pair at the outer begin, else None.

    That needs the inner object to be a plain variable that is declared (and so visible) where the outer
    section begins, that nothing between the two begins assigns, and an inner begin that runs every time
    the outer one does (not inside a loop, branch or label between them). A variable declared inside the
    section (a loop's item) cannot be named at the outer begin; a field read (`self->dict`) may need the
    outer lock to be read at all.
    """
    if len(inner.objects) != 1 or len(outer.objects) != 1:
        return None
    name = _plain_name(inner.objects[0])
    if name is None or name == _plain_name(outer.objects[0]):
        return None
    declared = _declared_at(unit, name, inner.begin_offset)
    if declared is None or declared >= outer.begin_offset:
        return None
    node = inner.begin.parent
    while node is not None and node.start_byte > outer.begin_offset:
        if node.type in _BRANCHES:
            return None
        node = node.parent
    if _written(unit, name, outer.begin_offset, inner.begin_offset):
        return None
    return name


def _same_variable(unit: CUnit, outer, inner) -> bool:
    """Both sections lock one plain variable that nothing assigns between the two begins."""
    if len(inner.objects) != 1 or len(outer.objects) != 1:
        return False
    name = _plain_name(inner.objects[0])
    return name is not None and name == _plain_name(outer.objects[0]) \
        and not _written(unit, name, outer.begin_offset, inner.begin_offset)


def _declares(declaration: Node, name: str) -> bool:
    for declarator in declaration.children_by_field_name("declarator"):
        found = declarator_name(declarator)
        if found is not None and found.type == "identifier" and found.text == name.encode():
            return True
    return False


def _declared_at(unit: CUnit, name: str, offset: int) -> int | None:
    """Where the declaration that `name` means at `offset` starts: the innermost local declared before it
    in an enclosing block (or a `for` header), a parameter (the function's start), or a file-scope
    variable declared earlier. None when the name is none of these (a macro, a header's global, a member).
    """
    node = unit.root.descendant_for_byte_range(offset, offset)
    while node is not None:
        if node.type == "function_definition":
            declarator = function_declarator(node.child_by_field_name("declarator"))
            parameters = declarator.child_by_field_name("parameters") if declarator is not None else None
            if parameters is not None and any(p.type in ("parameter_declaration", "optional_parameter_declaration")
                                              and _declares(p, name) for p in parameters.named_children):
                return node.start_byte
            break
        if node.type in ("compound_statement", "for_statement", "translation_unit"):
            earlier = [c for c in node.named_children
                       if c.type == "declaration" and c.end_byte <= offset and _declares(c, name)]
            if earlier:
                return earlier[-1].start_byte
        node = node.parent
    file_scope = [v for v in unit.globals if v.name == name and v.function is None and v.node.start_byte < offset]
    return file_scope[-1].declaration.start_byte if file_scope else None


def _written(unit: CUnit, name: str, start: int, end: int) -> bool:
    """Whether code in [start, end) assigns `name`, increments it, takes its address, or declares it anew."""
    node = unit.root.descendant_for_byte_range(start, start)
    while node is not None and node.end_byte < end:
        node = node.parent
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if current.type == "declaration" and start <= current.start_byte and _declares(current, name):
            return True  # redeclared in between: a different variable from here on
        if current.type == "identifier" and current.text == name.encode() and start <= current.start_byte < end \
                and is_written(current):
            return True
        stack.extend(c for c in current.named_children if c.end_byte > start and c.start_byte < end)
    return False


class ThreadUnsafeLibcCall(RunTimeRule):
    code = "FT204"
    security_severity = 5.0  # memory corruption (use after free, torn pointer) when it races
    slug = "thread-unsafe-libc-call"
    summary = "Call to a libc function that is not thread-safe"
    severity = Severity.WARNING
    languages = C_LANGUAGES
    what = (
        "Finds calls to libc functions that POSIX does not require to be thread-safe — `strtok`, "
        "`localtime`, `gmtime`, `ctime`, `asctime`, `rand`, `strerror`, `getenv`/`setenv`/`putenv`, "
        "`setlocale`, `readdir`, the `getpwnam` and `gethostbyname` families, `inet_ntoa`, `tmpnam`, and "
        f"more ({len(UNSAFE_LIBC)} in `ftaudit/facts/libc.py`) — in code reachable from Python. Calls made "
        "only during module initialisation, or while a lock is held (CPython's own pattern: a function-local "
        "`static PyMutex` around the call), are not reported; nor are `localtime`, `gmtime`, `ctime`, `asctime`, "
        "`strerror` and `strtok` in a file built only for Windows (it includes `<windows.h>` outside any `#if`), "
        "where Microsoft's C runtime keeps their state per thread."
    )
    why = (
        "These functions return pointers into static buffers or keep hidden state. Under the GIL, extension "
        "code calling them was serialised; on the free-threaded build two threads can call them at once and "
        "read each other's results."
    )
    instead = (
        "Call the re-entrant variant the message names (`localtime_r`, `strtok_r`, `getpwnam_r`, "
        "`strerror_r`, …; `_s` variants on Windows), or wrap the call and the use of its result in a "
        "`PyMutex` (3.13+)."
    )
    suggestion = "Use the re-entrant variant, or hold a `PyMutex` around the call and the use of its result."
    references = ("https://pubs.opengroup.org/onlinepubs/9799919799/functions/V2_chap02.html#tag_16_09_01",
                  "https://clang.llvm.org/extra/clang-tidy/checks/concurrency/mt-unsafe.html",
                  "https://github.com/python/cpython/issues/127081")
    tags = ("free-threading", "libc")
    bad = (
        Example(
            "static PyObject *stamp(PyObject *self, PyObject *args) {\n"
            "    time_t now = time(NULL);\n"
            "    struct tm *tm = localtime(&now);  // <- FT204\n"
            "    return PyLong_FromLong(tm->tm_hour);\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"stamp\", stamp, METH_NOARGS, NULL}, {NULL}};\n",
        ),
    )
    good = (
        Example(
            "static PyObject *stamp(PyObject *self, PyObject *args) {\n"
            "    time_t now = time(NULL);\n"
            "    struct tm tm;\n"
            "    localtime_r(&now, &tm);\n"
            "    return PyLong_FromLong(tm.tm_hour);\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"stamp\", stamp, METH_NOARGS, NULL}, {NULL}};\n",
        ),
        Example(
            "static const char *home;\n"
            "static int module_exec(PyObject *m) { home = getenv(\"HOME\"); return 0; }\n"
            "static PyModuleDef_Slot slots[] = {{Py_mod_exec, module_exec}, {0, NULL}};\n",
            title="Called only during module initialisation",
        ),
        Example(
            "#include <windows.h>\n"
            "static PyObject *describe(PyObject *self, PyObject *arg) {\n"
            "    return PyUnicode_FromString(strerror((int)PyLong_AsLong(arg)));\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"describe\", describe, METH_O, NULL}, {NULL}};\n",
            title="A Windows-only file: Microsoft's C runtime keeps strerror's buffer per thread",
        ),
    )

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        unit, reach, state = ctx.c_unit, ctx.analyses.reach, ctx.analyses.shared_state
        if unit is None or reach is None or state is None:
            return []
        windows = _windows_only(unit)
        found = []
        for call in unit.calls:
            fact = UNSAFE_LIBC.get(call.name)
            if fact is None or call.function is None or (windows and fact.per_thread_on_windows):
                continue
            where = reach.of(call.function)
            if not where.reachable:
                continue
            if unit.lock_state(call.node).locked:
                continue
            if any(lazy.contains(call.node) for lazy in state.done_at_import):
                continue  # `if (-1 == enabled) { getenv(...) }` that module init already ran
            lazy = next((lazy for lazy in state.lazy_inits if lazy.leading and lazy.contains(call.node)), None)
            instead = f"use {fact.replacement}" if fact.replacement else "hold a `PyMutex` around it"
            fix = fact.replacement or "guard the call and the use of its result with a PyMutex"
            found.append(Candidate(
                call.node.child_by_field_name("function") or call.node,
                f"`{call.name}()` is not thread-safe: it {fact.why}; {instead}",
                f"Replace `{call.name}()`: {fix}.",
                roots=where.roots,
                unless_init_calls=lazy.function if lazy is not None else None,
            ))
        return found


def _windows_only(unit: CUnit) -> bool:
    """The file includes <windows.h> outside any #if: it is built for Windows only."""
    return any(d.kind == "include" and "windows.h" in d.text.lower() and not unit.guards_at(d.start)
               for d in unit.directives)


# C API that is documented as safe without an attached thread state (or is a pure macro).
_SAFE_WITHOUT_THREAD_STATE = (
    "PyMem_Raw", "PyMutex_", "PyThread_", "PyEval_RestoreThread", "PyEval_SaveThread", "PyGILState_",
    "Py_BEGIN_ALLOW_THREADS", "Py_END_ALLOW_THREADS", "Py_BLOCK_THREADS", "Py_UNBLOCK_THREADS",
    "Py_MIN", "Py_MAX", "Py_ABS", "Py_ARRAY_LENGTH", "Py_SAFE_DOWNCAST", "Py_CHARMASK", "Py_UNREACHABLE",
    "Py_UNUSED", "Py_STRINGIFY", "Py_IS_NAN", "Py_IS_INFINITY", "Py_IS_FINITE", "Py_ISALPHA", "Py_ISDIGIT",
    "Py_ISSPACE", "Py_ISALNUM", "Py_ISLOWER", "Py_ISUPPER", "Py_TOLOWER", "Py_TOUPPER", "PyOS_snprintf",
    "PyOS_vsnprintf", "PyOS_strtol", "PyOS_strtoul", "PyOS_mystrnicmp", "PyOS_mystricmp", "Py_FatalError",
    "PyUnicode_READ", "PyUnicode_DATA", "PyUnicode_KIND", "PyBytes_AS_STRING", "PyBytes_GET_SIZE",
    "PyByteArray_AS_STRING", "PyBuffer_IsContiguous", "PyBuffer_GetPointer", "PyThreadState_Get",
    "PyThreadState_Swap",  # documented to attach the given thread state; needs none to be attached
    "_Py_atomic_", "Py_IsInitialized", "Py_IsFinalizing", "PyTime_MonotonicRaw", "PyTime_PerfCounterRaw",
    "PyTime_TimeRaw",
)


class CapiCallWithoutThreadState(Rule):
    code = "FT205"
    security_severity = 7.5  # memory corruption (use after free, torn pointer) when it races
    slug = "capi-call-without-thread-state"
    summary = "Python C API call while the thread state is detached"
    severity = Severity.ERROR
    languages = C_LANGUAGES
    what = (
        "Finds calls to `Py*`/`_Py*` functions and macros between `Py_BEGIN_ALLOW_THREADS` and "
        "`Py_END_ALLOW_THREADS` (outside a `Py_BLOCK_THREADS` … `Py_UNBLOCK_THREADS` window) or between "
        "`PyEval_SaveThread()` and `PyEval_RestoreThread()`, except the functions documented as safe without "
        "a thread state (`PyMem_Raw*`, `PyMutex_*`, `PyThread_*`, `PyGILState_*`, the `*Raw` clocks, pure "
        "macros such as `Py_MIN`)."
    )
    why = (
        "Without an attached thread state, the C API must not be called: reference counting, allocation and "
        "exceptions all assume one. It crashes or corrupts memory on every build; on the free-threaded build "
        "it also races with the stop-the-world garbage collector."
    )
    instead = (
        "Move the call before `Py_BEGIN_ALLOW_THREADS` or after `Py_END_ALLOW_THREADS` (save what the "
        "detached code needs in C variables first), or re-attach briefly with `Py_BLOCK_THREADS` … "
        "`Py_UNBLOCK_THREADS`."
    )
    suggestion = "Move the call out of the detached region, or re-attach with `Py_BLOCK_THREADS` first."
    references = ("https://docs.python.org/3/c-api/init.html#releasing-the-gil-from-extension-code", HOWTO)
    tags = ("free-threading", "thread-state", "crash")
    bad = (
        Example(
            "static PyObject *read_all(PyObject *self, PyObject *args) {\n"
            "    ssize_t n;\n"
            "    char buf[4096];\n"
            "    Py_BEGIN_ALLOW_THREADS\n"
            "    n = read(fd, buf, sizeof buf);\n"
            "    if (n < 0) {\n"
            "        PyErr_SetFromErrno(PyExc_OSError);  // <- FT205\n"
            "    }\n"
            "    Py_END_ALLOW_THREADS\n"
            "    return n < 0 ? NULL : PyBytes_FromStringAndSize(buf, n);\n"
            "}\n",
        ),
    )
    good = (
        Example(
            "static PyObject *read_all(PyObject *self, PyObject *args) {\n"
            "    ssize_t n;\n"
            "    char buf[4096];\n"
            "    char *copy;\n"
            "    Py_BEGIN_ALLOW_THREADS\n"
            "    n = read(fd, buf, sizeof buf);\n"
            "    copy = PyMem_RawMalloc(n > 0 ? n : 1);\n"
            "    Py_END_ALLOW_THREADS\n"
            "    if (n < 0) {\n"
            "        return PyErr_SetFromErrno(PyExc_OSError);\n"
            "    }\n"
            "    return PyBytes_FromStringAndSize(buf, n);\n"
            "}\n",
        ),
    )

    def check(self, ctx: FileContext) -> None:
        unit = ctx.c_unit
        if unit is None or not unit.allow_threads_regions:
            return
        for call in unit.calls:
            name = call.name
            if not (name.startswith("Py") or name.startswith("_Py")) or name.startswith(_SAFE_WITHOUT_THREAD_STATE):
                continue
            if not unit.lock_state(call.node).allow_threads:
                continue
            ctx.report(call.node.child_by_field_name("function") or call.node,
                       f"`{name}()` is called while the thread state is detached (inside Py_BEGIN_ALLOW_THREADS "
                       "or after PyEval_SaveThread)")
