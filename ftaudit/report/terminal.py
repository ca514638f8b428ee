"""Human formats: ``full`` (ruff-style code frames with carets and a help line) and ``concise``."""

from __future__ import annotations

import re
from collections import Counter
from typing import TextIO

from ftaudit.findings import INCOMPLETE, Applicability, Finding, Severity
from ftaudit.fixes import applies
from ftaudit.report.colour import SEVERITY_COLOURS, Painter
from ftaudit.result import NO_RUN_INFO, RunInfo, ScanResult

TAB = 4


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _incomplete(result: ScanResult) -> str:
    """Files whose findings may be missing (budget ran out, nesting too deep, a rule failed)."""
    files = {d.path for d in result.diagnostics if d.path and d.kind in INCOMPLETE}
    return f"; {_plural(len(files), 'file')} not analysed in full (see the diagnostics above)" if files else ""


def _hidden(result: ScanResult) -> str:
    if not result.hidden_by_switches:
        return ""
    return (f"\nNot shown: {_plural(result.hidden_by_switches, 'finding')} in code that only debug or test switches "
            "no part of the project defines would build (`debug-switches = \"unknown\"` shows them).")


def summary_line(result: ScanResult) -> str:
    findings = result.findings
    if not findings:
        return (f"All checks passed! ({_plural(len(result.files), 'file')} scanned{_incomplete(result)})"
                + _hidden(result))
    counts = Counter(f.severity for f in findings)
    files = len({f.path for f in findings})
    line = (
        f"Found {_plural(len(findings), 'finding')} ({_plural(counts[Severity.ERROR], 'error')}, "
        f"{_plural(counts[Severity.WARNING], 'warning')}, {_plural(counts[Severity.NOTE], 'note')}) "
        f"in {_plural(files, 'file')}{_incomplete(result)}."
    ) + _hidden(result)
    safe = sum(1 for f in findings if f.fix and f.fix.applicability is Applicability.SAFE)
    unsafe = sum(1 for f in findings if f.fix and f.fix.applicability is Applicability.UNSAFE)
    if safe:
        line += f"\n[*] {safe} fixable with the `--fix` option."
    if unsafe:
        line += (f"\n({unsafe} more fix{'es' if unsafe != 1 else ''} available with `--fix --unsafe-fixes`; "
                 "review them: they can change behaviour.)")
    return line


def statistics(result: ScanResult, paint: Painter, *, unsafe: bool = False) -> list[str]:
    """Findings per rule, as ruff prints them: `[*]` when `--fix` (with `--unsafe-fixes` when given) would
    apply an edit to at least one of them: what is offered, not what the rule can do in general."""
    counts = Counter((f.code, f.name, f.severity) for f in result.findings)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0][0]))
    width = max((len(str(n)) for n in counts.values()), default=1)
    fixable = {f.code for f in result.findings if applies(f, unsafe=unsafe)}
    return [
        f"{n:>{width}}\t{paint(code, fg=SEVERITY_COLOURS[sev], bold=True)}\t"
        f"{'[*]' if code in fixable else '[ ]'} {name} ({sev.label})"
        for (code, name, sev), n in rows
    ]


