"""FT407/FT408: CPython headers an extension must not include itself.

`Include/internal/pycore_*.h` is CPython's own implementation: since 3.8 each of those headers stops
the build unless `Py_BUILD_CORE` is defined, and what they declare changes in every release (coverage.py's
tracer, which included `internal/pycore_frame.h` from a local header, failed to build on 3.13).
`Include/cpython/*.h` is public, but `Python.h` includes it in the right order; most of those headers
`#error` when included on their own.
"""

from __future__ import annotations

import re
from pathlib import Path

from ftaudit.cmodel import CUnit, Tri
from ftaudit.cmodel.directives import Directive
from ftaudit.cmodel.includes import HeaderReader, find_header, included_name, quoted_include
from ftaudit.context import FileContext
from ftaudit.findings import Severity
from ftaudit.rule import Example, Rule
from ftaudit.source import Language

C_LANGUAGES = frozenset({Language.C, Language.CPP})
_INTERNAL = re.compile(r"^(?:.*/)?internal/(pycore_\w+\.h)$|^(pycore_\w+\.h)$")
_CPYTHON = re.compile(r"^cpython/(\w+\.h)$")
_CORE_DEFINES = ("Py_BUILD_CORE", "Py_BUILD_CORE_MODULE", "Py_BUILD_CORE_BUILTIN")
MAX_INCLUDE_DEPTH = 4  # project headers followed from the file
INTERNAL_DOCS = "https://docs.python.org/3/c-api/stable.html#c-api-stability"


def _includes(ctx: FileContext, pattern: re.Pattern[str]) -> list[tuple[Directive, re.Match[str]]]:
    unit = ctx.c_unit
    if unit is None:
        return []
    found = []
    for directive in unit.directives:
        if directive.kind != "include":
            continue
        match = pattern.match(included_name(directive))
        if match is not None:
            found.append((directive, match))
    return found


def _core_defines(unit: CUnit, ctx: FileContext) -> list[int]:
    """Offsets in the file where `Py_BUILD_CORE` becomes defined: its own compiled `#define`s, and
    compiled quoted includes of project headers that define it (a few levels deep)."""
    read = unit.read_header
    found = []
    for directive in unit.directives:
        if unit.compiled(directive.start, ctx.target) is Tri.NO:
            continue
        defines = directive.kind == "define" and directive.name in _CORE_DEFINES
        if defines or (directive.kind == "include" and read is not None and _header_defines_core(
                Path(unit.path).parent, quoted_include(directive), read, 0, set())):
            found.append(directive.start)
    return found


def _header_defines_core(folder: Path, name: str | None, read: HeaderReader, depth: int, seen: set[Path]) -> bool:
    place = find_header(folder, name, read) if name and depth < MAX_INCLUDE_DEPTH else None
    if place is None or place[0] in seen:
        return False
    seen.add(place[0])
    directives = place[1][0]
    return any(d.kind == "define" and d.name in _CORE_DEFINES for d in directives) or any(
        _header_defines_core(place[0].parent, quoted_include(d), read, depth + 1, seen)
        for d in directives if d.kind == "include")


