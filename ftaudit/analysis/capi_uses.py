"""Where a C file uses the APIs, fields and macros of ``ftaudit.facts.capi`` (FT3xx/FT4xx).

One pass per file and target, shared by the rules: a regex over the code mask (comments, strings
and directives blanked) proposes offsets; the parse tree decides what each one is (a call, a
field of which struct, an lvalue, a comparison); ``#define`` bodies are parsed and checked the
same way. For a field, the object's type comes from the source model (declarations, casts, known
API return types, same-file struct members); when it cannot be known, naming evidence
(``tstate->frame``, ``f->f_back``) may stand in, and the rules lower the severity.

A use is kept only when the code is compiled for some version in which the name is broken:
``#if PY_VERSION_HEX < 0x030B0000 … frame->f_code … #else`` is the compatibility pattern and is
silent; with ``requires-python`` known, every version from the removal up to the target counts.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import tree_sitter
from tree_sitter import Node

from ftaudit.analysis.memo import per_unit, per_unit_keyed
from ftaudit.analysis.reachability import init_only, teardown_roots
from ftaudit.cmodel import CUnit, Function, Macro, Tri
from ftaudit.cmodel.includes import MAX_DEPTH as MAX_INCLUDE_DEPTH
from ftaudit.cmodel.includes import find_header, quoted_include
from ftaudit.cmodel.nodes import declarator_name, descendants, named, strip, text
from ftaudit.cmodel.parsers import language
from ftaudit.facts.capi import BARE_NAME_RULES, CATALOGUE, CApi, by_kind, lookup
from ftaudit.target import Target

# Struct names as spelled in declarations -> the catalogue's owner names.
_OWNERS = {
    "PyFrameObject": "PyFrameObject", "struct _frame": "PyFrameObject",
    "PyThreadState": "PyThreadState", "struct _ts": "PyThreadState",
    "PyCodeObject": "PyCodeObject", "struct PyCodeObject": "PyCodeObject",
    "PyObject": "PyObject", "struct _object": "PyObject", "PyVarObject": "PyObject",
}
# APIs whose return type tells the type of ``call()->field``.
RETURNS = {
    "PyEval_GetFrame": "PyFrameObject", "PyFrame_GetBack": "PyFrameObject",
    "PyThreadState_GetFrame": "PyFrameObject", "_PyThreadState_GetFrameBorrow": "PyFrameObject",
    "_PyFrame_GetBackBorrow": "PyFrameObject", "PyGen_GetFrame": "PyFrameObject",
    "PyThreadState_Get": "PyThreadState", "PyThreadState_GET": "PyThreadState",
    "_PyThreadState_UncheckedGet": "PyThreadState", "PyThreadState_GetUnchecked": "PyThreadState",
    "PyGILState_GetThisThreadState": "PyThreadState", "PyThreadState_New": "PyThreadState",
    "PyThreadState_Swap": "PyThreadState", "PyEval_SaveThread": "PyThreadState",
    "PyInterpreterState_ThreadHead": "PyThreadState", "PyThreadState_Next": "PyThreadState",
    "PyFrame_GetCode": "PyCodeObject", "_PyFrame_GetCodeBorrow": "PyCodeObject",
}
# Fields of CPython structs whose type is known (``tstate->frame->f_code``).
FIELD_TYPES = {
    ("PyThreadState", "frame"): "PyFrameObject", ("PyFrameObject", "f_back"): "PyFrameObject",
    ("PyFrameObject", "f_code"): "PyCodeObject", ("PyThreadState", "next"): "PyThreadState",
    ("PyThreadState", "prev"): "PyThreadState",
}
# Naming evidence when the type cannot be known (macro parameters, unknown structs).
NAMING = {
    "PyFrameObject": re.compile(r"(?i)^(f|fr|frm|py_?f)$|frame"),
    "PyThreadState": re.compile(r"(?i)tstate|^_?ts$|thread_?state|^state_?ts$|^ts_"),
    "PyCodeObject": re.compile(r"(?i)^(co|c)$|^code$|code_?obj|_code$|^py_?code"),
}
# Calls that return a new container nobody else can see yet.
CREATORS = frozenset({
    "PyDict_New", "PyDict_Copy", "_PyDict_NewPresized", "PyList_New", "PyTuple_New", "PySequence_List",
    "PySequence_Tuple", "PyList_GetSlice", "PyTuple_GetSlice", "PyList_AsTuple", "PyDict_Keys", "PyDict_Values",
    "PyDict_Items", "PyMapping_Keys", "PyMapping_Values", "PyMapping_Items", "PyObject_Dir", "PyTuple_Pack",
    "Py_BuildValue", "PySet_New", "PyFrozenSet_New",
})
# A per-thread dict: no other thread ever sees it. (Not a frame's locals: at module level, or for
# another thread's frame, they are a dict other threads write to.)
PER_THREAD = frozenset({"PyThreadState_GetDict"})
# Reads that leave a container as it is; at run time these are the only uses a global container filled
# at module init may have for it to stay private (anything else could mutate it or hand it to Python).
READERS = frozenset({
    "PyDict_GetItem", "PyDict_GetItemWithError", "PyDict_GetItemString", "PyDict_GetItemRef",
    "PyDict_GetItemStringRef", "PyDict_Contains", "PyDict_ContainsString", "PyDict_Size", "PyDict_GET_SIZE",
    "PyDict_Next", "_PyDict_GetItem_KnownHash", "_PyDict_GetItemId", "_PyDict_GetItemStringWithError",
    "PyList_GetItem", "PyList_GET_ITEM", "PyList_GetItemRef", "PyList_Size", "PyList_GET_SIZE",
    "PyMapping_GetOptionalItem", "PyMapping_GetOptionalItemString", "PyMapping_HasKey", "PyMapping_HasKeyString",
    "PySequence_Contains", "PySequence_Fast_GET_ITEM", "PySequence_Fast_GET_SIZE", "PySequence_Fast_ITEMS",
    "Py_REFCNT", "Py_TYPE", "PyDict_Check", "PyDict_CheckExact", "PyList_Check", "PyList_CheckExact",
})
# Adding without ever replacing: a value once in the dict stays there.
ADD_ONLY = frozenset({"PyDict_SetDefault", "PyDict_SetDefaultRef"})
# Filling a container at module init (or emptying it at teardown) keeps it private to the module.
FILLERS = frozenset({
    "PyDict_SetItem", "PyDict_SetItemString", "PyList_Append", "PyList_SetItem", "PyList_SET_ITEM",
    "PyList_Insert", "PyDict_Update", "PyDict_Merge", "PyDict_MergeFromSeq2", "PyDict_DelItem",
    "PyDict_DelItemString", "PyDict_Clear", "Py_CLEAR", "Py_XDECREF", "Py_DECREF", "Py_XSETREF", "Py_SETREF",
    "Py_INCREF", "Py_XINCREF",
}) | READERS
KWARGS_NAMES = frozenset({"kwargs", "kwds", "kw", "kwdict", "kwargs_dict", "keywords", "kwnames"})
ARGS_NAMES = frozenset({"args", "argv_tuple"})
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
_ASSERT = re.compile(r"(?i)assert")


@dataclass(eq=False)
class Use:
    """One use of a catalogue name."""

    api: CApi
    anchor: Node | tuple[int, int]  # the callee / field identifier (or a byte span for rewritten macros)
    node: Node | None  # call_expression, field_expression, or the comparison / assignment
    obj: Node | None  # object of a field access, first argument of a call
    function: Function | None
    macro: Macro | None  # set when the use is inside a #define body
    evidence: str  # known type: "type", "cast", "call", "field" (a struct member); else "name", "fieldname", "api"
    versions: tuple[tuple[int, int], ...]  # versions where it is compiled and broken (may be empty)
    broken: bool  # removed/no-op in some version <= the target (not only scheduled)
    write: bool = False  # the field/lvalue is assigned or incremented
    negated: bool = False  # for comparisons: the "shared" branch (`!= 1`, `> 1`)
    in_assert: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def offset(self) -> int:
        return self.anchor.start_byte if isinstance(self.anchor, Node) else self.anchor[0]


@per_unit_keyed
def uses(unit: CUnit, target: Target) -> list[Use]:
    """Every use in the file (computed once per unit and target)."""
    return _Collector(unit, target).run()


# -- versions ---------------------------------------------------------------------------------------
def _target_at(target: Target, version: tuple[int, int]) -> Target:
    return replace(target, version=version, free_threaded=target.free_threaded and version >= (3, 13))


# Project macros whose name says which CPython they mean (greenlet's GREENLET_PY311, PY_3_11_PLUS,
# IS_PY3K): defined in another header the one-file model cannot see, so their value is inferred from
# the name. Anything else stays unknown (MAYBE) and the code counts as compiled.
_VERSION_MACRO = re.compile(r"(?i)(?:^|_)PY_?3_?(1[0-9]|[0-9])(?:_?PLUS|_OR_(?:LATER|NEWER|ABOVE|GREATER))?$")
_PY3_MACRO = re.compile(r"(?i)^(?:IS_)?PY(?:THON)?_?3K?$")
_IDENT = re.compile(r"[A-Za-z_]\w*")


@per_unit
def _version_macros(unit: CUnit) -> dict[str, tuple[int, int]]:
    """Version-named project macros used in this file's ``#if``s -> the CPython version they name."""
    names = {}
    for directive in unit.directives:
        if directive.kind not in ("if", "elif", "ifdef", "ifndef"):
            continue
        for word in _IDENT.findall(directive.text):
            match = _VERSION_MACRO.search(word)
            if match and not word.startswith("PY_VERSION"):
                names[word] = (3, int(match.group(1)))
            elif _PY3_MACRO.match(word):
                names[word] = (3, 0)
    return names


