"""Module readiness for free-threaded CPython: one verdict per extension module, from typed data.

Rules say what their findings mean for a module's readiness (``Rule.readiness``): a missing
declaration, a declaration the extension's racy state contradicts, a module that requires the GIL.
Rules that find GIL-free declarations hand them over as ``ModuleDeclaration`` records in their
per-file summaries (``DeclaresGilFree``). ``module_verdicts`` puts both together; no reporter needs
to know which rule says what.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol, runtime_checkable

from ftaudit.findings import Finding, Position
from ftaudit.summaries import summary_type


class Readiness(enum.Enum):
    """Where a module stands; for a rule, what its findings say about the module they name."""

    GIL_FREE = "gil-free"  # declares it does not need the GIL, and nothing contradicts that
    NEEDS_DECLARATION = "needs-declaration"  # does not declare whether it needs the GIL
    RACY = "racy"  # declares GIL-free while its extension still has racy global state
    REQUIRES_GIL = "requires-gil"  # declares explicitly that it needs the GIL


@summary_type
@dataclass(frozen=True)
class ModuleDeclaration:
    """Where a file declares a module GIL-free for the target (a `Py_mod_gil` slot, a
    `PyUnstable_Module_SetGIL` call, pybind11's `py::mod_gil_not_used()`); part of a summary."""

    module: str  # the module's name, or a description of it when the sources do not name it
    how: str  # "the Py_mod_gil slot", ...
    start: Position
    end: Position


@runtime_checkable
class DeclaresGilFree(Protocol):
    """A per-file summary that lists the file's GIL-free module declarations."""

    @property
    def declarations(self) -> Sequence[ModuleDeclaration]: ...


@dataclass(frozen=True)
class ModuleVerdict:
    """One module's readiness: the finding that decides it, or the declaration nothing contradicts."""

    module: str
    path: str
    state: Readiness
    detail: str  # the deciding finding's message, or how the module declares itself GIL-free
    finding: Finding | None = None
    described: bool = False  # the sources give the module no name: ``module`` describes it (with `code`)


def module_verdicts(findings: Iterable[Finding], roles: Mapping[str, Readiness],
                    declarations: Mapping[str, Sequence[ModuleDeclaration]],
                    described: Callable[[str], bool]) -> list[ModuleVerdict]:
    """Readiness per module, from the reported findings (``roles``: rule code -> what its findings say)
    and the GIL-free declarations of each file (no re-analysis). A racy declaration wins over anything
    else said about the module; otherwise the first finding does; a declaration with no finding about
    its module makes the module GIL-free. ``described`` tells a description of a module the sources do
    not name from a name."""
    out: dict[tuple[str, str], ModuleVerdict] = {}
    for finding in findings:
        role = roles.get(finding.code)
        if role is None:
            continue
        # Readiness findings name their module in `subject`; without one they group under their file.
        key = (finding.path, finding.subject or PurePosixPath(finding.path).name)
        if role is Readiness.RACY or key not in out:
            out[key] = ModuleVerdict(key[1], finding.path, role, finding.message, finding, described(key[1]))
    for path, declared in sorted(declarations.items()):
        for declaration in declared:
            key = (path, declaration.module)
            if key not in out:
                out[key] = ModuleVerdict(declaration.module, path, Readiness.GIL_FREE,
                                         f"declared with {declaration.how}; no racy global state found in its "
                                         "extension", described=described(declaration.module))
    return sorted(out.values(), key=lambda v: (v.path, v.module))
