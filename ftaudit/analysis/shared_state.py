"""Which writes to process-global C state can race, computed once per file from the source model.

FT201 (unsynchronised writes), FT202 (racy lazy initialisation) and FT108 (a GIL-free declaration
contradicted by racy state) all read this one result. A write races when it is compiled for the
target, sits in a function reachable from Python that is not init-only, and is not under a lock,
inside an atomic operation, or on thread-local/atomic/synchronisation storage.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from tree_sitter import Node

from ftaudit.analysis.memo import per_unit, per_unit_keyed
from ftaudit.analysis.reachability import FileReach, file_reach
from ftaudit.cmodel import CUnit, Tri
from ftaudit.cmodel.declarations import Variable
from ftaudit.cmodel.nodes import descendants, text
from ftaudit.target import Target

# CPython definition tables and synchronisation objects: never data that FT201 is about.
# (CPython's Tools/c-analyzer accepts the same definition types; locks are the protection itself.)
EXEMPT_TYPES = frozenset({
    "PyMethodDef", "PyModuleDef", "PyModuleDef_Slot", "PyMemberDef", "PyGetSetDef", "PyType_Spec",
    "PyType_Slot", "_PyArg_Parser", "PyNumberMethods", "PySequenceMethods", "PyMappingMethods",
    "PyAsyncMethods", "PyBufferProcs", "PyStructSequence_Field", "PyStructSequence_Desc",
    "PyMutex", "PyThread_type_lock", "Py_tss_t", "pthread_mutex_t", "pthread_rwlock_t", "pthread_once_t",
    "pthread_key_t", "pthread_spinlock_t", "mtx_t", "once_flag", "CRITICAL_SECTION", "SRWLOCK",
    "INIT_ONCE", "std::mutex", "std::recursive_mutex", "std::shared_mutex", "std::once_flag",
})
KWLIST_NAME = re.compile(r"^_?(kwlist|kwargs|kwds|keywords|kwnames|kw_list|kwlist_\w+|\w+_kwlist)$")
# Macros that assign their first argument.
WRITING_MACROS = frozenset({"Py_CLEAR", "Py_SETREF", "Py_XSETREF"})
# Functions that write through a pointer argument: name -> indexes written (None: every `&x` argument).
WRITES_THROUGH: dict[str, tuple[int, ...] | None] = {
    "memset": (0,), "memcpy": (0,), "memmove": (0,), "strcpy": (0,), "strncpy": (0,), "strcat": (0,),
    "strncat": (0,), "strlcpy": (0,), "strlcat": (0,), "stpcpy": (0,), "stpncpy": (0,), "memccpy": (0,),
    "wcscpy": (0,), "wcsncpy": (0,), "wmemcpy": (0,), "wmemset": (0,), "wmemmove": (0,),
    "sprintf": (0,), "snprintf": (0,), "vsprintf": (0,), "vsnprintf": (0,),
    "PyOS_snprintf": (0,), "PyOS_vsnprintf": (0,), "bzero": (0,), "ZeroMemory": (0,),
    "sscanf": None, "fscanf": None, "scanf": None, "fread": (0,), "read": (1,), "fgets": (0,),
    "time": (0,), "gettimeofday": (0,), "clock_gettime": (1,), "getrusage": (1,), "stat": (1,),
    "fstat": (1,), "lstat": (1,), "PyErr_Fetch": None, "PyErr_NormalizeException": None,
    "PyArg_ParseTuple": None,
    "PyArg_ParseTupleAndKeywords": None, "PyArg_Parse": None, "PyArg_UnpackTuple": None,
    "PyArg_VaParse": None, "PyArg_VaParseTupleAndKeywords": None, "_PyArg_ParseStack": None,
    "_PyArg_ParseStackAndKeywords": None, "_PyArg_UnpackKeywords": None, "PyArg_ParseArray": None,
    "PyArg_ParseArrayAndKeywords": None,
}
_NULLISH = frozenset({"NULL", "0", "nullptr", "false", "-1", "0L", "0.0", "0.", "0.0f", "FALSE", "Py_None"})


@dataclass(frozen=True)
class GlobalWrite:
    variable: Variable
    node: Node  # the assignment, update, or argument expression
    function: str
    how: str  # "assignment", "increment", "address", "macro", "buffer"
    # Empty: runs at run time for sure. Otherwise: races only if one of these exported functions of
    # this file is called at run time from elsewhere (decided by the project pass).
    roots: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LazyInit:
    variable: Variable
    node: Node  # the if statement that checks the variable
    condition: Node
    function: str
    writes: tuple[GlobalWrite, ...]
    roots: frozenset[str] = frozenset()
    # Every call of the function runs the check (it leads the body) and nothing else writes the
    # variable: once module init has called the function, the branch never runs again.
    leading: bool = False

    def contains(self, node: Node) -> bool:
        consequence = self.node.child_by_field_name("consequence")
        return consequence is not None and consequence.start_byte <= node.start_byte < consequence.end_byte


@dataclass
class SharedState:
    racy_writes: list[GlobalWrite] = field(default_factory=list)  # FT201, lazy-init writes excluded
    lazy_inits: list[LazyInit] = field(default_factory=list)  # FT202
    reach: FileReach | None = None
    done_at_import: list[LazyInit] = field(default_factory=list)  # module init already ran them


def is_shared_storage(variable: Variable) -> bool:
    """Process-global storage: file scope (static or not) or a function-local static."""
    return variable.function is None or variable.storage == "static"


def is_exempt(variable: Variable) -> bool:
    """Storage whose writes cannot race or that FT201 is not about."""
    if variable.thread_local or variable.atomic or variable.deeply_const:
        return True
    base = variable.base_type.replace("struct ", "").replace("const ", "").strip()
    if base in EXEMPT_TYPES or base.startswith("std::atomic") or base.startswith("atomic_"):
        return True
    return bool(KWLIST_NAME.match(variable.name)) and variable.pointer_depth >= 1


def resolve(unit: CUnit, ident: Node, target: Target) -> Variable | None:
    """The declaration a name refers to in the target's build.

    `#ifdef Py_GIL_DISABLED static std::atomic<long> n; #else static long n; #endif` declares `n` twice;
    the free-threaded target compiles the atomic one, whichever comes last in the file.
    """
    variable = unit.type_of(ident)
    if variable is None or unit.compiled(variable.node, target) is not Tri.NO:
        return variable
    for other in unit.globals:
        if (other.name == variable.name and other.function == variable.function
                and unit.compiled(other.node, target) is not Tri.NO):
            return other
    return variable


def root_identifier(node: Node | None) -> Node | None:
    """The variable an lvalue is rooted at: `x`, `x.f`, `x[i]`, `x->f`, `(*x).f`, `*x` -> `x`."""
    while node is not None:
        kind = node.type
        if kind == "identifier":
            return node
        if kind in ("field_expression", "subscript_expression") or kind == "pointer_expression":
            node = node.child_by_field_name("argument")
        elif kind == "binary_expression" and _operator(node) in ("+", "-"):
            node = node.child_by_field_name("left")  # `*(buffer + n)`: pointer arithmetic on `buffer`
        elif kind in ("parenthesized_expression", "cast_expression"):
            node = node.named_children[-1] if node.named_children else None
        else:
            return None
    return None


def _block_of(assignment: Node) -> tuple[int, int] | None:
    """The `{…}` block an assignment statement sits in, when it sits straight in one."""
    statement = assignment.parent
    block = statement.parent if statement is not None and statement.type == "expression_statement" else None
    return (block.start_byte, block.end_byte) if block is not None and block.type == "compound_statement" else None


def _arithmetic(node: Node | None) -> bool:
    """Whether an lvalue reaches its root through `+`/`-` (pointer arithmetic)."""
    while node is not None:
        if node.type == "binary_expression":
            return True
        if node.type in ("pointer_expression", "subscript_expression", "field_expression"):
            node = node.child_by_field_name("argument")
        elif node.type in ("parenthesized_expression", "cast_expression"):
            node = node.named_children[-1] if node.named_children else None
        else:
            return False
    return False


def _operator(node: Node) -> str:
    operator = node.child_by_field_name("operator")
    return operator.type if operator is not None else ""


def _callee_name(unit: CUnit, call: Node) -> str:
    callee = call.child_by_field_name("function")
    return unit.text(callee).replace(" ", "") if callee is not None else ""


def _address_operand(arg: Node) -> Node | None:
    while arg.type in ("parenthesized_expression", "cast_expression"):
        arg = arg.named_children[-1]
    if arg.type == "pointer_expression" and arg.children and arg.children[0].type == "&":
        return arg.child_by_field_name("argument")
    return None


class _Collector:
    def __init__(self, unit: CUnit, target: Target, exempt: Callable[[Variable], bool] = is_exempt) -> None:
        self.unit = unit
        self.target = target
        self.exempt = exempt
        self.writes: list[GlobalWrite] = []
        self._assigned: dict[str, list[Node]] | None = None  # plain `name = …` assignments, by name
        self._alias_cache: dict[tuple[int, str], list[tuple[int, Variable | None, tuple[int, int] | None]]] = {}

    def shared(self, ident: Node | None) -> Variable | None:
        if ident is None or not self.unit.names_storage(text(ident)):
            return None  # a local, a parameter or something declared elsewhere: never this file's shared storage
        variable = resolve(self.unit, ident, self.target)
        if variable is None or not is_shared_storage(variable) or self.exempt(variable):
            return None
        return variable

    def add(self, target_expr: Node | None, node: Node, function: str, how: str) -> None:
        variable = self.pointer_root(target_expr)
        if variable is not None:
            self.writes.append(GlobalWrite(variable, node, function, how))

    def pointer_root(self, expr: Node | None) -> Variable | None:
        """The shared variable an lvalue or destination is rooted at. Through pointer arithmetic
        (`*(buf + n)`, `n + buf`) only an array or pointer operand is the root: `*(g_off + p)` writes
        through `p`, not into `g_off`."""
        variable = self.shared(root_identifier(expr))
        if variable is None or variable.is_array or variable.pointer_depth >= 1 or not _arithmetic(expr):
            return variable
        node = expr
        while node is not None and node.type != "binary_expression":
            node = node.child_by_field_name("argument") if node.type in (
                "pointer_expression", "subscript_expression", "field_expression") else (
                node.named_children[-1] if node.named_children else None)
        other = self.shared(root_identifier(node.child_by_field_name("right"))) if node is not None else None
        return other if other is not None and (other.is_array or other.pointer_depth >= 1) else None

    def call(self, node: Node, function: str) -> bool:
        """Record writes a call makes; True when its arguments must not be searched further."""
        unit = self.unit
        name = _callee_name(unit, node)
        args_node = node.child_by_field_name("arguments")
        args = list(args_node.named_children) if args_node is not None else []
        if _is_atomic(unit, node):
            return True  # an atomic operation on its operands: not a race
        if name in WRITING_MACROS and args:
            self.add(args[0], node, function, "macro")
            return False
        plain = name[5:] if name.startswith("std::") else name
        # A function of the project named like libc (a C++ method `read(slot, key)`) is not libc.
        written = WRITES_THROUGH.get(plain, ()) if plain not in unit.functions else ()
        for index, arg in enumerate(args):
            operand = _address_operand(arg)
            if operand is None:
                if written and index in written:
                    self.buffer(arg, node, function)
                continue
            if written is None or index in written or _writes_out_parameter(unit, name, index, len(args)):
                variable = self.shared(root_identifier(operand))
                if variable is None:
                    continue
                if variable.base_type.endswith("PyTypeObject"):
                    continue  # `&MyType` handed to an API (e.g. "O!" in PyArg_Parse*) is read, not written
                self.writes.append(GlobalWrite(variable, arg, function, "address"))
        return False


    def buffer(self, arg: Node, call: Node, function: str) -> None:
        """`strncpy(title, …)`, `memset(title + n, 0, …)`: a copying call writes the buffer its pointer
        argument points into, when that is a shared array, what a shared pointer points at, or a local
        pointer the function last set from one of those (`char *end = title + len; memset(end, …)`)."""
        ident = root_identifier(arg)
        variable = self.pointer_root(arg)
        if variable is None and ident is not None:
            variable = self._aliased(ident, function)
        stripped = arg
        while stripped.type in ("parenthesized_expression", "cast_expression") and stripped.named_children:
            stripped = stripped.named_children[-1]
        member = stripped.type in ("field_expression", "subscript_expression")  # `g_cfg.name`, `g_rows[i]`
        if variable is not None and (variable.is_array or variable.pointer_depth >= 1 or member) \
                and not variable.base_type.endswith("PyTypeObject"):
            self.writes.append(GlobalWrite(variable, arg, function, "buffer"))

    def _aliased(self, ident: Node, function: str) -> Variable | None:
        """The shared buffer a local pointer points into at ``ident``: what the function last set it to
        before (an assignment, else its initializer), when that is rooted at a shared array or pointer."""
        local = self.unit.type_of(ident)
        if local is None or local.function != function or is_shared_storage(local) or local.pointer_depth < 1:
            return None
        settings = self._settings(local)
        index = bisect_left([start for start, _, _ in settings], ident.start_byte) - 1
        # Back from the use to the setting that decides: one into a shared buffer answers yes; one
        # elsewhere answers no only when it is unconditional for the use (its block holds the use).
        # `p += n`, `p = p + n` and settings under an `if` keep whatever came before.
        while index >= 0:
            _, buffer, block = settings[index]
            if buffer is not None:
                return buffer
            if block is not None and block[0] <= ident.start_byte < block[1]:
                return None
            index -= 1
        return None

    def _settings(self, local: Variable) -> list[tuple[int, Variable | None, tuple[int, int] | None]]:
        """Where a local pointer is set, in order: the shared buffer each setting points it into, and the
        block it is unconditional in (None: it keeps the previous value, `p += n` or `p = p + n`).
        Computed once per local: a function with thousands of `p = …; memcpy(p, …)` stays linear."""
        key = (local.node.start_byte, local.name)
        if key in self._alias_cache:
            return self._alias_cache[key]
        index = self._assigned
        if index is None:
            index = self._assigned = {}
            for node in self.unit.assignments:
                left = node.child_by_field_name("left")
                if left is not None and left.type == "identifier":
                    index.setdefault(self.unit.text(left), []).append(node)
        start, end = local.scope if local.scope != (0, 0) else (local.node.start_byte, 1 << 62)
        settings: list[tuple[int, Variable | None, tuple[int, int] | None]] = [
            (local.node.start_byte, self._buffer_of(local.initializer), (start, end))]
        for assignment in index.get(local.name, ()):
            left = assignment.child_by_field_name("left")
            if not start <= assignment.start_byte < end or left is None or self.unit.type_of(left) is not local:
                continue
            right = assignment.child_by_field_name("right")
            source_root = root_identifier(right)
            keeps = _operator(assignment) != "=" or (
                source_root is not None and self.unit.type_of(source_root) is local)
            settings.append((assignment.start_byte, self._buffer_of(right) if _operator(assignment) == "=" else None,
                             None if keeps else _block_of(assignment)))
        settings.sort(key=lambda item: item[0])
        self._alias_cache[key] = settings
        return settings

    def _buffer_of(self, source: Node | None) -> Variable | None:
        while source is not None and source.type in ("parenthesized_expression", "cast_expression"):
            source = source.named_children[-1] if source.named_children else None
        if source is not None and source.type == "pointer_expression" and source.children \
                and source.children[0].type == "&":
            source = source.child_by_field_name("argument")
        found = self.pointer_root(source)
        return found if found is not None and (found.is_array or found.pointer_depth >= 1) else None


def _writes_out_parameter(unit: CUnit, name: str, index: int, count: int) -> bool:
    # POSIX/C11 re-entrant variants write their result through the last pointer (localtime_r, strtok_r).
    return name.endswith(("_r", "_s")) and index == count - 1


@per_unit
def _atomic_calls(unit: CUnit) -> frozenset[int]:
    """Start offsets of the file's atomic-operation calls."""
    return frozenset(c.node.start_byte for c in unit.calls if unit.is_atomic_call(c))


