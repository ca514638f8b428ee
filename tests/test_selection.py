"""ruff's selector semantics: prefixes, ALL, and the most specific selector winning."""

from __future__ import annotations

import pytest

from ftaudit.selection import SelectorError, most_specific, normalise, resolve

CODES = ["FT001", "FT101", "FT102", "FT201", "FT202", "FT401"]


@pytest.mark.parametrize(("select", "ignore", "enabled"), [
    (["ALL"], [], set(CODES)),
    (["FT2"], [], {"FT201", "FT202"}),
    (["FT2"], ["FT201"], {"FT202"}),
    (["FT201"], ["FT2"], {"FT201"}),        # a full code is more specific than a prefix
    (["ALL"], ["FT1", "FT4"], {"FT001", "FT201", "FT202"}),
    (["FT10"], ["FT10"], set()),            # a tie goes to ignore
])
def test_resolve(select: list[str], ignore: list[str], enabled: set[str]) -> None:
    assert resolve(CODES, select, ignore) == enabled


def test_normalise() -> None:
    assert normalise(" ft2 ", CODES) == "FT2"
    assert normalise("all", CODES) == "ALL"
    with pytest.raises(SelectorError, match="no rule code starts with FT9"):
        normalise("FT9", CODES)
    with pytest.raises(SelectorError, match="invalid rule selector"):
        normalise("FT-2", CODES)


def test_most_specific() -> None:
    table = {"FT": "note", "FT2": "warning", "FT201": "error"}
    assert most_specific(table, "FT201") == "error"
    assert most_specific(table, "FT202") == "warning"
    assert most_specific(table, "FT101") == "note"
    assert most_specific({}, "FT101") is None
