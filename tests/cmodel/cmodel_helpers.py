"""Helpers for the C source model tests (a unique module name, so no other conftest shadows it)."""

from __future__ import annotations

import textwrap

from ftaudit.cmodel import CUnit, build_unit
from ftaudit.target import Target


def make_unit(
    source: str, path: str = "t.c", target: Target | None = None, language: str | None = None
) -> CUnit:
    return build_unit(textwrap.dedent(source).encode(), path, target, language)


def line_of_text(unit: CUnit, needle: str, occurrence: int = 0) -> int:
    """1-based line of the n-th occurrence of ``needle`` in the unit's source."""
    offset = -1
    for _ in range(occurrence + 1):
        offset = unit.source.index(needle.encode(), offset + 1)
    return unit.line_of(offset)


def node_at(unit: CUnit, needle: str, occurrence: int = 0):  # type: ignore[no-untyped-def]
    """The smallest named node starting at the n-th occurrence of ``needle``."""
    offset = -1
    for _ in range(occurrence + 1):
        offset = unit.source.index(needle.encode(), offset + 1)
    return unit.root.named_descendant_for_byte_range(offset, offset + len(needle))
