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


# `.pyi` stubs are not read: they hold no run-time code (no rule applies) and their annotations often
# use syntax newer than the Python ftaudit runs on.
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
# Line ends as C compilers, tree-sitter-facing offsets and Python's tokenizer count them: CRLF, LF, lone CR.
_LINE_END = re.compile(rb"\r\n?|\n")
_LONE_CR = re.compile(rb"\r(?!\n)")
_TEXT_LINE_SPLIT = re.compile(r"\r(?!\n)|\n")  # keeps the CR of a CRLF, as the LF-only split does


@dataclass
class SourceFile:
    path: Path  # resolved, absolute
    display: str  # POSIX path shown to the user
    data: bytes
    language: Language
    encoding_problem: str | None = field(default=None, init=False)

    @cached_property
    def text(self) -> str:
        encoding = self._source_encoding()
        try:
            return self.data.decode(encoding)
        except UnicodeDecodeError as exc:
            self.encoding_problem = (
                f"not valid {encoding} (byte offset {exc.start}); undecodable bytes were replaced, columns may be off"
            )
        except Exception as exc:  # a codec is arbitrary code: `undefined` raises its own error
            self.encoding_problem = (f"cannot be decoded as {encoding} ({type(exc).__name__}: {exc}); "
                                     "read as UTF-8, undecodable bytes were replaced")
            encoding = "utf-8"
        try:
            return self.data.decode(encoding, errors="replace")
        except Exception:  # the codec fails even when told to replace: UTF-8 never does
            return self.data.decode("utf-8", errors="replace")

    def _source_encoding(self) -> str:
        """The declared encoding when it can decode this file, else UTF-8 (and ``encoding_problem`` says why)."""
        declared = self._declared_python_encoding()
        if declared is None:
            return "utf-8"
        problem = _unusable_encoding(declared, bom=self.data.startswith(b"\xef\xbb\xbf"))
        if problem:
            self.encoding_problem = f"declares {problem}; read as UTF-8"
            return "utf-8"
        return declared

    @cached_property
    def lone_cr(self) -> bool:
        """True when a CR not followed by LF ends a line (classic Mac files, or a mix): the slow path."""
        data = self.data
        count = data.count(b"\r")
        return count > 0 and count != data.count(b"\r\n")

    @cached_property
    def text_lines(self) -> list[str]:
        if self.lone_cr:
            return _TEXT_LINE_SPLIT.split(self.text)
        return self.text.split("\n")

    def position_from_ast(self, lineno: int, col_offset: int) -> Position:
        """Convert Python ``ast`` positions (UTF-8 byte column of the decoded line) to characters."""
        lines = self.text_lines
        line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
        if line.isascii():
            return Position(lineno, col_offset + 1)
        return Position(lineno, len(line.encode("utf-8")[:col_offset].decode("utf-8", errors="replace")) + 1)

    def _declared_python_encoding(self) -> str | None:
        # PEP 263: a coding cookie on line 1 or 2 of Python sources (a lone CR ends a line too).
        if self.language not in (Language.PYTHON, Language.CYTHON):
            return None
        for line in _LINE_END.split(self.data.removeprefix(b"\xef\xbb\xbf"), 2)[:2]:
            match = _PY_CODING.match(line)
            if match:
                return match.group(1).decode("ascii", "replace")
        return None

    @cached_property
    def line_starts(self) -> list[int]:
        """Byte offset at which each line starts (index 0 is line 1)."""
        if self.lone_cr:
            return [0, *(m.end() for m in _LINE_END.finditer(self.data))]
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
        """A line's bytes without its line end."""
        starts = self.line_starts
        start = starts[line - 1]
        if line >= len(starts):
            return self.data[start:]
        if not self.lone_cr:
            return self.data[start:starts[line] - 1].rstrip(b"\r")
        end = starts[line]
        return self.data[start:end - 2 if self.data.startswith(b"\r\n", end - 2) else end - 1]

    def line_text(self, line: int) -> str:
        if not 1 <= line <= len(self.line_starts):
            return ""
        return self.line_bytes(line).decode("utf-8", errors="replace")

    @cached_property
    def c_data(self) -> bytes:
        """``data`` for the C model, with each lone CR made an LF: the same length, so every byte offset
        stays valid, while code that counts LFs (tree-sitter rows, directive scanning) sees the lines
        a compiler sees (a lone CR ends a line, and with it a `#define` or a `//` comment)."""
        return lone_cr_as_lf(self.data) if self.lone_cr else self.data


def lone_cr_as_lf(data: bytes) -> bytes:
    """Each CR that ends a line on its own made an LF (same length: byte offsets do not move)."""
    return _LONE_CR.sub(b"\n", data)


def _unusable_encoding(name: str, *, bom: bool = False) -> str | None:
    """Why a declared encoding cannot decode source text (None when it can).

    Only text encodings are accepted: `rot13`, `base64`, `zlib`, `hex` and the like are codecs too,
    but ``bytes.decode`` refuses them with a LookupError, as Python's own tokenizer does. The cookie
    line is ASCII, so an encoding that cannot read it back (UTF-16, EBCDIC) cannot be the file's.
    """
    import codecs

    try:
        info = codecs.lookup(name)
    except LookupError:
        return f"unknown encoding {name!r}"
    if not getattr(info, "_is_text_encoding", True):
        return f"{name!r}, which is not a text encoding"
    if bom and info.name not in ("utf-8", "utf-8-sig"):
        return f"{name!r} but starts with a UTF-8 byte order mark"
    probe = b"# -*- coding: x -*-\n"
    try:
        readable = info.decode(probe)[0] == probe.decode("ascii")
    except Exception:  # codecs are arbitrary code
        readable = False
    return None if readable else f"{name!r}, which cannot decode the ASCII line that declares it"


_GENERATED = re.compile(
    rb"@generated|generated by cython|translated by f2c|do not edit"
    rb"|this (?:file|code|module) (?:is|was|has been) (?:auto-?|automatically )?generated"
    rb"|this is (?:auto-?|automatically )?generated code"
    rb"|(?:auto-?|automatically )generated (?:by|from|with)\b", re.IGNORECASE)  # CPython's asdl_c.py output
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
