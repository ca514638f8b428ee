"""GitHub Actions workflow commands (``::warning file=…::message``), most severe first.

GitHub shows only about 10 annotations per step, so errors come first; values are escaped as the
runner expects, and columns are sent only for single-line spans (as ruff does).
"""

from __future__ import annotations

from typing import TextIO

from ftaudit.findings import INCOMPLETE, Finding, Severity
from ftaudit.result import NO_RUN_INFO, RunInfo, ScanResult

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding) -> str:
    props = [f"title={escape_property(f'ftaudit ({f.code})')}", f"file={escape_property(f.path)}",
             f"line={f.start.line}"]
    if f.start.line == f.end.line:
        props += [f"col={f.start.column}", f"endLine={f.end.line}", f"endColumn={f.end.column}"]
    else:
        props.append(f"endLine={f.end.line}")
    message = f"{f.code} {f.message}" + (f"\n\nhelp: {f.help}" if f.help else "")
    return f"::{_LEVEL[f.severity]} {','.join(props)}::{escape_data(message)}"


class GithubReporter:
    machine = True

    def render(self, result: ScanResult, out: TextIO, *, color: bool, run: RunInfo = NO_RUN_INFO) -> None:
        for f in sorted(result.findings, key=lambda f: (-f.severity, f.sort_key)):
            out.write(annotation(f) + "\n")
        for d in result.diagnostics:
            if d.path and d.kind in INCOMPLETE:
                level = "error" if d.is_error else "warning"
                out.write(f"::{level} title={escape_property('ftaudit (' + d.kind.value + ')')},"
                          f"file={escape_property(d.path)}::{escape_data(d.render())}\n")
