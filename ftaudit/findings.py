"""Plain result values shared by the engine, the rules and every reporter.

Findings are frozen dataclasses with 1-based line and character columns, so a reporter can render
them without knowing how they were found (abi3audit-style: the core returns values, reporters print).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    NOTE = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return {"note": cls.NOTE, "info": cls.NOTE, "warning": cls.WARNING, "error": cls.ERROR}[
                text.strip().lower()
            ]
        except KeyError:
            raise ValueError(f"invalid severity {text!r}: expected one of error, warning, note") from None

    @property
    def label(self) -> str:
        return self.name.lower()


class Applicability(enum.Enum):
    """ruff's fix model: safe fixes keep behaviour, unsafe ones may change it, display-only are advice."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


@dataclass(frozen=True, order=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based, in characters


@dataclass(frozen=True)
class Edit:
    content: str
    start: Position
    end: Position


@dataclass(frozen=True)
class Fix:
    applicability: Applicability
    message: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class RelatedLocation:
    path: str
    start: Position
    end: Position
    message: str


@dataclass(frozen=True)
class Finding:
    code: str
    name: str  # the rule's slug
    message: str
    severity: Severity
    path: str  # POSIX, relative to the working directory when inside it
    start: Position
    end: Position
    help: str = ""  # what to write instead: API, version, backport
    fix: Fix | None = None
    related: tuple[RelatedLocation, ...] = ()
    # What the finding is about when a reporter groups by it (FT1xx: the module's name); not serialised.
    subject: str = field(default="", compare=False)
    # Lines of the enclosing statement; a suppression on any of them applies (not serialised).
    statement: tuple[int, int] | None = field(default=None, compare=False)

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.start.line, self.start.column, self.code)


class DiagnosticKind(enum.Enum):
    """Why a file was skipped or only partly analysed; never a finding, never a crash."""

    UNREADABLE = "unreadable"
    BINARY = "binary"
    TOO_LARGE = "too-large"
    ENCODING = "encoding"
    SYNTAX = "syntax"
    TOO_COMPLEX = "too-complex"  # nesting deeper than an analysis can follow: that analysis skips the file
    CONFIG = "config"
    INTERNAL = "internal-error"
    PRECISE = "precise-mode"  # how the libclang engine could (not) settle this scan's guards
    NOT_BUILT = "not-built"  # a source file only #included where the target never compiles it


# Diagnostics that mean a file's findings may be missing: every output format carries them.
INCOMPLETE = frozenset({DiagnosticKind.TOO_COMPLEX, DiagnosticKind.INTERNAL})


@dataclass(frozen=True)
class Diagnostic:
    path: str
    kind: DiagnosticKind
    message: str
    rule: str | None = None  # set for an exception raised inside a rule

    @property
    def is_error(self) -> bool:
        """Internal errors make the run exit 2; bad input only warns and the scan goes on."""
        return self.kind is DiagnosticKind.INTERNAL

    def render(self) -> str:
        where = f"{self.path}: " if self.path else ""
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{where}{self.kind.value}{rule}: {self.message}"
