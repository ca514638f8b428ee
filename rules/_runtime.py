"""Base class for rules whose findings only matter in code that runs at run time (not module init).

Findings in code this file's own entry points reach are reported at once; those reached only
through functions the file exports are summarised, and the project pass reports them when another
file calls those functions at run time (``ftaudit.analysis.reachability``).
"""

from __future__ import annotations

from typing import Any

from ftaudit.analysis.reachability import runtime_exported
from ftaudit.analysis.shared_state import analyse
from ftaudit.context import Anchor, FileContext, ProjectContext
from ftaudit.findings import Position
from ftaudit.rule import Rule


class RunTimeRule(Rule):
    """Reports what races for sure in ``check``; writes reached only through functions this file
    exports are summarised and reported by the project pass if other files call them at run time."""

    project_level = True

    def candidates(self, ctx: FileContext) -> list[tuple[Anchor, str, str, frozenset[str]]]:
        """(anchor, message, help, exported roots) for every possible finding in the file."""
        raise NotImplementedError

    def check(self, ctx: FileContext) -> None:
        if ctx.c_unit is None:
            return
        for anchor, message, help_text, roots in self.candidates(ctx):
            if not roots:
                ctx.report(anchor, message, help=help_text)

    def summarize(self, ctx: FileContext) -> dict[str, Any] | None:
        unit = ctx.c_unit
        if unit is None:
            return None
        state = analyse(unit, ctx.target)
        pending = []
        for anchor, message, help_text, roots in self.candidates(ctx):
            if roots:
                start, end = ctx.span(anchor)
                ctx.keep_lines(start.line, end.line)
                pending.append({"start": (start.line, start.column), "end": (end.line, end.column),
                                "message": message, "help": help_text, "roots": sorted(roots)})
        return {"reach": state.reach.summary if state.reach else None, "pending": pending}

    def check_project(self, project: ProjectContext) -> None:
        reach = {path: s["reach"] for path, s in project.summaries.items() if s.get("reach")}
        runtime = runtime_exported(reach)
        for path, summary in sorted(project.summaries.items()):
            for item in summary["pending"]:
                through = [r for r in item["roots"] if r in runtime]
                if through:
                    via = f" through `{through[0]}`" if f"`{through[0]}`" not in item["message"] else ""
                    project.report(path, Position(*item["start"]), Position(*item["end"]),
                                   f"{item['message']} (exported{via}: other files may call it at run time)",
                                   help=item["help"])
