#!/usr/bin/env python3
"""Mutation fuzzer for ftaudit: mangled fixtures must never crash, hang or blow up the real CLI.

Seeds are the repository's own fixtures (C, C++, Cython, Python, setup.py, pyproject.toml,
CMakeLists.txt, Cargo.toml, Rust) plus a few tiny built-in seeds for what the fixtures lack
(meson.build, headers, templates). A case is a small source tree: one seed file mutated by a
seeded ``random.Random`` (truncation, bit flips, byte bursts, splices, line duplication and
deletion, and CPython-flavoured insertions: unbalanced ``#if``, odd literals in ``#if``, token
pasting, NUL in include paths, unterminated comments and strings, deep nesting, very long lines
and expressions, long ``elif`` chains, coding cookies, BOMs, line-ending changes, control and
non-UTF-8 bytes, huge identifiers), sometimes next to the rest of its fixture project so that the
project-level rules have something to combine.

Cases are grouped in batches, one folder per batch, and each batch is scanned by the real CLI in
a subprocess::

    python -X faulthandler -m ftaudit scan . --no-cache -j1 --select ALL --scan-generated \
        --output-format json --sarif-output S --html-output H

with a wall-time budget (on expiry the child gets SIGABRT first, so faulthandler prints where it
was stuck) and an address-space limit (``RLIMIT_AS`` set in ``preexec_fn``). Optionally a second
run renders the ``full`` terminal report. The oracle: exit status 0 or 1, no signal, no
``Traceback`` and no ``internal-error`` on stderr, stdout is JSON valid against
``ftaudit/schemas/findings.schema.json``, the SARIF validates against the OASIS schema
(``tests/data/sarif-schema-2.1.0.json``; skipped with a note when it is
missing), the HTML report is complete, and the peak RSS stays under its budget.

A failing batch is split down to the single failing case (halving; hangs and memory blow-ups are
rerun case by case, which is cheaper than halving under a 30 s budget), the case is minimised when
that is cheap (drop sibling files, then delete chunks of lines and bytes while the failure keeps
its signature), and written to ``OUT/failures/NNN-<signature>/`` with ``reason.txt`` and the
command that reproduces it. Failures are told apart by signature: exception type plus the
innermost ftaudit frame (or ``timeout``/``memory`` plus where faulthandler saw the process).

Run it for long::

    python tools/fuzz.py --seconds 600 --seed 1 --out /tmp/ftaudit-fuzz
    python tools/fuzz.py --replay /tmp/ftaudit-fuzz/failures/001-.../tree   # rerun one reproducer

``tests/test_fuzz.py`` imports this module for a short, deterministic run in the suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
FINDINGS_SCHEMA = REPO / "ftaudit" / "schemas" / "findings.schema.json"
SARIF_SCHEMAS = (REPO / "tests" / "data" / "sarif-schema-2.1.0.json",)  # the OASIS schema, kept in the repository

SOURCE_SUFFIXES = frozenset({".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".pyx", ".pxd", ".pxi",
                             ".py", ".pyi", ".rs"})
BUILD_NAMES = frozenset({"setup.py", "pyproject.toml", "CMakeLists.txt", "meson.build", "Cargo.toml"})
MAX_CASE_BYTES = 3 * 1024 * 1024  # under the default max-file-size-kb (4096), so the file is analysed
BINARY_SNIFF = 8192  # ftaudit skips files with a NUL in their first 8 KiB as binary
HANG_SHRINK_SECONDS = 10.0  # while shrinking a hang, still over this is still a hang
TARGETS = (None, "3.13t", "3.14t", "3.12", "3.9")  # --target-version per batch (None: the default)


# -- seeds ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seed:
    origin: str  # where it came from, for reports: a fixtures/ path or "builtin:..."
    rel: str  # its path inside its project (what the case tree calls it)
    data: bytes
    project: tuple[tuple[str, bytes], ...] = ()  # the other files of its fixture project


BUILTIN_SEEDS: dict[str, bytes] = {
    "meson.build": b"""project('spam', 'c', version: '1.0')
py = import('python').find_installation(pure: false)
py.extension_module('_spam', '_spam.c', install: true, limited_api: '3.12')
py.extension_module('_eggs', ['_eggs.pyx'], cython_args: ['-X', 'freethreading_compatible=True'])
""",
    "_spam.c": b"""#define PY_SSIZE_T_CLEAN
#include <Python.h>

static long hits;
static PyObject *cache = NULL;

static PyObject *
spam_get(PyObject *self, PyObject *args)
{
    hits++;
    if (cache == NULL) {
        cache = PyDict_New();
    }
    PyObject *v = PyDict_GetItem(cache, args);
    Py_XINCREF(v);
    return v;
}

static PyMethodDef spam_methods[] = {
    {"get", spam_get, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}
};

static PyModuleDef_Slot spam_slots[] = {
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL}
};

static struct PyModuleDef spam_module = {
    PyModuleDef_HEAD_INIT, "_spam", NULL, 0, spam_methods, spam_slots,
};

PyMODINIT_FUNC
PyInit__spam(void)
{
    return PyModuleDef_Init(&spam_module);
}
""",
    "spam.h": b"""#ifndef SPAM_H
#define SPAM_H
#include <Python.h>
#if defined(Py_GIL_DISABLED) && PY_VERSION_HEX >= 0x030D0000
#  define SPAM_LOCK(o) Py_BEGIN_CRITICAL_SECTION(o)
#  define SPAM_UNLOCK() Py_END_CRITICAL_SECTION()
#else
#  define SPAM_LOCK(o) {
#  define SPAM_UNLOCK() }
#endif
extern PyObject *spam_cache;
static inline Py_ssize_t spam_refs(PyObject *o) { return o->ob_refcnt; }
#endif /* SPAM_H */
""",
    "_eggs.pyx": b"""# cython: language_level=3
cdef extern from "spam.h":
    int spam_refs(object o)

cdef int counter = 0

def bump():
    global counter
    with nogil:
        pass
    counter += 1
    return counter
""",
    "walk.py": b"""import sys
import threading

_lock = threading.Lock()


def peek(name):
    frame = sys._getframe(1)
    frame.f_locals[name] = 1
    locals()[name] = 2
    return sys.getrefcount(frame) == 2
""",
    "arrays.c.src": b"""/**begin repeat
 * #TYPE = INT, LONG#
 * #type = int, long#
 */
