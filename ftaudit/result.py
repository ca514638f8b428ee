"""What a scan produced (``ScanResult``) and how it was asked for (``RunInfo``): all a reporter reads.

Reporters and baselines import this module, never the engine that fills it in or the registry: the
rules that ran travel with the result (``ScanResult.rules``), and so does the per-module readiness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ftaudit.findings import Diagnostic, Finding
from ftaudit.readiness import ModuleClaim, ModuleDeclaration, ModuleVerdict, Readiness, module_verdicts

if TYPE_CHECKING:
    from ftaudit.baseline import Outcome
    from ftaudit.config import Settings
    from ftaudit.rule import Rule


@dataclass
class ScanResult:
    findings: list[Finding]
    diagnostics: list[Diagnostic]
    files: list[str]
    lines: dict[str, dict[int, str]]
    rules: list[type[Rule]]  # the rules that ran, with their metadata (SARIF's descriptors, the HTML docs)
    settings: Settings
    suppressed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cached: int = 0  # files whose results came from the cache
    # path -> line -> GitHub's primaryLocationLineHash, for the lines findings can start on (SARIF, baselines)
    fingerprints: dict[str, dict[int, str]] = field(default_factory=dict)
    # path -> the modules that file declares GIL-free (the readiness verdicts' "declares GIL-free")
    declarations: dict[str, tuple[ModuleDeclaration, ...]] = field(default_factory=dict)
    # path -> what that file's modules declare about sub-interpreters (the readiness table's second column)
    claims: dict[str, tuple[ModuleClaim, ...]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)  # path -> SHA-256 of the bytes analysed
    roots: list[Path] = field(default_factory=list)  # the resolved scan boundary: nothing outside is written
    hidden_by_switches: int = 0  # findings in code only debug/test switches nobody defines would build

    def fingerprint(self, finding: Finding) -> str | None:
        return self.fingerprints.get(finding.path, {}).get(finding.start.line)

    @property
    def has_internal_error(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    @property
    def modules(self) -> list[ModuleVerdict]:
        """Readiness per module, from the findings reported (after a baseline, only the new ones), what
        each rule's findings mean for readiness (``Rule.readiness``) and the GIL-free declarations."""
        # How the C model spells a module it cannot name ("the module defined by `spam_def` (…)"); imported
        # here, when the readiness table is made, so that a reporter never imports the C model itself.
        from ftaudit.cmodel.module_defs import described_module

        roles: dict[str, Readiness] = {r.code: r.readiness for r in self.rules if r.readiness is not None}
        isolation = {r.code: r.subinterpreters for r in self.rules if r.subinterpreters}
        return module_verdicts(self.findings, roles, self.declarations, described_module, self.claims, isolation)


@dataclass(frozen=True)
class RunInfo:
    """How the run was asked for, for the reporters that show or depend on it."""

    command: str = ""  # the command line, as the HTML report shows it
    paths: Sequence[Path] = ()  # what was scanned (SARIF's category and URIs); empty: the working directory
    sarif_category: str | None = None  # --sarif-category
    unsafe_fixes: bool = False  # --unsafe-fixes: `[*]` marks count unsafe fixes too
    baseline: Outcome | None = None  # --baseline: which findings are new, baselined, and the stale entries

    @property
    def baseline_state(self) -> str | None:
        """SARIF's ``baselineState`` of every result: "new" when a baseline filtered them."""
        return "new" if self.baseline is not None else None


NO_RUN_INFO = RunInfo()  # a reporter called as a library, on a result scanned from the working directory
