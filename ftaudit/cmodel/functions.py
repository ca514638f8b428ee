"""Functions, calls and the intra-file call graph: who calls whom, what Python can reach,
and which functions run only while the module is being initialised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tree_sitter import Node

from ftaudit.cmodel.guards import Guard
from ftaudit.cmodel.nodes import compact, named


@dataclass(slots=True, eq=False)
class Call:
    """One call expression."""

    name: str  # callee text without whitespace: "PyDict_GetItem", "m.def", "self->vtab->f"
    node: Node  # the call_expression
    args: list[Node]
    function: str | None  # enclosing function
    guards: Sequence[Guard] = ()

    @property
    def line(self) -> int:
        return self.node.start_point[0] + 1

    @property
    def start(self) -> int:
        return self.node.start_byte


@dataclass(slots=True, eq=False)
class Function:
    """One function definition (the first, when ``#if`` branches define it twice)."""

    name: str
    node: Node  # the function_definition
    body: Node | None  # its compound_statement
    is_static: bool
    line: int
    calls: list[Call] = field(default_factory=list)
    guards: Sequence[Guard] = ()
    parameters: Node | None = None  # the parameter_list

    @property
    def start(self) -> int:
        return self.node.start_byte

    @property
    def end(self) -> int:
        return self.node.end_byte


# A callee longer than this is an expression (`g(1)(2)…(n)`, a huge cast), not a name a rule looks
# for: naming it "" keeps 400,000 chained calls from copying their whole prefix each.
MAX_CALLEE_BYTES = 256


def read_call(node: Node, function: str | None, guards: Sequence[Guard]) -> Call:
    callee = node.child_by_field_name("function")
    if callee is not None and callee.type == "template_function":
        callee = callee.child_by_field_name("name") or callee
    arguments = node.child_by_field_name("arguments")
    args = named(arguments) if arguments is not None else []
    return Call(callee_name(callee), node, args, function, guards)


def callee_name(callee: Node | None) -> str:
    """The callee's text without whitespace ("" for one longer than ``MAX_CALLEE_BYTES``)."""
    if callee is not None and callee.end_byte - callee.start_byte > MAX_CALLEE_BYTES:
        return ""
    return compact(callee)


def closure(roots: Iterable[str], edges: Mapping[str, set[str]]) -> set[str]:
    """Everything reachable from ``roots`` along ``edges`` (roots included)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(edges.get(name, ()))
    return seen


def init_only(
    roots: set[str],
    callers: Mapping[str, set[str]],
    callees: Mapping[str, set[str]],
    may_be_called_elsewhere: set[str],
) -> set[str]:
    """Init roots plus helpers reached only from them.

    Greatest fixed point (so helpers that call each other stay in), intersected with what the
    roots actually reach (so dead code is not called "init"). A name leaves when one of its callers
    is not a candidate (or, for a helper, when nothing calls it); each departure re-checks only the
    names it calls, by a count of outside callers: linear, where re-scanning every candidate until
    nothing changes is quadratic on a long call chain.
    """
    reach = closure(roots, callees)
    candidates = {name for name in reach if name in roots or name not in may_be_called_elsewhere}
    outside = {
        name: sum(1 for caller in callers.get(name, ()) if caller not in candidates) for name in candidates
    }
    todo = [name for name in candidates if outside[name] or (name not in roots and not callers.get(name))]
    while todo:
        name = todo.pop()
        if name not in candidates:
            continue
        candidates.discard(name)
        for callee in callees.get(name, ()):
            if callee in candidates and name in callers.get(callee, ()):
                outside[callee] += 1
                todo.append(callee)
    return candidates
