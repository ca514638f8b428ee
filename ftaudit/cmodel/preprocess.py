"""The project's own function-like macros, expanded where they spell what the model must see.

Python-2-era and compatibility code names its module init through the preprocessor:
`#define INIT_MODULE(m) PyInit_ ## m` then `INIT_MODULE(_psycopg)(void) { … }` (psycopg2),
`#define MOD_INIT(name) PyMODINIT_FUNC PyInit_##name(void)` then `MOD_INIT(crc32c) { … }`, or
`#define INIT_BROTLI PyInit__brotli`. tree-sitter sees a function called `INIT_MODULE` or `MOD_INIT`.

This module expands such invocations as the C preprocessor does (argument pre-expansion, `#`
stringizing, `##` pasting, rescanning, no macro expanded inside its own expansion), bounded in
steps and size, and finds the function headers they produce. The source model then reads the
header under its real name; nothing is parsed twice and every offset stays the original one.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_STEPS = 2000  # macro replacements in one expansion
MAX_OUTPUT = 4096  # tokens of one expansion: a macro that explodes is not followed

_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|##|#|\S")
_IDENT = re.compile(r"[A-Za-z_]\w*\Z")


@dataclass(frozen=True)
class Macro:
    """A `#define` as the preprocessor stores it: parameters (None: object-like) and body text."""

    name: str
    params: tuple[str, ...] | None
    body: str


class Explosion(Exception):
    """An expansion past the depth or size bound: the invocation is left as written."""


def parse_define(text: str) -> Macro | None:
    """A Macro from a `#define`'s text (everything after the keyword, continuations joined)."""
    match = re.match(r"\s*([A-Za-z_]\w*)(\()?", text)
    if match is None:
        return None
    name = match.group(1)
    if match.group(2) is None:  # object-like: `NAME body` (a space or nothing after the name)
        return Macro(name, None, text[match.end():].strip())
    close = text.find(")", match.end())
    if close < 0:
        return None
    params = tuple(p.strip() for p in text[match.end():close].split(",") if p.strip())
    if any(not (_IDENT.match(p) or p == "...") for p in params):
        return None
    return Macro(name, params, text[close + 1:].strip())


def macros_from(defines: Iterable[tuple[str, str]]) -> dict[str, Macro]:
    """(kind, text) of directives in order -> the macros in force at the end (`#undef` removes)."""
    table: dict[str, Macro] = {}
    for kind, text in defines:
        if kind == "define":
            macro = parse_define(text)
            if macro is not None:
                table[macro.name] = macro
        elif kind == "undef":
            table.pop(text.strip().split(" ")[0] if text.strip() else "", None)
    return table


def expand(text: str, macros: Mapping[str, Macro]) -> str | None:
    """``text`` with every macro expanded, or None when the expansion is out of bounds."""
    try:
        return _join([token for token, _ in _expand([(t, _NONE) for t in _tokens(text)], macros, [0])])
    except Explosion:
        return None


_NONE: frozenset[str] = frozenset()
Token = tuple[str, frozenset[str]]  # the text and its hide set: macros it must not expand again


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _join(tokens: list[str]) -> str:
    out = ""
    for token in tokens:
        if out and (_word(out[-1]) and _word(token[0])):
            out += " "
        out += token
    return out


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _expand(tokens: list[Token], macros: Mapping[str, Macro], steps: list[int]) -> list[Token]:
    """Prosser's algorithm: each token carries the macros it came from, which it may not expand again;
    a replacement is pushed back in front of what follows, so it is rescanned together with it."""
    queue = deque(tokens)
    out: list[Token] = []
    while queue:
        token, hidden = queue.popleft()
        macro = macros.get(token)
        if macro is None or token in hidden:
            out.append((token, hidden))
            continue
        steps[0] += 1
        if steps[0] > MAX_STEPS or len(queue) + len(out) > MAX_OUTPUT:
            raise Explosion
        if macro.params is None:
            queue.extendleft(reversed([(t, hidden | {token}) for t in _tokens(macro.body)]))
            continue
        if not queue or queue[0][0] != "(":
            out.append((token, hidden))  # a function-like macro's name without arguments is just a name
            continue
        args, closing = _arguments(queue)
        body = _substitute(macro, args, macros, steps)
        paint = (hidden & closing) | {token}
        queue.extendleft(reversed([(t, h | paint) for t, h in body]))
    return out


def _arguments(queue: deque[Token]) -> tuple[list[list[Token]], frozenset[str]]:
    """Consume `( a , b )` from the front of ``queue``: the arguments and the `)`'s hide set."""
    queue.popleft()  # "("
    args: list[list[Token]] = [[]]
    depth = 0
    while queue:
        token, hidden = queue.popleft()
        if token == "(":
            depth += 1
        elif token == ")":
            if depth == 0:
                return ([] if args == [[]] else args), hidden
            depth -= 1
        elif token == "," and depth == 0:
            args.append([])
            continue
        args[-1].append((token, hidden))
    raise Explosion  # unbalanced: not an invocation we can follow