def version_defines(unit: CUnit, target: Target) -> dict[str, int | None]:
    """Values of version-named project macros used in this file's ``#if``s, for ``target``."""
    return {name: int(target.version >= version) for name, version in _version_macros(unit).items()}


def compiled(unit: CUnit, offset: int, target: Target) -> Tri:
    """``unit.compiled`` with version-named project macros filled in where neither the file nor its
    headers define them (greenlet's headers define GREENLET_USE_CFRAME from PY_VERSION_HEX)."""
    extra = version_defines(unit, target)
    if not extra or (unit.skipped_ranges is not None and target == unit.target):
        return unit.compiled(offset, target)
    return unit.guard_index.compiled(offset, target, _defines_with_versions(unit, target))


@per_unit_keyed
def _defines_with_versions(unit: CUnit, target: Target) -> Callable[[int], Mapping[str, int | None]]:
    """``unit.defines_at(target)`` with the version-named macros filled in; the same function every
    time, so the guard index keeps its answers."""
    at, extra = unit.defines_at(target), version_defines(unit, target)

    def defines(where: int) -> Mapping[str, int | None]:
        return ChainMap(at(where), extra)  # type: ignore[arg-type]

    return defines


def relevant_versions(unit: CUnit, offset: int, api: CApi, target: Target) -> tuple[tuple, bool] | None:
    """(versions where the code is compiled and the name broken, broken by the target) or None: silent."""
    removed = api.removed_in
    if api.ft_only and not target.free_threaded:
        removed = None
    if removed is None:
        return ((), False) if compiled(unit, offset, target) is not Tri.NO else None
    lowest = target.minimum if target.minimum is not None else target.version
    first, last = max(removed, lowest), max(target.version, removed)
    candidates = [(3, minor) for minor in range(first[1], last[1] + 1)] if first <= last else [removed]
    live = tuple(v for v in candidates if compiled(unit, offset, _target_at(target, v)) is not Tri.NO)
    if not live:
        return None
    return live, removed <= target.version and live[0] <= target.version


