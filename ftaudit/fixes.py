"""Apply findings' edits: `--fix` (safe), `--unsafe-fixes`, `--diff`, and the tests' round trips.

Nothing is written unless the user asked for it; overlapping edits are left for the next run. Edits
are applied to the bytes that were analysed: a file that changed since (an editor saved it during
the run) is skipped, the file's own line endings are kept byte for byte (an edit's newlines take the
file's style), and every write goes through `ftaudit.safe_write` (atomic, mode kept, never out of
the scanned tree).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ftaudit.findings import Applicability, Edit, Finding, Position
from ftaudit.safe_write import WriteRefused, replace_file
from ftaudit.source import Language, SourceFile


def newline_of(data: bytes) -> bytes:
    """The file's line ending: the most common of LF, CRLF and a lone CR (classic Mac files)."""
    lf = data.count(b"\n")
    crlf = data.count(b"\r\n")
    cr = data.count(b"\r") - crlf
    counts = {b"\n": lf - crlf, b"\r\n": crlf, b"\r": cr}
    return max(counts, key=lambda k: (counts[k], k == b"\n"))


def apply_edits_bytes(data: bytes, edits: Iterable[Edit]) -> bytes:
    """``data`` with every edit applied. Positions are 1-based lines and character columns, mapped
    to bytes exactly as the analysis mapped them (`SourceFile`); edits' newlines become the file's."""
    source = SourceFile(Path("<edit>"), "<edit>", data, Language.C)
    newline = newline_of(data)
    spans = sorted(((source.offset(e.start), source.offset(e.end),
                     e.content.encode("utf-8").replace(b"\n", newline) if newline != b"\n"
                     else e.content.encode("utf-8")) for e in edits), reverse=True)
    for start, end, content in spans:
        data = data[:start] + content + data[end:]
    return data


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """The text with every edit applied (the tests' round trips; ``--fix`` works on bytes)."""
    return apply_edits_bytes(text.encode("utf-8"), edits).decode("utf-8")


def applies(finding: Finding, *, unsafe: bool) -> bool:
    """Whether `--fix` (with `--unsafe-fixes` when ``unsafe``) applies this finding's edit: a safe one, an
    unsafe one when asked, never a display-only one. The `[*]` marks and the rule examples use it too."""
    fix = finding.fix
    return fix is not None and bool(fix.edits) and (
        fix.applicability is Applicability.SAFE or (unsafe and fix.applicability is Applicability.UNSAFE))


@dataclass
class FilePlan:
    path: Path
    display: str
    before: bytes
    after: bytes
    fixed: list[Finding]


@dataclass
class Plans:
    files: list[FilePlan] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line each: which file, and why it was left

    @property
    def count(self) -> int:
        return sum(len(p.fixed) for p in self.files)


def plan(findings: Iterable[Finding], *, unsafe: bool, cwd: Path | None = None,
         digests: dict[str, str] | None = None) -> Plans:
    """Which edits to apply, file by file: safe fixes (and unsafe ones when asked), never
    display-only ones, and never two edits that overlap (the later one waits for the next run).

    ``digests`` maps a display path to the SHA-256 of the bytes analysed; a file whose bytes differ
    now is skipped rather than patched at positions that no longer mean the same thing.
    """
    cwd = cwd or Path.cwd()
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        if applies(finding, unsafe=unsafe):
            by_file.setdefault(finding.path, []).append(finding)
    plans = Plans()
    for display, chosen in sorted(by_file.items()):
        path = Path(display) if Path(display).is_absolute() else cwd / display
        try:
            before = path.read_bytes()
            before.decode("utf-8")
        except OSError as exc:
            plans.skipped.append(f"{display}: cannot read: {exc.strerror or exc}; not fixed")
            continue
        except UnicodeDecodeError:
            plans.skipped.append(f"{display}: not UTF-8; not fixed")
            continue
        if digests is not None and digests.get(display) != hashlib.sha256(before).hexdigest():
            plans.skipped.append(f"{display}: changed since it was analysed; not fixed (run again)")
            continue
        fixed = non_overlapping(chosen)
        after = apply_edits_bytes(before, [e for f in fixed for e in f.fix.edits])  # type: ignore[union-attr]
        if after != before:
            plans.files.append(FilePlan(path, display, before, after, fixed))
    return plans


def non_overlapping(findings: Iterable[Finding]) -> list[Finding]:
    """The findings whose edits are applied in one round: in report order, skipping any edit that overlaps
    one already taken (it waits for the next round, after the rescan)."""
    taken: list[tuple[Position, Position]] = []
    chosen: list[Finding] = []
    for finding in sorted(findings, key=lambda f: f.sort_key):
        spans = [(e.start, e.end) for e in finding.fix.edits]  # type: ignore[union-attr]
        if any(_overlaps(a, b) for a in spans for b in taken):
            continue
        taken.extend(spans)
        chosen.append(finding)
    return chosen


def _overlaps(a: tuple[Position, Position], b: tuple[Position, Position]) -> bool:
    if a[0] == a[1] and b[0] == b[1]:
        return a[0] == b[0]  # two insertions at one spot would interleave
    return a[0] < b[1] and b[0] < a[1]


def unified_diff(file_plan: FilePlan) -> str:
    before = file_plan.before.decode("utf-8", errors="replace")
    after = file_plan.after.decode("utf-8", errors="replace")
    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=f"a/{file_plan.display}", tofile=f"b/{file_plan.display}",
    ))


def write(file_plan: FilePlan, roots: Iterable[Path] | None = None) -> str | None:
    """Replace the file's contents in one step (see `ftaudit.safe_write`); the reason when refused."""
    try:
        replace_file(file_plan.path, file_plan.after, roots)
    except WriteRefused as exc:
        return str(exc)
    return None
