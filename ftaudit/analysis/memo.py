"""The per-file cache of analyses: each is computed on first use and kept as long as its C unit.

Analyses of one file are plain functions of the unit (``init_only(unit)``, ``uses(unit, target)``);
decorating one with ``per_unit`` (or ``per_unit_keyed``) makes it run once per unit,
however many rules and helpers ask. The answers live beside the unit, not on it: the C model knows
nothing of the analyses built on it, and they are dropped with the unit when the file is done.
Rules reach the main analyses through the typed ``FileContext.analyses`` (``ftaudit.analysis.file``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from ftaudit.cmodel import CUnit

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

# unit -> (analysis, extra key) -> answer
_ANSWERS: WeakKeyDictionary[CUnit, dict[tuple[object, object], Any]] = WeakKeyDictionary()


def _answers(unit: CUnit) -> dict[tuple[object, object], Any]:
    answers = _ANSWERS.get(unit)
    if answers is None:
        answers = _ANSWERS[unit] = {}
    return answers


def per_unit(analysis: Callable[[CUnit], T]) -> Callable[[CUnit], T]:
    """``analysis(unit)`` computed once per unit."""
    @functools.wraps(analysis)
    def cached(unit: CUnit) -> T:
        answers = _answers(unit)
        key = (analysis, None)
        if key not in answers:
            answers[key] = analysis(unit)
        return answers[key]  # type: ignore[no-any-return]

    return cached


def per_unit_keyed(analysis: Callable[[CUnit, K], T]) -> Callable[[CUnit, K], T]:
    """``analysis(unit, key)`` computed once per unit and key (a target, a function's start offset)."""
    @functools.wraps(analysis)
    def cached(unit: CUnit, key: K) -> T:
        answers = _answers(unit)
        slot = (analysis, key)
        if slot not in answers:
            answers[slot] = analysis(unit, key)
        return answers[slot]  # type: ignore[no-any-return]

    return cached
