"""Reporters: each output format renders a finished ScanResult; none of them analyses anything.

Formats are looked up by name and imported only when used, so a one-file pre-commit run never pays
for jinja2 or the SARIF writer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from ftaudit.result import RunInfo, ScanResult

# format name -> "module:class"
REPORTERS = {
    "full": "ftaudit.report.terminal:FullReporter",
    "concise": "ftaudit.report.terminal:ConciseReporter",
    "json": "ftaudit.report.json_report:JsonReporter",
    "json-lines": "ftaudit.report.json_report:JsonLinesReporter",
    "github": "ftaudit.report.github:GithubReporter",
    "sarif": "ftaudit.report.sarif:SarifReporter",
    "html": "ftaudit.report.html:HtmlReporter",
    "gitlab": "ftaudit.report.gitlab:GitlabReporter",
    "junit": "ftaudit.report.junit:JunitReporter",
}


class Reporter(Protocol):
    machine: bool  # machine formats are never coloured and print no summary

    def render(self, result: ScanResult, out: TextIO, *, color: bool, run: RunInfo) -> None:
        """Write the report of ``result``; ``run`` says how the run was asked for (command line, scanned
        paths, SARIF category, baseline, whether unsafe fixes count)."""


class UnknownFormat(ValueError):
    pass


def get_reporter(name: str) -> Reporter:
    try:
        module_name, class_name = REPORTERS[name].split(":")
    except KeyError:
        raise UnknownFormat(f"output format {name!r} is not available (known: {', '.join(REPORTERS)})") from None
    return getattr(importlib.import_module(module_name), class_name)()
