"""`--add-noqa`: write a suppression comment on every line that has findings (ruff's adoption path).

C/C++ lines get `// NOLINT(FT201)` — `/* NOLINT(FT201) */` before a macro's line-continuation
backslash — and Python/Cython lines `# noqa: FT501`. An existing ftaudit suppression on the line
gets the new codes added. A line that cannot take a comment safely (Python ending inside a string or
with a backslash continuation) is left alone and counted.
"""

from __future__ import annotations

import hashlib
import io
import re
import tokenize
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ftaudit.findings import Finding
from ftaudit.safe_write import WriteRefused, replace_file
from ftaudit.source import Language, SourceFile, language_for

_NOLINT_CODES = re.compile(r"(NOLINT\()([^)]*)(\))")
_NOQA_CODES = re.compile(r"(#\s*noqa\s*:\s*)([A-Z0-9, ]+)", re.IGNORECASE)


@dataclass
class NoqaResult:
    files: int = 0
    added: int = 0  # lines that got a new or extended comment
    skipped: int = 0  # lines that cannot take a comment safely
    refused: list[str] = field(default_factory=list)  # files left as they were, and why


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


def add_noqa(findings: Iterable[Finding], cwd: Path | None = None, digests: dict[str, str] | None = None,
             roots: Iterable[Path] | None = None) -> NoqaResult:
    """Write the comments. Like `--fix`: only files unchanged since analysis (``digests``), line
    endings kept byte for byte, every write atomic and inside ``roots`` (`ftaudit.safe_write`)."""
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
        try:
            data = path.read_bytes()
            data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            result.skipped += len(lines)
            continue
        if digests is not None and digests.get(display) != hashlib.sha256(data).hexdigest():
            result.refused.append(f"{display}: changed since it was analysed; no comments added (run again)")
            result.skipped += len(lines)
            continue
        updated, changed, skipped = _commented(data, lines, language)
        result.skipped += skipped
        if not changed:
            continue
        try:
            replace_file(path, updated, roots)
        except WriteRefused as exc:
            result.refused.append(str(exc))
            result.skipped += changed
            continue
        result.files += 1
        result.added += changed
    return result


def _commented(data: bytes, lines: dict[int, list[str]], language: Language) -> tuple[bytes, int, int]:
    """``data`` with the codes added on each line: (new bytes, lines changed, lines left alone).
    Lines are numbered as the analysis numbered them (`SourceFile`), and only each line's content
    is rewritten, so its line ending stays exactly as it was."""
    style = "c" if language in (Language.C, Language.CPP) else "hash"
    source = SourceFile(Path("<noqa>"), "<noqa>", data, language)
    unsafe = _python_unsafe_lines(source.text) if language is Language.PYTHON else set()
    pieces: list[bytes] = []
    position = changed = skipped = 0
    for number, codes in sorted(lines.items()):
        if number in unsafe or not 1 <= number <= source.line_count:
            skipped += 1
            continue
        content = source.line_bytes(number)
        start = source.line_starts[number - 1]
        before = content.decode("utf-8")
        updated = _with_codes(before, sorted(codes), style)
        if updated == before:
            continue
        pieces += [data[position:start], updated.encode("utf-8")]
        position = start + len(content)
        changed += 1
    pieces.append(data[position:])
    return b"".join(pieces), changed, skipped
