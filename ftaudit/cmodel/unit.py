"""CUnit: one C/C++ file parsed once (after normalisation) and indexed for the rules' questions.

``build_unit`` scans the raw bytes (directives, code mask), rewrites macro shapes at equal
length, parses once, and runs one combined query to collect functions, calls, declarations,
typedefs and defines. Everything else (call graph, module definitions, lock states) is derived
lazily from those indices the first time a rule asks.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import tree_sitter
from tree_sitter import Node

from ftaudit.cmodel.conditions import Tri
from ftaudit.cmodel.declarations import (
    Typedef,
    TypeResolver,
    Variable,
    read_typedef,
    read_variables,
)
from ftaudit.cmodel.defines import DefinesOverlay, DefineTimeline, build_timeline
from ftaudit.cmodel.directives import Directive, RawScan, scan
from ftaudit.cmodel.functions import Call, Function, closure, init_only, read_call
from ftaudit.cmodel.guards import GuardIndex, GuardStack
from ftaudit.cmodel.includes import HeaderReader, find_header, quoted_include
from ftaudit.cmodel.locks import (
    ATOMIC_METHODS,
    MAY_LOCK_EXACT,
    MAY_LOCK_LOWER,
    AllowThreadsRegion,
    CriticalSectionRegion,
    LockAnalysis,
    LockState,
    is_atomic_name,
    lock_macros,
)
from ftaudit.cmodel.macros import Macro
from ftaudit.cmodel.module_defs import (
    BINDING_MACROS,
    MODULE_DEF_FIELDS,
    MULTI_PHASE_INIT,
    SET_GIL,
    SINGLE_PHASE_CREATORS,
    BindingModule,
    ModuleDef,
    ModuleInit,
    ModuleName,
    SlotArray,
    null_or_name,
    read_initializer,
    read_slot_entries,
    string_value,
)
from ftaudit.cmodel.nodes import (
    compact,
    declarator_name,
    descendants,
    flat,
    function_declarator,
    named,
    pruned_walk,
    strip,
    text,
)
from ftaudit.cmodel.normalise import Normalised, Rewrite, normalise, split_args
from ftaudit.cmodel.parsers import choose_language, language, parser
from ftaudit.cmodel.preprocess import Macro as DefineMacro
from ftaudit.cmodel.preprocess import parse_text, project_macros
from ftaudit.target import Target

NodeOrOffset = Node | int

# Macros whose body calls something: a lock wrapper, or a macro that forwards to one.
_LOCK_DEFINE = re.compile(r"\b[A-Za-z_]\w*\s*\(")  # \b: one try per word, linear on long words


@dataclass(slots=True)
class CollectedNodes:
    """The nodes of the kinds the model indexes, each kind in document order, from one walk."""

    functions: list[Node] = field(default_factory=list)  # function_definition
    calls: list[Node] = field(default_factory=list)  # call_expression
    declarations: list[Node] = field(default_factory=list)  # declaration
    typedefs: list[Node] = field(default_factory=list)  # type_definition
    object_defines: list[Node] = field(default_factory=list)  # preproc_def
    function_defines: list[Node] = field(default_factory=list)  # preproc_function_def
    assignments: list[Node] = field(default_factory=list)  # assignment_expression
    updates: list[Node] = field(default_factory=list)  # update_expression
    returns: list[Node] = field(default_factory=list)  # return_statement


# Node kind -> the ``CollectedNodes`` list its nodes go to.
_COLLECTED: dict[str, str] = {
    "function_definition": "functions",
    "call_expression": "calls",
    "declaration": "declarations",
    "type_definition": "typedefs",
    "preproc_def": "object_defines",
    "preproc_function_def": "function_defines",
    "assignment_expression": "assignments",
    "update_expression": "updates",
    "return_statement": "returns",
}
# Nodes a namespace cannot be declared in: not searched for anonymous namespaces.
_NO_NAMESPACE_INSIDE = frozenset({
    "function_definition", "compound_statement", "declaration", "field_declaration_list", "initializer_list",
    "template_declaration", "type_definition", "expression_statement", "preproc_def", "preproc_function_def",
    "comment", "string_literal", "enumerator_list", "parameter_list", "argument_list",
})
_HEADER_SUFFIXES = (".h", ".hh", ".hpp", ".hxx", ".h++", ".inl", ".ipp", ".tpp")
_INIT_SLOTS = frozenset({"Py_mod_exec", "Py_mod_create"})
_IDENT = re.compile(r"[A-Za-z_]\w*")
_IDENT_BYTES = re.compile(rb"\b[A-Za-z_]\w*")
_MAX_MACRO_ARGS = 4096  # bytes of a PYBIND11_MODULE(...) argument list read in the text fallback


@cache
def _collected_kinds(lang: str) -> dict[int, str]:
    """Node kind id -> the ``CollectedNodes`` field it goes to (a grammar may give one name several ids)."""
    grammar = language(lang)
    found = {}
    for kind_id in range(grammar.node_kind_count):
        name = grammar.node_kind_for_id(kind_id)
        if name in _COLLECTED and grammar.node_kind_is_named(kind_id):
            found[kind_id] = _COLLECTED[name]
    return found


def _collect_nodes(root: Node, lang: str) -> CollectedNodes:
    """The nodes of each ``_COLLECTED`` kind in document order, from one cursor walk. (A tree-sitter
    query gives the same lists but slows to minutes once the tree is over 65,536 levels deep: a
    `f(1)+f(1)+…` line of 450 KB.)"""
    found = CollectedNodes()
    # Node kind id -> the append of the list it goes to: one dict lookup per node.
    add_to = {kind_id: getattr(found, name).append for kind_id, name in _collected_kinds(lang).items()}.get
    cursor = root.walk()
    while True:
        node = cursor.node
        if node is not None:  # never None on a walk from a real node; the stubs allow it
            add = add_to(node.kind_id)
            if add is not None:
                add(node)
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return found


@dataclass(slots=True, eq=False)
class Reference:
    """A use of a function's name that is not a direct call: its address is taken."""

    name: str
    node: Node | None  # None for a mention inside a #define body
    offset: int
    function: str | None  # where the reference sits
    context: str  # "initializer", "argument", "assignment", "macro", "other"


# `#define NAME [const] [struct] Py…/_frame/_ts [*…]`: a macro that spells a CPython type.
_TYPE_MACRO = re.compile(
    r"^\s*[A-Za-z_]\w*\s+(?:const\s+)?(?:struct\s+)?(?:Py[A-Z]\w*|_frame|_ts|_object|_is)\b[\s*]*$")
_TYPE_MACRO_BODY = re.compile(r"(?P<const>const\s+)?(?P<type>(?:struct\s+)?[A-Za-z_]\w*)(?P<stars>[\s*]*)")

# CPython's struct tags by the typedef name the rules know them by.
_CPYTHON_TAGS = {"struct _frame": "PyFrameObject", "struct _ts": "PyThreadState", "struct _object": "PyObject",
                 "struct _is": "PyInterpreterState", "struct PyCodeObject": "PyCodeObject"}

# Where C++ classes can be defined outside functions: namespaces, templates, `extern "C"` blocks.
_CLASS_SCOPES = frozenset({"namespace_definition", "declaration_list", "template_declaration", "linkage_specification",
                     "declaration", "type_definition", "preproc_if", "preproc_ifdef", "preproc_else",
                     "preproc_elif"})


