"""JUnit XML (`--output-format junit`), for CI systems that show test reports: one test suite per
file, one failing test case per finding, and one passing case when nothing was found."""

from __future__ import annotations

from collections import defaultdict
from typing import TextIO
from xml.etree import ElementTree

from ftaudit.findings import INCOMPLETE, Finding
from ftaudit.result import NO_RUN_INFO, RunInfo, ScanResult


class JunitReporter:
    machine = True

    def render(self, result: ScanResult, out: TextIO, *, color: bool, run: RunInfo = NO_RUN_INFO) -> None:
        by_file: dict[str, list[Finding]] = defaultdict(list)
        for finding in sorted(result.findings, key=lambda f: f.sort_key):
            by_file[finding.path].append(finding)
        incomplete = [d for d in result.diagnostics if d.path and d.kind in INCOMPLETE]
        total = max(1, len(result.findings) + len(incomplete))
        root = ElementTree.Element("testsuites", name="ftaudit", tests=str(total),
                                   failures=str(len(result.findings)), errors=str(len(incomplete)))
        for path, findings in sorted(by_file.items()):
            suite = ElementTree.SubElement(root, "testsuite", name=path, tests=str(len(findings)),
                                           failures=str(len(findings)), errors="0")
            for finding in findings:
                case = ElementTree.SubElement(suite, "testcase", classname=path,
                                              name=f"{finding.code} at {finding.start.line}:{finding.start.column}",
                                              file=path, line=str(finding.start.line))
                failure = ElementTree.SubElement(case, "failure", message=f"{finding.code} {finding.message}",
                                                 type=finding.severity.label)
                where = f"{path}:{finding.start.line}:{finding.start.column}"
                failure.text = f"{where}: {finding.code} {finding.message}" + (
                    f"\nhelp: {finding.help}" if finding.help else "")
        if incomplete:
            suite = ElementTree.SubElement(root, "testsuite", name="ftaudit diagnostics",
                                           tests=str(len(incomplete)), failures="0", errors=str(len(incomplete)))
            for diagnostic in incomplete:
                case = ElementTree.SubElement(suite, "testcase", classname=diagnostic.path,
                                              name=diagnostic.kind.value)
                ElementTree.SubElement(case, "error", message=diagnostic.render(), type=diagnostic.kind.value)
        if not result.findings and not incomplete:
            suite = ElementTree.SubElement(root, "testsuite", name="ftaudit", tests="1", failures="0", errors="0")
            ElementTree.SubElement(suite, "testcase", classname="ftaudit", name="No findings")
        ElementTree.indent(root)
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(ElementTree.tostring(root, encoding="unicode"))
        out.write("\n")
