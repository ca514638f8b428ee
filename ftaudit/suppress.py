"""Inline suppressions: find them in comments, apply them to findings, report the unused ones (FT001).

Python: ``# noqa: FT501`` and ``# ftaudit: ignore[FT501]``. C/C++: ``// NOLINT(FT201)``,
``// NOLINTNEXTLINE(FT201)``, ``// NOLINTBEGIN(FT201)`` … ``// NOLINTEND(FT201)`` and
``/* ftaudit: ignore[FT201] */``. A bare ``noqa``/``NOLINT`` belongs to other tools and is not
honoured. Comments are found lexically (strings skipped), never by matching the raw text.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ftaudit.source import Language, SourceFile

_CODE = r"[A-Z]{1,5}[0-9]{0,4}\*?"
_CODE_LIST = rf"{_CODE}(?:\s*,\s*{_CODE})*"
_NOQA = re.compile(rf"#\s*noqa\s*:\s*({_CODE_LIST})", re.IGNORECASE)
_IGNORE = re.compile(rf"ftaudit\s*:\s*ignore(-file)?\s*\[\s*({_CODE_LIST})\s*\]")
# clang-tidy's syntax: no space before '('; entries may also be clang-tidy check globs, which we skip.
_NOLINT = re.compile(r"NOLINT(NEXTLINE|BEGIN|END)?\(([^)]*)\)")
_OUR_CODE = re.compile(rf"^{_CODE}$")


@dataclass
class Comment:
    line: int  # 1-based
    column: int  # 1-based, characters
    end_column: int
    text: str
    own_line: bool  # nothing but whitespace around it on its line


@dataclass
class Suppression:
    codes: tuple[str, ...]  # selectors: full codes or prefixes, upper case
    kind: str  # "line", "next", "begin", "file"
    line: int  # where the comment is
    column: int
    end_column: int
    first: int  # first line it covers
    last: int  # last line it covers
    used: set[str] = field(default_factory=set)  # which of ``codes`` suppressed something

    def covers(self, code: str, first: int, last: int) -> str | None:
        """The selector of this suppression that silences ``code`` on lines first..last, if any."""
        if last < self.first or first > self.last:
            return None
        for selector in self.codes:
            if code.startswith(selector):
                return selector
        return None


# -- comments -----------------------------------------------------------------------------------
_C_TOKEN = re.compile(
    rb'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL
)


def _c_comments(source: SourceFile) -> list[Comment]:
    comments = []
    # c_data: a lone CR ends a `//` comment as it ends the line (same offsets as data).
    for match in _C_TOKEN.finditer(source.c_data):
        token = match.group()
        if not token.startswith((b"//", b"/*")):
            continue  # a string or character literal: skipped so its contents never count
        start = source.position(match.start())
        end = source.position(match.end())
        text = token.decode("utf-8", errors="replace")
        before = source.data[source.line_starts[start.line - 1]:match.start()]
        after = source.line_bytes(end.line)[match.end() - source.line_starts[end.line - 1]:]
        own = not before.strip() and not after.strip()
        comments.append(Comment(start.line, start.column, end.column, text, own))
    return comments


def _python_comments(source: SourceFile, nodes: list[ast.AST] | None = None) -> list[Comment]:
    """Comments on the lines that mention a suppression, found without tokenising the whole file.

    A `#` counts when a quote-aware scan of its line says it is not in a string, and the line does not
    start inside a multi-line string (those come from the shared ``ast``: the file is never re-parsed).
    """
    in_string: set[int] = set()
    for node in nodes or ():
        if isinstance(node, (ast.Constant, ast.JoinedStr)) and (node.end_lineno or node.lineno) > node.lineno:
            in_string.update(range(node.lineno + 1, (node.end_lineno or node.lineno) + 1))
    comments = []
    for number, line in enumerate(source.text_lines, start=1):
        if "#" not in line or not _KEYWORDS.search(line):
            continue
        col = _comment_start(line, starts_in_string=number in in_string)
        if col >= 0:
            text = line[col:].rstrip("\r")
            comments.append(Comment(number, col + 1, col + 1 + len(text), text, not line[:col].strip()))
    return comments


_KEYWORDS = re.compile(r"noqa|ftaudit|NOLINT", re.IGNORECASE)


def _comment_start(line: str, starts_in_string: bool) -> int:
    """Index of the `#` that starts a comment on a Python line, or -1."""
    if starts_in_string:
        # The line continues a triple-quoted string; only text after its closing quotes can hold a comment.
        ends = [line.find(q) for q in ('"""', "'''") if q in line]
        if not ends:
            return -1
        offset = min(ends) + 3
        rest = _comment_start(line[offset:], False)
        return rest + offset if rest >= 0 else -1
    quote = ""
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif char == "#":
            return i
        elif char in "\"'":
            quote = line[i:i + 3] if line[i:i + 3] in ('"""', "'''") else char
            i += len(quote)
            continue
        i += 1
    return -1