# Scanned text must not drive the terminal: an ESC from a source line, a message or a file name could set
# the window title or clear the screen and hide findings. C0 controls and DEL become their Unicode control
# pictures (ESC is ␛, one column wide as it was one character); C1 controls, bidi overrides and invisible
# characters (Trojan Source) become <U+XXXX>, as in the HTML report. Tabs are kept: frames expand them.
# A file name that is not UTF-8 reaches us with surrogate escapes, which no terminal encoding can write.
_PICTURES = {code: chr(0x2400 + code) for code in range(0x20) if code != 0x09}
_PICTURES[0x7F] = "\u2421"
_INVISIBLE = re.compile("[\x80-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
                        "\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's escape for an undecodable byte: show the byte
        return f"<0x{code - 0xDC00:02X}>"
    return f"<U+{code:04X}>"


def visible(text: str) -> str:
    """``text`` with every control or invisible character shown as something printable."""
    if text.isprintable():
        return text  # the common case: nothing to replace
    return _INVISIBLE.sub(_escape, text.translate(_PICTURES))


def _expand(text: str) -> str:
    """A source line as the frame prints it: controls made visible, then tabs expanded."""
    return visible(text).expandtabs(TAB)


def _display_col(text: str, column: int) -> int:
    """Display column (0-based) of a 1-based character column, in the line as ``_expand`` prints it."""
    return len(_expand(text[: column - 1]))


def _span_text(lines: dict[int, str], start_line: int, start_col: int, end_line: int, end_col: int) -> str:
    """The text an edit replaces, from the lines kept around the finding ("" when not kept)."""
    if any(n not in lines for n in range(start_line, end_line + 1)):
        return ""
    if start_line == end_line:
        return lines[start_line][start_col - 1 : end_col - 1]
    middle = [lines[n] for n in range(start_line + 1, end_line)]
    return "\n".join([lines[start_line][start_col - 1 :], *middle, lines[end_line][: end_col - 1]])


class ConciseReporter:
    machine = False

    def render(self, result: ScanResult, out: TextIO, *, color: bool, run: RunInfo = NO_RUN_INFO) -> None:
        paint = Painter(color)
        for f in result.findings:
            fix = " [*]" if applies(f, unsafe=run.unsafe_fixes) else ""
            out.write(f"{paint(visible(f.path), bold=True)}:{f.start.line}:{f.start.column}: "
                      f"{paint(f.code, fg=SEVERITY_COLOURS[f.severity], bold=True)}{fix} {visible(f.message)}\n")


class FullReporter:
    machine = False

    def render(self, result: ScanResult, out: TextIO, *, color: bool, run: RunInfo = NO_RUN_INFO) -> None:
        paint = Painter(color)
        for finding in result.findings:
            out.write(self.frame(finding, result.lines.get(finding.path, {}), paint, unsafe=run.unsafe_fixes))
            out.write("\n")

    def frame(self, f: Finding, lines: dict[int, str], paint: Painter, *, unsafe: bool = False) -> str:
        """One finding as a ruff-style code frame; `[*]` when `--fix` (with ``unsafe``: `--unsafe-fixes`)
        would apply its edit."""
        colour = SEVERITY_COLOURS[f.severity]
        fix = " [*]" if applies(f, unsafe=unsafe) else ""
        parts = [f"{paint(f.code, fg=colour, bold=True)}{fix} {paint(visible(f.message), bold=True)}\n",
                 f" {paint('-->', fg='blue', bold=True)} {visible(f.path)}:{f.start.line}:{f.start.column}\n"]
        last_shown = min(f.end.line, f.start.line + 4)
        shown = [n for n in range(f.start.line - 1, last_shown + 2) if n in lines]
        # Trim blank context lines at the edges, as ruff does.
        while shown and shown[0] < f.start.line and not lines[shown[0]].strip():
            shown.pop(0)
        while shown and shown[-1] > last_shown and not lines[shown[-1]].strip():
            shown.pop()
        if shown:
            width = len(str(shown[-1]))
            bar = paint("|", fg="blue", bold=True)
            parts.append(f"{' ' * width} {bar}\n")
            for n in shown:
                text = lines[n]
                parts.append(f"{paint(str(n).rjust(width), fg='blue', bold=True)} {bar} {_expand(text)}\n")
                if f.start.line <= n <= last_shown:
                    start = _display_col(text, f.start.column) if n == f.start.line else len(
                        _expand(text)) - len(_expand(text).lstrip())
                    end = _display_col(text, f.end.column) if n == f.end.line else len(_expand(text))
                    carets = "^" * max(1, end - start)
                    parts.append(f"{' ' * width} {bar} {' ' * start}{paint(carets, fg=colour, bold=True)}\n")
            parts.append(f"{' ' * width} {bar}\n")
        for related in f.related:
            parts.append(f" {paint('note', bold=True)}: {visible(related.message)} "
                         f"({visible(related.path)}:{related.start.line})\n")
        if f.help:
            parts.append(f"{paint('help', fg='cyan', bold=True)}: {visible(f.help)}\n")
        if f.fix:
            parts.append(f"{paint('fix', fg='green', bold=True)} ({f.fix.applicability.value}): "
                         f"{visible(f.fix.message)}\n")
            for edit in f.fix.edits:
                if edit.start == edit.end:
                    where = f"insert at {edit.start.line}:{edit.start.column}"
                else:
                    where = f"replace {edit.start.line}:{edit.start.column}-{edit.end.line}:{edit.end.column}"
                    removed = _span_text(lines, edit.start.line, edit.start.column, edit.end.line, edit.end.column)
                    for line in removed.splitlines():
                        parts.append(f"   {paint('- ' + visible(line), fg='red')}\n")
                parts.append(f"   {paint(where, dim=True)}\n")
                for added in edit.content.splitlines():
                    parts.append(f"   {paint('+ ' + visible(added), fg='green')}\n")
        return "".join(parts)