static @type@ @TYPE@_last;
static void @TYPE@_store(@type@ v) { @TYPE@_last = v; }
/**end repeat**/
""",
}


def _project_root(path: Path) -> Path:
    """The nearest folder at or above ``path`` (inside fixtures/<top>) with a build file, else its folder."""
    folder = path.parent
    top = FIXTURES / path.relative_to(FIXTURES).parts[0]
    probe = folder
    while True:
        if any((probe / name).is_file() for name in BUILD_NAMES):
            return probe
        if probe in (top, FIXTURES):
            return folder
        probe = probe.parent


def _wanted(path: Path) -> bool:
    return path.is_file() and ".ftaudit_cache" not in path.parts and (
        path.suffix.lower() in SOURCE_SUFFIXES or path.name in BUILD_NAMES)


def load_seeds(fixtures: Path = FIXTURES) -> list[Seed]:
    """Every fixture ftaudit would read, with the other files of its project, plus the built-in seeds."""
    seeds: list[Seed] = []
    files = sorted(p for p in fixtures.rglob("*") if _wanted(p))
    for path in files:
        root = _project_root(path)
        siblings = tuple((p.relative_to(root).as_posix(), p.read_bytes()) for p in files
                         if p != path and root in p.parents and len(p.relative_to(root).parts) <= 3)
        seeds.append(Seed(path.relative_to(REPO).as_posix(), path.relative_to(root).as_posix(), path.read_bytes(),
                          siblings[:12]))
    builtin = tuple(BUILTIN_SEEDS.items())
    for name, data in builtin:
        seeds.append(Seed(f"builtin:{name}", name, data, tuple(kv for kv in builtin if kv[0] != name)))
    return seeds


# -- mutators ---------------------------------------------------------------------------------------
def language(name: str) -> str:
    """The mutation dialect for a file name: c, python, cython, toml, cmake, meson or rust."""
    lower = name.lower()
    if lower.endswith((".py", ".pyi")):
        return "python"
    if lower.endswith((".pyx", ".pxd", ".pxi")):
        return "cython"
    if lower.endswith(".toml"):
        return "toml"
    if lower.endswith(".rs"):
        return "rust"
    if name == "CMakeLists.txt":
        return "cmake"
    if name == "meson.build":
        return "meson"
    return "c"


def _size(rng: random.Random, low: int, high: int) -> int:
    """Log-uniform between low and high: mostly small, sometimes huge."""
    return round(low * (high / low) ** rng.random())


def _line_spot(rng: random.Random, data: bytes) -> int:
    """A position at a line start (mostly) or anywhere."""
    if not data:
        return 0
    if rng.random() < 0.7:
        starts = [0] + [m.end() for m in re.finditer(rb"\n", data[:200_000])]
        return rng.choice(starts)
    return rng.randrange(len(data) + 1)


def _insert(rng: random.Random, data: bytes, snippet: bytes) -> bytes:
    spot = _line_spot(rng, data)
    if spot == 0 and rng.random() < 0.3:
        spot = len(data)
    return data[:spot] + snippet + data[spot:]


PP_LITERALS = [
    b"0", b"1", b"07777", b"0777", b"08", b"09", b"0x7fffffffffffffff", b"0xffffffffffffffffULL", b"0x1p3",
    b"1'000'000", b"0b1011", b"0B0", b"18446744073709551615", b"18446744073709551616", b"9223372036854775808",
    b"-9223372036854775807-1", b"1u", b"1ul", b"1LL", b"1uLL", b"1zu", b"1.0", b"1e5", b".5", b"'a'", b"'\\377'",
    b"'\\x41'", b"'ab'", b"L'x'", b"u8'c'", b"0x", b"0x030D0000", b"0x030D00F0", b"0X030c0000L", b"00", b"0u",
    b"0xFFFFFFFFu", b"1i64", b"PY_VERSION_HEX", b"Py_GIL_DISABLED", b"Py_LIMITED_API", b"__STDC_VERSION__",
    b"__cplusplus", b"defined(Py_GIL_DISABLED)", b"defined Py_GIL_DISABLED", b"defined", b"defined(",
    b"__has_include(<Python.h>)", b"__has_include(\"x.h\")", b"__has_feature(c_atomic)", b"__GNUC__",
    b"Py_VERSION_HEX(3, 13)", b"PY_MAJOR_VERSION", b"undefined_macro", b"true", b"false", b"__LINE__",
    b"9" * 5000, b"0x" + b"f" * 5000, b"0" + b"7" * 3000, b"1" + b"0" * 400 + b"ULL",
]
PP_BINOPS = [b"+", b"-", b"*", b"/", b"%", b"<<", b">>", b"<", b">", b"<=", b">=", b"==", b"!=", b"&", b"|", b"^",
             b"&&", b"||", b",", b"=", b"#", b"##"]
PP_UNOPS = [b"!", b"-", b"~", b"+", b"!!", b"- -"]


def pp_expr(rng: random.Random, depth: int = 0) -> bytes:
    roll = rng.random()
    if depth > 4 or roll < 0.35:
        return rng.choice(PP_LITERALS)
    if roll < 0.5:
        return rng.choice(PP_UNOPS) + pp_expr(rng, depth + 1)
    if roll < 0.65:
        return b"(" + pp_expr(rng, depth + 1) + (b")" if rng.random() < 0.9 else b"")
    if roll < 0.75:
        return pp_expr(rng, depth + 1) + b" ? " + pp_expr(rng, depth + 1) + b" : " + pp_expr(rng, depth + 1)
    return pp_expr(rng, depth + 1) + b" " + rng.choice(PP_BINOPS) + b" " + pp_expr(rng, depth + 1)


def _c_directives(rng: random.Random) -> bytes:
    lines = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice([b"#if", b"#ifdef", b"#ifndef", b"#elif", b"#else", b"#endif", b"#endif", b"#elifdef",
                           b"#elifndef", b"#  if", b"#\tendif", b"# else /* x */", b"#if", b"#elif"])
        if kind in (b"#if", b"#elif", b"#  if"):
            lines.append(kind + b" " + pp_expr(rng))
        elif kind in (b"#ifdef", b"#ifndef", b"#elifdef", b"#elifndef"):
            lines.append(kind + b" " + rng.choice([b"Py_GIL_DISABLED", b"Py_LIMITED_API", b"X", b"", b"1", b"("]))
        else:
            lines.append(kind)
    return b"\n".join(lines) + b"\n"


def _c_guarded_block(rng: random.Random) -> bytes:
    body = _c_snippet_cpython(rng)
    other = _c_snippet_cpython(rng) if rng.random() < 0.5 else b""
    text = b"#if " + pp_expr(rng) + b"\n" + body
    if other:
        text += (b"#elif " + pp_expr(rng) if rng.random() < 0.5 else b"#else") + b"\n" + other
    return text + (b"#endif\n" if rng.random() < 0.85 else b"")


C_DEFINES = [
    b"#define X(a) a##b\n", b"#define CAT(a, b) a ## b\nCAT(Py, _mod_gil)\n", b"#define STR(a) #a\n",
    b"#define V(...) __VA_ARGS__\n", b"#define V2(fmt, ...) f(fmt, ##__VA_ARGS__)\n", b"#define A A\nA\n",
    b"#define B C\n#define C B\nB\n", b"#define\n", b"#define 1 2\n", b"#define F(\n", b"#define F(a,a) a\n",
    b"#define Py_GIL_DISABLED 1\n", b"#undef Py_GIL_DISABLED\n", b"#define PY_VERSION_HEX 0x030D0000\n",
    b"#define LONG \\\n  continued \\\n", b"#define EMPTY\nEMPTY EMPTY static int EMPTY x;\n",
    b"#define Py_BEGIN_CRITICAL_SECTION(o) {\n", b"#define LOCK Py_BEGIN_CRITICAL_SECTION(self)\n",
    b"#define MODINIT PyMODINIT_FUNC PyInit_x(void)\nMODINIT { return NULL; }\n",
    b"#pragma once\n", b"#pragma GCC diagnostic push\n", b"#line 0\n", b"#line 4294967296 \"f\"\n", b"#\n",
    b"#error stop\n", b"#warning careful\n", b"#ident \"x\"\n", b"#assert machine(x)\n", b"#embed \"x.bin\"\n",
]
C_INCLUDES = [
    b'#include "x\x00y"\n', b"#include <Python.h\n", b"#include\n", b"#include MACRO(x)\n", b'#include "a\\\\b.h"\n',
    b'#include "\n', b"#include <>\n", b'#include ""\n', b"#include_next <Python.h>\n", b'#import "x.h"\n',
    b'#include "pythoncapi_compat.h"\n', b'#include "../../../../../../etc/passwd"\n', b"#include <Python.h>\n",
    b'#include "\x1b[31mred.h"\n', b'#include "\xff\xfe.h"\n', b"#include __FILE__\n",
]
C_UNTERMINATED = [b"/* never closed ", b'"never closed', b"'", b'R"delim(raw', b'L"wide', b'u8"\\', b"\\", b"??/",
                  b"/* /* nested */ */", b"// comment \\\ncontinued", b'"\\', b"'\\'", b"/*/", b"*/"]
C_CPYTHON = [
    b"static PyMethodDef methods[] = {\n    {\"f\", (PyCFunction)f, METH_NOARGS, NULL},\n",
    b"static PyModuleDef_Slot slots[] = {\n    {Py_mod_gil, Py_MOD_GIL_USED},\n    {Py_mod_exec, exec},\n"
    b"    {0, NULL}\n};\n",
    b"static PyModuleDef_Slot slots[] = {{Py_mod_gil, (void *)7}, {Py_mod_gil, Py_MOD_GIL_NOT_USED}, {0}};\n",
    b"static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"m\", NULL, -1, methods};\n",
    b"PyMODINIT_FUNC PyInit_m(void) { PyObject *mod = PyModule_Create(&m);\n"
    b"#ifdef Py_GIL_DISABLED\n PyUnstable_Module_SetGIL(mod, Py_MOD_GIL_NOT_USED);\n#endif\n return mod; }\n",
    b"PyMODINIT_FUNC PyInit_(void) { return PyModuleDef_Init(&m); }\n", b"PyMODINIT_FUNC\n",
    b"static PyObject *cache;\nstatic PyObject *get(PyObject *s, PyObject *a) { if (!cache) cache = PyDict_New();"
    b" return cache; }\n",
    b"static long counter;\nstatic PyObject *bump(PyObject *s, PyObject *a) { counter += 1; Py_RETURN_NONE; }\n",
    b"Py_BEGIN_CRITICAL_SECTION(self);\n", b"Py_END_CRITICAL_SECTION();\n", b"Py_BEGIN_ALLOW_THREADS\n",
    b"Py_END_ALLOW_THREADS\n", b"Py_BEGIN_CRITICAL_SECTION2(a, b);\nPyDict_Next(d, &p, &k, &v);\n",
    b"PyObject *item = PyDict_GetItem(d, k);\n", b"PyObject *it = PyList_GET_ITEM(l, 0);\n",
    b"PyObject *w = PyWeakref_GetObject(ref);\n", b"int refs = Py_REFCNT(o) == 1;\nop->ob_refcnt++;\n",
    b"PyFrameObject *f = PyEval_GetFrame();\nPyCodeObject *c = f->f_code;\nint l = f->f_lineno;\n",
    b"PyThreadState *ts = PyThreadState_Get();\nts->frame = NULL; ts->recursion_depth++;\n",
    b"char *t = strtok(s, \",\");\nstruct tm *tm = localtime(&now);\nsetlocale(LC_ALL, \"\");\n",
    b"PyObject *r = PyObject_CallNoArgs(cb); /* NOLINT(FT201 */\n", b"// NOLINTBEGIN(FT201)\n",
    b"// NOLINTEND(FT201)\n", b"// NOLINTNEXTLINE(FT201, FT9999, , )\n", b"/* ftaudit: ignore[FT201 */\n",
    b"// NOLINT(\n", b"// ftaudit: ignore[]\n", b"static _Atomic int a; atomic_fetch_add(&a, 1);\n",
    b"_Py_atomic_add_ssize(&n, 1);\nPyMutex_Lock(&mu); n++; PyMutex_Unlock(&mu);\n",
    b"#if PY_VERSION_HEX >= 0x030B0000\nPyCodeObject *c = PyFrame_GetCode(f);\n#else\nPyCodeObject *c = f->f_code;\n"
    b"#endif\n",
    b"static PyObject *f(PyObject *self, PyObject *const *args, Py_ssize_t n) { "
    b"static int once; if (!once) { once = 1; } return Py_None; }\n",
    b"PYBIND11_MODULE(geo, m, py::mod_gil_not_used()) { m.def(\"f\", &f); }\n", b"NB_MODULE(fast, m) {}\n",
    b"template <typename T, int N = (1 > 2)> struct S { T v[N]; };\nauto l = [&](auto... xs) { return (xs + ...); };\n",
    b"extern \"C\" {\n", b"namespace { int x; }\n", b"struct { int a : 3; } bf;\n", b"int (*(*fp)(void))[3];\n",
    b"__attribute__((unused)) static int u;\n", b"asm(\"nop\");\n", b"goto end; end: ;\n",
]


def _c_snippet_cpython(rng: random.Random) -> bytes:
    return rng.choice(C_CPYTHON)


def _nest(rng: random.Random, opener: bytes, closer: bytes, middle: bytes, low: int = 50, high: int = 20000) -> bytes:
    depth = _size(rng, low, high)
    closed = closer * depth if rng.random() < 0.75 else closer * rng.randrange(depth)
    return opener * depth + middle + closed


def _c_deep(rng: random.Random) -> bytes:
    choice = rng.randrange(7)
    if choice == 0:
        return b"int deep(void) {" + _nest(rng, b"{", b"}", b" counter++; ") + b" return 0; }\n"
    if choice == 1:
        return b"long deepp = " + _nest(rng, b"(", b")", b"1") + b";\n"
    if choice == 2:
        depth = _size(rng, 20, 5000)
        closers = depth if rng.random() < 0.75 else rng.randrange(depth)
        return b"#if 1\n" * depth + b"static int x;\n" + b"#endif\n" * closers
    if choice == 3:
        depth = _size(rng, 20, 3000)
        body = b"".join(b"#if A%d\n#elif B%d\n" % (i, i) for i in range(depth))
        return body + b"int y;\n" + b"#else\n#endif\n" * depth
    if choice == 4:
        return b"PyObject *r = " + _nest(rng, b"f(", b")", b"x") + b";\n"
    if choice == 5:
        return b"int z = " + _nest(rng, b"!", b"", b"x") + b";\n"
    return b"int w[] = " + _nest(rng, b"{", b"}", b"1") + b";\n"


def _long_terms(rng: random.Random, term: Callable[[int], bytes], sep: bytes, low: int = 50, high: int = 8000) -> bytes:
    return sep.join(term(i) for i in range(_size(rng, low, high)))


def _c_long(rng: random.Random) -> bytes:
    choice = rng.randrange(9)
    if choice == 0:
        return b"long sum = " + _long_terms(rng, lambda i: b"f(%d)" % i, b"+") + b";\n"
    if choice == 1:
        return b"long sum2 = " + _long_terms(rng, lambda i: b"a", b" + ") + b";\n"
    if choice == 2:
        return b"#if " + _long_terms(rng, lambda i: b"defined(A%d)" % i, b" || ") + b"\nint q;\n#endif\n"
    if choice == 3:
        return b"const char *s = " + _long_terms(rng, lambda i: b'"s%d"' % i, b" ") + b";\n"
    if choice == 4:
        return b"void chain(int x) { " + _long_terms(rng, lambda i: b"if (x == %d) counter++;" % i,
                                                     b" else ") + b" }\n"
    if choice == 5:
        return b"int sw(int x) { switch (x) { " + _long_terms(rng, lambda i: b"case %d: return %d;" % (i, i),
                                                             b" ") + b" } return 0; }\n"
    if choice == 6:
        return b"static PyMethodDef many[] = {" + _long_terms(
            rng, lambda i: b'{"m%d", (PyCFunction)m%d, METH_NOARGS, NULL}' % (i, i), b",\n") + b", {NULL}};\n"
    if choice == 7:
        return b"int arr[] = {" + _long_terms(rng, lambda i: b"%d" % i, b",") + b"};\n"
    return b"void many_writes(void) { " + _long_terms(rng, lambda i: b"g%d = %d;" % (i % 97, i), b" ") + b" }\n"


PY_COOKIES = [b"rot13", b"rot_13", b"base64", b"undefined", b"hex", b"zlib", b"bz2", b"uu", b"quopri", b"idna",
              b"punycode", b"utf-16", b"utf-32", b"utf-7", b"unicode_escape", b"raw_unicode_escape", b"mbcs",
              b"latin-1", b"utf-8-sig", b"ascii", b"cp037", b"bogus-encoding", b"", b"utf8", b"UTF-8", b"euc-jp",
              b"shift_jis", b"string_escape", b"x-user-defined", b"\xff"]


def _py_cookie(rng: random.Random, data: bytes) -> bytes:
    name = rng.choice(PY_COOKIES)
    cookie = rng.choice([b"# -*- coding: %s -*-\n", b"# coding=%s\n", b"# vim: set fileencoding=%s :\n",
                         b"#coding:%s\r\n"]) % name
    if rng.random() < 0.3:
        return b"#!/usr/bin/env python\n" + cookie + data
    return cookie + data


def _py_deep(rng: random.Random) -> bytes:
    choice = rng.randrange(10)
    if choice == 0:
        return b"y = " + _nest(rng, b"[", b"]", b"") + b"\n"
    if choice == 1:
        return b"y = " + _nest(rng, b"(", b")", b"1") + b"\n"
    if choice == 2:
        return b"y = " + _nest(rng, b"not ", b"", b"x", 20, 5000) + b"\n"
    if choice == 3:
        return b"y = " + _nest(rng, b"-", b"", b"1", 20, 5000) + b"\n"
    if choice == 4:
        return b"y = " + _nest(rng, b"lambda: ", b"", b"0", 20, 3000) + b"\n"
    if choice == 5:
        depth = rng.randint(5, 120)
        return b"".join(b" " * i + b"if x:\n" for i in range(depth)) + b" " * depth + b"locals()['a'] = 1\n"
    if choice == 6:
        return b"y = " + _nest(rng, b"f(", b")", b"x") + b"\n"
    if choice == 7:
        return b"y = a" + b".b" * _size(rng, 50, 20000) + b"\n"
    if choice == 8:
        return b"y = f" + b"()" * _size(rng, 50, 20000) + b"\n"
    return b"y = x" + b"[0]" * _size(rng, 50, 20000) + b"\n"


def _py_long(rng: random.Random) -> bytes:
    choice = rng.randrange(7)
    if choice == 0:
        return b"total = " + _long_terms(rng, lambda i: b"f(%d)" % i, b"+") + b"\n"
    if choice == 1:
        return b"total = " + _long_terms(rng, lambda i: b"a", b" + ") + b"\n"
    if choice == 2:
        body = _long_terms(rng, lambda i: b"elif x == %d:\n    locals()['v%d'] = %d\n" % (i, i, i), b"", 20, 5000)
        return b"def chain(x):\n    if x:\n        pass\n" + body.replace(b"\n", b"\n    ").replace(b"elif", b"    elif"
                                                                                                  ) + b"\n"
    if choice == 3:
        return b"if x:\n    pass\n" + _long_terms(rng, lambda i: b"elif x == %d:\n    pass\n" % i, b"", 20, 5000)
    if choice == 4:
        return b"d = {" + _long_terms(rng, lambda i: b"%d: sys.getrefcount(o%d)" % (i, i), b", ") + b"}\n"
    if choice == 5:
        return b"s = " + _long_terms(rng, lambda i: b"'p%d'" % i, b" ") + b"\n"
    return b"ok = " + _long_terms(rng, lambda i: b"x%d" % i, b" and ") + b"\n"


PY_SNIPPETS = [
    b"locals()['x'] = 1\n", b"sys._getframe().f_locals['x'] = 1\n",
    b"import ctypes\nctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(f), ctypes.c_int(0))\n",
    b"assert sys.getrefcount(o) == 2\n", b"sys.setswitchinterval(1e-9)\n",
    b"del locals()[k]\n", b"from sys import _getframe as g\ng().f_locals.update(a=1)\n", b"# noqa: FT501\n",
    b"x = 1  # noqa:\n", b"x = 1  # noqa: FT\n", b"x = 1  # ftaudit: ignore[\n", b"x = 1  # ftaudit: ignore[FT501,,]\n",
    b"global x\n", b"nonlocal y\n", b"match x:\n    case {'a': 1, **rest}: pass\n    case _: pass\n",
    b"type X = int\n", b"def f[T](x: T) -> T: return x\n",
    b"async def f():\n    await g()\n    async for x in y: pass\n",
    b"x = f'{f\"{f'{x}'}\"}'\n", b"x = f'{\n", b"x = '''\n", b'x = "never closed\n', b"x = 1" + b"1" * 5000 + b"\n",
    b"x = 0o777 + 0x" + b"f" * 1000 + b" + 1_000 + 1e309 + 1j\n", b"if True:\n\tx = 1\n        y = 2\n",
    b"@decorator\n", b"class C(metaclass=M):\n    __slots__ = ()\n", b"lambda *a, **k: (yield)\n",
    b"print(*[x for x in range(3) if (y := x)])\n", b"import threading\nlock = threading.Lock()\nwith lock: pass\n",
    b"from ftaudit import *\n", b"\\\n", b"x = (\n", b")\n", b"try:\n    pass\nexcept* E:\n    pass\n",
    b"Extension('x', sources=['x.c'], define_macros=[('Py_GIL_DISABLED', '1')], py_limited_api=True)\n",
    b"setup(ext_modules=cythonize('*.pyx', compiler_directives={'freethreading_compatible': True}))\n",
    b"setup(ext_modules=[Extension(name, srcs) for name, srcs in spec], options={'bdist_wheel': "
    b"{'py_limited_api': 'cp313'}})\n",
]
CYTHON_SNIPPETS = [
    b"# cython: freethreading_compatible=True\n", b"# cython: freethreading_compatible = False, boundscheck=False\n",
    b"# distutils: define_macros=Py_GIL_DISABLED=1\n", b"cdef extern from \"x.h\":\n    int f(int)\n",
    b"with nogil:\n    pass\n", b"cdef int counter = 0\n", b"cpdef int f(int x) nogil:\n    return x\n",
    b"include \"x\x00.pxi\"\n", b"DEF X = 1\n",
    b"IF X:\n    pass\nELSE:\n    pass\n", b"ctypedef struct S:\n    int a\n",
    b"cimport cython\n@cython.critical_section\ndef f(self): pass\n", b"from libc.stdlib cimport malloc\n",
    b"cdef class C:\n    cdef public object o\n", b"cdef extern from *:\n    \"\"\"\n    #define X 1\n",
]
TOML_SNIPPETS = [
    b"[project]\nrequires-python = \">=3.13t\"\n", b"[project]\nrequires-python = \"\"\n",
    b"[project]\nrequires-python = \"~=3\"\n", b"[project]\nrequires-python = \"==3.*.*\"\n",
    b"[project]\nrequires-python = \">3.99999999999999999999999\"\n",
    b"[project]\nrequires-python = \">=3.13,<3.12\"\n",
    b"[project]\nrequires-python = \"===weird\"\n", b"[project]\nrequires-python = 3.13\n",
    b"[project]\nrequires-python = [\">=3.9\"]\n", b"[project]\nrequires-python = \"\\u0000\"\n",
    b"[project]\nrequires-python = \">=3.9, !=3.13.*, <4\"\n", b"requires-python = \">=3.8\"\n", b"[project\n",
    b"[[project]]\n", b"project = 1\n", b"[tool.ftaudit]\nselect = [\"FT1\"]\n",
    b"[tool.cibuildwheel]\nfree-threaded-support = true\n",
    b"[build-system]\nrequires = [\"cython>=3.1\", \"meson-python\"]\nbuild-backend = \"mesonpy\"\n",
    b"[dependencies]\npyo3 = { version = \"0.23.0\", features = [\"abi3-py38\", \"extension-module\"] }\n",
    b"[dependencies]\npyo3 = \"*\"\n", b"[dependencies.pyo3]\nversion = \">=0.22, <0.24\"\n",
    b"[dependencies]\npyo3 = { git = \"https://example.invalid/pyo3\" }\n", b"[dependencies]\npyo3 = \"0.x\"\n",
    b"[dependencies]\npyo3 = \"^0.20\"\n", b"[workspace.dependencies]\npyo3 = \"0.21\"\n", b"a = \"\"\"\n",
    b"x = 1979-05-27T07:32:00Z\n", b"x = inf\ny = nan\n", b"big = " + b"9" * 4400 + b"\n",
    b"[dependencies]\npyo3 = 1\n", b"[dependencies]\npyo3 = { version = [] }\n", b"[dependencies]\npyo3 = []\n",
    b"[dependencies]\npyo3 = { version = \"0.23\", features = \"abi3\" }\n",
    b"[dependencies]\npyo3 = { workspace = true }\n",
    b"[project]\nrequires-python = { a = 1 }\n", b"[tool]\nftaudit = 3\n", b"[project.optional-dependencies]\nx = 1\n",
    b"'quoted key' = { a = { b = { c = [[[[1]]]] } } }\n",
]
CMAKE_SNIPPETS = [
    b"nanobind_add_module(_x FREE_THREADED NB_STATIC src/x.cpp)\n", b"nanobind_add_module(_y src/y.cpp)\n",
    b"pybind11_add_module(geo geometry.cpp)\n", b"Python_add_library(x MODULE WITH_SOABI x.c)\n",
    b"nanobind_add_module(\n", b"set(X ${Y\n", b"message([==[ bracket ]=] still ]==])\n", b"#[[ block\ncomment\n",
    b"if(A)\n" * 40 + b"endif()\n" * 35, b"add_library(${NAME} ${${NAME}_SRCS})\n",
    b"nanobind_add_module(${n} FREE_THREADED)\n",
]
MESON_SNIPPETS = [
    b"py.extension_module('x', 'x.c', install: true, limited_api: '3.13')\n",
    b"py.extension_module('y', ['y.pyx'], cython_args: ['-X', 'freethreading_compatible=False'])\n",
    b"add_project_arguments('-DPy_GIL_DISABLED', language: 'c')\n", b"x = '''\n", b"foreach x : [\n",
    b"if get_option('ft')\n", b"endif\n", b"py.extension_module(\n", b"a = [" * 200 + b"]" * 200 + b"\n",
]
RUST_SNIPPETS = [
    b"#[pymodule(gil_used = false)]\nfn m(m: &Bound<'_, PyModule>) -> PyResult<()> { Ok(()) }\n",
    b"#[pymodule(gil_used = true)]\n", b"#[pymodule]\nfn legacy(_py: Python, m: &PyModule) -> PyResult<()> {\n",
    b"let s = r#\"raw \"# string\"#;\n", b"/* outer /* inner */ still comment\n", b"let c = '\\u{10FFFF}';\n",
    b"fn f<'a>(x: &'a str) -> &'a str { x }\n", b"macro_rules! m { ($($t:tt)*) => { $($t)* } }\n",
    b"#[pyclass(frozen)]\nstruct S { v: GILOnceCell<u8> }\n", b"#![allow(unused)]\n",
]
GENERIC_SNIPPETS = [
    b"\x1b[31mred\x1b[0m", b"\x1b]8;;http://example.invalid\x07link\x1b]8;;\x07", b"\x1b[2J\x1b[H", b"\x07\x08\x7f",
    b"\x0c", b"\x0b", b"\r", b"\t\t\t", b"\xe2\x80\xae", b"\xe2\x80\xa8", b"\xc2\x85", b"\xef\xbb\xbf", b"\xe2\x80\x8b",
    b"\xf0\x9f\x90\x8d", b"\xe4\xb8\xad\xe6\x96\x87", b"e\xcc\x81", b"\xef\xbf\xbd", b"\xff", b"\xc0\x80",
    b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80", b"\xfe\xff", b"\x00",
]


def _generic_snippet(rng: random.Random) -> bytes:
    return b"".join(rng.choice(GENERIC_SNIPPETS) for _ in range(rng.randint(1, 4)))


def _flavoured(rng: random.Random, lang: str) -> bytes:
    """A CPython-flavoured structure in the file's own language (sometimes in another one)."""
    if rng.random() < 0.1:
        lang = rng.choice(["c", "python", "cython", "toml", "cmake", "meson", "rust"])
    if lang == "c":
        return rng.choice([_c_directives, _c_guarded_block, _c_snippet_cpython, _c_deep, _c_long,
                           lambda r: r.choice(C_DEFINES), lambda r: r.choice(C_INCLUDES),
                           lambda r: r.choice(C_UNTERMINATED)])(rng)
    if lang == "python":
        return rng.choice([_py_deep, _py_long, lambda r: r.choice(PY_SNIPPETS)])(rng)
    if lang == "cython":
        return rng.choice([_py_deep, lambda r: r.choice(CYTHON_SNIPPETS), lambda r: r.choice(PY_SNIPPETS)])(rng)
    table = {"toml": TOML_SNIPPETS, "cmake": CMAKE_SNIPPETS, "meson": MESON_SNIPPETS, "rust": RUST_SNIPPETS}[lang]
    if rng.random() < 0.2:
        return _nest(rng, b"[" if lang != "rust" else b"{", b"]" if lang != "rust" else b"}", b"1", 20, 5000) + b"\n"
    return rng.choice(table)


