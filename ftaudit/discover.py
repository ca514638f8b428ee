"""File discovery: walk the given paths, honour .gitignore and excludes, resolve symlinks, dedupe.

Paths given explicitly are always scanned (as ruff does) unless ``force_exclude`` is set, which is
what pre-commit needs because it passes every staged file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from ftaudit.source import Language, language_for

if TYPE_CHECKING:
    import pathspec


@dataclass(frozen=True)
class FoundFile:
    path: Path  # resolved
    display: str  # POSIX, relative to the working directory when inside it
    language: Language
    size: int
    content: bytes | None = None  # given on standard input (an editor's unsaved buffer): not read from disk


@dataclass
class Discovery:
    files: list[FoundFile]
    skipped: list[tuple[str, str]]  # (path, reason), shown with -v


def display_path(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def _spec(patterns: list[str]) -> pathspec.GitIgnoreSpec:
    import pathspec  # imported only when a pattern needs it: it costs ~35 ms, a pre-commit run ~150 ms

    return pathspec.GitIgnoreSpec.from_lines(patterns)


class PatternSet:
    """gitignore-style patterns. Bare names and one-segment globs (`build`, `*.egg-info`, `venv/`),
    which is what the defaults and most configs hold, are matched with fnmatch against each path
    component; anything with a slash or negation goes to pathspec, loaded on first use."""

    def __init__(self, patterns: list[str]) -> None:
        self.simple: list[tuple[str, bool]] = []  # (glob, directories only)
        complex_patterns = []
        for pattern in patterns:
            text = pattern.strip()
            if not text or text.startswith("#"):
                continue
            body = text[:-1] if text.endswith("/") else text
            if "/" in body or text.startswith("!") or "**" in body or "\\" in body:
                complex_patterns.append(text)
            else:
                self.simple.append((body, text.endswith("/")))
        self._complex = complex_patterns
        self._spec: pathspec.GitIgnoreSpec | None = None

    def match(self, relative: str, is_dir: bool) -> bool:
        name = relative.rstrip("/").rsplit("/", 1)[-1]
        if any(fnmatchcase(name, glob) and (is_dir or not dirs_only) for glob, dirs_only in self.simple):
            return True
        if not self._complex:
            return False
        if self._spec is None:
            self._spec = _spec(self._complex)
        return self._spec.match_file(relative + ("/" if is_dir else ""))


class _Gitignores:
    """.gitignore files from the repository root down to each walked folder."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._cache: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _spec_for(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._cache:
            spec = None
            ignore_file = folder / ".gitignore"
            if ignore_file.is_file():
                try:
                    spec = _spec(ignore_file.read_text(encoding="utf-8", errors="replace").splitlines())
                except (OSError, ValueError):
                    spec = None
            self._cache[folder] = spec
        return self._cache[folder]

    def ignored(self, path: Path, is_dir: bool) -> bool:
        if not self.enabled:
            return False
        for folder in path.parents:
            spec = self._spec_for(folder)
            if spec is not None:
                relative = path.relative_to(folder).as_posix() + ("/" if is_dir else "")
                if spec.match_file(relative):
                    return True
            if (folder / ".git").exists():
                break  # the repository root: .gitignore files above it do not apply
        return False


def discover(paths: list[Path], *, root: Path, exclude: list[str], respect_gitignore: bool,
             force_exclude: bool, cwd: Path | None = None) -> Discovery:
    cwd = cwd or Path.cwd()
    excluded = PatternSet(exclude)
    gitignores = _Gitignores(respect_gitignore)
    seen: set[Path] = set()
    files: list[FoundFile] = []
    skipped: list[tuple[str, str]] = []

    def is_excluded(path: Path, is_dir: bool) -> bool:
        # Patterns are gitignore-style, relative to the project root; a bare name matches anywhere.
        try:
            relative = path.relative_to(root).as_posix()
        except ValueError:
            relative = path.name
        return excluded.match(relative, is_dir) or excluded.match(path.name, is_dir)

    def add(path: Path, shown: Path) -> None:
        resolved = path.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        language = language_for(shown)
        if language is None:
            skipped.append((display_path(shown, cwd), "not a file type ftaudit reads"))
            return
        try:
            size = resolved.stat().st_size
        except OSError as exc:
            skipped.append((display_path(shown, cwd), f"cannot stat: {exc.strerror}"))
            return
        files.append(FoundFile(resolved, display_path(resolved, cwd), language, size))

    def walk(folder: Path, visited: set[Path]) -> None:
        real = folder.resolve()
        if real in visited:  # a symlink loop
            return
        visited = visited | {real}
        if (folder / "pyvenv.cfg").is_file():
            return  # a virtual environment
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append((display_path(folder, cwd), f"cannot list: {exc.strerror}"))
            return
        for entry in entries:
            path = folder / entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_excluded(path, is_dir) or gitignores.ignored(path, is_dir):
                continue
            if is_dir:
                walk(path, visited)
            elif entry.is_file() and language_for(path) is not None:
                add(path, path)

    for given in paths:
        absolute = given if given.is_absolute() else cwd / given
        absolute = Path(os.path.normpath(absolute))
        if not absolute.exists():
            skipped.append((given.as_posix(), "no such file or directory"))
            continue
        if force_exclude and (is_excluded(absolute, absolute.is_dir())
                              or any(is_excluded(p, True) for p in absolute.parents if _within(p, root))):
            continue
        if absolute.is_dir():
            walk(absolute, set())
        else:
            add(absolute, absolute)
    files.sort(key=lambda f: f.display)
    return Discovery(files, skipped)


def _within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return path != root


def context_roots(files: list[Path], root: Path) -> list[Path]:
    """Where to look for the context of a few files (pre-commit passes only the staged ones): the
    folder of the nearest build file above each file, within the project root. A whole repository
    is not read again for every commit, yet a module's linked sources and build settings are."""
    from ftaudit.source import BUILD_FILE_NAMES

    root = root.resolve()
    roots: set[Path] = set()
    for file in files:
        folder = file.resolve().parent
        chosen = root
        for candidate in (folder, *folder.parents):
            if candidate != root and root not in candidate.parents:
                break
            if any((candidate / name).is_file() for name in BUILD_FILE_NAMES):
                chosen = candidate
                break
        roots.add(chosen)
    return sorted(r for r in roots if not any(o in r.parents for o in roots))
