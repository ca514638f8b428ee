"""FT201/FT202: writes to process-global C state that the GIL used to serialise.

The deciding is done once per file by ``ftaudit.analysis.shared_state`` (which FT108 reads too);
these rules turn its answer into findings with the variable, where it is declared, and the fix.
"""

from __future__ import annotations

from ftaudit.analysis.shared_state import GlobalWrite
from ftaudit.candidate import Candidate
from ftaudit.cmodel.declarations import Variable
from ftaudit.context import FileContext
from ftaudit.findings import Severity
from ftaudit.rule import Example
from ftaudit.source import Language

from ._runtime import RunTimeRule

C_LANGUAGES = frozenset({Language.C, Language.CPP})
HOWTO = "https://docs.python.org/3/howto/free-threading-extensions.html"
PORTING = "https://py-free-threading.github.io/porting-extensions/"
_INTEGER_TYPES = ("int", "long", "short", "char", "size_t", "Py_ssize_t", "unsigned", "signed", "uint", "int8",
                  "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "intptr_t", "uintptr_t",
                  "bool", "_Bool")


def describe(variable: Variable) -> str:
    where = f"declared at line {variable.line}"
    if variable.function is not None:
        return f"static local `{variable.name}` of `{variable.function}` ({where})"
    return f"{'static' if variable.storage == 'static' else 'global'} `{variable.name}` ({where})"


MAX_RELATED_WRITES = 8  # other writes of a group listed beside the finding (the message counts them all)


def declared_here(variable: Variable) -> tuple[object, str]:
    return variable.node, f"`{variable.name}` is declared here"


def is_integer(variable: Variable) -> bool:
    base = variable.base_type.split()[-1] if variable.base_type else ""
    return variable.pointer_depth == 0 and not variable.is_array and any(base.startswith(t) for t in _INTEGER_TYPES)


def write_help(variable: Variable) -> str:
    if is_integer(variable):
        return (f"Make `{variable.name}` atomic (C11 `_Atomic` with `atomic_fetch_add`, or CPython's "
                "`_Py_atomic_*`), guard every access with a `PyMutex` (3.13+), or keep it in module state.")
    return (f"Guard `{variable.name}` with a `PyMutex` (3.13+: `PyMutex_Lock(&m)` … `PyMutex_Unlock(&m)`), set "
            "it once in the module's exec function and only read it afterwards, or move it into module state "
            "(`PyModule_GetState`, PEP 630).")


