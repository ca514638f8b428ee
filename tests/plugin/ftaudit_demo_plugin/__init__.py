"""Demo third-party rules: deliberately simple, so engine tests do not depend on real rule logic."""

from __future__ import annotations

import ast
import re

from ftaudit.context import FileContext, ProjectContext
from ftaudit.findings import Position, Severity
from ftaudit.rule import Example, Rule
from ftaudit.source import Language


class ForbiddenCall(Rule):
    """Flags calls to `forbidden_write()` in C, found in the shared tree-sitter parse."""

    code = "XMP101"
    slug = "forbidden-call"
    summary = "Call to forbidden_write()"
    severity = Severity.WARNING
    languages = frozenset({Language.C, Language.CPP})
    suggestion = "Call allowed_write() instead."
    bad = (Example("void f(void) {\n    forbidden_write(1);  // <- XMP101\n}\n"),)
    good = (Example("void f(void) {\n    allowed_write(1);\n}\n"),)

    def check(self, ctx: FileContext) -> None:
        unit = ctx.c_unit
        if unit is None:
            return
        stack = [unit.tree.root_node]
        while stack:
            node = stack.pop()
            if node.type == "call_expression":
                callee = node.child_by_field_name("function")
                if callee is not None and callee.text == b"forbidden_write":
                    ctx.report(node, "forbidden_write() called")
            stack.extend(reversed(node.children))


class DangerCall(Rule):
    """Flags `danger()` calls in Python through the shared ast."""

    code = "XMP201"
    slug = "danger-call"
    summary = "Call to danger()"
    severity = Severity.ERROR
    languages = frozenset({Language.PYTHON})
    suggestion = "Call safe() instead."
    bad = (Example("danger()  # <- XMP201\n"),)
    good = (Example("safe()\n"),)

    def check(self, ctx: FileContext) -> None:
        tree = ctx.python_ast
        if tree is None:
            return
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "danger":
                ctx.report(node, "danger() called")


class NoteMarker(Rule):
    """A note-severity rule, for --min-severity / --fail-on tests: flags `# note-me` comments."""

    code = "XMP301"
    slug = "note-marker"
    summary = "A note marker"
    severity = Severity.NOTE
    languages = frozenset({Language.PYTHON})
    suggestion = "Nothing to do."
    bad = (Example("x = 1  # note-me <- XMP301\n"),)
    good = (Example("x = 1\n"),)

    def check(self, ctx: FileContext) -> None:
        for number, line in enumerate(ctx.source.text_lines, start=1):
            col = line.find("# note-me")
            if col >= 0:
                ctx.report((Position(number, col + 1), Position(number, col + 10)), "note marker")


_CALL = re.compile(r"\bforbidden_write\s*\(")


class ForbiddenAcrossFiles(Rule):
    """Project-level: a module file (with `PyInit_`) is flagged when any file of the project calls
    forbidden_write(); shows summaries travelling from workers to the project pass."""

    code = "XMP401"
    slug = "forbidden-across-files"
    summary = "Module linked with a file that calls forbidden_write()"
    severity = Severity.WARNING
    languages = frozenset({Language.C})
    project_level = True
    suggestion = "Remove forbidden_write() from the extension."
    bad = (Example("PyMODINIT_FUNC PyInit_m(void) { return 0; }  // <- XMP401\n",
                   files={"helper.c": "void g(void) { forbidden_write(2); }\n"}),)
    good = (Example("PyMODINIT_FUNC PyInit_m(void) { return 0; }\n"),)

    def summarize(self, ctx: FileContext) -> dict | None:
        text = ctx.source.text
        init = text.find("PyInit_")
        return {
            "calls": len(_CALL.findall(text)),
            "init": ctx.source.line_of(len(text[:init].encode())) if init >= 0 else None,
        }

    def check_project(self, project: ProjectContext) -> None:
        culprits = sorted(path for path, s in project.summaries.items() if s["calls"])
        if not culprits:
            return
        for path, summary in project.summaries.items():
            if summary["init"]:
                line = summary["init"]
                project.report(path, Position(line, 1), Position(line, 2),
                               f"module links {', '.join(culprits)}, which call forbidden_write()")


class Crashes(Rule):
    """Raises inside check() when a file contains CRASH_ME: the engine must report and go on."""

    code = "XMP901"
    slug = "crashes"
    summary = "Crashes on purpose"
    languages = frozenset({Language.PYTHON, Language.C})
    suggestion = "-"

    def check(self, ctx: FileContext) -> None:
        if "CRASH_ME" in ctx.source.text:
            raise RuntimeError("boom")
