"""Which ``#if`` branches enclose a byte offset, and whether that code is compiled for a target.

Built from the raw directive records in one pass: the guard stack changes only at conditional
directives, so a sorted list of (offset, stack) answers ``guards_at`` with one bisect.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from ftaudit.cmodel.conditions import Tri, evaluate_condition
from ftaudit.cmodel.directives import Directive
from ftaudit.target import Target


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
    negated: tuple[str, ...] = ()
    # The chain's opening directive offset: branches of one chain share it.
    chain: int = -1

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

    def evaluate(self, target: Target | None = None, defines: Mapping[str, int | None] | None = None) -> Tri:
        target = target or Target()
        key = tuple(sorted(defines.items())) if defines else ()
        result = Tri.YES
        for text in self.negated:
            result = result & ~_evaluate_cached(text, target, key)
            if result is Tri.NO:
                return result
        if self.kind == "else":
            return result
        return result & _evaluate_cached(self.own_expression, target, key)


@lru_cache(maxsize=4096)
def _evaluate_cached(text: str, target: Target, defines: tuple[tuple[str, int | None], ...]) -> Tri:
    return evaluate_condition(text, target, dict(defines))


class GuardIndex:
    """Guard stacks by offset, plus the guard each conditional directive opens."""

    def __init__(self, directives: list[Directive]) -> None:
        self._offsets: list[int] = [0]
        self._stacks: list[tuple[Guard, ...]] = [()]
        self.opened: dict[int, Guard] = {}  # '#' offset -> the guard that directive opens
        self.unbalanced = False
        self._later: list[bool] | None = None
        chains: list[list[str]] = []  # per open chain: own expressions of the branches so far
        stack: list[Guard] = []
        for directive in directives:
            kind = directive.kind
            if kind in ("if", "ifdef", "ifndef"):
                guard = Guard(
                    kind,
                    _first_word(directive) if kind != "if" else directive.text,
                    directive.line,
                    directive.start,
                    chain=directive.start,
                )
                chains.append([guard.own_expression])
                stack.append(guard)
            elif kind in ("elif", "elifdef", "elifndef", "else"):
                if not stack:
                    self.unbalanced = True
                    continue
                previous = stack.pop()
                condition = (
                    "" if kind == "else" else (directive.text if kind == "elif" else _first_word(directive))
                )
                guard = Guard(
                    kind, condition, directive.line, directive.start, tuple(chains[-1]), previous.chain
                )
                chains[-1].append(guard.own_expression)
                stack.append(guard)
            elif kind == "endif":
                if not stack:
                    self.unbalanced = True
                    continue
                stack.pop()
                chains.pop()
                self._offsets.append(directive.end)
                self._stacks.append(tuple(stack))
                continue
            else:
                continue
            self.opened[directive.start] = stack[-1]
            self._offsets.append(directive.end)
            self._stacks.append(tuple(stack))
        if stack:
            self.unbalanced = True

    def in_later_branch(self, offset: int) -> bool:
        """Inside an ``#elif``/``#else`` branch at any depth (computed once per stack)."""
        if self._later is None:
            self._later = [
                any(g.kind not in ("if", "ifdef", "ifndef") for g in stack) for stack in self._stacks
            ]
        return self._later[bisect_right(self._offsets, offset) - 1]

    def at(self, offset: int) -> tuple[Guard, ...]:
        """Enclosing guards of a byte offset, outermost first."""
        return self._stacks[bisect_right(self._offsets, offset) - 1]

    def compiled(
        self, offset: int, target: Target,
        defines: Mapping[str, int | None] | Callable[[int], Mapping[str, int | None]] | None = None,
    ) -> Tri:
        """``defines`` is a mapping, or a function giving the defines in force at a directive's offset
        (a macro may be defined as 0 for one stretch of the file and `#undef`'d later)."""
        result = Tri.YES
        for guard in self.at(offset):
            facts = defines(guard.offset) if callable(defines) else defines
            result = result & guard.evaluate(target, facts)
            if result is Tri.NO:
                break
        return result


def _first_word(directive: Directive) -> str:
    words = directive.text.split()
    return words[0] if words else ""
