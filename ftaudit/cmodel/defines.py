"""The integer ``#define``s in force at each offset of a file, for one target.

zope.interface writes `#if PY_VERSION_HEX < 0x030b0000 / #define USE_STATIC_TYPES 1 / #else /
#define USE_STATIC_TYPES 0` and then guards code with `#if USE_STATIC_TYPES`; numpy defines a size as
0 for free-threaded builds, tests it, and `#undef`s it later. One forward pass over the directives
(and the project headers they include) decides each ``#if`` once, where it stands, as the
preprocessor does, and keeps every change per name: 10,000 ``#define``s cost 10,000 entries, not
10,000 copies of the table. A definition under a MAYBE condition makes the name unknown from there on.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ftaudit.cmodel.conditions import Tri
from ftaudit.cmodel.directives import CONDITIONAL_KINDS, Directive
from ftaudit.cmodel.guards import GuardIndex
from ftaudit.cmodel.includes import MAX_DEPTH, HeaderReader, find_header, include_guard, quoted_include
from ftaudit.cmodel.literals import c_integer
from ftaudit.target import Target

# Python.h decides these from the interpreter being built for; a file's own spelling never overrides.
PYTHON_H_FACTS = frozenset({"PY_VERSION_HEX", "PY_MAJOR_VERSION", "PY_MINOR_VERSION", "PY_MICRO_VERSION",
                            "Py_GIL_DISABLED", "PYPY_VERSION"})


class _Absent(Enum):
    """The value of a name not known to be defined or undefined."""

    ABSENT = "absent"


_ABSENT = _Absent.ABSENT
Value = int | None  # an integer define, or None: known to be undefined


def integer_value(body: str) -> int | None:
    """The value of an object-like macro body that is one integer literal, possibly in parentheses
    (``07777``, ``(0x10u)``); an empty body is defined as 1."""
    body = body.strip()
    if not body:
        return 1
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1].strip()
    return c_integer(body)


class DefineTimeline:
    """Name -> value (None: known undefined) at any offset; a name that is absent is unknown."""

    def __init__(self, initial: Mapping[str, int | None]) -> None:
        self.current: dict[str, int | None] = {}
        # name -> (offsets where its value changed, the value from each offset on)
        self._changes: dict[str, tuple[list[int], list[Value | _Absent]]] = {}
        self.offset = -1  # where the changes being made take effect
        for name, value in initial.items():
            self.set(name, value)
        self.lookup = self.at  # one bound method, so guard memos can know it by identity

    def set(self, name: str, value: int | None) -> None:
        self.current[name] = value
        self._record(name, value)

    def forget(self, name: str) -> None:
        if self.current.pop(name, _ABSENT) is not _ABSENT:
            self._record(name, _ABSENT)

    def _record(self, name: str, value: Value | _Absent) -> None:
        offsets, values = self._changes.setdefault(name, ([], []))
        if offsets and offsets[-1] == self.offset:
            values[-1] = value
        else:
            offsets.append(self.offset)
            values.append(value)

    def value(self, name: str, offset: int) -> Value | _Absent:
        """The value at ``offset`` (``_ABSENT`` when unknown)."""
        found = self._changes.get(name)
        if found is None:
            return _ABSENT
        index = bisect_right(found[0], offset) - 1
        return found[1][index] if index >= 0 else _ABSENT

    def names(self) -> Iterator[str]:
        return iter(self._changes)

    def at(self, offset: int) -> Mapping[str, int | None]:
        return _DefinesAt(self, offset)


class _DefinesAt(Mapping[str, int | None]):
    """A read-only view of the timeline at one offset."""

    __slots__ = ("_offset", "_timeline")

    def __init__(self, timeline: DefineTimeline, offset: int) -> None:
        self._timeline = timeline
        self._offset = offset

    def __getitem__(self, name: str) -> int | None:
        value = self._timeline.value(name, self._offset)
        if value is _ABSENT:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._timeline.value(name, self._offset) is not _ABSENT

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._timeline.names() if name in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class DefinesOverlay(Mapping[str, Value]):
    """``first``, then ``fallback`` for the names ``first`` does not know: a read-only ChainMap of two."""

    __slots__ = ("fallback", "first")

    def __init__(self, first: Mapping[str, Value], fallback: Mapping[str, Value]) -> None:
        self.first = first
        self.fallback = fallback

    def __getitem__(self, name: str) -> Value:
        try:
            return self.first[name]
        except KeyError:
            return self.fallback[name]

    def __contains__(self, name: object) -> bool:
        return name in self.first or name in self.fallback

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.fallback, *self.first]))  # ChainMap's order

    def __len__(self) -> int:
        return len(set(self.first).union(self.fallback))


@dataclass(slots=True)
class _Chain:
    """One open ``#if`` chain while reading directives in order."""

    outer: Tri  # whether the code around the chain is compiled
    prior: Tri  # whether every earlier branch of the chain is false
    own: Tri  # whether the current branch's own condition holds

    @property
    def taken(self) -> Tri:
        return self.outer & self.prior & self.own


