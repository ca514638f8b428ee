"""The C/C++ source model: one tree-sitter parse per file, indexed for the C rules' questions.

``build_unit(source, path, target)`` returns a ``CUnit`` that answers: which ``#if`` guards
enclose code and whether it is compiled (``Tri``), what globals/locals/types exist, functions and
the call graph, module init and module definitions, locks and critical sections, macros.
Cython and build files are read at text level by ``cython`` and ``buildfiles``.
"""

from ftaudit.cmodel.conditions import FEATURE_MACROS, Tri, evaluate_condition
from ftaudit.cmodel.declarations import Typedef, Variable
from ftaudit.cmodel.functions import Call, Function
from ftaudit.cmodel.guards import Guard
from ftaudit.cmodel.locks import AllowThreadsRegion, CriticalSectionRegion, HeldLock, LockState
from ftaudit.cmodel.macros import Macro
from ftaudit.cmodel.module_defs import BindingModule, ModuleDef, ModuleInit, SlotArray, SlotEntry
from ftaudit.cmodel.normalise import MACRO_TABLE, MacroRewrite
from ftaudit.cmodel.unit import CUnit, Reference, build_unit

__all__ = [
    "FEATURE_MACROS",
    "MACRO_TABLE",
    "AllowThreadsRegion",
    "BindingModule",
    "CUnit",
    "Call",
    "CriticalSectionRegion",
    "Function",
    "Guard",
    "HeldLock",
    "LockState",
    "Macro",
    "MacroRewrite",
    "ModuleDef",
    "ModuleInit",
    "Reference",
    "SlotArray",
    "SlotEntry",
    "Tri",
    "Typedef",
    "Variable",
    "build_unit",
    "evaluate_condition",
]
