"""Offset-preserving rewrite of CPython macro shapes that derail tree-sitter, before parsing.

Every replacement has exactly the length of what it replaces (newlines kept), so each node's byte
offset in the tree is its offset in the original file. Comments, literals and directive lines are
never touched: tokens are found on the code mask from ``directives.scan``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from typing import NamedTuple

from ftaudit.cmodel.directives import BLANK_KEEPING_NEWLINES, RawScan
from ftaudit.cmodel.guards import GuardIndex, GuardStack

# replace(start, end, text, name, action): write ``text`` over [start, end), padded with spaces.
_Replace = Callable[[int, int, bytes, str, str], None]

# Bytes of the code mask the sweep looks at (``_next_code_char``/``_prev_code_char`` give ``_NO_CHAR``
# past either end of the text).
_OPEN_PAREN, _CLOSE_PAREN = ord("("), ord(")")
_OPEN_BRACE = ord("{")
_COMMA, _SEMICOLON, _EQUALS = ord(","), ord(";"), ord("=")
_NO_CHAR = -1
_WHITESPACE = b" \t\r\n\\"  # skipped between tokens (a backslash continues a line)
# What may follow `PyObject_HEAD_INIT(…)` when the source already has the comma the expansion needs.
_AFTER_COMPLETE_HEAD_INIT = frozenset(b",}")
# What may follow a bare `X(…)` on its own line when it is not a whole declaration or statement.
_AFTER_EXPRESSION = frozenset(b"{;,)=")


@dataclass(frozen=True, slots=True)
class MacroRewrite:
    """One row of the rewrite table: what a macro becomes and why."""

    name: str
    action: str
    why: str


# The table (docs/cmodel.md renders the same rows). Actions:
#   open/close   paired per block and #if branch -> "{" / "}" (region recorded); unpaired -> ";"
#   statement    a statement-like macro used without ";" -> ";" (event recorded)
#   field        struct header macro -> a same-length field declaration
#   storage      thread-local spelling -> "thread_local" (a storage class tree-sitter knows)
#   head-init    PyObject_HEAD_INIT(...)/PyVarObject_HEAD_INIT(...) with no comma -> "{0},"
#   cs-open/cs-close  critical-section macros used without ";" -> "{ objects;" / "}"
#   block-open/block-close  other brace-pair macros (arguments blanked) -> "{" / "}"
#   attribute    function attribute macros -> blanked (with their arguments)
MACRO_TABLE: tuple[MacroRewrite, ...] = (
    MacroRewrite(
        "Py_BEGIN_ALLOW_THREADS",
        "open",
        "expands to '{ save thread state'; without it the next "
        "statement parses as a declaration of type Py_BEGIN_ALLOW_THREADS",
    ),
    MacroRewrite("Py_END_ALLOW_THREADS", "close", "expands to 'restore thread state }'"),
    MacroRewrite("Py_BLOCK_THREADS", "statement", "re-attaches inside an allow-threads region; no ';'"),
    MacroRewrite("Py_UNBLOCK_THREADS", "statement", "detaches again; no ';'"),
    MacroRewrite("PyObject_HEAD", "field", "no ';': swallows the next field"),
    MacroRewrite("PyObject_VAR_HEAD", "field", "no ';': swallows the next field"),
    MacroRewrite("_Thread_local", "storage", "tree-sitter-c reads it as a type name"),
    MacroRewrite("Py_THREAD_LOCAL", "storage", "CPython's portable thread-local spelling"),
    MacroRewrite("PyVarObject_HEAD_INIT", "head-init", "expands with a trailing comma the source omits"),
    MacroRewrite("PyObject_HEAD_INIT", "head-init", "expands with a trailing comma the source omits"),
    MacroRewrite(
        "Py_BEGIN_CRITICAL_SECTION", "cs-open", "without ';' the next statement becomes a declaration"
    ),
    MacroRewrite("Py_BEGIN_CRITICAL_SECTION2", "cs-open", "as above, two objects"),
    MacroRewrite("Py_BEGIN_CRITICAL_SECTION_MUTEX", "cs-open", "as above, a PyMutex (3.14)"),
    MacroRewrite("Py_BEGIN_CRITICAL_SECTION2_MUTEX", "cs-open", "as above, two PyMutexes (3.14)"),
    MacroRewrite("Py_END_CRITICAL_SECTION", "cs-close", "closes the critical-section block"),
    MacroRewrite("Py_END_CRITICAL_SECTION2", "cs-close", "closes the two-object block"),
    MacroRewrite("Py_TRASHCAN_BEGIN", "block-open", "opens a 'do {' the END macro closes; no ';'"),
    MacroRewrite("Py_TRASHCAN_END", "block-close", "closes the trashcan block; no ';'"),
    MacroRewrite("Py_TRASHCAN_SAFE_BEGIN", "block-open", "deprecated spelling of the trashcan block"),
    MacroRewrite("Py_TRASHCAN_SAFE_END", "block-close", "deprecated spelling of the trashcan block"),
    MacroRewrite("Py_ALWAYS_INLINE", "attribute", "attribute before the return type reads as a type"),
    MacroRewrite("Py_NO_INLINE", "attribute", "as above"),
    MacroRewrite("_Py_NO_RETURN", "attribute", "as above"),
    MacroRewrite("Py_NO_RETURN", "attribute", "as above"),
    MacroRewrite("_Py_HOT_FUNCTION", "attribute", "as above"),
    MacroRewrite("Py_EXPORTED_SYMBOL", "attribute", "as above"),
    MacroRewrite("Py_LOCAL_SYMBOL", "attribute", "as above"),
    MacroRewrite("Py_GCC_ATTRIBUTE", "attribute", "attribute macro with arguments"),
    MacroRewrite("Py_DEPRECATED", "attribute", "attribute macro with arguments"),
    MacroRewrite("_Py_COMP_DIAG_PUSH", "attribute", "expands to a pragma; no ';'"),
    MacroRewrite("_Py_COMP_DIAG_POP", "attribute", "expands to a pragma; no ';'"),
    MacroRewrite("_Py_COMP_DIAG_IGNORE_DEPR_DECLS", "attribute", "expands to a pragma; no ';'"),
)
_ACTIONS = {row.name: row.action for row in MACRO_TABLE}
_TOKENS = re.compile(rb"[{}]|\b(" + b"|".join(re.escape(row.name.encode()) for row in MACRO_TABLE) + rb")\b")
_PAIRED_FAMILY = {
    "open": "threads",
    "close": "threads",
    "cs-open": "cs",
    "cs-close": "cs",
    "block-open": "block",
    "block-close": "block",
}
_ATTRIBUTES_WITH_ARGS = frozenset({"Py_GCC_ATTRIBUTE", "Py_DEPRECATED"})

# Critical-section macro -> (kind, end macro that closes it).
CS_BEGIN_KINDS = {
    "Py_BEGIN_CRITICAL_SECTION": "1",
    "Py_BEGIN_CRITICAL_SECTION2": "2",
    "Py_BEGIN_CRITICAL_SECTION_MUTEX": "mutex",
    "Py_BEGIN_CRITICAL_SECTION2_MUTEX": "mutex2",
}
CS_END_KINDS = {"Py_END_CRITICAL_SECTION": "1", "Py_END_CRITICAL_SECTION2": "2"}


@dataclass(frozen=True, slots=True)
class Rewrite:
    """One same-length replacement made before parsing."""

    name: str  # the macro (or "#directive") replaced
    action: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class MacroEvent:
    """A macro occurrence that matters to lock/thread-state analysis, with where it became what.

    ``form`` is "block" (it now opens/closes a ``{ }`` block starting at ``start``), "placeholder"
    (it became an empty statement at ``start``) or "call" (left as a call; the tree has it).
    """

    name: str
    action: str  # "open", "close", "statement", "cs-open", "cs-close"
    start: int
    end: int
    form: str
    partner: int | None = None  # start offset of the paired macro
    args: tuple[str, ...] = ()


@dataclass(slots=True)
class Normalised:
    text: bytes
    rewrites: list[Rewrite] = field(default_factory=list)
    events: dict[int, MacroEvent] = field(default_factory=dict)  # by start offset
    initializer_directives: list[int] = field(default_factory=list)  # '#' offsets blanked


_MAX_PAREN_SCAN = 4096  # bytes searched for the ')' that closes a macro's arguments


def _matching_paren(mask: bytes, open_at: int) -> int:
    """Offset just past the ')' matching the '(' at ``open_at`` (or -1)."""
    depth = 0
    for index in range(open_at, min(len(mask), open_at + _MAX_PAREN_SCAN)):
        char = mask[index]
        if char == _OPEN_PAREN:
            depth += 1
        elif char == _CLOSE_PAREN:
            depth -= 1
            if depth == 0:
                return index + 1
    return -1


def _next_code_char(mask: bytes, pos: int) -> int:
    """The first byte at or after ``pos`` that is not white space, or ``_NO_CHAR``."""
    while pos < len(mask) and mask[pos] in _WHITESPACE:
        pos += 1
    return mask[pos] if pos < len(mask) else _NO_CHAR


def _prev_code_char(mask: bytes, pos: int) -> int:
    """The last byte before ``pos`` that is not white space, or ``_NO_CHAR``."""
    pos -= 1
    while pos >= 0 and mask[pos] in _WHITESPACE:
        pos -= 1
    return mask[pos] if pos >= 0 else _NO_CHAR


def split_args(text: bytes) -> tuple[str, ...]:
    """A macro's argument text split at its top-level commas, each with white space collapsed."""
    args, depth, current = [], 0, bytearray()
    for char in text:
        if char in b"([{":
            depth += 1
        elif char in b")]}":
            depth -= 1
        if char == _COMMA and depth == 0:
            args.append(bytes(current))
            current = bytearray()
        else:
            current.append(char)
    if current.strip() or args:
        args.append(bytes(current))
    return tuple(" ".join(a.decode("utf-8", "replace").split()) for a in args)


