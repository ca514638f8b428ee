"""A source file read once: bytes, decoded text, language, and byte-offset to line/column mapping.

Every later stage (parsers, rules, suppressions, reporters) works from this one read; tree-sitter
reports byte offsets, reporters need 1-based character columns, so the mapping lives here.
"""

from __future__ import annotations

import bisect
import enum
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ftaudit.findings import Position


class Language(enum.Enum):
    C = "c"
    CPP = "cpp"
    CYTHON = "cython"
    PYTHON = "python"
    RUST = "rust"
    TOML = "toml"
    MESON = "meson"
    CMAKE = "cmake"

    @property
    def comment_style(self) -> str:
        """'c' for // and /* */ comments, 'hash' for # comments."""
        return "c" if self in (Language.C, Language.CPP, Language.RUST) else "hash"


_SUFFIXES = {
    ".c": Language.C,
    ".h": Language.C,
    ".cc": Language.CPP,
    ".cpp": Language.CPP,
    ".cxx": Language.CPP,
    ".hpp": Language.CPP,
    ".hh": Language.CPP,
    ".hxx": Language.CPP,
    ".pyx": Language.CYTHON,
    ".pxd": Language.CYTHON,
    ".pxi": Language.CYTHON,
    ".py": Language.PYTHON,
    ".pyi": Language.PYTHON,
    ".rs": Language.RUST,
}
_NAMES = {
    "pyproject.toml": Language.TOML,
    "Cargo.toml": Language.TOML,
    "meson.build": Language.MESON,
    "CMakeLists.txt": Language.CMAKE,
}
# Build files that project-level rules read (setup.py is also ordinary Python).
BUILD_FILE_NAMES = frozenset({"setup.py", *_NAMES})


# numpy/SciPy-style templated sources (`conv_template`: `/**begin repeat` blocks, `@TYPE@` names).
# They are read as context only: project-level rules learn who calls what from them (numpy's module
# init reaches `initialize_legacy_dtypemeta_aliases()` through `arraytypes.c.src`), but findings are
# never reported inside them, where the placeholders make the code only half parseable.
TEMPLATE_SUFFIXES = {".c.src": Language.C, ".h.src": Language.C, ".cpp.src": Language.CPP}


def is_template(path: Path) -> bool:
    return path.name.lower().endswith(tuple(TEMPLATE_SUFFIXES))


def language_for(path: Path) -> Language | None:
    """The language ftaudit analyses ``path`` as, or None when it is not a file ftaudit reads."""
    name = path.name.lower()
    for suffix, language in TEMPLATE_SUFFIXES.items():
        if name.endswith(suffix):
            return language
    return _NAMES.get(path.name) or _SUFFIXES.get(path.suffix.lower())


_PY_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


@dataclass
class SourceFile:
    path: Path  # resolved, absolute
    display: str  # POSIX path shown to the user
    data: bytes
    language: Language
    encoding_problem: str | None = field(default=None, init=False)

    @cached_property
    def text(self) -> str:
        encoding = self._declared_python_encoding() or "utf-8"
        if not _codec_exists(encoding):
            self.encoding_problem = f"declares unknown encoding {encoding!r}; read as UTF-8"
            encoding = "utf-8"
        try:
            return self.data.decode(encoding)
        except UnicodeDecodeError as exc:
            self.encoding_problem = (
                f"not valid {encoding} (byte offset {exc.start}); undecodable bytes were replaced, columns may be off"
            )
            return self.data.decode(encoding, errors="replace")

    @cached_property
    def text_lines(self) -> list[str]:
        return self.text.split("\n")

    def position_from_ast(self, lineno: int, col_offset: int) -> Position:
        """Convert Python ``ast`` positions (UTF-8 byte column of the decoded line) to characters."""
        lines = self.text_lines
        line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
        if line.isascii():
            return Position(lineno, col_offset + 1)
        return Position(lineno, len(line.encode("utf-8")[:col_offset].decode("utf-8", errors="replace")) + 1)

    def _declared_python_encoding(self) -> str | None:
        # PEP 263: a coding cookie on line 1 or 2 of Python sources.
        if self.language not in (Language.PYTHON, Language.CYTHON):
            return None
        for line in self.data.split(b"\n", 2)[:2]:
            match = _PY_CODING.match(line)
            if match:
                return match.group(1).decode("ascii", "replace")
        return None

    @cached_property
    def line_starts(self) -> list[int]:
        """Byte offset at which each line starts (index 0 is line 1)."""
        starts = [0]
        find = self.data.find
        pos = find(b"\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find(b"\n", pos + 1)
        return starts

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset)

    def position(self, offset: int) -> Position:
        """1-based line and character column of a byte offset (tree-sitter speaks bytes)."""
        line = bisect.bisect_right(self.line_starts, offset)
        start = self.line_starts[line - 1]
        prefix = self.data[start:offset]
        if prefix.isascii():
            return Position(line, len(prefix) + 1)
        return Position(line, len(prefix.decode("utf-8", errors="replace")) + 1)

    def offset(self, position: Position) -> int:
        """Byte offset of a 1-based line and character column (the inverse of ``position``)."""
        start = self.line_starts[position.line - 1]
        line = self.line_bytes(position.line)
        if line.isascii():
            return start + min(position.column - 1, len(line))
        chars = line.decode("utf-8", errors="replace")[: position.column - 1]
        return start + len(chars.encode("utf-8"))

    def line_bytes(self, line: int) -> bytes:
        start = self.line_starts[line - 1]
        end = self.line_starts[line] - 1 if line < len(self.line_starts) else len(self.data)
        return self.data[start:end].rstrip(b"\r")

    def line_text(self, line: int) -> str:
        if not 1 <= line <= len(self.line_starts):
            return ""
        return self.line_bytes(line).decode("utf-8", errors="replace")


def _codec_exists(name: str) -> bool:
    import codecs

    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


_GENERATED = re.compile(
    rb"@generated|generated by cython|translated by f2c|do not edit"
    rb"|this (?:file|code|module) (?:is|was|has been) (?:auto-?|automatically )?generated"
    rb"|this is (?:auto-?|automatically )?generated code", re.IGNORECASE)
_LEADING_COMMENTS = re.compile(rb"\A(?:\s*(?:/\*.*?\*/|//[^\n]*|#[^\n]*))+", re.DOTALL)


def generated_marker(data: bytes) -> str | None:
    """The phrase by which a file's leading comment says a tool wrote it (Cython's C output, f2c,
    `@generated`, "DO NOT EDIT"); only that first comment block counts, so generator scripts and
    files that merely mention generated code are still read.

    Findings there belong to the source it was generated from (a .pyx, a Fortran file) or to a
    vendored tool; reporting thousands of them in numpy's f2c LAPACK helps nobody.
    """
    header = _LEADING_COMMENTS.match(data[:3000])
    if header is None:
        return None
    match = _GENERATED.search(header.group(0))
    return match.group(0).decode("ascii", "replace") if match else None