def _is_atomic(unit: CUnit, node: Node) -> bool:
    return node.start_byte in _atomic_calls(unit)


def collect_writes(unit: CUnit, target: Target, exempt: Callable[[Variable], bool] = is_exempt) -> list[GlobalWrite]:
    """Every write to shared storage inside function bodies, racy or not, each write once; storage that
    ``exempt`` accepts is left out (by default what cannot race: thread-local, atomic, locks, tables).

    The candidates come from the model's one query (assignments, updates, calls); each write is
    owned by its innermost enclosing function definition.
    """
    collector = _Collector(unit, target, exempt)
    for kind, nodes in (("assignment", unit.assignments), ("increment", unit.updates)):
        for node in nodes:
            function = unit.function_at(node)
            if function is None:
                continue
            target_expr = node.child_by_field_name("left" if kind == "assignment" else "argument")
            collector.add(target_expr, node, function.name, kind)
    inside = _inside_atomic_calls(unit)
    for call in unit.calls:
        if call.function is not None and call.node.start_byte not in inside:
            collector.call(call.node, call.function)
    unique: dict[tuple[int, int], GlobalWrite] = {}
    for write in collector.writes:
        unique.setdefault((write.node.start_byte, write.node.end_byte), write)
    return sorted(unique.values(), key=lambda w: w.node.start_byte)