# -- types ------------------------------------------------------------------------------------------
def owner_of(unit: CUnit, type_text: str) -> str:
    """``struct _frame`` / a same-file alias of it -> ``PyFrameObject``; other types as written."""
    cleaned = " ".join(type_text.replace("*", " ").replace("const", " ").replace("volatile", " ").split())
    resolved = unit.resolve_typedef(cleaned) if cleaned else cleaned
    return _OWNERS.get(resolved, _OWNERS.get(cleaned, resolved))


@cache
def _field_query(lang: str) -> tree_sitter.Query:
    return tree_sitter.Query(language(lang), "(field_declaration_list) @body")


@per_unit
def struct_fields(unit: CUnit) -> dict[str, dict[str, str]]:
    """Same-file struct (and typedef) name -> member name -> member type, for ``self->frame->f_back``."""
    found: dict[str, dict[str, str]] = {}
    for _, captures in tree_sitter.QueryCursor(_field_query(unit.language)).matches(unit.root):
        for body in next(iter(captures.values())):
            members: dict[str, str] = {}
            for decl in named(body):
                if decl.type != "field_declaration":
                    continue
                type_node = decl.child_by_field_name("type")
                for declarator in decl.children_by_field_name("declarator"):
                    name = declarator_name(declarator)
                    if name is not None and type_node is not None:
                        members[text(name)] = text(type_node)
            spec = body.parent
            names = []
            if spec is not None:
                tag = spec.child_by_field_name("name")
                if tag is not None:
                    names.append(f"{spec.type.split('_')[0]} {text(tag)}")
                    names.append(text(tag))
                holder = spec.parent
                if holder is not None and holder.type == "type_definition":
                    names += [text(declarator_name(d)) for d in holder.children_by_field_name("declarator")
                              if declarator_name(d) is not None]
            for key in names:
                found.setdefault(key, members)
    return found


@per_unit
def uses_internals(unit: CUnit) -> bool:
    """The file builds against CPython's internal headers (Py_BUILD_CORE, pycore_*.h, also through the
    project's headers, _PyInterpreterFrame),
    where the private structs are complete: the access may compile, tied to one CPython release."""
    # Directives and code only: a comment saying "see internal/pycore_frame.h" (yappi) is not an include.
    return any(
        (d.kind == "include" and "internal/pycore_" in d.text) or (d.kind == "define" and d.name == "Py_BUILD_CORE")
        for d in unit.directives
    ) or bool(re.search(rb"\b_PyInterpreterFrame\b|\b_PyCFrame\b", unit.raw.mask)) or bool(internal_includes(unit))


@per_unit
def internal_includes(unit: CUnit) -> frozenset[str]:
    """CPython internal headers (`internal/pycore_frame.h`) the file includes, itself or through the
    project's own headers (greenlet's TGreenlet.hpp), a few levels deep, with Py_BUILD_CORE defined
    (without it they do not compile: none counts)."""
    found: set[str] = set()
    core = False  # the internal headers #error unless Py_BUILD_CORE is defined (coverage 6's tracer)
    read = unit.read_header
    seen: set[Path] = set()
    todo: list[tuple[list, Path, int]] = [(list(unit.directives), Path(unit.path).parent, 0)]
    while todo:
        directives, folder, depth = todo.pop()
        for directive in directives:
            if directive.kind == "define" and (directive.name or "").startswith("Py_BUILD_CORE"):
                core = True
            if directive.kind != "include":
                continue
            name = directive.text.strip().strip('<>"').strip()
            if name.startswith("internal/pycore_"):
                found.add(name)
                continue
            quoted = quoted_include(directive)
            if quoted is None or read is None or depth >= MAX_INCLUDE_DEPTH:
                continue
            header = find_header(folder, quoted, read)
            if header is not None and header[0] not in seen:
                seen.add(header[0])
                todo.append((header[1][0], header[0].parent, depth + 1))
    return frozenset(found) if core else frozenset()


def expression_type(unit: CUnit, node: Node | None, macro: Macro | None = None) -> tuple[str | None, str]:
    """(owner type or None, how it is known): "cast", "type", "call", "field", "param", "unknown"."""
    node = strip(node)
    if node is None:
        return None, "unknown"
    if node.type == "cast_expression":
        return owner_of(unit, text(node.child_by_field_name("type"))), "cast"
    if node.type == "this":
        return "<this>", "type"  # a C++ class's own member, never a CPython struct
    if node.type == "identifier":
        if macro is not None and macro.params and text(node) in macro.params:
            return None, "param"
        variable = unit.type_of(node)
        if variable is None:
            return None, "unknown"
        return owner_of(unit, variable.base_type), "type"
    if node.type == "call_expression":
        callee = text(node.child_by_field_name("function"))
        return (RETURNS[callee], "call") if callee in RETURNS else (None, "unknown")
    if node.type == "field_expression":
        inner_type, _ = expression_type(unit, node.child_by_field_name("argument"), macro)
        member = text(node.child_by_field_name("field"))
        if inner_type is None:
            return None, "unknown"
        if (inner_type, member) in FIELD_TYPES:
            return FIELD_TYPES[(inner_type, member)], "field"
        if inner_type in NAMING:
            # `tstate->cframe->use_tracing`: a member of a CPython struct that is none of the owners
            # the catalogue knows (a `_PyCFrame`), so a PyThreadState field name says nothing.
            return f"<{inner_type}.{member}>", "field"
        declared = struct_fields(unit).get(inner_type, {}).get(member)
        return (owner_of(unit, declared), "field") if declared else (None, "unknown")
    if node.type in ("subscript_expression", "pointer_expression"):
        variable = unit.type_of(node)
        return (owner_of(unit, variable.base_type), "type") if variable is not None else (None, "unknown")
    return None, "unknown"


