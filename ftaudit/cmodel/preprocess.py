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

import itertools
import re
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ftaudit.cmodel.conditions import Tri
from ftaudit.cmodel.directives import BLANK_KEEPING_NEWLINES, Directive, RawScan
from ftaudit.cmodel.guards import Guard, GuardIndex
from ftaudit.cmodel.includes import HeaderReader, find_header, quoted_include
from ftaudit.target import LATEST_KNOWN, Target

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

    @property
    def is_function_like(self) -> bool:
        return self.params is not None


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
    punctuation = _Punctuation(mask)
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
        header = _header_at(mask, match.start(), match.end(), macros[token.decode()], macros, punctuation)
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


def _header_at(mask: bytes, start: int, end: int, macro: Macro, macros: Mapping[str, Macro],
               punctuation: _Punctuation) -> MacroHeader | None:
    if macro.params is not None:
        open_at = _skip_space(mask, end)
        if open_at >= len(mask) or mask[open_at:open_at + 1] != b"(":
            return None
        close = punctuation.close_paren(open_at)
        if close < 0:
            return None
        end = close + 1
    # A definition: its body's `{` comes before any `;` (a prototype ends with one).
    brace, semicolon = punctuation.next(b"{", end), punctuation.next(b";", end)
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


class _Punctuation:
    """Where the parentheses of the code close and where the next `{` or `;` is, from one pass over
    the mask: per macro use, a scan up to the matching `)` and a search for the next `{` and `;`
    cost up to the rest of the file (40,000 unclosed `INIT_MODULE(` took over a minute)."""

    def __init__(self, mask: bytes) -> None:
        self.closers: dict[int, int] = {}  # '(' -> its ')' when no `{` or `;` comes between
        self.positions: dict[bytes, list[int]] = {b"{": [], b";": []}
        open_: list[int] = []
        for match in re.finditer(rb"[(){;]", mask):
            char, at = match.group(), match.start()
            if char == b"(":
                open_.append(at)
            elif char == b")":
                if open_:
                    self.closers[open_.pop()] = at
            else:
                self.positions[char].append(at)
                open_.clear()  # a `{` or `;` ends every argument list still open

    def close_paren(self, open_at: int) -> int:
        """The `)` matching the `(` at ``open_at`` within ``MAX_OUTPUT`` bytes, else -1."""
        close = self.closers.get(open_at, -1)
        return close if 0 <= close - open_at < MAX_OUTPUT else -1

    def next(self, char: bytes, position: int) -> int:
        """Offset of the first ``char`` (`{` or `;`) at or after ``position``, else -1."""
        found = self.positions[char]
        index = bisect_left(found, position)
        return found[index] if index < len(found) else -1


def header_rewrite(mask: bytes, header: MacroHeader) -> tuple[bytes, int] | None:
    """The same-length text that spells ``header`` plainly for the parser, and the offset of the name
    in it when that name had to be shortened (the model reads it under ``header.name``); None when
    nothing fits.

    `INIT_MODULE(_psycopg)` becomes `PyInit__psycopg` padded with spaces (its `(void)` follows in the
    source); `MOD_INIT(crc32c)`, whose expansion carries the return type and parameters, becomes
    `T PyInit_crc3()`: a header the parser reads as a function, named PyInit_crc32c by the model.
    Newlines inside the invocation are kept, so every later line keeps its number."""
    original = mask[header.start:header.end]
    width = header.end - header.start - original.count(b"\n")
    after = _skip_space(mask, header.end)
    newlines = b"\n" * original.count(b"\n")

    def fill(text: str) -> bytes:
        return text.encode() + b" " * (width - len(text)) + newlines

    if mask[after:after + 1] == b"(":  # the parameters follow in the source: only the name is needed
        if len(header.name) <= width:
            return fill(header.name), -1
        return (fill(header.name[:width]), header.start) if width >= 1 else None
    text = f"T {header.name}()"
    if len(text) <= width:
        return fill(text), -1
    room = width - len("T ()")
    return (fill(f"T {header.name[:room]}()"), header.start + 2) if room >= 1 else None


# -- what the parser is given -------------------------------------------------------------------------
# Conditions on the Python version are the ones worth deciding for every supported build; `#if 0`
# and project macros stay as they are (the model keeps their code, and answers NO or MAYBE for it).
_VERSION_CONDITION = re.compile(r"\bPY_(?:MAJOR|MINOR)_VERSION\b|\bPY_VERSION_HEX\b")
_RELEVANT_BODY = re.compile(r"##|PyInit|\binit\w")
MAX_HEADER_DEPTH = 2
FUTURE_MINOR = 99  # stands for every CPython after the newest known one: `#if PY_VERSION_HEX >= 0x030F0000` lives


