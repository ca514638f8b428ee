"""`--add-noqa`: write a suppression comment on every line that has findings (ruff's adoption path).

C/C++ lines get `// NOLINT(FT201)` — `/* NOLINT(FT201) */` before a macro's line-continuation
backslash — and Python/Cython lines `# noqa: FT501`. An existing ftaudit suppression on the line
gets the new codes added. A line that cannot take a comment safely (Python ending inside a string or
with a backslash continuation) is left alone and counted.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ftaudit.findings import Finding
from ftaudit.source import Language, language_for

_NOLINT_CODES = re.compile(r"(NOLINT\()([^)]*)(\))")
_NOQA_CODES = re.compile(r"(#\s*noqa\s*:\s*)([A-Z0-9, ]+)", re.IGNORECASE)


@dataclass
class NoqaResult:
    files: int = 0
    added: int = 0  # lines that got a new or extended comment
    skipped: int = 0  # lines that cannot take a comment safely


def _python_unsafe_lines(text: str) -> set[int]:
    """Lines where a `#` would land inside a string, or after a backslash continuation."""
    unsafe: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                unsafe.update(range(token.start[0], token.end[0]))
    except (tokenize.TokenError, SyntaxError):
        return set(range(1, text.count("\n") + 2))
    for number, line in enumerate(text.split("\n"), start=1):
        if line.rstrip().endswith("\\"):
            unsafe.add(number)
    return unsafe


def _with_codes(line: str, codes: list[str], style: str) -> str:
    pattern = _NOLINT_CODES if style == "c" else _NOQA_CODES
    match = pattern.search(line)
    if match:  # extend the suppression that is already there
        present = [c.strip() for c in match.group(2).split(",") if c.strip()]
        merged = present + [c for c in codes if c not in present]
        return line[: match.start(2)] + ", ".join(merged) + line[match.end(2):]
    listed = ", ".join(codes)
    if style == "c":
        stripped = line.rstrip()
        if stripped.endswith("\\"):  # inside a macro: a line comment would swallow the continuation
            return stripped[:-1].rstrip() + f" /* NOLINT({listed}) */ \\"
        return stripped + f"  // NOLINT({listed})"
    return line.rstrip() + f"  # noqa: {listed}"


def add_noqa(findings: Iterable[Finding], cwd: Path | None = None) -> NoqaResult:
    cwd = cwd or Path.cwd()
    by_file: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for finding in findings:
        codes = by_file[finding.path][finding.start.line]
        if finding.code not in codes:
            codes.append(finding.code)
    result = NoqaResult()
    for display, lines in sorted(by_file.items()):
        path = Path(display) if Path(display).is_absolute() else cwd / display
        language = language_for(path)
        if language is None or language in (Language.TOML, Language.MESON, Language.CMAKE, Language.RUST):
            result.skipped += len(lines)
            continue
        style = "c" if language in (Language.C, Language.CPP) else "hash"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            result.skipped += len(lines)
            continue
        unsafe = _python_unsafe_lines(text) if language in (Language.PYTHON,) else set()
        rows = text.split("\n")
        changed = 0
        for number, codes in sorted(lines.items()):
            if number in unsafe or not 1 <= number <= len(rows):
                result.skipped += 1
                continue
            updated = _with_codes(rows[number - 1], sorted(codes), style)
            if updated != rows[number - 1]:
                rows[number - 1] = updated
                changed += 1
        if changed:
            path.write_text("\n".join(rows), encoding="utf-8")
            result.files += 1
            result.added += changed
    return result