def _substitute(macro: Macro, args: list[list[Token]], macros: Mapping[str, Macro], steps: list[int]) -> list[Token]:
    params = list(macro.params or ())
    if params and params[-1] == "...":
        params[-1] = "__VA_ARGS__"
        named = len(params) - 1
        if len(args) > named:
            rest: list[Token] = []
            for n, arg in enumerate(args[named:]):
                rest.extend(([(",", _NONE)] if n else []) + arg)
            args = [*args[:named], rest]
    bound = {p: (args[i] if i < len(args) else []) for i, p in enumerate(params)}
    body = _tokens(macro.body)
    out: list[Token] = []
    index = 0
    while index < len(body):
        token = body[index]
        if token == "#" and index + 1 < len(body) and body[index + 1] in bound:
            written = _join([t for t, _ in bound[body[index + 1]]])
            out.append(('"' + written.replace("\\", "\\\\").replace('"', '\\"') + '"', _NONE))
            index += 2
            continue
        pasting = (index + 1 < len(body) and body[index + 1] == "##") or (out and out[-1][0] == "##")
        if token in bound:
            # Arguments next to `##` are pasted as written; elsewhere they are fully expanded first.
            out.extend(bound[token] if pasting else _expand(bound[token], macros, steps))
        else:
            out.append((token, _NONE))
        index += 1
    return _paste(out)


def _paste(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    index = 0
    while index < len(tokens):
        if tokens[index][0] == "##" and out and index + 1 < len(tokens):
            out[-1] = (out[-1][0] + tokens[index + 1][0], out[-1][1] & tokens[index + 1][1])
            index += 2
            continue
        if tokens[index][0] != "##":
            out.append(tokens[index])
        index += 1
    return out


# -- function headers written through macros -------------------------------------------------------
_HEADER_NAME = re.compile(r"\b(PyInit_\w+|init\w+)\s*\(")


@dataclass(frozen=True)
class MacroHeader:
    """A function header the project writes through a macro: what the model should call it."""

    start: int  # offset of the invocation (the macro's name)
    end: int  # offset just past the invocation (its closing parenthesis, or the name)
    name: str  # the function's real name (`PyInit__psycopg`)
    expansion: str


def init_headers(mask: bytes, macros: Mapping[str, Macro]) -> list[MacroHeader]:
    """File-scope macro uses that spell a module init function's header, followed by its body:
    `INIT_MODULE(_psycopg)(void) {`, `MOD_INIT(crc32c) {`, `PyMODINIT_FUNC init_function(void) {`
    with `#define init_function PyInit_ahocorasick`. ``mask`` is the code with comments, strings and
    directive lines blanked (same offsets as the source)."""
    relevant = {name.encode() for name, macro in macros.items() if _may_name_init(macro, macros)}
    if not relevant:
        return []
    found = []
    depth = 0
    for match in re.finditer(rb"[A-Za-z_]\w*|[{}]", mask):
        token = match.group()
        if token == b"{":
            depth += 1
            continue
        if token == b"}":
            depth = max(0, depth - 1)
            continue
        if depth or token not in relevant:
            continue
        header = _header_at(mask, match.start(), match.end(), macros[token.decode()], macros)
        if header is not None:
            found.append(header)
    return found


def _may_name_init(macro: Macro, macros: Mapping[str, Macro]) -> bool:
    """Cheap filter before any expansion: the body pastes tokens or mentions an init name (directly
    or through another macro it uses)."""
    if "##" in macro.body or "PyInit" in macro.body or re.search(r"\binit\w", macro.body):
        return True
    return any(word in macros and word != macro.name and ("PyInit" in macros[word].body or "##" in macros[word].body)
               for word in re.findall(r"[A-Za-z_]\w*", macro.body))


def _header_at(mask: bytes, start: int, end: int, macro: Macro, macros: Mapping[str, Macro]) -> MacroHeader | None:
    if macro.params is not None:
        open_at = _skip_space(mask, end)
        if open_at >= len(mask) or mask[open_at:open_at + 1] != b"(":
            return None
        close = _close_paren(mask, open_at)
        if close < 0:
            return None
        end = close + 1
    # A definition: its body's `{` comes before any `;` (a prototype ends with one).
    brace, semicolon = mask.find(b"{", end), mask.find(b";", end)
    if brace < 0 or (0 <= semicolon < brace):
        return None
    expansion = expand(mask[start:end].decode("utf-8", "replace"), macros)
    if expansion is None:
        return None
    found = _HEADER_NAME.search(expansion + "(")
    if found is None or found.group(1) == macro.name:
        return None
    return MacroHeader(start, end, found.group(1), expansion)


def _skip_space(mask: bytes, position: int) -> int:
    while position < len(mask) and mask[position:position + 1] in (b" ", b"\t", b"\n", b"\r"):
        position += 1
    return position


def _close_paren(mask: bytes, open_at: int) -> int:
    depth = 0
    for position in range(open_at, min(len(mask), open_at + MAX_OUTPUT)):
        char = mask[position:position + 1]
        if char == b"(":
            depth += 1
        elif char == b")":
            depth -= 1
            if depth == 0:
                return position
        elif char in (b"{", b";"):
            return -1
    return -1
