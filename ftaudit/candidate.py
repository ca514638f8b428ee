"""The one shape of a possible finding that rules hand back before it is reported.

A rule that judges many sites (catalogue uses, racy writes, container calls) returns ``Candidate``s from one
method; ``FileContext.report_candidate`` turns one into a finding, and run-time rules hold back those
reached only through exported functions (``roots``) for the project pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftaudit.findings import Fix, Severity

# Anything a rule may report at: a tree-sitter node, an ast node, a (start, end) byte span,
# or a (start, end) pair of Positions.
Anchor = Any


@dataclass(frozen=True)
class Candidate:
    anchor: Anchor
    message: str
    help: str | None = None  # None: the rule's one-line suggestion
    severity: Severity | None = None  # None: the rule's
    fix: Fix | None = None
    related: tuple[tuple[Anchor, str], ...] = ()  # (where, what) shown beside the finding
    # Run-time rules: the exported functions through which other files may reach this code at run time.
    # Empty: this file's own entry points reach it, and it is reported at once.
    roots: frozenset[str] = frozenset()
    # The exported function whose every call performs this (a lazy initialisation that leads its body):
    # when another file's module init calls it on each import, the run-time calls find it done.
    unless_init_calls: str | None = None