def _inside_atomic_calls(unit: CUnit) -> set[int]:
    """Start offsets of calls nested in the arguments of an atomic operation (they belong to it).

    One sweep over the calls in source order with a stack of the atomic calls still open: call
    ranges nest or are disjoint, so this is linear, where climbing every call's parents was
    quadratic on long expressions."""
    calls = sorted(unit.calls, key=lambda c: (c.node.start_byte, -c.node.end_byte))
    open_atomic: list[int] = []  # end offsets of the enclosing atomic calls
    inside: set[int] = set()
    for call in calls:
        start, end = call.node.start_byte, call.node.end_byte
        while open_atomic and open_atomic[-1] <= start:
            open_atomic.pop()
        if open_atomic and end <= open_atomic[-1]:
            inside.add(start)
        if _is_atomic(unit, call.node):
            open_atomic.append(end)
    return inside


def racy(unit: CUnit, write: GlobalWrite, target: Target, reach: FileReach) -> GlobalWrite | None:
    """The write with its reachability when it can race, else None."""
    where = reach.of(write.function)
    if not where.runtime and reach.in_stored_lambda(write.node):
        where = replace(where, runtime=True)  # a stored lambda runs later, whatever writes it
    if not where.reachable or unit.compiled(write.node, target) is Tri.NO or unit.lock_state(write.node).locked:
        return None
    return replace(write, roots=where.roots)