class _OpenMacro(NamedTuple):
    """An opening macro (``Py_BEGIN_ALLOW_THREADS``, …) waiting for its closing one in its block."""

    event: MacroEvent
    family: str  # which closing macros can pair with it (``_PAIRED_FAMILY``)
    branch: GuardStack  # the #if branch it is in: a partner must be in the same one


@dataclass(slots=True)
class _Frame:
    """One brace level during the sweep."""

    initializer: bool
    open_macros: list[_OpenMacro] = field(default_factory=list)


def normalise(raw: RawScan, guards: GuardIndex) -> Normalised:
    src, mask = raw.source, raw.mask
    out = bytearray(src)
    result = Normalised(b"")

    def replace(start: int, end: int, text: bytes, name: str, action: str) -> None:
        original = src[start:end]
        # Keep newlines where they were so line numbers in the tree stay right.
        filler = bytearray(original.translate(BLANK_KEEPING_NEWLINES))
        filler[: len(text)] = text
        if b"\n" in original[: len(text)]:
            return  # never merge lines
        out[start:end] = filler
        result.rewrites.append(Rewrite(name, action, start, end))

    # Directives, merged into the sweep over the tokens (both in offset order) so that the brace
    # level of each one is known.
    directive_at = {d.start: d for d in raw.directives}
    directive_offsets = sorted(directive_at)
    upcoming = 0  # index in directive_offsets of the next directive the sweep reaches
    stack: list[_Frame] = [_Frame(False)]
    pending: list[MacroEvent] = []

    skip_until = -1
    # A final None: the directives after the last token are swept too.
    for match in chain(_TOKENS.finditer(mask), (None,)):
        offset = match.start() if match is not None else len(mask)
        while upcoming < len(directive_offsets) and directive_offsets[upcoming] <= offset:
            directive = directive_at[directive_offsets[upcoming]]
            upcoming += 1
            if directive.start >= skip_until and stack[-1].initializer:
                line_start = raw.line_starts[directive.line - 1]
                replace(line_start, directive.end, b"", "#" + directive.kind, "blank")
                result.initializer_directives.append(directive.start)
        if match is None or offset < skip_until:
            continue
        name_bytes = match.group(1)
        if name_bytes is None:  # a brace
            if guards.in_later_branch(offset):
                # Braces in #elif/#else branches are ignored so alternative function headers
                # (`#if A int f(int a) { #else int f(long a) { #endif`) do not drift the depth.
                continue
            if mask[offset] == _OPEN_BRACE:
                before = _prev_code_char(mask, offset)
                initializer = before == _EQUALS or (before in (_COMMA, _OPEN_BRACE) and stack[-1].initializer)
                stack.append(_Frame(initializer))
            elif len(stack) > 1:
                frame = stack.pop()
                pending.extend(_unpaired(frame))
            continue
        name = name_bytes.decode()
        action = _ACTIONS[name]
        end = offset + len(name)
        branch = guards.at(offset)
        if action in _PAIRED_FAMILY:
            args: tuple[str, ...] = ()
            has_args = action.startswith("cs") or (
                action.startswith("block") and _next_code_char(mask, end) == _OPEN_PAREN
            )
            if has_args:
                if _next_code_char(mask, end) != _OPEN_PAREN:
                    continue
                paren = mask.index(b"(", end)
                close = _matching_paren(mask, paren)
                if close < 0:
                    continue
                args = split_args(src[paren + 1 : close - 1])
                end = close
            event = MacroEvent(
                name, action, offset, end, "call" if action.startswith("cs") else "placeholder", args=args
            )
            skip_until = end
            family = _PAIRED_FAMILY[action]
            frame = stack[-1]
            if action in ("open", "cs-open", "block-open"):
                frame.open_macros.append(_OpenMacro(event, family, branch))
                continue
            # Only the latest open macro of the block can pair (same family, same #if branch);
            # looking further back would only find one that may not pair: O(1), not O(open macros).
            partner = None
            if frame.open_macros:
                latest = frame.open_macros[-1]
                if latest.family == family and latest.branch == branch:
                    partner = latest.event
                    frame.open_macros.pop()
            if partner is None:
                pending.append(event)
            else:
                pending.extend(_pair(partner, event, mask))
            continue
        if action == "statement":
            replace(offset, end, b";", name, action)
            result.events[offset] = MacroEvent(name, action, offset, end, "placeholder")
        elif action == "field":
            type_name = b"PyObject" if name == "PyObject_HEAD" else b"PyVarObject"
            room = len(name) - len(type_name) - 2
            follows_semicolon = _next_code_char(mask, end) == _SEMICOLON
            text = type_name + b" " + b"ob_base"[: room + 1 if follows_semicolon else room]
            if not follows_semicolon:
                text += b";"
            replace(offset, end, text, name, action)
        elif action == "storage":
            replace(offset, end, b"thread_local", name, action)
        elif action == "head-init":
            if _next_code_char(mask, end) != _OPEN_PAREN:
                continue
            close = _matching_paren(mask, mask.index(b"(", end))
            if close < 0:
                continue
            skip_until = close
            if _next_code_char(mask, close) in _AFTER_COMPLETE_HEAD_INIT:  # parses fine
                continue
            replace(offset, close, b"{0},", name, action)
        elif action == "attribute":
            if name in _ATTRIBUTES_WITH_ARGS and _next_code_char(mask, end) == _OPEN_PAREN:
                close = _matching_paren(mask, mask.index(b"(", end))
                if close > 0:
                    end = close
                    skip_until = close
            replace(offset, end, b"", name, action)
    for frame in stack:
        pending.extend(_unpaired(frame))

    _blank_extern_c_guards(raw, replace)
    _blank_thread_local_macros(raw, replace)
    _blank_attribute_macros(raw, replace)
    _blank_bare_macro_invocations(raw, replace)
    for event in pending:
        _apply_event(event, mask, replace, result)
    if raw.open_comment >= 0:
        # A comment that never closes is the rest of the file; tree-sitter's lexer retries it at
        # every `/*` inside (quadratic: 8,000 of them took 80 s), so it sees only the opening `/*`.
        replace(raw.open_comment + 2, len(src), b"", "/*", "unterminated-comment")
    _blank_data_tables(mask, out)
    result.text = bytes(out)
    return result


