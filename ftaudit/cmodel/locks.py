"""Which locks, critical sections and detached-thread-state regions are in force at a statement.

One forward pass per function body computes the state at every statement ("must" analysis: a
lock counts as held only where every path into the statement holds it); ``lock_state`` then
finds the innermost recorded statement around a node by one bisect over their byte ranges
(walking ``node.parent`` would cost O(depth) parents of O(depth) each: a 3,000-term expression
took minutes).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from tree_sitter import Node

from ftaudit.cmodel.conditions import Tri
from ftaudit.cmodel.guards import Guard, GuardIndex
from ftaudit.cmodel.nodes import compact, flat, named, strip, strip_address, text
from ftaudit.cmodel.normalise import CS_BEGIN_KINDS, CS_END_KINDS, MacroEvent
from ftaudit.target import Target

# Acquire/release functions -> lock family. The first argument is the lock.
ACQUIRE: dict[str, str] = {
    "PyMutex_Lock": "PyMutex",
    "PyThread_acquire_lock": "PyThread_lock",
    "PyThread_acquire_lock_timed": "PyThread_lock",
    "pthread_mutex_lock": "pthread_mutex",
    "pthread_rwlock_rdlock": "pthread_rwlock",
    "pthread_rwlock_wrlock": "pthread_rwlock",
    "pthread_spin_lock": "pthread_spin",
    "mtx_lock": "c11_mtx",
    "EnterCriticalSection": "win_critical_section",
    "AcquireSRWLockExclusive": "srwlock",
    "AcquireSRWLockShared": "srwlock",
    "sqlite3_mutex_enter": "sqlite3_mutex",
    "uv_mutex_lock": "uv_mutex",
    "g_mutex_lock": "g_mutex",
    "omp_set_lock": "omp_lock",
}
RELEASE: dict[str, str] = {
    "PyMutex_Unlock": "PyMutex",
    "PyThread_release_lock": "PyThread_lock",
    "pthread_mutex_unlock": "pthread_mutex",
    "pthread_rwlock_unlock": "pthread_rwlock",
    "pthread_spin_unlock": "pthread_spin",
    "mtx_unlock": "c11_mtx",
    "LeaveCriticalSection": "win_critical_section",
    "ReleaseSRWLockExclusive": "srwlock",
    "ReleaseSRWLockShared": "srwlock",
    "sqlite3_mutex_leave": "sqlite3_mutex",
    "uv_mutex_unlock": "uv_mutex",
    "g_mutex_unlock": "g_mutex",
    "omp_unset_lock": "omp_lock",
}
# Try-lock calls: inside a macro that leaves (returns or jumps) when they fail, the code after the
# macro holds the lock (apsw's `DBMUTEX_ENSURE(self)`: `if (sqlite3_mutex_try(m) != SQLITE_OK) return`).
TRY_ACQUIRE: dict[str, str] = {
    "sqlite3_mutex_try": "sqlite3_mutex",
    "pthread_mutex_trylock": "pthread_mutex",
    "mtx_trylock": "c11_mtx",
    "TryEnterCriticalSection": "win_critical_section",
    "TryAcquireSRWLockExclusive": "srwlock",
}
# C++ RAII guards (last component of the type name): held from the declaration to the end of
# the enclosing block. nanobind's object guards are critical sections on Python objects.
SCOPED_LOCK_TYPES = frozenset({"lock_guard", "scoped_lock", "unique_lock", "shared_lock", "ft_lock_guard"})
SCOPED_CRITICAL_SECTION_TYPES = frozenset({"ft_object_guard", "ft_object2_guard"})
MEMBER_LOCK = frozenset({"lock", "lock_shared"})
MEMBER_UNLOCK = frozenset({"unlock", "unlock_shared"})
DEFERRED = ("defer_lock", "try_to_lock")

ATOMIC_PREFIXES = (
    "atomic_",
    "__atomic_",
    "__sync_",
    "_Py_atomic_",
    "Interlocked",
    "_Interlocked",
    "std::atomic_",
)
ATOMIC_METHODS = frozenset(
    {
        "load",
        "store",
        "exchange",
        "compare_exchange_weak",
        "compare_exchange_strong",
        "fetch_add",
        "fetch_sub",
        "fetch_and",
        "fetch_or",
        "fetch_xor",
        "fetch_max",
        "fetch_min",
        "test_and_set",
        "clear",
        "wait",
        "notify_one",
        "notify_all",
    }
)


@dataclass(frozen=True, slots=True)
class HeldLock:
    """One lock in force. Equality is (kind, expr): the same lock taken on two paths is one lock."""

    kind: str  # "PyMutex", "pthread_mutex", "scoped", "critical_section", ...
    expr: str  # the lock object as written, address-of and parens stripped: "self->mutex"
    origin: int = field(default=0, compare=False)  # byte offset of what acquired it
    scope: int | None = field(default=None, compare=False)  # block id for block-scoped locks
    var: str | None = field(default=None, compare=False)  # C++ guard variable
    region: int | None = field(default=None, compare=False)  # critical-section region key


@dataclass(frozen=True, slots=True)
class LockState:
    locks: tuple[HeldLock, ...] = ()
    allow_threads: bool = False  # the thread state is detached (Py_BEGIN_ALLOW_THREADS, SaveThread)

    @property
    def held(self) -> tuple[str, ...]:
        """Every lock expression held, critical-section objects included."""
        return tuple(lock.expr for lock in self.locks)

    @property
    def critical_sections(self) -> tuple[str, ...]:
        return tuple(lock.expr for lock in self.locks if lock.kind == "critical_section")

    @property
    def locked(self) -> bool:
        return bool(self.locks)


EMPTY_STATE = LockState()


@dataclass(slots=True, eq=False)
class CriticalSectionRegion:
    """A ``Py_BEGIN_CRITICAL_SECTION*`` ... ``Py_END_CRITICAL_SECTION*`` pair (or a lone begin).

    ``begin``/``end`` are the macro call nodes; when the macros were written without ';' the
    normaliser turned the pair into a block, and ``begin`` is that compound_statement.
    """

    begin: Node
    end: Node | None
    kind: str  # "1", "2", "mutex", "mutex2" (or "guard" for C++ RAII object guards)
    end_kind: str | None  # "1" or "2"
    objects: tuple[str, ...]
    function: str | None
    block: Node | None  # the block the begin macro sits in
    begin_offset: int
    end_offset: int | None = None
    name: str = ""

    @property
    def matched(self) -> bool:
        """The end macro fits the begin macro (``...2`` with ``END2``, single with ``END``)."""
        if self.end_kind is None:
            return False
        return (self.kind in ("2", "mutex2")) == (self.end_kind == "2")


@dataclass(slots=True, eq=False)
class AllowThreadsRegion:
    """Code run with the thread state detached: the ALLOW_THREADS macros or SaveThread/RestoreThread."""

    kind: str  # "macro" or "save-restore"
    begin_offset: int
    end_offset: int | None
    function: str | None
    block: Node | None  # the { } block the macros became, or the block holding the calls
    begin: Node | None = None  # the SaveThread call (save-restore regions)
    end: Node | None = None


_LEAVES = re.compile(r"\b(?:return|goto)\b")
_CAS = re.compile(r"(?i)compare_and_swap|compare_exchange|CompareExchange")
_CONSTANT = re.compile(r"^(?:\(\s*[\w\s*]+\)\s*)*(?:NULL|nullptr|true|false|0[xX][0-9a-fA-F]+|\d+)[uUlL]*$")


def _constant(node: Node) -> bool:
    """`NULL`, `0`, `(void *)1`: the fixed values a spin lock swaps between."""
    return _CONSTANT.match(" ".join(text(node).split())) is not None
_CALLEE = re.compile(r"\b[A-Za-z_]\w*(?=\s*\()")
_CALL_IN_BODY = re.compile(r"\b([A-Za-z_]\w*)\s*\(\s*&?\s*\(?\s*([^,()]*)")
# All-caps macro names from other headers that read as lock operations (Pillow's MUTEX_LOCK(&m) /
# MUTEX_UNLOCK(&m), ACQUIRE_LOCK(x) / RELEASE_LOCK(x)); lower-case names are not guessed at.
_CAPS_ACQUIRE = re.compile(r"^[A-Z0-9_]*(?<![A-Z])(?:LOCK|ACQUIRE)(?:_[A-Z0-9_]*)?$")
_CAPS_RELEASE = re.compile(r"^[A-Z0-9_]*(?:UNLOCK|RELEASE)[A-Z0-9_]*$")


# What may make the lock walk change state, as bytes to look for in a function body before walking it
# (``bytes.find``: a regex over every body cost more than the walks it saved). Every name of the tables
# above holds one of them, and so do all-caps lock-like macros, critical sections, thread-state calls and
# macros, C++ guards and member locks and compare-and-swap loops. Generous on purpose: a body that holds
# one is walked; one that holds none would be taken to hold no lock.
MAY_LOCK_LOWER = (b"lock", b"mutex", b"criticalsection", b"critical_section", b"ft_object", b"savethread",
                  b"restorethread", b"threads", b"compare_and_swap", b"compare_exchange", b"compareexchange")
MAY_LOCK_EXACT = (b"ACQUIRE", b"RELEASE")
assert all(any(k in name.lower().encode() for k in MAY_LOCK_LOWER) for name in (*ACQUIRE, *RELEASE, *TRY_ACQUIRE))


class MacroText(Protocol):
    """What lock_macros reads of a macro (the file's own, or a header's from ``preprocess``)."""

    @property
    def name(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def is_function_like(self) -> bool: ...


def lock_macros(macros: Iterable[MacroText]) -> dict[str, tuple[str, str, str | None]]:
    """Same-file macros that take or release a known lock: name -> (op, kind, lock expression).

    ``#define LOCK_LAPACK_LITE PyMutex_Lock(&lapack_lite_lock)`` (numpy) is used as a statement;
    the expression is the body's argument for object-like macros, and the use site's first
    argument for function-like ones.
    """
    found: dict[str, tuple[str, str, str | None]] = {}
    macros = list(macros)
    for macro in macros:
        leaves = _LEAVES.search(macro.body) is not None
        for start in _CALLEE.finditer(macro.body):  # every callee, `if (try_lock(m))` too
            match = _CALL_IN_BODY.match(macro.body, start.start())
            if match is None:
                continue
            callee, argument = match.group(1), match.group(2).strip().rstrip(")").strip()
            expr = None if macro.is_function_like else argument
            if callee in ACQUIRE:
                found[macro.name] = ("acquire", ACQUIRE[callee], expr)
            elif callee in RELEASE:
                found[macro.name] = ("release", RELEASE[callee], expr)
            elif callee in TRY_ACQUIRE and leaves and macro.name not in found:
                found[macro.name] = ("acquire", TRY_ACQUIRE[callee], expr)
    # A macro that only forwards to a lock macro is one too: `DBMUTEX_ENSURE(c)` is
    # `DBMUTEX_ENSURE_RETURN(1, (c), NULL)`. The lock is the use site's argument then.
    for _ in range(4):
        grew = False
        for macro in macros:
            if macro.name in found:
                continue
            callees = [m.group() for m in _CALLEE.finditer(macro.body)]
            inner = [found[c] for c in callees if c in found]
            if len(inner) == 1:
                op, kind, expr = inner[0]
                found[macro.name] = (op, kind, expr if not macro.is_function_like else None)
                grew = True
        if not grew:
            break
    return found


def guessed_lock_op(name: str) -> str | None:
    """'acquire'/'release' for an unknown all-caps macro that reads as a lock operation."""
    if not name.isupper() or name in ACQUIRE or name in RELEASE:
        return None
    if _CAPS_RELEASE.match(name):
        return "release"
    if _CAPS_ACQUIRE.match(name) and "TRY" not in name:
        return "acquire"
    return None


class LockAnalysis:
    """Runs the per-function pass and keeps the state of every statement."""

    def __init__(
        self,
        events: dict[int, MacroEvent],
        guards: GuardIndex,
        target: Target,
        defines: dict[str, int | None],
    ) -> None:
        self.events = events
        self.guards = guards
        self.target = target
        self.defines = defines
        self.macro_locks: dict[str, tuple[str, str, str | None]] = {}
        # Same-file helpers that take or drop a lock for their caller (`enter_table_lock()`):
        # name -> (op, kind, lock expression); found by a first pass, used by the second.
        self.wrappers: dict[str, tuple[str, str, str | None]] = {}
        self.exit_states: dict[str, LockState] = {}
        self.unmatched_releases: dict[str, list[tuple[str, str]]] = {}
        self.states: dict[int, LockState] = {}  # node id -> state at that statement
        self._spans: dict[int, tuple[int, int]] = {}  # node id -> its byte range
        self._index: _Innermost | None = None
        self._ordered: list[LockState] = []  # states in the order of ``_index``'s ranges
        self.critical_sections: list[CriticalSectionRegion] = []
        self.stray_critical_section_ends: list[Node] = []
        self.allow_threads_regions: list[AllowThreadsRegion] = []

    def run(self, function: str, body: Node) -> None:
        self.exit_states[function] = _Walk(self, function, body).run() or EMPTY_STATE

    def find_wrappers(self) -> dict[str, tuple[str, str, str | None]]:
        """Functions that end holding a lock they took, or that release one they did not take."""
        found: dict[str, tuple[str, str, str | None]] = {}
        for function, state in self.exit_states.items():
            held = [lock for lock in state.locks if lock.kind not in ("critical_section", "scoped")]
            if held:
                found[function] = ("acquire", held[-1].kind, held[-1].expr)
        for function, releases in self.unmatched_releases.items():
            if function not in found and releases:
                found[function] = ("release", releases[0][0], releases[0][1])
        return found

    def record(self, node: Node, state: LockState) -> None:
        self.states[node.id] = state
        self._spans.setdefault(node.id, (node.start_byte, node.end_byte))
        self._index = None

    def state_at(self, node: Node) -> LockState:
        """The state at the innermost recorded statement containing ``node`` (the node itself first)."""
        state = self.states.get(node.id)
        if state is not None:
            return state
        if self._index is None:
            self._index = _Innermost(list(self._spans.values()))
            self._ordered = list(self.states.values())
        found = self._index.find(node.start_byte, node.end_byte)
        return self._ordered[found] if found >= 0 else EMPTY_STATE


class _Innermost:
    """The innermost of a set of byte ranges that contains a given range, by one bisect.

    The ranges are statements of one tree, so they nest or are disjoint: which one is innermost
    changes only at their starts and ends, and a sorted list of those boundaries answers for any
    byte. A range that starts at a boundary but is wider than the answer (the query node encloses
    the statement found) moves outwards through the enclosing ranges.
    """

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.spans = spans
        self.outer = [-1] * len(spans)
        self.bounds: list[int] = []
        self.owners: list[int] = []
        open_: list[int] = []
        # Outer before inner; for equal ranges the later-recorded (deeper) one ends up innermost.
        for index in sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1], i)):
            start = spans[index][0]
            self._close(open_, start)
            self.outer[index] = open_[-1] if open_ else -1
            self._mark(start, index)
            open_.append(index)
        self._close(open_, None)

    def _close(self, open_: list[int], position: int | None) -> None:
        while open_ and (position is None or self.spans[open_[-1]][1] <= position):
            done = open_.pop()
            self._mark(self.spans[done][1], open_[-1] if open_ else -1)

    def _mark(self, position: int, owner: int) -> None:
        if self.bounds and self.bounds[-1] == position:
            self.owners[-1] = owner
        else:
            self.bounds.append(position)
            self.owners.append(owner)

    def find(self, start: int, end: int) -> int:
        """Index of the innermost range containing [start, end), or -1."""
        at = bisect_right(self.bounds, start) - 1
        owner = self.owners[at] if at >= 0 else -1
        while owner >= 0 and not (self.spans[owner][0] <= start and end <= self.spans[owner][1]):
            owner = self.outer[owner]
        return owner


def _meet(states: Iterable[LockState | None]) -> LockState | None:
    live = [state for state in states if state is not None]
    if not live:
        return None
    first = live[0]
    if all(state is first or state == first for state in live[1:]):
        return first
    locks = tuple(lock for lock in first.locks if all(lock in state.locks for state in live[1:]))
    return LockState(locks, all(state.allow_threads for state in live))


def _meet_alternatives(outs: list[LockState | None], entry: LockState) -> LockState | None:
    """Join of `#if`/`#else` alternatives: exactly one of them is compiled, so when every one takes
    a new lock (`pthread_mutex_lock` on POSIX, `EnterCriticalSection` on Windows), a lock is held
    after them whichever it is; otherwise the ordinary meet."""
    met = _meet(outs)
    live = [out for out in outs if out is not None]
    if met is None or not live or len(live) < 2:
        return met
    added = [[lock for lock in out.locks if lock not in entry.locks and lock not in met.locks] for out in live]
    if all(added):
        return replace(met, locks=(*met.locks, added[0][-1]))
    return met


@dataclass(slots=True)
class _Jumps:
    """Where break/continue states go."""

    is_loop: bool
    blocks: int  # how many blocks were open when the loop/switch started
    breaks: list[LockState] = field(default_factory=list)
    continues: list[LockState] = field(default_factory=list)


_SKIP = frozenset({"comment", "{", "}", ";"})
_LOOPS = frozenset({"while_statement", "for_statement", "for_range_loop", "do_statement"})
_PREPROC_BRANCHES = frozenset(
    {"preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef", "preproc_else"}
)


class _Chain:
    """Which branch of an ``#if`` chain is taken, the earlier branches' conditions evaluated once
    each as the walk moves down the chain (``Guard.evaluate`` re-reads them all: 10,000 ``#elif``s
    would be 50 million evaluations)."""

    def __init__(self, target: Target, defines: dict[str, int | None]) -> None:
        self.target = target
        self.defines = defines
        self.last: Guard | None = None
        self.prior = Tri.YES  # every branch up to ``last`` is false

    def taken(self, guard: Guard) -> Tri:
        if guard.previous is None or guard.previous is not self.last:
            self.prior = guard.prior(self.target, self.defines)  # not walked in order: from scratch
        elif self.last is not None and self.prior is not Tri.NO:
            self.prior = self.prior & ~self.last.own(self.target, self.defines)
        self.last = guard
        if self.prior is Tri.NO or guard.kind == "else":
            return self.prior
        return self.prior & guard.own(self.target, self.defines)


class _Walk:
    def __init__(self, analysis: LockAnalysis, function: str, body: Node) -> None:
        self.a = analysis
        self.function = function
        self.body = body
        self.labels: dict[str, list[LockState]] = {}
        self.jumps: list[_Jumps] = []
        self.blocks: list[Node] = []
        self.open_saves: list[AllowThreadsRegion] = []
        self.open_sections: dict[int, CriticalSectionRegion] = {}
        self.deferred_guards: dict[str, str] = {}  # unique_lock variable -> mutex

    def run(self) -> LockState | None:
        """The state when the body falls through its end (None: it never does)."""
        return self.statement(self.body, EMPTY_STATE)

    # -- statements -------------------------------------------------------------------------------
    def sequence(self, children: Iterable[Node], state: LockState | None) -> LockState | None:
        for child in children:
            if child.type in _SKIP or not child.is_named:
                continue
            state = self.statement(child, state)
        return state

    def statement(self, node: Node, state: LockState | None) -> LockState | None:
        kind = node.type
        if kind == "labeled_statement":
            label = text(node.child_by_field_name("label"))
            state = _meet([state, *self.labels.get(label, [])]) or EMPTY_STATE
            self.a.record(node, state)
            inner = [c for c in named(node) if c.type != "statement_identifier"]
            return self.sequence(inner, state)
        if state is None:
            state = EMPTY_STATE  # unreachable, or reached by a backward goto: assume nothing
        self.a.record(node, state)
        if kind == "compound_statement":
            return self.compound(node, state)
        if kind == "if_statement":
            return self.if_statement(node, state)
        if kind in _LOOPS:
            return self.loop(node, state)
        if kind == "switch_statement":
            return self.switch(node, state)
        if kind in ("return_statement", "throw_statement", "co_return_statement"):
            return None
        if kind in ("break_statement", "continue_statement"):
            if self.jumps:
                target = self.jumps[-1]
                if kind == "continue_statement":
                    target = next((j for j in reversed(self.jumps) if j.is_loop), target)
                out = self.leave_blocks(state, target.blocks)
                (target.continues if kind == "continue_statement" else target.breaks).append(out)
            return None
        if kind == "goto_statement":
            label = text(node.child_by_field_name("label"))
            self.labels.setdefault(label, []).append(self.leave_blocks(state, 1))
            return None
        if kind in ("expression_statement", "declaration"):
            return self.simple(node, state)
        if kind in ("preproc_if", "preproc_ifdef"):
            return self.preproc(node, state)
        if kind in ("try_statement", "seh_try_statement"):
            outs = [self.statement(c, state) for c in named(node) if c.type == "compound_statement"]
            for clause in named(node):
                if clause.type in ("catch_clause", "seh_except_clause", "seh_finally_clause"):
                    body = clause.child_by_field_name("body")
                    if body is not None:
                        outs.append(self.statement(body, state))
            return _meet(outs)
        if kind in ("ERROR", "attributed_statement", "linkage_specification", "case_statement"):
            return self.sequence(named(node), state)
        return state

    def compound(self, node: Node, state: LockState) -> LockState | None:
        entry = state
        event = self.a.events.get(node.start_byte)
        section: CriticalSectionRegion | None = None
        if event is not None and event.form == "block":
            if event.action == "open":
                state = replace(state, allow_threads=True)
                self.a.allow_threads_regions.append(
                    AllowThreadsRegion("macro", event.start, event.partner, self.function, node)
                )
            elif event.action == "cs-open":
                section = self.begin_section(
                    node,
                    event.name,
                    event.args,
                    state,
                    self.blocks[-1] if self.blocks else None,
                    scope=node.id,
                )
                state = self.with_section(state, section, node.id)
                self.a.record(node, entry)
        self.blocks.append(node)
        out = self.sequence(node.named_children, state)
        self.blocks.pop()
        # Sections begun in this block end with it (their macros are a brace pair).
        for key in [
            k for k, r in self.open_sections.items() if r.block is not None and r.block.id == node.id
        ]:
            del self.open_sections[key]
        if section is not None:
            closer = self.a.events.get(event.partner) if event and event.partner is not None else None
            section.end = node
            section.end_offset = event.partner if event else None
            section.end_kind = CS_END_KINDS.get(closer.name) if closer else None
        if out is None:
            return None
        out = self.drop_scope(out, node.id)
        if event is not None and event.form == "block" and event.action == "open":
            out = replace(out, allow_threads=entry.allow_threads)
        return out

    def if_statement(self, node: Node, state: LockState) -> LockState | None:
        """An ``if`` and its ``else if`` chain, walked as a loop (a 4,000-branch chain is not
        4,000 nested calls); the meet of all branches equals the nested meets."""
        outs: list[LockState | None] = []
        while True:
            consequence = node.child_by_field_name("consequence")
            alternative = node.child_by_field_name("alternative")
            outs.append(self.statement(consequence, state) if consequence is not None else state)
            if alternative is None:
                outs.append(state)
                break
            inner = named(alternative) if alternative.type == "else_clause" else [alternative]
            if len(inner) == 1 and inner[0].type == "if_statement":
                node = inner[0]
                self.a.record(node, state)
                continue
            outs.append(self.sequence(inner, state) if alternative.type == "else_clause"
                        else self.statement(alternative, state))
            break
        return _meet(outs)

    def loop(self, node: Node, state: LockState) -> LockState | None:
        spun = self.spin(node, state)
        if spun is not None:
            return spun
        jumps = _Jumps(True, len(self.blocks))
        self.jumps.append(jumps)
        body = node.child_by_field_name("body")
        out = self.statement(body, state) if body is not None else state
        self.jumps.pop()
        if node.type == "do_statement":
            return _meet([out, *jumps.continues, *jumps.breaks])
        endless = node.type == "for_statement" and node.child_by_field_name("condition") is None
        endless = endless or (
            node.type == "while_statement"
            and flat(node.child_by_field_name("condition")) in ("(1)", "(true)")
        )
        if endless:
            return _meet(jumps.breaks)
        return _meet([state, *jumps.breaks])

    def spin(self, node: Node, state: LockState) -> LockState | None:
        """`while (!compare_and_swap(&lock, 0, 1)) {}`: a spin lock on `lock`, held after the loop; the
        same loop on a lock already held releases it (cffi's `_cffi_acquire_reentrant_mutex`). None when
        the loop is not one."""
        if node.type not in ("while_statement", "do_statement"):
            return None
        condition = strip(node.child_by_field_name("condition"))
        if condition is None or condition.type != "unary_expression" or text(condition)[:1] != "!":
            return None
        call = strip(condition.child_by_field_name("argument"))
        callee = text(call.child_by_field_name("function")) if call is not None else ""
        if call is None or call.type != "call_expression" or not _CAS.search(callee):
            return None
        arguments = call.child_by_field_name("arguments")
        args = named(arguments) if arguments is not None else []
        if len(args) < 3 or not all(_constant(arg) for arg in args[1:3]):
            return None  # `while (!cas(&n, &old, old + 1))` updates a value lock-free: no lock
        lock = strip_address(text(args[0]))
        held = any(held.kind == "spin" and held.expr == lock for held in state.locks)
        if held:
            return self.release(state, "spin", lock)
        return replace(state, locks=(*state.locks, HeldLock("spin", lock, node.start_byte)))

    def switch(self, node: Node, state: LockState) -> LockState | None:
        body = node.child_by_field_name("body")
        if body is None:
            return state
        jumps = _Jumps(False, len(self.blocks))
        self.jumps.append(jumps)
        self.a.record(body, state)
        fallthrough: LockState | None = None
        has_default = False
        for child in named(body):
            if child.type == "case_statement":
                has_default = has_default or child.child_by_field_name("value") is None
                met = _meet([state, fallthrough]) if fallthrough is not None else None
                entry = met if met is not None else state  # the meet of live states is live
                self.a.record(child, entry)
                statements = [c for c in named(child) if c != child.child_by_field_name("value")]
                fallthrough = self.sequence(statements, entry)
            else:
                fallthrough = self.statement(child, fallthrough or state)
        self.jumps.pop()
        exits = [fallthrough, *jumps.breaks]
        if not has_default:
            exits.append(state)
        return _meet(exits)

    def preproc(self, node: Node, state: LockState) -> LockState | None:
        """``#if`` branches inside a body: evaluated for the target when possible."""
        outs: list[LockState | None] = []
        branch: Node | None = node
        taken_yes = saw_else = False
        chain = _Chain(self.a.target, self.a.defines)
        while branch is not None and branch.type in _PREPROC_BRANCHES | {"preproc_if", "preproc_ifdef"}:
            guard = self.a.guards.opened.get(branch.start_byte)
            tri = chain.taken(guard) if guard is not None else Tri.MAYBE
            saw_else = saw_else or branch.type == "preproc_else"
            condition = branch.child_by_field_name("condition")
            name = branch.child_by_field_name("name")
            alternative = branch.child_by_field_name("alternative")
            statements = [c for c in named(branch) if c not in (condition, name, alternative)]
            self.a.record(branch, state)
            out = self.sequence(statements, state)
            if tri is Tri.YES:
                outs = [out]
                taken_yes = True
                break
            if tri is Tri.MAYBE:
                outs.append(out)
            branch = alternative
        if not taken_yes and not saw_else:
            outs.append(state)
        if not outs:
            return state
        return _meet_alternatives(outs, state)

    # -- events -----------------------------------------------------------------------------------
    def simple(self, node: Node, state: LockState) -> LockState | None:
        event = self.a.events.get(node.start_byte)
        if event is not None and event.form == "placeholder":
            return self.placeholder(node, event, state)
        for call in _top_level_calls(node):
            state = self.call(call, state, node)
        if node.type == "expression_statement" and node.named_children:
            only = node.named_children[0]
            if only.type == "identifier" and text(only) in self.a.macro_locks:  # `LOCK_LAPACK_LITE;`
                state = self.macro_lock(text(only), None, only, state)
        if node.type == "declaration":
            state = self.declaration(node, state)
        return state

    def placeholder(self, node: Node, event: MacroEvent, state: LockState) -> LockState:
        name = event.name
        if name in ("Py_BEGIN_ALLOW_THREADS", "Py_UNBLOCK_THREADS"):
            if name == "Py_BEGIN_ALLOW_THREADS":
                self.a.allow_threads_regions.append(
                    AllowThreadsRegion(
                        "macro", event.start, None, self.function, self.blocks[-1] if self.blocks else None
                    )
                )
            return replace(state, allow_threads=True)
        if name in ("Py_END_ALLOW_THREADS", "Py_BLOCK_THREADS"):
            return replace(state, allow_threads=False)
        if event.action == "cs-open":
            section = self.begin_section(
                node, name, event.args, state, self.blocks[-1] if self.blocks else None
            )
            return self.with_section(state, section, self.blocks[-1].id if self.blocks else None)
        if event.action == "cs-close":
            return self.end_section(node, name, state)
        return state

    def call(self, call: Node, state: LockState, statement: Node) -> LockState:
        callee = call.child_by_field_name("function")
        name = compact(callee)
        arguments = call.child_by_field_name("arguments")
        args = named(arguments) if arguments is not None else []
        first = strip_address(text(args[0])) if args else ""
        if name in ACQUIRE:
            return replace(state, locks=(*state.locks, HeldLock(ACQUIRE[name], first, call.start_byte)))
        if name in RELEASE:
            return self.release(state, RELEASE[name], first)
        if name in self.a.macro_locks:
            return self.macro_lock(name, first, call, state)
        if name in self.a.wrappers and name != self.function:
            op, kind, expr = self.a.wrappers[name]
            if op == "acquire":
                return replace(state, locks=(*state.locks, HeldLock(kind, expr or name, call.start_byte)))
            return self.release(state, kind, expr or "")
        guessed = guessed_lock_op(name)
        if guessed == "acquire" and first:
            return replace(state, locks=(*state.locks, HeldLock("macro", first, call.start_byte)))
        if guessed == "release" and first:
            return self.release(state, "macro", first)
        if name in CS_BEGIN_KINDS:
            objects = tuple(strip_address(text(a)) for a in args)
            section = self.begin_section(call, name, objects, state, self.blocks[-1] if self.blocks else None)
            return self.with_section(state, section, self.blocks[-1].id if self.blocks else None)
        if name in CS_END_KINDS:
            return self.end_section(call, name, state)
        if name == "PyEval_SaveThread":
            self.open_saves.append(
                AllowThreadsRegion(
                    "save-restore",
                    call.start_byte,
                    None,
                    self.function,
                    self.blocks[-1] if self.blocks else None,
                    call,
                )
            )
            self.a.allow_threads_regions.append(self.open_saves[-1])
            return replace(state, allow_threads=True)
        if name == "PyEval_RestoreThread":
            if self.open_saves:
                region = self.open_saves.pop()
                region.end, region.end_offset = call, call.start_byte
            return replace(state, allow_threads=False)
        if callee is not None and callee.type == "field_expression":
            method = text(callee.child_by_field_name("field"))
            receiver = strip_address(text(callee.child_by_field_name("argument")))
            if method in MEMBER_LOCK and not args:
                mutex = self.deferred_guards.get(receiver, receiver)
                return replace(
                    state,
                    locks=(
                        *state.locks,
                        HeldLock(
                            "scoped" if receiver in self.deferred_guards else "cpp_mutex",
                            mutex,
                            call.start_byte,
                            var=receiver,
                        ),
                    ),
                )
            if method in MEMBER_UNLOCK and not args:
                kept = tuple(lock for lock in state.locks if lock.var != receiver and lock.expr != receiver)
                return replace(state, locks=kept)
        return state

    def macro_lock(self, name: str, first: str | None, node: Node, state: LockState) -> LockState:
        op, kind, expr = self.a.macro_locks[name]
        expr = expr if expr is not None else (first or name)
        if op == "acquire":
            return replace(state, locks=(*state.locks, HeldLock(kind, expr, node.start_byte)))
        return self.release(state, kind, expr)

    def declaration(self, node: Node, state: LockState) -> LockState:
        type_name = flat(node.child_by_field_name("type"))
        last = type_name.split("<")[0].split("::")[-1].strip()
        last = last[:-2] if last.endswith("_t") else last  # libzmq's `scoped_lock_t locker(sync)`
        if last not in SCOPED_LOCK_TYPES and last not in SCOPED_CRITICAL_SECTION_TYPES:
            return state
        scope = self.blocks[-1].id if self.blocks else None
        for declarator in node.children_by_field_name("declarator"):
            var_node = declarator.child_by_field_name("declarator")
            var = text(var_node) if var_node is not None else text(declarator)
            holder = declarator.child_by_field_name("parameters") or declarator.child_by_field_name("value")
            args = [flat(a) for a in named(holder)] if holder is not None else []
            if any(arg.endswith(DEFERRED) for arg in args):
                if args:
                    self.deferred_guards[var] = strip_address(args[0])
                continue
            mutexes = [strip_address(a) for a in args if not a.endswith("adopt_lock")]
            if last in SCOPED_CRITICAL_SECTION_TYPES:
                section = self.begin_section(
                    declarator,
                    "nb::" + last,
                    tuple(mutexes),
                    state,
                    self.blocks[-1] if self.blocks else None,
                    kind="guard",
                )
                state = self.with_section(state, section, scope)
                continue
            locks = tuple(HeldLock("scoped", m, node.start_byte, scope, var) for m in mutexes)
            state = replace(state, locks=(*state.locks, *locks))
        return state

    # -- helpers ----------------------------------------------------------------------------------
    def release(self, state: LockState, kind: str, expr: str) -> LockState:
        locks = list(state.locks)
        for index in range(len(locks) - 1, -1, -1):
            if locks[index].kind == kind and locks[index].expr == expr:
                del locks[index]
                return replace(state, locks=tuple(locks))
        # Released through another spelling: drop the latest lock of that kind (never over-claim).
        for index in range(len(locks) - 1, -1, -1):
            if locks[index].kind == kind:
                del locks[index]
                return replace(state, locks=tuple(locks))
        # Nothing of that kind is held here: this function releases its caller's lock.
        self.a.unmatched_releases.setdefault(self.function, []).append((kind, expr))
        return state

    def begin_section(
        self,
        node: Node,
        name: str,
        objects: tuple[str, ...],
        state: LockState,
        block: Node | None,
        scope: int | None = None,
        kind: str | None = None,
    ) -> CriticalSectionRegion:
        region = CriticalSectionRegion(
            begin=node,
            end=None,
            kind=kind or CS_BEGIN_KINDS.get(name, "1"),
            end_kind=None,
            objects=objects,
            function=self.function,
            block=block,
            begin_offset=node.start_byte,
            name=name,
        )
        self.a.critical_sections.append(region)
        self.open_sections[node.start_byte] = region
        return region

    def with_section(self, state: LockState, region: CriticalSectionRegion, scope: int | None) -> LockState:
        locks = tuple(
            HeldLock("critical_section", obj, region.begin_offset, scope, region=region.begin_offset)
            for obj in region.objects
        )
        return replace(state, locks=(*state.locks, *locks))

    def end_section(self, node: Node, name: str, state: LockState) -> LockState:
        regions = [
            lock.region for lock in state.locks if lock.kind == "critical_section" and lock.region is not None
        ]
        if not regions:
            # Perhaps opened on a path that did not reach here; still pair it with the latest open one.
            open_regions = [r for r in self.open_sections.values() if r.end is None and r.kind != "guard"]
            if open_regions:
                region = open_regions[-1]
                region.end, region.end_offset, region.end_kind = node, node.start_byte, CS_END_KINDS.get(name)
            else:
                self.a.stray_critical_section_ends.append(node)
            return state
        key = regions[-1]
        section = self.open_sections.get(key)
        if section is not None and section.end is None:
            section.end, section.end_offset, section.end_kind = node, node.start_byte, CS_END_KINDS.get(name)
        return replace(state, locks=tuple(lock for lock in state.locks if lock.region != key))

    def drop_scope(self, state: LockState, scope: int) -> LockState:
        if not any(lock.scope == scope for lock in state.locks):
            return state
        return replace(state, locks=tuple(lock for lock in state.locks if lock.scope != scope))

    def leave_blocks(self, state: LockState, keep: int) -> LockState:
        """State after jumping out of every block but the first ``keep`` (RAII guards end there)."""
        inner = {block.id for block in self.blocks[keep:]}
        if not inner or not any(lock.scope in inner for lock in state.locks):
            return state
        return replace(state, locks=tuple(lock for lock in state.locks if lock.scope not in inner))


def _top_level_calls(node: Node) -> Iterator[Node]:
    """Calls a statement makes at its top level: `f();`, `x = f();`, `(void)f();`, `T x = f();`."""
    if node.type == "declaration":
        for declarator in node.children_by_field_name("declarator"):
            value = declarator.child_by_field_name("value") if declarator.type == "init_declarator" else None
            if value is not None:
                yield from _calls_in(value)
        return
    for child in named(node):
        yield from _calls_in(child)


def _calls_in(expression: Node) -> Iterator[Node]:
    """Calls at the top of an expression, in source order (an explicit stack: `((((f()))))` nests)."""
    todo = [expression]
    while todo:
        node = todo.pop()
        kind = node.type
        if kind == "call_expression":
            yield node
        elif kind in ("assignment_expression", "cast_expression"):
            inner = node.child_by_field_name("right" if kind == "assignment_expression" else "value")
            if inner is not None:
                todo.append(inner)
        elif kind in ("parenthesized_expression", "comma_expression"):
            todo.extend(reversed(named(node)))


def is_atomic_name(name: str) -> bool:
    """A call name that is an atomic operation by itself (C11, GCC builtins, CPython, Win32)."""
    return name.startswith(ATOMIC_PREFIXES) or name.startswith("std::atomic")
