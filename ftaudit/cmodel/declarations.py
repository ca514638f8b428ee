"""Variables and typedefs read from declaration nodes: type, pointer/const levels, storage.

One declaration can declare several variables (``static int a, *b = NULL, c[4];``); each gets its
own Variable with the qualifiers of its own declarator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tree_sitter import Node

from ftaudit.cmodel.guards import Guard
from ftaudit.cmodel.nodes import flat, named, text

ATOMIC_TYPE_PREFIXES = ("atomic_", "std::atomic", "_Py_atomic_", "std :: atomic", "cuda::std::atomic")
THREAD_LOCAL_WORDS = frozenset({"thread_local", "_Thread_local", "__thread", "Py_THREAD_LOCAL"})


@dataclass(slots=True)
class Variable:
    """A declared variable (global, static local, local or parameter)."""

    name: str
    node: Node  # the declarator's identifier
    declaration: Node  # the declaration (or parameter_declaration) node
    function: str | None  # enclosing function, None at file scope
    storage: str | None  # "static", "extern" or None
    base_type: str  # declared type with same-file typedef aliases resolved, e.g. "PyObject"
    declared_type: str  # the type as written, e.g. "obj_ptr"
    pointer_depth: int
    const_levels: tuple[bool, ...]  # const at the base type, then at each pointer level
    volatile: bool
    atomic: bool
    thread_local: bool
    is_array: bool
    line: int
    guards: Sequence[Guard]
    is_function_pointer: bool = False
    is_parameter: bool = False
    initializer: Node | None = None  # the value after '=' (or the C++ constructor arguments)
    scope: tuple[int, int] = (0, 0)  # byte range in which the name is visible (locals)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def is_const(self) -> bool:
        """True when the variable itself cannot be written (const at the outermost level)."""
        return self.const_levels[-1]

    @property
    def deeply_const(self) -> bool:
        """Const at every level: nothing is writable through it either."""
        return all(self.const_levels)

    @property
    def is_static(self) -> bool:
        return self.storage == "static"


@dataclass(frozen=True, slots=True)
class Typedef:
    name: str
    base_type: str  # one level resolved type text ("struct _obj", "PyObject", ...)
    pointer_depth: int
    const_levels: tuple[bool, ...]
    atomic: bool
    is_function_pointer: bool
    node: Node | None  # None: an object-like macro that spells the type


@dataclass(slots=True)
class _Shape:
    """What walking one declarator collects."""

    name: Node | None = None
    pointer_levels: list[bool] = field(default_factory=list)  # const flag per pointer level
    is_array: bool = False
    is_function_pointer: bool = False
    is_prototype: bool = False
    initializer: Node | None = None
    volatile: bool = False


def type_text(type_node: Node | None) -> str:
    """Readable type text: ``struct node`` for a struct (its body dropped), else the flat text."""
    if type_node is None:
        return ""
    if type_node.type in ("struct_specifier", "union_specifier", "enum_specifier", "class_specifier"):
        keyword = type_node.type.split("_")[0]
        name = type_node.child_by_field_name("name")
        return f"{keyword} {flat(name)}" if name is not None else f"{keyword} <anonymous>"
    return flat(type_node)


def _specifiers(declaration: Node) -> tuple[str | None, bool, bool, bool, bool]:
    """(storage, base const, volatile, atomic, thread_local) from a declaration's specifiers."""
    storage = None
    const = volatile = atomic = thread_local = False
    for child in declaration.children:
        kind = child.type
        if kind == "storage_class_specifier":
            word = text(child)
            if word in ("static", "extern"):
                storage = word
            elif word in THREAD_LOCAL_WORDS:
                thread_local = True
        elif kind == "type_qualifier":
            word = text(child)
            if word in ("const", "constexpr"):
                const = True
            elif word == "volatile":
                volatile = True
            elif word == "_Atomic":
                atomic = True
        elif (kind == "ms_declspec_modifier" and "thread" in text(child)) or (
            kind == "macro_type_specifier" and text(child.child_by_field_name("name")) in THREAD_LOCAL_WORDS
        ):
            thread_local = True
    return storage, const, volatile, atomic, thread_local


def walk_declarator(node: Node | None, in_function: bool = False, cpp: bool = False) -> _Shape:
    """Follow a declarator from the outside in; pointer levels come out base-first."""
    shape = _Shape()
    while node is not None:
        kind = node.type
        if kind in (
            "identifier",
            "field_identifier",
            "qualified_identifier",
            "type_identifier",
            "operator_name",
            "destructor_name",
        ):
            shape.name = node
            return shape
        if kind == "init_declarator":
            shape.initializer = node.child_by_field_name("value")
            node = node.child_by_field_name("declarator")
        elif kind == "pointer_declarator":
            qualifiers = [text(c) for c in node.children if c.type == "type_qualifier"]
            shape.pointer_levels.append("const" in qualifiers)
            shape.volatile = shape.volatile or "volatile" in qualifiers
            node = node.child_by_field_name("declarator")
        elif kind == "array_declarator":
            shape.is_array = True
            node = node.child_by_field_name("declarator")
        elif kind == "function_declarator":
            inner = node.child_by_field_name("declarator")
            if inner is not None and inner.end_byte - inner.start_byte == 9 and text(inner) == "Py_UNUSED":
                # `PyObject *Py_UNUSED(self)` declares `self` (renamed by the macro, unusable).
                params = node.child_by_field_name("parameters")
                first = named(params)[0] if params is not None and named(params) else None
                shape.name = first.child_by_field_name("type") if first is not None else None
                shape.name = shape.name or first
                return shape
            if inner is not None and inner.type == "parenthesized_declarator":
                shape.is_function_pointer = True
                node = inner
            elif cpp and in_function:
                # C++ `std::lock_guard<std::mutex> g(mu);`: a variable with constructor arguments.
                shape.initializer = node.child_by_field_name("parameters")
                node = inner
            else:
                shape.is_prototype = True
                node = inner
        elif kind in ("parenthesized_declarator", "attributed_declarator", "reference_declarator"):
            children = named(node)
            node = next(
                (c for c in children if c.type not in ("attribute_declaration", "type_qualifier")), None
            )
        else:
            return shape
    return shape


