"""The per-file cache of analyses: each is computed on first use and kept as long as its C unit.

Analyses of one file are plain functions of the unit (``init_only(unit)``, ``uses(unit, target)``);
decorating one with ``per_unit`` (or ``per_unit_keyed``) makes it run once per unit,
however many rules and helpers ask. The answers are kept in the unit's ``memo``, a dict the C model
never reads, so they are dropped with the unit when the file is done. (Not in a WeakKeyDictionary beside the
unit: an answer that refers to its unit, as ``FileReach`` does, would keep the key, and every unit, alive.)
Rules reach the main analyses through the typed ``FileContext.analyses`` (``ftaudit.analysis.file``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

from ftaudit.cmodel import CUnit

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def per_unit(analysis: Callable[[CUnit], T]) -> Callable[[CUnit], T]:
    """``analysis(unit)`` computed once per unit."""
    @functools.wraps(analysis)
    def cached(unit: CUnit) -> T:
        answers = unit.memo
        key = (analysis, None)
        if key not in answers:
            answers[key] = analysis(unit)
        return cast(T, answers[key])

    return cached


def per_unit_keyed(analysis: Callable[[CUnit, K], T]) -> Callable[[CUnit, K], T]:
    """``analysis(unit, key)`` computed once per unit and key (a target, a function's start offset)."""
    @functools.wraps(analysis)
    def cached(unit: CUnit, key: K) -> T:
        answers = unit.memo
        slot = (analysis, key)
        if slot not in answers:
            answers[slot] = analysis(unit, key)
        return cast(T, answers[slot])

    return cached
