"""Base class for rules whose findings only matter in code that runs at run time (not module init).

Findings in code this file's own entry points reach are reported at once; those reached only
through functions the file exports are summarised, and the project pass reports them when another
file calls those functions at run time (``ftaudit.analysis.reachability``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftaudit.analysis.reachability import runtime_exported
from ftaudit.analysis.shared_state import analyse
from ftaudit.context import Anchor, FileContext, ProjectContext
from ftaudit.findings import Position, RelatedLocation, Severity
from ftaudit.rule import Rule


@dataclass(frozen=True)
class Candidate:
    """A possible finding: reported at once when code of this file reaches it at run time, or by the
    project pass when other files call ``roots`` at run time."""

    anchor: Anchor
    message: str
    help: str
    roots: frozenset[str]
    # The exported function whose every call performs this (a lazy initialisation that leads its body):
    # when another file's module init calls it on each import, the run-time calls find it done.
    unless_init_calls: str | None = None
    severity: Severity | None = None  # None: the rule's
    related: tuple[tuple[Anchor, str], ...] = ()  # (where, what) shown beside the finding


class RunTimeRule(Rule):
    """Reports what races for sure in ``check``; writes reached only through functions this file
    exports are summarised and reported by the project pass if other files call them at run time."""

    project_level = True

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        """Every possible finding in the file."""
        raise NotImplementedError

    def _candidates(self, ctx: FileContext) -> list[Candidate]:
        """``candidates`` once per file: ``check`` and ``summarize`` both read them."""
        cache = ctx.__dict__.setdefault("_ftaudit_candidates", {})
        if self.code not in cache:
            cache[self.code] = self.candidates(ctx)
        return cache[self.code]

    def check(self, ctx: FileContext) -> None:
        if ctx.c_unit is None:
            return
        for candidate in self._candidates(ctx):
            if not candidate.roots:
                ctx.report(candidate.anchor, candidate.message, help=candidate.help, severity=candidate.severity,
                           related=tuple(ctx.related(anchor, text) for anchor, text in candidate.related))

    def summarize(self, ctx: FileContext) -> dict[str, Any] | None:
        unit = ctx.c_unit
        if unit is None:
            return None
        state = analyse(unit, ctx.target)
        pending = []
        for candidate in self._candidates(ctx):
            if candidate.roots:
                start, end = ctx.span(candidate.anchor)
                ctx.keep_lines(start.line, end.line)
                related = [ctx.related(anchor, text) for anchor, text in candidate.related]
                pending.append({"start": (start.line, start.column), "end": (end.line, end.column),
                                "related": [((r.start.line, r.start.column), (r.end.line, r.end.column), r.message)
                                            for r in related],
                                "message": candidate.message, "help": candidate.help,
                                "roots": sorted(candidate.roots), "unless_init_calls": candidate.unless_init_calls,
                                "severity": candidate.severity.name if candidate.severity is not None else None})
        return {"reach": state.reach.summary if state.reach else None, "pending": pending}

    def check_project(self, project: ProjectContext) -> None:
        reach = {path: s["reach"] for path, s in project.summaries.items() if s.get("reach")}
        runtime = runtime_exported(reach, project.unnamed)
        init_calls = {name for summary in reach.values() for name in summary.get("init_calls", ())}
        for path, summary in sorted(project.summaries.items()):
            for item in summary["pending"]:
                if item.get("unless_init_calls") in init_calls:
                    continue  # another file's module init calls it on every import: done by then
                through = [r for r in item["roots"] if r in runtime]
                if through:
                    via = f" through `{through[0]}`" if f"`{through[0]}`" not in item["message"] else ""
                    severity = Severity[item["severity"]] if item.get("severity") else None
                    related = tuple(RelatedLocation(path, Position(*start), Position(*end), text)
                                    for start, end, text in item.get("related", ()))
                    project.report(path, Position(*item["start"]), Position(*item["end"]),
                                   f"{item['message']} (exported{via}: other files may call it at run time)",
                                   help=item["help"], severity=severity, related=related)