@dataclass
class MutationContext:
    name: str  # the file's name (decides the dialect)
    seeds: Sequence[Seed]
    tokens: Sequence[bytes]


def m_truncate(rng: random.Random, data: bytes, ctx: MutationContext) -> bytes:
    return data[:rng.randrange(len(data) + 1)] if data else data


def m_flip(rng: random.Random, data: bytes, ctx: MutationContext) -> bytes:
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(_size(rng, 1, 64)):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def m_burst(rng: random.Random, data: bytes, ctx: MutationContext) -> bytes:
    burst = bytes(rng.randrange(256) for _ in range(_size(rng, 1, 300)))
    spot = rng.randrange(len(data) + 1)
    if rng.random() < 0.5 and data:  # overwrite instead of insert
        return data[:spot] + burst + data[spot + len(burst):]
    return data[:spot] + burst + data[spot:]


def m_splice(rng: random.Random, data: bytes, ctx: MutationContext) -> bytes:
    other = rng.choice(ctx.seeds).data
    return data[:rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1):]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def m_lines(rng: random.Random, data: bytes, ctx: MutationContext) -> bytes:
    """Duplicate, delete, move or repeat a range of lines."""
    lines = _lines(data)
    if not lines:
        return data
    start = rng.randrange(len(lines))
    end = min(len(lines), start + _size(rng, 1, 200))
    chunk = lines[start:end]
    action = rng.randrange(4)
    if action == 0:
        return b"".join(lines[:end] + chunk + lines[end:])
    if action == 1:
        return b"".join(lines[:start] + lines[end:])
    if action == 2:
        rest = lines[:start] + lines[end:]
        spot = rng.randrange(len(rest) + 1)
        return b"".join(rest[:spot] + chunk + rest[spot:])
    return b"".join(lines[:end] + chunk * _size(rng, 2, 200) + lines[end:])


