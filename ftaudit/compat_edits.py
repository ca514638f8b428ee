"""Edits that compile on every CPython version the project supports, not only on the audit target.

A replacement API added in CPython X.Y (`PyFrame_GetCode` 3.9, `PyUnstable_Object_IsUniquelyReferenced`
3.14) cannot simply replace the old code when the project still supports older versions
(`requires-python` below X.Y): the file would stop compiling there. Three ways, in this order:

1. every supported version has it (the minimum is known and at least X.Y): replace in place;
2. the file includes `pythoncapi_compat.h`, which backports the API: replace in place (the header
   defines it for older versions, as its own upgrade script relies on);
3. otherwise keep both: the whole lines holding the old code are duplicated under
   `#if PY_VERSION_HEX >= 0x0X0Y0000` (new code) `#else` (old code, byte for byte) `#endif`.

No edit is offered where duplicating lines cannot be done safely: inside a macro definition (a line
continued with a backslash) or on a preprocessor line.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftaudit.cmodel.includes import included_name
from ftaudit.context import FileContext
from ftaudit.findings import Edit

Version = tuple[int, int]
COMPAT_HEADER = "pythoncapi_compat.h"


def version_hex(version: Version) -> str:
    """``PY_VERSION_HEX`` of the first release of a version: (3, 14) -> ``0x030E0000``."""
    return f"0x{version[0]:02X}{version[1]:02X}0000"


def includes_compat_header(ctx: FileContext) -> bool:
    unit = ctx.c_unit
    return unit is not None and any(
        d.kind == "include" and included_name(d).rsplit("/", 1)[-1] == COMPAT_HEADER for d in unit.directives)


def needs_guard(ctx: FileContext, since: Version | None) -> bool:
    """Some version the project supports lacks the API: the minimum is below ``since`` or unknown."""
    if since is None:
        return False
    minimum = ctx.target.minimum
    return minimum is None or minimum < since


@dataclass(frozen=True)
class CompatEdit:
    edits: tuple[Edit, ...]
    how: str  # "in place", "pythoncapi_compat.h" or "guarded"

    def note(self, since: Version | None) -> str:
        """How the message describes the edit: '' in place, else why it still builds everywhere."""
        if self.how == "guarded" and since is not None:
            return f" under `#if PY_VERSION_HEX >= {version_hex(since)}` (older versions keep the old code)"
        if self.how == COMPAT_HEADER:
            return " (pythoncapi_compat.h provides it for older versions)"
        return ""


def replace_span(ctx: FileContext, start: int, end: int, replacement: str, since: Version | None,
                 compat: bool) -> CompatEdit | None:
    """Replace bytes ``start:end`` of the file with ``replacement`` so that every supported version builds."""
    source = ctx.source
    if not needs_guard(ctx, since):
        return CompatEdit((Edit(replacement, source.position(start), source.position(end)),), "in place")
    if compat and includes_compat_header(ctx):
        return CompatEdit((Edit(replacement, source.position(start), source.position(end)),), COMPAT_HEADER)
    assert since is not None
    starts = source.line_starts
    first, last = source.line_of(start), source.line_of(max(start, end - 1) if end > start else start)
    block_start = starts[first - 1]
    block_end = starts[last] if last < len(starts) else len(source.data)
    block = source.data[block_start:block_end]
    before = source.data[starts[first - 2]:block_start] if first >= 2 else b""
    lines = block.splitlines()
    if (before.rstrip(b"\r\n").endswith(b"\\") or any(line.rstrip().endswith(b"\\") for line in lines)
            or any(line.lstrip().startswith(b"#") for line in lines)):
        return None  # a macro body or a directive: lines cannot be duplicated around it
    old = block.decode("utf-8", "replace")
    new = (source.data[block_start:start] + replacement.encode("utf-8") + source.data[end:block_end]).decode(
        "utf-8", "replace")
    # Newlines inside an edit are "\n"; applying it turns them into the file's own line ending.
    old, new = (text.replace("\r\n", "\n").replace("\r", "\n") for text in (old, new))
    final = "\n" if old.endswith("\n") else ""
    old, new = old.rstrip("\n") + "\n", new.rstrip("\n") + "\n"
    text = f"#if PY_VERSION_HEX >= {version_hex(since)}\n{new}#else\n{old}#endif{final}"
    return CompatEdit((Edit(text, source.position(block_start), source.position(block_end)),), "guarded")
