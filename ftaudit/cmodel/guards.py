"""Which ``#if`` branches enclose a byte offset, and whether that code is compiled for a target.

Built from the raw directive records in one pass: the guard stack changes only at conditional
directives, so a sorted list of (offset, stack) answers ``guards_at`` with one bisect. Stacks are
persistent (each shares its outer part with the enclosing stack) and a branch links to the one
before it, so 20,000 nested ``#if``s or 10,000 ``#elif``s cost memory in proportion to the file.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import overload

from ftaudit.cmodel.conditions import Tri, evaluate_condition
from ftaudit.cmodel.directives import Directive
from ftaudit.target import Target

_OPENING = frozenset({"if", "ifdef", "ifndef"})
_IDENT = re.compile(r"[A-Za-z_]\w*")

Defines = Mapping[str, int | None]
DefinesAt = Callable[[int], Defines]


@dataclass(frozen=True, slots=True)
class Guard:
    """One branch of an ``#if`` chain that encloses some code.

    ``condition`` is the text as written (the macro name for ``#ifdef``/``#ifndef``, "" for
    ``#else``); ``negated`` holds the earlier branches' conditions of the same chain as C
    expressions, all of which must be false for this branch to be taken.
    """

    kind: str  # "if", "ifdef", "ifndef", "elif", "else"
    condition: str
    line: int
    offset: int  # byte offset of the directive's '#'
    # The branch before this one in its chain (None for the opening #if): `negated` is read from it.
    previous: Guard | None = field(default=None, compare=False, repr=False)
    # The chain's opening directive offset: branches of one chain share it.
    chain: int = -1

    @property
    def negated(self) -> tuple[str, ...]:
        """Earlier branches' own conditions, first branch first."""
        found = []
        branch = self.previous
        while branch is not None:
            found.append(branch.own_expression)
            branch = branch.previous
        return tuple(reversed(found))

    @property
    def own_expression(self) -> str:
        """This branch's own condition as a C expression ("1" for ``#else``)."""
        if self.kind in ("ifdef", "elifdef"):
            return f"defined({self.condition})"
        if self.kind in ("ifndef", "elifndef"):
            return f"!defined({self.condition})"
        if self.kind == "else":
            return "1"
        return self.condition or "0"

    @property
    def expression(self) -> str:
        """The full condition under which this branch is compiled."""
        parts = [f"!({text})" for text in self.negated]
        if self.kind != "else" or not parts:
            parts.append(f"({self.own_expression})")
        return " && ".join(parts)

    def own(self, target: Target | None = None, defines: Defines | None = None) -> Tri:
        """Whether this branch's own condition holds (YES for ``#else``), earlier branches aside."""
        if self.kind == "else":
            return Tri.YES
        # `defines or {}` would ask a timeline view for its length: a walk over every name.
        return evaluate_expression(self.own_expression, target or Target(), {} if defines is None else defines)

    def prior(self, target: Target | None = None, defines: Defines | None = None) -> Tri:
        """Whether every earlier branch of the chain is false."""
        result = Tri.YES
        branch = self.previous
        while branch is not None and result is not Tri.NO:
            result = result & ~branch.own(target, defines)
            branch = branch.previous
        return result

    def evaluate(self, target: Target | None = None, defines: Defines | None = None) -> Tri:
        result = self.prior(target, defines)
        if result is Tri.NO or self.kind == "else":
            return result
        return result & self.own(target, defines)


def evaluate_expression(text: str, target: Target, defines: Defines) -> Tri:
    """``evaluate_condition`` cached on the defines the expression names (not the whole table)."""
    key = tuple((name, defines[name]) for name in _names(text) if name in defines)
    return _evaluate_cached(text, target, key)


@lru_cache(maxsize=4096)
def _names(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_IDENT.findall(text)))


@lru_cache(maxsize=4096)
def _evaluate_cached(text: str, target: Target, defines: tuple[tuple[str, int | None], ...]) -> Tri:
    return evaluate_condition(text, target, dict(defines))


