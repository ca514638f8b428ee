"""The racy global state of each C extension, across the files linked into it.

Rules that judge a module's GIL declaration need it: a `Py_MOD_GIL_NOT_USED` that the extension's
racy state contradicts is reported, and a missing declaration gets no edit that would add one to a
racy extension (the rescan would report the contradiction). Every C file summarises its racy writes
and lazy initialisations (from the shared-state analysis) with its reachability summary; build files
summarise which sources are linked together. `ExtensionState` puts them together in the project pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ftaudit.analysis.reachability import project_runtime_exported
from ftaudit.analysis.shared_state import analyse
from ftaudit.context import FileContext, ProjectContext
from ftaudit.findings import Position
from ftaudit.source import Language
from ftaudit.summaries import summary_type

if TYPE_CHECKING:
    from ftaudit.analysis.reachability import ReachSummary

BUILD_LANGUAGES = frozenset({Language.PYTHON, Language.MESON, Language.CMAKE})
_GLOB = re.compile(r"[*?\[]")


@summary_type
@dataclass(frozen=True)
class LinkedSources:
    """A build file's extensions, each as the source paths (relative to the scan) linked into it."""

    extensions: tuple[tuple[str, ...], ...]


@summary_type
@dataclass(frozen=True)
class RacyGlobal:
    """A global of the file written racily (or lazily initialised without a lock), at its first racy place."""

    name: str
    declared: int  # the line of its declaration
    at: Position  # its first racy write or check
    roots: tuple[str, ...]  # the exported functions it is reached through (none: reached from Python here)


@summary_type
@dataclass(frozen=True)
class RacyState:
    """A C file's racy globals and its reachability summary; rules extend it with their own reports."""

    racy: tuple[RacyGlobal, ...]
    reach: ReachSummary | None


def build_summary(ctx: FileContext) -> LinkedSources | None:
    """The extensions a build file defines, as lists of source paths relative to the scan."""
    # Imported when a build file needs it: a pre-commit run on C files never does.
    from ftaudit.cmodel.buildfiles import CMakeInfo, MesonInfo, SetupInfo

    source = ctx.source
    if source.language is Language.PYTHON and source.path.name != "setup.py":
        return None
    model = ctx.build_model
    groups: list[list[str]]
    if isinstance(model, SetupInfo):
        groups = [list(e.sources) for e in model.extensions]
    elif isinstance(model, MesonInfo):
        groups = [list(m.sources) for m in model.extension_modules]
    elif isinstance(model, CMakeInfo):
        groups = [list(m.sources) for m in model.modules]
    else:
        return None
    folder = PurePosixPath(source.display).parent
    linked = [tuple(sorted((folder / s).as_posix() for s in group if "$" not in s)) for group in groups]
    return LinkedSources(tuple(g for g in linked if g))


def racy_globals(ctx: FileContext) -> tuple[tuple[RacyGlobal, ...], ReachSummary | None]:
    """A C file's racy globals (one entry per variable, first racy place) and its reachability summary.

    Always made, even with nothing racy: the file may be the one whose init code calls another file's
    exported helper, which the project pass must know."""
    unit = ctx.c_unit
    assert unit is not None
    state = analyse(unit, ctx.target)
    racy = [(w.variable.name, w.variable.line, ctx.source.position(w.node.start_byte), w.roots)
            for w in state.racy_writes]
    racy += [(lazy.variable.name, lazy.variable.line, ctx.source.position(lazy.condition.start_byte), lazy.roots)
             for lazy in state.lazy_inits]
    seen: set[str] = set()
    entries = []
    for name, declared_line, position, roots in racy:
        if name not in seen:
            seen.add(name)
            ctx.keep_lines(position.line, position.line)  # a focused scan may report it here (FT108)
            entries.append(RacyGlobal(name, declared_line, position, tuple(sorted(roots))))
    return tuple(entries), state.reach.summary if state.reach else None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """`glob.glob`'s matching as a regex: `*` and `?` stay within one folder, `**/` is any number of
    folders (none included), as `glob("src/**/*.c", recursive=True)` means."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            close = pattern.index("]", i + 2)
            body = pattern[i + 1:close]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = close + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _expand(group: set[str], paths: Mapping[str, object]) -> set[str]:
    """An extension's sources with `glob("src/*.c")` patterns matched against the scanned files."""
    patterns = [_glob_regex(p) for p in group if _GLOB.search(p)]
    if not patterns:
        return group
    literal = {p for p in group if not _GLOB.search(p)}
    return literal | {path for path in paths for p in patterns if p.match(path)}


class ExtensionState:
    """The project pass's view: for a C file, the racy globals of every file linked with it."""

    def __init__(self, project: ProjectContext) -> None:
        summaries = dict(project.summaries)
        self.states = {p: s for p, s in summaries.items() if isinstance(s, RacyState)}
        reach = {p: s.reach for p, s in self.states.items() if s.reach is not None}
        self.runtime = project_runtime_exported(project, reach)
        groups = [set(g) for s in summaries.values() if isinstance(s, LinkedSources) for g in s.extensions]
        self.extensions = [_expand(group, summaries) for group in groups]

    def linked(self, path: str) -> set[str]:
        """The files of ``path``'s extension: from the build files, else the file alone."""
        return set().union(*(group for group in self.extensions if path in group)) or {path}

    def racy(self, path: str) -> list[tuple[str, RacyGlobal]]:
        """(file, global) for every racy global of ``path``'s extension that runs while Python code does:
        reached from Python in its own file, or through a function another file exports at run time."""
        found = []
        for other in sorted(self.linked(path)):
            state = self.states.get(other)
            if state is None:
                continue
            for entry in state.racy:
                if not entry.roots or any(r in self.runtime for r in entry.roots):
                    found.append((other, entry))
        return found


def named(racy: list[tuple[str, RacyGlobal]], limit: int = 5, here: str | None = None) -> str:
    """`calls` (src/m.c:4), `cache` (src/cache.c:1) and 3 more; `calls` (line 4) for ``here``'s own."""
    def where(path: str, entry: RacyGlobal) -> str:
        return f"line {entry.declared}" if path == here else f"{path}:{entry.declared}"

    text = ", ".join(f"`{e.name}` ({where(p, e)})" for p, e in racy[:limit])
    return text + (f" and {len(racy) - limit} more" if len(racy) > limit else "")
