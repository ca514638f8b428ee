"""Typed per-file summaries of project-level rules (``Rule.summarize``).

A summary crosses two boundaries: the worker pool pickles it to the project pass, and the result
cache stores it as JSON. A frozen dataclass at module level registered with ``@summary_type`` does
both: it pickles as any module-level class does, and ``encode``/``decode`` (the engine calls them
around the cache) turn it into cache data and back. Only registered classes are rebuilt from a cache
entry, an allow-list like the cache's own for findings, and only from data: the entry names a class,
it never holds code.

Rules may still return plain dicts and lists (plugins do); those are stored as they are.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T", bound=type)

_TAG = "$summary"
_TYPES: dict[str, type] = {}


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def summary_type(cls: T) -> T:
    """Class decorator: instances of this dataclass may be cached as (part of) a file's summary."""
    _TYPES[_name(cls)] = cls
    return cls


def summary_types() -> dict[str, type]:
    """Every registered summary class by its class name (the cache codec's dataclass tag)."""
    return {cls.__name__: cls for cls in _TYPES.values()}


class UnknownSummary(ValueError):
    """A cached summary names a class this ftaudit does not define (the file is analysed again)."""


def encode(value: Any) -> Any:
    """``value`` with every registered summary in it (also nested, in tuples, lists and dicts) as tagged
    plain data; anything else is left to the cache's own codec."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and _TYPES.get(_name(type(value))):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return {_TAG: _name(type(value)), "fields": fields}
    if isinstance(value, tuple):
        return tuple(encode(item) for item in value)
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    return value


def decode(value: Any) -> Any:
    """The inverse of ``encode``; raises UnknownSummary for a class that is not registered."""
    if isinstance(value, dict):
        if _TAG in value and set(value) == {_TAG, "fields"}:
            cls = _TYPES.get(str(value[_TAG]))
            if cls is None or not isinstance(value["fields"], dict):
                raise UnknownSummary(str(value[_TAG]))
            try:
                return cls(**{key: decode(item) for key, item in value["fields"].items()})
            except TypeError as exc:  # fields that no longer match the class
                raise UnknownSummary(f"{value[_TAG]}: {exc}") from None
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(decode(item) for item in value)
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value