def supported_targets(target: Target) -> list[Target]:
    """Every build the project may be compiled for: each version from its oldest supported one (any
    Python 3 when `requires-python` is unknown) to the newest CPython known (or the target, if newer)
    and a stand-in for every later one, with and without the GIL from 3.13 on. Only code none of them
    compiles is dead: the parse does not depend on how far up the target reaches, so the model
    answers for any target."""
    oldest = target.minimum or (3, 0)
    newest = max(target.version, LATEST_KNOWN)
    out = []
    minors = [*range(oldest[1] if oldest[0] == 3 else 0, newest[1] + 1), FUTURE_MINOR]
    for minor in minors:
        version = (3, minor)
        out.append(replace(target, version=version, free_threaded=False))
        if version >= (3, 13):
            out.append(replace(target, version=version, free_threaded=True))
    return out or [target]


def dead_code(directives: Sequence[Directive], guards: GuardIndex, target: Target) -> list[tuple[int, int]]:
    """Byte ranges no supported build compiles (`#else` of `#if PY_MAJOR_VERSION >= 3`, a branch for
    Pythons older than `requires-python`), and the directive lines of chains fully decided that way,
    so a function header split by `#if PY_MAJOR_VERSION >= 3 … #else … #endif {` reads as one."""
    targets = supported_targets(target)
    ranges: list[tuple[int, int]] = []
    for chain in _chains(directives):
        guarded = [d for d in chain if d.kind not in ("else", "endif")]
        if not guarded or not all(d.kind in ("if", "elif") and _VERSION_CONDITION.search(d.text) for d in guarded):
            continue
        branch_guards = [guard for branch in chain[:-1] if (guard := guards.opened.get(branch.start)) is not None]
        if len(branch_guards) < len(chain) - 1:
            continue  # a branch that opens no guard (unbalanced)
        answers_of = _branch_answers(branch_guards, targets)
        verdicts = [(branch, following, answers)
                    for (branch, following), answers in zip(itertools.pairwise(chain), answers_of, strict=True)]
        for branch, following, answers in verdicts:
            if answers == {Tri.NO}:
                ranges.append((branch.end, following.start))
        live = [answers for _, _, answers in verdicts if answers != {Tri.NO}]
        if chain[-1].kind == "endif" and len(live) == 1 and live[0] == {Tri.YES}:
            ranges.extend((d.start, d.end) for d in chain)  # decided everywhere: the directives go too
    return ranges


def _branch_answers(chain: list[Guard], targets: list[Target]) -> list[set[Tri]]:
    """For each branch of one chain, whether each target takes it (``Guard.evaluate`` for every
    branch and target), with the earlier branches' conditions carried down the chain: evaluating
    each branch from scratch re-reads all those before it, quadratic in a long `#elif` chain."""
    answers: list[set[Tri]] = [set() for _ in chain]
    for target in targets:
        prior = Tri.YES  # every branch so far is false
        for index, guard in enumerate(chain):
            if prior is Tri.NO:
                answers[index].add(Tri.NO)
                continue
            own = guard.own(target, {})
            answers[index].add(prior if guard.kind == "else" else prior & own)
            prior = prior & ~own
    return answers


def _chains(directives: Sequence[Directive]) -> Iterator[list[Directive]]:
    stack: list[list[Directive]] = []
    for directive in directives:
        if directive.kind in ("if", "ifdef", "ifndef"):
            stack.append([directive])
        elif directive.kind in ("elif", "elifdef", "elifndef", "else") and stack:
            stack[-1].append(directive)
        elif directive.kind == "endif" and stack:
            chain = stack.pop()
            chain.append(directive)
            yield chain


def project_macros(directives: Sequence[Directive], path: str, read_header: HeaderReader | None,
                   target: Target, depth: int = 0, guards: GuardIndex | None = None,
                   relevant: re.Pattern[str] = _RELEVANT_BODY) -> dict[str, Macro]:
    """The macros whose definition ``relevant`` matches (by default those that can spell a function
    header: bodies that paste tokens or name an init function), from the file and, through quoted
    includes, from the project's own headers. A definition in code no supported build compiles
    (crc32c's Python-2 `#define MOD_INIT(name) … init##name(void)`) is not one."""
    table: dict[str, Macro] = {}
    folder = Path(path).parent
    dead = sorted(dead_code(directives, guards or GuardIndex(list(directives)), target))
    starts = [start for start, _ in dead]
    for directive in directives:
        index = bisect_right(starts, directive.start) - 1
        if index >= 0 and dead[index][0] <= directive.start < dead[index][1]:
            continue
        if directive.kind == "include" and read_header is not None and depth < MAX_HEADER_DEPTH:
            name = quoted_include(directive)
            found = find_header(folder, name, read_header) if name else None
            if found is not None:
                where, (included, guards_of) = found
                table.update(project_macros(included, str(where), read_header, target, depth + 1, guards_of,
                                            relevant))
        elif directive.kind == "define" and relevant.search(directive.text):
            macro = parse_define(directive.text)
            if macro is not None:
                table[macro.name] = macro
    return table