def _tested_variables(unit: CUnit, condition: Node) -> list[tuple[Node, bool]]:
    """(identifier, tests_unset) for each variable a condition checks for being unset or set, through
    `&&` (`if (can_cache && !cached && value)`) and, for unset checks, `||` (`if (!a || stale)`)."""
    found = []
    todo: list[tuple[Node, bool]] = [(condition, False)]  # (operand, under an `||`): no recursion limit
    while todo:
        node, under_or = todo.pop()
        while node.type == "parenthesized_expression" and node.named_children:
            node = node.named_children[0]
        if node.type == "binary_expression" and _operator(node) in ("&&", "||"):
            either = under_or or _operator(node) == "||"
            todo.extend((side, either) for side in (node.child_by_field_name("right"), node.child_by_field_name("left"))
                        if side is not None)
            continue
        single = _tested_variable(unit, node)
        if single is not None and (single[1] or not under_or):
            found.append(single)
    return found


def _tested_variable(unit: CUnit, condition: Node) -> tuple[Node, bool] | None:
    """(identifier, tests_unset) when a condition checks whether a variable is still unset/set."""
    node = condition
    while node.type == "parenthesized_expression" and node.named_children:
        node = node.named_children[0]
    if node.type == "unary_expression" and node.children and node.children[0].type == "!":
        operand = node.child_by_field_name("argument")
        while operand is not None and operand.type == "parenthesized_expression" and operand.named_children:
            operand = operand.named_children[0]
        return (operand, True) if operand is not None and operand.type == "identifier" else None
    if node.type == "identifier":
        return node, False
    if node.type == "binary_expression":
        operator = node.child_by_field_name("operator")
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if operator is None or left is None or right is None or operator.type not in ("==", "!="):
            return None
        for ident, other in ((left, right), (right, left)):
            if ident.type == "identifier" and unit.text(other).strip() in _NULLISH:
                return ident, operator.type == "=="
    return None


