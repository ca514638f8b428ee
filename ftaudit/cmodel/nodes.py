"""Small helpers over tree-sitter nodes shared by the model's modules."""

from __future__ import annotations

from collections.abc import Iterator

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
    """``&(self->mutex)`` -> ``self->mutex``: the object an address-of argument names."""
    expression = " ".join(expression.split())
    changed = True
    while changed:
        changed = False
        if expression.startswith("&"):
            expression = expression[1:].strip()
            changed = True
        if expression.startswith("(") and expression.endswith(")") and _balanced(expression[1:-1]):
            expression = expression[1:-1].strip()
            changed = True
    return expression


def _balanced(inner: str) -> bool:
    depth = 0
    for char in inner:
        depth += char == "("
        depth -= char == ")"
        if depth < 0:
            return False
    return depth == 0
