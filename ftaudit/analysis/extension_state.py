"""The racy global state of each C extension, across the files linked into it.

Rules that judge a module's GIL declaration need it: FT108 reports a `Py_MOD_GIL_NOT_USED` that the
extension's racy state contradicts, and FT101/FT102 offer no edit that would add such a declaration
to a racy extension (the rescan would report our own FT108). Every C file summarises its racy writes
and lazy initialisations (from the shared-state analysis) with its reachability summary; build files
summarise which sources are linked together. `ExtensionState` puts them together in the project pass.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any

from ftaudit.analysis.reachability import runtime_exported
from ftaudit.analysis.shared_state import analyse
from ftaudit.context import FileContext, ProjectContext
from ftaudit.source import Language

BUILD_LANGUAGES = frozenset({Language.PYTHON, Language.MESON, Language.CMAKE})
_GLOB = re.compile(r"[*?\[]")


def build_summary(ctx: FileContext) -> dict[str, Any] | None:
    """The extensions a build file defines, as lists of source paths relative to the scan."""
    # Imported when a build file needs it: a pre-commit run on C files never does.
    from ftaudit.cmodel.buildfiles import CMakeInfo, MesonInfo, SetupInfo

    source = ctx.source
    if source.language is Language.PYTHON and source.path.name != "setup.py":
        return None
    model = ctx.build_model
    if isinstance(model, SetupInfo):
        groups = [e.sources for e in model.extensions]
    elif isinstance(model, MesonInfo):
        groups = [m.sources for m in model.extension_modules]
    elif isinstance(model, CMakeInfo):
        groups = [m.sources for m in model.modules]
    else:
        return None
    folder = PurePosixPath(source.display).parent
    linked = [sorted((folder / s).as_posix() for s in group if "$" not in s) for group in groups]
    return {"kind": "build", "extensions": [g for g in linked if g]}


def racy_summary(ctx: FileContext) -> dict[str, Any]:
    """A C file's racy globals (one entry per variable, first racy place) and its reachability summary.

    Always made, even with nothing racy: the file may be the one whose init code calls another file's
    exported helper, which the project pass must know."""
    unit = ctx.c_unit
    assert unit is not None
    state = analyse(unit, ctx.target)
    racy = [(w.variable.name, w.variable.line, ctx.source.position(w.node.start_byte), sorted(w.roots))
            for w in state.racy_writes]
    racy += [(lazy.variable.name, lazy.variable.line, ctx.source.position(lazy.condition.start_byte),
              sorted(lazy.roots)) for lazy in state.lazy_inits]
    seen: set[str] = set()
    entries = []
    for name, declared_line, position, roots in racy:
        if name not in seen:
            seen.add(name)
            entries.append({"name": name, "declared": declared_line, "at": (position.line, position.column),
                            "roots": roots})
    return {"kind": "c", "racy": entries, "reach": state.reach.summary if state.reach else None}


def _expand(group: set[str], summaries: dict[str, Any]) -> set[str]:
    """An extension's sources with `glob("src/*.c")` patterns matched against the scanned files."""
    patterns = [p for p in group if _GLOB.search(p)]
    if not patterns:
        return group
    return (group - set(patterns)) | {path for path in summaries for p in patterns if fnmatchcase(path, p)}


class ExtensionState:
    """The project pass's view: for a C file, the racy globals of every file linked with it."""

    def __init__(self, project: ProjectContext) -> None:
        self.summaries = dict(project.summaries)
        reach = {p: s["reach"] for p, s in self.summaries.items() if s.get("reach")}
        self.runtime = runtime_exported(reach, project.unnamed)
        groups = [set(g) for s in self.summaries.values() if s["kind"] == "build" for g in s["extensions"]]
        self.extensions = [_expand(group, self.summaries) for group in groups]

    def linked(self, path: str) -> set[str]:
        """The files of ``path``'s extension: from the build files, else the file alone."""
        return set().union(*(group for group in self.extensions if path in group)) or {path}

    def racy(self, path: str) -> list[tuple[str, dict[str, Any]]]:
        """(file, entry) for every racy global of ``path``'s extension that runs while Python code does:
        reached from Python in its own file, or through a function another file exports at run time."""
        found = []
        for other in sorted(self.linked(path)):
            summary = self.summaries.get(other)
            if not summary or summary["kind"] != "c":
                continue
            for entry in summary["racy"]:
                if not entry["roots"] or any(r in self.runtime for r in entry["roots"]):
                    found.append((other, entry))
        return found


def named(racy: list[tuple[str, dict[str, Any]]], limit: int = 5, here: str | None = None) -> str:
    """`calls` (src/m.c:4), `cache` (src/cache.c:1) and 3 more; `calls` (line 4) for ``here``'s own."""
    def where(path: str, entry: dict[str, Any]) -> str:
        return f"line {entry['declared']}" if path == here else f"{path}:{entry['declared']}"

    text = ", ".join(f"`{e['name']}` ({where(p, e)})" for p, e in racy[:limit])
    return text + (f" and {len(racy) - limit} more" if len(racy) > limit else "")