def _returns(node: Node | None) -> bool:
    if node is None:
        return False
    if node.type == "return_statement":
        return True
    if node.type == "compound_statement":
        return any(c.type == "return_statement" for c in node.named_children)
    return False


def _accumulates(write: GlobalWrite) -> bool:
    """`hits++`, `misses += 1`: a counter updated beside an initialisation, not part of it."""
    return write.how == "increment" or (write.how == "assignment" and _operator(write.node) not in ("=", ""))


def _is_reset(unit: CUnit, write: GlobalWrite) -> bool:
    """`Py_CLEAR(cb)` or `cb = NULL`: the write empties the variable, it does not initialise it."""
    node = write.node
    if write.how == "macro" and node.type == "call_expression":
        return _callee_name(unit, node) == "Py_CLEAR"
    if write.how == "assignment" and node.type == "assignment_expression":
        right = node.child_by_field_name("right")
        while right is not None and right.type in ("parenthesized_expression", "cast_expression"):
            right = right.child_by_field_name("value") if right.type == "cast_expression" else (
                right.named_children[0] if right.named_children else None)
        return right is not None and (right.type in ("null", "nullptr") or unit.text(right).strip() in ("NULL", "0"))
    return False


def _always_sets(unit: CUnit, check: Node, variable: Variable) -> bool:
    """The branch always leaves the variable set: a plain statement of its block assigns it a value
    that is not a call (`enabled = (d && *d) ? 1 : 0;`). An init that can fail and leave it unset
    (`t = PyObject_GetAttrString(...)`) is tried again at run time, where it races."""
    consequence = check.child_by_field_name("consequence")
    statements = consequence.named_children if consequence is not None and consequence.type == "compound_statement" \
        else [consequence] if consequence is not None else []
    for statement in statements:
        if statement.type != "expression_statement" or not statement.named_children:
            continue
        assignment = statement.named_children[0]
        if assignment.type != "assignment_expression":
            continue
        left, right = assignment.child_by_field_name("left"), assignment.child_by_field_name("right")
        if left is not None and unit.text(left).strip() == variable.name and right is not None \
                and right.type != "call_expression" \
                and not any(n.type == "call_expression" for n in descendants(right)):
            return True
    return False