class UnsynchronizedGlobalWrite(RunTimeRule):
    code = "FT201"
    security_severity = 6.5  # memory corruption (use after free, torn pointer) when it races
    slug = "unsynchronized-global-write"
    summary = "Write to process-global C state without a lock or atomic operation"
    severity = Severity.WARNING
    languages = C_LANGUAGES
    precision = "medium"
    what = (
        "Finds writes — assignment, compound assignment, `++`/`--`, `Py_CLEAR`/`Py_SETREF`, and passing its "
        "address to a function that writes through it (`PyArg_ParseTuple(args, \"i\", &flag)`, `memset`, "
        "`*_r` out-parameters), and copying into a shared buffer (`strncpy`/`memcpy`/`memset`/`snprintf` into a "
        "static array, through pointer arithmetic on it, through a global pointer, or through a local pointer "
        "the function set from one) — to a file-scope or function-local `static` variable, or to a member or "
        "element of one, in code reachable from Python. It stays silent on writes made only during module "
        "initialisation (`PyInit_*`, `Py_mod_exec` functions and helpers only they call), writes while a lock "
        "or critical section is held, atomic operations, `_Atomic`/`std::atomic`/thread-local variables, "
        "CPython definition tables (`PyMethodDef[]`, `PyModuleDef`, …, as CPython's c-analyzer accepts them), "
        "keyword lists, `self->field` instance state, and code not compiled for the target "
        "(`#ifndef Py_GIL_DISABLED`). One finding per variable and function, at its first write; the "
        "variable's declaration and the other writes are related locations (JSON `related`, SARIF "
        "`relatedLocations`)."
    )
    why = (
        "Without the GIL, two threads can run the same C function at once. Unsynchronised read-modify-write "
        "loses updates (a counter incremented from four threads lost about 2 % of 800,000 updates on 3.13t), "
        "and replacing a `PyObject *` while another thread reads it is a use-after-free."
    )
    instead = (
        "Make counters and flags atomic (C11 `<stdatomic.h>` or `_Py_atomic_*`), protect other state with a "
        "`PyMutex` (3.13+; not backported by pythoncapi_compat.h — fall back to `PyThread_type_lock` before "
        "3.13), use `_Thread_local` where each thread needs its own copy, or move the state into module state "
        "(`m_size > 0`, `PyModule_GetState`; PEP 630) and set it once in the exec function."
    )
    suggestion = "Make it atomic, guard it with a `PyMutex` (3.13+), or move it into module state."
    references = (HOWTO, PORTING, "https://peps.python.org/pep-0703/", "https://peps.python.org/pep-0630/")
    tags = ("free-threading", "data-race")
    bad = (
        Example(
            "static long calls;\n"
            "static PyObject *count(PyObject *self, PyObject *args) {\n"
            "    calls++;  // <- FT201\n"
            "    return PyLong_FromLong(calls);\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"count\", count, METH_NOARGS, NULL}, {NULL}};\n",
        ),
        Example(
            "static int verbose;\n"
            "static PyObject *set_verbose(PyObject *self, PyObject *args) {\n"
            "    if (!PyArg_ParseTuple(args, \"p\", &verbose)) {  // <- FT201\n"
            "        return NULL;\n"
            "    }\n"
            "    Py_RETURN_NONE;\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"set_verbose\", set_verbose, METH_VARARGS, NULL}, {NULL}};\n",
            title="Passing the address to a function that writes it",
        ),
        Example(
            "static char title[256];\n"
            "static PyObject *set_title(PyObject *self, PyObject *arg) {\n"
            "    const char *text = PyUnicode_AsUTF8(arg);\n"
            "    if (text == NULL) {\n"
            "        return NULL;\n"
            "    }\n"
            "    strncpy(title, text, sizeof(title) - 1);  // <- FT201\n"
            "    Py_RETURN_NONE;\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"set_title\", set_title, METH_O, NULL}, {NULL}};\n",
            title="Copying into a static buffer",
        ),
    )
    good = (
        Example(
            "static PyMutex calls_lock;\n"
            "static long calls;\n"
            "static PyObject *count(PyObject *self, PyObject *args) {\n"
            "    PyMutex_Lock(&calls_lock);\n"
            "    long now = ++calls;\n"
            "    PyMutex_Unlock(&calls_lock);\n"
            "    return PyLong_FromLong(now);\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"count\", count, METH_NOARGS, NULL}, {NULL}};\n",
        ),
        Example(
            "static PyObject *error_type;\n"
            "static int module_exec(PyObject *m) {\n"
            "    error_type = PyErr_NewException(\"m.Error\", NULL, NULL);\n"
            "    return error_type == NULL ? -1 : PyModule_AddObjectRef(m, \"Error\", error_type);\n"
            "}\n"
            "static PyModuleDef_Slot slots[] = {{Py_mod_exec, module_exec}, {0, NULL}};\n",
            title="Set once during module initialisation, read afterwards",
        ),
        Example(
            "#include <stdatomic.h>\n"
            "static _Atomic long calls;\n"
            "static _Thread_local int depth;\n"
            "static PyObject *count(PyObject *self, PyObject *args) {\n"
            "    depth++;\n"
            "    return PyLong_FromLong(atomic_fetch_add(&calls, 1) + 1);\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"count\", count, METH_NOARGS, NULL}, {NULL}};\n",
        ),
    )

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        # One finding per variable and function, at its first write: f2c-style code writes the same
        # static dozens of times, and one fix (a lock, an atomic, module state) covers them all.
        state = ctx.analyses.shared_state
        if state is None:
            return []
        groups: dict[tuple[int, str], list[GlobalWrite]] = {}
        for write in state.racy_writes:
            groups.setdefault((id(write.variable), write.function), []).append(write)
        return [Candidate(w[0].node, self.message(w[0], len(w) - 1), write_help(w[0].variable), roots=w[0].roots,
                          related=(declared_here(w[0].variable),
                                   *((other.node, f"another write to `{other.variable.name}`")
                                     for other in w[1:MAX_RELATED_WRITES + 1])))
                for w in groups.values()]

    @staticmethod
    def message(write: GlobalWrite, more: int = 0) -> str:
        extra = f" (and {more} more write{'s' if more > 1 else ''} there)" if more else ""
        what = f"into the buffer of {describe(write.variable)}" if write.how == "buffer" \
            else f"to {describe(write.variable)}"
        return (f"Unsynchronised write {what} in `{write.function}`, which is reachable "
                f"from Python{extra}")