# A brace-enclosed run of number literals over 1 KB is a data table (unicodedata's names, regex's
# property tables: megabytes of `0x1F, 0x20, …`). No rule reads its values, and parsed it costs a node per
# number: regex's 1.8 MB `_regex_unicode.c` took 173 MB and 3.3 s. Its inside is blanked for the parser
# (newlines kept, so lines and offsets stay); the declaration keeps its `{ }`.
DATA_TABLE_BYTES = 1024
_DATA_TABLE = re.compile(rb"\{[\s0-9A-Fa-fxXuUlL,.+\-{}]{%d,}\}" % DATA_TABLE_BYTES)
_NOT_NEWLINE = re.compile(rb"[^\n]")


def _blank_data_tables(mask: bytes, out: bytearray) -> None:
    if len(mask) < DATA_TABLE_BYTES:
        return
    for match in _DATA_TABLE.finditer(mask):
        start, end = match.span()
        body = mask[start + 1:end - 1]
        if body.count(b"{") != body.count(b"}") or not any(48 <= c <= 57 for c in body[:64]):
            continue  # braces that do not pair up inside (a match that starts mid-table), or no digits
        out[start + 1:end - 1] = _NOT_NEWLINE.sub(b" ", body)


def _unpaired(frame: _Frame) -> list[MacroEvent]:
    return [open_macro.event for open_macro in frame.open_macros]


