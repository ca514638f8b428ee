"""SARIF 2.1.0 for GitHub code scanning (``--output-format sarif``, ``--sarif-output PATH``).

One run, one tool, one category (GitHub rejects several runs with the same tool and category).
URIs are POSIX paths relative to the git root (GitHub ignores ``uriBaseId``); columns are UTF-16
code units, converted from ftaudit's character columns with the source lines kept in the result;
``primaryLocationLineHash`` is GitHub's own algorithm (``ftaudit.fingerprint``), computed by the
engine while the file was in memory. Suppressed findings never reach this writer (GitHub would turn
them into alerts: it ignores ``suppressions``). Conventions: ``docs/github-actions.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from ftaudit import HOMEPAGE, __version__
from ftaudit.discover import git_root
from ftaudit.facts.precision import level as measured_level
from ftaudit.facts.precision import measured
from ftaudit.families import concurrency_family
from ftaudit.findings import Finding, Position, Severity
from ftaudit.report.json_report import rule_url
from ftaudit.result import NO_RUN_INFO, RunInfo, ScanResult
from ftaudit.rule import Rule
from ftaudit.ruledocs import plain_text, render_markdown
from ftaudit.selection import most_specific

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
MAX_RESULTS = 25_000  # GitHub rejects a run with more
MAX_RELATED = 1_000  # GitHub's limit per result
MAX_TAGS = 20
MAX_DESCRIPTION = 1_024
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}
PROBLEM_SEVERITY = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "recommendation"}


def _common_folder(paths: Sequence[Path]) -> Path:
    resolved = [p.resolve() for p in paths] or [Path.cwd().resolve()]
    folders = [p if p.is_dir() else p.parent for p in resolved]
    return Path(os.path.commonpath([str(f) for f in folders]))


def default_category(paths: Sequence[Path], root: Path | None) -> str:
    """The scanned folder relative to the git root (``root`` for the whole repository)."""
    folder = _common_folder(paths)
    base = root or Path.cwd().resolve()
    try:
        relative = folder.relative_to(base).as_posix()
    except ValueError:
        relative = folder.name
    return "root" if relative in ("", ".") else relative


class _Locator:
    """Turns ftaudit's display paths and character columns into SARIF artifact locations and regions."""

    def __init__(self, result: ScanResult, base: Path, cwd: Path) -> None:
        self.result = result
        self.base = base
        self.cwd = cwd

    def uri(self, path: str) -> tuple[str, bool]:
        """(uri, relative to %SRCROOT%)."""
        absolute = Path(os.path.normpath(self.cwd / path))
        for candidate in (absolute, absolute.resolve()):
            try:
                return quote(candidate.relative_to(self.base).as_posix(), safe="/"), True
            except ValueError:
                continue
        return absolute.as_uri(), False

    def artifact(self, path: str) -> dict[str, Any]:
        uri, relative = self.uri(path)
        return {"uri": uri, "uriBaseId": SRCROOT} if relative else {"uri": uri}

    def column(self, path: str, position: Position) -> int:
        """ftaudit columns count characters; SARIF's declared columnKind counts UTF-16 code units."""
        text = self.result.lines.get(path, {}).get(position.line)
        if not text or text.isascii():
            return position.column
        prefix = text[: position.column - 1]
        return position.column + sum(1 for ch in prefix if ord(ch) > 0xFFFF)

    def region(self, path: str, start: Position, end: Position) -> dict[str, int]:
        if (end.line, end.column) < (start.line, start.column):
            end = start
        return {"startLine": start.line, "startColumn": self.column(path, start),
                "endLine": end.line, "endColumn": self.column(path, end)}

    def physical(self, path: str, start: Position, end: Position) -> dict[str, Any]:
        return {"artifactLocation": self.artifact(path), "region": self.region(path, start, end)}


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?:" else text + "."


def _escape_links(text: str) -> str:
    # Literal brackets must be escaped in a message that also embeds [text](id) links (SARIF §3.11.6).
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _message(finding: Finding) -> str:
    text = _sentence(finding.message)  # the essentials come first: GitHub may show only this sentence
    if finding.help:
        text += " " + _sentence(finding.help)
    if not finding.related:
        return text
    links = ", ".join(f"[{_escape_links(r.message or f'{r.path}:{r.start.line}')}]({i})"
                      for i, r in enumerate(finding.related[:MAX_RELATED], start=1))
    return f"{_escape_links(text)} Related: {links}."


def _truncate(text: str, limit: int = MAX_DESCRIPTION) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _tags(rule: type[Rule], secure: bool) -> list[str]:
    """The rule's own tags, plus GitHub's ranking tags: `correctness` for every rule, `concurrency` for
    the free-threading families, and `security` only for memory-corrupting hazards measured precise."""
    own = list(rule.tags or ("free-threading",))
    ranking = ["correctness"] + (["concurrency"] if concurrency_family(rule.code) else [])
    ranking += ["security"] if secure else []
    return list(dict.fromkeys(ranking + own))[:MAX_TAGS]


