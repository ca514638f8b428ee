"""C integer and character literals as the preprocessor reads them, never raising.

``#define MODE 07777`` is octal, ``0b1010`` binary, ``1'000'000`` has C23 digit separators, and
``10ULL`` a suffix; Python's ``int(text, 0)`` rejects the first and misreads the rest. Anything
that is not a valid literal (``089``, ``1.5``, ``0x``, a 4,000-digit number) is None: unknown.
"""

from __future__ import annotations

import re

# Preprocessor arithmetic is done in intmax_t / uintmax_t: a literal beyond 64 bits is ill-formed.
_LIMIT = 1 << 64
_INTEGER = re.compile(
    r"(?P<digits>0[xX][0-9a-fA-F']+|0[bB][01']+|[0-9][0-9']*)"
    # u, l, ll in either order, C23 wb, MSVC i64 (case as C allows: `lL` is not a suffix).
    r"(?:[uU](?:ll|LL|[lL]|wb|WB)?|(?:ll|LL|[lL])[uU]?|(?:wb|WB)[uU]?|[uU]?[iI](?:8|16|32|64))?"
)
_ESCAPES = {
    "n": 10, "t": 9, "r": 13, "0": 0, "a": 7, "b": 8, "f": 12, "v": 11, "e": 27,
    "\\": 92, "'": 39, '"': 34, "?": 63,
}
_CHAR = re.compile(r"(?:u8|[uUL])?'(?P<body>(?:[^'\\\n]|\\[^\n])+)'")


def c_integer(text: str) -> int | None:
    """The value of one C integer literal (``07777``, ``0x1Fu``, ``0b1010``, ``1'000ULL``), else None."""
    match = _INTEGER.fullmatch(text.strip())
    if match is None:
        return None
    digits = match.group("digits")
    if digits.endswith("'") or "''" in digits or (digits[2:3] == "'" and digits[1:2] in "xXbB"):
        return None  # a separator must sit between two digits
    digits = digits.replace("'", "")
    if len(digits) > 70:
        return None
    if digits[:2] in ("0x", "0X"):
        base, digits = 16, digits[2:]
    elif digits[:2] in ("0b", "0B"):
        base, digits = 2, digits[2:]
    elif digits.startswith("0"):
        base = 8
    else:
        base = 10
    try:
        value = int(digits, base)
    except ValueError:  # `089`: not an octal number
        return None
    return value if value < _LIMIT else None


def c_char(text: str) -> int | None:
    """The value of a one-character literal (``'a'``, ``'\\n'``, ``'\\x41'``, ``L'\\0'``), else None.

    Multi-character constants are implementation-defined: None."""
    match = _CHAR.fullmatch(text.strip())
    if match is None:
        return None
    body = match.group("body")
    if not body.startswith("\\"):
        return ord(body) if len(body) == 1 else None
    rest = body[1:]
    if rest in _ESCAPES:
        return _ESCAPES[rest]
    if re.fullmatch(r"[0-7]{1,3}", rest):
        return int(rest, 8)
    if re.fullmatch(r"x[0-9a-fA-F]{1,8}", rest):
        return int(rest[1:], 16)
    return None
