"""One shared walk over a Python file's ``ast``: names, scopes and version guards, reported as typed events.

The walk resolves what names mean (``import sys as s``, ``from inspect import currentframe``, ``api =
ctypes.pythonapi``), follows which local names hold a ``locals()`` snapshot, a frame, an ``f_locals`` mapping or
a refcount reading, and records what happens to them as events (``python_events``: ``LocalsWrite``,
``FrameLocalsDelete``, ``ImmortalRefcountComparison``, ...), each with the ``sys.version_info`` range the code
runs on. It knows no rule: it runs once per file, on first use (``scope_facts``), and every rule reads the same
events.

How a rule subscribes: list ``ScopeSubscriber`` before ``Rule`` among its bases (it supplies ``check``) and mark
one method per event type (or group of types, such as ``FrameLocalsMutation``) with ``@handles(EventType, ...)``;
the method is called as ``(ctx, event)`` for each such event of the file, in the order the walk found them, and
reports findings with ``ctx.report`` under the rule's own code. The targets it audits are declared on the rule
(``applies_to``), so the engine does not run it, nor the walk for it, for other targets. Override
``wants(event)`` for a filter shared by all of the rule's handlers (usually the versions the code runs on:
``old_only``/``new_only``)::

    class SnapshotWrites(ScopeSubscriber, Rule):
        code = "XY501"
        ...
        def wants(self, event: ScopeEvent) -> bool:
            return not old_only(event.versions)

        @handles(LocalsWrite)
        def on_write(self, ctx: FileContext, event: LocalsWrite) -> None:
            ctx.report(event.node, f"`{event.subject}` ...")

A new rule needs no change here when the events it needs exist. To add an event, see ``python_events``: declare
its type there, emit it from ``_Walker`` with ``self.emit(...)``, and extend ``TRIGGERS`` if its code can appear
in a file without any of its words.
"""

from __future__ import annotations

import ast
import builtins
import re
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from ftaudit.analysis.python_events import (
    ALL_VERSIONS,
    IMMORTAL_SINCE,
    AbsoluteRefcountComparison,
    CtypesFrameSync,
    ExecBindingRead,
    ExecLocalsKeyRead,
    FrameLocalsDelete,
    FrameLocalsTypeCheck,
    FrameLocalsWrite,
    ImmortalRefcountAsNumber,
    ImmortalRefcountComparison,
    LocalsRefresh,
    LocalsWrite,
    ScopeEvent,
    SwitchIntervalGet,
    SwitchIntervalSet,
    VersionRange,
)
from ftaudit.context import FileContext, run_deep

DICT_MUTATORS = frozenset({"update", "pop", "popitem", "clear", "setdefault", "__setitem__", "__delitem__",
                           "__ior__"})
FRAME_SYNC_FUNCTIONS = frozenset({"PyFrame_LocalsToFast", "PyFrame_FastToLocals", "PyFrame_FastToLocalsWithError"})
FRAME_FUNCTIONS = frozenset({"sys._getframe", "inspect.currentframe"})
FRAME_INFO_LISTS = frozenset({"inspect.stack", "inspect.trace", "inspect.getouterframes", "inspect.getinnerframes"})
FRAME_PAIR_ITERATORS = frozenset({"traceback.walk_stack", "traceback.walk_tb"})
# Attributes that only frames' owners have: a traceback's, generator's, coroutine's frame.
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
DEBUGGER_BASES = frozenset({"bdb.Bdb", "pdb.Pdb"})
UNITTEST_COMPARISONS: dict[str, type[ast.cmpop]] = {
    "assertEqual": ast.Eq, "assertEquals": ast.Eq, "assertAlmostEqual": ast.Eq, "assertNotEqual": ast.NotEq,
    "assertGreater": ast.Gt, "assertGreaterEqual": ast.GtE, "assertLess": ast.Lt, "assertLessEqual": ast.LtE}
_FLIP = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}
# What `from M import *` provides that the walk cares about (underscore names are never star-imported).
STAR_EXPORTS = {"pythonapi": "ctypes", "getrefcount": "sys", "setswitchinterval": "sys",
                "getswitchinterval": "sys", "currentframe": "inspect", "stack": "inspect", "version_info": "sys"}
BUILTIN_NAMES = frozenset(dir(builtins))
# Static builtin types are immortal since 3.12 (PEP 683).
BUILTIN_TYPES = frozenset(name for name in BUILTIN_NAMES if isinstance(getattr(builtins, name), type)
                          and not issubclass(getattr(builtins, name), BaseException))
# Words a file must contain for the walk to find any event: most files are skipped at once.
# Words without which a file has no event: `locals()`/`f_locals`, but not `executor`, `evaluate` or
# `envvars` (a third of the standard library's files hold those and none of these).
TRIGGERS = re.compile(r"locals\b|\bvars\b|\bexec\b|\beval\b|PyFrame_|getrefcount|switchinterval")
# `PY313`, `PY_3_13`, `PYTHON_313_PLUS`: a compatibility flag meaning "running on 3.13 or newer".
_VERSION_FLAG = re.compile(
    r"^_?(?:IS_)?PY(?:THON)?_?3_?(1\d)(?:_?(?:PLUS|UP|GE|(?:OR|AND)_(?:LATER|NEWER|ABOVE|GREATER|HIGHER|UP)))?$")
# Helpers that copy f_locals back into the variables (pydevd's save_locals, a wrapped PyFrame_LocalsToFast).
_SYNC_HELPER = re.compile(r"(?i)locals_?to_?fast|save_?locals")
DELETING_METHODS = frozenset({"pop", "popitem", "clear", "__delitem__"})
_TERMINATORS = (ast.Return, ast.Raise, ast.Continue, ast.Break)
_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


@dataclass(frozen=True)
class Value:
    """What a name or expression is known to hold; ``kind`` says which of the fields matter."""

    kind: str  # ref, frame, frameinfo, frameinfos, frames_map, frame_pairs, snapshot, f_locals, refcount,
    #            const, version, switch
    qual: str = ""  # ref: dotted qualified name ("sys._getframe"); snapshot/f_locals: how it was obtained
    info: Any = None  # const: the constant; refcount: RefReading; version: (true range, false range);
    #                   f_locals: source text of the frame
    line: int = 0  # where a snapshot/f_locals alias was taken


@dataclass(frozen=True)
class RefReading:
    absolute: bool  # a raw count, not a difference of two counts
    immortal: str | None  # source text of the immortal object read, if any
    line: int = 0  # where sys.getrefcount was called


