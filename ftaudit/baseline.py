"""Baselines for gradual adoption: ``--write-baseline FILE`` records today's findings, ``--baseline FILE``
reports only the ones not in it and lists the entries that were fixed since (stale) as a ratchet.

An entry is keyed on (rule code, repository-relative path, GitHub's per-line content hash, occurrence):
the hash is the SARIF ``primaryLocationLineHash`` (``ftaudit.fingerprint``), which depends on the
line's content and the next ~100 non-blank characters but not on the line number, so code added
above a baselined finding does not bring it back. ``occurrence`` numbers findings that share the
first three parts. A second pass matches leftovers on (code, path, the finding line's own text), so
editing the lines right after a baselined finding does not resurrect it either.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftaudit.discover import git_root
from ftaudit.findings import Finding
from ftaudit.result import ScanResult

FORMAT_VERSION = 1


class BaselineError(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    code: str
    path: str
    hash: str
    occurrence: int
    text: str  # hash of the finding line with spaces removed (second-pass key)
    line: int = 0  # informational: where it was when recorded
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "path": self.path, "hash": self.hash, "occurrence": self.occurrence,
                "text": self.text, "line": self.line, "message": self.message}


@dataclass
class Outcome:
    new: list[Finding]
    baselined: list[Finding] = field(default_factory=list)
    stale: list[Entry] = field(default_factory=list)


def _base(cwd: Path) -> Path:
    return git_root(cwd) or cwd


def repository_path(display: str, base: Path, cwd: Path) -> str:
    absolute = Path(os.path.normpath(cwd / display))
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        return absolute.as_posix()


def _line_text_key(result: ScanResult, finding: Finding) -> str:
    text = result.lines.get(finding.path, {}).get(finding.start.line, "")
    return hashlib.sha1("".join(text.split()).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def entries_for(result: ScanResult, cwd: Path | None = None) -> list[tuple[Finding, Entry]]:
    cwd = (cwd or Path.cwd()).resolve()
    base = _base(cwd)
    seen: dict[tuple[str, str, str], int] = defaultdict(int)
    out = []
    for finding in sorted(result.findings, key=lambda f: f.sort_key):
        path = repository_path(finding.path, base, cwd)
        text = _line_text_key(result, finding)
        # Without a fingerprint (a line the engine was not told about) the line's own text stands in.
        line_hash = result.fingerprint(finding) or f"text:{text}"
        key = (finding.code, path, line_hash)
        out.append((finding, Entry(finding.code, path, line_hash, seen[key], text, finding.start.line,
                                   finding.message)))
        seen[key] += 1
    return out


def write(result: ScanResult, target: Path, cwd: Path | None = None) -> int:
    entries = [entry.as_dict() for _, entry in entries_for(result, cwd)]
    document = {"version": FORMAT_VERSION, "tool": "ftaudit",
                "comment": "Findings accepted when this file was written; `ftaudit scan --baseline` reports only "
                           "new ones. Regenerate with --write-baseline to drop fixed entries.",
                "entries": entries}
    from ftaudit.safe_write import WriteRefused, write_new

    try:
        write_new(target, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    except WriteRefused as exc:
        raise OSError(str(exc)) from None
    return len(entries)


def load(source: Path) -> list[Entry]:
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {source}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline {source} is not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise BaselineError(f"baseline {source} is not an ftaudit baseline (version {FORMAT_VERSION})")
    entries = []
    for number, raw in enumerate(document.get("entries", [])):
        try:
            entries.append(Entry(str(raw["code"]), str(raw["path"]), str(raw["hash"]), int(raw["occurrence"]),
                                 str(raw.get("text", "")), int(raw.get("line", 0)), str(raw.get("message", ""))))
        except (KeyError, TypeError, ValueError):
            raise BaselineError(f"baseline {source}: entry {number} lacks code, path, hash or occurrence") from None
    return entries


def apply(result: ScanResult, entries: list[Entry], cwd: Path | None = None) -> Outcome:
    """Split the findings into new and baselined; baseline entries of scanned files left over are stale."""
    cwd = (cwd or Path.cwd()).resolve()
    base = _base(cwd)
    scanned = {repository_path(p, base, cwd) for p in result.files}
    exact = {(e.code, e.path, e.hash, e.occurrence): e for e in entries}
    current = entries_for(result, cwd)
    matched: set[Entry] = set()
    leftovers: list[tuple[Finding, Entry]] = []
    baselined: list[Finding] = []
    for finding, entry in current:
        hit = exact.get((entry.code, entry.path, entry.hash, entry.occurrence))
        if hit is not None and hit not in matched:
            matched.add(hit)
            baselined.append(finding)
        else:
            leftovers.append((finding, entry))
    # Second pass: the line itself is unchanged but something in the 100-character window after it was edited.
    by_text: dict[tuple[str, str, str], list[Entry]] = defaultdict(list)
    for e in entries:
        if e not in matched and e.text:
            by_text[(e.code, e.path, e.text)].append(e)
    new: list[Finding] = []
    for finding, entry in leftovers:
        candidates = by_text.get((entry.code, entry.path, entry.text))
        if candidates:
            matched.add(candidates.pop(0))
            baselined.append(finding)
        else:
            new.append(finding)
    stale = [e for e in entries if e not in matched and e.path in scanned]
    return Outcome(new=sorted(new, key=lambda f: f.sort_key), baselined=baselined,
                   stale=sorted(stale, key=lambda e: (e.path, e.line, e.code)))
