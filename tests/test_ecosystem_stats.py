"""The ecosystem check's precision arithmetic (tools/ecosystem/check.py), on numbers worked by hand."""

from __future__ import annotations

import pytest
from support import load_tool


def _check_module():
    return load_tool("tools/ecosystem/check.py", "ecosystem_check")


check = _check_module()


def test_stratified_weights_each_rule_by_its_number_of_findings() -> None:
    # 100 findings of a rule judged 9/10 TRUE and 300 of one judged 1/2: 0.25 * 0.9 + 0.75 * 0.5 = 0.6,
    # where the pooled verdicts (10 of 12) would say 0.83.
    counts = {"FT201": (100, 9, 1), "FT301": (300, 1, 1), "FT999": (5, 0, 0)}
    estimate, low, high, covered, total = check.stratified(counts)
    assert estimate == pytest.approx(0.6)
    assert (covered, total) == (400, 405)
    assert low < 0.6 < high


def test_a_rule_judged_in_full_has_no_sampling_error() -> None:
    estimate, low, high, covered, total = check.stratified({"FT406": (13, 13, 0)})
    assert (estimate, low, high, covered, total) == (1.0, 1.0, 1.0, 13, 13)


def test_no_verdict_no_estimate() -> None:
    assert check.stratified({"FT201": (10, 0, 0)}) is None


def test_wilson_interval() -> None:
    low, high = check.wilson(9, 10)
    assert (round(low, 3), round(high, 3)) == (0.596, 0.982)


def test_a_write_reported_as_a_related_location_of_its_lazy_initialisation_is_still_found() -> None:
    # An FT202 whose check guards line 3's write covers the key an FT201 at line 3 would have; a
    # related location in another file, and a rule outside the family, cover nothing.
    project = check.Project("demo", "1.0", "0" * 64, "demo-1.0.tar.gz")
    lines = ["static PyObject *a;", "if (!a) {", "    a = PyDict_New();", "}"]
    entry = {"code": "FT202", "related": [
        {"filename": "m.c", "location": {"row": 3, "column": 5}},
        {"filename": "other.c", "location": {"row": 3, "column": 5}},
    ]}
    covered = check._covered_keys(project, "m.c", entry, lines)
    assert check.finding_key(project, "m.c", "FT201", "a = PyDict_New();", 1) in covered
    assert len(covered) == 2  # FT201 and FT202 at line 3 of m.c only
    assert check._covered_keys(project, "m.c", {**entry, "code": "FT301"}, lines) == []
