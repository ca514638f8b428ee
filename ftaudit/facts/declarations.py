"""How each way of writing an extension declares that it does not need the GIL, and since when."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Declaration:
    tool: str
    how: str  # what to write
    since: str  # the tool version that has it
    note: str = ""


PY_MOD_GIL_SINCE = (3, 13)  # Py_mod_gil, Py_MOD_GIL_NOT_USED, PyUnstable_Module_SetGIL
SLOT_GUARD = "#if PY_VERSION_HEX >= 0x030D0000"
SET_GIL_GUARD = "#ifdef Py_GIL_DISABLED"  # the function is only declared in free-threaded builds

DECLARATIONS = {
    "multi-phase": Declaration("CPython", "{Py_mod_gil, Py_MOD_GIL_NOT_USED} in the module's slot array",
                               "CPython 3.13", "not backported by pythoncapi_compat.h"),
    "single-phase": Declaration("CPython", "PyUnstable_Module_SetGIL(module, Py_MOD_GIL_NOT_USED) in PyInit_*",
                                "CPython 3.13 (free-threaded builds only)", "not backported by pythoncapi_compat.h"),
    "cython": Declaration("Cython", "# cython: freethreading_compatible=True", "Cython 3.1"),
    "pybind11": Declaration("pybind11", "PYBIND11_MODULE(name, m, py::mod_gil_not_used())", "pybind11 2.13"),
    "nanobind": Declaration("nanobind", "nanobind_add_module(target FREE_THREADED ...)", "nanobind 2.2"),
    "pyo3": Declaration("PyO3", "#[pymodule(gil_used = false)]", "PyO3 0.23",
                        "PyO3 0.28 and newer declare it by default"),
}

# PyO3 versions: first with free-threaded support, first that defaults to gil_used = false (PR #5564).
PYO3_FREE_THREADED_SINCE = (0, 23)
PYO3_GIL_NOT_USED_DEFAULT_SINCE = (0, 28)