def _pair(opener: MacroEvent, closer: MacroEvent, mask: bytes) -> list[MacroEvent]:
    if opener.action in ("open", "block-open"):
        # Keep the family: a trashcan block is a plain block, not a detached thread state.
        plain = opener.action == "block-open"
        return [
            MacroEvent(opener.name, "block-open" if plain else "open", opener.start, opener.end, "block",
                       closer.start),
            MacroEvent(closer.name, "block-close" if plain else "close", closer.start, closer.end, "block",
                       opener.start),
        ]
    # Critical sections keep their call form when both carry ';' (the tree is fine then).
    if _next_code_char(mask, opener.end) == _SEMICOLON and _next_code_char(mask, closer.end) == _SEMICOLON:
        return [
            MacroEvent(
                opener.name, opener.action, opener.start, opener.end, "call", closer.start, opener.args
            ),
            MacroEvent(
                closer.name, closer.action, closer.start, closer.end, "call", opener.start, closer.args
            ),
        ]
    return [
        MacroEvent(opener.name, opener.action, opener.start, opener.end, "block", closer.start, opener.args),
        MacroEvent(closer.name, closer.action, closer.start, closer.end, "block", opener.start, closer.args),
    ]


def _apply_event(event: MacroEvent, mask: bytes, replace: _Replace, result: Normalised) -> None:
    name, start, end = event.name, event.start, event.end
    if event.form == "block":
        if event.action in ("open", "block-open"):
            replace(start, end, b"{", name, event.action)
        elif event.action in ("close", "block-close"):
            replace(start, end, b"}", name, event.action)
        elif event.action == "cs-open":
            # `Py_BEGIN_CRITICAL_SECTION(o)` -> `{                         o;`: a block that keeps the
            # object expression at its original offset.
            paren = mask.index(b"(", start + len(name))
            replace(start, paren + 1, b"{", name, "cs-open")
            replace(end - 1, end, b";", name, "cs-open")
        else:
            replace(start, end, b"}", name, "cs-close")
        result.events[start] = event
        return
    if event.form == "call":
        result.events[start] = event
        return
    # Unpaired: ALLOW_THREADS macros become an empty statement; critical-section macros stay
    # calls when followed by ';', else become an empty statement too.
    if event.action.startswith("block") and _next_code_char(mask, end) == _SEMICOLON:
        return
    if event.action in ("cs-open", "cs-close") and _next_code_char(mask, end) == _SEMICOLON:
        result.events[start] = MacroEvent(name, event.action, start, end, "call", None, event.args)
        return
    replace(start, end, b";", name, event.action)
    result.events[start] = MacroEvent(name, event.action, start, end, "placeholder", None, event.args)


