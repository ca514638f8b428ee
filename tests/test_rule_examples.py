"""Every rule's own bad/good examples, run through the real pipeline (Fixit-style self-tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftaudit.registry import load_registry
from ftaudit.ruledocs import render_markdown
from ftaudit.testing import example_problems

RULES = sorted(load_registry().rules.values(), key=lambda r: r.code)


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_examples(rule: type, tmp_path: Path) -> None:
    assert example_problems(rule, tmp_path) == []


BUILTIN = [r for r in RULES if r.code not in load_registry().plugin_codes]


@pytest.mark.parametrize("rule", BUILTIN, ids=[r.code for r in BUILTIN])
def test_builtin_rules_are_fully_documented(rule: type) -> None:
    missing = [attr for attr in ("what", "why", "instead", "suggestion") if not getattr(rule, attr)]
    assert not missing, f"{rule.code} lacks {missing}"
    assert rule.bad and rule.good, f"{rule.code} needs bad and good examples"
    assert rule.slug.replace("-", "").isalnum() and rule.slug.islower()
    doc = render_markdown(rule)
    for section in ("## What it does", "## Why it matters", "## Example", "## Use instead", "## Fix"):
        assert section in doc


def test_harness_catches_a_wrong_example(tmp_path: Path) -> None:
    from ftaudit.rule import Example

    danger = load_registry().rules["XMP201"]

    class Misdocumented(danger):  # type: ignore[misc, valid-type]
        bad = (Example("x = 1\ndanger()  # <- XMP201\n"), Example("danger()\n"))
        good = (Example("danger()\n"),)

    problems = example_problems(Misdocumented, tmp_path)
    assert problems == [
        "bad example 1 marks no `<- XMP201` line",
        "bad example 1: expected findings at [], got [(1, 'XMP201')]",
        "good example 0 should be silent, got [(1, 'danger() called')]",
    ]
