"""The CPython build an analysis targets: version, free-threaded or not, and the oldest supported.

Rules and the C source model ask the target whether code under a preprocessor guard is compiled
and whether an API exists; it is built once from config (`target-version`, `requires-python`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Newest CPython minor release whose facts the catalogue encodes; the default target.
LATEST_KNOWN = (3, 14)
_TARGET_RE = re.compile(r"^(?:py|cp)?(\d)\.?(\d{1,2})(t?)$", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """A CPython build to audit for, e.g. ``Target((3, 13), free_threaded=True)`` for 3.13t."""

    version: tuple[int, int] = LATEST_KNOWN
    free_threaded: bool = True
    # Oldest CPython the project still supports (from requires-python); None when unknown.
    minimum: tuple[int, int] | None = None
    limited_api: bool = False

    @property
    def hex(self) -> int:
        """``PY_VERSION_HEX`` of the first release of this minor version (``0x030D0000``)."""
        return (self.version[0] << 24) | (self.version[1] << 16)

    @property
    def label(self) -> str:
        return f"{self.version[0]}.{self.version[1]}{'t' if self.free_threaded else ''}"

    def supports_older_than(self, version: tuple[int, int]) -> bool:
        """True when the project may still be built for a CPython older than ``version``."""
        lowest = self.minimum if self.minimum is not None else self.version
        return lowest < version

    def __str__(self) -> str:
        return self.label



@dataclass(frozen=True)
class Applies:
    """The builds a rule audits (Fixit's ``PYTHON_VERSION``): the engine skips a rule whose targets
    exclude the file's, so a rule never writes its own version checks for that."""

    free_threaded_only: bool = False
    since: tuple[int, int] | None = None  # the target is this CPython or newer

    def includes(self, target: Target) -> bool:
        if self.free_threaded_only and not target.free_threaded:
            return False
        return self.since is None or target.version >= self.since

    def describe(self) -> str:
        """For the rule's docs: ``free-threaded builds of CPython 3.13 and newer``."""
        builds = "free-threaded builds" if self.free_threaded_only else "every build"
        if self.since is None:
            return builds
        since = f"CPython {self.since[0]}.{self.since[1]} and newer"
        return f"free-threaded builds of {since}" if self.free_threaded_only else since


EVERY_BUILD = Applies()
FREE_THREADED = Applies(free_threaded_only=True)

def parse_target(text: str) -> Target:
    """Parse ``3.13t``, ``3.12``, ``py314t`` or ``cp313t``; raise ValueError with the accepted forms."""
    match = _TARGET_RE.match(text.strip())
    if not match:
        raise ValueError(f"invalid target version {text!r}: expected e.g. '3.13t', '3.12' or 'py314t'")
    version = (int(match.group(1)), int(match.group(2)))
    free_threaded = bool(match.group(3))
    if version[0] != 3 or version[1] < 6:
        raise ValueError(f"invalid target version {text!r}: ftaudit audits CPython 3.6 and newer")
    if free_threaded and version < (3, 13):
        raise ValueError(f"invalid target version {text!r}: free-threaded builds start at 3.13")
    return Target(version=version, free_threaded=free_threaded)
