"""The object-like `#define`s a file gets from the project's own headers (`#include "util.h"`).

coverage.py's tracer guards its debug code with `#if TRACE_LOG`, and `util.h` says `#undef TRACE_LOG`;
without the header every such guard is MAYBE. Only directives are read (no parse), only quoted
includes that resolve beside the including file, a few levels deep, and only definitions a header
makes unconditionally (inside its include guard at most); a definition under any other condition
makes the name unknown rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ftaudit.cmodel.directives import Directive, scan

MAX_DEPTH = 3
_CONDITIONALS = ("if", "ifdef", "ifndef")

HeaderReader = Callable[[Path], bytes | None]


@dataclass
class HeaderFacts:
    """Name -> definition body text, or None for #undef; and names made unknown by conditions."""

    defined: dict[str, str | None] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)


def _quoted(directive: Directive) -> str | None:
    text = directive.text.strip()
    return text[1:text.index('"', 1)] if text.startswith('"') and text.count('"') >= 2 else None


def header_facts(directives: list[Directive], folder: Path, read: HeaderReader, depth: int = 0,
                 seen: set[Path] | None = None) -> HeaderFacts:
    """Facts from the headers that ``directives`` include (not from the directives themselves)."""
    facts = HeaderFacts()
    seen = seen if seen is not None else set()
    for directive in directives:
        if directive.kind != "include" or depth >= MAX_DEPTH:
            continue
        name = _quoted(directive)
        if name is None:
            continue
        path = (folder / name).resolve()
        if path in seen:
            continue
        seen.add(path)
        data = read(path)
        if data is None:
            continue
        inner = scan(data).directives
        nested = header_facts(inner, path.parent, read, depth + 1, seen)
        facts.defined.update(nested.defined)
        facts.unknown |= nested.unknown
        _own_facts(inner, facts)
    return facts


def _own_facts(directives: list[Directive], facts: HeaderFacts) -> None:
    depth = 0
    guard: str | None = None
    for index, directive in enumerate(directives):
        kind = directive.kind
        if kind in _CONDITIONALS:
            # `#ifndef X_H` directly followed by `#define X_H` is the include guard: not a condition.
            following = directives[index + 1] if index + 1 < len(directives) else None
            if (depth == 0 and kind == "ifndef" and following is not None and following.kind == "define"
                    and following.name == directive.text.strip()):
                guard = following.name
            depth += 1
        elif kind == "endif":
            depth = max(0, depth - 1)
        elif kind in ("define", "undef"):
            name = directive.name if kind == "define" else (directive.text.split() or [""])[0]
            if not name or name == guard or (kind == "define" and directive.params is not None):
                continue
            unconditional = depth == 0 or (depth == 1 and guard is not None)
            if not unconditional:
                facts.unknown.add(name)
                facts.defined.pop(name, None)
            elif name not in facts.unknown:
                facts.defined[name] = None if kind == "undef" else directive.text[len(name):].strip()
