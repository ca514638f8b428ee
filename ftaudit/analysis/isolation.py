"""What a file's modules say about sub-interpreters, and what in the file keeps them from being isolated.

Since 3.12 each interpreter can have its own GIL (PEP 684). An interpreter created with the isolated
configuration (``_interpreters.create()`` in 3.13, ``concurrent.interpreters`` in 3.14) imports a module
only when it declares ``Py_MOD_PER_INTERPRETER_GIL_SUPPORTED``; a free-threaded build refuses single-phase
modules in every sub-interpreter. A module that may be loaded by several interpreters must keep its Python
objects per interpreter (module state, heap types: PEP 489/630/687). The FT6xx rules read this one result.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from tree_sitter import Node

from ftaudit.analysis.memo import per_unit_keyed
from ftaudit.analysis.shared_state import collect_writes, is_exempt, is_shared_storage
from ftaudit.cmodel import CUnit, Tri
from ftaudit.cmodel.declarations import Variable
from ftaudit.cmodel.functions import Call
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
TYPE_USES = frozenset({"PyType_Ready", "PyModule_AddType", "PyModule_AddObject", "PyModule_AddObjectRef"})


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
    """Process-global storage of a Python object, and its first write (init and teardown included)."""

    variable: Variable
    write: Node
    function: str


@dataclass
class Isolation:
    modules: list[ModuleSupport] = field(default_factory=list)
    static_types: list[tuple[Variable, Call]] = field(default_factory=list)  # the type and its PyType_Ready
    object_globals: list[ObjectGlobal] = field(default_factory=list)
    state_lookups: list[Call] = field(default_factory=list)  # PyState_FindModule/AddModule/RemoveModule
    gilstate_calls: list[Call] = field(default_factory=list)  # PyGILState_Ensure

    @property
    def shared(self) -> list[ModuleSupport]:
        """The file's modules that several interpreters may load."""
        return [m for m in self.modules if m.support.several_interpreters]

    @property
    def own_gil(self) -> list[ModuleSupport]:
        return [m for m in self.modules if m.support is Support.OWN_GIL]

    @property
    def multi_phase(self) -> bool:
        return any(m.support is not Support.SINGLE_PHASE for m in self.modules)


def _declared(module_def: ModuleDef, target: Target) -> tuple[Support, Node] | None:
    """The module's ``Py_mod_multiple_interpreters`` value compiled for ``target``, and its entry."""
    if module_def.slots is None:
        return None
    for entry in module_def.slots.find(SLOT):
        if entry.compiled(target) is Tri.NO:
            continue
        value = entry.value.strip("() ")
        support = {OWN_GIL_VALUE: Support.OWN_GIL, SHARED_GIL_VALUE: Support.SHARED_GIL,
                   NOT_SUPPORTED_VALUE: Support.NOT_SUPPORTED}.get(value)
        if support is None:  # a number or a macro of the project's: 2 is "own GIL", 0 "not supported"
            support = {"2": Support.OWN_GIL, "1": Support.SHARED_GIL, "0": Support.NOT_SUPPORTED}.get(
                value, Support.SHARED_GIL)
        return support, entry.node
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
        declared = _declared(module_def, target)
        if declared is not None:
            spelled = {Support.OWN_GIL: OWN_GIL_VALUE, Support.SHARED_GIL: SHARED_GIL_VALUE,
                       Support.NOT_SUPPORTED: NOT_SUPPORTED_VALUE}[declared[0]]
            found.append(ModuleSupport(subject, declared[0], declared[1], module_def, spelled=spelled))
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


def _static_types(unit: CUnit) -> list[tuple[Variable, Call]]:
    """File-scope ``PyTypeObject`` definitions (not pointers) that the file readies or adds to a module."""
    candidates = {v.name: v for v in unit.globals
                  if v.function is None and v.pointer_depth == 0 and not v.is_array and v.storage != "extern"
                  and v.base_type.replace("struct ", "").strip() in ("PyTypeObject", "_typeobject")
                  and v.initializer is not None}
    if not candidates:
        return []
    found: dict[str, tuple[Variable, Call]] = {}
    for call in unit.calls:
        if call.name not in TYPE_USES:
            continue
        for arg in call.args:
            spelled = text(arg).replace(" ", "")
            name = spelled.rsplit("&", 1)[-1].strip("()") if "&" in spelled else ""
            if name in candidates and name not in found:
                found[name] = (candidates[name], call)
    return sorted(found.values(), key=lambda pair: pair[0].line)


def _is_object_pointer(variable: Variable) -> bool:
    base = variable.base_type.replace("struct ", "").replace("const ", "").strip()
    return (variable.pointer_depth >= 1 and not variable.is_function_pointer
            and base.startswith("Py") and base.endswith("Object"))


def _clears(write: Node) -> bool:
    """`x = NULL` (teardown) or `Py_CLEAR(x)`: a write that stores no object."""
    if write.type == "assignment_expression":
        right = write.child_by_field_name("right")
        return right is not None and text(right).strip("() ") in ("NULL", "0", "nullptr")
    return write.type == "call_expression" and text(write).startswith("Py_CLEAR")


def _object_globals(unit: CUnit, target: Target) -> list[ObjectGlobal]:
    """Each written global Python object once, at the first write that stores one (else the first)."""
    chosen: dict[int, ObjectGlobal] = {}
    for write in collect_writes(unit, target):
        variable = write.variable
        if not is_shared_storage(variable) or is_exempt(variable) or not _is_object_pointer(variable):
            continue
        seen = chosen.get(id(variable))
        if seen is None or (_clears(seen.write) and not _clears(write.node)):
            chosen[id(variable)] = ObjectGlobal(variable, write.node, write.function)
    return sorted(chosen.values(), key=lambda g: g.variable.line)


@per_unit_keyed
def analyse(unit: CUnit, target: Target) -> Isolation:
    """The file's modules and its obstacles to isolation (computed once per unit and target)."""
    result = Isolation(modules=_modules(unit, target))
    result.static_types = _static_types(unit)
    result.object_globals = _object_globals(unit, target)
    result.state_lookups = [c for c in unit.calls if c.name in STATE_LOOKUPS]
    result.gilstate_calls = [c for c in unit.calls if c.name == GILSTATE_ENSURE]
    return result
