"""Fixtures for the C source model tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cmodel_helpers import make_unit

from ftaudit.cmodel import CUnit


@pytest.fixture
def unit() -> Callable[..., CUnit]:
    """Build a CUnit from a dedented snippet: ``unit(source, path="t.c", target=None, language=None)``."""
    return make_unit
