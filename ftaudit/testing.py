"""Run a rule's bad/good examples through the real pipeline; used by ftaudit's suite and plugins'.

A plugin author can call ``example_problems(MyRule, tmp_path)`` from their own tests, the way Fixit
turns each rule's VALID/INVALID lists into test cases.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import replace
from pathlib import Path

from ftaudit.config import Settings, target_from_requires_python
from ftaudit.engine import scan
from ftaudit.findings import Finding
from ftaudit.rule import Example, Rule
from ftaudit.target import parse_target


def run_example(rule: type[Rule], example: Example, folder: Path) -> list[Finding]:
    """Write the example's files into ``folder``, scan it with every rule on, return ``rule``'s findings."""
    main = rule.example_path(example)
    for name, text in {**example.files, main: example.code}.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    settings = Settings(root=folder, respect_gitignore=False)
    pyproject = example.files.get("pyproject.toml") or (example.code if main == "pyproject.toml" else None)
    if pyproject:
        try:
            spec = tomllib.loads(pyproject).get("project", {}).get("requires-python")
        except tomllib.TOMLDecodeError:
            spec = None
        settings.target = target_from_requires_python(spec if isinstance(spec, str) else None)
    if example.target:
        settings.target = replace(parse_target(example.target), minimum=settings.target.minimum)
    result = scan([folder], settings, jobs=1)
    problems = [d for d in result.diagnostics if d.is_error]
    if problems:
        raise AssertionError("; ".join(d.render() for d in problems))
    return [f for f in result.findings if f.code == rule.code and Path(f.path).as_posix().endswith(main)]


def example_problems(rule: type[Rule], folder: Path) -> list[str]:
    """Every way ``rule``'s examples disagree with what it reports (empty when all is well)."""
    problems = []
    for index, example in enumerate(rule.bad):
        expected = sorted((line, code) for line, code in example.expected() if code == rule.code)
        if not expected:
            problems.append(f"bad example {index} marks no `<- {rule.code}` line")
        findings = run_example(rule, example, folder / f"bad{index}")
        got = sorted((f.start.line, f.code) for f in findings)
        if got != expected:
            problems.append(f"bad example {index}: expected findings at {expected}, got {got}")
        problems.extend(_fix_problems(index, example, findings))
    for index, example in enumerate(rule.good):
        got = [(f.start.line, f.message) for f in run_example(rule, example, folder / f"good{index}")]
        if got:
            problems.append(f"good example {index} should be silent, got {got}")
    return problems


def fixed_text(code: str, findings: list[Finding]) -> str | None:
    """``code`` after one round of every edit `--fix --unsafe-fixes` applies (overlaps wait, as in
    `fixes.plan`), or None when nothing is offered."""
    from ftaudit.fixes import applies, apply_edits, non_overlapping

    chosen = non_overlapping(f for f in findings if applies(f, unsafe=True))
    return apply_edits(code, [e for f in chosen for e in f.fix.edits]) if chosen else None  # type: ignore[union-attr]


def _fix_problems(index: int, example: Example, findings: list[Finding]) -> list[str]:
    after = fixed_text(example.code, findings)
    if after is None:
        return [f"bad example {index} documents a `fixed` text but no edit is offered"] if example.fixed else []
    if example.fixed is None:
        return [f"bad example {index} offers an edit but documents no `fixed` text; it gives:\n{after}"]
    if after != example.fixed:
        diff = "".join(difflib.unified_diff(example.fixed.splitlines(keepends=True), after.splitlines(keepends=True),
                                            "documented", "applied"))
        return [f"bad example {index}: the fix gives a different text:\n{diff}"]
    return []
