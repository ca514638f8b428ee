"""Which other files a scan of a few files reads as context (pre-commit passes only the staged ones).

Project-level rules need facts from other files of the same extension: who calls the asked file's
exported functions (module init or run time), which file declares the module's GIL use, which build
file links it. Reading the whole folder for that made a one-file run grow with the repository (one
CPython module in a folder of projects took 45 s, against 0.5 s alone).

So the pool (the files under the nearest build file's folder, else under the file's own folder) is
searched as bytes for the names through which other files reach the asked ones: their exported
functions and variables and their file names (``#include "x.c"``, a Cython ``include "x.pxi"``, a
build file's source list). Those files, and the ones the build files link with the asked ones, are
analysed (from the result cache when unchanged); their own exported names are searched for in turn,
a few rounds deep and within a byte budget. Build files are always read: they are small and say
which sources form one extension.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from ftaudit.discover import FoundFile
from ftaudit.source import BUILD_FILE_NAMES

MAX_ROUNDS = 4  # callers of callers of callers: deeper chains are treated as unknown callers
MAX_CONTEXT_BYTES = 24 * 1024 * 1024  # analysed context per run: beyond it callers count as unknown
MAX_SEARCHED_BYTES = 512 * 1024 * 1024  # bytes searched per run (all rounds): a hostile tree cannot stall it
_MAX_LITERAL_SEARCH = 48  # names searched one by one with bytes.find; more go through one regex


@dataclass
class NeighbourPool:
    """The candidate context files of a focused scan, searched by name and handed out once each."""

    files: list[FoundFile]
    max_file_bytes: int = 4 * 1024 * 1024  # larger files are neither searched nor read (max-file-size-kb)
    budget: int = MAX_CONTEXT_BYTES
    search_budget: int = MAX_SEARCHED_BYTES
    taken: int = 0  # bytes handed out so far
    searched: int = 0  # bytes searched so far
    truncated: bool = False  # a file that may name an asked-about symbol was left out (over a budget)
    _left: dict[str, FoundFile] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._left = {f.display: f for f in self.files if f.size <= self.max_file_bytes}
        # A file too large to search may name anything: callers there are unknown.
        self.truncated = len(self._left) < len(self.files)

    def build_files(self) -> list[FoundFile]:
        """The pool's build files (setup.py, meson.build, CMakeLists.txt, pyproject.toml, Cargo.toml)."""
        return self._take([f for f in self._left.values() if f.path.name in BUILD_FILE_NAMES])

    def naming(self, names: Iterable[str]) -> list[FoundFile]:
        """Files not yet handed out whose bytes contain one of ``names`` as a whole word."""
        wanted = sorted({n for n in names if n})
        if not wanted or not self._left:
            return []
        matcher = _matcher(wanted)
        found = []
        for file in list(self._left.values()):
            if self.searched + file.size > self.search_budget:
                self.truncated = True  # the rest is unknown: callers there count as unknown callers
                break
            self.searched += file.size
            try:
                data = file.content if file.content is not None else file.path.read_bytes()
            except OSError:
                continue  # unreadable: the analysis of the file itself reports that, if it is asked about
            if matcher(data):
                found.append(file)
        return self._take(found)

    def linked(self, groups: Iterable[tuple[str, ...]], asked: set[str]) -> list[FoundFile]:
        """Files the build files link into one extension with an asked file (``LinkedSources``
        groups: display paths or globs): the module file that declares the extension's GIL use
        is read when a helper is asked about, and the reverse."""
        wanted: list[str] = []
        for group in groups:
            if any(fnmatchcase(path, entry) for path in asked for entry in group):
                wanted.extend(group)
        if not wanted:
            return []
        return self._take([f for f in self._left.values() if any(fnmatchcase(f.display, w) for w in wanted)])

    def _take(self, files: list[FoundFile]) -> list[FoundFile]:
        chosen = []
        for file in sorted(files, key=lambda f: f.display):
            self._left.pop(file.display, None)
            if self.taken + file.size > self.budget:
                self.truncated = True
                continue
            self.taken += file.size
            chosen.append(file)
        return chosen


def _matcher(names: list[str]) -> Callable[[bytes], bool]:
    encoded = [n.encode("utf-8", "surrogateescape") for n in names]
    word = re.compile(rb"(?<![\w.])(?:" + b"|".join(re.escape(n) for n in encoded) + rb")(?!\w)")
    if len(encoded) > _MAX_LITERAL_SEARCH:
        return lambda data: word.search(data) is not None
    # bytes.find is a fast substring search: most files hold none of the names and cost one pass each.
    return lambda data: any(n in data for n in encoded) and word.search(data) is not None


def search_names(display: str, exports: Iterable[str]) -> set[str]:
    """The names by which other files reach this one: its exported functions and its file name."""
    names = {name.rsplit("::", 1)[-1] for name in exports}
    names.add(display.rsplit("/", 1)[-1])
    return names
