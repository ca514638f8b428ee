"""The project's own headers, for guard evaluation: `#include "util.h"` brings its `#define`s.

coverage.py's tracer guards debug code with `#if TRACE_LOG`, and `util.h` says `#undef TRACE_LOG`;
greenlet's compat header defines `GREENLET_USE_CFRAME` from `PY_VERSION_HEX`. Only directives are
read (no parse), only quoted includes that resolve beside the including file or in one of its
parent folders (`#include "pkg/util.h"` built with `-I.` from the project root), a few levels deep; a
header's own `#if`s are evaluated for the target like the file's, so its definitions count where
they are compiled and become unknown where they only may be.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from ftaudit.cmodel.directives import Directive, scan
from ftaudit.cmodel.guards import GuardIndex

MAX_DEPTH = 3

HeaderReader = Callable[[Path], bytes | None]


def included_name(directive: Directive) -> str:
    """`internal/pycore_frame.h` for `#include <internal/pycore_frame.h>` or `"internal/pycore_frame.h"`."""
    return directive.text.strip().strip('<>"').strip()


def quoted_include(directive: Directive) -> str | None:
    """`util.h` for `#include "util.h"`; None for `<...>`, computed includes, and names no file can
    have (a NUL byte: `Path` operations would raise on it)."""
    text = directive.text.strip()
    if not text.startswith('"'):
        return None
    close = text.find('"', 1)
    name = text[1:close] if close > 0 else ""
    return name if name and "\0" not in name else None


@lru_cache(maxsize=512)
def _scan_header(data: bytes) -> tuple[list[Directive], GuardIndex]:
    directives = scan(data).directives
    return directives, GuardIndex(directives)


def header(path: Path, read: HeaderReader) -> tuple[list[Directive], GuardIndex] | None:
    """A header's directives and guard index (cached by contents), or None when it is not there
    (or cannot be read: the reader is the caller's, and a path it chokes on is not followed)."""
    try:
        data = read(path)
    except (OSError, ValueError):
        return None
    return _scan_header(data) if data is not None else None


ANCESTORS = 3  # parent folders searched for a quoted include after the including file's own


# Where each quoted include from each folder led, for the files of one scan: the headers of a project
# are included from hundreds of files, and every lookup resolves up to four paths. Cleared when a scan
# starts (``forget_lookups``), so a header created or moved between two scans of one process is seen.
_FOUND: dict[tuple[str, str, HeaderReader], tuple[Path, tuple[list[Directive], GuardIndex]] | None] = {}
_MAX_FOUND = 50_000


def forget_lookups() -> None:
    _FOUND.clear()


def find_header(folder: Path, name: str, read: HeaderReader
                ) -> tuple[Path, tuple[list[Directive], GuardIndex]] | None:
    """Where `#include "name"` from a file in ``folder`` leads: beside the file first, then in its
    parent folders, as a build that adds the project root to the include path sees it. The reader
    decides what may be read (the scan boundary), so a climb never leaves the project."""
    key = (str(folder), name, read)
    if key in _FOUND:
        return _FOUND[key]
    found = _find_header(folder, name, read)
    if len(_FOUND) >= _MAX_FOUND:
        _FOUND.clear()
    _FOUND[key] = found
    return found


def _find_header(folder: Path, name: str, read: HeaderReader
                 ) -> tuple[Path, tuple[list[Directive], GuardIndex]] | None:
    place = str(folder)
    for _ in range(ANCESTORS + 1):
        try:
            path = Path(os.path.realpath(os.path.join(place, name)))
        except (OSError, ValueError, RuntimeError):  # NUL bytes, names too long, symlink loops
            return None
        found = header(path, read)
        if found is not None:
            return path, found
        parent = os.path.dirname(place)
        if parent == place:
            return None
        place = parent
    return None


def include_guard(directives: list[Directive]) -> str | None:
    """`X_H` when the first conditional is `#ifndef X_H` directly followed by `#define X_H`."""
    for index, directive in enumerate(directives):
        if directive.kind in ("if", "ifdef", "elif", "else", "endif"):
            return None
        if directive.kind == "ifndef":
            name = directive.text.strip()
            following = directives[index + 1] if index + 1 < len(directives) else None
            if following is not None and following.kind == "define" and following.name == name:
                return name
            return None
    return None
