"""What a file's modules say about sub-interpreters, and what in the file keeps them from being isolated.

Since 3.12 each interpreter can have its own GIL (PEP 684). An interpreter created with the isolated
configuration (``_interpreters.create()`` in 3.13, ``concurrent.interpreters`` in 3.14) imports a module
only when it declares ``Py_MOD_PER_INTERPRETER_GIL_SUPPORTED``; a free-threaded build refuses single-phase
modules in every sub-interpreter. A module that may be loaded by several interpreters must keep its Python
objects per interpreter (module state, heap types: PEP 489/630/687). The FT6xx rules read this one result.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Node

from ftaudit.analysis.memo import per_unit_keyed
from ftaudit.analysis.shared_state import collect_writes, is_shared_storage
from ftaudit.cmodel import CUnit, Tri
from ftaudit.cmodel.declarations import Variable
from ftaudit.cmodel.functions import Call, closure
from ftaudit.cmodel.includes import find_header, quoted_include
from ftaudit.cmodel.module_defs import BindingModule, ModuleDef, ModuleInit
from ftaudit.cmodel.nodes import text
from ftaudit.target import Target

SLOT = "Py_mod_multiple_interpreters"
OWN_GIL_VALUE = "Py_MOD_PER_INTERPRETER_GIL_SUPPORTED"
SHARED_GIL_VALUE = "Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED"
NOT_SUPPORTED_VALUE = "Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED"
# The slot and its values exist since 3.12.
SLOT_GUARD = "#if PY_VERSION_HEX >= 0x030C0000"
STATE_LOOKUPS = frozenset({"PyState_FindModule", "PyState_AddModule", "PyState_RemoveModule"})
GILSTATE_ENSURE = "PyGILState_Ensure"
# Calls that make a static type live: readying it, or adding it to a module.
TYPE_USES = frozenset({"PyType_Ready", "PyModule_AddType", "PyModule_AddObject", "PyModule_AddObjectRef",
                       "PyStructSequence_InitType", "PyStructSequence_InitType2"})
# C++ binding classes that own a Python object: a `static py::object` is a process-global object too.
_BINDING_OBJECTS = re.compile(r"^(?:py|pybind11|nb|nanobind)::(?:object|module_?|handle|type|dict|list|tuple|"
                              r"str|bytes|function|capsule|set|int_|float_|bool_|callable)\b")


class Support(enum.Enum):
    """What a module declares about sub-interpreters (or what CPython assumes when it declares nothing)."""

    OWN_GIL = "own-gil"  # Py_MOD_PER_INTERPRETER_GIL_SUPPORTED: loads in isolated interpreters
    SHARED_GIL = "shared-gil"  # Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED: only where the main GIL is shared
    DEFAULT = "default"  # multi-phase, no slot: CPython treats it as SHARED_GIL
    NOT_SUPPORTED = "not-supported"  # Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED: main interpreter only
    SINGLE_PHASE = "single-phase"  # PyModule_Create in PyInit_*: refused by isolated interpreters

    @property
    def several_interpreters(self) -> bool:
        """Whether more than one interpreter of a process can load the module (each runs its exec)."""
        return self in (Support.OWN_GIL, Support.SHARED_GIL, Support.DEFAULT)

    @property
    def claimed(self) -> bool:
        """The module says so explicitly (a slot), rather than by default."""
        return self in (Support.OWN_GIL, Support.SHARED_GIL)


@dataclass(frozen=True, eq=False)
class ModuleSupport:
    subject: str  # the module's name, or a description of it (``ModuleName.subject``)
    support: Support
    anchor: Node  # the slot entry when declared; the slot array or definition; the create call
    module_def: ModuleDef | None
    init: ModuleInit | None = None
    spelled: str = ""  # how the module declares its support, for messages (`Py_MOD_…`, pybind11's option)


@dataclass(frozen=True, eq=False)
class ObjectGlobal:
    """Process-global storage of a Python object, and its first write (init and teardown included).
    ``variable`` is None for a global the file writes but a header declares (python-zstd's `ZstdError`)."""

    name: str
    variable: Variable | None
    write: Node
    function: str

    @property
    def anchor(self) -> Node:
        """Where to report: the declaration, or the write when a header declares the variable."""
        return self.variable.node if self.variable is not None else self.write

    @property
    def kind(self) -> str:
        if self.variable is None:
            return "declared in a header"
        return f"static in `{self.variable.function}`" if self.variable.function else "global"


@dataclass
class Isolation:
    modules: list[ModuleSupport] = field(default_factory=list)
    # In a file with several modules: each module's functions (its slots, methods and what they call), so
    # that state is charged to the module that uses it. Empty with one module: everything is its own.
    functions_of: dict[int, frozenset[str]] = field(default_factory=dict)
    static_types: list[tuple[Variable, Call]] = field(default_factory=list)  # the type and its PyType_Ready
    object_globals: list[ObjectGlobal] = field(default_factory=list)
    state_lookups: list[Call] = field(default_factory=list)  # PyState_FindModule/AddModule/RemoveModule
    gilstate_calls: list[Call] = field(default_factory=list)  # PyGILState_Ensure

    def owners(self, function: str | None) -> list[ModuleSupport]:
        """The modules whose code runs ``function`` (every module when the file has one, or when no module's
        code is known to reach it: a type's method, a callback)."""
        if not self.functions_of or function is None:
            return self.modules
        found = [m for m in self.modules if function in self.functions_of.get(id(m), frozenset())]
        return found or self.modules

    @property
    def shared(self) -> list[ModuleSupport]:
        """The file's modules that several interpreters may load."""
        return [m for m in self.modules if m.support.several_interpreters]

    @property
    def multi_phase(self) -> bool:
        return any(m.support is not Support.SINGLE_PHASE for m in self.modules)


_CAST = re.compile(r"\(\s*(?:const\s+)?(?:void|u?intptr_t|char|size_t)\s*\*?\s*\)")
_VALUES = ((OWN_GIL_VALUE, Support.OWN_GIL), (NOT_SUPPORTED_VALUE, Support.NOT_SUPPORTED),
           (SHARED_GIL_VALUE, Support.SHARED_GIL))
_SPELLED = {support: name for name, support in _VALUES}
# The slot's values are the pointers 0, 1 and 2 (Include/moduleobject.h).
_NUMBERS = {"0": Support.NOT_SUPPORTED, "1": Support.SHARED_GIL, "2": Support.OWN_GIL}


def _slot_value(unit: CUnit, spelled: str, depth: int = 0) -> Support:
    """The slot's value as written: a CPython macro (behind casts: `(void *)(uintptr_t)Py_MOD_…`), a number,
    or a macro of the project's that stands for one of those."""
    value = _CAST.sub("", spelled).replace("(", "").replace(")", "").strip()
    for name, support in _VALUES:
        if name in value:
            return support
    if value in _NUMBERS:
        return _NUMBERS[value]
    macro = unit.macros.get(value)
    if macro is not None and macro.params is None and depth < 4:
        return _slot_value(unit, macro.body, depth + 1)
    return Support.SHARED_GIL  # unknown: what CPython assumes without a declaration


def _declared(unit: CUnit, module_def: ModuleDef, target: Target) -> tuple[Support, Node] | None:
    """The module's ``Py_mod_multiple_interpreters`` value compiled for ``target``, and its entry."""
    if module_def.slots is None:
        return None
    for entry in module_def.slots.find(SLOT):
        if entry.compiled(target) is Tri.NO:
            continue
        return _slot_value(unit, entry.value), entry.node
    return None


def _modules(unit: CUnit, target: Target) -> list[ModuleSupport]:
    found: list[ModuleSupport] = []
    inits = unit.module_inits
    multi_names = {i.module_def.name for i in inits if i.kind == "multi" and i.module_def is not None}
    seen: set[str] = set()
    for module_def in unit.module_defs:
        slotted = module_def.slots_name not in (None, "NULL", "0") and module_def.slots is not None
        if module_def.name not in multi_names and not slotted:
            continue
        seen.add(module_def.name)
        subject = unit.module_name(module_def).subject
        declared = _declared(unit, module_def, target)
        if declared is not None:
            found.append(ModuleSupport(subject, declared[0], declared[1], module_def, spelled=_SPELLED[declared[0]]))
            continue
        holder = module_def.slots if module_def.slots is not None else module_def
        found.append(ModuleSupport(subject, Support.DEFAULT, holder.name_node or holder.node, module_def))
    for binding in unit.binding_modules:
        if binding.node is None:
            continue
        support = _binding_support(binding)
        spelled = {Support.OWN_GIL: "py::multiple_interpreters::per_interpreter_gil()",
                   Support.SHARED_GIL: "py::multiple_interpreters::shared_gil()"}.get(support, "")
        found.append(ModuleSupport(binding.name, support, binding.node, None, spelled=spelled))
    for init in inits:
        if init.kind != "single" or init.create_call is None:
            continue
        if init.module_def is not None and init.module_def.name in seen:
            continue
        subject = unit.module_name(init.module_def).subject if init.module_def is not None else init.module_name
        found.append(ModuleSupport(subject, Support.SINGLE_PHASE, init.create_call.node, init.module_def, init))
    return found


def _binding_support(binding: BindingModule) -> Support:
    """pybind11 3.0 takes `py::multiple_interpreters::per_interpreter_gil()` / `shared_gil()` /
    `not_supported()` among the macro's arguments; without one it declares "not supported". nanobind
    always declares "not supported" (2.8+; single-phase before)."""
    if binding.kind == "pybind11":
        for arg in binding.args:
            spelled = arg.replace(" ", "")
            if "multiple_interpreters::per_interpreter_gil" in spelled:
                return Support.OWN_GIL
            if "multiple_interpreters::shared_gil" in spelled:
                return Support.SHARED_GIL
    return Support.NOT_SUPPORTED


def _static_types(unit: CUnit, target: Target) -> list[tuple[Variable, Call]]:
    """File-scope ``PyTypeObject`` definitions (not pointers) that code compiled for ``target`` readies or adds
    to a module (a struct sequence's type has no initialiser: ``PyStructSequence_InitType2`` fills it)."""
    candidates = {v.name: v for v in unit.globals
                  if v.function is None and v.pointer_depth == 0 and not v.is_array and v.storage != "extern"
                  and v.base_type.replace("struct ", "").strip() in ("PyTypeObject", "_typeobject")}
    if not candidates:
        return []
    found: dict[str, tuple[Variable, Call]] = {}
    for call in unit.calls:
        if call.name not in TYPE_USES or unit.compiled(call.node, target) is Tri.NO:
            continue
        for arg in call.args:
            spelled = text(arg).replace(" ", "")
            name = spelled.rsplit("&", 1)[-1].strip("()") if "&" in spelled else ""
            if name in candidates and name not in found:
                found[name] = (candidates[name], call)
    return sorted(found.values(), key=lambda pair: pair[0].line)


def _holds_object(variable: Variable) -> bool:
    """A pointer to a Python object (``PyObject *``, ``PyTypeObject *``, ...) or a C++ binding object.
    Thread-local and atomic storage count: an interpreter switch on the same thread sees the same slot."""
    if variable.is_function_pointer or variable.deeply_const:
        return False
    base = variable.base_type.replace("struct ", "").replace("const ", "").strip()
    if variable.pointer_depth >= 1:
        return base.startswith("Py") and base.endswith("Object")
    return bool(_BINDING_OBJECTS.match(base))


def _stores_nothing(write: Node) -> bool:
    """`x = NULL`, `Py_CLEAR(x)`, `x = Py_None`: a write that stores no object another interpreter could own."""
    if write.type == "assignment_expression":
        right = write.child_by_field_name("right")
        spelled = text(right).replace(" ", "") if right is not None else ""
        return spelled.strip("()") in ("NULL", "0", "nullptr", "Py_None", "Py_True", "Py_False") or \
            spelled in ("Py_NewRef(Py_None)", "Py_NewRef(Py_True)", "Py_NewRef(Py_False)")
    return write.type == "call_expression" and text(write).startswith("Py_CLEAR")


# Tests that code runs in the main interpreter: `PyInterpreterState_Get() == PyInterpreterState_Main()`.
MAIN_INTERPRETER_TESTS = ("PyInterpreterState_Main", "_Py_IsMainInterpreter")


def _main_interpreter_helpers(unit: CUnit) -> frozenset[str]:
    """The file's functions whose whole body is `return <main-interpreter test>;` (syslog's
    `is_main_interpreter()`)."""
    found = set()
    for function in unit.function_list:
        body = function.body
        statements = body.named_children if body is not None else []
        if len(statements) == 1 and statements[0].type == "return_statement" and _tests_main(statements[0], ()):
            found.add(function.name)
    return frozenset(found)


def _tests_main(node: Node, helpers: frozenset[str] | tuple[()]) -> bool:
    spelled = text(node)
    return any(name in spelled for name in MAIN_INTERPRETER_TESTS) or any(f"{h}(" in spelled for h in helpers)


def _not_main(condition: Node, helpers: frozenset[str]) -> bool:
    """The condition is true exactly in the other interpreters: `!is_main()`, `x != PyInterpreterState_Main()`,
    `!_Py_IsMainInterpreter(interp)`, `is_main() == 0`."""
    node = condition
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    if node.type == "unary_expression" and text(node).lstrip().startswith("!"):
        operand = node.child_by_field_name("argument")
        return operand is not None and operand.type == "call_expression" and _tests_main(operand, helpers)
    if node.type == "binary_expression":
        operator = node.child_by_field_name("operator")
        spelled = text(operator) if operator is not None else ""
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None:
            return False
        if spelled == "!=":
            return _tests_main(left, helpers) or _tests_main(right, helpers)
        if spelled == "==":
            call, zero = (left, right) if text(right).strip() in ("0", "false") else (right, left)
            return text(zero).strip() in ("0", "false") and call.type == "call_expression" and _tests_main(
                call, helpers)
    return False


def _leaves(consequence: Node) -> bool:
    """The branch ends in a `return` of its own (not one in a nested block or a comment)."""
    if consequence.type == "return_statement":
        return True
    statements = [c for c in consequence.named_children if c.type != "comment"]
    return consequence.type == "compound_statement" and bool(statements) and statements[-1].type == "return_statement"


def _main_only_starts(unit: CUnit, helpers: frozenset[str]) -> dict[int, int]:
    """Function start -> the offset after which only the main interpreter runs the function: the end of
    its first top-level `if (<not the main interpreter>) { … return …; }` (syslog's `openlog()`)."""
    starts = {}
    for function in unit.function_list:
        if function.body is None or not _tests_main(function.body, helpers):
            continue
        for statement in function.body.named_children:
            if statement.type != "if_statement" or statement.child_by_field_name("alternative") is not None:
                continue
            condition = statement.child_by_field_name("condition")
            consequence = statement.child_by_field_name("consequence")
            if condition is not None and consequence is not None and _not_main(condition, helpers) \
                    and _leaves(consequence):
                starts[function.node.start_byte] = statement.end_byte
                break
    return starts


def _object_globals(unit: CUnit, target: Target) -> list[ObjectGlobal]:
    """Each process-global Python object written by compiled code, once, at the first write that stores an
    object (a variable that only ever holds NULL or an immortal constant is no state)."""
    chosen: dict[int, ObjectGlobal] = {}
    main_only: dict[int, int] = {}
    if any(name.encode() in unit.source for name in MAIN_INTERPRETER_TESTS):
        main_only = _main_only_starts(unit, _main_interpreter_helpers(unit))
    # Thread-local and atomic storage is no exemption here: only what can hold no object is left out. A file
    # declaring no such storage (most helpers, `_json.c`) is not walked for writes at all.
    holders = any(is_shared_storage(v) and _holds_object(v) for v in unit.globals)
    writes = collect_writes(unit, target, exempt=lambda variable: not _holds_object(variable)) if holders else []
    for write in writes:
        variable = write.variable
        if id(variable) in chosen or not is_shared_storage(variable) or not _holds_object(variable):
            continue
        if _stores_nothing(write.node) or unit.compiled(write.node, target) is Tri.NO:
            continue
        if main_only:
            function = unit.function_at(write.node)
            after = main_only.get(function.node.start_byte) if function is not None else None
            if after is not None and write.node.start_byte >= after:
                continue  # only the main interpreter gets here: no other import replaces the object
        chosen[id(variable)] = ObjectGlobal(variable.name, variable, write.node, write.function)
    # `static PyObject *m = PyImport_ImportModule("x");` in a C++ function: set once, on the first call.
    for variable in unit.globals:
        init = variable.initializer
        if (variable.function is not None and variable.storage == "static" and init is not None
                and id(variable) not in chosen and _holds_object(variable) and init.type == "call_expression"
                and unit.compiled(init, target) is not Tri.NO):
            chosen[id(variable)] = ObjectGlobal(variable.name, variable, init, variable.function)
    found = list(chosen.values())
    seen = {g.name for g in found}
    for elsewhere in _header_globals(unit, target):
        if elsewhere.name not in seen:
            seen.add(elsewhere.name)
            found.append(elsewhere)
    return sorted(found, key=lambda g: g.anchor.start_byte)


# Calls that return a new Python object: what a global declared elsewhere is being given.
_CREATES = re.compile(r"^(?:PyErr_NewException(?:WithDoc)?|PyImport_Import\w*|PyObject_GetAttr\w*|"
                      r"PyUnicode_(?:InternFromString|FromString)|PyDict_New|PyList_New|PyTuple_New|"
                      r"PyType_From\w+|PyCapsule_Import|PyLong_From\w+|PyBytes_FromString)$")


def _header_globals(unit: CUnit, target: Target) -> list[ObjectGlobal]:
    """`Name = PyErr_NewException(…)` in a function, where `Name` is declared nowhere in the file (neither a
    local, a parameter nor a file-scope variable): a global from one of the project's headers, holding
    the object the call returns. C only: in C++ such a name may be a data member of the method's class."""
    found: list[ObjectGlobal] = []
    if unit.language != "c":
        return found
    for node in unit.assignments:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None or left.type != "identifier" or right.type != "call_expression":
            continue
        callee = right.child_by_field_name("function")
        if callee is None or not _CREATES.match(text(callee)):
            continue
        function = unit.function_at(node)
        if function is None or unit.type_of(left) is not None or unit.compiled(node, target) is Tri.NO:
            continue
        name = text(left)
        if name in unit.macros:
            continue
        found.append(ObjectGlobal(name, None, node, function.name))
    if found:
        declared = _declared_in_headers(unit, {g.name for g in found})
        found = [g for g in found if g.name in declared]
    return found


def _declared_in_headers(unit: CUnit, names: set[str], depth: int = 3) -> set[str]:
    """Which of ``names`` the file's project headers (quoted includes, found as the C model finds them)
    declare as a Python-object pointer: `static PyObject *ZstdError;`. Only that counts as evidence: a
    header's macro (`#define ZstdError (state->error)`), or a header the model cannot find (an include
    directory of the build), proves nothing."""
    if unit.read_header is None:
        return set()
    pattern = re.compile(r"\bPy\w*Object\s*\*\s*(?:const\s+)?(" + "|".join(map(re.escape, sorted(names)))
                         + r")\s*[;=,\[]")
    found: set[str] = set()
    todo = [(Path(unit.path).parent, unit.raw.directives, 0)]
    seen: set[Path] = set()
    while todo and found != names:
        folder, directives, level = todo.pop()
        for directive in directives:
            name = quoted_include(directive) if directive.kind == "include" else None
            located = find_header(folder, name, unit.read_header) if name else None
            if located is None or located[0] in seen:
                continue
            where, (included, _) = located
            seen.add(where)
            data = unit.read_header(where)
            if data is not None:
                found.update(m.group(1) for m in pattern.finditer(data.decode("utf-8", "replace")))
            if level + 1 < depth:
                todo.append((where.parent, included, level + 1))
    return found


def _functions_of(unit: CUnit, modules: list[ModuleSupport]) -> dict[int, frozenset[str]]:
    """Each module's functions: those its definition, slot array and method table name, and their callees."""
    holders: dict[int, list[tuple[int, int]]] = {}
    for module in modules:
        spans = []
        definition = module.module_def
        if definition is not None:
            spans.append((definition.node.start_byte, definition.node.end_byte))
            if definition.slots is not None:
                spans.append((definition.slots.node.start_byte, definition.slots.node.end_byte))
            for table in unit.globals:
                if table.function is None and table.name == definition.methods_name:
                    spans.append((table.declaration.start_byte, table.declaration.end_byte))
        elif module.init is not None:
            spans.append((module.init.function.node.start_byte, module.init.function.node.end_byte))
        holders[id(module)] = spans
    named: dict[int, set[str]] = {id(m): set() for m in modules}
    for name, references in unit.references.items():
        for reference in references:
            for module in modules:
                if any(start <= reference.offset < end for start, end in holders[id(module)]):
                    named[id(module)].add(name)
    for module in modules:
        if module.init is not None:
            named[id(module)].add(module.init.name)
    callees = unit._graph[0]
    return {key: frozenset(closure(roots, callees)) for key, roots in named.items()}


@per_unit_keyed
def analyse(unit: CUnit, target: Target) -> Isolation:
    """The file's modules and its obstacles to isolation (computed once per unit and target)."""
    result = Isolation(modules=_modules(unit, target))
    if len(result.modules) > 1:
        result.functions_of = _functions_of(unit, result.modules)
    # Static types and global objects matter only where several interpreters may load a module: in a file
    # that defines only single-phase or "not supported" modules, the write collection is not paid for.
    if result.shared or not result.modules:  # a file without modules may be linked into such a module
        result.static_types = _static_types(unit, target)
        result.object_globals = _object_globals(unit, target)
    calls = [c for c in unit.calls if (c.name in STATE_LOOKUPS or c.name == GILSTATE_ENSURE)
             and unit.compiled(c.node, target) is not Tri.NO]
    result.state_lookups = [c for c in calls if c.name in STATE_LOOKUPS]
    result.gilstate_calls = [c for c in calls if c.name == GILSTATE_ENSURE]
    return result