def m_token(rng: random.Random, data: bytes, ctx: MutationContext) -> bytes:
    """Replace or insert tokens taken from the whole seed corpus."""
    matches = list(re.finditer(rb"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]", data[:200_000]))
    for _ in range(_size(rng, 1, 30)):
        token = rng.choice(ctx.tokens)
        if matches and rng.random() < 0.7:
            m = rng.choice(matches)
            data = data[:m.start()] + token + data[m.end():]
            matches = list(re.finditer(rb"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]", data[:200_000]))
        else:
            spot = rng.randrange(len(data) + 1)
            data = data[:spot] + b" " + token + b" " + data[spot:]
    return data


def m_flavoured(rng: random.Random, data: bytes, ctx: MutationContext) -> bytes:
    return _insert(rng, data, _flavoured(rng, language(ctx.name)))


def m_generic(rng: random.Random, data: bytes, ctx: MutationContext) -> bytes:
    spot = rng.randrange(len(data) + 1)
    return data[:spot] + _generic_snippet(rng) + data[spot:]


def m_line_endings(rng: random.Random, data: bytes, ctx: MutationContext) -> bytes:
    unix = data.replace(b"\r\n", b"\n")
    choice = rng.randrange(5)
    if choice == 0:
        return unix.replace(b"\n", b"\r")
    if choice == 1:
        return unix.replace(b"\n", b"\r\n")
    if choice == 2:
        return b"".join(line + rng.choice([b"\n", b"\r\n", b"\r", b"\r\r\n", b"\n\r"])
                        for line in unix.split(b"\n"))
    if choice == 3:
        return unix.replace(b"\n", rng.choice([b"\x0c\n", b"\x0b", b"\xe2\x80\xa8", b"\xc2\x85", b"\x1c", b"\x0c"]))
    return unix.rstrip(b"\n")  # no final newline