class RacyLazyInit(RunTimeRule):
    code = "FT202"
    security_severity = 6.5  # memory corruption (use after free, torn pointer) when it races
    slug = "racy-lazy-init"
    summary = "Check-then-set lazy initialisation of a static outside module init"
    severity = Severity.WARNING
    languages = C_LANGUAGES
    what = (
        "Finds the check-then-set pattern on process-global storage in code reachable from Python: "
        "`if (cache == NULL) cache = …;`, `if (!initialized) { …; initialized = 1; }`, and "
        "`if (cache) return cache; cache = …;`, also when the check is combined with other conditions "
        "(`if (can_cache && !cache && value)`). Each pattern is reported once, at its check (the writes "
        "inside it are not reported again by FT201); when the check guards several statics "
        "(`if (!a_str) { a_str = …; b_str = …; }`) the finding names them all and lists their writes as "
        "related locations: a second thread that finds the first set reads the others before they are. "
        "Double-checked locking — the write under a lock — is not a finding."
    )
    why = (
        "Two threads can both see the variable unset and both initialise it: the work is done twice, the "
        "first object leaks or is freed while the other thread uses it, and a pointer can be published "
        "before the object behind it is fully built."
    )
    instead = (
        "Initialise it in the module's exec function or in module state; or take a `PyMutex` (3.13+) and "
        "check again inside the lock; or publish with an atomic compare-exchange "
        "(`_Py_atomic_compare_exchange_ptr`, C11 `atomic_compare_exchange_strong`) and discard the loser; "
        "or disable the cache under `#ifdef Py_GIL_DISABLED`. C++: `std::call_once` or a function-local "
        "static."
    )
    suggestion = ("Initialise it in the module exec function, or re-check it under a `PyMutex` (3.13+), or publish "
                  "it with an atomic compare-exchange.")
    references = (HOWTO, PORTING, "https://github.com/numpy/numpy/pull/26780")
    tags = ("free-threading", "data-race")
    bad = (
        Example(
            "static PyObject *cache = NULL;\n"
            "static PyObject *get(PyObject *self, PyObject *args) {\n"
            "    if (cache == NULL) {  // <- FT202\n"
            "        cache = PyDict_New();\n"
            "    }\n"
            "    return Py_XNewRef(cache);\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"get\", get, METH_NOARGS, NULL}, {NULL}};\n",
        ),
        Example(
            "static PyObject *decimal;\n"
            "static PyObject *get_decimal(PyObject *self, PyObject *args) {\n"
            "    if (decimal != NULL) {  // <- FT202\n"
            "        return Py_NewRef(decimal);\n"
            "    }\n"
            "    decimal = PyImport_ImportModuleAttrString(\"decimal\", \"Decimal\");\n"
            "    return Py_XNewRef(decimal);\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"d\", get_decimal, METH_NOARGS, NULL}, {NULL}};\n",
            title="The early-return form",
        ),
    )
    good = (
        Example(
            "static PyMutex cache_lock;\n"
            "static PyObject *cache = NULL;\n"
            "static PyObject *get(PyObject *self, PyObject *args) {\n"
            "    PyMutex_Lock(&cache_lock);\n"
            "    if (cache == NULL) {\n"
            "        cache = PyDict_New();\n"
            "    }\n"
            "    PyObject *result = Py_XNewRef(cache);\n"
            "    PyMutex_Unlock(&cache_lock);\n"
            "    return result;\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"get\", get, METH_NOARGS, NULL}, {NULL}};\n",
        ),
        Example(
            "static PyObject *cache = NULL;\n"
            "static PyObject *get(PyObject *self, PyObject *args) {\n"
            "    if (cache == NULL) {\n"
            "        PyObject *fresh = PyDict_New(), *expected = NULL;\n"
            "        if (!_Py_atomic_compare_exchange_ptr(&cache, &expected, fresh)) {\n"
            "            Py_DECREF(fresh);  /* another thread published first */\n"
            "        }\n"
            "    }\n"
            "    return Py_XNewRef(cache);\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"get\", get, METH_NOARGS, NULL}, {NULL}};\n",
            title="Publishing with an atomic compare-exchange and discarding the loser",
        ),
    )

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        state = ctx.analyses.shared_state
        found: list[Candidate] = []
        for lazy in state.lazy_inits if state is not None else ():
            # The other statics the same check guards: a second thread that finds the checked one set
            # reads them before the first thread has set them.
            others: dict[str, GlobalWrite] = {}
            for write in lazy.writes:
                if write.variable is not lazy.variable and write.variable.name not in others:
                    others[write.variable.name] = write
            own = [w for w in lazy.writes if w.variable is lazy.variable][:MAX_RELATED_WRITES]
            related = (declared_here(lazy.variable),
                       *((w.node, f"`{lazy.variable.name}` is set here") for w in own),
                       *((w.node, f"`{name}` is also set under this check") for name, w in others.items()))
            found.append(Candidate(lazy.condition, self.message(lazy.variable, lazy.function, list(others)),
                                   self.suggestion, roots=lazy.roots,
                                   unless_init_calls=lazy.function if lazy.leading else None, related=related))
        return found

    @staticmethod
    def message(variable: Variable, function: str, others: list[str] | None = None) -> str:
        also = ""
        if others:
            names = ", ".join(f"`{n}`" for n in others[:-1]) + (" and " if len(others) > 1 else "") + f"`{others[-1]}`"
            also = (f"; the same check also guards {names}, which another thread can read before "
                    f"{'they are' if len(others) > 1 else 'it is'} set")
        return (f"Lazy initialisation of {describe(variable)} in `{function}` is not thread-safe: two threads "
                f"can both find it unset and both initialise it{also}")