def rule_descriptor(rule: type[Rule], severity: Severity) -> dict[str, Any]:
    precision = measured_level(rule.code, rule.precision)
    secure = rule.security_severity is not None and measured(rule.code) is not None \
        and precision in ("high", "very-high")
    properties: dict[str, Any] = {"tags": _tags(rule, secure), "precision": precision,
                                  "problem.severity": PROBLEM_SEVERITY[severity]}
    if secure:
        properties["security-severity"] = f"{rule.security_severity:.1f}"
    return {
        "id": rule.code,
        "name": rule.slug,  # differs from the id (sarif-sdk SARIF1001); what `ftaudit rules` shows
        "shortDescription": {"text": _truncate(rule.summary)},
        "fullDescription": {"text": _truncate(rule.what or rule.summary)},
        "help": {"text": plain_text(rule), "markdown": render_markdown(rule)},
        "helpUri": rule_url(rule.code),
        "defaultConfiguration": {"level": LEVEL[severity]},
        "properties": properties,
    }


def _fixes(finding: Finding, locate: _Locator) -> list[dict[str, Any]]:
    fix = finding.fix
    if fix is None or not fix.edits:
        return []
    replacements = [{"deletedRegion": locate.region(finding.path, e.start, e.end),
                     "insertedContent": {"text": e.content}} for e in fix.edits]
    return [{"description": {"text": f"{fix.message} ({fix.applicability.value} fix)"},
             "artifactChanges": [{"artifactLocation": locate.artifact(finding.path),
                                  "replacements": replacements}]}]


def _notifications(result: ScanResult, locate: _Locator, dropped: int) -> list[dict[str, Any]]:
    out = []
    for d in result.diagnostics:
        note: dict[str, Any] = {"level": "error" if d.is_error else "warning",
                                "message": {"text": d.render()}, "descriptor": {"id": d.kind.value}}
        if d.path:
            note["locations"] = [{"physicalLocation": {"artifactLocation": locate.artifact(d.path)}}]
        if d.rule:
            note["associatedRule"] = {"id": d.rule}
        out.append(note)
    if dropped:
        out.append({"level": "warning", "descriptor": {"id": "results-truncated"},
                    "message": {"text": f"{dropped} results were left out: GitHub code scanning accepts at most "
                                        f"{MAX_RESULTS} results per run (the most severe were kept)."}})
    return out


def _kept(findings: list[Finding]) -> tuple[list[Finding], int]:
    if len(findings) <= MAX_RESULTS:
        return findings, 0
    ranked = sorted(findings, key=lambda f: (-f.severity, f.sort_key))[:MAX_RESULTS]
    return sorted(ranked, key=lambda f: f.sort_key), len(findings) - MAX_RESULTS


def build_sarif(result: ScanResult, *, paths: Iterable[Path] = (), category: str | None = None,
                baseline_state: str | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """The SARIF log as a dict; ``baseline_state`` ("new") is set when a baseline filtered the results."""
    cwd = (cwd or Path.cwd()).resolve()
    scanned = list(paths) or [cwd]
    root = git_root(_common_folder(scanned))
    base = root or cwd
    locate = _Locator(result, base, cwd)

    settings = result.settings
    descriptors: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for rule in result.rules:  # every rule that ran: each finding's rule is among them
        override = most_specific(settings.severity, rule.code) if settings.severity else None
        index[rule.code] = len(descriptors)
        descriptors.append(rule_descriptor(rule, override if override is not None else rule.severity))

    findings, dropped = _kept(result.findings)
    results = []
    for finding in findings:
        item: dict[str, Any] = {"ruleId": finding.code}
        if finding.code in index:
            item["ruleIndex"] = index[finding.code]
        item["level"] = LEVEL[finding.severity]
        item["message"] = {"text": _message(finding)}
        item["locations"] = [{"physicalLocation": locate.physical(finding.path, finding.start, finding.end)}]
        fingerprint = result.fingerprint(finding)
        if fingerprint:
            item["partialFingerprints"] = {"primaryLocationLineHash": fingerprint}
        if finding.related:
            item["relatedLocations"] = [
                {"id": i, "physicalLocation": locate.physical(r.path, r.start, r.end),
                 "message": {"text": r.message or f"{r.path}:{r.start.line}"}}
                for i, r in enumerate(finding.related[:MAX_RELATED], start=1)]
        fixes = _fixes(finding, locate)
        if fixes:
            item["fixes"] = fixes
        if baseline_state:
            item["baselineState"] = baseline_state
        results.append(item)

    run: dict[str, Any] = {
        "tool": {"driver": {"name": "ftaudit", "semanticVersion": __version__, "informationUri": HOMEPAGE,
                            "rules": descriptors}},
        "automationDetails": {"id": f"ftaudit/{(category or default_category(scanned, root)).strip('/')}/"},
        "originalUriBaseIds": {SRCROOT: {"uri": base.as_uri() + "/",
                                         "description": {"text": "The repository root" if root else
                                                         "The folder ftaudit ran in"}}},
        "columnKind": "utf16CodeUnits",
        "invocations": [{"executionSuccessful": not result.has_internal_error,
                         "toolExecutionNotifications": _notifications(result, locate, dropped),
                         "workingDirectory": {"uri": cwd.as_uri() + "/"}}],
        "results": results,
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


class SarifReporter:
    machine = True

    def render(self, result: ScanResult, out: TextIO, *, color: bool, run: RunInfo = NO_RUN_INFO) -> None:
        log = build_sarif(result, paths=run.paths, category=run.sarif_category, baseline_state=run.baseline_state)
        json.dump(log, out, indent=2, ensure_ascii=False)
        out.write("\n")