_CPLUSPLUS_CONDITION = re.compile(r"^(?:defined\s*\(?\s*__cplusplus\s*\)?|__cplusplus)$")
_EXTERN_C_BODY = re.compile(rb'\s*(?:extern\s*"\s*"\s*\{|\})\s*')


def _blank_extern_c_guards(raw: RawScan, replace: _Replace) -> None:
    """``#ifdef __cplusplus`` / ``extern "C" {`` / ``#endif`` (and the closing ``}``): the lone
    brace inside an ``#if`` breaks both grammars, and the linkage tells the rules nothing."""
    directives = raw.directives
    for index, directive in enumerate(directives[:-1]):
        if directive.kind not in ("ifdef", "if") or not _CPLUSPLUS_CONDITION.match(directive.text):
            continue
        following = directives[index + 1]
        if following.kind not in ("endif", "else"):
            continue
        body = raw.mask[directive.end : following.start]
        if _EXTERN_C_BODY.fullmatch(body) and (
            b"{" not in body or b'"C"' in raw.source[directive.end : following.start]
        ):
            replace(directive.end, following.start, b"", 'extern "C"', "blank")


_IDENTIFIER = re.compile(rb"\b[A-Za-z_]\w*")
_LINE_START_CALL = re.compile(rb"(?m)^[ \t]*([A-Za-z_]\w*)[ \t]*\(")
_ATTRIBUTE_OPENERS = re.compile(r"__attribute__\s*\(\(|__declspec\s*\(|\[\[")
_ATTRIBUTE_WORDS = frozenset(
    {
        "static",
        "inline",
        "__inline",
        "__inline__",
        "__forceinline",
        "extern",
        "__attribute__",
        "__declspec",
        "noinline",
        "always_inline",
    }
)
# All-caps words between the start of a declaration and a storage class or basic type: attribute
# macros from another header (`RAISES_NEG static int f(...)`, `extern HIDDEN PyTypeObject t;`).
_CAPS_WORDS = rb"((?:[A-Z][A-Z0-9_]{2,}[ \t]+)+)"
_DECL_START = (
    rb"(?=(?:static|extern|inline|void|int|char|unsigned|signed|long|short|float|double|PyObject"
    rb"|PyTypeObject|Py_ssize_t|size_t|struct)\b)"
)
_CAPS_BEFORE_STORAGE = (
    re.compile(rb"(?m)^[ \t]*" + _CAPS_WORDS + _DECL_START),
    re.compile(rb"\b(?:extern|static)[ \t]+" + _CAPS_WORDS + _DECL_START),
)


