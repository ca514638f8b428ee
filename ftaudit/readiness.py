"""Module readiness for free-threaded CPython and for sub-interpreters: one verdict per extension module.

Rules say what their findings mean for a module's readiness (``Rule.readiness``): a missing
declaration, a declaration the extension's racy state contradicts, a module that requires the GIL.
Rules that find GIL-free declarations hand them over as ``ModuleDeclaration`` records in their
per-file summaries (``DeclaresGilFree``). For sub-interpreters, a rule hands over what each module
declares (``ModuleClaim`` records, ``DeclaresSubinterpreterSupport``) and its findings about a module
(``Rule.subinterpreters``) explain or contradict that. ``module_verdicts`` puts it all together; no
reporter needs to know which rule says what.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Protocol, runtime_checkable

from ftaudit.findings import Finding, Position, Severity
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


class Subinterpreters(enum.Enum):
    """Which interpreters of a process can load a module, as its definition and the findings say."""

    OWN_GIL = "own-gil"  # isolated interpreters too (Py_MOD_PER_INTERPRETER_GIL_SUPPORTED), nothing contradicts
    SHARED_GIL = "shared-gil"  # sub-interpreters that share the main GIL (declared, or by default)
    MAIN_ONLY = "main-only"  # Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED
    SINGLE_PHASE = "single-phase"  # refused by isolated interpreters (and by every one on free-threaded builds)
    LEAKY = "leaky"  # claims a per-interpreter GIL while sharing objects between interpreters


@summary_type
@dataclass(frozen=True)
class ModuleClaim:
    """What a file's module definition says about sub-interpreters; part of a summary."""

    module: str  # the module's name, or its description
    support: str  # a ``Subinterpreters`` value
    how: str  # "the Py_mod_multiple_interpreters slot (…)", "single-phase initialisation", ...


@runtime_checkable
class DeclaresSubinterpreterSupport(Protocol):
    """A per-file summary that lists what the file's modules declare about sub-interpreters."""

    @property
    def claims(self) -> Sequence[ModuleClaim]: ...


@dataclass(frozen=True)
class ModuleVerdict:
    """One module's readiness: the finding that decides it, or the declaration nothing contradicts.
    ``state`` is None when no free-threading rule said anything about the module (a target with the
    GIL); ``subinterpreters`` is None when no sub-interpreter rule did."""

    module: str
    path: str
    state: Readiness | None
    detail: str  # the deciding finding's message, or how the module declares itself GIL-free
    finding: Finding | None = None
    described: bool = False  # the sources give the module no name: ``module`` describes it (with `code`)
    subinterpreters: Subinterpreters | None = None
    subinterpreters_detail: str = ""
    subinterpreters_finding: Finding | None = None


def module_verdicts(findings: Iterable[Finding], roles: Mapping[str, Readiness],
                    declarations: Mapping[str, Sequence[ModuleDeclaration]],
                    described: Callable[[str], bool], claims: Mapping[str, Sequence[ModuleClaim]] | None = None,
                    subinterpreter_codes: Mapping[str, bool | Subinterpreters] | None = None,
                    ) -> list[ModuleVerdict]:
    """Readiness per module, from the reported findings (``roles``: rule code -> what its findings say)
    and the GIL-free declarations of each file (no re-analysis). A racy declaration wins over anything
    else said about the module; otherwise the first finding does; a declaration with no finding about
    its module makes the module GIL-free. ``described`` tells a description of a module the sources do
    not name from a name."""
    findings = list(findings)
    claims = claims or {}
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
    states = _subinterpreter_states(findings, subinterpreter_codes or {}, claims)
    for key, (state, detail, deciding) in states.items():
        row = out.get(key) or ModuleVerdict(key[1], key[0], None, "", described=described(key[1]))
        out[key] = replace(row, subinterpreters=state, subinterpreters_detail=detail,
                           subinterpreters_finding=deciding)
    return sorted(out.values(), key=lambda v: (v.path, v.module))


def _subinterpreter_states(findings: Iterable[Finding], codes: Mapping[str, bool | Subinterpreters],
                           claims: Mapping[str, Sequence[ModuleClaim]],
                           ) -> dict[tuple[str, str], tuple[Subinterpreters, str, Finding | None]]:
    """Per module: what its definition declares, explained by the first finding about it. An error about
    the module (a per-interpreter GIL claim its code contradicts) makes it LEAKY; a finding of a rule that
    names a state (``codes[code]``: a claim that has no effect) puts it in that state."""
    about: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        if finding.code in codes and finding.subject:
            about.setdefault((finding.path, finding.subject), []).append(finding)
    out: dict[tuple[str, str], tuple[Subinterpreters, str, Finding | None]] = {}
    for path, listed in sorted(claims.items()):
        for claim in listed:
            key = (path, claim.module)
            said = about.get(key, [])
            contradiction = next((f for f in said if f.severity is Severity.ERROR), None)
            overriding = next((f for f in said if isinstance(codes[f.code], Subinterpreters)), None)
            if contradiction is not None:
                out[key] = (Subinterpreters.LEAKY, contradiction.message, contradiction)
            elif overriding is not None:
                state = codes[overriding.code]
                assert isinstance(state, Subinterpreters)
                out[key] = (state, overriding.message, overriding)
            elif said:
                out[key] = (Subinterpreters(claim.support), said[0].message, said[0])
            else:
                out[key] = (Subinterpreters(claim.support), f"declared with {claim.how}", None)
    return out