def last_name(node: Node | None) -> str:
    """``self->state.frame`` -> ``frame``; ``(PyObject *)op`` -> ``op``; a call -> its callee."""
    node = strip(node)
    while node is not None:
        if node.type == "identifier":
            return text(node)
        if node.type == "field_expression":
            return text(node.child_by_field_name("field"))
        if node.type == "cast_expression":
            node = strip(node.child_by_field_name("value"))
        elif node.type == "call_expression":
            return text(node.child_by_field_name("function"))
        elif node.type in ("pointer_expression", "subscript_expression"):
            node = strip(node.child_by_field_name("argument"))
        else:
            return ""
    return ""


# -- containers -------------------------------------------------------------------------------------
def normal_expr(expression: str) -> str:
    """Object text for comparing a call's argument with a critical section's object."""
    compact = re.sub(r"\(\s*(?:struct\s+)?\w+\s*\*+\s*\)", "", expression)  # casts
    compact = "".join(compact.split()).lstrip("&")
    while compact.startswith("(") and compact.endswith(")"):
        compact = compact[1:-1]
    return compact


PRIVATE_ORIGINS = frozenset({"fresh", "kwargs", "args", "init", "thread", "init-filled", "caller", "state"})


def _creator_origin(unit: CUnit, callee: str) -> str | None:
    if callee in CREATORS or callee in fresh_returning(unit):
        return "fresh"
    if callee in PER_THREAD or callee in thread_returning(unit):
        return "thread"
    return None


def container_origin(unit: CUnit, function: Function | None, arg: Node | None, depth: int = 0,
                     before: int | None = None, filling: bool = False) -> str:
    """Whose container ``arg`` is: "fresh" (made in this function, also by a same-file function that
    returns a new container), "caller" (a static helper's parameter that every caller fills with a
    container private to it), "kwargs", "args" (the argument tuple), "thread" (the per-thread
    dict), "init-filled" (a global
    only filled at module init or emptied at teardown, only read at run time), or "shared". Every
    origin but "shared" is in PRIVATE_ORIGINS: no other thread can change it."""
    arg = strip(arg)
    while arg is not None and arg.type == "cast_expression":
        arg = strip(arg.child_by_field_name("value"))
    if arg is None or function is None:
        return "shared"
    if arg.type == "call_expression":
        return _creator_origin(unit, text(arg.child_by_field_name("function"))) or "shared"
    before = arg.start_byte if before is None else before
    sources: list[Node] = []
    if arg.type == "identifier":
        variable = unit.type_of(arg)
        if variable is not None and variable.function is None and not variable.is_parameter:
            if text(arg) in init_filled_globals(unit):
                return "init-filled"
            if text(arg) in add_only_globals(unit):
                return "add-only"  # private for a borrowed value (FT301), not for iteration
        if variable is None or variable.is_static or variable.function != function.name:
            return "shared"
        if variable.is_parameter:
            name = variable.name.lower()
            if function.name in setstate_methods(unit) and _parameter_names(function)[1:2] == [variable.name]:
                return "state"  # the state this type's own __reduce__/__getstate__ built for the call
            if name in KWARGS_NAMES:
                return "kwargs"
            if name in ARGS_NAMES:
                return "args"
            return _passed_origin(unit, function, variable.name, depth)
        if variable.initializer is not None:
            sources.append(variable.initializer)
    # `x = PyList_New(n)`, `*ret = PyList_New(1)`, `self->items = PyDict_New()` earlier in this function.
    wanted = normal_expr(unit.text(arg))
    for call in function.calls:
        if call.start < before and wanted in _assigned_names(call.node):
            sources.append(call.node)
    origins = set()
    for source in sources:
        value = strip(source)
        while value is not None and value.type == "cast_expression":
            value = strip(value.child_by_field_name("value"))
        if value is None or value.type != "call_expression":
            continue
        callee = text(value.child_by_field_name("function"))
        created = _creator_origin(unit, callee)
        arguments = value.child_by_field_name("arguments")
        if created is not None:
            origins.add(created)
        elif callee == "PySequence_Fast" and depth < 2 and arguments is not None:
            args = named(arguments)
            origins.add(container_origin(unit, function, args[0] if args else None, depth + 1))
        else:
            origins.add("shared")
    if len(origins) != 1 or (("->" in wanted or "." in wanted) and not (filling and origins == {"fresh"})):
        # A member filled right after creation is already reachable through its owner: stay conservative,
        # save for filling it (`info->list = PyList_New(2); PyList_SET_ITEM(info->list, 0, x)`): no
        # other thread writes into a list this function has just made.
        return "shared"
    return origins.pop()


_SETSTATE = re.compile(rb'"__setstate__"\s*,\s*(?:\(\s*\w+\s*\)\s*)?&?\s*([A-Za-z_]\w*)')
_STATE_MAKERS = re.compile(rb'"__(reduce|reduce_ex|getstate)__"\s*,\s*(?:\(\s*\w+\s*\)\s*)?&?\s*([A-Za-z_]\w*)')
_PACKERS = frozenset({"PyTuple_Pack", "Py_BuildValue"})


