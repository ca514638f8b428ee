"""GitLab Code Quality report (`--output-format gitlab`): a JSON array GitLab shows in merge requests.

Each issue carries a fingerprint that survives unrelated edits: the rule, the file and GitHub's
content hash of the finding's line (the one SARIF sends, ``ftaudit.fingerprint``), numbered when a
line holds the same rule's finding twice. GitLab compares fingerprints between the branches to say
which findings a merge request adds or fixes.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import TextIO

from ftaudit.findings import INCOMPLETE, Severity
from ftaudit.result import NO_RUN_INFO, RunInfo, ScanResult

# GitLab's severities: info, minor, major, critical, blocker.
_SEVERITY = {Severity.ERROR: "critical", Severity.WARNING: "major", Severity.NOTE: "minor"}


class GitlabReporter:
    machine = True

    def render(self, result: ScanResult, out: TextIO, *, color: bool, run: RunInfo = NO_RUN_INFO) -> None:
        issues = []
        seen: Counter[tuple[str, str, str]] = Counter()
        for finding in sorted(result.findings, key=lambda f: f.sort_key):
            anchor = result.fingerprint(finding) or finding.message
            seen[(finding.code, finding.path, anchor)] += 1
            raw = "\0".join((finding.code, finding.path, anchor, str(seen[(finding.code, finding.path, anchor)])))
            issues.append({
                "type": "issue",
                "check_name": f"{finding.code} {finding.name}",
                "description": f"{finding.code} {finding.message}",
                "content": {"body": finding.help} if finding.help else None,
                "categories": ["Bug Risk"],
                "severity": _SEVERITY[finding.severity],
                "fingerprint": hashlib.sha256(raw.encode("utf-8")).hexdigest(),
                "location": {"path": finding.path,
                             "lines": {"begin": finding.start.line, "end": finding.end.line}},
            })
        for diagnostic in result.diagnostics:
            if diagnostic.path and diagnostic.kind in INCOMPLETE:  # a file not analysed in full
                raw = "\0".join(("ftaudit", diagnostic.path, diagnostic.kind.value))
                issues.append({
                    "type": "issue", "check_name": f"ftaudit {diagnostic.kind.value}",
                    "description": diagnostic.render(), "content": None, "categories": ["Bug Risk"],
                    "severity": "critical" if diagnostic.is_error else "minor",
                    "fingerprint": hashlib.sha256(raw.encode("utf-8")).hexdigest(),
                    "location": {"path": diagnostic.path, "lines": {"begin": 1, "end": 1}},
                })
        for issue in issues:
            if issue["content"] is None:
                del issue["content"]
        json.dump(issues, out, indent=2)
        out.write("\n")
