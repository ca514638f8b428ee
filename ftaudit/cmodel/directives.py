"""Raw-byte scan of a C/C++ file: preprocessor directives, and a "code mask" of the source.

Directives are read from the bytes, not the tree, because tree-sitter turns many of them into
ERROR nodes (inside initializers, struct bodies). The mask has comments, literal contents and directive
lines blanked (newlines kept, same length), so later passes can regex-search code tokens only.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

# A ``bytes.translate`` table that turns every byte into a space except newlines: text blanked with
# it keeps its length and its line breaks, so offsets and line numbers stay right.
BLANK_KEEPING_NEWLINES = bytes(byte if byte == ord("\n") else ord(" ") for byte in range(256))

# The next thing that is not plain code: a comment, a literal, or a line starting with '#'.
_NEXT = re.compile(rb'/\*|//|"|\'|^[ \t]*#', re.M)
_LINE_COMMENT = re.compile(rb"//(?:[^\n\\]|\\.)*", re.S)
_STRING = re.compile(rb'"(?:[^"\\\n]|\\.)*"?', re.S)
_CHAR = re.compile(rb"'(?:[^'\\\n]|\\.)*'?", re.S)
_DIR_EVENT = re.compile(rb'\\\r?\n|\n|/\*|//|"|\'')
_DIR_HEAD = re.compile(rb"[ \t]*#[ \t]*([A-Za-z_]\w*)?")
_DEFINE = re.compile(rb"[ \t]*([A-Za-z_]\w*)(\([^)]*\))?")
_CONTINUATION = re.compile(r"\\\r?\n")
_LINE_COMMENT_TEXT = re.compile(r"//.*")

CONDITIONAL_KINDS = frozenset({"if", "ifdef", "ifndef", "elif", "elifdef", "elifndef", "else", "endif"})


@dataclass(frozen=True, slots=True)
class Directive:
    """One preprocessor directive line (continuations joined)."""

    kind: str  # "if", "ifdef", "define", "include", ... ("" for a null directive)
    text: str  # everything after the keyword, comments removed, continuations joined, stripped
    line: int
    start: int  # byte offset of the '#'
    end: int  # byte offset of the newline that ends it (or of EOF)
    # For #define only: macro name, parameter names (None = object-like), body offset in the file.
    name: str | None = None
    params: tuple[str, ...] | None = None
    body_offset: int | None = None


@dataclass(slots=True)
class RawScan:
    source: bytes
    mask: bytes
    directives: list[Directive]
    line_starts: list[int]
    open_comment: int = -1  # offset of a block comment that runs to the end of the file

    def line_of(self, offset: int) -> int:
        return bisect_right(self.line_starts, offset)


def _clean(raw: bytes) -> str:
    """Directive text as the preprocessor sees it: comments and continuations become spaces."""
    text = raw.decode("utf-8", "replace")
    text = _CONTINUATION.sub(" ", text)
    return _strip_comments(text).strip()


def _strip_comments(text: str) -> str:
    """Block comments become a space, a line comment ends the text. One left-to-right scan: a
    regex retried at every ``/*`` of an unterminated comment is quadratic on a 3 MB line."""
    parts = []
    pos = 0
    while True:
        block = text.find("/*", pos)
        line = text.find("//", pos)
        if line >= 0 and (block < 0 or line < block):
            parts.append(text[pos:line])
            newline = text.find("\n", line)
            if newline < 0:
                break
            pos = newline  # `//` runs to the end of its line only
            continue
        if block < 0:
            parts.append(text[pos:])
            break
        parts.append(text[pos:block])
        close = text.find("*/", block + 2)
        if close < 0:
            parts.append(_LINE_COMMENT_TEXT.sub("", text[block:]))  # unterminated: kept, `//` still ends a line
            break
        parts.append(" ")
        pos = close + 2
    return "".join(parts)


def _directive_end(src: bytes, pos: int) -> tuple[int, int]:
    """Offset of the newline ending a directive that continues at ``pos``, and the offset of a block
    comment in it that never closes (-1 if none)."""
    size = len(src)
    while True:
        match = _DIR_EVENT.search(src, pos)
        if match is None:
            return size, -1
        token = match.group()
        if token == b"\n":
            return match.start(), -1
        if token == b"/*":
            close = src.find(b"*/", match.end())
            if close < 0:
                return size, match.start()
            pos = close + 2
        elif token == b"//":
            comment = _LINE_COMMENT.match(src, match.start())
            return (comment.end() if comment else size), -1
        elif token == b'"':
            pos = _literal_end(_STRING, src, match.start())
        elif token == b"'":
            pos = _literal_end(_CHAR, src, match.start())
        else:  # a backslash-newline continues the directive
            pos = match.end()