@per_unit
def setstate_methods(unit: CUnit) -> frozenset[str]:
    """`__setstate__` methods whose type hands out a state it builds fresh for each pickle or copy: its
    `__getstate__` returns a new container, or its `__reduce__` packs one it just made (psycopg2's
    Error). Then the state `__setstate__` gets is private to the call. A `__reduce__` that packs the
    object's own dict makes `copy.copy` pass that live dict: not private. Cached on the unit."""
    source, found = unit.raw.source, set()
    for match in _SETSTATE.finditer(source):
        start = max(source.rfind(b"PyMethodDef", 0, match.start()), match.start() - 8192)
        end = source.find(b"};", match.end(), match.end() + 8192)
        table = source[start: end if end >= 0 else match.end()]
        for maker in _STATE_MAKERS.finditer(table):
            kind, name = maker.group(1).decode("ascii"), maker.group(2).decode("ascii")
            function = unit.functions.get(name)
            if function is None:
                continue
            fresh = name in fresh_returning(unit) if kind == "getstate" else any(
                call.name in _PACKERS and any(container_origin(unit, function, arg, 2, call.start) == "fresh"
                                              for arg in call.args)
                for call in function.calls)
            if fresh:
                found.add(match.group(1).decode("ascii"))
    return frozenset(found)


def _passed_origin(unit: CUnit, function: Function, parameter: str, depth: int) -> str:
    """"caller" when ``function`` is a static helper that only this file calls (its address is never
    taken) and every call passes, for ``parameter``, a container private to the caller: cbor2's
    `encode_canonical_map_list(self, list)` always gets the list its caller just made. Else "shared"."""
    if depth >= 2 or not function.is_static or unit.references.get(function.name):
        return "shared"
    names = _parameter_names(function)
    if parameter not in names:
        return "shared"
    index = names.index(parameter)
    sites = [(unit.functions[caller], call) for caller in sorted(unit.callers(function.name))
             if caller in unit.functions for call in unit.functions[caller].calls if call.name == function.name]
    if not sites:
        return "shared"
    for caller, call in sites:
        if index >= len(call.args):
            return "shared"
        origin = container_origin(unit, caller, call.args[index], depth + 1, before=call.start)
        if origin not in PRIVATE_ORIGINS and not (origin == "shared" and caller.name in init_only(unit)):
            return "shared"
    return "caller"


def _parameter_names(function: Function) -> list[str]:
    params = [p for p in named(function.parameters) if p.type == "parameter_declaration"] \
        if function.parameters is not None else []
    names = []
    for param in params:
        name = declarator_name(param.child_by_field_name("declarator"))
        names.append(text(name) if name is not None else "")
    return names


_ALLOCATOR = re.compile(r"(?:_?New\w*|_?[Aa]lloc\w*|_new|Copy|_From\w+|BuildValue|Pack)$")


def freshly_allocated(unit: CUnit, function: Function | None, obj: Node | None) -> bool:
    """``obj`` is a local that this function allocated itself (`o = PyObject_New(...)`, `tp_alloc`,
    `PyLong_FromLong`, a same-file creator): nobody else holds a reference to it yet."""
    obj = strip(obj)
    while obj is not None and obj.type == "cast_expression":
        obj = strip(obj.child_by_field_name("value"))
    if obj is None or function is None or obj.type != "identifier":
        return False
    variable = unit.type_of(obj)
    if variable is None or variable.is_static or variable.is_parameter or variable.function != function.name:
        return False
    sources = [c.node for c in function.calls if c.start < obj.start_byte and text(obj) in _assigned_names(c.node)]
    initial = strip(variable.initializer) if variable.initializer is not None else None
    if initial is not None:
        while initial is not None and initial.type == "cast_expression":
            initial = strip(initial.child_by_field_name("value"))
        if initial is not None and initial.type == "call_expression":
            sources.append(initial)
    if not sources:
        return False
    names = [text(c.child_by_field_name("function")).rsplit("->", 1)[-1].rsplit(".", 1)[-1] for c in sources]
    return all(_ALLOCATOR.search(n) or n in CREATORS or n in fresh_returning(unit) for n in names)


def fresh_returning(unit: CUnit) -> frozenset[str]:
    """Same-file functions every `return` of which hands out a new container (a `PyDict_New()` result,
    directly or through a local, or another such function's result) or NULL: a project's own
    `make_result_dict()` is a creator like `PyDict_New`. Cached on the unit."""
    return _returning(unit, CREATORS)


def thread_returning(unit: CUnit) -> frozenset[str]:
    """Same-file functions that only return a per-thread container (yappi's `_get_locals(frame)`
    returns `PyEval_GetLocals()`). Cached on the unit."""
    return _returning(unit, PER_THREAD)


@per_unit_keyed
def _returning(unit: CUnit, base: frozenset[str]) -> frozenset[str]:
    candidates = {name: f for name, f in unit.functions.items() if f.body is not None}
    found: set[str] = set()
    changed = True
    while changed:  # a fixed point: such functions may call each other
        changed = False
        for name, function in candidates.items():
            if name not in found and _returns_fresh(unit, function, found, base):
                found.add(name)
                changed = True
    return frozenset(found)