def _hash_comments(source: SourceFile) -> list[Comment]:
    comments = []
    for number, line in enumerate(source.text_lines, start=1):
        col = line.find("#")
        if col >= 0:
            comments.append(Comment(number, col + 1, len(line) + 1, line[col:].rstrip(), not line[:col].strip()))
    return comments


def comments_of(source: SourceFile, python_nodes: Callable[[], list[ast.AST]] | None = None) -> list[Comment]:
    """The file's comments; ``python_nodes`` gives the shared ``ast`` nodes of a Python file, asked for
    only when a line could hold a suppression."""
    if source.language is Language.PYTHON:
        return _python_comments(source, python_nodes() if python_nodes is not None else None)
    if source.language.comment_style == "c":
        return _c_comments(source)
    return _hash_comments(source)


# -- suppressions -------------------------------------------------------------------------------
def _codes(listing: str) -> tuple[str, ...]:
    codes = []
    for item in listing.split(","):
        item = item.strip()
        if _OUR_CODE.match(item):
            codes.append(item.rstrip("*"))
    return tuple(codes)


def _next_code_line(source: SourceFile, line: int, comment_lines: set[int]) -> int:
    """The first line after ``line`` holding code (blank and comment-only lines are skipped)."""
    for number in range(line + 1, source.line_count + 1):
        if source.line_text(number).strip() and number not in comment_lines:
            return number
    return line + 1


def find_suppressions(source: SourceFile, python_nodes: Callable[[], list[ast.AST]] | None = None,
                      ) -> tuple[list[Suppression], list[Comment]]:
    """All ftaudit suppressions in the file, and NOLINTBEGIN comments left without an END."""
    if not _might_suppress(source.data):
        return [], []
    comments = comments_of(source, python_nodes)
    own_lines = {c.line for c in comments if c.own_line}
    found: list[Suppression] = []
    open_regions: list[tuple[Comment, tuple[str, ...]]] = []

    def add(codes: tuple[str, ...], kind: str, comment: Comment, first: int, last: int) -> None:
        if codes:
            found.append(Suppression(codes, kind, comment.line, comment.column, comment.end_column, first, last))

    for comment in comments:
        text = comment.text
        if source.language in (Language.PYTHON, Language.CYTHON, Language.TOML, Language.MESON,
                               Language.CMAKE):
            for match in _NOQA.finditer(text):
                add(_codes(match.group(1).upper()), "line", comment, comment.line, comment.line)
        for match in _IGNORE.finditer(text):
            codes = _codes(match.group(2))
            if match.group(1):
                add(codes, "file", comment, 1, source.line_count)
            elif comment.own_line:
                target = _next_code_line(source, comment.line, own_lines)
                add(codes, "next", comment, target, target)
            else:
                add(codes, "line", comment, comment.line, comment.line)
        if source.language.comment_style != "c":
            continue
        for match in _NOLINT.finditer(text):
            kind, codes = match.group(1), _codes(match.group(2))
            if not codes:
                continue  # NOLINT(...) for other tools' checks only
            if kind is None:
                add(codes, "line", comment, comment.line, comment.line)
            elif kind == "NEXTLINE":
                add(codes, "next", comment, comment.line + 1, comment.line + 1)
            elif kind == "BEGIN":
                open_regions.append((comment, codes))
            else:  # END closes the innermost BEGIN with the same codes, else the innermost one
                index = next((i for i in range(len(open_regions) - 1, -1, -1) if open_regions[i][1] == codes),
                             len(open_regions) - 1)
                if index >= 0:
                    begin, begin_codes = open_regions.pop(index)
                    add(begin_codes, "begin", begin, begin.line, comment.line)
    unclosed = []
    for begin, codes in open_regions:  # unbalanced: cover to the end of the file, and say so
        add(codes, "begin", begin, begin.line, source.line_count)
        unclosed.append(begin)
    return found, unclosed


def _might_suppress(data: bytes) -> bool:
    return b"NOLINT" in data or b"ftaudit" in data or b"noqa" in data or b"NOQA" in data
