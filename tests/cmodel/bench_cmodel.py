"""Measure the C source model: ERROR-node share before/after normalisation, and build cost.

Not a test (pytest does not collect it). Run from the repository root:

    python tests/cmodel/bench_cmodel.py                 # the generated corpus below
    python tests/cmodel/bench_cmodel.py DIR [DIR ...]   # plus every C/C++ file under DIR

The generated corpus writes extension modules the way real projects do (PyObject_HEAD types,
static PyTypeObject initialisers, ALLOW_THREADS regions without ';', guarded slot entries,
X-macros, thread-locals, critical sections, attribute macros); one of them is ~4 kLOC for timing.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from ftaudit.cmodel import build_unit
from ftaudit.cmodel.parsers import choose_language, parser

_HEADER = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "structmember.h"

#ifdef __cplusplus
extern "C" {{
#endif

#if defined(_MSC_VER)
#  define FAST_INLINE __forceinline
#else
#  define FAST_INLINE inline __attribute__((always_inline))
#endif

#define {prefix}_FIELDS(X) X(alpha) X(beta) X(gamma)
#define {prefix}_DECLARE(name) static PyObject *{prefix}_get_##name(PyObject *self, void *closure);
{prefix}_FIELDS({prefix}_DECLARE)

static Py_THREAD_LOCAL int {prefix}_depth;
static PyObject *{prefix}_cache = NULL;
static PyMutex {prefix}_mutex;
"""

_TYPE = """\
typedef struct {{
    PyObject_HEAD
    PyObject *dict{n};
    Py_ssize_t size{n};
#ifdef Py_GIL_DISABLED
    PyMutex lock{n};
#endif
}} {prefix}Obj{n};

static FAST_INLINE int
{prefix}_check{n}(Py_ssize_t x)
{{
    return x >= 0;
}}

static PyObject *
{prefix}_compute{n}({prefix}Obj{n} *self, PyObject *arg)
{{
    long value = PyLong_AsLong(arg);
    long result = 0;
    if (value == -1 && PyErr_Occurred()) {{
        return NULL;
    }}
    Py_BEGIN_ALLOW_THREADS
    result = value * value + {n}
    ;
    Py_END_ALLOW_THREADS
    Py_BEGIN_CRITICAL_SECTION(self);
    self->size{n} += result;
    Py_END_CRITICAL_SECTION();
    if ({prefix}_cache == NULL) {{
        PyMutex_Lock(&{prefix}_mutex);
        {prefix}_cache = PyLong_FromLong(0);
        PyMutex_Unlock(&{prefix}_mutex);
    }}
    return PyLong_FromLong(result);
}}

static PyObject *
{prefix}_size{n}({prefix}Obj{n} *self, PyObject *Py_UNUSED(ignored))
{{
    Py_ssize_t size;
#if PY_VERSION_HEX >= 0x030D0000
    Py_BEGIN_CRITICAL_SECTION(self);
    size = self->size{n};
    Py_END_CRITICAL_SECTION();
#else
    size = self->size{n};
#endif
    return PyLong_FromSsize_t(size);
}}

static void
{prefix}_dealloc{n}({prefix}Obj{n} *self)
{{
    PyObject_GC_UnTrack(self);
    Py_TRASHCAN_BEGIN(self, {prefix}_dealloc{n})
    Py_CLEAR(self->dict{n});
    Py_TYPE(self)->tp_free((PyObject *)self);
    Py_TRASHCAN_END
}}

static PyMethodDef {prefix}_methods{n}[] = {{
    {{"compute", (PyCFunction){prefix}_compute{n}, METH_O, NULL}},
#if PY_VERSION_HEX >= 0x030D0000
    {{"size", (PyCFunction){prefix}_size{n}, METH_NOARGS, NULL}},
#endif
    {{NULL, NULL, 0, NULL}}
}};

static PyTypeObject {prefix}Type{n} = {{
    PyVarObject_HEAD_INIT(NULL, 0)
    "{prefix}.Obj{n}",
    sizeof({prefix}Obj{n}),
    0,
    (destructor){prefix}_dealloc{n},
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_methods = {prefix}_methods{n},
}};
"""

_FOOTER = """\
static int
{prefix}_exec(PyObject *m)
{{
{readies}
    return 0;
}}

static PyModuleDef_Slot {prefix}_slots[] = {{
    {{Py_mod_exec, {prefix}_exec}},
#ifdef Py_mod_multiple_interpreters
    {{Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED}},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {{Py_mod_gil, Py_MOD_GIL_NOT_USED}},
#endif
    {{0, NULL}}
}};

static struct PyModuleDef {prefix}_module = {{
    PyModuleDef_HEAD_INIT,
    "{prefix}",
    NULL,
    0,
    NULL,
    {prefix}_slots,
}};

PyMODINIT_FUNC
PyInit_{prefix}(void)
{{
    return PyModuleDef_Init(&{prefix}_module);
}}

#ifdef __cplusplus
}}
#endif
"""


def generate(prefix: str, types: int) -> bytes:
    parts = [_HEADER.format(prefix=prefix)]
    parts.extend(_TYPE.format(prefix=prefix, n=n) for n in range(types))
    readies = "\n".join(f"    if (PyType_Ready(&{prefix}Type{n}) < 0) {{ return -1; }}" for n in range(types))
    parts.append(_FOOTER.format(prefix=prefix, readies=readies))
    return "\n".join(parts).encode()


def error_share(files: list[tuple[str, bytes]]) -> tuple[int, int, int]:
    before = after = 0
    for path, data in files:
        before += parser(choose_language(path)).parse(data).root_node.has_error
        after += build_unit(data, path).has_errors
    return len(files), before, after


def timing(data: bytes, path: str, runs: int = 7) -> tuple[float, float, float]:
    """Median seconds: raw parse, build_unit, build_unit + every index a rule set touches."""
    raw, built, full = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        parser("c").parse(data)
        raw.append(time.perf_counter() - start)
        start = time.perf_counter()
        unit = build_unit(data, path)
        built.append(time.perf_counter() - start)
        _ = (unit.module_defs, unit.module_inits, unit.init_functions, unit.entry_points, unit.macros)
        for call in unit.calls:
            unit.lock_state(call.node)
            unit.guards_at(call.node)
        full.append(time.perf_counter() - start)
    return statistics.median(raw), statistics.median(built), statistics.median(full)


def main(argv: list[str]) -> None:
    generated = [(f"gen{i}.c", generate(f"gen{i}", 2 + i)) for i in range(12)]
    count, before, after = error_share(generated)
    print(f"generated corpus: {count} files, ERROR before {before} ({before / count:.0%}), after {after}")
    for directory in argv:
        files = []
        for root, _, names in os.walk(directory):
            for name in sorted(names):
                if name.endswith((".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh")):
                    with open(os.path.join(root, name), "rb") as handle:
                        files.append((name, handle.read()))
        count, before, after = error_share(files)
        print(
            f"{directory}: {count} files, ERROR before {before} ({before / count:.1%}), "
            f"after {after} ({after / count:.1%})"
        )
    big = generate("big", 40)
    lines = big.count(b"\n")
    raw, built, full = timing(big, "big.c")
    print(
        f"large module: {lines} lines, {len(big) // 1024} KiB; parse {raw * 1000:.1f} ms, "
        f"build_unit {built * 1000:.1f} ms ({built / raw:.2f}x), with all indices and a lock_state "
        f"per call {full * 1000:.1f} ms ({full / raw:.2f}x)"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