def _returns_fresh(unit: CUnit, function: Function, known: set[str], base: frozenset[str] = CREATORS) -> bool:
    # Only returns the target compiles count: yappi's `_get_locals` returns `PyEval_GetLocals()` from
    # 3.10 on and a frame's dict before, which no free-threaded build ever compiles.
    if function.body is None:
        return False
    returns = [n for n in unit.returns_in(function.body) if unit.compiled(n) is not Tri.NO]
    if not returns:
        return False
    for statement in returns:
        value = strip(named(statement)[0]) if named(statement) else None
        while value is not None and value.type == "cast_expression":
            value = strip(value.child_by_field_name("value"))
        if value is None:
            return False
        if value.type in ("null", "number_literal") or text(value) == "NULL":
            continue
        if value.type == "call_expression":
            callee = text(value.child_by_field_name("function"))
            if callee in base or callee in known:
                continue
            return False
        if value.type != "identifier":
            return False
        variable = unit.type_of(value)
        if variable is None or variable.is_static or variable.is_parameter or variable.function != function.name:
            return False
        sources = [c.node for c in function.calls if text(value) in _assigned_names(c.node)]
        if variable.initializer is not None and strip(variable.initializer) is not None:
            initial = strip(variable.initializer)
            if initial is not None and initial.type == "call_expression":
                sources.append(initial)
        callees = {text(c.child_by_field_name("function")) for c in sources}
        if not callees or not callees <= (base | known):
            return False
        if _reassigned_otherwise(unit, function, text(value)):
            return False
    return True


def _reassigned_otherwise(unit: CUnit, function: Function, name: str) -> bool:
    """`x = other;` anywhere in the function (beside the creating calls) makes `x` not surely fresh."""
    for node in descendants(function.body):
        if node.type == "assignment_expression":
            left, right = node.child_by_field_name("left"), strip(node.child_by_field_name("right"))
            if left is None or text(left) != name:
                continue
            if right is None:
                return True
            if right.type == "call_expression" or right.type == "null" or text(right) in ("NULL", "0", "nullptr"):
                continue  # a creating call, or NULL: still fresh or nothing
            if not (right.type == "assignment_expression" and _chain_ends_in_call(right)):
                return True
    return False


def _chain_ends_in_call(node: Node | None) -> bool:
    while node is not None and node.type == "assignment_expression":
        node = strip(node.child_by_field_name("right"))
    return node is not None and node.type == "call_expression"


_IDENT_B = re.compile(rb"[A-Za-z_]\w*")


def init_filled_globals(unit: CUnit) -> frozenset[str]:
    """File-scope container variables written only at module init (or cleared at teardown) and, at run
    time, only read through READERS: a registry built once in `PyInit_*` and then looked up. Handing
    the variable to anything else (a Python-visible module attribute, a return value) disqualifies it.
    Cached on the unit."""
    return _global_containers(unit)[0]


def add_only_globals(unit: CUnit) -> frozenset[str]:
    """Like ``init_filled_globals``, but at run time also added to with `PyDict_SetDefault`, which never
    replaces or removes a value (backports.zoneinfo's TIMEDELTA_CACHE): a value borrowed from it stays
    alive as long as the dict. Iterating it still races with the additions."""
    return _global_containers(unit)[1]


@per_unit
def _global_containers(unit: CUnit) -> tuple[frozenset[str], frozenset[str]]:
    # Static only: another file could change an exported one.
    candidates = {v.name for v in unit.globals if v.function is None and v.is_static and v.pointer_depth == 1
                  and not v.is_array and not v.is_function_pointer}
    ruled_out: set[str] = set()
    used: set[str] = set()
    added: set[str] = set()  # PyDict_SetDefault at run time
    created: set[str] = set()  # assigned at init: positive evidence that the module builds it
    teardown = teardown_roots(unit)
    mask = unit.raw.mask
    for match in _IDENT_B.finditer(mask):
        name = match.group(0).decode("ascii", "replace")
        if name not in candidates or name in ruled_out:
            continue
        node = unit.root.descendant_for_byte_range(match.start(), match.end())
        if node is None or node.type != "identifier" or node.start_byte != match.start():
            continue
        verdict = _global_use(unit, node, teardown)
        if verdict is None:
            continue  # the declaration itself
        used.add(name)
        if verdict == "assigned":
            created.add(name)
        elif verdict == "added":
            added.add(name)
        elif not verdict:
            ruled_out.add(name)
    built = (used & created) - ruled_out
    return frozenset(built - added), frozenset(built & added)


def _global_use(unit: CUnit, node: Node, teardown: set[str]) -> bool | str | None:
    """Whether this use of a global container keeps it private (None: not a use, e.g. its declaration)."""
    parent = node.parent
    if parent is None:
        return None
    if parent.type in ("init_declarator", "declaration", "pointer_declarator"):
        return None
    function = unit.function_at(node)
    if function is None:
        return False  # used in another global's initializer or a macro: unknown
    at_init = unit.is_init_only(function.name) or function.name in teardown
    # Climb casts and parentheses to see what the expression is part of.
    child = node
    while parent is not None and parent.type in ("cast_expression", "parenthesized_expression"):
        child, parent = parent, parent.parent
    if parent is None:
        return False
    if parent.type == "assignment_expression" and parent.child_by_field_name("left") == child:
        return "assigned" if at_init else False
    if parent.type in ("binary_expression", "unary_expression") and text(parent).replace(" ", "").startswith(
            ("!", text(child) + "==", text(child) + "!=", "NULL==", "NULL!=")):
        return True  # a NULL check
    if parent.type in ("if_statement", "condition_clause"):
        return True
    if parent.type == "argument_list":
        call = parent.parent
        callee = text(call.child_by_field_name("function")) if call is not None else ""
        first = bool(named(parent)) and named(parent)[0] == child
        if first and callee in READERS:
            return True
        if first and callee in ADD_ONLY:
            return True if at_init else "added"
        if first and callee in FILLERS:
            return at_init
        return False
    return False


