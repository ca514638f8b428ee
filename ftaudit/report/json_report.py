"""Machine formats ``json`` (one array) and ``json-lines`` (one object per line), ruff's field names.

The array matches the JSON Schema shipped in ``ftaudit/schemas/findings.schema.json``.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from ftaudit import HOMEPAGE
from ftaudit.findings import INCOMPLETE, Diagnostic, Finding, Position
from ftaudit.result import NO_RUN_INFO, RunInfo, ScanResult


def rule_url(code: str) -> str:
    return f"{HOMEPAGE}/blob/main/docs/rules.md#{code.lower()}"


def _pos(position: Position) -> dict[str, int]:
    return {"row": position.line, "column": position.column}


def finding_dict(f: Finding) -> dict[str, Any]:
    fix = None
    if f.fix is not None:
        fix = {
            "applicability": f.fix.applicability.value,
            "message": f.fix.message,
            "edits": [{"content": e.content, "location": _pos(e.start), "end_location": _pos(e.end)}
                      for e in f.fix.edits],
        }
    return {
        "code": f.code,
        "name": f.name,
        "message": f.message,
        "severity": f.severity.label,
        "filename": f.path,
        "location": _pos(f.start),
        "end_location": _pos(f.end),
        "help": f.help or None,
        "fix": fix,
        "related": [{"filename": r.path, "location": _pos(r.start), "end_location": _pos(r.end),
                     "message": r.message} for r in f.related],
        "url": rule_url(f.code),
    }


def incomplete_dict(d: Diagnostic) -> dict[str, Any]:
    """A file that was not analysed in full, as an entry with no rule code (as ruff reports syntax errors),
    so a machine reading only this output still learns that the file's findings may be missing."""
    start = {"row": 1, "column": 1}
    return {"code": None, "name": d.kind.value, "message": d.render(),
            "severity": "error" if d.is_error else "warning", "filename": d.path, "location": start,
            "end_location": start, "help": None, "fix": None, "related": [],
            "url": f"{HOMEPAGE}#exit-codes-and-diagnostics"}


def entries(result: ScanResult) -> list[dict[str, Any]]:
    incomplete = [incomplete_dict(d) for d in result.diagnostics if d.path and d.kind in INCOMPLETE]
    return [finding_dict(f) for f in result.findings] + incomplete


class JsonReporter:
    machine = True

    def render(self, result: ScanResult, out: TextIO, *, color: bool, run: RunInfo = NO_RUN_INFO) -> None:
        json.dump(entries(result), out, indent=2, ensure_ascii=False)
        out.write("\n")


class JsonLinesReporter:
    machine = True

    def render(self, result: ScanResult, out: TextIO, *, color: bool, run: RunInfo = NO_RUN_INFO) -> None:
        for entry in entries(result):
            out.write(json.dumps(entry, ensure_ascii=False))
            out.write("\n")
