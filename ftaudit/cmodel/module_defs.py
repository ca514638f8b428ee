"""Module definitions: ``PyModuleDef`` variables, their slot arrays, ``PyInit_*`` functions and
pybind11/nanobind module macros — the facts the GIL-declaration rules (FT101-FT106) need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tree_sitter import Node

from ftaudit.cmodel.conditions import Tri
from ftaudit.cmodel.functions import Call, Function
from ftaudit.cmodel.guards import Guard
from ftaudit.cmodel.nodes import flat, named, text
from ftaudit.target import Target

# PyModuleDef fields in declaration order (positional initialisers follow it).
MODULE_DEF_FIELDS = (
    "m_base",
    "m_name",
    "m_doc",
    "m_size",
    "m_methods",
    "m_slots",
    "m_traverse",
    "m_clear",
    "m_free",
)
SLOT_FIELDS = ("slot", "value")
SINGLE_PHASE_CREATORS = frozenset(
    {
        "PyModule_Create",
        "PyModule_Create2",
        "PyModule_New",
        "PyModule_NewObject",
        "Py_InitModule",
        "Py_InitModule3",
        "Py_InitModule4",
    }
)
MULTI_PHASE_INIT = "PyModuleDef_Init"
SET_GIL = "PyUnstable_Module_SetGIL"
BINDING_MACROS = {"PYBIND11_MODULE": "pybind11", "NB_MODULE": "nanobind"}
# Bytes one of which every way of defining or initialising a module spells (`PyInit_x`, a `PyModuleDef`,
# `PyModule_Create`, a `Py_mod_*` slot, a binding macro): a file without any defines no module.
MODULE_TOKENS = (b"PyInit_", b"PyModuleDef", b"PyModule_", b"Py_mod_", b"SetGIL", *(m.encode() for m in BINDING_MACROS))


def may_define_module(data: bytes) -> bool:
    return any(token in data for token in MODULE_TOKENS)
_NULLS = ("NULL", "0", "nullptr", "((void*)0)")


def read_initializer(
    init: Node | None, fields: tuple[str, ...], excluded: Callable[[Node], bool] | None = None
) -> dict[str, Node]:
    """Field name -> value node, for positional and designated (``.m_name = ...``) elements.

    ``excluded`` drops elements not compiled for the target: an `#if … #else …` inside a positional
    initializer would otherwise shift every later field by one.
    """
    values: dict[str, Node] = {}
    if init is None or init.type != "initializer_list":
        return values
    index = 0
    for element in named(init):
        if element.type == "ERROR" or (excluded is not None and excluded(element)):
            continue
        if element.type == "initializer_pair":
            designator = element.child_by_field_name("designator")
            name = text(designator).lstrip(".").strip() if designator is not None else ""
            value = element.child_by_field_name("value")
            if name in fields and value is not None:
                values[name] = value
                index = fields.index(name) + 1
            continue
        if index < len(fields):
            values[fields[index]] = element
        index += 1
    return values


@dataclass(slots=True, eq=False)
class SlotEntry:
    """One ``{slot, value}`` entry of a ``PyModuleDef_Slot`` array."""

    slot: str  # "Py_mod_gil"
    value: str  # "Py_MOD_GIL_NOT_USED"
    node: Node  # the entry's initializer_list
    guards: Sequence[Guard]
    target: Target = field(default_factory=Target)
    value_node: Node | None = None
    defines: dict[str, int | None] = field(default_factory=dict)  # language facts (__cplusplus)

    def compiled(self, target: Target | None = None) -> Tri:
        """Whether the entry is compiled for ``target`` (default: the unit's target)."""
        result = Tri.YES
        for guard in self.guards:
            result = result & guard.evaluate(target or self.target, self.defines)
        return result

    @property
    def line(self) -> int:
        return self.node.start_point[0] + 1


@dataclass(slots=True, eq=False)
class SlotArray:
    name: str
    node: Node  # the declaration
    entries: list[SlotEntry]
    terminated: bool  # ends with {0, NULL}
    line: int
    name_node: Node | None = None  # the declared identifier (a short anchor for findings)
    sentinel: Node | None = None  # the `{0, NULL}` entry, before which a new slot goes

    def find(self, slot: str) -> list[SlotEntry]:
        return [entry for entry in self.entries if entry.slot == slot]


@dataclass(slots=True, eq=False)
class ModuleDef:
    """A ``PyModuleDef`` variable and what its initializer says."""

    name: str
    node: Node  # the declaration
    fields: dict[str, str]  # field -> value text (whitespace collapsed)
    field_nodes: dict[str, Node]
    m_name: str | None  # the module name (string contents), or the expression text
    m_size: str | None
    slots_name: str | None  # identifier of m_slots; "NULL" when null; None when absent
    slots: SlotArray | None
    line: int
    guards: Sequence[Guard] = ()
    name_node: Node | None = None  # the declared identifier

    @property
    def methods_name(self) -> str | None:
        return self.fields.get("m_methods")


# How a module whose name the file does not spell is called: the sentence form starts with it.
_UNNAMED = "the module defined by `{variable}` ({why})"
_LONGEST_SHOWN_EXPRESSION = 40


@dataclass(frozen=True, slots=True)
class ModuleName:
    """What a ``PyModuleDef`` names its module, for messages and the readiness table.

    ``name`` is the module's name when the file shows it: the ``m_name`` string literal (also through
    a ``#define`` of the file), else the ``<name>`` of the one ``PyInit_<name>`` that creates the
    definition. Otherwise the module is described by its variable and why its name is unknown.
    """

    variable: str  # the PyModuleDef variable
    name: str | None  # None: the file does not say
    origin: str  # "literal", "init" (from PyInit_<name>), "runtime" or "expression"
    expression: str = ""  # m_name's text, for "expression"

    @property
    def subject(self) -> str:
        """The module's name, or a phrase (with `code` spans) saying which module it is."""
        if self.name is not None:
            return self.name
        shown = self.expression
        if self.origin == "expression" and shown and len(shown) <= _LONGEST_SHOWN_EXPRESSION and "`" not in shown:
            why = f"name given by `{shown}`"
        elif self.origin == "expression":
            why = "name not a string literal"
        else:
            why = "name set at run time"
        return _UNNAMED.format(variable=self.variable, why=why)


def described_module(subject: str) -> bool:
    """Whether a finding's subject describes an unnamed module (``ModuleName.subject``) rather than
    naming one: its text then holds `code` spans of its own."""
    return subject.startswith(_UNNAMED[: _UNNAMED.index("`")])


def module_phrase(subject: str) -> str:
    """``Module `spam``` for a named module; the description of an unnamed one, capitalised."""
    return subject[0].upper() + subject[1:] if described_module(subject) else f"Module `{subject}`"


@dataclass(slots=True, eq=False)
class ModuleInit:
    """A ``PyInit_<name>`` function and how it builds its module."""

    name: str  # the function name
    module_name: str  # the part after PyInit_
    function: Function
    kind: str  # "multi", "single" or "unknown"
    module_def: ModuleDef | None
    module_def_name: str | None
    create_call: Call | None  # PyModuleDef_Init(...) / PyModule_Create(...) or the wrapping macro call
    module_var: str | None  # the variable the created module was stored in
    set_gil_calls: list[Call]
    line: int


@dataclass(slots=True, eq=False)
class BindingModule:
    """``PYBIND11_MODULE(name, m, ...)`` or ``NB_MODULE(name, m, ...)``."""

    kind: str  # "pybind11" or "nanobind"
    name: str
    module_var: str
    args: list[str]  # arguments after the first two, e.g. ["py::mod_gil_not_used()"]
    node: Node | None
    line: int
    body: Node | None
    method_calls: list[Call]
    macro: str = ""  # "PYBIND11_MODULE" or "NB_MODULE"

    def calls_method(self, method: str) -> bool:
        return any(
            call.name.endswith("." + method) or call.name.endswith("->" + method)
            for call in self.method_calls
        )


def read_slot_entries(
    init: Node | None, guards_at: Callable[[int], Sequence[Guard]], target: Target
) -> tuple[list[SlotEntry], Node | None]:
    """The entries of a slot array's initializer, and its `{0, NULL}` sentinel (None: unterminated)."""
    entries: list[SlotEntry] = []
    sentinel: Node | None = None
    if init is None or init.type != "initializer_list":
        return entries, sentinel
    for element in named(init):
        if element.type != "initializer_list":
            continue
        values = read_initializer(element, SLOT_FIELDS)
        slot = flat(values.get("slot"))
        value = flat(values.get("value")) if "value" in values else ""
        if slot in ("0", "") and value in ("", *_NULLS):
            sentinel = element
            continue
        entries.append(
            SlotEntry(slot, value, element, guards_at(element.start_byte), target, values.get("value"))
        )
    return entries, sentinel


def string_value(node: Node | None) -> str | None:
    """The contents of a (possibly concatenated) string literal, else None."""
    if node is None:
        return None
    if node.type == "string_literal":
        return "".join(
            text(c) for c in node.named_children if c.type in ("string_content", "escape_sequence")
        )
    if node.type == "concatenated_string":
        parts = [string_value(child) for child in node.named_children]
        return None if any(p is None for p in parts) else "".join(p for p in parts if p is not None)
    return None


def null_or_name(node: Node | None) -> str | None:
    if node is None:
        return None
    value = flat(node)
    if value in _NULLS:
        return "NULL"
    return value.lstrip("&").strip()
