"""``#define`` records, and a lazily parsed syntax tree of a macro body at its real file offsets.

The body is parsed inside a same-length buffer of spaces with a function wrapper placed before
it, so every node's ``start_byte`` is the body's byte offset in the original file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node, Tree

from ftaudit.cmodel.guards import Guard
from ftaudit.cmodel.parsers import parser

_WRAPPER = b"void _(){"
_IDENT = re.compile(r"[A-Za-z_]\w*")


@dataclass(slots=True, eq=False)
class Macro:
    name: str
    params: tuple[str, ...] | None  # None for an object-like macro
    body: str  # continuations joined, comments removed
    body_offset: int  # byte offset of the body in the file
    body_end: int  # byte offset just past the body
    line: int
    node: Node | None  # the preproc_def / preproc_function_def node, when the tree has one
    guards: tuple[Guard, ...]
    language: str = "c"
    source: bytes = field(default=b"", repr=False)
    _tree: Tree | None = field(default=None, repr=False)

    @property
    def is_function_like(self) -> bool:
        return self.params is not None

    def identifiers(self) -> set[str]:
        """Identifiers the body mentions (parameters included)."""
        return set(_IDENT.findall(self.body))

    def body_tree(self) -> Tree:
        """The body parsed as statements of a function (cached); offsets are file offsets."""
        if self._tree is None:
            buffer = bytearray(b" " * self.body_end)
            raw = self.source[self.body_offset : self.body_end]
            # Continuation backslashes become spaces; the newlines stay where they are.
            buffer[self.body_offset : self.body_end] = raw.replace(b"\\\r\n", b"  \n").replace(
                b"\\\n", b" \n"
            )
            start = 0 if self.body_offset >= len(_WRAPPER) else None
            if start is None:
                buffer = bytearray(b" " * len(_WRAPPER)) + buffer  # cannot happen for '#define X '
            buffer[0 : len(_WRAPPER)] = _WRAPPER
            buffer += b"\n;}"
            self._tree = parser(self.language).parse(bytes(buffer))
        return self._tree

    def body_nodes(self) -> list[Node]:
        """Top-level nodes of the body (statements or expression statements)."""
        root = self.body_tree().root_node
        for child in root.named_children:
            body = child.child_by_field_name("body")
            if body is not None:
                return [n for n in body.named_children if n.start_byte >= self.body_offset]
        return []
