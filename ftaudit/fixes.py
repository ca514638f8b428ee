"""Apply findings' edits: `--fix` (safe), `--unsafe-fixes`, `--diff`, and the tests' round trips.

Nothing is written unless the user asked for it; overlapping edits are left for the next run.
"""

from __future__ import annotations

import difflib
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ftaudit.findings import Applicability, Edit, Finding, Position


def _offset(lines: list[str], position: Position) -> int:
    return sum(len(line) for line in lines[: position.line - 1]) + position.column - 1


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """The text with every edit applied; positions are 1-based lines and character columns."""
    lines = text.splitlines(keepends=True)
    spans = sorted(((_offset(lines, e.start), _offset(lines, e.end), e.content) for e in edits), reverse=True)
    for start, end, content in spans:
        text = text[:start] + content + text[end:]
    return text


@dataclass
class FilePlan:
    path: Path
    display: str
    before: str
    after: str
    fixed: list[Finding]


def plan(findings: Iterable[Finding], *, unsafe: bool, cwd: Path | None = None) -> list[FilePlan]:
    """Which edits to apply, file by file: safe fixes (and unsafe ones when asked), never
    display-only ones, and never two edits that overlap (the later one waits for the next run)."""
    cwd = cwd or Path.cwd()
    allowed = {Applicability.SAFE} | ({Applicability.UNSAFE} if unsafe else set())
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.fix is not None and finding.fix.applicability in allowed and finding.fix.edits:
            by_file.setdefault(finding.path, []).append(finding)
    plans = []
    for display, chosen in sorted(by_file.items()):
        path = Path(display) if Path(display).is_absolute() else cwd / display
        try:
            before = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # not writable as text: leave it alone
        taken: list[tuple[Position, Position]] = []
        edits: list[Edit] = []
        fixed: list[Finding] = []
        for finding in sorted(chosen, key=lambda f: f.sort_key):
            spans = [(e.start, e.end) for e in finding.fix.edits]  # type: ignore[union-attr]
            if any(_overlaps(a, b) for a in spans for b in taken):
                continue
            taken.extend(spans)
            edits.extend(finding.fix.edits)  # type: ignore[union-attr]
            fixed.append(finding)
        after = apply_edits(before, edits)
        if after != before:
            plans.append(FilePlan(path, display, before, after, fixed))
    return plans


def _overlaps(a: tuple[Position, Position], b: tuple[Position, Position]) -> bool:
    if a[0] == a[1] and b[0] == b[1]:
        return a[0] == b[0]  # two insertions at one spot would interleave
    return a[0] < b[1] and b[0] < a[1]


def unified_diff(file_plan: FilePlan) -> str:
    return "".join(difflib.unified_diff(
        file_plan.before.splitlines(keepends=True), file_plan.after.splitlines(keepends=True),
        fromfile=f"a/{file_plan.display}", tofile=f"b/{file_plan.display}",
    ))


def write(file_plan: FilePlan) -> None:
    """Replace the file's contents in one step, keeping its permissions."""
    temporary = file_plan.path.with_name(f".{file_plan.path.name}.ftaudit-fix")
    temporary.write_text(file_plan.after, encoding="utf-8")
    shutil.copymode(file_plan.path, temporary)
    os.replace(temporary, file_plan.path)