def _member_names(spec: Node) -> set[str]:
    """Names of the data members a class or struct body declares (methods excluded)."""
    body = spec.child_by_field_name("body")
    names: set[str] = set()
    todo = list(body.named_children) if body is not None else []
    while todo:
        member = todo.pop()
        if member.type in ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "access_specifier"):
            todo.extend(member.named_children)
            continue
        if member.type != "field_declaration":
            continue
        if any(c.type == "storage_class_specifier" and text(c) == "static" for c in member.children):
            continue  # a static data member is one object shared by every instance
        for outer in member.children_by_field_name("declarator"):
            declarator: Node | None = outer
            while declarator is not None and declarator.type not in ("field_identifier", "identifier"):
                if declarator.type == "function_declarator":
                    declarator = None
                    break
                declarator = declarator.child_by_field_name("declarator")
            if declarator is not None:
                names.add(text(declarator))
    return names


def build_unit(
    source: bytes, path: str = "<src>", target: Target | None = None, language: str | None = None,
    read_header: HeaderReader | None = None, skipped: tuple[tuple[int, int], ...] | None = None,
) -> CUnit:
    """Parse one C/C++ file once and index it. ``language`` is "c", "cpp" or None (from the path).

    ``read_header`` (a path -> bytes-or-None reader) lets guard evaluation use the object-like
    defines of the project's own quoted includes; without it only the file's own defines count.
    """
    raw = scan(source)
    lang = language if language in ("c", "cpp") else choose_language(path, raw.mask, source)
    guards = GuardIndex(raw.directives)
    # The parser sees dead code blanked and macro-spelled init headers written out (same offsets);
    # everything else reads the original bytes.
    shaped, aliases = parse_text(raw, guards, target or Target(), path, read_header)
    normalised = normalise(shaped, guards)
    tree = parser(lang).parse(normalised.text)
    return CUnit(source, path, target or Target(), lang, raw, guards, normalised, tree, aliases, read_header,
                 skipped_ranges=skipped)


