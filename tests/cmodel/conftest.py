"""Shared helpers for the C source model tests: build a unit from a dedented snippet."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from ftaudit.cmodel import CUnit, build_unit
from ftaudit.target import Target


def make_unit(source: str, path: str = "t.c", target: Target | None = None, language: str | None = None) -> CUnit:
    return build_unit(textwrap.dedent(source).encode(), path, target, language)


@pytest.fixture
def unit() -> Callable[..., CUnit]:
    return make_unit


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