# Project-specific thread-local spellings defined in other headers (numpy's NPY_TLS, MY_THREAD_LOCAL):
# an all-caps word ending in TLS/THREAD_LOCAL before a declaration's type.
_THREAD_LOCAL_MACRO = re.compile(rb"\b([A-Z][A-Z0-9_]*(?:_TLS|THREAD_LOCAL|_TLOCAL))\b(?=[ \t]+[A-Za-z_])")


def _blank_thread_local_macros(raw: RawScan, replace: _Replace) -> None:
    """Blank thread-local macros the table does not know; the rewrite (action "thread-local") is
    what tells the declaration reader the variable is thread-local."""
    for match in _THREAD_LOCAL_MACRO.finditer(raw.mask):
        name = match.group(1).decode()
        if name not in _ACTIONS:
            replace(match.start(1), match.end(1), b"", name, "thread-local")


class _NextAt:
    """The next occurrence of ``needle`` at or after a position, for positions that only grow:
    each search starts where the last one ended, so all the lookups together are one scan."""

    def __init__(self, text: str, needle: str) -> None:
        self.text, self.needle, self.found = text, needle, -2

    def __call__(self, position: int) -> int:
        if self.found != -1 and self.found < position:
            self.found = self.text.find(self.needle, position)
        return self.found


