"""Typed per-file summaries of project-level rules (``Rule.summarize``).

A summary crosses two boundaries: the worker pool pickles it to the project pass, and the result
cache stores it as JSON. A frozen dataclass at module level registered with ``@summary_type`` does
both: it pickles as any module-level class does, and the cache's data-only codec (``ftaudit.cache``)
rebuilds registered classes, as it does its own result classes, from data: the entry names a class,
it never holds code. Rules may still return plain dicts and lists (plugins do).
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T", bound=type)

_TYPES: dict[str, type] = {}


def summary_type(cls: T) -> T:
    """Class decorator: instances of this dataclass may be cached as (part of) a file's summary."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__qualname__} must be a dataclass to be a summary")
    known = _TYPES.setdefault(cls.__name__, cls)
    if known is not cls:  # the cache names a class by its name alone
        raise TypeError(f"summary classes {known.__module__}.{known.__qualname__} and "
                        f"{cls.__module__}.{cls.__qualname__} share a name")
    return cls


def summary_types() -> dict[str, type]:
    """Every registered summary class by name (the cache codec's dataclass tag)."""
    return dict(_TYPES)
