"""ruff's selector grammar: full codes, prefixes (``FT2``, ``FT40``) or ``ALL``; the most specific wins.

``--select FT2 --ignore FT201`` enables FT2xx but FT201; ``--select FT201 --ignore FT2`` keeps FT201,
because a full code is more specific than a prefix. Severity overrides use the same specificity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TypeVar

SELECTOR_RE = re.compile(r"^(ALL|[A-Z]{1,5}[0-9]{0,4})$")
T = TypeVar("T")


class SelectorError(ValueError):
    pass


def normalise(selector: str, known_codes: Iterable[str]) -> str:
    """Upper-case and check one selector; raise SelectorError when it matches no known rule."""
    text = selector.strip().upper()
    if not SELECTOR_RE.match(text):
        raise SelectorError(f"invalid rule selector {selector!r}: expected a code (FT201), a prefix (FT2) or ALL")
    if text != "ALL" and not any(code.startswith(text) for code in known_codes):
        raise SelectorError(f"unknown rule selector {selector!r}: no rule code starts with {text}")
    return text


def specificity(selector: str) -> int:
    return -1 if selector == "ALL" else len(selector)


def matches(selector: str, code: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def resolve(codes: Iterable[str], select: Iterable[str], ignore: Iterable[str]) -> set[str]:
    """The enabled codes: for each code the most specific matching selector decides (ignore wins ties)."""
    select, ignore = list(select), list(ignore)
    enabled = set()
    for code in codes:
        best_on = max((specificity(s) for s in select if matches(s, code)), default=None)
        best_off = max((specificity(s) for s in ignore if matches(s, code)), default=None)
        if best_on is not None and (best_off is None or best_on > best_off):
            enabled.add(code)
    return enabled


def most_specific(mapping: Mapping[str, T], code: str) -> T | None:
    """The value of the most specific selector in ``mapping`` that matches ``code``."""
    best: tuple[int, T] | None = None
    for selector, value in mapping.items():
        if matches(selector, code) and (best is None or specificity(selector) > best[0]):
            best = (specificity(selector), value)
    return best[1] if best else None
