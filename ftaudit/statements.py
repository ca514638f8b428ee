"""Line ranges of multi-line statements, so a suppression on any line of a statement applies to it.

For compound statements (``if``, ``for``, function headers) only the header counts: a comment in
the body must not silence a finding on the condition.
"""

from __future__ import annotations

import ast
from typing import Any

from ftaudit.context import FileContext
from ftaudit.source import Language

_C_STATEMENTS = frozenset({
    "expression_statement", "declaration", "return_statement", "field_declaration", "if_statement",
    "while_statement", "for_statement", "do_statement", "switch_statement", "goto_statement",
    "init_declarator", "preproc_def", "preproc_function_def", "function_definition", "case_statement",
})
_C_BODY_FIELDS = ("body", "consequence")


def multiline_statements(ctx: FileContext) -> list[tuple[int, int]]:
    """Sorted (first, last) line ranges of statements that span more than one line."""
    if ctx.source.language is Language.PYTHON:
        return _python_spans(ctx.python_nodes)
    # Only when a C rule already built the model: a file no C rule read has no C findings.
    unit = ctx.built_unit
    return _c_spans(unit.tree, ctx) if unit is not None else []


def _python_spans(nodes: list[ast.AST]) -> list[tuple[int, int]]:
    spans = []
    for node in nodes:
        if not isinstance(node, ast.stmt):
            continue
        first, last = node.lineno, node.end_lineno or node.lineno
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            decorators = getattr(node, "decorator_list", [])
            if decorators:
                first = min(first, *(d.lineno for d in decorators))
            last = max(first, body[0].lineno - 1)
        if last > first:
            spans.append((first, last))
    return sorted(spans)


def _c_spans(tree: Any, ctx: FileContext) -> list[tuple[int, int]]:
    spans = []
    cursor = tree.walk()
    visited_children = False
    line_of = ctx.source.line_of
    while True:
        node = cursor.node
        if not visited_children and node.type in _C_STATEMENTS and node.start_point[0] != node.end_point[0]:
            first = node.start_point[0] + 1
            last = node.end_point[0] + 1
            for name in _C_BODY_FIELDS:
                body = node.child_by_field_name(name)
                if body is not None:
                    last = max(first, line_of(body.start_byte))
                    break
            if last > first:
                spans.append((first, last))
        if not visited_children and cursor.goto_first_child():
            continue
        if cursor.goto_next_sibling():
            visited_children = False
            continue
        if not cursor.goto_parent():
            break
        visited_children = True
    return sorted(spans)
