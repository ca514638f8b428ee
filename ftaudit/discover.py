"""File discovery: walk the given paths, honour .gitignore and excludes, resolve symlinks, dedupe.

Paths given explicitly are always scanned (as ruff does) unless ``force_exclude`` is set, which is
what pre-commit needs because it passes every staged file.

The scanned repository is untrusted: a symlink is followed only while its real target stays inside
the scan boundary (the project root and the folders given), so a committed link to `/etc/passwd` or
`../outside/secret.c` is neither read, quoted in a report, nor rewritten by `--fix` — also when the
link itself is named on the command line. Unreadable folders and broken `.gitignore` lines are
reported and passed over; discovery itself never raises on what it finds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import translate
from pathlib import Path
from typing import TYPE_CHECKING

from ftaudit.findings import Diagnostic, DiagnosticKind
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
    roots: list[Path] = field(default_factory=list)  # the resolved scan boundary
    diagnostics: list[Diagnostic] = field(default_factory=list)  # shown always: the user should know


def display_path(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def _spec(patterns: list[str], bad: list[str] | None = None) -> pathspec.GitIgnoreSpec:
    """The compiled patterns; a line git would reject too (`[z-a]`) is left out and listed in ``bad``."""
    import pathspec  # imported only when a pattern needs it: it costs ~35 ms, a pre-commit run ~150 ms

    try:
        return pathspec.GitIgnoreSpec.from_lines(patterns)
    except (ValueError, re.error):
        pass
    good = []
    for line in patterns:
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except (ValueError, re.error):
            if bad is not None:
                bad.append(line)
        else:
            good.append(line)
    return pathspec.GitIgnoreSpec.from_lines(good)


def _quietly(check: Callable[[], bool]) -> bool:
    """A filesystem test that says False instead of raising (an unreadable folder, a dangling link)."""
    try:
        return check()
    except (OSError, ValueError):
        return False


def _globs(globs: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{translate(g)})" for g in globs)) if globs else None


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
        # One regex per kind instead of an fnmatch call per pattern and path: discovery asks for
        # every entry of the tree.
        self._any = _globs([glob for glob, dirs_only in self.simple])
        self._files = _globs([glob for glob, dirs_only in self.simple if not dirs_only])

    def match(self, relative: str, is_dir: bool) -> bool:
        name = relative.rstrip("/").rsplit("/", 1)[-1]
        matcher = self._any if is_dir else self._files
        if matcher is not None and matcher.match(name):
            return True
        if not self._complex:
            return False
        if self._spec is None:
            self._spec = _spec(self._complex)
        return self._spec.match_file(relative + ("/" if is_dir else ""))


class _Gitignores:
    """.gitignore files from the repository root down to each walked folder."""

    def __init__(self, enabled: bool, diagnostics: list[Diagnostic], cwd: Path) -> None:
        self.enabled = enabled
        self.diagnostics = diagnostics
        self.cwd = cwd
        self._cache: dict[Path, pathspec.GitIgnoreSpec | None] = {}
        self._chains: dict[Path, list[tuple[Path, pathspec.GitIgnoreSpec]]] = {}

    def _spec_for(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._cache:
            spec = None
            ignore_file = folder / ".gitignore"
            if _quietly(ignore_file.is_file):
                bad: list[str] = []
                try:
                    spec = _spec(ignore_file.read_text(encoding="utf-8", errors="replace").splitlines(), bad)
                except OSError:
                    spec = None
                for line in bad:
                    self.diagnostics.append(Diagnostic(
                        display_path(ignore_file, self.cwd), DiagnosticKind.CONFIG,
                        f"pattern {line.strip()!r} is not valid; that line is ignored"))
            self._cache[folder] = spec
        return self._cache[folder]

    def _chain(self, folder: Path) -> list[tuple[Path, pathspec.GitIgnoreSpec]]:
        """The .gitignore specs that apply inside ``folder``: its own and its parents', up to the
        repository root (.gitignore files above it do not apply). Computed once per folder."""
        chain = self._chains.get(folder)
        if chain is None:
            spec = self._spec_for(folder)
            own = [(folder, spec)] if spec is not None else []
            at_root = _quietly((folder / ".git").exists) or folder.parent == folder
            chain = own if at_root else own + self._chain(folder.parent)
            self._chains[folder] = chain
        return chain

    def ignored(self, path: Path, is_dir: bool) -> bool:
        if not self.enabled:
            return False
        for folder, spec in self._chain(path.parent):
            relative = path.relative_to(folder).as_posix() + ("/" if is_dir else "")
            if spec.match_file(relative):
                return True
        return False


def discover(paths: list[Path], *, root: Path, exclude: list[str], respect_gitignore: bool,
             force_exclude: bool, cwd: Path | None = None) -> Discovery:
    cwd = cwd or Path.cwd()
    excluded = PatternSet(exclude)
    diagnostics: list[Diagnostic] = []
    gitignores = _Gitignores(respect_gitignore, diagnostics, cwd)
    seen: set[Path] = set()
    files: list[FoundFile] = []
    skipped: list[tuple[str, str]] = []
    boundary = scan_boundary(paths, root, cwd)

    def is_excluded(path: Path, is_dir: bool) -> bool:
        # Patterns are gitignore-style, relative to the project root; a bare name matches anywhere.
        try:
            relative = path.relative_to(root).as_posix()
        except ValueError:
            relative = path.name
        return excluded.match(relative, is_dir) or excluded.match(path.name, is_dir)

    def outside(path: Path, resolved: Path, given: bool) -> bool:
        if within(resolved, boundary):
            return False
        reason = f"a symlink to {resolved}, outside the scanned tree; not followed"
        skipped.append((display_path(path, cwd), reason))
        if given:  # named on the command line (pre-commit passes staged links): say so, always
            diagnostics.append(Diagnostic(display_path(path, cwd), DiagnosticKind.UNREADABLE, reason))
        return True

    def add(path: Path, shown: Path, given: bool = False, resolved: Path | None = None) -> None:
        if resolved is None:
            try:
                resolved = path.resolve()
            except (OSError, RuntimeError) as exc:  # a symlink loop
                skipped.append((display_path(shown, cwd), f"cannot resolve: {exc}"))
                return
        if resolved in seen or outside(shown, resolved, given):
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
        if _quietly((folder / "pyvenv.cfg").is_file):
            return  # a virtual environment
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append((display_path(folder, cwd), f"cannot list: {exc.strerror}"))
            diagnostics.append(Diagnostic(display_path(folder, cwd), DiagnosticKind.UNREADABLE,
                                          f"cannot list this folder: {exc.strerror or exc}; skipped"))
            return
        for entry in entries:
            path = folder / entry.name
            is_dir = _quietly(entry.is_dir)
            if not is_dir and language_for(path) is None:
                continue  # not a file type ftaudit reads: no need to ask the ignore rules
            if is_excluded(path, is_dir) or gitignores.ignored(path, is_dir):
                continue
            link = _quietly(entry.is_symlink)
            if link and outside(path, _resolve(path), False):
                continue
            if is_dir:
                walk(path, visited)
            elif _quietly(entry.is_file) and language_for(path) is not None:
                # A plain file in a resolved folder is its own real path: no realpath per file.
                add(path, path, resolved=None if link else real / entry.name)

    for given in paths:
        absolute = given if given.is_absolute() else cwd / given
        absolute = Path(os.path.normpath(absolute))
        if not _quietly(absolute.exists):
            skipped.append((given.as_posix(), "no such file or directory"))
            continue
        is_dir = _quietly(absolute.is_dir)
        if force_exclude and (is_excluded(absolute, is_dir)
                              or any(is_excluded(p, True) for p in absolute.parents if _within(p, root))):
            continue
        if is_dir:
            walk(absolute, set())
        else:
            add(absolute, absolute, given=True)
    files.sort(key=lambda f: f.display)
    return Discovery(files, skipped, boundary, diagnostics)


def scan_boundary(paths: list[Path], root: Path, cwd: Path) -> list[Path]:
    """Where files may be read and written: the project root and every folder given to scan, as
    real paths. A folder named explicitly counts even when it is a link (the user chose it); what is
    reached through links inside them must stay inside."""
    boundary = {_resolve(root if root.is_absolute() else cwd / root)}
    for given in paths:
        absolute = given if given.is_absolute() else cwd / given
        if _quietly(absolute.is_dir):
            boundary.add(_resolve(absolute))
        elif _quietly(absolute.is_file) and _spelled_without_links(absolute):
            # A file named outside the project (`ftaudit scan /elsewhere/x.c`) is the user's choice
            # too, and its folder is its context; a path that goes through a link is not trusted.
            boundary.add(absolute.parent.resolve())
    return sorted(boundary)


def _spelled_without_links(path: Path) -> bool:
    normal = os.path.normpath(path)
    return os.path.realpath(normal) == normal


def within(path: Path, roots: list[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def _within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return path != root


def git_root(start: Path) -> Path | None:
    """The closest folder at or above ``start`` holding ``.git`` (a folder, or a file in worktrees)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def context_roots(files: list[Path], root: Path) -> list[Path]:
    """Where to look for the context of a few files (pre-commit passes only the staged ones): the
    folder of the nearest build file above each file, within the project root; without one, the
    file's own folder (a repository holding many projects and no build file is not one extension).
    Only the files there that name the asked ones are then read (``ftaudit.neighbours``)."""
    from ftaudit.source import BUILD_FILE_NAMES

    root = root.resolve()
    roots: set[Path] = set()
    for file in files:
        folder = file.resolve().parent
        chosen = folder if folder == root or root in folder.parents else root
        for candidate in (folder, *folder.parents):
            if candidate != root and root not in candidate.parents:
                break
            if any((candidate / name).is_file() for name in BUILD_FILE_NAMES):
                chosen = candidate
                break
        roots.add(chosen)
    return sorted(r for r in roots if not any(o in r.parents for o in roots))