def _assigned_names(call: Node) -> list[str]:
    """Every name a call's result is stored in: `ret = list = PyList_New(n)` gives both."""
    names = []
    node: Node | None = call
    while node is not None:
        name = _assigned_to(node)
        if name is None:
            break
        names.append(name)
        node = node.parent if node.parent is not None and node.parent.type == "assignment_expression" else None
        if node is not None and node.parent is not None and node.parent.type == "parenthesized_expression":
            node = node.parent
    return names


def _assigned_to(call: Node) -> str | None:
    node, parent = call, call.parent
    while parent is not None and parent.type in ("cast_expression", "parenthesized_expression"):
        node, parent = parent, parent.parent
    if parent is None:
        return None
    if parent.type == "assignment_expression" and parent.child_by_field_name("right") == node:
        left = parent.child_by_field_name("left")
        return normal_expr(text(left)) if left is not None else None
    if parent.type == "init_declarator":
        name = declarator_name(parent.child_by_field_name("declarator"))
        return text(name) if name is not None else None
    return None


def in_critical_section_on(unit: CUnit, node: Node, arg: Node | None) -> bool:
    if arg is None:
        return False
    wanted = normal_expr(unit.text(arg))
    return any(normal_expr(obj) == wanted for obj in unit.lock_state(node).critical_sections)


# -- collection -------------------------------------------------------------------------------------
_ALL_NAMES = sorted({api.name.rstrip("*") for api in CATALOGUE}, key=len, reverse=True)
_EXACT = re.compile(r"\b(?:" + "|".join(re.escape(n) for n in _ALL_NAMES if n + "*" not in
                                          {a.name for a in CATALOGUE}) + r")\b")
_PREFIX = re.compile(r"\b(?:" + "|".join(re.escape(a.name[:-1]) for a in CATALOGUE if a.name.endswith("*"))
                     + r")\w*")
_EXACT_B = re.compile(_EXACT.pattern.encode())
_PREFIX_B = re.compile(_PREFIX.pattern.encode())
_ALL_CODES = frozenset(api.rule for api in CATALOGUE)
# Compatibility shims define the replacement names; uses inside them are the backport, not a finding.
_REPLACEMENTS = frozenset(re.findall(r"\b(Py[A-Za-z_]+|_Py[A-Za-z_]+)\(", " ".join(a.replacement for a in CATALOGUE)))
_SHIM_NAMES = _REPLACEMENTS | {"_PyFrame_GetCodeBorrow", "_PyFrame_GetBackBorrow", "_PyThreadState_GetFrameBorrow"}
# A function or macro a project defines in CPython's own namespace is a backport (pythoncapi_compat.h).
_CPYTHON_NAMESPACE = re.compile(
    r"^_?Py(?:_|(?:Object|Dict|List|Tuple|Unicode|Bytes|Long|Float|Err|Eval|ThreadState|InterpreterState|Frame|Code"
    r"|Module|Type|Import|Sys|Weakref|Mem|Mapping|Sequence|Number|Cell|Config|Time|Mutex|Unstable|GILState|Buffer"
    r"|Iter|Capsule|Set|Function|Method|CFunction|Bool|Arg|Vectorcall|LongWriter|UnicodeWriter|BytesWriter"
    r"|Interpreter|Gen|Coro|Context|Exception|Slice|Capsule)_)\w+$")


def is_shim(name: str | None) -> bool:
    return name is not None and (name in _SHIM_NAMES or bool(_CPYTHON_NAMESPACE.match(name)))