def _else_chain_blanks(raw: RawScan, dead: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """`} #if IS_INTEL else if (intel()) {…} #elif IS_ARM else if (arm()) {…} #endif else {…}`: every
    branch continues an if-else chain, which tree-sitter cannot parse across the directives (crc32c's
    module init became a function named `if`). The parse keeps the first branch as plain code; the
    directives and the other branches are blanked (same offsets). Branches no supported build compiles
    were blanked before and are skipped: the kept branch is the first one still compiled. The others
    are not analysed (a platform's alternative, usually the same code for another CPU)."""
    found: list[tuple[int, int]] = []
    mask = raw.mask
    dead_starts = sorted(dead)
    for chain in _chains(raw.directives):
        if len(chain) < 3 or any(d.kind not in ("if", "ifdef", "ifndef", "elif", "else", "endif") for d in chain):
            continue
        spans = [(chain[i].end, chain[i + 1].start) for i in range(len(chain) - 1)]
        live = [i for i, span in enumerate(spans) if not _inside(span, dead_starts)]
        bodies = [mask[start:end].lstrip() for start, end in (spans[i] for i in live)]
        if not live or not all(body.startswith(b"else") and body[4:5] in (b" ", b"\t", b"\n", b"{", b"\r")
                               for body in bodies):
            continue
        keep = live[0]
        found.extend((d.start, d.end) for d in chain)  # every directive line of the chain
        found.extend(spans[i] for i in range(len(spans)) if i != keep)
    return found


def _inside(span: tuple[int, int], dead: Sequence[tuple[int, int]]) -> bool:
    index = bisect_right(dead, (span[0], float("inf"))) - 1
    return index >= 0 and dead[index][0] <= span[0] and span[1] <= dead[index][1]


_BEFORE_MODINIT = re.compile(rb"\b([A-Z_][A-Z0-9_]*)[ \t]+(?=PyMODINIT_FUNC\b)")


def parse_text(raw: RawScan, guards: GuardIndex, target: Target, path: str,
               read_header: HeaderReader | None) -> tuple[RawScan, dict[int, str]]:
    """The raw scan the parser should see: dead code blanked and macro-spelled init headers written
    plainly, every byte at its original offset and every newline kept; and the real names of
    function names that had to be shortened to fit (by offset). The original stays the model's
    text; this one only shapes the parse."""
    blanks = dead_code(raw.directives, guards, target)
    macros = project_macros(raw.directives, path, read_header, target, guards=guards)
    headers = init_headers(raw.mask, macros) if macros else []
    # `PYTHON_ZSTD_VISIBILITY PyMODINIT_FUNC PyInit_backend_c(void)`: a visibility or export macro
    # before PyMODINIT_FUNC makes tree-sitter read two types and name the function `void`.
    blanks = blanks + [m.span(1) for m in _BEFORE_MODINIT.finditer(raw.mask)] + _else_chain_blanks(raw, blanks)
    aliases: dict[int, str] = {}
    if not blanks and not headers:
        return raw, aliases
    source, mask = bytearray(raw.source), bytearray(raw.mask)
    for start, end in blanks:
        source[start:end] = mask[start:end] = bytes(raw.source[start:end]).translate(BLANK_KEEPING_NEWLINES)
    for found in headers:
        rewrite = header_rewrite(raw.mask, found)
        if rewrite is not None:
            text, shortened = rewrite
            source[found.start:found.end] = mask[found.start:found.end] = text
            if shortened >= 0:
                aliases[shortened] = found.name
    return RawScan(bytes(source), bytes(mask), raw.directives, raw.line_starts, raw.open_comment), aliases



# -- code that is not compiled by default -------------------------------------------------------------
# A macro named like a debugging, tracing, testing or fault-injection switch (`DEBUG_MEM`, `TRACE_LOG`,
# `APSW_FAULT_INJECT`) that the project never defines is off: its code is not built by default. The
# names CPython's and compilers' own builds pass (NDEBUG, Py_DEBUG, _DEBUG, ...) stay unknown.
DEBUG_NAME = re.compile(r"(?:^|_)(?:DEBUG|DBG|TRACE|TRACING|TEST|TESTS|TESTING|FAULT|FAULTS|INJECT)(?:_|$|[A-Z])",
                        re.IGNORECASE)
NOT_OFF = frozenset({"NDEBUG", "Py_DEBUG", "Py_REF_DEBUG", "Py_TRACE_REFS", "_DEBUG", "DEBUG", "Py_STATS",
                     "PYTHON_TEST", "Py_BUILD_CORE"})
_CONDITION_NAME = re.compile(r"[A-Za-z_]\w*")


def debug_switches(directives: Sequence[Directive]) -> set[str]:
    """Debug/trace/test/fault-injection macro names the file's `#if`s test."""
    names = set()
    for directive in directives:
        if directive.kind in ("if", "elif", "ifdef", "ifndef", "elifdef", "elifndef"):
            for name in _CONDITION_NAME.findall(directive.text):
                if name not in NOT_OFF and name != "defined" and DEBUG_NAME.search(name):
                    names.add(name)
    return names


def mentioned_switches(text: str) -> set[str]:
    """Debug-style names a build file mentions at all (`define_macros`, `-DTRACE_LOG`, CMake options):
    any mention means the project may define it, so it is not off."""
    return {name for name in _CONDITION_NAME.findall(text) if DEBUG_NAME.search(name)}
