"""The C API surface FT3xx/FT4xx check: one row per API, field or macro, with its replacement.

Each row says which rule owns the name, what to write instead, the CPython version that has the
replacement, whether ``pythoncapi_compat.h`` backports it, when the name stopped working (or is
scheduled to), and why. The rules match on these rows, ``ftaudit rule`` renders them, and finding
messages and fixes are written from them, so adding a removed API is one ``_row(...)`` line.

Sources: CPython What's New 3.9–3.14, ``Doc/deprecations/c-api-pending-removal-in-3.15/3.18.rst``,
the free-threading HOWTO and the ``pythoncapi_compat.h`` inventory (``../shared/docs/hazards.md``
tables A2, A3, A4, A8).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

Version = tuple[int, int]


@dataclass(frozen=True)
class CApi:
    name: str  # function/macro/variable/type name, or struct field; a trailing "*" matches a prefix
    rule: str  # owning rule code
    replacement: str  # what to write instead ("" when CPython offers nothing)
    since: Version | None  # CPython version that has the replacement; None: every supported version
    compat: bool  # pythoncapi_compat.h provides the replacement on older versions
    reason: str  # why the name is a problem (one clause, no trailing period)
    status: str = "borrowed"  # borrowed, unlocked, removed, private, no-op, changed, deprecated, pending, direct
    version: Version | None = None  # when it was removed / made private / became a no-op / is to be removed
    kind: str = "call"  # call (function or function-like macro), field, name (any identifier use), lvalue
    owner: str = ""  # for fields: the struct (PyFrameObject, PyThreadState, PyCodeObject, PyObject)
    strong: bool = False  # the replacement returns a strong reference the caller must release
    rewrite: str = ""  # mechanical replacement of a read, "{obj}" = the object expression
    generic: bool = False  # a field name other structs use too: needs type or naming evidence
    ft_only: bool = False  # only the free-threaded build lacks it
    caveat: str = ""  # where the replacement does not do what the old code did (one clause)

    @property
    def removed_in(self) -> Version | None:
        """Version where the name stops compiling or working (None: it still works, it is only racy)."""
        return self.version if self.status in ("removed", "no-op", "pending") else None

    def where(self) -> str:
        """``PyDict_GetItemRef`` (3.13, backported by pythoncapi_compat.h)."""
        if not self.replacement:
            return "there is no public replacement"
        when = f"since {fmt(self.since)}" if self.since else "in every supported version"
        backport = "; pythoncapi_compat.h backports it" if self.compat and self.since else ""
        return f"`{self.replacement}` ({when}{backport})"

    def advice(self) -> str:
        """``use `X` (since 3.13; …); it returns a strong reference: release it with `Py_DECREF```."""
        if not self.replacement:
            return "there is no public replacement"
        release = "; it returns a strong reference: release it with `Py_DECREF`" if self.strong else ""
        caveat = f"; {self.caveat}" if self.caveat else ""
        return f"use {self.where()}{release}{caveat}"

    def change(self) -> str:
        """A verb phrase: ``was removed in 3.13``, ``is private``, ``is scheduled for removal in 3.15``."""
        if self.version is None:
            return {"borrowed": "returns a borrowed reference", "unlocked": "does not lock the container",
                    "direct": "is direct header access", "private": "is a private field"}.get(self.status, self.status)
        word = {"removed": "was removed in", "private": "is private since", "no-op": "does nothing since",
                "changed": "changed in", "deprecated": "is deprecated since",
                "pending": "is scheduled for removal in"}[self.status]
        build = " (free-threaded build)" if self.ft_only else ""
        return f"{word} {fmt(self.version)}{build}"


def fmt(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def _row(rule: str, name: str, replacement: str, since: Version | None, compat: bool, reason: str,
         **extra: object) -> CApi:
    return CApi(name, rule, replacement, since, compat, reason, **extra)  # type: ignore[arg-type]


# -- reasons shared by several rows ---------------------------------------------------------------
_DICT = "another thread can delete the key and free the value while the borrowed pointer is in use"
_LIST = "another thread can replace or remove the item and free it while the borrowed pointer is in use"
_WEAK = "the referent can die right after the call; the API is also scheduled for removal in 3.15"
_MACRO = "the macro neither locks nor checks the container, so a concurrent writer can free or move the items"
_FRAME = "PyFrameObject is opaque since 3.11 (frame objects are created lazily from internal frames)"
_LOCALS_SYNC = "PEP 667 made frame locals a write-through proxy; the call has no effect"
_TSTATE_GONE = "PyThreadState was reorganised in 3.11–3.13"
_TSTATE_PRIVATE = "PyThreadState fields are internal: their meaning changed between releases"
_CODE = "PyCodeObject was reorganised in 3.11 (co_localsplusnames, adaptive bytecode)"
_PEP623 = "legacy Py_UNICODE / codec API (PEP 623, 3.13 deprecation)"
_INIT = "old Python initialisation API; configure with PyConfig"
_FLAG = "global configuration variable; read PyConfig instead"
_PRIV313 = "private API removed from the public headers in 3.13 (gh-106320)"
_PRIV318 = "private API deprecated in 3.14 (gh-128863)"

FT301, FT302, FT303 = "FT301", "FT302", "FT303"
FT401, FT402, FT403, FT404, FT405, FT406 = "FT401", "FT402", "FT403", "FT404", "FT405", "FT406"
# Rules whose rows match any mention of a name (a function pointer, a macro argument), not only a call:
# a removed function is as gone when its address is taken.
BARE_NAME_RULES = frozenset({FT406})
_F, _T, _C, _O = "PyFrameObject", "PyThreadState", "PyCodeObject", "PyObject"
V313, V315, V318 = (3, 13), (3, 15), (3, 18)

CATALOGUE: tuple[CApi, ...] = (
    # FT301: borrowed results from containers other threads can change
    _row(FT301, "PyDict_GetItem", "PyDict_GetItemRef(dict, key, &value)", V313, True, _DICT, strong=True),
    _row(FT301, "PyDict_GetItemWithError", "PyDict_GetItemRef(dict, key, &value)", V313, True, _DICT, strong=True),
    _row(FT301, "PyDict_GetItemString", "PyDict_GetItemStringRef(dict, key, &value)", V313, True, _DICT,
         strong=True),
    _row(FT301, "_PyDict_GetItemStringWithError", "PyDict_GetItemStringRef(dict, key, &value)", V313, True,
         _DICT + "; the private function is deprecated in 3.14 and scheduled for removal in 3.18", strong=True),
    _row(FT301, "_PyDict_GetItem_KnownHash", "PyDict_GetItemRef(dict, key, &value)", V313, True, _DICT,
         strong=True),
    _row(FT301, "PyDict_SetDefault", "PyDict_SetDefaultRef(dict, key, default, &result)", V313, True, _DICT,
         strong=True),
    _row(FT301, "PyList_GetItem", "PyList_GetItemRef(list, index)", V313, True, _LIST, strong=True),
    _row(FT301, "PyWeakref_GetObject", "PyWeakref_GetRef(ref, &obj)", V313, True, _WEAK, strong=True),
    _row(FT301, "PyWeakref_GET_OBJECT", "PyWeakref_GetRef(ref, &obj)", V313, True, _WEAK, strong=True),
    _row(FT301, "PyImport_AddModule", "PyImport_AddModuleRef(name)", V313, True,
         "another thread can remove the module from sys.modules and free it", strong=True),
    _row(FT301, "PyImport_AddModuleObject", "PyImport_AddModuleRef(name)", V313, True,
         "another thread can remove the module from sys.modules and free it", strong=True),
    _row(FT301, "PySys_GetObject", "PySys_GetAttrString(name)", V315, True,
         "another thread can rebind the sys attribute and free the old object", strong=True),
    _row(FT301, "PyCell_GET", "PyCell_Get(cell)", None, False, "the macro reads the cell without locking",
         strong=True),
    _row(FT301, "PyCell_SET", "PyCell_Set(cell, value)", None, False,
         "the macro writes the cell without locking and leaks or frees the old value under a reader",
         status="unlocked"),
    # FT302 / FT303: unlocked iteration and accessor macros
    _row(FT302, "PyDict_Next", "Py_BEGIN_CRITICAL_SECTION(dict) … Py_END_CRITICAL_SECTION() around the loop",
         V313, True, "PyDict_Next does not lock the dict and hands out borrowed keys and values",
         status="unlocked"),
    _row(FT303, "PyList_GET_ITEM", "PyList_GetItemRef(list, index)", V313, True, _MACRO, status="unlocked",
         strong=True),
    _row(FT303, "PyList_SET_ITEM", "PyList_SetItem(list, index, item)", None, False, _MACRO, status="unlocked"),
    _row(FT303, "PySequence_Fast_ITEMS", "Py_BEGIN_CRITICAL_SECTION(seq) around the loop, or PySequence_Tuple",
         V313, True, _MACRO + " (PySequence_Fast returns a list argument itself)", status="unlocked"),
    _row(FT303, "PySequence_Fast_GET_ITEM", "Py_BEGIN_CRITICAL_SECTION(seq) around the loop, or PySequence_Tuple",
         V313, True, _MACRO + " (PySequence_Fast returns a list argument itself)", status="unlocked"),
    # FT401: PyFrameObject fields and frame functions
    _row(FT401, "f_code", "PyFrame_GetCode(frame)", (3, 9), True, _FRAME, status="removed", version=(3, 11),
         kind="field", owner=_F, strong=True),
    _row(FT401, "f_back", "PyFrame_GetBack(frame)", (3, 9), True, _FRAME + "; f_back is computed on demand",
         status="removed", version=(3, 11), kind="field", owner=_F, strong=True, generic=True),
    _row(FT401, "f_lineno", "PyFrame_GetLineNumber(frame)", None, False, _FRAME, status="removed",
         version=(3, 11), kind="field", owner=_F, rewrite="PyFrame_GetLineNumber({obj})"),
    _row(FT401, "f_lasti", "PyFrame_GetLasti(frame)", (3, 11), True,
         _FRAME + "; it counts instructions, not bytes, since 3.10", status="removed", version=(3, 11),
         kind="field", owner=_F),
    _row(FT401, "f_locals", "PyFrame_GetLocals(frame)", (3, 11), True, _FRAME + "; locals are a proxy since 3.13",
         status="removed", version=(3, 11), kind="field", owner=_F, strong=True),
    _row(FT401, "f_globals", "PyFrame_GetGlobals(frame)", (3, 11), True, _FRAME, status="removed",
         version=(3, 11), kind="field", owner=_F, strong=True),
    _row(FT401, "f_builtins", "PyFrame_GetBuiltins(frame)", (3, 11), True, _FRAME, status="removed",
         version=(3, 11), kind="field", owner=_F, strong=True),
    _row(FT401, "f_gen", "PyFrame_GetGenerator(frame)", (3, 11), False, _FRAME, status="removed",
         version=(3, 11), kind="field", owner=_F, strong=True),
    _row(FT401, "f_trace", 'PyObject_GetAttrString(frame, "f_trace")', None, False, _FRAME, status="removed",
         version=(3, 11), kind="field", owner=_F, strong=True, generic=True),
    _row(FT401, "f_trace_lines", 'PyObject_GetAttrString(frame, "f_trace_lines")', None, False, _FRAME,
         status="removed", version=(3, 11), kind="field", owner=_F, strong=True),
    _row(FT401, "f_trace_opcodes", 'PyObject_GetAttrString(frame, "f_trace_opcodes")', None, False, _FRAME,
         status="removed", version=(3, 11), kind="field", owner=_F, strong=True),
    _row(FT401, "f_localsplus", "PyFrame_GetVar(frame, name)", (3, 12), True, _FRAME, status="removed",
         version=(3, 11), kind="field", owner=_F, strong=True),
    _row(FT401, "f_valuestack", "PyFrame_GetVar(frame, name)", (3, 12), True, _FRAME, status="removed",
         version=(3, 11), kind="field", owner=_F, strong=True),
    _row(FT401, "f_stacktop", "PyFrame_GetVar(frame, name)", (3, 12), True, _FRAME, status="removed",
         version=(3, 11), kind="field", owner=_F, strong=True),
    _row(FT401, "f_stackdepth", "", None, False, _FRAME, status="removed", version=(3, 11), kind="field",
         owner=_F),
    _row(FT401, "f_iblock", "", None, False, _FRAME + " (there is no block stack any more)", status="removed",
         version=(3, 11), kind="field", owner=_F),
    _row(FT401, "f_blockstack", "", None, False, _FRAME + " (there is no block stack any more)",
         status="removed", version=(3, 11), kind="field", owner=_F),
    _row(FT401, "f_state", "PyFrame_GetGenerator(frame)", (3, 11), False, _FRAME, status="removed",
         version=(3, 11), kind="field", owner=_F, strong=True, generic=True),
    _row(FT401, "PyFrame_FastToLocals", "PyFrame_GetLocals(frame)", (3, 11), True, _LOCALS_SYNC,
         status="no-op", version=V313, strong=True),
    _row(FT401, "PyFrame_FastToLocalsWithError", "PyFrame_GetLocals(frame)", (3, 11), True, _LOCALS_SYNC,
         status="no-op", version=V313, strong=True),
    _row(FT401, "PyFrame_LocalsToFast", "PyFrame_GetLocals(frame)", V313, False,
         _LOCALS_SYNC, status="no-op", version=V313),
    _row(FT401, "PyFrame_BlockSetup", "", None, False, "the block stack was removed", status="removed",
         version=(3, 11)),
    _row(FT401, "PyFrame_BlockPop", "", None, False, "the block stack was removed", status="removed",
         version=(3, 11)),
    # FT402: PyThreadState fields
    _row(FT402, "frame", "PyThreadState_GetFrame(tstate)", (3, 9), True, _TSTATE_GONE, status="removed",
         version=(3, 11), kind="field", owner=_T, strong=True, generic=True),
    _row(FT402, "cframe", "PyThreadState_GetFrame(tstate)", (3, 9), True, _TSTATE_GONE, status="removed",
         version=V313, kind="field", owner=_T, strong=True),
    _row(FT402, "recursion_depth", "Py_EnterRecursiveCall(where) / Py_LeaveRecursiveCall()", None, False,
         _TSTATE_GONE, status="removed", version=(3, 11), kind="field", owner=_T),
    _row(FT402, "use_tracing", "PyThreadState_EnterTracing(tstate) / PyThreadState_LeaveTracing(tstate)",
         (3, 11), True, _TSTATE_GONE, status="removed", version=(3, 11), kind="field", owner=_T),
    _row(FT402, "curexc_type", "PyErr_GetRaisedException()", (3, 12), False, _TSTATE_GONE, status="removed",
         version=(3, 12), kind="field", owner=_T, strong=True),
    _row(FT402, "curexc_value", "PyErr_GetRaisedException()", (3, 12), False, _TSTATE_GONE, status="removed",
         version=(3, 12), kind="field", owner=_T, strong=True),
    _row(FT402, "curexc_traceback", "PyErr_GetRaisedException()", (3, 12), False, _TSTATE_GONE,
         status="removed", version=(3, 12), kind="field", owner=_T, strong=True),
    _row(FT402, "trash_delete_nesting", "Py_TRASHCAN_BEGIN(op, dealloc) / Py_TRASHCAN_END", None, False,
         _TSTATE_GONE, status="removed", version=(3, 12), kind="field", owner=_T),
    _row(FT402, "trash_delete_later", "Py_TRASHCAN_BEGIN(op, dealloc) / Py_TRASHCAN_END", None, False,
         _TSTATE_GONE, status="removed", version=(3, 12), kind="field", owner=_T),
    _row(FT402, "interp", "PyThreadState_GetInterpreter(tstate)", (3, 9), True, _TSTATE_PRIVATE, status="private",
         kind="field", owner=_T, generic=True, rewrite="PyThreadState_GetInterpreter({obj})"),
    _row(FT402, "id", "PyThreadState_GetID(tstate)", (3, 9), True, _TSTATE_PRIVATE, status="private",
         kind="field", owner=_T, generic=True, rewrite="PyThreadState_GetID({obj})"),
    _row(FT402, "tracing", "PyThreadState_EnterTracing(tstate) / PyThreadState_LeaveTracing(tstate)", (3, 11),
         True, _TSTATE_PRIVATE, status="private", kind="field", owner=_T, generic=True),
    _row(FT402, "exc_info", "PyErr_GetHandledException()", (3, 11), False, _TSTATE_PRIVATE, status="private",
         kind="field", owner=_T, strong=True, generic=True),
    _row(FT402, "exc_state", "PyErr_GetHandledException()", (3, 11), False, _TSTATE_PRIVATE, status="private",
         kind="field", owner=_T, strong=True),
    _row(FT402, "c_tracefunc", "PyEval_SetTrace(func, obj)", None, False, _TSTATE_PRIVATE, status="private",
         kind="field", owner=_T),
    _row(FT402, "c_profilefunc", "PyEval_SetProfile(func, obj)", None, False, _TSTATE_PRIVATE, status="private",
         kind="field", owner=_T),
    _row(FT402, "c_traceobj", "PyEval_SetTrace(func, obj)", None, False, _TSTATE_PRIVATE, status="private",
         kind="field", owner=_T),
    _row(FT402, "c_profileobj", "PyEval_SetProfile(func, obj)", None, False, _TSTATE_PRIVATE, status="private",
         kind="field", owner=_T),
    _row(FT402, "dict", "PyThreadState_GetDict()", None, False, _TSTATE_PRIVATE, status="private", kind="field",
         owner=_T, generic=True,
         caveat="it returns the calling thread's dict only: another thread's state has no public accessor, "
                "so keep data other threads must read in an object you own (a dict guarded by a `PyMutex`)"),
    _row(FT402, "async_exc", "PyThreadState_SetAsyncExc(id, exc)", None, False, _TSTATE_PRIVATE,
         status="private", kind="field", owner=_T),
    _row(FT402, "gilstate_counter", "", None, False, _TSTATE_PRIVATE, status="private", kind="field", owner=_T),
    _row(FT402, "stackcheck_counter", "", None, False, _TSTATE_PRIVATE, status="private", kind="field", owner=_T),
    # FT403: PyCodeObject fields and constructors
    _row(FT403, "co_code", "PyCode_GetCode(code)", (3, 11), True, _CODE, status="removed", version=(3, 11),
         kind="field", owner=_C, strong=True),
    _row(FT403, "co_varnames", "PyCode_GetVarnames(code)", (3, 11), True, _CODE, status="removed",
         version=(3, 11), kind="field", owner=_C, strong=True),
    _row(FT403, "co_cellvars", "PyCode_GetCellvars(code)", (3, 11), True, _CODE, status="removed",
         version=(3, 11), kind="field", owner=_C, strong=True),
    _row(FT403, "co_freevars", "PyCode_GetFreevars(code)", (3, 11), True, _CODE, status="removed",
         version=(3, 11), kind="field", owner=_C, strong=True),
    _row(FT403, "co_cell2arg", "", None, False, _CODE, status="removed", version=(3, 11), kind="field", owner=_C),
    _row(FT403, "co_zombieframe", "", None, False, _CODE, status="removed", version=(3, 11), kind="field",
         owner=_C),
    _row(FT403, "co_lnotab", "PyCode_Addr2Line(code, offset)", None, False,
         "PEP 626 replaced the line table (co_linetable)", status="removed", version=(3, 10), kind="field",
         owner=_C),
    _row(FT403, "PyCode_New", "PyCode_NewEmpty(...) + code.replace(...)", None, False,
         "the signature changed in 3.11 (qualname, exception table) and it became PyUnstable_Code_New in 3.12",
         status="changed", version=(3, 11)),
    _row(FT403, "PyCode_NewWithPosOnlyArgs", "PyCode_NewEmpty(...) + code.replace(...)", None, False,
         "the signature changed in 3.11 and it became PyUnstable_Code_NewWithPosOnlyArgs in 3.12",
         status="changed", version=(3, 11)),
    # FT404: object header fields and lvalue macros
    _row(FT404, "ob_refcnt", "Py_REFCNT(obj) / Py_SET_REFCNT(obj, n)", (3, 9), True,
         "the free-threaded build splits the count into ob_ref_local/ob_ref_shared", status="removed",
         version=V313, kind="field", owner=_O, ft_only=True, rewrite="Py_REFCNT({obj})"),
    _row(FT404, "ob_type", "Py_TYPE(obj) / Py_SET_TYPE(obj, type)", (3, 9), True,
         "direct header access is not possible once PyObject is opaque (abi3t, 3.15)", status="direct",
         kind="field", owner=_O, rewrite="Py_TYPE({obj})"),
    _row(FT404, "ob_size", "Py_SIZE(obj) / Py_SET_SIZE(obj, size)", (3, 9), True,
         "direct header access is not possible once PyObject is opaque (abi3t, 3.15)", status="direct",
         kind="field", owner=_O, rewrite="Py_SIZE({obj})"),
    _row(FT404, "Py_REFCNT", "Py_SET_REFCNT(obj, n)", (3, 9), True, "Py_REFCNT() is not an lvalue",
         status="removed", version=(3, 10), kind="lvalue"),
    _row(FT404, "Py_TYPE", "Py_SET_TYPE(obj, type)", (3, 9), True, "Py_TYPE() is not an lvalue",
         status="removed", version=(3, 11), kind="lvalue"),
    _row(FT404, "Py_SIZE", "Py_SET_SIZE(obj, size)", (3, 9), True, "Py_SIZE() is not an lvalue",
         status="removed", version=(3, 11), kind="lvalue"),
    # FT405: reference counts used as a uniqueness test
    _row(FT405, "Py_REFCNT", "PyUnstable_Object_IsUniquelyReferenced(obj)", (3, 14), True,
         "borrowed stack references (3.14) and the free-threaded build's split counts make a count of 1 no "
         "proof that no other thread or frame holds the object", status="changed", version=(3, 14), kind="compare"),
    # FT406: PEP 667 reflection
    _row(FT406, "PyEval_GetLocals", "PyEval_GetFrameLocals()", V313, False,
         "borrowed result; PEP 667 changed what locals mean", status="deprecated", version=V313),
    _row(FT406, "PyEval_GetGlobals", "PyEval_GetFrameGlobals()", V313, False, "borrowed result (PEP 667)",
         status="deprecated", version=V313),
    _row(FT406, "PyEval_GetBuiltins", "PyEval_GetFrameBuiltins()", V313, False, "borrowed result (PEP 667)",
         status="deprecated", version=V313),
    # FT406: public API removed in 3.13
    _row(FT406, "PyEval_CallObject", "PyObject_CallObject(callable, args)", None, False, "deprecated since 3.9",
         status="removed", version=V313),
    _row(FT406, "PyEval_CallObjectWithKeywords", "PyObject_Call(callable, args, kwargs)", None, False,
         "deprecated since 3.9", status="removed", version=V313),
    _row(FT406, "PyEval_CallFunction", "PyObject_CallFunction(callable, format, ...)", None, False,
         "deprecated since 3.9", status="removed", version=V313),
    _row(FT406, "PyEval_CallMethod", "PyObject_CallMethod(obj, name, format, ...)", None, False,
         "deprecated since 3.9", status="removed", version=V313),
    _row(FT406, "PyCFunction_Call", "PyObject_Call(callable, args, kwargs)", None, False, "deprecated since 3.9",
         status="removed", version=V313),
    _row(FT406, "PyEval_AcquireLock", "PyEval_RestoreThread(tstate) or PyGILState_Ensure()", None, False,
         "deprecated since 3.2", status="removed", version=V313),
    _row(FT406, "PyEval_ReleaseLock", "PyEval_SaveThread() or PyGILState_Release(state)", None, False,
         "deprecated since 3.2", status="removed", version=V313),
    _row(FT406, "PyEval_ThreadsInitialized", "", None, False,
         "deprecated since 3.9 (threads are always initialised since 3.7: drop the call)", status="removed",
         version=V313),
    _row(FT406, "PySys_AddWarnOption", "PyConfig.warnoptions", None, False, _INIT, status="removed",
         version=V313),
    _row(FT406, "PySys_AddWarnOptionUnicode", "PyConfig.warnoptions", None, False, _INIT, status="removed",
         version=V313),
    _row(FT406, "PySys_AddXOption", "PyConfig.xoptions", None, False, _INIT, status="removed", version=V313),
    _row(FT406, "PySys_HasWarnOptions", "PyConfig.warnoptions", None, False, _INIT, status="removed",
         version=V313),
    _row(FT406, "PySys_SetPath", "PyConfig.module_search_paths", None, False, _INIT, status="removed",
         version=V313),
    _row(FT406, "Py_SetPath", "PyConfig.module_search_paths", None, False, _INIT, status="removed", version=V313),
    _row(FT406, "Py_SetStandardStreamEncoding", "PyConfig.stdio_encoding", None, False, _INIT, status="removed",
         version=V313),
    _row(FT406, "PyObject_AsCharBuffer", "PyObject_GetBuffer(obj, &view, flags) + PyBuffer_Release(&view)", None,
         False, "old buffer protocol", status="removed", version=V313),
    _row(FT406, "PyObject_AsReadBuffer", "PyObject_GetBuffer(obj, &view, flags) + PyBuffer_Release(&view)", None,
         False, "old buffer protocol", status="removed", version=V313),
    _row(FT406, "PyObject_AsWriteBuffer", "PyObject_GetBuffer(obj, &view, PyBUF_WRITABLE) + PyBuffer_Release",
         None, False, "old buffer protocol", status="removed", version=V313),
    _row(FT406, "PyObject_CheckReadBuffer", "PyObject_CheckBuffer(obj)", None, False, "old buffer protocol",
         status="removed", version=V313),
    _row(FT406, "Py_TRASHCAN_SAFE_BEGIN", "Py_TRASHCAN_BEGIN(op, dealloc)", (3, 8), False,
         "deprecated since 3.11", status="removed", version=V313),
    _row(FT406, "Py_TRASHCAN_SAFE_END", "Py_TRASHCAN_END", (3, 8), False, "deprecated since 3.11",
         status="removed", version=V313),
    # FT406: private API removed in 3.13 (those restored in 3.13 are not listed)
    _row(FT406, "_PyObject_LookupAttr", "PyObject_GetOptionalAttr(obj, name, &result)", V313, True, _PRIV313,
         status="removed", version=V313),
    _row(FT406, "_PyLong_AsInt", "PyLong_AsInt(obj)", V313, True, _PRIV313, status="removed", version=V313),
    _row(FT406, "_Py_IsFinalizing", "Py_IsFinalizing()", V313, True, _PRIV313, status="removed", version=V313),
    _row(FT406, "_PyInterpreterState_Get", "PyInterpreterState_Get()", (3, 9), True, _PRIV313, status="removed",
         version=V313),
    _row(FT406, "_PyTime_*", "PyTime_Monotonic / PyTime_Time / PyTime_PerfCounter / PyTime_AsSecondsDouble",
         V313, True, _PRIV313 + " (cpython/pytime.h)", status="removed", version=V313),
    _row(FT406, "_PyArg_CheckPositional", "PyArg_UnpackTuple(args, name, min, max, ...)", None, False, _PRIV313,
         status="removed", version=V313),
    _row(FT406, "_PyErr_SetKeyError", "PyErr_SetObject(PyExc_KeyError, key)", None, False, _PRIV313,
         status="removed", version=V313),
    _row(FT406, "_PyThreadState_GetDict", "PyThreadState_GetDict()", None, False, _PRIV313, status="removed",
         version=V313),
    # FT406: scheduled for removal in 3.15
    _row(FT406, "PyImport_ImportModuleNoBlock", "PyImport_ImportModule(name)", None, False,
         "deprecated since 3.13", status="pending", version=V315),
    _row(FT406, "Py_UNICODE", "wchar_t", None, False, _PEP623, status="pending", version=V315, kind="name"),
    _row(FT406, "PyUnicode_AsDecodedObject", "PyCodec_Decode(obj, encoding, errors)", None, False, _PEP623,
         status="pending", version=V315),
    _row(FT406, "PyUnicode_AsDecodedUnicode", "PyCodec_Decode(obj, encoding, errors)", None, False, _PEP623,
         status="pending", version=V315),
    _row(FT406, "PyUnicode_AsEncodedObject", "PyCodec_Encode(obj, encoding, errors)", None, False, _PEP623,
         status="pending", version=V315),
    _row(FT406, "PyUnicode_AsEncodedUnicode", "PyCodec_Encode(obj, encoding, errors)", None, False, _PEP623,
         status="pending", version=V315),
    _row(FT406, "Py_GetProgramFullPath", 'PyConfig_Get("executable")', (3, 14), True, _INIT, status="pending",
         version=V315),
    _row(FT406, "Py_GetProgramName", 'PyConfig_Get("program_name")', (3, 14), True, _INIT, status="pending",
         version=V315),
    _row(FT406, "Py_GetPythonHome", 'PyConfig_Get("home")', (3, 14), True, _INIT, status="pending", version=V315),
    _row(FT406, "Py_GetPath", 'PyConfig_Get("module_search_paths")', (3, 14), True, _INIT, status="pending",
         version=V315),
    _row(FT406, "Py_GetPrefix", 'PyConfig_Get("base_prefix")', (3, 14), True, _INIT, status="pending",
         version=V315),
    _row(FT406, "Py_GetExecPrefix", 'PyConfig_Get("base_exec_prefix")', (3, 14), True, _INIT, status="pending",
         version=V315),
    _row(FT406, "PySys_SetArgv", "PyConfig.argv", None, False, _INIT, status="pending", version=V315),
    _row(FT406, "PySys_SetArgvEx", "PyConfig.argv", None, False, _INIT, status="pending", version=V315),
    _row(FT406, "Py_SetProgramName", "PyConfig.program_name", None, False, _INIT, status="pending",
         version=V315),
    _row(FT406, "Py_SetPythonHome", "PyConfig.home", None, False, _INIT, status="pending", version=V315),
    _row(FT406, "PySys_ResetWarnOptions", "PyConfig.warnoptions", None, False, _INIT, status="pending",
         version=V315),
    *(_row(FT406, flag, f'PyConfig_Get("{option}")', (3, 14), True, _FLAG, status="pending", version=V315,
           kind="name")
      for flag, option in (("Py_DebugFlag", "parser_debug"), ("Py_VerboseFlag", "verbose"),
                           ("Py_QuietFlag", "quiet"), ("Py_InteractiveFlag", "interactive"),
                           ("Py_InspectFlag", "inspect"), ("Py_OptimizeFlag", "optimization_level"),
                           ("Py_NoSiteFlag", "site_import"), ("Py_BytesWarningFlag", "bytes_warning"),
                           ("Py_FrozenFlag", "pathconfig_warnings"),
                           ("Py_IgnoreEnvironmentFlag", "use_environment"),
                           ("Py_DontWriteBytecodeFlag", "write_bytecode"),
                           ("Py_NoUserSiteDirectory", "user_site_directory"),
                           ("Py_UnbufferedStdioFlag", "buffered_stdio"),
                           ("Py_HashRandomizationFlag", "use_hash_seed"), ("Py_IsolatedFlag", "isolated"),
                           ("Py_FileSystemDefaultEncoding", "filesystem_encoding"),
                           ("Py_UTF8Mode", "utf8_mode"))),
    # FT406: private API deprecated in 3.14, scheduled for removal in 3.18
    _row(FT406, "_PyBytes_Join", "PyBytes_Join(sep, iterable)", (3, 14), True, _PRIV318, status="pending",
         version=V318),
    _row(FT406, "_PyDict_Pop", "PyDict_Pop(dict, key, &result)", V313, True, _PRIV318, status="pending",
         version=V318),
    _row(FT406, "_PyLong_Sign", "PyLong_GetSign(obj, &sign)", (3, 14), True, _PRIV318, status="pending",
         version=V318),
    _row(FT406, "_PyLong_FromDigits", "PyLongWriter_Create(...)", (3, 14), True, _PRIV318, status="pending",
         version=V318),
    _row(FT406, "_PyLong_New", "PyLongWriter_Create(...)", (3, 14), True, _PRIV318, status="pending",
         version=V318),
    _row(FT406, "_PyThreadState_UncheckedGet", "PyThreadState_GetUnchecked()", V313, True, _PRIV318,
         status="pending", version=V318),
    _row(FT406, "_PyUnicode_AsString", "PyUnicode_AsUTF8(obj)", None, False, _PRIV318, status="pending",
         version=V318),
    _row(FT406, "_PyUnicodeWriter_*", "PyUnicodeWriter_Create / PyUnicodeWriter_Write* / PyUnicodeWriter_Finish",
         (3, 14), True, _PRIV318, status="pending", version=V318),
    _row(FT406, "_Py_HashPointer", "Py_HashPointer(ptr)", V313, True, _PRIV318, status="pending", version=V318),
    _row(FT406, "_Py_fopen_obj", "Py_fopen(path, mode)", (3, 14), True, _PRIV318, status="pending",
         version=V318),
)


# Private struct members that CPython's internal headers still declare (3.11–3.14): code that defines
# Py_BUILD_CORE and includes the header reaches them by design (greenlet's `struct _frame`), so the
# "removed" of the public struct does not apply. Tied to one release, but compiled and correct there.
INTERNAL_FIELDS: dict[str, frozenset[str]] = {
    "internal/pycore_frame.h": frozenset({"f_back", "f_frame", "f_trace", "f_lineno", "f_trace_lines",
                                          "f_trace_opcodes"}),
}
# Mapping writes that make the PEP 667 no-op sync calls matter: `PyFrame_FastToLocals`, write into the
# locals dict, `PyFrame_LocalsToFast` no longer writes anything back. Without such a write they are dead.
LOCALS_WRITES = frozenset({"PyDict_SetItem", "PyDict_SetItemString", "PyDict_DelItem", "PyDict_DelItemString",
                           "PyObject_SetItem", "PyObject_DelItem", "PyMapping_SetItemString",
                           "PyDict_Update", "PyDict_Clear", "PyDict_Merge",
                           # running code with a locals mapping as its namespace writes into it (a
                           # hook called with the frame writes through frame.f_locals, the live proxy)
                           "PyRun_String", "PyRun_StringFlags", "PyEval_EvalCode", "PyEval_EvalCodeEx",
                           "PyRun_File", "PyRun_FileEx", "PyRun_FileExFlags"})


# -- lookups --------------------------------------------------------------------------------------
def for_rule(code: str) -> tuple[CApi, ...]:
    return tuple(api for api in CATALOGUE if api.rule == code)


@cache
def by_kind(kind: str, codes: frozenset[str] | None = None) -> dict[str, tuple[CApi, ...]]:
    """Exact names of one kind -> their rows (a field name can belong to several structs)."""
    found: dict[str, list[CApi]] = {}
    for api in CATALOGUE:
        if api.kind == kind and not api.name.endswith("*") and (codes is None or api.rule in codes):
            found.setdefault(api.name, []).append(api)
    return {name: tuple(rows) for name, rows in found.items()}


@cache
def prefixes(codes: frozenset[str]) -> tuple[CApi, ...]:
    return tuple(api for api in CATALOGUE if api.name.endswith("*") and api.rule in codes)


def lookup(name: str, codes: frozenset[str], kind: str = "call") -> CApi | None:
    """The row for a called/used name among these rules (exact names first, then prefixes)."""
    rows = by_kind(kind, codes).get(name)
    if rows:
        return rows[0]
    if kind in ("call", "name"):
        other = by_kind("name" if kind == "call" else "call", codes).get(name)
        if other:
            return other[0]
        return next((api for api in prefixes(codes) if name.startswith(api.name[:-1])), None)
    return None


def markdown_table(codes: Iterable[str]) -> str:
    """The rows of some rules as a Markdown table, for the rules' "Use instead" docs."""
    rows = ["| Name | Problem | Use instead |", "|---|---|---|"]
    for code in codes:
        for api in for_rule(code):
            shown = f"`{api.owner}.{api.name}`" if api.kind == "field" else f"`{api.name}`"
            if api.kind == "lvalue":
                shown = f"`{api.name}(x) = …`"
            elif api.kind == "compare":
                shown = f"`{api.name}(x) == 1`"
            rows.append(f"| {shown} | {api.change()} | {api.where()} |")
    return "\n".join(rows) + "\n"