def _without_attribute_groups(body: str) -> str:
    """``__attribute__((…))``, ``__declspec(…)`` and ``[[…]]`` replaced by a space (a group that
    does not close is left as it is). A regex with ``.*?`` would rescan the rest of the body from
    every unclosed opener: quadratic on a long ``#define``."""
    double_paren, paren, bracket, newline = (
        _NextAt(body, "))"), _NextAt(body, ")"), _NextAt(body, "]"), _NextAt(body, "\n"))
    parts, kept, pos = [], 0, 0
    while True:
        opener = _ATTRIBUTE_OPENERS.search(body, pos)
        if opener is None:
            break
        start, inner = opener.start(), opener.end()
        word = opener.group()
        if word.startswith("__attribute__"):
            close = double_paren(inner)
            end = close + 2 if close >= 0 and not 0 <= newline(inner) < close else -1
        elif word.startswith("__declspec"):
            close = paren(inner)
            end = close + 1 if close >= 0 else -1
        else:
            close = bracket(inner)
            end = close + 2 if close >= 0 and body.startswith("]]", close) else -1
        if end < 0:
            pos = start + 1
            continue
        parts.append(body[kept:start])
        parts.append(" ")
        kept = pos = end
    parts.append(body[kept:])
    return "".join(parts)


def _blank_attribute_macros(raw: RawScan, replace: _Replace) -> None:
    """Same-file object-like macros that expand to nothing but storage words and attributes, and
    all-caps attribute macros before a storage class: blank them (or keep the storage word)."""
    definitions: dict[str, list[str]] = {}
    for directive in raw.directives:
        if directive.kind == "define" and directive.name and directive.params is None:
            definitions.setdefault(directive.name, []).append(directive.text[len(directive.name) :].strip())
    attribute_like: dict[str, bytes] = {}
    for name, bodies in definitions.items():
        if name in _ACTIONS:
            continue
        words: set[str] = set()
        for body in bodies:
            words |= set(_without_attribute_groups(body).split())
        if not words <= _ATTRIBUTE_WORDS:
            continue
        keep = b"static" if "static" in words and len(name) >= 6 else b""
        attribute_like[name] = keep
    if attribute_like:
        # Every identifier, looked up in a dict: an alternation of thousands of names is tried name
        # by name at every word of the file.
        for match in _IDENTIFIER.finditer(raw.mask):
            name = match.group().decode()
            if name in attribute_like:
                replace(match.start(), match.end(), attribute_like[name], name, "attribute")
    matches = [m for pattern in _CAPS_BEFORE_STORAGE for m in pattern.finditer(raw.mask)]
    for match in matches:
        names = match.group(1).decode().split()
        if any(name in _ACTIONS or name in attribute_like for name in names):
            continue
        replace(match.start(1), match.end(1), b"", " ".join(names), "attribute")


def _blank_bare_macro_invocations(raw: RawScan, replace: _Replace) -> None:
    """A same-file function-like macro invoked on its own line with no ';' (X-macro lists,
    ``DEFINE_GETTER(x)``) expands to declarations or statements we cannot see; left in place it
    swallows the next declaration. Blank the invocation (it is recorded in the rewrites)."""
    names = {d.name for d in raw.directives if d.kind == "define" and d.params is not None and d.name}
    names -= set(_ACTIONS)
    if not names:
        return
    mask = raw.mask
    for match in _LINE_START_CALL.finditer(mask):
        if match.group(1).decode() not in names:
            continue
        close = _matching_paren(mask, match.end() - 1)
        if close < 0:
            continue
        line_end = mask.find(b"\n", close)
        line_end = len(mask) if line_end < 0 else line_end
        if mask[close:line_end].strip():
            continue  # something follows on the line: `X(a);`, `X(a) {`, `X(a) + 1`
        if _next_code_char(mask, close) in _AFTER_EXPRESSION:
            continue
        replace(match.start(1), close, b"", match.group(1).decode(), "blank")