@dataclass(frozen=True)
class _FrameChange:
    """A change to a frame's ``f_locals``, held until its function is walked to the end (a sync may follow)."""

    node: ast.expr | ast.stmt
    subject: str
    versions: VersionRange
    f_locals: str
    taken_at: int
    deleting: bool
    dunder_keys: bool
    frame: str  # source text of the frame whose f_locals is changed


@dataclass
class Scope:
    kind: str  # module, class, function, lambda, comprehension
    node: ast.AST
    parent: Scope | None
    bound: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    values: dict[str, Value] = field(default_factory=dict)
    debugger_method: bool = False  # a method of a bdb.Bdb / pdb.Pdb subclass
    # exec/eval into the implicit locals(): (call, exec or eval, names the literal assigns; None: code not
    # known, versions), and (name, position, line) of later reads, and of the reads through a `locals()`
    # snapshot (`locals()["x"]`).
    execs: list[tuple[ast.Call, str, frozenset[str] | None, VersionRange]] = field(default_factory=list)
    reads: list[tuple[str, tuple[int, int], int]] = field(default_factory=list)
    key_reads: list[tuple[str, tuple[int, int], int]] = field(default_factory=list)
    # Changes to a frame's f_locals and later locals-to-fast syncs ((position, source text of the arguments)).
    frame_changes: list[_FrameChange] = field(default_factory=list)
    syncs: list[tuple[tuple[int, int], str]] = field(default_factory=list)
    # Bare `locals()` statements, reported once the scope is done: whether it also keeps a snapshot or
    # f_locals alias that the refresh could have been meant to update is known only then.
    refreshes: list[tuple[ast.expr, str, VersionRange]] = field(default_factory=list)
    holds_snapshot: bool = False

    @property
    def optimized(self) -> bool:
        """True in function scopes, where ``locals()`` is a snapshot rather than the namespace itself."""
        scope: Scope | None = self
        while scope is not None and scope.kind == "comprehension":
            scope = scope.parent  # comprehensions are inlined (PEP 709) or nested in their owner's kind
        return scope is not None and scope.kind in ("function", "lambda")


@dataclass
class ScopeFacts:
    """The events of one file, in the order the walk found them."""

    events: list[ScopeEvent] = field(default_factory=list)
    too_deep: bool = False  # the walk ran out of recursion even with room to spare: no events at all

    @property
    def hits(self) -> list[ScopeEvent]:
        """The events under their earlier name."""
        return self.events


_CACHE: weakref.WeakKeyDictionary[ast.Module, ScopeFacts] = weakref.WeakKeyDictionary()


def scope_facts(ctx: FileContext) -> ScopeFacts:
    """The events of ``ctx``'s file: walked once, on first use, and shared by every rule (none for a file that
    is not Python or does not parse). The one place that knows where the per-file cache lives."""
    return ctx.analyses.python_scopes


def analyse(tree: ast.Module, text: str, nodes: Callable[[], list[ast.AST]] | None = None) -> ScopeFacts:
    """The events of one file's ``tree``, computed once per tree.

    ``nodes`` gives the file's shared flat node list (``FileContext.python_nodes``), reused rather than
    walking the whole tree again; asked for only when the file holds a trigger word."""
    facts = _CACHE.get(tree)
    if facts is None:
        facts = ScopeFacts()
        if TRIGGERS.search(text):
            facts = _walk(tree, nodes() if nodes is not None else list(ast.walk(tree)))
        _CACHE[tree] = facts
    return facts


def _walk(tree: ast.Module, nodes: list[ast.AST]) -> ScopeFacts:
    """The walk recurses per nesting level (5,000 ``elif``s are 5,000 levels): retried with more room
    when the default limit is too small, and given up (``too_deep``) when even that is not enough."""
    def walk() -> ScopeFacts:
        facts = ScopeFacts()
        _Walker(facts).run(tree, nodes)
        return facts

    try:
        return walk()
    except RecursionError:
        pass
    try:
        return run_deep(walk)
    except RecursionError:
        return ScopeFacts(too_deep=True)


# -- subscriptions -------------------------------------------------------------------------------------------

_HANDLES = "_handles_scope_events"
_SUBSCRIBERS: set[str] = set()  # codes of the rules fed by the walk, named when a file is too deep to walk
_Handler = TypeVar("_Handler", bound=Callable[..., None])


def handles(*kinds: type[ScopeEvent]) -> Callable[[_Handler], _Handler]:
    """Marks a method of a ``ScopeSubscriber`` as the handler of the events of these types (and of their
    subclasses): it is called as ``(ctx, event)``."""
    for kind in kinds:
        if not (isinstance(kind, type) and issubclass(kind, ScopeEvent)):
            raise TypeError(f"@handles takes event types (ScopeEvent subclasses), not {kind!r}")

    def mark(handler: _Handler) -> _Handler:
        setattr(handler, _HANDLES, kinds)
        return handler

    return mark