def m_encoding(rng: random.Random, data: bytes, ctx: MutationContext) -> bytes:
    """BOMs, whole-file re-encodings, coding cookies, late NUL bytes."""
    choice = rng.randrange(8)
    if choice == 0:
        return rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\xef\xbb\xbf\xef\xbb\xbf"]
                          ) + data
    if choice == 1:
        text = data.decode("utf-8", "replace")
        return text.encode(rng.choice(["utf-16", "utf-16-le", "utf-32", "utf-7"]), "replace")
    if choice == 2:
        text = data.decode("utf-8", "replace") + "\n# \u00e9\u00e8 caf\u00e9 \u00ff\n"
        return text.encode("latin-1", "replace")
    if choice in (3, 4) and language(ctx.name) in ("python", "cython"):
        return _py_cookie(rng, data)
    if choice == 5:
        # Past the 8 KiB binary sniff, so the file is analysed with the NUL in it.
        pad = (b"// " if language(ctx.name) in ("c", "rust") else b"# ") + b"p" * 80 + b"\n"
        padded = pad * (BINARY_SNIFF // len(pad) + 1) + data
        spot = rng.randrange(BINARY_SNIFF + 1, len(padded) + 1)
        return padded[:spot] + rng.choice([b"\x00", b'#include "x\x00y"\n', b"x\x00", b"\x00" * 9]) + padded[spot:]
    if choice == 6:
        text = data.decode("utf-8", "replace")
        return text.encode("utf-8", "surrogatepass") + b"\xed\xb2\x80" + bytes([0xC3])
    return data.replace(b" ", b"\t") if rng.random() < 0.5 else data.replace(b"    ", b"\t", rng.randrange(1, 50))


def m_huge(rng: random.Random, data: bytes, ctx: MutationContext) -> bytes:
    """Huge identifiers, very long lines, long literals."""
    n = _size(rng, 1000, 400_000)
    choice = rng.randrange(5)
    lang = language(ctx.name)
    if choice == 0:
        text = (b"static int " if lang == "c" else b"") + b"a" * n + (b";\n" if lang == "c" else b" = 1\n")
    elif choice == 1:
        text = (b"// " if lang in ("c", "rust") else b"# ") + b"x" * n + b"\n"
    elif choice == 2:
        text = b'const char *s = "' + b"y" * n + b'";\n' if lang == "c" else b's = "' + b"y" * n + b'"\n'
    elif choice == 3:
        digits = b"9" * min(n, 20000)
        text = b"int big = " + digits + b";\n" if lang == "c" else b"big = " + digits + b"\n"
    else:
        text = b" " * n + b"x\n"
    return _insert(rng, data, text)


MUTATORS: list[tuple[Callable[[random.Random, bytes, MutationContext], bytes], int]] = [
    (m_truncate, 6), (m_flip, 6), (m_burst, 6), (m_splice, 5), (m_lines, 8), (m_token, 8), (m_flavoured, 30),
    (m_generic, 6), (m_line_endings, 6), (m_encoding, 7), (m_huge, 4),
]


def mutate(rng: random.Random, data: bytes, ctx: MutationContext) -> tuple[bytes, list[str]]:
    names = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        mutator = rng.choices([m for m, _ in MUTATORS], weights=[w for _, w in MUTATORS])[0]
        data = mutator(rng, data, ctx)
        names.append(mutator.__name__[2:])
        if len(data) > MAX_CASE_BYTES:
            data = data[:MAX_CASE_BYTES]
    return data, names


ODD_STEMS = ["with space", "ünï©ødé", "日本", "%20", "a#b", "semi;colon", "quote'\"", "-dash", ".hidden", "x" * 200,
             "back\\slash", "tab\tname", "new\nline", "\x1b[31mesc", "emoji\U0001f40d"]


def _rename(rng: random.Random, rel: str) -> str:
    """Give the mutated file an odd name, keeping what decides its language."""
    path = Path(rel)
    if path.name in BUILD_NAMES:
        return rel
    stem = rng.choice(ODD_STEMS)
    suffix = path.suffix
    if suffix == ".c" and rng.random() < 0.3:
        suffix = rng.choice([".c.src", ".h", ".C", ".hxx"])
    return (path.parent / f"{stem}{suffix}").as_posix()


# -- cases ------------------------------------------------------------------------------------------
@dataclass
class Case:
    ident: str
    files: dict[str, bytes]  # relative path -> content
    origin: str
    recipe: list[str]

    def write(self, root: Path) -> None:
        for rel, data in self.files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    @property
    def size(self) -> int:
        return sum(len(d) for d in self.files.values())


class Corpus:
    def __init__(self, seeds: Sequence[Seed] | None = None) -> None:
        self.seeds = list(seeds) if seeds is not None else load_seeds()
        found: set[bytes] = set()
        for seed in self.seeds:
            found.update(re.findall(rb"[A-Za-z_][A-Za-z0-9_]{0,40}|\d{1,12}|[^\sA-Za-z0-9_]{1,3}", seed.data))
        self.tokens = sorted(found)

    def case(self, seed: int, index: int) -> Case:
        """The index-th case of a seed: the same bytes every time, whatever ran before it."""
        rng = random.Random(f"ftaudit-fuzz:{seed}:{index}")
        chosen = rng.choice(self.seeds)
        rel = chosen.rel
        files: dict[str, bytes] = {}
        if chosen.project and rng.random() < 0.35:
            for other_rel, other in chosen.project:
                files[other_rel] = other
        data, recipe = mutate(rng, chosen.data, MutationContext(Path(rel).name, self.seeds, self.tokens))
        if rng.random() < 0.04:
            rel = _rename(rng, rel)
            recipe.append("rename")
        files[rel] = data
        if len(files) > 1 and rng.random() < 0.25:  # a second mutated file in the project
            other_rel = rng.choice(sorted(k for k in files if k != rel))
            files[other_rel], more = mutate(rng, files[other_rel],
                                            MutationContext(Path(other_rel).name, self.seeds, self.tokens))
            recipe.append(f"{other_rel}:" + "+".join(more))
        return Case(f"c{index:06d}", files, chosen.origin, recipe)


# -- running ----------------------------------------------------------------------------------------
@dataclass
class Limits:
    seconds: float = 30.0  # wall time per subprocess: over it is a hang
    memory_mb: int = 2048  # RLIMIT_AS of the subprocess
    rss_mb: int = 1024  # peak resident set over it is a memory failure even without a MemoryError
    full_report: bool = False  # also render the `full` terminal report in a second run
    html: bool = True
    # A batch slower than this has each case rerun alone under this budget: one file that takes
    # longer is a failure (superlinear time), without waiting for the hang budget. None: off.
    file_seconds: float | None = None


@dataclass
class RunResult:
    command: list[str]
    returncode: int | None
    stdout: bytes
    stderr: str
    sarif: bytes | None
    html: bytes | None
    elapsed: float
    max_rss_kb: int
    timed_out: bool
    full_returncode: int | None = None
    full_stderr: str = ""

    @property
    def files_scanned(self) -> int | None:
        """How many files the scan analysed, from `-v` (None when the line is missing)."""
        match = _SCANNED.search(self.stderr)
        return int(match.group(1)) if match else None


_SCANNED = re.compile(r"(\d+) files? scanned")


def _preexec(memory_mb: int) -> Callable[[], None]:
    limit = memory_mb * 1024 * 1024

    def apply() -> None:  # runs in the child between fork and exec: only async-signal-safe-ish calls
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTAUDIT_", "PYTEST_", "COV_"))}
    env.pop("PRE_COMMIT", None)
    for name in ("NO_COLOR", "FORCE_COLOR", "PYTHONWARNINGS"):
        env.pop(name, None)
    env["PYTHONFAULTHANDLER"] = "1"
    return env


def _spawn(args: list[str], cwd: Path, out: Path, err: Path, limits: Limits) -> tuple[int | None, float, int, bool]:
    """Run one child with its output in files; returns (returncode, elapsed, max_rss_kb, timed_out)."""
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                env=_child_env(), preexec_fn=_preexec(limits.memory_mb), start_new_session=True)
    deadline = started + limits.seconds
    timed_out = False
    delay = 0.005
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline and not timed_out:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGABRT)  # faulthandler prints where it was stuck
            pid, status, usage = _wait_or_kill(proc.pid)
            break
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not try to reap it again
    elapsed = time.monotonic() - started
    return (None if timed_out else proc.returncode), elapsed, usage.ru_maxrss, timed_out