class CUnit:
    """The C/C++ source model of one file. Build with ``build_unit``.

    Every attribute is set in ``__init__``; the indices built the first time a rule asks are
    ``cached_property``s."""

    def __init__(
        self,
        source: bytes,
        path: str,
        target: Target,
        language: str,
        raw: RawScan,
        guard_index: GuardIndex,
        normalised: Normalised,
        tree: tree_sitter.Tree,
        function_aliases: dict[int, str] | None = None,
        read_header: HeaderReader | None = None,
        *,
        skipped_ranges: tuple[tuple[int, int], ...] | None = None,
    ) -> None:
        self.source = source
        self.path = path
        self.target = target
        self.language = language
        self.tree = tree
        self.raw = raw
        self.guard_index = guard_index
        self.normalised = normalised
        # Reads a project header (path -> bytes or None); None: only the file's own defines count.
        self.read_header: HeaderReader | None = read_header
        # Answers of the analyses built on this model (``ftaudit.analysis.memo``), kept with the unit and
        # dropped with it; the model itself never reads them.
        self.memo: dict[tuple[object, object], object] = {}
        # Byte ranges the real preprocessor skipped for ``target`` (precise mode), sorted; None otherwise.
        self.skipped_ranges: list[tuple[int, int]] | None = (
            sorted(skipped_ranges) if skipped_ranges is not None else None)
        # Debug/trace/test-only macros the project never defines: their code is not compiled by default.
        self.off_macros: frozenset[str] = frozenset()
        # Offset of a function name shortened to parse (a macro-spelled init header) -> its real name.
        self.function_aliases: dict[int, str] = function_aliases or {}
        self.is_header = path.lower().endswith(_HEADER_SUFFIXES)
        # What the preprocessor knows about the language; a .h parsed as C may still be C++.
        self.defines: dict[str, int | None] = {}
        if language == "cpp":
            self.defines["__cplusplus"] = 201703
        elif not self.is_header:
            self.defines["__cplusplus"] = None

        # Memos filled on demand.
        self._timelines: dict[Target, DefineTimeline] = {}  # _define_timeline
        self._defines_at: dict[Target, Callable[[int], Mapping[str, int | None]]] = {}  # defines_at
        self._locals_cache: dict[int, list[Variable]] = {}  # function start -> its parameters and locals
        self._locals_by_name: dict[int, dict[str, list[Variable]]] = {}  # the same by name
        self._class_members_seen: dict[int, frozenset[str]] = {}  # method start -> members it sees
        self._class_fields: dict[int, frozenset[str]] = {}  # class/struct start -> its data members
        self._creator_macro_names: dict[bool, frozenset[str]] = {}  # function-like? -> _creator_macros
        self._module_names: dict[ModuleDef, ModuleName] = {}  # module_name

        # The indices built from one walk over the tree (``_collect``).
        nodes = _collect_nodes(self.root, language)
        # Writes (`x = …`, `x += …`, `x++`) for the shared-state analysis.
        self.assignments: list[Node] = nodes.assignments
        self.updates: list[Node] = nodes.updates
        self.return_statements: list[Node] = nodes.returns
        self._define_nodes: dict[int, Node] = {}  # '#' offset of a #define -> its node
        self.typedefs: dict[str, Typedef] = {}
        self._resolver = TypeResolver(self.typedefs)
        self.function_list: list[Function] = []  # in file order
        self.functions: dict[str, Function] = {}  # the first definition of each name
        self._function_starts: list[int] = []  # start of each function_list entry (bisect)
        self._function_parent: list[int] = []  # index of the enclosing function, or -1
        self._function_positions: dict[int, int] = {}  # id(Function) -> its index in function_list
        self.calls: list[Call] = []
        self.globals: list[Variable] = []
        self._globals_by_name: dict[str, list[Variable]] = {}
        self._local_declarations: dict[int, list[Node]] = {}  # function index -> its declarations
        self._collect(nodes)

    # -- basics -------------------------------------------------------------------------------------
    @property
    def has_errors(self) -> bool:
        return self.tree.root_node.has_error

    @property
    def root(self) -> Node:
        return self.tree.root_node

    @property
    def directives(self) -> list[Directive]:
        """Every preprocessor directive read from the raw bytes (``directives.Directive``)."""
        return self.raw.directives

    @property
    def rewrites(self) -> list[Rewrite]:
        """The same-length replacements made before parsing."""
        return self.normalised.rewrites

    def line_of(self, offset: int) -> int:
        """1-based line of a byte offset."""
        return self.raw.line_of(offset)

    def text(self, node: Node | None) -> str:
        """Original source text of a node (not the normalised text the tree holds)."""
        if node is None:
            return ""
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    # -- 1. preprocessor guards ----------------------------------------------------------------------
    def guards_at(self, where: NodeOrOffset) -> GuardStack:
        """Enclosing ``#if`` branches, outermost first."""
        return self.guard_index.at(where if isinstance(where, int) else where.start_byte)

    def compiled(self, where: NodeOrOffset, target: Target | None = None) -> Tri:
        """Whether the code at a node/offset is compiled for ``target`` (default: the unit's)."""
        offset = where if isinstance(where, int) else where.start_byte
        skipped = self.skipped_ranges
        if skipped is not None and (target is None or target == self.target):
            # The real preprocessor ran with this build's flags (precise mode): its answer is exact.
            index = bisect_right(skipped, (offset, float("inf"))) - 1
            return Tri.NO if index >= 0 and skipped[index][0] <= offset < skipped[index][1] else Tri.YES
        return self.guard_index.compiled(offset, target or self.target, self.defines_at(target or self.target))

    def defines_for(self, target: Target) -> dict[str, int | None]:
        """The defines in force at the end of the file for ``target`` (see ``defines_at``)."""
        return self._define_timeline(target).current

    def defines_at(self, target: Target) -> Callable[[int], Mapping[str, int | None]]:
        """Language facts plus the integer `#define`s in force at an offset, for ``target``
        (``defines.DefineTimeline``: project headers included, each `#if` decided where it stands),
        with ``off_macros`` known to be undefined unless the file or its headers define them.
        The same function is returned on every call, so guard answers computed with it are kept."""
        found = self._defines_at.get(target)
        if found is None:
            found = self._defines_at[target] = self._defines_lookup(target)
        return found

    def _defines_lookup(self, target: Target) -> Callable[[int], Mapping[str, int | None]]:
        lookup = self._define_timeline(target).lookup
        if not self.off_macros:
            return lookup
        off: dict[str, int | None] = dict.fromkeys(self.off_macros)

        def with_off_macros(offset: int) -> Mapping[str, int | None]:
            return DefinesOverlay(lookup(offset), off)

        return with_off_macros

    def _define_timeline(self, target: Target) -> DefineTimeline:
        timeline = self._timelines.get(target)
        if timeline is None:
            timeline = self._timelines[target] = build_timeline(
                self.raw.directives, self.guard_index, target, self.defines, Path(self.path).parent,
                self.read_header)
        return timeline

    def _type_macros(self) -> list[Typedef]:
        """Object-like macros that stand for a CPython type (`#define PY_THREAD_STATE_T PyThreadState`,
        `#define FRAME struct _frame *`), from the file and the project headers it includes: a
        declaration spelled with one has that type, as with a typedef."""
        macros = project_macros(self.raw.directives, self.path, self.read_header, self.target,
                                guards=self.guard_index, relevant=_TYPE_MACRO)
        found = []
        for macro in macros.values():
            shape = _TYPE_MACRO_BODY.fullmatch(macro.body.strip()) if macro.params is None else None
            if shape is None:
                continue
            stars = shape.group("stars").count("*")
            spelled = " ".join(shape.group("type").split())
            found.append(Typedef(macro.name, _CPYTHON_TAGS.get(spelled, spelled), stars,
                                 (bool(shape.group("const")),) * (stars + 1), False, False, None))
        return found

    # -- collection (one walk over the tree) ---------------------------------------------------------
    def _collect(self, nodes: CollectedNodes) -> None:
        """Fill the indices ``__init__`` declares from the collected nodes."""
        for node in sorted(nodes.object_defines + nodes.function_defines, key=lambda n: n.start_byte):
            self._define_nodes[node.start_byte] = node

        for node in nodes.typedefs:
            for typedef in read_typedef(node):
                self.typedefs.setdefault(typedef.name, typedef)
        for alias in self._type_macros():
            self.typedefs.setdefault(alias.name, alias)

        functions = sorted(nodes.functions, key=lambda n: n.start_byte)
        open_stack: list[int] = []
        for node in functions:
            function = self._read_function(node)
            index = len(self.function_list)
            while open_stack and self.function_list[open_stack[-1]].end <= node.start_byte:
                open_stack.pop()
            self._function_parent.append(open_stack[-1] if open_stack else -1)
            open_stack.append(index)
            self._function_positions[id(function)] = index
            self.function_list.append(function)
            self._function_starts.append(node.start_byte)
            self.functions.setdefault(function.name, function)

        for node in nodes.calls:
            owner = self._function_index(node.start_byte)
            caller = self.function_list[owner] if owner >= 0 else None
            call = read_call(node, caller.name if caller else None, self.guards_at(node.start_byte))
            self.calls.append(call)
            if caller is not None:
                caller.calls.append(call)

        cpp = self.language == "cpp"
        for node in nodes.declarations:
            owner = self._function_index(node.start_byte)
            if owner < 0:
                self.globals.extend(
                    read_variables(node, None, self._resolver, self.line_of, self.guards_at, cpp)
                )
                continue
            self._local_declarations.setdefault(owner, []).append(node)
            if any(c.type == "storage_class_specifier" and text(c) == "static" for c in node.children):
                name = self.function_list[owner].name
                self.globals.extend(
                    read_variables(node, name, self._resolver, self.line_of, self.guards_at, cpp)
                )
        marks = sorted(r.start for r in self.rewrites if r.action == "thread-local")
        if marks:
            for variable in self.globals:
                start = variable.declaration.start_byte
                index = bisect_right(marks, start - 1)
                if index < len(marks) and marks[index] < variable.node.start_byte:
                    variable.thread_local = True
        for variable in self.globals:
            self._globals_by_name.setdefault(variable.name, []).append(variable)

    def _read_function(self, node: Node) -> Function:
        declarator = node.child_by_field_name("declarator")
        name_node = declarator_name(function_declarator(declarator) or declarator)
        name = flat(name_node) if name_node is not None else "<anonymous>"
        if name_node is not None and name_node.start_byte in self.function_aliases:
            name = self.function_aliases[name_node.start_byte]  # a macro-spelled header, shortened to parse
        params = function_declarator(declarator)
        parameter_list = params.child_by_field_name("parameters") if params is not None else None
        if name in BINDING_MACROS or self._init_macro(name):
            args = self._macro_args(parameter_list)
            if name in BINDING_MACROS:
                name = f"{name}({args[0] if args else ''})"
            else:
                name = "PyInit_" + (args[0] if args else "")
        is_static = any(c.type == "storage_class_specifier" and text(c) == "static" for c in node.children)
        if not is_static:
            # CPython's Py_LOCAL(type) / Py_LOCAL_INLINE(type) expand to `static [inline] type`.
            head = self.source[node.start_byte : min(node.end_byte, node.start_byte + 40)]
            is_static = head.lstrip().startswith((b"Py_LOCAL(", b"Py_LOCAL_INLINE(", b"Py_LOCAL_SYMBOL "))
        if not is_static and self.language == "cpp":
            # Functions in an anonymous namespace have internal linkage, like static ones.
            is_static = self._in_anonymous_namespace(node.start_byte)
        body = node.child_by_field_name("body")
        return Function(
            name,
            node,
            body,
            is_static,
            self.line_of(node.start_byte),
            guards=self.guards_at(node.start_byte),
            parameters=parameter_list,
        )

    def _in_anonymous_namespace(self, offset: int) -> bool:
        ranges = self._anonymous_namespaces
        index = bisect_right(ranges, (offset, float("inf"))) - 1
        return index >= 0 and ranges[index][0] <= offset < ranges[index][1]

    @cached_property
    def _anonymous_namespaces(self) -> list[tuple[int, int]]:
        """Byte ranges of the outermost ``namespace { … }`` blocks, sorted (found by one walk over the
        declarations that can hold a namespace; function bodies and initialisers are not entered)."""
        found: list[tuple[int, int]] = []
        todo = [self.root]
        while todo:
            node = todo.pop()
            for child in node.named_children:
                if child.type == "namespace_definition" and child.child_by_field_name("name") is None:
                    found.append((child.start_byte, child.end_byte))
                elif child.type not in _NO_NAMESPACE_INSIDE:
                    todo.append(child)
        return sorted(found)

    def _init_macro(self, name: str) -> bool:
        """A same-file macro that expands to a ``PyInit_##name`` header (py2/3 compat shims)."""
        return name in self._init_macro_names

    @cached_property
    def _init_macro_names(self) -> set[str]:
        return {
            d.name
            for d in self.raw.directives
            if d.kind == "define" and d.name and d.params is not None and "PyInit_" in d.text
        }

    def _macro_args(self, parameter_list: Node | None) -> list[str]:
        if parameter_list is None:
            return []
        inner = self.source[parameter_list.start_byte + 1 : parameter_list.end_byte - 1]
        return list(split_args(inner))

    def _function_index(self, offset: int) -> int:
        index = bisect_right(self._function_starts, offset) - 1
        while index >= 0:
            function = self.function_list[index]
            if function.start <= offset < function.end:
                return index
            index = self._function_parent[index]
        return -1

    # -- 3. functions and calls ----------------------------------------------------------------------
    @cached_property
    def _return_starts(self) -> list[int]:
        return [node.start_byte for node in self.return_statements]

    def returns_in(self, node: Node) -> list[Node]:
        """The return statements inside ``node`` (a function body: lambdas in it included), in order."""
        starts = self._return_starts
        return self.return_statements[bisect_left(starts, node.start_byte):bisect_left(starts, node.end_byte)]

    def function_at(self, where: NodeOrOffset) -> Function | None:
        """The innermost function definition containing a node or offset."""
        index = self._function_index(where if isinstance(where, int) else where.start_byte)
        return self.function_list[index] if index >= 0 else None

    @cached_property
    def _macro_callees(self) -> dict[str, set[str]]:
        """Function-like macro -> same-file functions its body calls (through nested macros too)."""
        direct: dict[str, set[str]] = {}
        for macro in self.macros.values():
            if macro.params is None:
                continue
            called = set(re.findall(r"([A-Za-z_]\w*)\s*\(", macro.body))
            direct[macro.name] = called
        macro_edges = {k: {c for c in v if c in direct} for k, v in direct.items()}  # built once, not per macro
        resolved: dict[str, set[str]] = {}
        for name in direct:
            reach = closure([name], macro_edges)
            resolved[name] = {c for m in reach for c in direct[m] if c in self.functions}
        return resolved

    @cached_property
    def _graph(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        callees: dict[str, set[str]] = {name: set() for name in self.functions}
        callers: dict[str, set[str]] = {name: set() for name in self.functions}
        macro_callees = self._macro_callees
        for call in self.calls:
            if call.function is None:
                continue
            targets = set()
            if call.name in self.functions:
                targets.add(call.name)
            targets |= macro_callees.get(call.name, set())
            for target in targets:
                callees.setdefault(call.function, set()).add(target)
                callers.setdefault(target, set()).add(call.function)
        return callees, callers

    def callees(self, name: str) -> set[str]:
        """Functions defined in this file that ``name`` calls (directly or through a same-file macro)."""
        return set(self._graph[0].get(name, ()))

    def callers(self, name: str) -> set[str]:
        """Functions in this file that call ``name``."""
        return set(self._graph[1].get(name, ()))

    @cached_property
    def references(self) -> dict[str, list[Reference]]:
        """Uses of each defined function's name other than direct calls (address taken)."""
        found: dict[str, list[Reference]] = {}
        names = {n.encode() for n in self.functions if _IDENT.fullmatch(n)}
        # Identifier tokens of the code that name a function (a dict lookup each: an alternation
        # of every name would be tried name by name at every word of the file).
        spans = [m.span() for m in _IDENT_BYTES.finditer(self.raw.mask) if m.group() in names]
        starts = [start for start, _ in spans]
        for node, path, _ in pruned_walk(self.root, starts):
            start, end = node.start_byte, node.end_byte
            index = bisect_left(starts, start)
            if not node.is_named or index == len(spans) or spans[index] != (start, end) or not path:
                continue
            if any(c.start_byte == start and c.end_byte == end for c in node.named_children):
                continue  # a deeper named node has the same range: that one is the reference
            parent = path[-1]
            if parent.type in ("function_declarator",) and parent.child_by_field_name("declarator") == node:
                continue
            if parent.type == "call_expression" and parent.child_by_field_name("function") == node:
                continue
            name = self.source[start:end].decode()
            owner = self.function_at(start)
            found.setdefault(name, []).append(
                Reference(name, node, start, owner.name if owner is not None else None, _context(path))
            )
        functions = set(self.functions)
        for name in self._fragment_words & functions:
            # apsw #includes connection.c, which calls apsw.c's static helpers at run time.
            found.setdefault(name, []).append(Reference(name, None, 0, None, "fragment"))
        for macro in self.macros.values():
            if not macro.is_function_like and macro.body.strip().startswith("PyInit_") \
                    and macro.body.strip() in functions:
                continue  # `#define INIT_BROTLI PyInit__brotli`: the name the init is defined under
            for name in macro.identifiers() & functions:
                if re.search(rf"\b{re.escape(name)}\s*\(", macro.body):
                    continue  # a call written inside a macro; the call graph follows it
                found.setdefault(name, []).append(Reference(name, None, macro.body_offset, None, "macro"))
        return found

    @cached_property
    def mentions(self) -> list[str]:
        """Names this file uses other than to define or declare a function: in code (calls, method
        calls, addresses taken, initializers) and in #define bodies. Comments do not count. The
        project pass reads them to tell an exported function nobody names from one called in ways
        the call graph does not follow (`obj.Take()`, a macro, a function-pointer table)."""
        counts = Counter(m.group() for m in _IDENT_BYTES.finditer(self.raw.mask))
        for directive in self.raw.directives:
            if directive.kind == "define":
                counts.update(w.encode() for w in _IDENT.findall(directive.text))
        for function in self.function_list:
            counts[function.name.rsplit("::", 1)[-1].encode()] -= 1
        for name in self._prototype_names():
            counts[name.encode()] -= 1
        return sorted(w.decode("ascii", "replace") for w, n in counts.items() if n > 0)

    def _prototype_names(self) -> list[str]:
        """Names of the functions declared (not defined) at file scope: `int f(void);`."""
        names = []
        todo = list(self.root.named_children)
        while todo:
            node = todo.pop()
            if node.type in ("linkage_specification", "declaration_list", "preproc_if", "preproc_ifdef",
                             "preproc_else", "preproc_elif", "namespace_definition"):
                todo.extend(node.named_children)
                continue
            if node.type != "declaration":
                continue
            for outer in node.children_by_field_name("declarator"):
                declarator: Node | None = outer
                while declarator is not None and declarator.type in ("pointer_declarator", "reference_declarator"):
                    declarator = declarator.child_by_field_name("declarator")
                if declarator is not None and declarator.type == "function_declarator":
                    inner = declarator.child_by_field_name("declarator")
                    if inner is not None and inner.type == "identifier":
                        names.append(text(inner))
        return names

    @cached_property
    def _fragments(self) -> list[tuple[Path, int]]:
        """Project source files (not headers) this file #includes: (resolved path, offset of the
        #include). Found once; `source_fragments` and `_fragment_words` read this list."""
        read = self.read_header
        if read is None:
            return []
        found: list[tuple[Path, int]] = []
        for directive in self.raw.directives:
            name = quoted_include(directive) if directive.kind == "include" else None
            if name is None or name.lower().endswith(_HEADER_SUFFIXES):
                continue
            place = find_header(Path(self.path).parent, name, read)
            if place is not None:
                found.append((place[0], directive.start))
        return found

    def source_fragments(self) -> list[tuple[str, bool]]:
        """Project source files (not headers) this file #includes, as resolved paths, each with
        whether the include can be compiled for the target (False: only inside a dead version branch
        or an off debug switch, like pyahocorasick's `#ifdef PYCALLS_INJECT_FAULTS` fault injector)."""
        return [(str(path), self.compiled(offset) is not Tri.NO) for path, offset in self._fragments]

    @cached_property
    def _fragment_words(self) -> set[str]:
        """Identifiers of the project source files (not headers) this file #includes: the
        translation unit's other parts, which may call this file's static functions."""
        read = self.read_header
        words: set[str] = set()
        for path, _ in self._fragments:
            try:
                data = (read(path) if read is not None else None) or b""
            except (OSError, ValueError):
                continue
            words.update(m.group().decode("ascii", "replace") for m in _IDENT_BYTES.finditer(data))
        return words

    @cached_property
    def entry_points(self) -> set[str]:
        """Functions whose address is taken: method/getset/member tables, type and module slots,
        module-def callbacks, callbacks passed as arguments. Python (or C code) can call them."""
        return {name for name, refs in self.references.items() if refs}

    @cached_property
    def fragment_entries(self) -> set[str]:
        """Static functions nothing in this file calls or names, in a file that builds no module:
        the file is #included by another (apsw's connection.c), whose code calls them or whose
        tables name them. Like exported functions, the project pass decides when they run."""
        if self.is_header or any(name.startswith("PyInit_") for name in self.functions) or self.module_defs:
            return set()
        return {name for name, function in self.functions.items()
                if function.is_static and function.body is not None and not self.callers(name)
                and not self.references.get(name)}

    @cached_property
    def _slot_functions(self) -> dict[str, set[int]]:
        """Functions named in Py_mod_exec / Py_mod_create slots -> offsets of those mentions."""
        found: dict[str, set[int]] = {}
        for array in self.slot_arrays.values():
            for entry in array.entries:
                if entry.slot not in _INIT_SLOTS or entry.value_node is None:
                    continue
                for ident in _identifiers(entry.value_node):
                    if text(ident) in self.functions:
                        found.setdefault(text(ident), set()).add(ident.start_byte)
        return found

    @cached_property
    def _init_roots(self) -> set[str]:
        roots = {name for name in self.functions if name.startswith("PyInit_")}
        roots |= set(self._slot_functions)
        roots |= {f"{b.macro}({b.name})" for b in self.binding_modules if b.body is not None} & set(
            self.functions
        )
        return roots

    def _referenced_elsewhere(self, name: str) -> bool:
        slot_offsets = self._slot_functions.get(name, set())
        return any(ref.offset not in slot_offsets for ref in self.references.get(name, ()))

    @cached_property
    def _python_reachable(self) -> set[str]:
        roots = set()
        for name, function in self.functions.items():
            if name in self._init_roots and not self._referenced_elsewhere(name):
                continue
            if self.is_header or not function.is_static or self._referenced_elsewhere(name):
                roots.add(name)
        return closure(roots, self._graph[0])

    def reachable_from_python(self, name: str) -> bool:
        """Whether Python code (or another file) may call ``name`` after import: entry points,
        non-static functions and everything they call; module-init roots excluded."""
        return name in self._python_reachable

    @cached_property
    def init_functions(self) -> set[str]:
        """``PyInit_*``, ``Py_mod_exec``/``Py_mod_create`` functions, binding-module bodies, and
        the static helpers reached only from them."""
        callees, callers = self._graph
        elsewhere = {
            name
            for name, function in self.functions.items()
            if (not function.is_static and name not in self._init_roots)
            or self._referenced_elsewhere(name)
            or (self.is_header and not name.startswith("PyInit_"))
        }
        roots = {name for name in self._init_roots if not self._referenced_elsewhere(name)}
        return init_only(roots, callers, callees, elsewhere)

    def is_init_only(self, name: str) -> bool:
        return name in self.init_functions

    # -- 2. declarations and types -------------------------------------------------------------------
    def resolve_typedef(self, name: str) -> str:
        """Follow same-file typedef aliases to the underlying type name."""
        return self._resolver.resolve(name)[0]

    def variables_in(self, function: str | Function) -> dict[str, Variable]:
        """Parameters and locals of a function (first declaration of each name wins). Given a name,
        the first definition of that name; given the definition, its own (C++ methods share names)."""
        found = self._locals_of(function) if isinstance(function, str) else self._locals_in(function)
        return {v.name: v for v in reversed(found)}

    def _locals_of(self, function_name: str) -> list[Variable]:
        function = self.functions.get(function_name)
        return self._locals_in(function) if function is not None else []

    def _locals_in(self, function: Function) -> list[Variable]:
        # By definition, not by name: C++ methods of different classes (and overloads) share names.
        cached = self._locals_cache.get(function.start)
        if cached is None:
            cached = self._locals_cache[function.start] = self._read_locals(function)
        return cached

    def _class_members(self, function: Function) -> frozenset[str]:
        """Data members a C++ method sees unqualified: those of the class whose body defines it, or of
        `C` for an out-of-line `C::method` (when this file defines exactly one class that the
        qualified owner names). Static data members are shared, so they are not in the set."""
        members = self._class_members_seen
        if function.start not in members:
            spec: Node | None = function.node.parent
            while spec is not None and spec.type not in ("class_specifier", "struct_specifier", "compound_statement"):
                spec = spec.parent
            if spec is not None and spec.type == "compound_statement":
                spec = None  # a method of a class local to a function body: not followed
            if spec is None and "::" in function.name:
                owner = function.name.rsplit("::", 1)[0].replace(" ", "")
                matches = [c for name, classes in self._classes_named.items() for c in classes
                           if name == owner or name.endswith("::" + owner)]
                spec = matches[0] if len(matches) == 1 else None
            members[function.start] = self._member_names(spec) if spec is not None else frozenset()
        return members[function.start]

    def _member_names(self, spec: Node) -> frozenset[str]:
        found = self._class_fields.get(spec.start_byte)
        if found is None:
            found = self._class_fields[spec.start_byte] = frozenset(_member_names(spec))
        return found

    @cached_property
    def _classes_named(self) -> dict[str, list[Node]]:
        """Classes defined at file or namespace scope, by qualified name (`io::Reader`; template
        arguments dropped): out-of-line methods name them. Function bodies are not searched."""
        found: dict[str, list[Node]] = {}
        if self.language != "cpp":
            return found
        todo: list[tuple[Node, str]] = [(n, "") for n in self.root.named_children]
        while todo:
            node, prefix = todo.pop()
            if node.type in ("class_specifier", "struct_specifier"):
                name = node.child_by_field_name("name")
                if name is not None and node.child_by_field_name("body") is not None:
                    qualified = prefix + text(name).split("<", 1)[0].replace(" ", "")
                    found.setdefault(qualified, []).append(node)
            elif node.type == "namespace_definition":
                name = node.child_by_field_name("name")
                inner = prefix + (text(name).replace(" ", "") + "::" if name is not None else "")
                todo.extend((child, inner) for child in node.named_children)
            elif node.type in _CLASS_SCOPES:
                todo.extend((child, prefix) for child in node.named_children)
        return found

    def _locals_named(self, function: Function) -> dict[str, list[Variable]]:
        """A function's parameters and locals by name (``type_of`` asks once per identifier)."""
        cached = self._locals_by_name.get(function.start)
        if cached is None:
            cached = self._locals_by_name[function.start] = {}
            for variable in self._locals_in(function):
                cached.setdefault(variable.name, []).append(variable)
        return cached

    def _read_locals(self, function: Function) -> list[Variable]:
        function_name = function.name
        index = self._function_positions[id(function)]
        cpp = self.language == "cpp"
        found: list[Variable] = []
        if function.parameters is not None:
            for parameter in named(function.parameters):
                if parameter.type in ("parameter_declaration", "optional_parameter_declaration"):
                    for variable in read_variables(
                        parameter,
                        function_name,
                        self._resolver,
                        self.line_of,
                        self.guards_at,
                        cpp,
                        parameter=True,
                    ):
                        body = function.body
                        variable.scope = (function.start, body.end_byte if body else function.end)
                        found.append(variable)
        declarations = self._local_declarations.get(index, [])
        scopes = _scope_ends(function.node, declarations)
        for node in declarations:
            scope_end = scopes.get(node.id, function.end)
            for variable in read_variables(
                node, function_name, self._resolver, self.line_of, self.guards_at, cpp
            ):
                variable.scope = (node.start_byte, scope_end)
                found.append(variable)
        return found

    def names_storage(self, name: str) -> bool:
        """Whether ``name`` is declared as a file-scope or function-local static variable of this file
        (the storage threads share): a name that is not cannot resolve to one, so ``type_of`` need not be asked."""
        return name in self._globals_by_name

    def type_of(self, identifier: Node) -> Variable | None:
        """The variable a name refers to at that node: innermost visible local/parameter, then globals.

        Given ``frame->f_back`` (a field expression) it answers for the object, ``frame``."""
        while identifier.type in (
            "field_expression",
            "parenthesized_expression",
            "pointer_expression",
            "subscript_expression",
        ):
            children = named(identifier)
            inner = identifier.child_by_field_name("argument") or (children[0] if children else None)
            if inner is None:
                return None
            identifier = inner
        if identifier.type != "identifier":
            return None
        name = text(identifier)
        offset = identifier.start_byte
        function = self.function_at(offset)
        if function is not None:
            best: Variable | None = None
            for variable in self._locals_named(function).get(name, ()):
                start, end = variable.scope
                # The innermost (latest-starting) visible declaration shadows the others.
                if start <= offset < end and (best is None or start >= best.scope[0]):
                    best = variable
            if best is not None:
                return best
        if function is not None and self.language == "cpp" and name in self._class_members(function):
            return None  # a data member of the method's own class (each object has its own), not a global
        # A name used before any file-scope declaration of it is not that variable (C needs the
        # declaration first): f2c's K&R parameters (`pow_zi(p, a, b) integer *b; { integer n; …`)
        # are locals the reader misses, not the global `n` declared 400 lines further down.
        for variable in reversed(self._globals_by_name.get(name, [])):
            visible = variable.function is None or (function is not None and variable.function == function.name)
            if visible and variable.node.start_byte <= offset:
                return variable
        return None

    # -- 5. module definitions ------------------------------------------------------------------------
    @cached_property
    def slot_arrays(self) -> dict[str, SlotArray]:
        arrays: dict[str, SlotArray] = {}
        for variable in self.globals:
            if (
                variable.base_type not in ("PyModuleDef_Slot", "struct PyModuleDef_Slot")
                or not variable.is_array
            ):
                continue
            entries, sentinel = read_slot_entries(variable.initializer, self.guards_at, self.target)
            for entry in entries:
                entry.defines = self.defines
            # A forward declaration (`static PyModuleDef_Slot slots[];`) yields to the definition.
            if variable.name not in arrays or variable.initializer is not None:
                arrays[variable.name] = SlotArray(
                    variable.name, variable.declaration, entries, sentinel is not None, variable.line,
                    variable.node, sentinel
                )
        return arrays

    @cached_property
    def module_defs(self) -> list[ModuleDef]:
        found = []
        for variable in self.globals:
            if variable.base_type not in ("PyModuleDef", "struct PyModuleDef") or variable.pointer_depth:
                continue
            if variable.initializer is None or variable.initializer.type != "initializer_list":
                continue
            nodes = read_initializer(variable.initializer, MODULE_DEF_FIELDS,
                                     lambda element: self.compiled(element) is Tri.NO)
            fields = {key: flat(value) for key, value in nodes.items()}
            m_name = string_value(nodes.get("m_name"))
            slots_name = null_or_name(nodes.get("m_slots"))
            found.append(
                ModuleDef(
                    variable.name,
                    variable.declaration,
                    fields,
                    nodes,
                    m_name if m_name is not None else fields.get("m_name"),
                    fields.get("m_size"),
                    slots_name,
                    self.slot_arrays.get(slots_name) if slots_name else None,
                    variable.line,
                    variable.guards,
                    variable.node,
                )
            )
        return found

    def module_def(self, name: str) -> ModuleDef | None:
        return self._module_defs_by_name.get(name)

    @cached_property
    def _module_defs_by_name(self) -> dict[str, ModuleDef]:
        found: dict[str, ModuleDef] = {}
        for definition in self.module_defs:
            found.setdefault(definition.name, definition)  # the first, as a scan of the list finds
        return found

    def module_name(self, module_def: ModuleDef) -> ModuleName:
        """How findings name the module ``module_def`` defines: its ``m_name`` string, else the
        ``<name>`` of the one ``PyInit_<name>`` that creates it, else a description (``ModuleName``)."""
        names = self._module_names
        found = names.get(module_def)
        if found is None:
            found = names[module_def] = self._name_module(module_def)
        return found

    def _name_module(self, module_def: ModuleDef) -> ModuleName:
        node = module_def.field_nodes.get("m_name")
        literal = self._string_constant(node)
        if literal:
            return ModuleName(module_def.name, literal, "literal")
        inits = self._init_names_by_def.get(module_def.name, set())
        if len(inits) == 1:
            return ModuleName(module_def.name, next(iter(inits)), "init")
        if node is None or null_or_name(node) == "NULL" or literal == "":
            # `def.m_name = name;` before the module is created (or a definition shared by several inits).
            return ModuleName(module_def.name, None, "runtime")
        return ModuleName(module_def.name, None, "expression", flat(node))

    def _string_constant(self, node: Node | None, depth: int = 0) -> str | None:
        """The text of a string literal, of adjacent literals, or of an object-like ``#define`` of this
        file that is one (every definition compiled for the target agreeing); else None."""
        if node is None or depth > 4:
            return None
        value = string_value(node)
        if value is not None:
            return value
        parts = named(node)
        if node.type == "parenthesized_expression" and len(parts) == 1:
            return self._string_constant(parts[0], depth + 1)
        if node.type == "concatenated_string":  # `"_" MODULE_SUFFIX`
            values = [self._string_constant(part, depth + 1) for part in parts]
            return None if any(v is None for v in values) else "".join(v for v in values if v is not None)
        return self._macro_string(text(node), depth) if node.type == "identifier" else None

    def _macro_string(self, name: str, depth: int) -> str | None:
        """The string an object-like macro of this file spells with literals (and such macros)."""
        found: set[str] = set()
        for macro in self.macro_definitions.get(name, ()) if depth <= 4 else ():
            if macro.is_function_like or self.compiled(macro.body_offset) is Tri.NO:
                continue
            body = macro.body.strip()
            if body.startswith("(") and body.endswith(")"):
                body = body[1:-1]
            tokens = _STRING_TOKENS.findall(body)
            if not tokens or "".join(t[0] for t in tokens) != body:  # something else in the body
                return None
            parts = [literal[1:-1] if literal.startswith('"') else self._macro_string(literal, depth + 1)
                     for _, literal in tokens]
            if any(part is None for part in parts):
                return None
            found.add("".join(part for part in parts if part is not None))
        return found.pop() if len(found) == 1 else None

    @cached_property
    def _init_names_by_def(self) -> dict[str, set[str]]:
        """PyModuleDef variable -> the ``<name>`` of each ``PyInit_<name>`` of the file that creates it."""
        defs = {definition.name for definition in self.module_defs}
        found: dict[str, set[str]] = {}
        for init in self.module_inits if defs else ():
            created = self._created_def(init, defs)
            if created is not None:
                found.setdefault(created, set()).add(init.module_name)
        return found

    def _created_def(self, init: ModuleInit, defs: set[str]) -> str | None:
        """The definition an init creates: the one the model found it creating; else the one definition
        its body or its helpers (two calls deep) pass to a module creator; else the one they mention."""
        if init.module_def_name:
            return init.module_def_name if init.module_def_name in defs else None
        reach = [init.name]
        todo = sorted(self.callees(init.name))
        for _ in range(2):
            later: list[str] = []
            for name in todo:
                if name not in reach and name in self.functions and not name.startswith("PyInit_"):
                    reach.append(name)
                    later.extend(sorted(self.callees(name)))
            todo = later
        functions = [self.functions[name] for name in reach if name in self.functions]
        passed = {null_or_name(call.args[0]) for function in functions for call in function.calls
                  if call.args and (call.name == MULTI_PHASE_INIT or call.name in SINGLE_PHASE_CREATORS)} & defs
        if passed:
            return passed.pop() if len(passed) == 1 else None
        mentioned: set[str] = set()
        for function in functions:
            for identifier in _identifiers(function.body) if function.body is not None else ():
                name = text(identifier)
                if name in defs:
                    mentioned.add(name)
                elif name in self.macros:  # `#define CREATE PyModule_Create(&def)`
                    mentioned |= self.macros[name].identifiers() & defs
        return mentioned.pop() if len(mentioned) == 1 else None

    @cached_property
    def set_gil_calls(self) -> list[Call]:
        return [call for call in self.calls if call.name == SET_GIL]

    @cached_property
    def module_inits(self) -> list[ModuleInit]:
        found = []
        for function in self.function_list:
            if not function.name.startswith("PyInit_") or self._forwards_init(function):
                continue
            kind, create, def_name = "unknown", None, None
            multi = self._find_multi_phase(function)
            if multi is not None:
                kind, create, def_name = "multi", multi[0], multi[1]
            else:
                single = self._find_single_phase(function)
                if single is not None:
                    kind, create = "single", single
                    if single.args and single.name != "PyModule_New":
                        def_name = null_or_name(single.args[0])
            owners = {function.name}
            if create is not None and create.function:
                owners.add(create.function)
            set_gil = [call for call in self.set_gil_calls if call.function in owners]
            found.append(
                ModuleInit(
                    function.name,
                    function.name[len("PyInit_") :],
                    function,
                    kind,
                    self.module_def(def_name) if def_name else None,
                    def_name,
                    create,
                    _assigned_to(create.node) if create is not None and kind == "single" else None,
                    set_gil,
                    function.line,
                )
            )
        return found

    def _forwards_init(self, function: Function) -> bool:
        """`PyInit___init__(void) { return PyInit_apsw(); }`: an export shim (for a linker that wants
        another symbol name) that builds no module of its own; the module is the one it forwards to."""
        body = named(function.body) if function.body is not None else []
        if len(body) != 1 or body[0].type != "return_statement" or not named(body[0]):
            return False
        value = strip(named(body[0])[0])
        if value is None or value.type != "call_expression":
            return False
        callee = text(value.child_by_field_name("function"))
        return callee.startswith("PyInit_") and callee != function.name and callee in self.functions

    def _find_multi_phase(self, function: Function) -> tuple[Call, str | None] | None:
        for call in function.calls:
            if call.name == MULTI_PHASE_INIT:
                return call, null_or_name(call.args[0]) if call.args else None
            macro = self.macros.get(call.name)
            if macro is not None and MULTI_PHASE_INIT in macro.body:
                return call, _macro_def_argument(macro, call)
        return None

    def _find_single_phase(self, function: Function) -> Call | None:
        # Also look one or two helpers deep: `PyInit_x(void) { return create_module(); }`.
        seen: set[str] = set()
        todo = [function.name]
        for _ in range(3):
            next_round: list[str] = []
            for name in todo:
                if name in seen or name not in self.functions:
                    continue
                seen.add(name)
                for call in self.functions[name].calls:
                    if call.name in SINGLE_PHASE_CREATORS or call.name in self._creator_macros(True):
                        return call  # also `MOD_DEF(m, name, doc, methods)` whose body calls PyModule_Create
                hidden = self._creator_macro_use(self.functions[name])
                if hidden is not None:
                    return hidden
                next_round.extend(self.callees(name))
            todo = next_round
        return None

    def _creator_macros(self, function_like: bool) -> frozenset[str]:
        """The file's macros (function-like or object-like) that a definition compiled for some
        supported build spells as a single-phase module creation."""
        cached = self._creator_macro_names.get(function_like)
        if cached is None:
            cached = self._creator_macro_names[function_like] = frozenset(
                name for name, definitions in self.macro_definitions.items()
                if any(m.is_function_like == function_like and "Py" in m.body
                       and any(c in m.body and re.search(rf"\b{c}\s*\(", m.body) for c in SINGLE_PHASE_CREATORS)
                       and self.compiled(m.body_offset) is not Tri.NO
                       for m in definitions))
        return cached

    def _creator_macro_use(self, function: Function) -> Call | None:
        """`PyObject *m = CREATE_BROTLI;` with `#define CREATE_BROTLI PyModule_Create(&brotli_module)`:
        the module is created through an object-like macro of the file (a Python 2/3 compatibility
        spelling), so no call expression names the creator."""
        creators = self._creator_macros(False)
        if not creators or function.body is None:
            return None
        for node in descendants(function.body):
            if node.type == "identifier" and text(node) in creators:
                return Call(text(node), node, [], function.name)
        return None

    @cached_property
    def binding_modules(self) -> list[BindingModule]:
        found: list[BindingModule] = []
        seen: set[int] = set()
        for function in self.function_list:
            for macro, kind in BINDING_MACROS.items():
                if not function.name.startswith(macro + "("):
                    continue
                args = self._macro_args(function.parameters)
                module_var = args[1] if len(args) > 1 else ""
                body = function.body
                calls = [call for call in function.calls if _receiver_root(call) == module_var]
                found.append(
                    BindingModule(
                        kind,
                        args[0] if args else "",
                        module_var,
                        args[2:],
                        function.node,
                        function.line,
                        body,
                        calls,
                        macro,
                    )
                )
                seen.add(function.start)
        # Fallback when the parser did not make a function out of the macro.
        close = -2  # the first ')' at or after the latest '(' (matches come in order: one scan)
        for match in re.finditer(rb"\b(PYBIND11_MODULE|NB_MODULE)\s*\(", self.raw.mask):
            start = match.start()
            if seen & {start - 1, start, start + 1} or self.function_at(start) is not None:
                continue
            open_at = match.end() - 1
            if close != -1 and close < open_at:
                close = self.raw.mask.find(b")", open_at)
            # A real argument list is short; a ')' megabytes away is not this macro's.
            near = 0 < close - open_at <= _MAX_MACRO_ARGS
            args = list(split_args(self.source[open_at + 1 : close])) if near else []
            macro = match.group(1).decode()
            found.append(
                BindingModule(
                    BINDING_MACROS[macro],
                    args[0] if args else "",
                    args[1] if len(args) > 1 else "",
                    args[2:],
                    None,
                    self.line_of(start),
                    None,
                    [],
                    macro,
                )
            )
        return found

    # -- 6. synchronised regions ----------------------------------------------------------------------
    @cached_property
    def _header_lock_macros(self) -> list[DefineMacro]:
        """Lock-looking macros of the project's own headers (`#define LOCK_DB(c) PyMutex_Lock(&(c)->m)`
        in `util.h`): a project's lock wrappers usually live there, not in the file that uses them."""
        read = self.read_header
        if read is None:
            return []
        own = set(self.macro_definitions)
        found = project_macros(self.raw.directives, self.path, read, self.target, relevant=_LOCK_DEFINE)
        return [macro for name, macro in found.items() if name not in own]

    @cached_property
    def _locks(self) -> LockAnalysis:
        analysis = LockAnalysis(self.normalised.events, self.guard_index, self.target,
                                self.defines_for(self.target))
        analysis.macro_locks = lock_macros([*self._header_lock_macros,
                                            *(m for defs in self.macro_definitions.values() for m in defs)])
        # Only a function whose text can take, drop or hold something is walked: in every other one each
        # statement has the empty state, which is what ``state_at`` answers for a statement never walked.
        for function in self.function_list:
            if function.body is not None and self._may_lock(function.body, analysis.macro_locks):
                analysis.run(function.name, function.body)
        wrappers = analysis.find_wrappers()
        if wrappers:  # a second pass in which calling such a helper takes (or drops) its lock
            second = LockAnalysis(self.normalised.events, self.guard_index, self.target,
                                  self.defines_for(self.target))
            second.macro_locks, second.wrappers = analysis.macro_locks, wrappers
            for function in self.function_list:
                if function.body is not None and self._may_lock(function.body, {**analysis.macro_locks, **wrappers}):
                    second.run(function.name, function.body)
            analysis = second
        return analysis

    def _may_lock(self, body: Node, names: Mapping[str, object]) -> bool:
        """Whether a function body holds anything the lock walk acts on: a lock, critical section or
        thread-state call or macro (by the names of ``locks``' tables, generously), a C++ guard or
        member lock, a compare-and-swap loop, or a macro event (``Py_BEGIN_ALLOW_THREADS``)."""
        start, end = body.start_byte, body.end_byte
        events = self._event_offsets
        at = bisect_left(events, start)
        if at < len(events) and events[at] < end:
            return True
        lower, exact = self._lowered_text, self.normalised.text
        if any(lower.find(word, start, end) >= 0 for word in MAY_LOCK_LOWER):
            return True
        return any(exact.find(word, start, end) >= 0 for word in (*MAY_LOCK_EXACT, *(n.encode() for n in names)))

    @cached_property
    def _lowered_text(self) -> bytes:
        return self.normalised.text.lower()

    @cached_property
    def _event_offsets(self) -> list[int]:
        return sorted(self.normalised.events)

    def lock_state(self, node: Node) -> LockState:
        """Locks, critical sections and detached thread state in force at a node's statement."""
        return self._locks.state_at(node)

    @property
    def critical_sections(self) -> list[CriticalSectionRegion]:
        return self._locks.critical_sections

    @property
    def stray_critical_section_ends(self) -> list[Node]:
        """``Py_END_CRITICAL_SECTION*`` calls with no open section before them in their function."""
        return self._locks.stray_critical_section_ends

    @property
    def allow_threads_regions(self) -> list[AllowThreadsRegion]:
        return self._locks.allow_threads_regions

    def is_atomic_call(self, call: Call) -> bool:
        """An atomic operation: C11/GCC/CPython/Win32 atomics, or a member call on a std::atomic."""
        if is_atomic_name(call.name):
            return True
        callee = call.node.child_by_field_name("function")
        if callee is None or callee.type != "field_expression":
            return False
        if text(callee.child_by_field_name("field")) not in ATOMIC_METHODS:
            return False
        receiver = callee.child_by_field_name("argument")
        while receiver is not None and receiver.type in ("field_expression", "subscript_expression"):
            if receiver.type == "field_expression":
                break
            receiver = receiver.child_by_field_name("argument")
        if receiver is None:
            return False
        if receiver.type == "identifier":
            variable = self.type_of(receiver)
            return variable is not None and variable.atomic
        return False

    # -- 7. macros ------------------------------------------------------------------------------------
    @cached_property
    def macro_definitions(self) -> dict[str, list[Macro]]:
        """Every ``#define`` of each name, in file order."""
        found: dict[str, list[Macro]] = {}
        for directive in self.raw.directives:
            if directive.kind != "define" or directive.name is None or directive.body_offset is None:
                continue
            body = directive.text[len(directive.name) :].strip()
            if directive.params is not None:
                body = body[body.find(")") + 1 :].strip() if ")" in body else ""
            found.setdefault(directive.name, []).append(
                Macro(
                    directive.name,
                    directive.params,
                    body,
                    directive.body_offset,
                    max(directive.body_offset, directive.end),
                    directive.line,
                    self._define_nodes.get(directive.start),
                    self.guards_at(directive.start),
                    self.language,
                    self.source,
                    open_comment=self.raw.open_comment,
                )
            )
        return found

    @cached_property
    def macros(self) -> dict[str, Macro]:
        """``#define``s by name (the first definition when ``#if`` branches define one twice)."""
        return {name: definitions[0] for name, definitions in self.macro_definitions.items()}


# The tokens of a macro body made of string literals and names: (token with spaces, token).
_STRING_TOKENS = re.compile(r'(\s*("[^"\\\n]*"|[A-Za-z_]\w*)\s*)')


def _context(path: list[Node]) -> str:
    """Where a reference sits, from its ancestors (outermost first), through `&`, casts and parens."""
    index = len(path) - 1
    while index >= 0 and path[index].type in ("pointer_expression", "cast_expression", "parenthesized_expression"):
        index -= 1
    if index < 0:
        return "other"
    parent = path[index]
    if parent.type in ("initializer_list", "initializer_pair", "init_declarator"):
        return "initializer"
    if parent.type == "argument_list":
        return "argument"
    if parent.type == "assignment_expression":
        return "assignment"
    return "other"


def _identifiers(node: Node) -> list[Node]:
    """Identifier nodes under ``node``, in source order (an explicit stack: no recursion limit)."""
    found = []
    todo = [node]
    while todo:
        current = todo.pop()
        if current.type == "identifier":
            found.append(current)
        else:
            todo.extend(reversed(current.named_children))
    return found


_SCOPES = frozenset({"compound_statement", "for_statement", "for_range_loop", "function_definition"})


def _scope_ends(function: Node, declarations: list[Node]) -> dict[int, int]:
    """Declaration node id -> end of the innermost block (or for loop) that holds it: where the names
    it declares go out of scope. One walk down to the declarations, not a parent chain for each."""
    wanted = {node.id for node in declarations}
    starts = sorted({node.start_byte for node in declarations})
    ends: dict[int, int] = {}
    for node, _, blocks in pruned_walk(function, starts, lambda n: n.type in _SCOPES):
        if node.id in wanted and blocks:
            ends[node.id] = blocks[-1].end_byte
    return ends


def _assigned_to(call: Node) -> str | None:
    """The variable a call's result is stored in: ``m = f()`` or ``PyObject *m = f()``."""
    node = call
    parent = node.parent
    while parent is not None and parent.type in ("cast_expression", "parenthesized_expression"):
        node, parent = parent, parent.parent
    if parent is None:
        return None
    if parent.type == "assignment_expression" and parent.child_by_field_name("right") == node:
        return compact(parent.child_by_field_name("left"))
    if parent.type == "init_declarator":
        name = declarator_name(parent.child_by_field_name("declarator"))
        return text(name) if name is not None else None
    return None


def _macro_def_argument(macro: Macro, call: Call) -> str | None:
    """Which PyModuleDef a macro wrapping ``PyModuleDef_Init(&X)`` passes, given the call's args."""
    match = re.search(r"PyModuleDef_Init\s*\(\s*&?\s*\(?\s*([A-Za-z_]\w*)", macro.body)
    if match is None:
        return None
    name = match.group(1)
    if macro.params and name in macro.params:
        index = macro.params.index(name)
        return null_or_name(call.args[index]) if index < len(call.args) else None
    return name


def _receiver_root(call: Call) -> str | None:
    """``m`` for ``m.def(...)`` and for chained ``m.def(...).def(...)``."""
    node: Node | None = call.node.child_by_field_name("function")
    while node is not None:
        if node.type == "identifier":
            return text(node)
        if node.type == "field_expression":
            node = node.child_by_field_name("argument")
        elif node.type == "call_expression":
            node = node.child_by_field_name("function")
        else:
            return None
    return None
