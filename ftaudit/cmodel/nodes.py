"""Small helpers over tree-sitter nodes shared by the model's modules."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence

from tree_sitter import Node

# Declarator wrappers that do not change what is declared, only how it is spelled.
TRANSPARENT_DECLARATORS = frozenset({"parenthesized_declarator", "attributed_declarator", "init_declarator"})


def text(node: Node | None) -> str:
    """Source text of a node ("" for None); tree-sitter keeps the bytes, so no source is needed."""
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def flat(node: Node | None) -> str:
    """Node text with runs of whitespace collapsed (for names like ``std :: atomic``)."""
    return " ".join(text(node).split())


def compact(node: Node | None) -> str:
    """Node text with all whitespace removed (for callee names like ``m.def``)."""
    return "".join(text(node).split())


def named(node: Node) -> list[Node]:
    """Named children without comments."""
    return [child for child in node.named_children if child.type != "comment"]


def ancestors(node: Node) -> Iterator[Node]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def declarator_name(node: Node | None) -> Node | None:
    """The identifier a (function) declarator declares, through pointers, parens and arrays."""
    while node is not None:
        kind = node.type
        if kind in (
            "identifier",
            "field_identifier",
            "qualified_identifier",
            "destructor_name",
            "operator_name",
            "type_identifier",
            "template_function",
        ):
            return node
        inner = node.child_by_field_name("declarator")
        if inner is None:
            # reference_declarator and some ERROR recoveries have no field name.
            candidates = [child for child in node.named_children if child.type != "comment"]
            inner = candidates[-1] if candidates else None
            if inner is node:
                return None
        node = inner
    return None


def function_declarator(node: Node | None) -> Node | None:
    """The function_declarator inside a function definition's declarator."""
    while node is not None and node.type != "function_declarator":
        node = node.child_by_field_name("declarator")
    return node


def strip_address(expression: str) -> str:
    """``&(self->mutex)`` -> ``self->mutex``: the object an address-of argument names.

    Outer parentheses are dropped only when they match each other; the matches are found once, so
    ``((((x))))`` nested a million deep is one pass, not one pass per level."""
    expression = " ".join(expression.split())
    partner = _matching_parens(expression)
    lo, hi = 0, len(expression)  # the current text is expression[lo:hi], stripped
    changed = True
    while changed and lo < hi:
        changed = False
        if expression[lo] == "&":
            lo += 1
            changed = True
        elif expression[lo] == "(" and partner.get(lo) == hi - 1:
            lo, hi = lo + 1, hi - 1
            changed = True
        while lo < hi and expression[lo] == " ":
            lo += 1
        while hi > lo and expression[hi - 1] == " ":
            hi -= 1
    return expression[lo:hi]


def _matching_parens(text: str) -> dict[int, int]:
    """Offset of each '(' -> offset of its ')' (unmatched ones are left out)."""
    found: dict[int, int] = {}
    open_: list[int] = []
    for index, char in enumerate(text):
        if char == "(":
            open_.append(index)
        elif char == ")" and open_:
            found[open_.pop()] = index
    return found


def pruned_walk(
    root: Node, starts: Sequence[int], mark: Callable[[Node], bool] | None = None
) -> Iterator[tuple[Node, list[Node], list[Node]]]:
    """Every node whose range holds one of ``starts`` (sorted offsets), in document order, with its
    ancestors (outermost first) and those of them ``mark`` selects. The lists are live: read them
    before asking for the next node.

    One cursor walk that skips every subtree holding none of ``starts``: asking each node for its
    ``parent`` instead costs O(depth) per step in tree-sitter, O(depth²) per node.
    """
    cursor = root.walk()
    path: list[Node] = []
    marked: list[Node] = []
    flags: list[bool] = []
    while True:
        node = cursor.node
        assert node is not None
        index = bisect_left(starts, node.start_byte)
        if index < len(starts) and starts[index] < node.end_byte:
            yield node, path, marked
            if cursor.goto_first_child():
                path.append(node)
                flag = mark is not None and mark(node)
                flags.append(flag)
                if flag:
                    marked.append(node)
                continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return
            path.pop()
            if flags.pop():
                marked.pop()


def descendants(node: Node | None) -> Iterator[Node]:
    """``node`` and every named node below it, in source order, iteratively (deep nesting must not recurse)."""
    if node is None:
        return
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.named_children))


def strip(node: Node | None) -> Node | None:
    """Through parentheses (not casts)."""
    while node is not None and node.type == "parenthesized_expression":
        inner = named(node)
        node = inner[0] if inner else None
    return node


def is_written(identifier: Node) -> bool:
    """Whether ``identifier`` (through parentheses) is assigned (`x = …`, `x += …`), incremented (`x++`) or
    has its address taken (`&x`: whoever receives the address may store through it)."""
    while identifier.parent is not None and identifier.parent.type == "parenthesized_expression":
        identifier = identifier.parent
    parent = identifier.parent
    if parent is None:
        return False
    if parent.type == "assignment_expression":
        return parent.child_by_field_name("left") == identifier
    if parent.type == "pointer_expression":
        operator = parent.child_by_field_name("operator")
        return operator is not None and operator.type == "&"
    return parent.type == "update_expression"
