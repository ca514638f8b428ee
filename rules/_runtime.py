"""Base class for rules whose findings only matter in code that runs at run time (not module init).

Findings in code this file's own entry points reach are reported at once; those reached only
through functions the file exports are summarised, and the project pass reports them when another
file calls those functions at run time (``ftaudit.analysis.reachability``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ftaudit.analysis.reachability import ReachSummary, project_runtime_exported
from ftaudit.candidate import Candidate
from ftaudit.context import FileContext, ProjectContext
from ftaudit.findings import Position, RelatedLocation, Severity
from ftaudit.rule import Rule
from ftaudit.summaries import summary_type


@summary_type
@dataclass(frozen=True)
class Pending:
    """A candidate reached only through exported functions, for the project pass."""

    start: Position
    end: Position
    message: str
    help: str
    roots: tuple[str, ...]
    unless_init_calls: str | None
    severity: Severity | None
    related: tuple[RelatedLocation, ...]


@summary_type
@dataclass(frozen=True)
class RunTimeSummary:
    reach: ReachSummary
    pending: tuple[Pending, ...]


class RunTimeRule(Rule):
    """Reports what races for sure in ``check``; writes reached only through functions this file
    exports are summarised and reported by the project pass if other files call them at run time."""

    project_level = True

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        """Every possible finding in the file."""
        raise NotImplementedError

    def _candidates(self, ctx: FileContext) -> list[Candidate]:
        """``candidates`` once per file: ``check`` and ``summarize`` both read them."""
        found = ctx.analyses.candidates.get(self.code)
        if found is None:
            found = ctx.analyses.candidates[self.code] = self.candidates(ctx)
        return found

    def check(self, ctx: FileContext) -> None:
        if ctx.c_unit is None:
            return
        for candidate in self._candidates(ctx):
            if not candidate.roots:
                ctx.report_candidate(candidate)

    def summarize(self, ctx: FileContext) -> RunTimeSummary | None:
        reach = ctx.analyses.reach
        if reach is None:
            return None
        pending = []
        for candidate in self._candidates(ctx):
            # Held back for the project pass, which cannot ask the preprocessor: drop dead code here.
            if candidate.roots and (self.reports_uncompiled or ctx.compiled(candidate.anchor)):
                start, end = ctx.span(candidate.anchor)
                ctx.keep_lines(start.line, end.line)
                pending.append(Pending(
                    start, end, candidate.message, candidate.help if candidate.help is not None else self.suggestion,
                    tuple(sorted(candidate.roots)), candidate.unless_init_calls, candidate.severity,
                    tuple(ctx.related(anchor, text) for anchor, text in candidate.related)))
        return RunTimeSummary(reach.summary, tuple(pending))

    def check_project(self, project: ProjectContext) -> None:
        summaries: dict[str, RunTimeSummary] = dict(project.summaries)
        runtime = project_runtime_exported(project, {path: s.reach for path, s in summaries.items()})
        init_calls = {name for summary in summaries.values() for name in summary.reach.init_calls}
        for path, summary in sorted(summaries.items()):
            for item in summary.pending:
                if item.unless_init_calls in init_calls:
                    continue  # another file's module init calls it on every import: done by then
                through = [r for r in item.roots if r in runtime]
                if through:
                    via = f" through `{through[0]}`" if f"`{through[0]}`" not in item.message else ""
                    project.report(path, item.start, item.end,
                                   f"{item.message} (exported{via}: other files may call it at run time)",
                                   help=item.help, severity=item.severity, related=item.related)