class ScopeSubscriber:
    """Makes a rule judge the events of the shared scope walk (``class R(ScopeSubscriber, Rule)``): its ``check``
    hands each event of the file to the method marked ``@handles`` for the event's type. A mixin rather than a
    ``Rule`` subclass: analyses sit below the rule kernel."""

    # event type -> name of the method handling it; built from the ``@handles`` marks (inherited ones included)
    subscriptions: ClassVar[dict[type[ScopeEvent], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = dict(cls.subscriptions)
        for name, member in vars(cls).items():
            for kind in getattr(member, _HANDLES, ()):
                table[kind] = name
        cls.subscriptions = table
        owner = next(base for base in cls.__mro__ if "check" in vars(base))
        if not issubclass(owner, ScopeSubscriber):
            raise TypeError(f"{cls.__name__}: list ScopeSubscriber before {owner.__name__} among the bases, "
                            f"or {owner.__name__}.check runs instead of the event handlers")
        code = vars(cls).get("code")
        if table and isinstance(code, str):
            _SUBSCRIBERS.add(code)

    def wants(self, event: ScopeEvent) -> bool:
        """A filter shared by all of the rule's handlers (usually the versions the code runs on)."""
        return True

    def check(self, ctx: FileContext) -> None:
        facts = scope_facts(ctx)
        if facts.too_deep:
            ctx.too_complex(too_deep_message())
        for event in facts.events:
            handler = self.handler(type(event))
            if handler is not None and self.wants(event):
                getattr(self, handler)(ctx, event)

    @classmethod
    def handler(cls, kind: type[ScopeEvent]) -> str | None:
        """The name of the method handling events of type ``kind`` (None: the rule does not subscribe)."""
        table = cls.subscriptions
        for base in kind.__mro__:
            name = table.get(base)
            if name is not None:
                return name
        return None


def too_deep_message() -> str:
    """The one diagnostic of a file too deep to walk, naming the rules fed by the walk: their family (a code's
    first three characters, then ``xx``) and range of codes."""
    codes = sorted(_SUBSCRIBERS)
    if not codes:
        return "nested too deeply for the Python scope analysis; its rules skipped for this file"
    if len({code[:3] for code in codes}) == 1:
        analysis, skipped = f"{codes[0][:3]}xx", f"{codes[0]}-{codes[-1]}"
    else:
        analysis, skipped = "Python", ", ".join(codes)
    return f"nested too deeply for the {analysis} scope analysis; {skipped} skipped for this file"


# -- helpers -------------------------------------------------------------------------------------------------

def source(node: ast.AST, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_immortal_constant(value: object) -> bool:
    """None, booleans, ``...``, small ints, empty or one-character strings and bytes, interned literals."""
    if value is None or value is Ellipsis or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -5 <= value <= 256
    if isinstance(value, str):
        return (len(value) <= 1 and (not value or ord(value) < 256)) or value.isidentifier()
    if isinstance(value, bytes):
        return len(value) <= 1
    return False


# -- static bindings ---------------------------------------------------------------------------------------

def _bindings(nodes: Iterable[ast.AST]) -> tuple[set[str], set[str], set[str]]:
    """Names a scope binds (assigned anywhere in it), and its global and nonlocal declarations."""
    bound: set[str] = set()
    declared_global: set[str] = set()
    declared_nonlocal: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            stack.extend(node.decorator_list)
            if isinstance(node, ast.ClassDef):
                stack.extend(node.bases)
                stack.extend(k.value for k in node.keywords)
            else:
                stack.extend(node.args.defaults)
                stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
            continue
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            # Only walrus targets leak out of a comprehension; its first iterable runs out here.
            bound.update(n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr))
            stack.append(node.generators[0].iter)
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name.split(".")[0]) for a in node.names if a.name != "*")
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        elif isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            declared_nonlocal.update(node.names)
        stack.extend(ast.iter_child_nodes(node))
    return bound - declared_global - declared_nonlocal, declared_global, declared_nonlocal


def _parameters(args: ast.arguments) -> list[ast.arg]:
    return [*args.posonlyargs, *args.args, *([args.vararg] if args.vararg else []), *args.kwonlyargs,
            *([args.kwarg] if args.kwarg else [])]


def terminates(body: list[ast.stmt]) -> bool:
    """The block ends in `return`, `raise`, `continue` or `break`: what follows it never runs after it."""
    return bool(body) and isinstance(body[-1], _TERMINATORS)


def _intersect(a: VersionRange, b: VersionRange) -> VersionRange:
    return max(a[0], b[0]), min(a[1], b[1])


def _numeric_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _numeric_literal(node.operand)
    if isinstance(node, ast.BinOp):
        return _numeric_literal(node.left) and _numeric_literal(node.right)
    return False


def _dunder_keys(node: ast.AST, constants: dict[str, str] | None = None) -> bool:
    """True when every key a write names is a dunder string (``f_locals['__return__'] = v``), written as a
    literal or as a module constant (``TAGGED = '__tagged_values__'``; ``f_locals.setdefault(TAGGED, {})``)."""
    constants = constants or {}

    def dunder(key: ast.AST | None) -> bool:
        if isinstance(key, ast.Name):
            value: object = constants.get(key.id)
        else:
            value = key.value if isinstance(key, ast.Constant) else None
        return isinstance(value, str) and value.startswith("__") and value.endswith("__")

    if isinstance(node, ast.Subscript):
        return dunder(node.slice)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "update":
            keys: list[object] = [k.arg for k in node.keywords]
            if node.args:
                literal = node.args[0]
                if not isinstance(literal, ast.Dict) or len(node.args) > 1:
                    return False
                keys += [k.value if isinstance(k, ast.Constant) else None for k in literal.keys]
            return bool(keys) and all(isinstance(k, str) and k.startswith("__") and k.endswith("__") for k in keys)
        return bool(node.args) and dunder(node.args[0])
    return False


def _int_elements(node: ast.AST) -> list[int]:
    """The numbers of a tuple of int literals (``(3, 13)``); empty for anything else."""
    if not isinstance(node, ast.Tuple):
        return []
    numbers = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, int)]
    return numbers if len(numbers) == len(node.elts) else []


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _names_assigned_by(code: str, mode: str) -> tuple[frozenset[str], frozenset[str]]:
    """(names bound at the top level, names read) by a literal passed to exec/eval; empty if it does not parse."""
    tree: ast.Module | ast.Expression
    try:
        tree = ast.parse(code, mode="exec") if mode == "exec" else ast.parse(code, mode="eval")
    except (SyntaxError, ValueError):
        return frozenset(), frozenset()
    bound, _, _ = _bindings(tree.body if isinstance(tree, ast.Module) else [tree.body])
    reads = frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
    return frozenset(bound), reads


# -- the walk ----------------------------------------------------------------------------------------------