class _Conditions:
    """Whether the directive being read is compiled: each condition is evaluated once, where it
    stands, with the defines in force there (unbalanced ``#else``/``#endif`` are ignored, as the
    GuardIndex ignores them)."""

    def __init__(self, guards: GuardIndex, target: Target) -> None:
        self.guards = guards
        self.target = target
        self.chains: list[_Chain] = []  # the open chains, outermost first

    @property
    def state(self) -> Tri:
        return self.chains[-1].taken if self.chains else Tri.YES

    def step(self, directive: Directive, defines: Mapping[str, int | None]) -> None:
        kind = directive.kind
        if kind in ("if", "ifdef", "ifndef"):
            outer = self.state
            self.chains.append(_Chain(outer, Tri.YES, self._own(directive, defines, outer)))
        elif kind == "endif":
            if self.chains:
                self.chains.pop()
        elif self.chains:  # elif, elifdef, elifndef, else
            chain = self.chains[-1]
            chain.prior = chain.prior & ~chain.own
            chain.own = self._own(directive, defines, chain.outer & chain.prior)

    def _own(self, directive: Directive, defines: Mapping[str, int | None], reached: Tri) -> Tri:
        if reached is Tri.NO:
            return Tri.NO  # not read by the preprocessor; the answer is NO either way
        guard = self.guards.opened.get(directive.start)
        return guard.own(self.target, defines) if guard is not None else Tri.MAYBE


class _Reader:
    """Applies a file's directives (and, a few levels deep, its quoted includes') to a timeline."""

    def __init__(self, timeline: DefineTimeline, target: Target, read: HeaderReader | None) -> None:
        self.timeline = timeline
        self.target = target
        self.read = read

    def run_file(self, directives: list[Directive], guards: GuardIndex, folder: Path | None,
                 own_guard: str | None) -> None:
        conditions = _Conditions(guards, self.target)
        for directive in directives:
            self.timeline.offset = directive.start  # everything it brings in takes effect here
            if directive.kind == "define" and directive.name == own_guard:
                continue  # a header analysed on its own: its include guard stays open
            self._directive(directive, conditions, folder, 0, set(), None)

    def _header(self, directives: list[Directive], guards: GuardIndex, folder: Path, depth: int,
                seen: set[Path]) -> None:
        timeline = self.timeline
        guard_name = include_guard(directives)
        if guard_name is not None:
            if timeline.current.get(guard_name) is not None:
                return  # included before: the include guard keeps it out
            timeline.set(guard_name, None)  # first inclusion: `#ifndef X_H` is taken ...
        conditions = _Conditions(guards, self.target)
        for directive in directives:
            self._directive(directive, conditions, folder, depth, seen, guard_name)
        if guard_name is not None:
            timeline.set(guard_name, 1)

    def _directive(self, directive: Directive, conditions: _Conditions, folder: Path | None, depth: int,
                   seen: set[Path], guard_name: str | None) -> None:
        kind = directive.kind
        if kind in CONDITIONAL_KINDS:
            conditions.step(directive, self.timeline.current)
        elif kind == "include":
            self._include(directive, conditions.state, folder, depth, seen)
        elif kind in ("define", "undef"):
            name = directive.name if kind == "define" else (directive.text.split() or [""])[0]
            if not name or name in PYTHON_H_FACTS or (kind == "define" and directive.params is not None):
                return
            if name == guard_name:
                return  # ... and stays taken for the rest of this header (set after it)
            self._define(directive, name, conditions.state)

    def _define(self, directive: Directive, name: str, tri: Tri) -> None:
        if tri is Tri.NO:
            return
        value = None if directive.kind == "undef" else integer_value(directive.text[len(name):])
        if tri is Tri.YES and (value is not None or directive.kind == "undef"):
            self.timeline.set(name, value)
        else:
            self.timeline.forget(name)  # not an integer, or only maybe defined: unknown

    def _include(self, directive: Directive, tri: Tri, folder: Path | None, depth: int, seen: set[Path]) -> None:
        name = quoted_include(directive)
        if self.read is None or folder is None or name is None or depth >= MAX_DEPTH or tri is Tri.NO:
            return
        found = find_header(folder, name, self.read)
        if found is None or found[0] in seen:
            return
        path, (directives, guards) = found
        seen.add(path)
        self._header(directives, guards, path.parent, depth + 1, seen)


def build_timeline(directives: list[Directive], guards: GuardIndex, target: Target,
                   initial: Mapping[str, int | None], folder: Path | None,
                   read: HeaderReader | None) -> DefineTimeline:
    """The define timeline of one file for ``target``; ``initial`` holds the language facts."""
    timeline = DefineTimeline(initial)
    own_guard = include_guard(directives)
    if own_guard is not None:
        timeline.set(own_guard, None)
    _Reader(timeline, target, read).run_file(directives, guards, folder if read else None, own_guard)
    return timeline