def _wait_or_kill(pid: int) -> tuple[int, int, Any]:
    grace = time.monotonic() + 3.0
    while time.monotonic() < grace:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            return got, status, usage
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return os.wait4(pid, 0)


def scan_command(target: str | None, sarif: Path, html: Path | None) -> list[str]:
    args = [sys.executable, "-X", "faulthandler", "-m", "ftaudit", "scan", ".", "--no-cache", "-j1", "--select", "ALL",
            "--scan-generated", "--no-respect-gitignore", "-v", "--output-format", "json", "--sarif-output", str(sarif)]
    if html is not None:
        args += ["--html-output", str(html)]
    if target:
        args += ["--target-version", target]
    return args


def run_tree(tree: Path, work: Path, limits: Limits, target: str | None = None) -> RunResult:
    """Scan ``tree`` with the real CLI under the limits; reports are written to ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    sarif, html = work / "out.sarif", (work / "out.html" if limits.html else None)
    for stale in (sarif, html):
        if stale is not None and stale.exists():
            stale.unlink()
    args = scan_command(target, sarif, html)
    code, elapsed, rss, timed_out = _spawn(args, tree, work / "stdout", work / "stderr", limits)
    result = RunResult(args, code, (work / "stdout").read_bytes(),
                       (work / "stderr").read_bytes().decode("utf-8", "replace"),
                       sarif.read_bytes() if sarif.exists() else None,
                       html.read_bytes() if html is not None and html.exists() else None, elapsed, rss, timed_out)
    if limits.full_report and not timed_out and code in (0, 1):
        full = [sys.executable, "-X", "faulthandler", "-m", "ftaudit", "scan", ".", "--no-cache", "-j1", "--select",
                "ALL", "--scan-generated", "--no-respect-gitignore", "--output-format", "full", "--color", "always",
                "-v"]
        if target:
            full += ["--target-version", target]
        fcode, felapsed, frss, ftimed = _spawn(full, tree, work / "full.out", work / "full.err", limits)
        result.full_returncode = None if ftimed else fcode
        result.full_stderr = (work / "full.err").read_bytes().decode("utf-8", "replace")
        result.elapsed = max(result.elapsed, felapsed)
        result.max_rss_kb = max(result.max_rss_kb, frss)
        result.timed_out = result.timed_out or ftimed
    return result


# -- oracle -----------------------------------------------------------------------------------------
class Schemas:
    """The JSON Schemas the outputs must satisfy (loaded once, shared by the threads)."""

    def __init__(self) -> None:
        import jsonschema

        findings = json.loads(FINDINGS_SCHEMA.read_text("utf-8"))
        self.findings = jsonschema.validators.validator_for(findings)(findings)
        self.lock = threading.Lock()  # validators cache resolved references: one thread at a time
        self.sarif = None
        self.sarif_path: Path | None = None
        for candidate in SARIF_SCHEMAS:
            if candidate.is_file():
                schema = json.loads(candidate.read_text("utf-8"))
                jsonschema.Draft4Validator.check_schema(schema)
                self.sarif = jsonschema.Draft4Validator(schema)
                self.sarif_path = candidate
                break
        self.note = ("" if self.sarif is not None else
                     "SARIF schema not found (tests/data/): SARIF is only checked to be JSON")


_FRAME = re.compile(r'File "([^"]+)", line (\d+)(?:,)? in (\S+)')
_FAULT_FRAME = re.compile(r'File "([^"]+)", line (\d+) in (\S+)')
_INTERNAL = re.compile(r"internal-error(?: \[(?P<rule>[^\]]+)\])?: (?:rule|project check) raised "
                       r"(?P<exc>[\w.]+)(?P<msg>.*?)(?: \((?P<where>[^()]+:\d+)\))?$", re.MULTILINE)


def _ours(path: str) -> bool:
    p = path.replace("\\", "/")
    return "/ftaudit/" in p or "/rules/" in p or p.startswith(str(REPO))


def _short(path: str) -> str:
    with contextlib.suppress(ValueError):
        return Path(path).resolve().relative_to(REPO).as_posix()
    return Path(path).name


def _traceback_signature(stderr: str) -> tuple[str, str] | None:
    """(exception type, innermost ftaudit frame) of the last Python traceback in stderr."""
    index = stderr.rfind("Traceback (most recent call last):")
    if index < 0:
        return None
    block = stderr[index:]
    frames = _FRAME.findall(block)
    ours = [f for f in frames if _ours(f[0])] or frames
    where = f"{_short(ours[-1][0])}:{ours[-1][1]} in {ours[-1][2]}" if ours else "?"
    exc = "?"
    for line in block.splitlines()[1:]:
        if line and not line.startswith((" ", "\t")) and not line.startswith("Traceback"):
            if line.startswith(("During handling", "The above exception")):
                continue
            exc = line.split(":", 1)[0].strip()
            break
    return exc, where


def _fault_location(stderr: str) -> str:
    """Where faulthandler saw the main thread (most recent call first): the innermost ftaudit frame."""
    index = stderr.find("most recent call first")
    if index < 0:
        return "?"
    frames = _FAULT_FRAME.findall(stderr[index:])
    ours = [f for f in frames if _ours(f[0])]
    if not ours:
        return "?" if not frames else f"{_short(frames[0][0])} in {frames[0][2]}"
    return f"{_short(ours[0][0])} in {ours[0][2]}"


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    signature: str = ""
    signatures: list[str] = field(default_factory=list)  # of every problem, the first one is `signature`
    stderr: str = ""  # the tail of the run's stderr, for the reproducer's reason.txt

    @property
    def ok(self) -> bool:
        return not self.problems


def judge(result: RunResult, schemas: Schemas, limits: Limits) -> Verdict:
    """Everything wrong with one run; the signature names the first (worst) problem."""
    verdict = Verdict()
    signatures: list[str] = []

    def problem(signature: str, text: str) -> None:
        signatures.append(signature)
        verdict.problems.append(text)

    stderr = result.stderr + ("\n" + result.full_stderr if result.full_stderr else "")
    if result.timed_out:
        where = _fault_location(stderr)
        problem(f"timeout @ {where}", f"hung: over the {limits.seconds:.0f} s budget (faulthandler: {where})")
    elif result.returncode is not None and result.returncode < 0:
        name = signal.Signals(-result.returncode).name if -result.returncode in signal.valid_signals() else "?"
        problem(f"signal {name} @ {_fault_location(stderr)}", f"killed by signal {name}")
    tb = _traceback_signature(stderr)
    if tb is not None:
        problem(f"{tb[0]} @ {tb[1]}", f"traceback on stderr: {tb[0]} at {tb[1]}")
    for m in _INTERNAL.finditer(stderr):
        where = m.group("where") or (f"project check {m.group('rule')}" if "project check" in m.group(0) else "?")
        problem(f"{m.group('exc')} @ {where}", f"internal-error diagnostic: {m.group(0).strip()}")
    if not result.timed_out and result.returncode not in (0, 1) and (result.returncode or 0) >= 0:
        first = next((line for line in stderr.splitlines() if "error" in line), stderr.strip()[:200])
        problem(f"exit {result.returncode}: {_generalise(first)}", f"exit status {result.returncode}: {first}")
    if result.full_returncode not in (None, 0, 1):
        problem(f"full report exit {result.full_returncode}", f"`--output-format full` exited {result.full_returncode}")
    if "internal-error" in stderr and not any(s for s in signatures if "@" in s):
        problem("internal-error (unparsed)", "`internal-error` on stderr")
    if result.max_rss_kb > limits.rss_mb * 1024:
        problem(f"memory @ {_fault_location(stderr)}", f"peak RSS {result.max_rss_kb // 1024} MiB is over the "
                f"{limits.rss_mb} MiB budget")
    if not result.timed_out and result.returncode in (0, 1):
        try:
            document = json.loads(result.stdout)
        except ValueError as exc:
            problem("stdout not JSON", f"stdout is not JSON: {exc}; starts {result.stdout[:200]!r}")
        else:
            with schemas.lock:
                errors = list(schemas.findings.iter_errors(document))[:3]
            if errors:
                problem(f"findings schema: {_schema_key(errors[0])}", "JSON output violates findings.schema.json: "
                        + "; ".join(_schema_text(e) for e in errors))
        if result.sarif is None:
            problem("no SARIF", "--sarif-output wrote nothing")
        else:
            try:
                sarif = json.loads(result.sarif)
            except ValueError as exc:
                problem("SARIF not JSON", f"SARIF is not JSON: {exc}")
            else:
                if schemas.sarif is not None:
                    with schemas.lock:
                        errors = list(schemas.sarif.iter_errors(sarif))[:3]
                    if errors:
                        problem(f"SARIF schema: {_schema_key(errors[0])}", "SARIF violates the 2.1.0 schema: "
                                + "; ".join(_schema_text(e) for e in errors))
        if limits.html and (result.html is None or b"</html>" not in result.html[-4096:].lower()):
            problem("HTML report incomplete", "--html-output did not write a complete document")
    verdict.signature = signatures[0] if signatures else ""
    verdict.signatures = list(dict.fromkeys(signatures))
    verdict.stderr = stderr[-20000:] if signatures else ""
    return verdict


def _schema_key(error: Any) -> str:
    path = "/".join("*" if isinstance(p, int) else str(p) for p in error.absolute_path)
    return f"{path or '/'} {error.validator}"


def _schema_text(error: Any) -> str:
    return f"{'/'.join(map(str, error.absolute_path)) or '/'}: {error.message[:300]}"


def _generalise(line: str) -> str:
    """A stderr line without its file names and numbers, to group failures."""
    line = re.sub(r"^ftaudit: (error|warning): [^:]*: ", "", line)
    return re.sub(r"\d+", "N", line)[:120]


# -- the fuzzer -------------------------------------------------------------------------------------
@dataclass
class Failure:
    signature: str
    problems: list[str]
    folder: Path  # the saved reproducer (a tree to scan, plus reason.txt)
    cases: list[str]
    count: int = 1
    command: str = ""

    def describe(self) -> str:
        return (f"{self.signature}\n    reproducer: {self.folder / 'tree'} ({self.count} hit"
                f"{'s' if self.count != 1 else ''})\n    " + "\n    ".join(self.problems[:4]))


@dataclass
class Report:
    batches: int = 0
    cases: int = 0
    elapsed: float = 0.0
    slowest: float = 0.0
    max_rss_kb: int = 0
    batch_seconds: dict[int, float] = field(default_factory=dict)  # first run of each batch
    batch_rss_mib: dict[int, int] = field(default_factory=dict)
    files: int = 0  # files written into the batches
    scanned: int = 0  # files the scans said they analysed (`-v`), for batches that finished
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.cases} cases in {self.batches} batches, {self.elapsed:.1f} s; {self.scanned} of {self.files} "
                 f"files analysed; slowest batch "
                 f"{self.slowest:.1f} s; peak RSS {self.max_rss_kb // 1024} MiB; "
                 f"{len(self.failures)} distinct failure{'s' if len(self.failures) != 1 else ''}"]
        lines += self.notes
        lines += [f"  {f.describe()}" for f in self.failures]
        return "\n".join(lines)


class Fuzzer:
    def __init__(self, *, seed: int, out: Path, limits: Limits | None = None, corpus: Corpus | None = None,
                 batch_size: int = 12, workers: int = 0, minimise_seconds: float = 60.0,
                 log: Callable[[str], None] | None = None,
                 runner: Callable[[Path, Path, Limits, str | None], RunResult] | None = None,
                 schemas: Schemas | None = None) -> None:
        self.seed = seed
        self.out = out
        self.limits = limits or Limits()
        self.corpus = corpus or Corpus()
        self.batch_size = batch_size
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.minimise_seconds = minimise_seconds
        self.log = log or (lambda text: None)
        self.runner = runner or run_tree
        self.schemas = schemas or Schemas()
        self.report = Report()
        self._lock = threading.Lock()
        self._by_signature: dict[str, Failure] = {}
        self._scratch: Path | None = None  # made on first use, removed by close()
        self._counter = 0
        if self.schemas.note:
            self.report.notes.append(self.schemas.note)

    # batches ---------------------------------------------------------------------------------------
    def target_for(self, batch: int) -> str | None:
        return TARGETS[batch % len(TARGETS)]

    def batch_cases(self, batch: int) -> list[Case]:
        first = batch * self.batch_size
        return [self.corpus.case(self.seed, i) for i in range(first, first + self.batch_size)]

    def _scratch_dir(self, label: str) -> Path:
        with self._lock:
            if self._scratch is None:
                self._scratch = Path(tempfile.mkdtemp(prefix="ftaudit-fuzz-"))
            self._counter += 1
            folder = self._scratch / f"{self._counter:06d}-{label}"
        folder.mkdir(parents=True)
        return folder

    def run_cases(self, cases: Sequence[Case], target: str | None, label: str,
                  limits: Limits | None = None) -> tuple[RunResult, Verdict]:
        limits = limits or self.limits
        folder = self._scratch_dir(label)
        tree = folder / "tree"
        tree.mkdir()
        (tree / "ftaudit.toml").write_text("# ftaudit fuzz batch: the root; configuration defaults\n")
        for case in cases:
            case.write(tree / case.ident)
        result = self.runner(tree, folder / "work", limits, target)
        verdict = judge(result, self.schemas, limits)
        if verdict.ok:
            shutil.rmtree(folder, ignore_errors=True)
        return result, verdict

    def run_batch(self, batch: int) -> None:
        cases = self.batch_cases(batch)
        target = self.target_for(batch)
        result, verdict = self.run_cases(cases, target, f"b{batch}")
        with self._lock:
            self.report.batches += 1
            self.report.cases += len(cases)
            self.report.slowest = max(self.report.slowest, result.elapsed)
            self.report.batch_seconds[batch] = round(result.elapsed, 2)
            self.report.batch_rss_mib[batch] = result.max_rss_kb // 1024
            if result.files_scanned is not None:
                self.report.files += sum(len(c.files) for c in cases)
                self.report.scanned += result.files_scanned
            self.report.max_rss_kb = max(self.report.max_rss_kb, result.max_rss_kb)
        if verdict.ok and self.limits.file_seconds and result.elapsed > self.limits.file_seconds:
            per_file = replace(self.limits, seconds=self.limits.file_seconds)
            self.log(f"batch {batch}: slow ({result.elapsed:.1f} s); timing its cases one by one")
            for case in cases:
                _, single = self.run_cases([case], target, case.ident, per_file)
                if not single.ok:
                    self.record([case], single, target, batch)
            return
        if verdict.ok:
            return
        with self._lock:
            known = [self._by_signature.get(s) for s in verdict.signatures]
            if all(known):  # seen before: count it, spend no budget isolating it again
                for failure in known:
                    failure.count += 1
                return
        self.log(f"batch {batch}: {verdict.signature}; isolating")
        for culprits, culprit_verdict in self.isolate(cases, target, verdict):
            self.record(culprits, culprit_verdict, target, batch)

    def isolate(self, cases: list[Case], target: str | None, verdict: Verdict) -> list[tuple[list[Case], Verdict]]:
        """The smallest failing groups of cases: single cases where the failure is one file's."""
        if len(cases) == 1:
            return [(cases, verdict)]
        if verdict.signature.startswith(("timeout", "memory", "signal")):
            found = []
            for case in cases:  # a hang costs a full budget: find it in one pass, not log2(n) passes
                _, single = self.run_cases([case], target, case.ident)
                if not single.ok:
                    found.append(([case], single))
            return found or [(cases, verdict)]
        half = len(cases) // 2
        found = []
        for part in (cases[:half], cases[half:]):
            _, part_verdict = self.run_cases(part, target, part[0].ident)
            if not part_verdict.ok:
                found.extend(self.isolate(part, target, part_verdict))
        if found:
            return found
        # Only fails together, or not at all any more: say which, and keep the group.
        _, again = self.run_cases(cases, target, "again")
        if again.ok:
            verdict.problems.append("did not fail again when the same cases were rerun: flaky, or the code "
                                    "changed while fuzzing")
        return [(cases, verdict)]

    # failures --------------------------------------------------------------------------------------
    def record(self, cases: list[Case], verdict: Verdict, target: str | None, batch: int) -> None:
        with self._lock:
            known = self._by_signature.get(verdict.signature)
            if known is not None:
                known.count += 1
                known.cases.extend(c.ident for c in cases)
                return
            failure = Failure(verdict.signature, verdict.problems, Path(), [c.ident for c in cases])
            self._by_signature[verdict.signature] = failure
            number = len(self._by_signature)
        original = [Case(c.ident, dict(c.files), c.origin, list(c.recipe)) for c in cases]
        final_verdict = verdict
        if len(cases) == 1 and self.minimise_seconds > 0:
            cases[0], final_verdict = self.minimise(cases[0], target, verdict)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", verdict.signature)[:80].strip("-")
        folder = self.out / "failures" / f"{number:03d}-{slug}"
        if folder.exists():
            shutil.rmtree(folder)
        self._save(folder / "tree", cases)
        if sum(c.size for c in cases) != sum(c.size for c in original):
            self._save(folder / "original", original)
        command = " ".join(_quote(a) for a in scan_command(target, Path("/tmp/out.sarif"),
                                                          Path("/tmp/out.html") if self.limits.html else None))
        failure.folder, failure.problems, failure.command = folder, final_verdict.problems or verdict.problems, command
        reason = [f"signature: {verdict.signature}",
                  f"seed: {self.seed}  batch: {batch}  target: {target or 'default'}",
                  f"cases: {', '.join(c.ident for c in original)}",
                  *(f"  {c.ident}: from {c.origin}; mutations {' '.join(c.recipe)}" for c in original),
                  "", "problems:", *(f"  {p}" for p in failure.problems), "",
                  f"reproduce: cd {folder / 'tree'} && {command.replace(sys.executable, 'python')}",
                  f"       or: python tools/fuzz.py --replay {folder / 'tree'}"
                  + (f" --target-version {target}" if target else ""), ""]
        (folder / "reason.txt").write_text("\n".join(reason) + "\n--- stderr of the failing run ---\n"
                                           + final_verdict.stderr, "utf-8")
        self.log(f"FAILURE {number:03d}: {verdict.signature} -> {folder}")

    def _save(self, tree: Path, cases: list[Case]) -> None:
        tree.mkdir(parents=True)
        (tree / "ftaudit.toml").write_text("# ftaudit fuzz batch: the root; configuration defaults\n")
        for case in cases:
            case.write(tree / case.ident)

    def _reproduces(self, case: Case, target: str | None, signature: str) -> Verdict | None:
        """The verdict on ``case`` alone when it fails the same way, else None. A hang only has to
        outlast a shorter budget (a sound case takes about a second), wherever it is caught."""
        if signature.startswith("timeout"):
            shorter = replace(self.limits, seconds=min(self.limits.seconds, HANG_SHRINK_SECONDS))
            _, verdict = self.run_cases([case], target, "min", shorter)
            return verdict if verdict.signature.startswith("timeout") else None
        _, verdict = self.run_cases([case], target, "min")
        return verdict if verdict.signature == signature else None

    def minimise(self, case: Case, target: str | None, verdict: Verdict) -> tuple[Case, Verdict]:
        """Drop files, then chunks of lines, then chunks of bytes, while the failure keeps its signature."""
        deadline = time.monotonic() + self.minimise_seconds
        best = Case(case.ident, dict(case.files), case.origin, list(case.recipe))
        best_verdict = self._reproduces(best, target, verdict.signature)
        if best_verdict is None:  # flaky or depends on the batch around it
            return case, verdict
        for rel in sorted(best.files, key=lambda r: len(best.files[r])):
            if len(best.files) == 1 or time.monotonic() > deadline:
                break
            trial = Case(best.ident, {k: v for k, v in best.files.items() if k != rel}, best.origin, best.recipe)
            got = self._reproduces(trial, target, verdict.signature)
            if got is not None:
                best, best_verdict = trial, got
        for rel in sorted(best.files, key=lambda r: -len(best.files[r])):
            for split in (_lines, lambda d: [d[i:i + 1] for i in range(len(d))] if len(d) <= 4096 else
                          [d[i:i + 64] for i in range(0, len(d), 64)]):
                units = split(best.files[rel])
                chunks = 2
                while len(units) >= 2 and time.monotonic() < deadline:
                    size = max(1, len(units) // chunks)
                    removed = False
                    for start in range(0, len(units), size):
                        if time.monotonic() > deadline:
                            break
                        candidate = units[:start] + units[start + size:]
                        trial = Case(best.ident, {**best.files, rel: b"".join(candidate)}, best.origin, best.recipe)
                        got = self._reproduces(trial, target, verdict.signature)
                        if got is not None:
                            best, best_verdict, units, removed = trial, got, candidate, True
                            chunks = max(chunks - 1, 2)
                            break
                    if not removed:
                        if size == 1:
                            break
                        chunks = min(chunks * 2, len(units))
        return best, best_verdict

    # driving ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Remove the scratch folders (saved failures stay in ``out``)."""
        with self._lock:
            scratch, self._scratch = self._scratch, None
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    def run(self, *, batches: int | None = None, seconds: float | None = None, first_batch: int = 0) -> Report:
        """Run a fixed number of batches (deterministic), or as many as fit in ``seconds``."""
        started = time.monotonic()
        deadline = started + seconds if seconds is not None else None
        numbers: Iterator[int] = iter(range(first_batch, first_batch + batches)) if batches is not None else \
            _count(first_batch)
        try:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                pending = set()
                for number in numbers:
                    if deadline is not None and time.monotonic() > deadline:
                        break
                    pending.add(pool.submit(self.run_batch, number))
                    while len(pending) >= self.workers * 2:
                        done = next(iter(_wait_first(pending)))
                        pending.discard(done)
                        done.result()
                        if self.report.batches and self.report.batches % 50 == 0:
                            self.log(f"{self.report.cases} cases, {len(self._by_signature)} distinct failures, "
                                     f"{time.monotonic() - started:.0f} s")
                for future in pending:
                    future.result()
        finally:
            self.report.elapsed = time.monotonic() - started
            self.report.failures = list(self._by_signature.values())
            self.close()
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "summary.json").write_text(json.dumps({
            "seed": self.seed, "batches": self.report.batches, "cases": self.report.cases,
            "files": self.report.files, "files_analysed": self.report.scanned,
            "elapsed": round(self.report.elapsed, 1), "slowest_batch": round(self.report.slowest, 2),
            "peak_rss_mib": self.report.max_rss_kb // 1024, "notes": self.report.notes,
            "batch_seconds": dict(sorted(self.report.batch_seconds.items())),
            "batch_rss_mib": dict(sorted(self.report.batch_rss_mib.items())),
            "failures": [{"signature": f.signature, "count": f.count, "reproducer": str(f.folder / "tree"),
                          "problems": f.problems, "cases": f.cases[:20]} for f in self.report.failures],
        }, indent=2) + "\n", "utf-8")
        return self.report