def declarators(declaration: Node) -> list[Node]:
    return declaration.children_by_field_name("declarator")


def is_atomic_type(type_name: str) -> bool:
    return type_name.startswith(ATOMIC_TYPE_PREFIXES) or type_name in ("atomic_flag", "std::atomic_flag")


def read_typedef(node: Node) -> list[Typedef]:
    """The names a ``typedef`` declares, each with its type resolved one level."""
    type_node = node.child_by_field_name("type")
    base = type_text(type_node)
    _, const, _, atomic, _ = _specifiers(node)
    atomic = atomic or is_atomic_type(base)
    found = []
    for declarator in declarators(node):
        shape = walk_declarator(declarator)
        if shape.name is None:
            continue
        found.append(
            Typedef(
                text(shape.name),
                base,
                len(shape.pointer_levels),
                (const, *shape.pointer_levels),
                atomic,
                shape.is_function_pointer,
                node,
            )
        )
    return found


class TypeResolver:
    """Follows same-file typedef aliases (``typedef A B;``), stopping at struct/union/enum types."""

    def __init__(self, typedefs: dict[str, Typedef]) -> None:
        self.typedefs = typedefs

    def resolve(self, name: str) -> tuple[str, int, tuple[bool, ...], bool, bool]:
        """(base type, extra pointer depth, const levels contributed, atomic, function pointer)."""
        depth = 0
        levels: tuple[bool, ...] = ()
        atomic = function_pointer = False
        seen = set()
        while name in self.typedefs and name not in seen:
            seen.add(name)
            alias = self.typedefs[name]
            # `typedef struct {...} Obj;` keeps its own name: "struct <anonymous>" tells nothing.
            if alias.base_type.endswith("<anonymous>"):
                break
            if (
                alias.base_type.startswith(("struct ", "union ", "enum ", "class "))
                and alias.pointer_depth == 0
            ):
                break
            # The alias's levels sit below what was already collected.
            if levels:
                levels = (*alias.const_levels[:-1], alias.const_levels[-1] or levels[0], *levels[1:])
            else:
                levels = alias.const_levels
            depth += alias.pointer_depth
            atomic = atomic or alias.atomic
            function_pointer = function_pointer or alias.is_function_pointer
            name = alias.base_type
        return name, depth, levels, atomic, function_pointer


def read_variables(
    declaration: Node,
    function: str | None,
    resolver: TypeResolver,
    line_of: Callable[[int], int],
    guards_at: Callable[[int], Sequence[Guard]],
    cpp: bool,
    parameter: bool = False,
) -> list[Variable]:
    """Variables declared by one declaration (prototypes are skipped)."""
    type_node = declaration.child_by_field_name("type")
    declared = type_text(type_node)
    storage, base_const, volatile, atomic, thread_local = _specifiers(declaration)
    if type_node is not None and type_node.type == "macro_type_specifier":
        # `_Atomic(int) x` parses as a qualifier plus a macro-like type: take the inner type.
        inner = type_node.child_by_field_name("type")
        if text(type_node.child_by_field_name("name")) in ("", "_Atomic"):
            atomic = True
            declared = flat(inner) or declared
    base, extra_depth, alias_levels, alias_atomic, alias_fp = resolver.resolve(declared)
    atomic = atomic or alias_atomic or is_atomic_type(declared) or is_atomic_type(base)
    in_function = function is not None
    found = []
    targets = declarators(declaration)
    for declarator in targets:
        shape = walk_declarator(declarator, in_function, cpp)
        if shape.name is None or (shape.is_prototype and not shape.is_function_pointer):
            continue
        if alias_levels:
            levels = (*alias_levels[:-1], alias_levels[-1] or base_const, *tuple(shape.pointer_levels))
        else:
            levels = (base_const, *shape.pointer_levels)
        name_node = shape.name
        found.append(
            Variable(
                name=text(name_node),
                node=name_node,
                declaration=declaration,
                function=function,
                storage=storage,
                base_type=base,
                declared_type=declared,
                pointer_depth=extra_depth + len(shape.pointer_levels),
                const_levels=levels,
                volatile=volatile or shape.volatile,
                atomic=atomic,
                thread_local=thread_local,
                is_array=shape.is_array,
                line=line_of(name_node.start_byte),
                guards=guards_at(name_node.start_byte),
                is_function_pointer=shape.is_function_pointer or alias_fp,
                is_parameter=parameter,
                initializer=shape.initializer,
            )
        )
    return found
