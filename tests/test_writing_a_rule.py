"""The README's "Writing a rule" sample is real: it registers, its examples pass, and the engine does
for it what the section promises (code that is not compiled is skipped, targets are declared)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftaudit.registry import load_registry
from ftaudit.rule import Example, Rule
from ftaudit.target import FREE_THREADED
from ftaudit.testing import example_problems, run_example

REPO = Path(__file__).resolve().parents[1]


def _readme_rule() -> type[Rule]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Writing a rule", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "the section has no Python sample"
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)  # our own README, not scanned input
    rules = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, Rule) and v is not Rule]
    assert len(rules) == 1
    return rules[0]


@pytest.fixture
def sample() -> Iterator[type[Rule]]:
    rule = _readme_rule()
    registry = load_registry()
    registry.rules[rule.code] = rule
    try:
        yield rule
    finally:
        del registry.rules[rule.code]


def test_readme_sample_rule_passes_its_own_examples(sample: type[Rule], tmp_path: Path) -> None:
    assert sample.validate() == []
    assert example_problems(sample, tmp_path) == []


def test_findings_in_code_that_is_not_compiled_are_dropped_by_report(sample: type[Rule], tmp_path: Path) -> None:
    code = ("#if 0\n"
            "void old(char *s) { strtok(s, \" \"); }\n"
            "#endif\n"
            "#if PY_VERSION_HEX < 0x030D0000\n"
            "void older(char *s) { strtok(s, \",\"); }\n"
            "#else\n"
            "void newer(char *s) { strtok(s, \";\"); }\n"
            "#endif\n")
    found = run_example(sample, Example(code), tmp_path / "a")
    assert [(f.code, f.start.line) for f in found] == [("ACME101", 7)]   # only the branch 3.14t compiles
    found = run_example(sample, Example(code, target="3.12"), tmp_path / "b")
    assert [(f.code, f.start.line) for f in found] == [("ACME101", 5)]


def test_a_rule_that_opts_out_reports_legacy_branches(sample: type[Rule], tmp_path: Path) -> None:
    legacy = type("Legacy", (sample,), {"reports_uncompiled": True})
    load_registry().rules[sample.code] = legacy
    found = run_example(legacy, Example("#if 0\nvoid f(char *s) { strtok(s, \" \"); }\n#endif\n"), tmp_path)
    assert [(f.code, f.start.line) for f in found] == [("ACME101", 2)]


def test_applies_to_keeps_the_engine_from_running_the_rule(sample: type[Rule], tmp_path: Path) -> None:
    free_threaded_only = type("FreeThreadedOnly", (sample,), {"applies_to": FREE_THREADED})
    load_registry().rules[sample.code] = free_threaded_only
    example = Example('void f(char *s) { strtok(s, " "); }\n')
    assert [f.start.line for f in run_example(free_threaded_only, example, tmp_path / "ft")] == [1]
    gil = Example(example.code, target="3.13")
    assert run_example(free_threaded_only, gil, tmp_path / "gil") == []