def _count(start: int) -> Iterator[int]:
    while True:
        yield start
        start += 1


def _wait_first(pending: set[Any]) -> set[Any]:
    from concurrent.futures import FIRST_COMPLETED, wait

    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    return done


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def replay(tree: Path, target: str | None, limits: Limits) -> Verdict:
    work = Path(tempfile.mkdtemp(prefix="ftaudit-replay-"))
    try:
        result = run_tree(tree, work, limits, target)
        verdict = judge(result, Schemas(), limits)
        print(result.stderr[-5000:], file=sys.stderr)
        print(f"exit {result.returncode}, {result.elapsed:.2f} s, peak RSS {result.max_rss_kb // 1024} MiB")
        return verdict
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to fuzz (default 600)")
    parser.add_argument("--batches", type=int, help="run exactly this many batches instead (deterministic)")
    parser.add_argument("--first-batch", type=int, default=0, help="start at this batch number")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"), help="where failures are saved")
    parser.add_argument("--batch-size", type=int, default=12, help="cases per subprocess")
    parser.add_argument("-j", "--workers", type=int, default=0, help="parallel subprocesses (default: CPU count)")
    parser.add_argument("--time-budget", type=float, default=30.0, help="seconds per subprocess before it is a hang")
    parser.add_argument("--file-seconds", type=float, default=10.0,
                        help="a batch slower than this has its cases timed alone; one over it fails (0: off)")
    parser.add_argument("--memory-mb", type=int, default=2048, help="RLIMIT_AS of each subprocess")
    parser.add_argument("--rss-mb", type=int, default=1024, help="peak RSS budget of each subprocess")
    parser.add_argument("--minimise-seconds", type=float, default=60.0, help="time to shrink each new failure")
    parser.add_argument("--full-report", action="store_true", help="also render the full terminal report")
    parser.add_argument("--no-html", action="store_true", help="do not write the HTML report")
    parser.add_argument("--replay", type=Path, help="run the oracle on one saved tree and exit")
    parser.add_argument("--target-version", help="with --replay: the target the failure was found with")
    parser.add_argument("--show-case", type=int, metavar="INDEX", help="print the files of one case and exit")
    parser.add_argument("--time-batch", type=int, metavar="N", help="scan each case of batch N alone; print times")
    args = parser.parse_args(argv)
    limits = Limits(args.time_budget, args.memory_mb, args.rss_mb, args.full_report, not args.no_html,
                    args.file_seconds or None)
    if args.replay is not None:
        verdict = replay(args.replay, args.target_version, limits)
        print("OK" if verdict.ok else "FAIL " + verdict.signature + "\n  " + "\n  ".join(verdict.problems))
        return 0 if verdict.ok else 1
    if args.show_case is not None:
        case = Corpus().case(args.seed, args.show_case)
        print(f"{case.ident} from {case.origin}: {' '.join(case.recipe)}")
        for rel, data in case.files.items():
            print(f"--- {rel} ({len(data)} bytes)\n{data[:2000]!r}")
        return 0
    fuzzer = Fuzzer(seed=args.seed, out=args.out, limits=limits, batch_size=args.batch_size, workers=args.workers,
                    minimise_seconds=args.minimise_seconds, log=lambda text: print(text, flush=True))
    if args.time_batch is not None:
        target = fuzzer.target_for(args.time_batch)
        try:
            for case in fuzzer.batch_cases(args.time_batch):
                result, verdict = fuzzer.run_cases([case], target, case.ident)
                print(f"{case.ident} {result.elapsed:6.2f} s {case.size:>8} B  {case.origin}: {' '.join(case.recipe)}"
                      f"{'' if verdict.ok else '  FAIL ' + verdict.signature}", flush=True)
        finally:
            fuzzer.close()
        return 0
    report = fuzzer.run(batches=args.batches, seconds=None if args.batches is not None else args.seconds,
                        first_batch=args.first_batch)
    print(report.summary())
    print(f"summary: {args.out / 'summary.json'}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