class GuardStack(Sequence[Guard]):
    """Enclosing guards, outermost first: a tuple-like view of a linked stack whose outer part is
    shared with the enclosing stack. Compares equal to the tuple of the same guards."""

    __slots__ = ("depth", "guard", "later", "outer", "serial")

    def __init__(self, guard: Guard | None, outer: GuardStack | None, serial: int) -> None:
        self.guard = guard
        self.outer = outer
        self.depth: int = outer.depth + 1 if outer is not None else 0
        self.serial = serial  # index in the GuardIndex's node list (memo slots)
        # Inside an #elif/#else branch at any depth.
        self.later: bool = outer is not None and (outer.later or (guard is not None and guard.kind not in _OPENING))

    def innermost(self) -> Iterator[GuardStack]:
        """The non-empty stacks from this one outwards."""
        node: GuardStack | None = self
        while node is not None and node.guard is not None:
            yield node
            node = node.outer

    def __len__(self) -> int:
        return self.depth

    def __bool__(self) -> bool:
        return self.depth > 0

    def _guards_innermost_first(self) -> Iterator[Guard]:
        node: GuardStack | None = self
        while node is not None and node.guard is not None:
            yield node.guard
            node = node.outer

    def __iter__(self) -> Iterator[Guard]:
        return reversed(list(self._guards_innermost_first()))

    def __reversed__(self) -> Iterator[Guard]:
        return self._guards_innermost_first()

    @overload
    def __getitem__(self, index: int) -> Guard: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Guard, ...]: ...
    def __getitem__(self, index: int | slice) -> Guard | tuple[Guard, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        position = index + self.depth if index < 0 else index
        if not 0 <= position < self.depth:
            raise IndexError("guard index out of range")
        steps = self.depth - 1 - position  # from the innermost guard outwards
        for guard in self._guards_innermost_first():
            if steps == 0:
                return guard
            steps -= 1
        raise IndexError("guard index out of range")  # not reached: depth counts the guards

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if isinstance(other, GuardStack):
            if self.depth != other.depth:
                return False
            mine: GuardStack | None = self
            theirs: GuardStack | None = other
            while mine is not theirs:
                if mine is None or theirs is None or mine.guard != theirs.guard:
                    return False
                mine, theirs = mine.outer, theirs.outer
            return True
        if isinstance(other, tuple):
            return len(other) == self.depth and tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


EMPTY_STACK = GuardStack(None, None, 0)
_MEMOS = 8  # (target, defines) pairs whose answers a GuardIndex keeps


@dataclass(slots=True)
class _Memo:
    """Answers for one (target, defines), by node serial: whether the code under each stack is
    compiled, and whether each branch and every branch before it in its chain are false."""

    defines: object  # kept alive: a defines function is known by its identity
    compiled: list[Tri | None]
    after: list[Tri | None]


class GuardIndex:
    """Guard stacks by offset, plus the guard each conditional directive opens."""

    def __init__(self, directives: list[Directive]) -> None:
        self._offsets: list[int] = [0]
        self._stacks: list[GuardStack] = [EMPTY_STACK]
        self._nodes: list[GuardStack] = [EMPTY_STACK]
        self._serial: dict[int, int] = {}  # guard offset -> serial of the node that pushed it
        self.opened: dict[int, Guard] = {}  # '#' offset -> the guard that directive opens
        self.unbalanced = False
        self._memos: OrderedDict[tuple[Target, object], _Memo] = OrderedDict()
        top = EMPTY_STACK
        for directive in directives:
            kind = directive.kind
            if kind in _OPENING:
                condition = _first_word(directive) if kind != "if" else directive.text
                guard = Guard(kind, condition, directive.line, directive.start, chain=directive.start)
                top = self._push(top, guard)
            elif kind in ("elif", "elifdef", "elifndef", "else"):
                if top.guard is None or top.outer is None:
                    self.unbalanced = True
                    continue
                previous = top.guard
                condition = "" if kind == "else" else (directive.text if kind == "elif" else _first_word(directive))
                guard = Guard(kind, condition, directive.line, directive.start, previous, previous.chain)
                top = self._push(top.outer, guard)
            elif kind == "endif":
                if top.outer is None:
                    self.unbalanced = True
                    continue
                top = top.outer
                self._offsets.append(directive.end)
                self._stacks.append(top)
                continue
            else:
                continue
            self.opened[directive.start] = guard
            self._offsets.append(directive.end)
            self._stacks.append(top)
        if top.guard is not None:
            self.unbalanced = True

    def _push(self, outer: GuardStack, guard: Guard) -> GuardStack:
        node = GuardStack(guard, outer, len(self._nodes))
        self._nodes.append(node)
        self._serial[guard.offset] = node.serial
        return node

    def in_later_branch(self, offset: int) -> bool:
        """Inside an ``#elif``/``#else`` branch at any depth."""
        return self.at(offset).later

    def at(self, offset: int) -> GuardStack:
        """Enclosing guards of a byte offset, outermost first."""
        return self._stacks[bisect_right(self._offsets, offset) - 1]

    def compiled(self, offset: int, target: Target, defines: Defines | DefinesAt | None = None) -> Tri:
        """``defines`` is a mapping, or a function giving the defines in force at a directive's offset
        (a macro may be defined as 0 for one stretch of the file and `#undef`'d later).

        Each condition is evaluated once, with the defines in force at its own directive, and the
        answer for each stack is kept: asking for every node of a deeply nested file stays linear.
        """
        stack = self.at(offset)
        memo = self._memo(target, defines)
        if memo is None:
            return _conjunction(stack, target, defines)
        todo: list[tuple[GuardStack, Guard]] = []  # the stacks not answered yet, innermost first
        node = stack
        while node.outer is not None and node.guard is not None and memo.compiled[node.serial] is None:
            todo.append((node, node.guard))
            node = node.outer
        cached = memo.compiled[node.serial]
        result = Tri.YES if cached is None else cached
        for node, guard in reversed(todo):
            if result is not Tri.NO:
                result = result & self._taken(guard, target, defines, memo)
            memo.compiled[node.serial] = result
        return result

    def _taken(self, guard: Guard, target: Target, defines: Defines | DefinesAt | None, memo: _Memo) -> Tri:
        """Whether ``guard``'s branch is the one taken in its chain (its enclosing stack aside)."""
        pending = []
        branch = guard.previous
        while branch is not None and memo.after[self._serial[branch.offset]] is None:
            pending.append(branch)
            branch = branch.previous
        known = memo.after[self._serial[branch.offset]] if branch is not None else None
        prior = Tri.YES if known is None else known  # known is None only when no branch is before
        for branch in reversed(pending):
            if prior is not Tri.NO:
                prior = prior & ~branch.own(target, _facts(defines, branch))
            memo.after[self._serial[branch.offset]] = prior
        if prior is Tri.NO or guard.kind == "else":
            return prior
        return prior & guard.own(target, _facts(defines, guard))

    def _memo(self, target: Target, defines: Defines | DefinesAt | None) -> _Memo | None:
        """The memo for (target, defines): a defines function is known by identity, a small mapping
        by its contents; a large mapping is not memoised (the caller may change it between calls)."""
        if callable(defines):
            key: tuple[Target, object] = (target, id(defines))
        elif defines is None or len(defines) <= 64:
            key = (target, tuple(sorted(defines.items())) if defines is not None else ())
        else:
            return None
        memo = self._memos.get(key)
        if memo is not None and (not callable(defines) or memo.defines is defines):
            self._memos.move_to_end(key)
            return memo
        size = len(self._nodes)
        memo = self._memos[key] = _Memo(defines, [None] * size, [None] * size)
        if len(self._memos) > _MEMOS:
            self._memos.popitem(last=False)
        return memo


def _facts(defines: Defines | DefinesAt | None, guard: Guard) -> Defines | None:
    return defines(guard.offset) if callable(defines) else defines


def _conjunction(stack: GuardStack, target: Target, defines: Defines | DefinesAt | None) -> Tri:
    result = Tri.YES
    for guard in reversed(stack):
        result = result & guard.evaluate(target, _facts(defines, guard))
        if result is Tri.NO:
            break
    return result


def _first_word(directive: Directive) -> str:
    words = directive.text.split()
    return words[0] if words else ""
