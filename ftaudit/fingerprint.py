"""GitHub's ``primaryLocationLineHash``: a per-line content hash that does not move with the line.

GitHub code scanning matches an alert across commits by (path, rule, this hash). When a SARIF file
lacks it, ``github/codeql-action/upload-sarif`` computes it from the checkout (``fingerprints.ts``);
the REST upload does not, so ftaudit computes the same value itself. Baselines reuse it as their key.

The algorithm, restated: decode the file as UTF-8 and walk it as UTF-16 code units; turn CRLF and
lone CR into LF; drop every space and tab (line feeds stay). Append an end-of-file marker (0xFFFF)
and 100 zeros. The hash of a line is the polynomial hash, base 37 with 64-bit wrap-around, of the
100 kept units that start at the line's first kept unit, printed as unsigned hex; ``:k`` is appended,
where k counts how many lines so far (this one included) had the same hash.

``rolling_hashes`` is the streaming form (one step per unit, a window of 100), close to GitHub's
code and used by the tests as the reference; ``line_fingerprints`` computes the same values for a
few lines only, which is what the engine needs for the lines that carry findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

WINDOW = 100
BASE = 37
_MASK = (1 << 64) - 1
_EOF = "\uffff"
_POWERS = tuple(pow(BASE, WINDOW - 1 - i, 1 << 64) for i in range(WINDOW))
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _utf16_units(text: str) -> str:
    """Split characters outside the BMP into surrogate pairs, as JavaScript strings hold them."""
    if text.isascii() or not _ASTRAL.search(text):
        return text

    def pair(match: re.Match[str]) -> str:
        value = ord(match.group()) - 0x10000
        return chr(0xD800 + (value >> 10)) + chr(0xDC00 + (value & 0x3FF))

    return _ASTRAL.sub(pair, text)


def _kept(text: str) -> str:
    # Line breaks first: "\r \n" is two line breaks for GitHub (the space ends the CRLF pair).
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _utf16_units(text.translate({0x20: None, 0x09: None}))


def decode(data: bytes) -> str:
    """The text GitHub hashes: UTF-8 with replacement characters, a BOM kept as U+FEFF."""
    return data.decode("utf-8", errors="replace")


def _window_hash(window: str) -> int:
    return sum(ord(unit) * power for unit, power in zip(window, _POWERS, strict=True)) & _MASK


def line_fingerprints(text: str, lines: Iterable[int]) -> dict[int, str]:
    """``{line: "hex:k"}`` for the requested 1-based lines (lines past the end are left out)."""
    wanted = set(lines)
    if not wanted:
        return {}
    kept = _kept(text)
    stream = kept + _EOF + "\0" * WINDOW
    starts = [0]
    find = kept.find
    position = find("\n")
    while position != -1:
        starts.append(position + 1)
        position = find("\n", position + 1)
    windows = {n: stream[starts[n - 1]:starts[n - 1] + WINDOW] for n in wanted if 1 <= n <= len(starts)}
    counts = dict.fromkeys(windows.values(), 0)
    occurrence: dict[int, int] = {}
    last = max(windows, default=0)
    # Count equal windows up to each wanted line (equal hashes of different windows are ignored:
    # a 64-bit collision between two lines of one file).
    for number, start in enumerate(starts[:last], start=1):
        window = stream[start:start + WINDOW]
        if window in counts:
            counts[window] += 1
            if number in windows:
                occurrence[number] = counts[window]
    hashes = {window: format(_window_hash(window), "x") for window in set(windows.values())}
    return {n: f"{hashes[w]}:{occurrence[n]}" for n, w in sorted(windows.items())}


def rolling_hashes(text: str) -> list[str]:
    """Every line's ``hex:k`` in order, computed the streaming way (one step per UTF-16 unit)."""
    first_power = pow(BASE, WINDOW, 1 << 64)
    window = [0] * WINDOW
    line_at = [0] * WINDOW  # line number that starts at this window slot, 0 for none
    out: list[str] = []
    seen: dict[str, int] = {}
    state = {"hash": 0, "index": 0, "line": 0, "line_start": True, "prev_cr": False}

    def emit() -> None:
        value = format(state["hash"], "x")
        seen[value] = seen.get(value, 0) + 1
        assert line_at[state["index"]] == len(out) + 1
        out.append(f"{value}:{seen[value]}")
        line_at[state["index"]] = 0

    def push(unit: int) -> None:
        index = state["index"]
        leaving = window[index]
        window[index] = unit
        state["hash"] = (BASE * state["hash"] + unit - first_power * leaving) & _MASK
        state["index"] = (index + 1) % WINDOW

    def step(unit: int) -> None:
        if unit in (0x20, 0x09) or (state["prev_cr"] and unit == 0x0A):
            state["prev_cr"] = False
            return
        state["prev_cr"] = unit == 0x0D
        if unit == 0x0D:
            unit = 0x0A
        if line_at[state["index"]]:
            emit()
        if state["line_start"]:
            state["line_start"] = False
            state["line"] += 1
            line_at[state["index"]] = state["line"]
        if unit == 0x0A:
            state["line_start"] = True
        push(unit)

    for unit in _utf16_units(text):
        step(ord(unit))
    step(0xFFFF)
    for _ in range(WINDOW):
        if line_at[state["index"]]:
            emit()
        push(0)
    return out