class _Collector:
    def __init__(self, unit: CUnit, target: Target) -> None:
        self.unit = unit
        self.target = target
        self.found: list[Use] = []
        self.defined = self._defined_names()

    def _defined_names(self) -> set[str]:
        """Catalogue names this file defines itself (a shim for newer Pythons): their uses are fine."""
        names = set()
        for name, definitions in self.unit.macro_definitions.items():
            if any(self.unit.compiled(d.body_offset) is not Tri.NO for d in definitions):
                names.add(name)
        return names | set(self.unit.functions)

    def run(self) -> list[Use]:
        unit = self.unit
        mask = unit.raw.mask
        root = unit.root
        for pattern in (_EXACT_B, _PREFIX_B):
            for match in pattern.finditer(mask):
                start, end = match.span()
                node = root.named_descendant_for_byte_range(start, end)
                if node is None or node.start_byte != start or node.end_byte != end:
                    self._rewritten(match.group().decode(), start, end)
                    continue
                function = unit.function_at(start)
                if function is not None and is_shim(function.name):
                    continue
                self._classify(node, function, None)
        for definitions in unit.macro_definitions.values():
            for macro in definitions:
                if is_shim(macro.name) or not (_EXACT.search(macro.body) or _PREFIX.search(macro.body)):
                    continue
                for node in _identifiers_in(macro):
                    self._classify(node, None, macro)
        self.found.sort(key=lambda u: u.offset)
        return self.found

    def _rewritten(self, name: str, start: int, end: int) -> None:
        """A macro the normaliser replaced (``Py_TRASHCAN_SAFE_BEGIN`` became ``{``): report the span."""
        if not any(r.start <= start < r.end and r.name == name for r in self.unit.rewrites):
            return
        api = lookup(name, _ALL_CODES)
        if api is None or name in self.defined:
            return
        self._add(api, (start, end), None, None, self.unit.function_at(start), None, "name")

    def _classify(self, node: Node, function: Function | None, macro: Macro | None) -> None:
        name = text(node)
        parent = node.parent
        if parent is None:
            return
        if node.type == "field_identifier":
            if parent.type == "field_expression" and parent.child_by_field_name("field") == node:
                self._field(name, node, parent, function, macro)
            return
        if node.type not in ("identifier", "type_identifier"):
            return
        if name in self.defined:
            return
        if parent.type == "call_expression" and parent.child_by_field_name("function") == node:
            self._call(name, node, parent, function, macro)
            return
        if parent.type in ("function_declarator", "init_declarator", "preproc_def", "preproc_function_def"):
            return  # a declaration of the name, not a use
        api = lookup(name, BARE_NAME_RULES, "name")
        if api is not None and api.rule in BARE_NAME_RULES:
            self._add(api, node, parent, None, function, macro, "name")

    def _call(self, name: str, node: Node, call: Node, function: Function | None, macro: Macro | None) -> None:
        arguments = call.child_by_field_name("arguments")
        args = named(arguments) if arguments is not None else []
        first = args[0] if args else None
        for api in by_kind("lvalue").get(name, ()):
            write = _write_context(call)
            if write is not None:
                self._add(api, node, write, first, function, macro, "api", write=True)
        for api in by_kind("compare").get(name, ()):
            self._comparison(api, node, call, first, function, macro)
        row = lookup(name, _ALL_CODES)
        if row is not None and row.kind == "call":
            self._add(row, node, call, first, function, macro, "api")

    def _comparison(self, api: CApi, anchor: Node, operand: Node, obj: Node | None,
                    function: Function | None, macro: Macro | None) -> None:
        outer = operand
        while outer.parent is not None and outer.parent.type == "parenthesized_expression":
            outer = outer.parent
        binary = outer.parent
        if binary is None or binary.type != "binary_expression":
            return
        operator = text(binary.child_by_field_name("operator"))
        left, right = binary.child_by_field_name("left"), binary.child_by_field_name("right")
        if operator not in _COMPARISONS or left is None or right is None:
            return
        other = right if left == outer else left
        value = _int_literal(other)
        if value is None:
            return
        if left != outer:  # `1 == Py_REFCNT(x)`: mirror the operator
            operator = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(operator, operator)
        unique = (operator, value) in {("==", 1), ("<=", 1), ("<", 2)}
        shared = (operator, value) in {("!=", 1), (">", 1), (">=", 2)}
        if not (unique or shared):
            return
        self._add(api, anchor, binary, obj, function, macro, "api", negated=shared,
                  in_assert=_inside_assert(binary))

    def _field(self, name: str, node: Node, expr: Node, function: Function | None, macro: Macro | None) -> None:
        rows = by_kind("field").get(name, ())
        obj = expr.child_by_field_name("argument")
        if not rows:
            return
        owner_type, how = expression_type(self.unit, obj, macro)
        write = _write_context(expr) is not None
        for api in rows:
            if owner_type is not None:
                if not _owner_matches(api.owner, owner_type):
                    continue
                evidence = how
            elif api.owner == "PyObject":
                evidence = "fieldname"  # ob_refcnt/ob_type/ob_size name nothing else
            elif api.owner in NAMING and NAMING[api.owner].search(last_name(obj) or ""):
                evidence = "name"
            elif not api.generic:
                evidence = "fieldname"
            else:
                continue
            self._add(api, node, expr, obj, function, macro, evidence, write=write)
            if name == "ob_refcnt":
                for compare in by_kind("compare").get("Py_REFCNT", ()):
                    self._comparison(compare, node, expr, obj, function, macro)
            return

    def _add(self, api: CApi, anchor: Node | tuple[int, int], node: Node | None, obj: Node | None,
             function: Function | None, macro: Macro | None, evidence: str, *, write: bool = False,
             negated: bool = False, in_assert: bool = False) -> None:
        offset = anchor.start_byte if isinstance(anchor, Node) else anchor[0]
        where = macro.body_offset if macro is not None else offset
        relevant = relevant_versions(self.unit, where, api, self.target)
        if relevant is None:
            return
        versions, broken = relevant
        self.found.append(Use(api, anchor, node, obj, function, macro, evidence, versions, broken, write=write,
                              negated=negated, in_assert=in_assert))


def _owner_matches(owner: str, found: str) -> bool:
    if owner == "PyObject":
        # Any CPython object struct carries the header; a same-file non-Python struct does not.
        return found in ("PyObject",) or found.startswith(("Py", "struct _object"))
    return found == owner


def _identifiers_in(macro: Macro) -> Iterator[Node]:
    root = macro.body_tree().root_node
    stack = [root]
    while stack:
        node = stack.pop()
        if node.end_byte <= macro.body_offset or node.start_byte >= macro.body_end:
            continue
        if node.type in ("identifier", "field_identifier", "type_identifier"):
            if macro.body_offset <= node.start_byte and (_EXACT.fullmatch(text(node)) or
                                                         _PREFIX.fullmatch(text(node))):
                yield node
            continue
        if node.type in ("string_literal", "char_literal", "comment"):
            continue
        stack.extend(reversed(node.children))


def _write_context(node: Node) -> Node | None:
    """The assignment/update that writes ``node`` (through parentheses), else None."""
    outer = node
    while outer.parent is not None and outer.parent.type == "parenthesized_expression":
        outer = outer.parent
    parent = outer.parent
    if parent is None:
        return None
    if parent.type == "assignment_expression" and parent.child_by_field_name("left") == outer:
        return parent
    if parent.type == "update_expression":
        return parent
    return None


def _int_literal(node: Node | None) -> int | None:
    node = strip(node)
    if node is None or node.type != "number_literal":
        return None
    try:
        return int(text(node).rstrip("uUlL"), 0)
    except ValueError:
        return None


def _inside_assert(node: Node) -> bool:
    parent = node.parent
    while parent is not None and parent.type not in ("expression_statement", "compound_statement",
                                                      "if_statement", "return_statement"):
        if parent.type == "call_expression" and _ASSERT.search(text(parent.child_by_field_name("function"))):
            return True
        parent = parent.parent
    return False