def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level names assigned exactly once, to a string literal (``TAGGED_DATA = '__tagged__'``)."""
    seen: dict[str, int] = {}
    values: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    seen[target.id] = seen.get(target.id, 0) + 1
                    if isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str):
                        values[target.id] = statement.value.value
    return {name: value for name, value in values.items() if seen[name] == 1}


class _Walker:
    def __init__(self, facts: ScopeFacts) -> None:
        self.facts = facts
        self.module: Scope | None = None
        self.scope: Scope | None = None
        self.guards: list[VersionRange] = []
        self.deferred: list[tuple[_FunctionNode, Scope, list[VersionRange]]] = []
        self.star_modules: set[str] = set()
        self.saved_calls: set[int] = set()  # getswitchinterval() calls whose value is saved in a name
        self.set_arguments: set[int] = set()  # calls in the arguments of setswitchinterval()
        self.branch_tests: set[int] = set()  # ids of `if` conditions: an immortality test there branches
        self.saved_intervals: set[str] = set()  # dotted targets holding a saved switch interval
        # setswitchinterval(x) calls, decided once every saved interval is known: (call, versions, x's target)
        self.restores: list[tuple[ast.Call, VersionRange, str]] = []
        self.constants: dict[str, str] = {}  # module-level names bound once to a string literal
        self.call_values: dict[int, Value | None] = {}

    # -- driver -------------------------------------------------------------------------------------------
    def run(self, tree: ast.Module, nodes: Iterable[ast.AST]) -> None:
        self.constants = _string_constants(tree)
        bound, _, _ = _bindings(tree.body)
        # A `global x` in any function binds x at module level too.
        declared = {name for n in nodes if isinstance(n, ast.Global) for name in n.names}
        self.module = Scope("module", tree, None, bound | declared)
        self.scope = self.module
        self.block(tree.body)
        self.finish_scope(self.module)
        while self.deferred:
            node, scope, guards = self.deferred.pop(0)
            self.scope, self.guards = scope, guards
            self.function_body(node, scope)
        for call, versions, key in self.restores:
            self.emit(SwitchIntervalSet(call, source(call), versions, restores_saved=key in self.saved_intervals))

    def function_body(self, node: _FunctionNode, scope: Scope) -> None:
        if isinstance(node, ast.Lambda):
            self.visit(node.body)
        else:
            self.block(node.body)
        self.finish_scope(scope)

    @property
    def versions(self) -> VersionRange:
        current = ALL_VERSIONS
        for guard in self.guards:
            current = _intersect(current, guard)
        return current

    def emit(self, event: ScopeEvent) -> None:
        self.facts.events.append(event)

    # -- names --------------------------------------------------------------------------------------------
    def lookup(self, name: str) -> Value | None:
        scope = self.scope
        first = True
        while scope is not None:
            if scope.kind == "class" and not first:
                scope = scope.parent  # class bodies are not visible from the functions inside them
                continue
            if name in scope.globals:
                scope = self.module
                assert scope is not None
                return scope.values.get(name) if name in scope.bound else self.builtin(name)
            if name in scope.bound:
                return scope.values.get(name)
            first = False
            scope = scope.parent
        return self.builtin(name)

    def builtin(self, name: str) -> Value | None:
        module = STAR_EXPORTS.get(name)
        if module in self.star_modules:
            return Value("ref", f"{module}.{name}")
        return Value("ref", f"builtins.{name}") if name in BUILTIN_NAMES else None

    def owner(self, name: str) -> Scope:
        """The scope in which an assignment to ``name`` made here binds it."""
        assert self.scope is not None and self.module is not None
        if name in self.scope.globals:
            return self.module
        if name in self.scope.nonlocals:
            scope = self.scope.parent
            while scope is not None and (scope.kind == "class" or name not in scope.bound):
                scope = scope.parent
            return scope or self.module
        scope = self.scope
        while scope.kind == "comprehension" and name not in scope.bound and scope.parent is not None:
            scope = scope.parent  # a walrus in a comprehension binds in the enclosing scope
        return scope

    def bind(self, name: str, value: Value | None) -> None:
        scope = self.owner(name)
        if value is None:
            scope.values.pop(name, None)
        else:
            scope.values[name] = value
            if value.kind in ("snapshot", "f_locals"):
                scope.holds_snapshot = True

    def qual(self, node: ast.AST) -> str | None:
        value = self.value_of(node)
        return value.qual if value is not None and value.kind == "ref" else None

    def value_of(self, node: ast.AST) -> Value | None:
        """What ``node`` evaluates to, as far as the rules care; no side effects."""
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Constant):
            return Value("const", info=node.value)
        if isinstance(node, ast.Attribute):
            return self.attribute_value(node)
        if isinstance(node, ast.Call):
            return self.call_value(node)
        if isinstance(node, ast.Subscript):
            base = self.value_of(node.value)
            if base is None:
                return None
            if base.kind == "frameinfos":
                return Value("frameinfo")
            if base.kind == "frameinfo" and isinstance(node.slice, ast.Constant) and node.slice.value == 0:
                return Value("frame")
            if base.kind == "frames_map":
                return Value("frame")
            if base.kind == "ref" and base.qual == "sys.version_info":
                return Value("ref", "sys.version_info")  # sys.version_info[:2] compares the same way
            return None
        if isinstance(node, ast.NamedExpr):
            return self.value_of(node.value)
        if isinstance(node, ast.BinOp):
            return self.refcount_arithmetic(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            number = node.operand.value
            if isinstance(number, (int, float)) and not isinstance(number, bool):
                return Value("const", info=-number)
        if isinstance(node, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
            ranges = self.version_test(node)
            return Value("version", info=ranges) if ranges else None
        if isinstance(node, ast.Tuple) and not node.elts:
            return Value("const", info=())
        return None

    def attribute_value(self, node: ast.Attribute) -> Value | None:
        if node.attr in FRAME_ATTRIBUTES:
            return Value("frame")
        base = self.value_of(node.value)
        if base is None:
            if (node.attr == "curframe" and isinstance(node.value, ast.Name) and node.value.id == "self"
                    and self.scope is not None and self.scope.debugger_method):
                return Value("frame")
            return None
        if base.kind == "ref":
            return Value("ref", f"{base.qual}.{node.attr}")
        if base.kind == "frame":
            if node.attr == "f_back":
                return Value("frame")
            if node.attr == "f_locals":
                return Value("f_locals", source(node), info=source(node.value), line=node.lineno)
        if base.kind == "frameinfo" and node.attr == "frame":
            return Value("frame")
        return None

    def call_value(self, node: ast.Call) -> Value | None:
        # A call is at one program point: its value is computed once, however often an enclosing
        # expression asks (`f()()()…` and `a.b().c()…` chains would otherwise be quadratic).
        key = id(node)
        if key not in self.call_values:
            self.call_values[key] = self._call_value(node)
        return self.call_values[key]

    def _call_value(self, node: ast.Call) -> Value | None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("get", "values", "items"):
            base = self.value_of(func.value)
            if base is not None and base.kind == "frames_map":
                return Value({"get": "frame", "values": "frames", "items": "frame_items"}[func.attr])
        name = self.qual(func)
        if name is None:
            return None
        if name in FRAME_FUNCTIONS:
            return Value("frame")
        if name in FRAME_INFO_LISTS:
            return Value("frameinfos")
        if name in FRAME_PAIR_ITERATORS:
            return Value("frame_pairs")
        if name == "sys._current_frames":
            return Value("frames_map")
        if name in ("builtins.locals", "builtins.vars") and not node.args and not node.keywords:
            if self.scope is not None and self.scope.optimized:
                return Value("snapshot", f"{name.split('.')[1]}()", line=node.lineno)
            return None
        if name == "sys.getrefcount" and len(node.args) == 1:
            return Value("refcount", info=RefReading(True, self.immortal(node.args[0]), node.lineno))
        if name == "sys.getswitchinterval":
            return Value("switch")
        return None

    def immortal(self, node: ast.AST) -> str | None:
        """Source text of ``node`` when it is an object that is immortal since 3.12."""
        value = self.value_of(node)
        if value is None:
            return None
        if value.kind == "const" and is_immortal_constant(value.info):
            return source(node) if isinstance(node, ast.Constant) else f"{source(node)} (= {value.info!r})"
        if value.kind == "const" and value.info == ():
            return source(node)
        if value.kind == "ref" and value.qual.removeprefix("builtins.") in BUILTIN_TYPES \
                and value.qual.startswith("builtins."):
            return source(node)
        return None

    def refcount_arithmetic(self, node: ast.BinOp) -> Value | None:
        left, right = self.value_of(node.left), self.value_of(node.right)
        readings = [v.info for v in (left, right) if v is not None and v.kind == "refcount"]
        if not readings:
            return None
        immortal = next((r.immortal for r in readings if r.immortal), None)
        line = next((r.line for r in readings if r.immortal), readings[0].line)
        if len(readings) == 2:
            return Value("refcount", info=RefReading(False, immortal, line))  # a delta of two readings
        other = node.right if left is not None and left.kind == "refcount" else node.left
        absolute = readings[0].absolute and _numeric_literal(other)
        return Value("refcount", info=RefReading(absolute, immortal, line))

    # -- version guards -----------------------------------------------------------------------------------
    def version_test(self, node: ast.AST) -> tuple[VersionRange, VersionRange] | None:
        """(range where ``node`` is true, range where it is false) for a ``sys.version_info`` test."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.version_test(node.operand)
            return (inner[1], inner[0]) if inner else None
        if isinstance(node, ast.BoolOp):
            parts = [self.version_test(v) for v in node.values]
            if not any(parts):
                return None
            true, false = ALL_VERSIONS, ALL_VERSIONS
            known = [p for p in parts if p]
            if isinstance(node.op, ast.And):
                for part in known:
                    true = _intersect(true, part[0])
                if len(known) == len(parts) == 1:
                    false = known[0][1]
            else:
                for part in known:
                    false = _intersect(false, part[1])
                if len(known) == len(parts) == 1:
                    true = known[0][0]
            return true, false
        if isinstance(node, (ast.Name, ast.Attribute)):
            value = self.value_of(node)
            if value is not None and value.kind == "version":
                ranges: tuple[VersionRange, VersionRange] = value.info
                return ranges
            name = node.id if isinstance(node, ast.Name) else node.attr
            flag = _VERSION_FLAG.match(name.upper())
            if flag:
                version = (3, int(flag.group(1)))
                return (version, ALL_VERSIONS[1]), (ALL_VERSIONS[0], version)
            return None
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            immortality = self.immortality_test(node)
            if immortality is not None:
                return immortality
            return self.version_compare(node.left, node.ops[0], node.comparators[0])
        return None

    def immortality_test(self, node: ast.Compare) -> tuple[VersionRange, VersionRange] | None:
        """`before == sys.getrefcount(None)`: two readings of an immortal's count compared for equality
        is how code detects immortality (equal from 3.12 on, PEP 683), a version test in disguise."""
        op = node.ops[0]
        if not isinstance(op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)):
            return None
        values = [self.value_of(side) for side in (node.left, node.comparators[0])]
        if not all(v is not None and v.kind == "refcount" and v.info.immortal for v in values):
            return None
        immortal: VersionRange = (IMMORTAL_SINCE, ALL_VERSIONS[1])
        mortal: VersionRange = (ALL_VERSIONS[0], IMMORTAL_SINCE)
        return (immortal, mortal) if isinstance(op, (ast.Eq, ast.Is)) else (mortal, immortal)

    def version_compare(self, left: ast.AST, op: ast.cmpop, right: ast.AST) -> tuple[VersionRange, VersionRange] | None:
        flipped = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}
        if self.qual(right) == "sys.version_info" or self._minor_of(right):
            if type(op) not in flipped:
                return None
            left, right, op = right, left, flipped[type(op)]()
        minor_only = self._minor_of(left)
        if minor_only and isinstance(right, ast.Constant) and isinstance(right.value, int):
            numbers, sliced = [3, right.value], True
        elif self.qual(left) == "sys.version_info" and (numbers := _int_elements(right)):
            # version_info[:2] compares like the tuple; the full 5-tuple is greater than any shorter prefix.
            sliced = isinstance(left, ast.Subscript) and self._slice_length(left) == len(numbers)
        else:
            return None
        version = (numbers[0], numbers[1] if len(numbers) > 1 else 0)
        micro = len(numbers) > 2 and any(numbers[2:])
        after = (version[0], version[1] + 1)
        if isinstance(op, (ast.Eq, ast.NotEq)):
            # `version_info[:2] == (3, 11)` / `.minor == 11`: exactly one version. The other side is
            # everything else, which one range cannot say: it stays unknown (all versions).
            if not (sliced and len(numbers) == 2):
                return None  # the full 5-tuple never equals a 2-tuple; micro-level tests are rare
            exact = (version, after)
            return (exact, ALL_VERSIONS) if isinstance(op, ast.Eq) else (ALL_VERSIONS, exact)
        if isinstance(op, ast.GtE) or (isinstance(op, ast.Gt) and not sliced):
            low = version
        elif isinstance(op, ast.Gt):
            low = after
        elif isinstance(op, ast.Lt) or (isinstance(op, ast.LtE) and not sliced):
            return (ALL_VERSIONS[0], after if micro else version), (version, ALL_VERSIONS[1])
        elif isinstance(op, ast.LtE):
            return (ALL_VERSIONS[0], after), (after, ALL_VERSIONS[1])
        else:
            return None
        return (low, ALL_VERSIONS[1]), (ALL_VERSIONS[0], after if micro else low)

    def _minor_of(self, node: ast.AST) -> bool:
        """``sys.version_info.minor`` or ``sys.version_info[1]``."""
        if isinstance(node, ast.Attribute) and node.attr == "minor":
            return self.qual(node.value) == "sys.version_info"
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == 1:
            return self.qual(node.value) == "sys.version_info"
        return False

    @staticmethod
    def _slice_length(node: ast.Subscript) -> int | None:
        piece = node.slice
        if isinstance(piece, ast.Slice) and piece.lower is None and piece.step is None \
                and isinstance(piece.upper, ast.Constant) and isinstance(piece.upper.value, int):
            return piece.upper.value
        return None

    # -- statements ---------------------------------------------------------------------------------------
    def block(self, body: list[ast.stmt]) -> None:
        pushed = 0
        for stmt in body:
            self.visit(stmt)
            if isinstance(stmt, ast.If):
                # `if sys.version_info >= (3, 13): return` leaves the rest of the block to older versions.
                ranges = self.version_test(stmt.test)
                if ranges and terminates(stmt.body) and not terminates(stmt.orelse):
                    self.guards.append(ranges[1])
                    pushed += 1
                elif ranges and stmt.orelse and terminates(stmt.orelse) and not terminates(stmt.body):
                    self.guards.append(ranges[0])
                    pushed += 1
        if pushed:
            del self.guards[-pushed:]

    def visit(self, node: ast.AST) -> None:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is not None:
            method(node)
        else:
            self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        for _, value in ast.iter_fields(node):
            if isinstance(value, list):
                if value and isinstance(value[0], ast.stmt):
                    self.block(value)
                else:
                    for item in value:
                        if isinstance(item, ast.AST):
                            self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def visit_If(self, node: ast.If) -> None:
        self.branch_tests.add(id(node.test))
        self.visit(node.test)
        ranges = self.version_test(node.test) or (ALL_VERSIONS, ALL_VERSIONS)
        for branch, guard in ((node.body, ranges[0]), (node.orelse, ranges[1])):
            self.guards.append(guard)
            self.block(branch)
            self.guards.pop()

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.test)
        ranges = self.version_test(node.test) or (ALL_VERSIONS, ALL_VERSIONS)
        for branch, guard in ((node.body, ranges[0]), (node.orelse, ranges[1])):
            self.guards.append(guard)
            self.visit(branch)
            self.guards.pop()

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.bind(alias.asname, Value("ref", alias.name))
            else:
                top = alias.name.split(".")[0]
                self.bind(top, Value("ref", top))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                self.star_modules.add(module)
            else:
                self.bind(alias.asname or alias.name, Value("ref", f"{module}.{alias.name}"))

    def visit_Assign(self, node: ast.Assign) -> None:
        self.note_saved_interval(node.value, node.targets)
        self.visit(node.value)
        value = self.value_of(node.value)
        for target in node.targets:
            self.assign(target, value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.note_saved_interval(node.value, [node.target])
            self.visit(node.value)
        self.visit(node.annotation)
        self.assign(node.target, self.value_of(node.value) if node.value is not None else None)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            current = self.lookup(node.target.id)
            if isinstance(node.op, ast.BitOr) and current is not None:
                self.mutation(node, current, f"{node.target.id} |= …", False, False)
            if current is None or current.kind not in ("snapshot", "f_locals"):
                self.bind(node.target.id, None)  # `x += 1` keeps a dict alias a dict, anything else unknown
        else:
            self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.bind(node.target.id, self.value_of(node.value))

    def assign(self, target: ast.AST, value: Value | None) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, value)
        else:
            self.visit(target)

    def note_saved_interval(self, value: ast.AST, targets: list[ast.expr]) -> None:
        if isinstance(value, ast.Call) and self.qual(value.func) == "sys.getswitchinterval":
            self.saved_calls.add(id(value))
            self.saved_intervals.update(d for d in map(_dotted, targets) if d)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.bind_loop_target(node.target, self.value_of(node.iter))
        self.block(node.body)
        self.block(node.orelse)

    visit_AsyncFor = visit_For

    def bind_loop_target(self, target: ast.AST, iterable: Value | None) -> None:
        kind = iterable.kind if iterable is not None else ""
        element = {"frameinfos": Value("frameinfo"), "frames": Value("frame")}.get(kind)
        if isinstance(target, ast.Name):
            self.bind(target.id, element)
            return
        self.visit(target)  # unbinds every name in the tuple first
        if isinstance(target, ast.Tuple) and target.elts and isinstance(target.elts[0], ast.Name):
            position = {"frameinfos": 0, "frame_pairs": 0, "frame_items": 1}.get(kind)
            frame = target.elts[position] if position is not None and len(target.elts) > position else None
            if isinstance(frame, ast.Name):
                self.bind(frame.id, Value("frame"))

    def visit_withitem(self, node: ast.withitem) -> None:
        self.visit(node.context_expr)
        if node.optional_vars is not None:
            self.assign(node.optional_vars, None)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.note_read(node.id, node)
        else:
            self.bind(node.id, None)

    def visit_Global(self, node: ast.Global) -> None:
        pass

    # -- scopes -------------------------------------------------------------------------------------------
    def new_scope(self, kind: str, node: ast.AST, nodes: Iterable[ast.AST]) -> Scope:
        bound, declared_global, declared_nonlocal = _bindings(nodes)
        return Scope(kind, node, self.scope, bound, declared_global, declared_nonlocal)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for item in [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)]:
            self.visit(item)
        parameters = _parameters(node.args)
        scope = self.new_scope("function", node, [*node.body, *(ast.Name(p.arg, ast.Store()) for p in parameters)])
        scope.debugger_method = self.in_debugger_class()
        self.bind_parameters(scope, parameters)
        self.bind(node.name, None)
        self.deferred.append((node, scope, [*self.guards, *self.skip_guards(node.decorator_list)]))

    visit_AsyncFunctionDef = visit_FunctionDef

    def skip_guards(self, decorators: list[ast.expr]) -> list[VersionRange]:
        """Versions a test runs on, from its skip decorators: `@pytest.mark.skipif(sys.version_info >=
        (3, 12), …)` and `@unittest.skipIf(…)` run it only where the test is false, `@unittest.skipUnless`
        only where it is true."""
        guards = []
        for decorator in decorators:
            if not isinstance(decorator, ast.Call) or not decorator.args:
                continue
            name = _dotted(decorator.func) or ""
            last = name.rsplit(".", 1)[-1]
            if last not in ("skipif", "skipIf", "skipUnless"):
                continue
            ranges = self.version_test(decorator.args[0])
            if ranges is not None:
                guards.append(ranges[0] if last == "skipUnless" else ranges[1])
        return guards

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for item in [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]:
            self.visit(item)
        parameters = _parameters(node.args)
        scope = self.new_scope("lambda", node, [ast.Name(p.arg, ast.Store()) for p in parameters])
        self.bind_parameters(scope, parameters)
        self.deferred.append((node, scope, list(self.guards)))

    def bind_parameters(self, scope: Scope, parameters: list[ast.arg]) -> None:
        names = [p.arg for p in parameters]
        # A trace function's signature is (frame, event, arg); a debugger's hooks receive `frame`.
        trace = names[-3:] == ["frame", "event", "arg"]
        for parameter in parameters:
            annotation = parameter.annotation
            annotated = annotation is not None and (
                self.qual(annotation) == "types.FrameType"
                or (isinstance(annotation, ast.Constant) and annotation.value in ("FrameType", "types.FrameType")))
            if annotated or (parameter.arg == "frame" and (trace or scope.debugger_method)):
                scope.values[parameter.arg] = Value("frame")

    def in_debugger_class(self) -> bool:
        scope = self.scope
        if scope is None or scope.kind != "class" or not isinstance(scope.node, ast.ClassDef):
            return False
        return any(self.qual(base) in DEBUGGER_BASES for base in scope.node.bases)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for item in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(item)
        outer = self.scope
        self.scope = self.new_scope("class", node, node.body)
        self.block(node.body)
        self.finish_scope(self.scope)
        self.scope = outer
        self.bind(node.name, None)

    def visit_comprehension_scope(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp,
                                  elements: list[ast.expr]) -> None:
        generators = node.generators
        self.visit(generators[0].iter)
        outer = self.scope
        targets = [g.target for g in generators]
        self.scope = self.new_scope("comprehension", node, targets)
        for index, generator in enumerate(generators):
            if index:
                self.visit(generator.iter)
            self.bind_loop_target(generator.target, self.value_of(generator.iter))
            for condition in generator.ifs:
                self.visit(condition)
        for element in elements:
            self.visit(element)
        self.scope = outer

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self.visit_comprehension_scope(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self.visit_comprehension_scope(node, [node.key, node.value])

    # -- expressions --------------------------------------------------------------------------------------
    def visit_Expr(self, node: ast.Expr) -> None:
        value = self.value_of(node.value)
        if value is not None and value.kind == "snapshot" and isinstance(node.value, ast.Call):
            # Before 3.13 a bare `locals()` re-synced the frame's cached dict; now it builds a snapshot and drops it.
            self.function_scope().refreshes.append((node.value, source(node.value), self.versions))
        self.visit(node.value)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not isinstance(node.ctx, ast.Load):
            value = self.value_of(node.value)
            if value is not None:
                deleting = isinstance(node.ctx, ast.Del)
                text = f"del {source(node)}" if deleting else f"{source(node)} = …"
                self.mutation(node, value, text, deleting, _dunder_keys(node, self.constants))
        elif isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            self.note_key_read(node.value, node.slice.value, node)
        self.generic_visit(node)

    def mutation(self, node: ast.expr | ast.stmt, target: Value, subject: str, deleting: bool, dunder: bool) -> None:
        if target.kind == "snapshot":
            self.emit(LocalsWrite(node, subject, self.versions, target.qual, target.line))
        elif target.kind == "f_locals":
            self.function_scope().frame_changes.append(
                _FrameChange(node, subject, self.versions, target.qual, target.line, deleting, dunder, target.info))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in DICT_MUTATORS:
                target = self.value_of(func.value)
                if target is not None:
                    self.mutation(node, target, source(node), func.attr in DELETING_METHODS,
                                  _dunder_keys(node, self.constants))
            elif func.attr == "get" and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                self.note_key_read(func.value, node.args[0].value, node)
            elif func.attr in UNITTEST_COMPARISONS and len(node.args) >= 2:
                self.refcount_comparison(node, node.args[0], node.args[1], UNITTEST_COMPARISONS[func.attr]())
            elif func.attr in FRAME_SYNC_FUNCTIONS and self.qual(func.value) == "ctypes.pythonapi":
                self.emit(CtypesFrameSync(node, func.attr, self.versions))
        name = self.qual(func)
        if name is not None:
            self.special_call(node, name)
        callee = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if _SYNC_HELPER.search(callee) or (callee == "getattr" and "LocalsToFast" in source(node, 400)):
            arguments = " ".join(source(a, 400) for a in node.args)
            self.function_scope().syncs.append(((node.lineno, node.col_offset), arguments))
        self.generic_visit(node)

    def special_call(self, node: ast.Call, name: str) -> None:
        if name.startswith("ctypes.pythonapi.") and name.rsplit(".", 1)[1] in FRAME_SYNC_FUNCTIONS \
                and not isinstance(node.func, ast.Attribute):
            # through an alias of the function itself
            self.emit(CtypesFrameSync(node, name.rsplit(".", 1)[1], self.versions))
        elif name == "builtins.getattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and node.args[1].value in FRAME_SYNC_FUNCTIONS and self.qual(node.args[0]) == "ctypes.pythonapi":
            self.emit(CtypesFrameSync(node, str(node.args[1].value), self.versions))
        elif name in ("builtins.exec", "builtins.eval"):
            self.implicit_namespace_exec(node, name.split(".")[1])
        elif name == "builtins.range":
            # `range(sys.getrefcount(None) * 10)`: an immortal's count is about 2**32 on 64-bit 3.12+
            for argument in node.args:
                value = self.value_of(argument)
                if value is not None and value.kind == "refcount" and value.info.immortal:
                    self.emit(ImmortalRefcountAsNumber(node, source(node), self.versions, value.info.immortal,
                                                       value.info.line))
                    break
        elif name == "builtins.isinstance" and len(node.args) == 2:
            checked = self.value_of(node.args[0])
            if checked is not None and checked.kind == "f_locals" and self.names_dict(node.args[1]):
                self.emit(FrameLocalsTypeCheck(node, source(node), self.versions))
        elif name == "sys.setswitchinterval":
            # `setswitchinterval(getswitchinterval() / 10)`: the get is part of the set.
            self.set_arguments.update(id(n) for a in node.args for n in ast.walk(a) if isinstance(n, ast.Call))
            restored = node.args[0] if len(node.args) == 1 else None
            value = self.value_of(restored) if restored is not None else None
            key = _dotted(restored) if restored is not None else None
            if value is not None and value.kind == "switch":  # putting back what getswitchinterval() returned
                self.emit(SwitchIntervalSet(node, source(node), self.versions, restores_saved=True))
            elif key is not None:
                self.restores.append((node, self.versions, key))  # decided once every saved value is known
            else:
                self.emit(SwitchIntervalSet(node, source(node), self.versions, restores_saved=False))
        elif name == "sys.getswitchinterval":
            self.emit(SwitchIntervalGet(node, source(node), self.versions, saved=id(node) in self.saved_calls,
                                        in_set=id(node) in self.set_arguments))

    def names_dict(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Tuple):
            return any(self.names_dict(e) for e in node.elts)
        return self.qual(node) == "builtins.dict"

    def visit_BinOp(self, node: ast.BinOp) -> None:
        # `[0] * sys.getrefcount(None)`: about 2**32 items on 64-bit 3.12+.
        if isinstance(node.op, ast.Mult):
            for sequence, count in ((node.left, node.right), (node.right, node.left)):
                if isinstance(sequence, (ast.List, ast.Tuple)) or (
                        isinstance(sequence, ast.Constant) and isinstance(sequence.value, (str, bytes))):
                    value = self.value_of(count)
                    if value is not None and value.kind == "refcount" and value.info.immortal:
                        self.emit(ImmortalRefcountAsNumber(node, source(node), self.versions, value.info.immortal,
                                                           value.info.line))
                        break
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        operands = [node.left, *node.comparators]
        for index, op in enumerate(node.ops):
            left, right = operands[index], operands[index + 1]
            if isinstance(op, (ast.Is, ast.IsNot, ast.Eq, ast.NotEq)):
                self.type_check(node, left, right)
            if not isinstance(op, (ast.In, ast.NotIn, ast.Is, ast.IsNot)):
                self.refcount_comparison(node, left, right, op)
        self.generic_visit(node)

    def type_check(self, node: ast.Compare, left: ast.AST, right: ast.AST) -> None:
        for checked, other in ((left, right), (right, left)):
            if isinstance(checked, ast.Call) and self.qual(checked.func) == "builtins.type" \
                    and len(checked.args) == 1 and self.qual(other) == "builtins.dict":
                value = self.value_of(checked.args[0])
                if value is not None and value.kind == "f_locals":
                    self.emit(FrameLocalsTypeCheck(node, source(node), self.versions))
                    return

    def refcount_comparison(self, node: ast.Compare | ast.Call, left: ast.AST, right: ast.AST, op: ast.cmpop) -> None:
        if isinstance(node, ast.Compare) and id(node) in self.branch_tests and len(node.ops) == 1 \
                and self.immortality_test(node) is not None:
            return  # branching on immortality (a version test), not a leak check that tests nothing
        readings = []
        for side in (left, right):
            value = self.value_of(side)
            readings.append(value.info if value is not None and value.kind == "refcount" else None)
        if not any(readings):
            return
        immortal = next((r.immortal for r in readings if r is not None and r.immortal), None)
        if immortal is not None:
            self.emit(ImmortalRefcountComparison(node, source(node), self.versions, immortal))
            return
        for reading, other, operator in ((readings[0], right, type(op)), (readings[1], left, _FLIP.get(type(op)))):
            if reading is None or not reading.absolute or not _numeric_literal(other):
                continue
            ceiling: float | None = None
            if operator in (ast.Lt, ast.LtE):
                try:
                    limit = ast.literal_eval(other)
                except ValueError:
                    limit = None
                if isinstance(limit, (int, float)):
                    ceiling = limit
            self.emit(AbsoluteRefcountComparison(node, source(node), self.versions, source(other), ceiling))
            return

    # -- exec/eval into an implicit locals() ---------------------------------------------------------------
    def implicit_namespace_exec(self, node: ast.Call, which: str) -> None:
        scope = self.scope
        if scope is None or not scope.optimized or not node.args:
            return
        given = {k.arg: k.value for k in node.keywords if k.arg in ("globals", "locals")}
        globals_ns = node.args[1] if len(node.args) > 1 else given.get("globals")
        locals_ns = node.args[2] if len(node.args) > 2 else given.get("locals", globals_ns)
        # Results land in the locals namespace; an explicit `locals()` is the same throw-away snapshot as none.
        if locals_ns is not None and not self.is_locals_call(locals_ns):
            return
        code = self.literal(node.args[0])
        owner = self.function_scope()
        if code is None:
            # Code not known here (`exec(source, globals(), locals())`): what it binds is unknown, but a
            # later `locals()["name"]` shows the function relies on it.
            owner.execs.append((node, which, None, self.versions))
            return
        assigned, reads = _names_assigned_by(code, "exec" if which == "exec" else "eval")
        position = (node.lineno, node.col_offset)
        for name in reads:
            owner.reads.append((name, position, node.lineno))  # a later exec("print(x)") reads x too
        if assigned:
            owner.execs.append((node, which, assigned, self.versions))

    def is_locals_call(self, node: ast.AST) -> bool:
        value = self.value_of(node)
        return value is not None and value.kind == "snapshot" and isinstance(node, ast.Call)

    def literal(self, node: ast.AST) -> str | None:
        value = self.value_of(node)
        return value.info if value is not None and value.kind == "const" and isinstance(value.info, str) else None

    def function_scope(self) -> Scope:
        scope = self.scope
        assert scope is not None
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        return scope

    def note_read(self, name: str, node: ast.expr) -> None:
        if self.scope is not None and self.scope.optimized:
            self.function_scope().reads.append((name, (node.lineno, node.col_offset), node.lineno))

    def note_key_read(self, container: ast.AST, key: str, node: ast.expr) -> None:
        """``locals()["x"]`` / ``locals().get("x")`` read ``x`` as surely as the bare name does."""
        value = self.value_of(container)
        if value is not None and value.kind == "snapshot":
            self.function_scope().reads.append((key, (node.lineno, node.col_offset), node.lineno))
            self.function_scope().key_reads.append((key, (node.lineno, node.col_offset), node.lineno))

    def finish_scope(self, scope: Scope) -> None:
        self.check_execs(scope)
        for node, subject, versions in scope.refreshes:
            self.emit(LocalsRefresh(node, subject, versions, snapshot_kept=scope.holds_snapshot))
        for change in scope.frame_changes:
            # Written, then copied back with LocalsToFast (or a helper such as pydevd's save_locals) later in
            # the function: the old way to change a variable, which 3.13's write-through proxy does by itself.
            start = (change.node.lineno, change.node.col_offset)
            synced = False
            if scope.syncs:
                pattern = re.compile(rf"(?<![\w.]){re.escape(change.frame)}(?!\w)")
                synced = any(position > start and pattern.search(arguments) for position, arguments in scope.syncs)
            event = FrameLocalsDelete if change.deleting else FrameLocalsWrite
            self.emit(event(change.node, change.subject, change.versions, change.f_locals, change.taken_at,
                            dunder_keys=change.dunder_keys, synced=synced))

    def check_execs(self, scope: Scope) -> None:
        for call, which, assigned, versions in scope.execs:
            end = (call.end_lineno or call.lineno, call.end_col_offset or 0)
            if assigned is None:  # unknown code: only a read through a later locals() snapshot tells
                later = sorted((position, line, name) for name, position, line in scope.key_reads if position >= end)
            else:
                later = sorted((position, line, name) for name, position, line in scope.reads
                               if name in assigned and position >= end)
            if later:
                _, line, name = later[0]
                event = ExecBindingRead if assigned is not None else ExecLocalsKeyRead
                self.emit(event(call, which, versions, name, line))
