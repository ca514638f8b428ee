"""Cython sources at text level: header directives (``# cython: a=b``) and def/cdef/cpdef functions.

Cython reads directive comments only at the top of the file, before the first line of code;
so do we. Never raises: problems go to ``errors``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"^#\s*cython\s*:\s*(.*)$")
_FUNCTION = re.compile(
    r"^[ \t]*(?:(?:async|inline|api|public|private|readonly|nogil|noexcept)[ \t]+)*"
    r"(?P<kind>cpdef|cdef|def)\b(?P<rest>[^\n]*)"
)
# cdef lines that declare no function: blocks and declarations.
_CDEF_NOT_FUNCTION = re.compile(
    r"^\s*(?:(?:class|struct|union|enum|extern|cppclass|fused|ctypedef|packed|readonly)\b|(?:public|api)\s+class\b|:\s*$)"
)
_NAME_BEFORE_PAREN = re.compile(r"([A-Za-z_]\w*)\s*\(")


@dataclass(frozen=True, slots=True)
class CythonFunction:
    kind: str  # "def", "cdef" or "cpdef"
    name: str
    line: int


@dataclass(slots=True)
class CythonModule:
    directives: dict[str, str] = field(default_factory=dict)  # e.g. {"freethreading_compatible": "True"}
    directive_lines: dict[str, int] = field(default_factory=dict)  # directive -> 1-based line
    functions: list[CythonFunction] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)  # `include "x.pxi"` targets, as written
    errors: list[str] = field(default_factory=list)

    def directive(self, name: str) -> str | None:
        return self.directives.get(name)

    @property
    def freethreading_compatible(self) -> bool | None:
        """True/False when the header sets it, None when it does not."""
        value = self.directives.get("freethreading_compatible")
        return None if value is None else value.strip().lower() == "true"


def _split_directives(text: str) -> list[tuple[str, str]]:
    """``a=b, c=[1, 2]`` -> [("a", "b"), ("c", "[1, 2]")]: commas inside brackets do not split."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    pairs = []
    for part in parts:
        if "=" in part:
            key, value = part.split("=", 1)
            if key.strip():
                pairs.append((key.strip(), value.strip()))
    return pairs


# `include "helpers.pxi"` pastes another file into this module (uvloop includes whole .pyx files).
_INCLUDE = re.compile(r"""^\s*include\s+["']([^"']+)["']""")


def parse_cython(text: str | bytes) -> CythonModule:
    module = CythonModule()
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        lines = re.split(r"\r\n?|\n", text)  # as SourceFile numbers lines (not at \f or \x85)
        in_header = True
        for number, line in enumerate(lines, 1):
            stripped = line.strip()
            if in_header:
                match = _DIRECTIVE.match(stripped)
                if match:
                    for key, value in _split_directives(match.group(1)):
                        module.directives[key] = value
                        module.directive_lines[key] = number
                    continue
                if not stripped or stripped.startswith("#"):
                    continue
                # "before any code": the first other line (a docstring too) ends the header.
                in_header = False
            included = _INCLUDE.match(line)
            if included is not None:
                module.includes.append(included.group(1))
                continue
            found = _FUNCTION.match(line)
            if found is None:
                continue
            kind, rest = found.group("kind"), found.group("rest")
            if kind != "def" and _CDEF_NOT_FUNCTION.search(rest):
                continue
            name = _NAME_BEFORE_PAREN.search(rest)
            if name is None:
                continue
            module.functions.append(CythonFunction(kind, name.group(1), number))
    except Exception as exc:  # a reader must never take the run down
        module.errors.append(f"cannot read Cython source: {exc}")
    return module