def _leads(body: Node, statement: Node) -> bool:
    """``statement`` is a statement of ``body`` itself and nothing before it can leave the function."""
    for child in body.named_children:
        if child == statement:
            return True
        if any(n.type in ("return_statement", "goto_statement", "throw_statement") for n in descendants(child)):
            return False
    return False


def _lazy_check(unit: CUnit, check: Node, condition: Node, racy_writes: list[GlobalWrite], claimed: set[int],
                target: Target) -> tuple[Variable, bool, list[GlobalWrite]] | None:
    """(variable, tests_unset, the racy writes it guards) when the `if` is a check-then-set of a shared
    variable that the guarded code really sets (not only clears)."""
    for ident, tests_unset in _tested_variables(unit, condition):
        variable = resolve(unit, ident, target)
        if variable is None or not is_shared_storage(variable) or is_exempt(variable):
            continue
        consequence = check.child_by_field_name("consequence")
        if tests_unset:
            region = [consequence] if consequence is not None else []
        elif _returns(consequence):  # `if (cache) return cache; cache = build();`
            region, sibling = [], check.next_named_sibling
            while sibling is not None:
                region.append(sibling)
                sibling = sibling.next_named_sibling
        else:
            continue
        # The initialisation: writes the check guards, but not a counter bumped beside it (`hits++`),
        # which stays an FT201 finding of its own.
        inside = [w for w in racy_writes if id(w) not in claimed
                  and any(r.start_byte <= w.node.start_byte < r.end_byte for r in region)
                  and (w.variable is variable or not _accumulates(w))]
        if any(w.variable is variable and not _is_reset(unit, w) for w in inside):
            return variable, tests_unset, inside
    return None


@per_unit_keyed
def analyse(unit: CUnit, target: Target) -> SharedState:
    """The racy writes and lazy initialisations of one file (computed once per unit and target)."""
    reach = file_reach(unit)
    racy_writes = [r for r in (racy(unit, w, target, reach) for w in collect_writes(unit, target)) if r]
    lazy: list[LazyInit] = []
    claimed: set[int] = set()
    for function in unit.function_list:
        if function.body is None or not any(w.function == function.name for w in racy_writes):
            continue
        for node in descendants(function.body):
            if node.type != "if_statement":
                continue
            condition = node.child_by_field_name("condition")
            if condition is None:
                continue
            found = _lazy_check(unit, node, condition, racy_writes, claimed, target)
            if found is None:
                continue
            variable, tests_unset, inside = found
            # Every racy write the pattern guards is part of the one initialisation, reported once.
            claimed.update(id(w) for w in inside)
            leading = tests_unset and _leads(function.body, node) and _always_sets(unit, node, variable) and all(
                any(w is v for v in inside) for w in racy_writes if w.variable is variable)
            lazy.append(LazyInit(variable, node, condition, function.name, tuple(inside), inside[0].roots, leading))
    # Lazy initialisations module init already performed (it calls the function on every import):
    # at run time the check only ever finds the variable set.
    done = [entry for entry in lazy if entry.leading and entry.function in reach.init_calls]
    lazy = [entry for entry in lazy if not any(entry is d for d in done)]
    return SharedState([w for w in racy_writes if id(w) not in claimed], lazy, reach, done)
