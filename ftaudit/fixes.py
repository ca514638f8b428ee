"""Apply a finding's edits to source text (used to check that suggested fixes really fix)."""

from __future__ import annotations

from collections.abc import Iterable

from ftaudit.findings import Edit, Position


def _offset(lines: list[str], position: Position) -> int:
    return sum(len(line) for line in lines[: position.line - 1]) + position.column - 1


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """The text with every edit applied; positions are 1-based lines and character columns."""
    lines = text.splitlines(keepends=True)
    spans = sorted(((_offset(lines, e.start), _offset(lines, e.end), e.content) for e in edits), reverse=True)
    for start, end, content in spans:
        text = text[:start] + content + text[end:]
    return text