def _parse_directive(src: bytes, start: int, end: int, line: int) -> Directive:
    head = _DIR_HEAD.match(src, start, end)
    assert head is not None
    hash_at = src.index(b"#", start, end)
    kind = head.group(1).decode("ascii", "replace") if head.group(1) else ""
    if kind != "define":
        return Directive(kind, _clean(src[head.end() : end]), line, hash_at, end)
    # Continuations may sit anywhere; resolve the name/params on a cleaned view, then find the
    # body offset in the raw bytes by skipping the same tokens.
    match = _DEFINE.match(src, head.end(), end)
    if match is None:
        return Directive(kind, _clean(src[head.end() : end]), line, hash_at, end)
    name = match.group(1).decode("ascii", "replace")
    params = None
    if match.group(2) is not None:
        inner = _clean(match.group(2)[1:-1])
        params = tuple(p.strip() for p in inner.split(",") if p.strip())
    body = match.end()
    while body < end and src[body] in b" \t\\\r\n":
        body += 1
    return Directive(kind, _clean(src[head.end() : end]), line, hash_at, end, name, params, body)


def scan(src: bytes) -> RawScan:
    """One pass over the bytes: directive records, the code mask and the line index."""
    mask = bytearray(src)
    directives: list[Directive] = []
    line_starts = [0]
    line_starts.extend(m.end() for m in re.finditer(rb"\n", src))
    size = len(src)
    pos = 0
    open_comment = -1

    def blank(a: int, b: int) -> None:
        mask[a:b] = src[a:b].translate(BLANK_KEEPING_NEWLINES)

    while pos < size:
        match = _NEXT.search(src, pos)
        if match is None:
            break
        token = match.group()
        start = match.start()
        if token == b"/*":
            close = src.find(b"*/", match.end())
            end = size if close < 0 else close + 2
            open_comment = start if close < 0 else open_comment
        elif token == b"//":
            found = _LINE_COMMENT.match(src, start)
            assert found is not None  # these patterns match wherever their opening token is
            end = found.end()
        elif token == b'"':
            if _is_raw_string(src, start):
                end = _raw_string_end(src, start)
            else:
                found = _STRING.match(src, start)
                assert found is not None
                end = found.end()
        elif token == b"'":
            if start > 0 and src[start - 1 : start].isdigit():
                pos = start + 1  # a C++14 digit separator, not a character literal
                continue
            found = _CHAR.match(src, start)
            assert found is not None
            end = found.end()
        else:
            end, unclosed = _directive_end(src, match.end())
            open_comment = unclosed if unclosed >= 0 else open_comment
            line = bisect_right(line_starts, start)
            directives.append(_parse_directive(src, start, end, line))
        if token in (b'"', b"'") and end - start >= 2:
            # Literals keep their quotes in the mask so "is a literal next?" stays answerable.
            blank(start + 1, end - 1)
        else:
            blank(start, end)
        pos = max(end, start + 1)
    return RawScan(src, bytes(mask), directives, line_starts, open_comment)


def _literal_end(pattern: re.Pattern[bytes], src: bytes, start: int) -> int:
    """End of the string or character literal (``_STRING``, ``_CHAR``) whose quote is at ``start``: the
    pattern matches wherever a quote is (an unclosed literal ends at the end of its line)."""
    found = pattern.match(src, start)
    assert found is not None
    return found.end()


def _is_raw_string(src: bytes, quote: int) -> bool:
    """Whether the quote at ``quote`` opens a C++ raw string (``R"``, ``u8R"``, ``LR"``...)."""
    i = quote - 1
    if i < 0 or src[i] != ord("R"):
        return False
    for prefix in (b"u8", b"u", b"U", b"L"):
        if src[i - len(prefix) : i] == prefix:
            i -= len(prefix)
            break
    return i == 0 or not (chr(src[i - 1]).isalnum() or src[i - 1] == ord("_"))


def _raw_string_end(src: bytes, quote: int) -> int:
    """End of a C++ raw string R"delim( ... )delim" starting at its quote."""
    paren = src.find(b"(", quote + 1, quote + 20)
    if paren < 0:
        return _literal_end(_STRING, src, quote)
    closing = b")" + src[quote + 1 : paren] + b'"'
    found = src.find(closing, paren + 1)
    return len(src) if found < 0 else found + len(closing)
