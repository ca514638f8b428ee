"""The rule plugin interface: a rule is metadata + bad/good examples + a small ``check``.

Like Fixit's rule classes and ruff's rule docs, each rule documents and tests itself: the suite runs
every rule's examples, and ``ftaudit rule CODE`` renders the same metadata as Markdown.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ftaudit.findings import Severity
from ftaudit.readiness import Readiness, Subinterpreters
from ftaudit.source import Language
from ftaudit.target import EVERY_BUILD, Applies

if TYPE_CHECKING:
    from ftaudit.context import FileContext, ProjectContext

CODE_RE = re.compile(r"^[A-Z]{1,5}[0-9]{3,4}$")
# `<- FT101` (or `<- FT101, FT202`) inside a comment marks the line where an example must fire.
MARKER_RE = re.compile(r"<-\s*([A-Z]{1,5}[0-9]{3,4}(?:\s*,\s*[A-Z]{1,5}[0-9]{3,4})*)")

_DEFAULT_EXAMPLE_NAMES = {
    Language.C: "example.c",
    Language.CPP: "example.cpp",
    Language.CYTHON: "example.pyx",
    Language.PYTHON: "example.py",
    Language.RUST: "src/lib.rs",
    Language.TOML: "pyproject.toml",
    Language.MESON: "meson.build",
    Language.CMAKE: "CMakeLists.txt",
}


@dataclass(frozen=True)
class Example:
    """A snippet the rule must flag (in ``Rule.bad``) or accept (in ``Rule.good``).

    In bad examples, a comment containing ``<- CODE`` marks each line where a finding must start.
    ``files`` adds other project files (a ``setup.py`` beside a ``.pyx``); ``target`` overrides the
    target version for this example. ``fixed`` is the file after `--fix --unsafe-fixes` (Fixit's
    ``expected_replacement``): required when the rule offers an edit for the example, checked by the suite.
    ``code`` and ``fixed`` may be written as indented triple-quoted blocks that start with a newline:
    they are dedented.
    """

    code: str
    path: str = ""
    files: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    title: str = ""
    fixed: str | None = None

    def __post_init__(self) -> None:
        for name in ("code", "fixed"):
            text = getattr(self, name)
            if text is not None and text.startswith("\n"):
                object.__setattr__(self, name, textwrap.dedent(text[1:]))

    def expected(self) -> list[tuple[int, str]]:
        """(line, code) pairs marked in the example, in line order."""
        found: list[tuple[int, str]] = []
        for number, line in enumerate(self.code.splitlines(), start=1):
            for match in MARKER_RE.finditer(line):
                found.extend((number, code.strip()) for code in match.group(1).split(","))
        return found


class Rule:
    """Base class of every rule. Subclasses set the metadata and override ``check``."""

    code: ClassVar[str]
    slug: ClassVar[str]
    summary: ClassVar[str]  # one line: what is wrong
    severity: ClassVar[Severity] = Severity.WARNING
    languages: ClassVar[frozenset[Language]] = frozenset()
    what: ClassVar[str] = ""  # "What it does"
    why: ClassVar[str] = ""  # "Why it matters"
    instead: ClassVar[str] = ""  # "Use instead": the fix, with API, version and backport
    suggestion: ClassVar[str] = ""  # one-line default `help:` for a finding
    fix_safety: ClassVar[str] = ""  # when the rule offers an edit: why it is safe or unsafe
    fixable: ClassVar[bool] = False
    references: ClassVar[tuple[str, ...]] = ()
    tags: ClassVar[tuple[str, ...]] = ()
    precision: ClassVar[str] = "high"  # SARIF precision: very-high, high, medium, low
    # CVSS-like 0-10 score for hazards that can corrupt memory (a data race on a pointer, use after
    # free); SARIF marks the rule `security` with it only when its measured precision is high.
    security_severity: ClassVar[float | None] = None
    bad: ClassVar[tuple[Example, ...]] = ()
    good: ClassVar[tuple[Example, ...]] = ()
    # Per-rule options (config ``[tool.ftaudit.rule-options.CODE]``) with their defaults.
    options: ClassVar[Mapping[str, Any]] = {}
    # The builds the rule audits; the engine does not run it for other targets.
    applies_to: ClassVar[Applies] = EVERY_BUILD
    # Findings in code the target's preprocessor drops (`#if 0`, a version guard for older CPythons) are
    # discarded by ``FileContext.report``; a rule that reports such legacy branches on purpose opts out.
    reports_uncompiled: ClassVar[bool] = False
    # Project-level rules also implement ``summarize`` and ``check_project``.
    project_level: ClassVar[bool] = False
    # Also run on generated files (other than Cython's output): what a module declares about the GIL is
    # true of the built module whoever wrote its source, unlike findings about the code's internals.
    reads_generated: ClassVar[bool] = False
    # What the rule's findings say about the readiness of the module they name (the HTML report's
    # per-module table, ``ftaudit.readiness``); None: nothing.
    readiness: ClassVar[Readiness | None] = None
    # Whether the rule's findings (with the module as ``subject``) explain the module's sub-interpreter
    # readiness (the table's second column); an error among them means the module's claim is contradicted.
    # A ``Subinterpreters`` state instead: a finding of the rule puts its module in that state.
    subinterpreters: ClassVar[bool | Subinterpreters] = False

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = {**self.options, **(options or {})}

    def check(self, ctx: FileContext) -> None:
        """Inspect one file's shared parse and call ``ctx.report`` for each finding."""

    def summarize(self, ctx: FileContext) -> Any:
        """Return a small picklable summary of this file for ``check_project`` (None: nothing)."""
        return None

    def check_project(self, project: ProjectContext) -> None:
        """Report findings that need facts from several files (only when ``project_level``)."""

    @classmethod
    def example_path(cls, example: Example) -> str:
        if example.path:
            return example.path
        for language in (Language.C, Language.CPP, Language.PYTHON, Language.CYTHON, Language.RUST,
                         Language.CMAKE, Language.MESON, Language.TOML):
            if language in cls.languages:
                return _DEFAULT_EXAMPLE_NAMES[language]
        return "example.c"

    @classmethod
    def validate(cls) -> list[str]:
        """Problems with the rule's metadata; the registry refuses a rule that has any."""
        problems = []
        for attr in ("code", "slug", "summary"):
            if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
                problems.append(f"missing {attr}")
        if isinstance(getattr(cls, "code", None), str) and not CODE_RE.match(cls.code):
            problems.append(f"code {cls.code!r} is not letters followed by 3-4 digits")
        if not cls.languages:
            problems.append("no languages")
        return problems