class InternalHeaderInclude(Rule):
    code = "FT407"
    slug = "internal-header-include"
    summary = "Includes one of CPython's internal headers (`internal/pycore_*.h`)"
    severity = Severity.ERROR
    languages = C_LANGUAGES
    what = (
        "Finds `#include <internal/pycore_*.h>` and `#include \"internal/pycore_*.h\"` (also a bare "
        "`pycore_*.h`) in any C/C++ file or project header, where the target compiles it. Without a "
        "`#define Py_BUILD_CORE` (or `Py_BUILD_CORE_MODULE`/`_BUILTIN`) before it, in the file or a project "
        "header it includes, the build stops "
        "there: an error. With one, it compiles against one CPython release only: a warning. An include "
        "inside `#if PY_VERSION_HEX < …` that the target never compiles is not a finding."
    )
    why = (
        "Since 3.8 every internal header begins with `#ifndef Py_BUILD_CORE` / `#error`. Defining "
        "`Py_BUILD_CORE` to get past it makes the extension depend on CPython's private structures, which "
        "change in every minor release (`_PyInterpreterFrame`, `_PyCFrame`, the thread state) and differ on "
        "the free-threaded build; some are not installed at all. coverage.py's tracer broke on 3.13 exactly "
        "there."
    )
    instead = (
        "Use the public or unstable API instead of the structures: `PyFrame_GetCode`, `PyFrame_GetBack`, "
        "`PyFrame_GetLineNumber`, `PyFrame_GetLocals` (3.11; `pythoncapi_compat.h` backports them), "
        "`PyUnstable_InterpreterFrame_GetCode`/`GetLasti`/`GetLine` (3.12) for PEP 523 frame evaluators, "
        "`PyThreadState_GetFrame`/`PyThreadState_GetInterpreter` (3.9), `sys.monitoring` (PEP 669, 3.12) "
        "instead of reading tracing state. When nothing public exists, isolate the access in one file behind "
        "`#if PY_VERSION_HEX` checks for each release you test."
    )
    suggestion = ("Use the public accessors (`PyFrame_Get*`, `PyThreadState_Get*`, `PyUnstable_InterpreterFrame_*`) "
                  "instead of CPython's internal headers.")
    references = (INTERNAL_DOCS, "https://docs.python.org/3/c-api/frame.html",
                  "https://github.com/python/pythoncapi-compat")
    tags = ("c-api", "private-api")
    bad = (
        Example(
            "#include <internal/pycore_frame.h>  // <- FT407\n"
            "static int lasti(PyObject *self) { return 0; }\n",
        ),
        Example(
            "#define Py_BUILD_CORE 1\n"
            "#include \"internal/pycore_interp.h\"  // <- FT407\n",
            title="Defining Py_BUILD_CORE gets past the #error, not past the next release",
        ),
    )
    good = (
        Example(
            "static PyObject *code_of(PyFrameObject *frame) {\n"
            "    return (PyObject *)PyFrame_GetCode(frame);\n"
            "}\n",
        ),
        Example(
            "#if PY_VERSION_HEX < 0x030B0000\n"
            "#  define Py_BUILD_CORE 1\n"
            "#  include <internal/pycore_frame.h>\n"
            "#endif\n",
            title="Only for releases the target does not build",
        ),
    )

    def check(self, ctx: FileContext) -> None:
        unit = ctx.c_unit
        if unit is None:
            return
        # `#ifndef Py_BUILD_CORE` / `#define Py_BUILD_CORE` / `#endif` leaves it defined either way: a
        # compiled define before the include, in the file or a project header included before it, counts.
        defining = _core_defines(unit, ctx)
        for directive, match in _includes(ctx, _INTERNAL):
            header = match.group(1) or match.group(2)
            if any(start < directive.start for start in defining):
                ctx.report((directive.start, directive.end),
                           f"`{included_name(directive)}` is CPython's internal header: `Py_BUILD_CORE` gets it to "
                           "compile against one release only, its structures change in every minor release "
                           "and differ on the free-threaded build", severity=Severity.WARNING)
            else:
                # 3.13's headers check Py_BUILD_CORE in 118 of 123 internal headers (pycore_frame.h too,
                # which 3.11 still let through): for an older target the build may get past it.
                checked = ctx.target.version >= (3, 13)
                ctx.report((directive.start, directive.end),
                           f"`{included_name(directive)}` {'does not compile' if checked else 'may not compile'}: "
                           f"CPython's internal headers stop the build unless `Py_BUILD_CORE` is defined "
                           f"(`{header}` is not part of the C API)",
                           severity=None if checked else Severity.WARNING)


class CPythonHeaderInclude(Rule):
    code = "FT408"
    slug = "cpython-header-include"
    summary = "Includes a `cpython/*.h` header directly instead of `Python.h`"
    severity = Severity.WARNING
    languages = C_LANGUAGES
    what = "Finds `#include <cpython/…>` and `#include \"cpython/…\"` where the target compiles it."
    why = (
        "The `Include/cpython/` headers are public, but `Python.h` includes them in the order they need; "
        "most begin with `#ifndef Py_CPYTHON_…` / `#error \"this header file must not be included "
        "directly\"`, and which declarations live in which of them moves between releases."
    )
    instead = "`#include <Python.h>` (and `#include <frameobject.h>` for frame accessors before 3.11)."
    suggestion = "Include `<Python.h>`; it includes the `cpython/` headers itself."
    references = ("https://docs.python.org/3/c-api/intro.html#include-files",)
    tags = ("c-api",)
    bad = (
        Example(
            "#include <Python.h>\n"
            "#include <cpython/code.h>  // <- FT408\n",
        ),
    )
    good = (
        Example("#include <Python.h>\n"),
    )

    def check(self, ctx: FileContext) -> None:
        for directive, _ in _includes(ctx, _CPYTHON):
            ctx.report((directive.start, directive.end),
                       f"`{included_name(directive)}` is meant to be included through `Python.h`: on its own it "
                       "stops the build (\"must not be included directly\") or depends on what was included "
                       "before it")
