"""``#define`` records, and a lazily parsed syntax tree of a macro body at its real file offsets.

The body is parsed inside a same-length buffer of spaces with a function wrapper placed before
it, so every node's ``start_byte`` is the body's byte offset in the original file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from tree_sitter import Node, Parser, Range, Tree

from ftaudit.cmodel.directives import BLANK_KEEPING_NEWLINES
from ftaudit.cmodel.guards import Guard
from ftaudit.cmodel.parsers import language, parser

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
    guards: Sequence[Guard]
    language: str = "c"
    source: bytes = field(default=b"", repr=False)
    _tree: Tree | None = field(default=None, repr=False)
    open_comment: int = -1  # offset of a block comment that never closes (``RawScan.open_comment``)

    @property
    def is_function_like(self) -> bool:
        return self.params is not None

    def identifiers(self) -> set[str]:
        """Identifiers the body mentions (parameters included)."""
        return set(_IDENT.findall(self.body))

    def body_tree(self) -> Tree:
        """The body parsed as statements of a function (cached); offsets are file offsets."""
        if self._tree is None:
            raw = self.source[self.body_offset : self.body_end]
            # Continuation backslashes become spaces; the newlines stay where they are.
            body = raw.replace(b"\\\r\n", b"  \n").replace(b"\\\n", b" \n")
            if self.body_offset <= self.open_comment < self.body_end:
                # Only the opening `/*` of a comment that never closes (see ``normalise``).
                cut = self.open_comment - self.body_offset + 2
                body = body[:cut] + body[cut:].translate(BLANK_KEEPING_NEWLINES)
            self._tree = _parse_at(self.language, body, self.body_offset)
        return self._tree

    def body_nodes(self) -> list[Node]:
        """Top-level nodes of the body (statements or expression statements)."""
        root = self.body_tree().root_node
        for child in root.named_children:
            body = child.child_by_field_name("body")
            if body is not None:
                return [n for n in body.named_children if n.start_byte >= self.body_offset]
        return []


_TAIL = b"\n;}"
_SPACES = b" " * 65536


def _parse_at(language_name: str, body: bytes, offset: int) -> Tree:
    """``void _(){`` + body + ``;}`` parsed as if the body sat at ``offset`` of a file of spaces.

    Only the wrapper and the body are read (tree-sitter's included ranges), so a macro defined at
    the end of a 3 MB file costs its body, not a 3 MB buffer per macro. Points count rows from the
    body's first line, as in a buffer of spaces."""
    if offset < len(_WRAPPER):  # cannot happen for '#define X ': the plain buffer is small
        return parser(language_name).parse(_WRAPPER + b" " * offset + body + _TAIL)
    text = body + _TAIL
    end = offset + len(text)
    rows = text.count(b"\n")
    last_line = len(text) - (text.rfind(b"\n") + 1)
    end_point = (rows, offset + last_line if rows == 0 else last_line)
    ranges = [
        Range((0, 0), (0, len(_WRAPPER)), 0, len(_WRAPPER)),
        Range((0, offset), end_point, offset, end),
    ]

    def read(byte: int, _point: tuple[int, int]) -> bytes:
        if byte < len(_WRAPPER):
            return _WRAPPER[byte:]
        if byte < offset:
            return _SPACES[: offset - byte]
        return text[byte - offset :]

    tree = Parser(language(language_name), included_ranges=ranges).parse(read)
    assert tree is not None
    return tree
