"""Three-valued evaluation of ``#if`` conditions against a Target (CPython version and build).

Values are integer intervals so ``PY_VERSION_HEX`` can stand for "any 3.13.x release" and a
comparison is YES, NO or MAYBE; anything we do not know is an unbounded interval, never NO.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from enum import Enum

from ftaudit.cmodel.literals import c_char, c_integer
from ftaudit.target import Target


class Tri(Enum):
    """Three-valued truth: whether code is compiled, a condition holds, ..."""

    YES = "yes"
    NO = "no"
    MAYBE = "maybe"

    def __and__(self, other: Tri) -> Tri:
        if self is Tri.NO or other is Tri.NO:
            return Tri.NO
        if self is Tri.YES and other is Tri.YES:
            return Tri.YES
        return Tri.MAYBE

    def __or__(self, other: Tri) -> Tri:
        if self is Tri.YES or other is Tri.YES:
            return Tri.YES
        if self is Tri.NO and other is Tri.NO:
            return Tri.NO
        return Tri.MAYBE

    def __invert__(self) -> Tri:
        if self is Tri.YES:
            return Tri.NO
        if self is Tri.NO:
            return Tri.YES
        return Tri.MAYBE

    def __bool__(self) -> bool:
        # `if unit.compiled(x):` would silently treat MAYBE as true; force an explicit comparison.
        raise TypeError("compare a Tri with Tri.YES / Tri.NO / Tri.MAYBE instead of using it as a bool")

    @staticmethod
    def of(value: bool) -> Tri:
        return Tri.YES if value else Tri.NO


# Macros that Python.h defines from a given CPython version on (checked with `defined(X)` or
# `#ifdef X` by code that wants to run on older versions too). Data, read by docs and tests.
FEATURE_MACROS: dict[str, tuple[int, int]] = {
    "Py_mod_exec": (3, 5),
    "Py_mod_create": (3, 5),
    "Py_UNUSED": (3, 4),
    "Py_UNREACHABLE": (3, 7),
    "Py_TPFLAGS_IMMUTABLETYPE": (3, 10),
    "Py_TPFLAGS_DISALLOW_INSTANTIATION": (3, 10),
    "Py_TPFLAGS_MAPPING": (3, 10),
    "Py_TPFLAGS_SEQUENCE": (3, 10),
    "Py_ALWAYS_INLINE": (3, 11),
    "Py_mod_multiple_interpreters": (3, 12),
    "Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED": (3, 12),
    "Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED": (3, 12),
    "Py_MOD_PER_INTERPRETER_GIL_SUPPORTED": (3, 12),
    "Py_TPFLAGS_MANAGED_DICT": (3, 12),
    "Py_TPFLAGS_MANAGED_WEAKREF": (3, 12),
    "Py_TPFLAGS_ITEMS_AT_END": (3, 12),
    "Py_RELATIVE_OFFSET": (3, 12),
    "Py_T_OBJECT_EX": (3, 12),
    "Py_READONLY": (3, 12),
    "Py_mod_gil": (3, 13),
    "Py_MOD_GIL_USED": (3, 13),
    "Py_MOD_GIL_NOT_USED": (3, 13),
    "Py_BEGIN_CRITICAL_SECTION": (3, 13),
    "Py_END_CRITICAL_SECTION": (3, 13),
    "Py_BEGIN_CRITICAL_SECTION2": (3, 13),
    "Py_END_CRITICAL_SECTION2": (3, 13),
    "Py_BEGIN_CRITICAL_SECTION_MUTEX": (3, 14),
    "Py_BEGIN_CRITICAL_SECTION2_MUTEX": (3, 14),
    "Py_mod_abi": (3, 15),
    "Py_mod_token": (3, 15),
}

# Other Python implementations' marker macros: never defined, since ftaudit audits for CPython.
OTHER_IMPLEMENTATIONS = frozenset({"PYPY_VERSION", "PYPY_VERSION_NUM", "GRAALVM_PYTHON", "PYSTON_VERSION"})

Interval = tuple[float, float]
_UNKNOWN: Interval = (-math.inf, math.inf)
_TRUE: Interval = (1, 1)
_FALSE: Interval = (0, 0)
_BOOL_UNKNOWN: Interval = (0, 1)
_LIMIT = 1 << 64  # intmax_t/uintmax_t: anything wider is not a value the preprocessor has

# `num` is a whole preprocessing number (`07777`, `0b101`, `1'000u`, `1.5`): read by ``c_integer``.
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\.?\d(?:[eEpP][+-]|'\w|[\w.])*)"
    r"|(?P<chr>(?:u8|[uUL])?'(?:[^'\\\n]|\\.)*')"
    r"|(?P<id>[A-Za-z_]\w*)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|<<|>>|[-+*/%<>!~&|^()?:,]))"
)


def version_interval(target: Target) -> Interval:
    """``PY_VERSION_HEX`` for "any release of the target's minor version" (3.13.0 final .. 3.13.255)."""
    return (target.hex | 0xF0, target.hex | 0xFFFF)


def _tri_of(value: Interval) -> Tri:
    lo, hi = value
    if lo == 0 and hi == 0:
        return Tri.NO
    if lo > 0 or hi < 0:
        return Tri.YES
    return Tri.MAYBE


def _interval_of(tri: Tri) -> Interval:
    return {Tri.YES: _TRUE, Tri.NO: _FALSE, Tri.MAYBE: _BOOL_UNKNOWN}[tri]


class _Evaluator:
    """Recursive-descent parser over one condition; C precedence, interval values."""

    def __init__(self, text: str, target: Target, defines: Mapping[str, int | None]) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise ValueError(f"cannot tokenise {text[pos:]!r}")
            kind = match.lastgroup or "op"
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.pos = 0
        self.target = target
        self.defines = defines

    # -- token helpers --------------------------------------------------------------------------
    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ValueError("unexpected end of condition")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise ValueError(f"expected {value!r}")

    # -- grammar ---------------------------------------------------------------------------------
    def parse(self) -> Interval:
        value = self.conditional()
        if self.pos != len(self.tokens):
            raise ValueError("trailing tokens")
        return value

    def conditional(self) -> Interval:
        cond = self.binary(0)
        if self.peek() != "?":
            return cond
        self.take()
        yes = self.conditional()
        self.expect(":")
        no = self.conditional()
        tri = _tri_of(cond)
        if tri is Tri.YES:
            return yes
        if tri is Tri.NO:
            return no
        return (min(yes[0], no[0]), max(yes[1], no[1]))

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",),
        ("&&",),
        ("|",),
        ("^",),
        ("&",),
        ("==", "!="),
        ("<", ">", "<=", ">="),
        ("<<", ">>"),
        ("+", "-"),
        ("*", "/", "%"),
    )

    def binary(self, level: int) -> Interval:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in self._LEVELS[level]:
            op = self.take()[1]
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> Interval:
        op = self.peek()
        if op == "!":
            self.take()
            return _interval_of(~_tri_of(self.unary()))
        if op == "-":
            self.take()
            lo, hi = self.unary()
            return (-hi, -lo)
        if op == "+":
            self.take()
            return self.unary()
        if op == "~":
            self.take()
            value = self.unary()
            if not _exact(value):
                return _UNKNOWN
            inverted = ~int(value[0])
            return (inverted, inverted)
        return self.primary()

    def primary(self) -> Interval:
        kind, value = self.take()
        if value == "(":
            inner = self.conditional()
            self.expect(")")
            return inner
        if kind in ("num", "chr"):
            number = c_integer(value) if kind == "num" else c_char(value)
            return (number, number) if number is not None else _UNKNOWN
        if kind != "id":
            raise ValueError(f"unexpected {value!r}")
        if value == "defined":
            parens = self.peek() == "("
            if parens:
                self.take()
            name = self.take()[1]
            if parens:
                self.expect(")")
            return _interval_of(self.is_defined(name))
        if self.peek() == "(":
            # A function-like macro (__has_include, __GNUC_PREREQ...): skip its arguments, unknown.
            depth = 0
            while True:
                token = self.take()[1]
                depth += token == "("
                depth -= token == ")"
                if depth == 0:
                    break
            return _UNKNOWN
        return self.value_of(value)

    # -- knowledge about CPython -------------------------------------------------------------------
    def is_defined(self, name: str) -> Tri:
        target = self.target
        if name in self.defines:
            return Tri.YES if self.defines[name] is not None else Tri.NO
        if name == "Py_GIL_DISABLED":
            return Tri.of(target.free_threaded)
        if name == "Py_LIMITED_API":
            return Tri.of(target.limited_api)
        if name in OTHER_IMPLEMENTATIONS:
            return Tri.NO
        if name in ("PY_VERSION_HEX", "PY_MAJOR_VERSION", "PY_MINOR_VERSION", "PY_MICRO_VERSION"):
            return Tri.YES
        since = FEATURE_MACROS.get(name)
        if since is not None:
            if target.version < since:
                return Tri.NO
            # The limited API hides some of them when an older stable ABI is targeted.
            return Tri.MAYBE if target.limited_api else Tri.YES
        return Tri.MAYBE

    def value_of(self, name: str) -> Interval:
        target = self.target
        if name in self.defines:
            known = self.defines[name]
            return (known, known) if known is not None else _FALSE
        if name == "PY_VERSION_HEX":
            return version_interval(target)
        if name == "PY_MAJOR_VERSION":
            return (target.version[0], target.version[0])
        if name == "PY_MINOR_VERSION":
            return (target.version[1], target.version[1])
        if name == "PY_MICRO_VERSION":
            return (0, 255)
        if name == "Py_GIL_DISABLED":
            return _TRUE if target.free_threaded else _FALSE
        if name == "Py_LIMITED_API":
            # Its value is the oldest stable ABI targeted: unknown, but at most the target itself.
            return (3, target.hex) if target.limited_api else _FALSE
        if name in ("true", "__STDC__"):
            return _TRUE
        if name == "false":
            return _FALSE
        defined = self.is_defined(name)
        if defined is Tri.NO:
            return _FALSE  # an undefined identifier is 0 in #if
        return _UNKNOWN


def _exact(value: Interval) -> bool:
    return value[0] == value[1] and not math.isinf(value[0])


def _apply(op: str, a: Interval, b: Interval) -> Interval:
    if op in ("&&", "||"):
        ta, tb = _tri_of(a), _tri_of(b)
        return _interval_of(ta & tb if op == "&&" else ta | tb)
    if op in ("<", ">", "<=", ">=", "==", "!="):
        return _interval_of(_compare(op, a, b))
    if op == "+":
        return (a[0] + b[0], a[1] + b[1])
    if op == "-":
        return (a[0] - b[1], a[1] - b[0])
    if not (_exact(a) and _exact(b)):
        return _UNKNOWN
    result = _integer_op(op, int(a[0]), int(b[0]))
    return (result, result) if result is not None else _UNKNOWN


def _integer_op(op: str, x: int, y: int) -> int | None:
    """``x op y`` as C computes it (division truncates, the remainder takes the dividend's sign);
    None where C leaves it undefined or the value leaves 64 bits (`1 << 99999999` must not run)."""
    if op in ("/", "%"):
        if y == 0:
            return None
        quotient = abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
        result = quotient if op == "/" else x - y * quotient
    elif op in ("<<", ">>"):
        if not 0 <= y < 64:
            return None
        result = x << y if op == "<<" else x >> y
    elif op == "*":
        result = x * y
    elif op == "&":
        result = x & y
    elif op == "|":
        result = x | y
    else:
        result = x ^ y
    return result if -_LIMIT < result < _LIMIT else None


def _compare(op: str, a: Interval, b: Interval) -> Tri:
    (alo, ahi), (blo, bhi) = a, b
    if op == "<":
        return Tri.YES if ahi < blo else Tri.NO if alo >= bhi else Tri.MAYBE
    if op == "<=":
        return Tri.YES if ahi <= blo else Tri.NO if alo > bhi else Tri.MAYBE
    if op == ">":
        return _compare("<", b, a)
    if op == ">=":
        return _compare("<=", b, a)
    equal = Tri.YES if alo == ahi == blo == bhi else Tri.NO if ahi < blo or bhi < alo else Tri.MAYBE
    return equal if op == "==" else ~equal


def evaluate_condition(
    text: str, target: Target | None = None, defines: Mapping[str, int | None] | None = None
) -> Tri:
    """Whether an ``#if`` condition holds for ``target``: YES, NO, or MAYBE when it depends on
    something we do not know. ``defines`` adds facts (name -> value, or None for "not defined").
    An expression we cannot parse is MAYBE, never NO."""
    try:
        return _tri_of(_Evaluator(text, target or Target(), {} if defines is None else defines).parse())
    except (ValueError, IndexError, RecursionError):
        return Tri.MAYBE
