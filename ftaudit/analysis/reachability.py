"""When does a C function run: at module initialisation only, or whenever Python calls in?

Within one file the source model answers from the call graph. Multi-file extensions often call an
exported helper (``psutil_setup()``, numpy's ``initialize_legacy_dtypemeta_aliases()``) only from
``PyInit_*`` in another file; a per-file view must assume the worst for it. So each file also
contributes a small summary (which exported functions reach which code, which external functions
it calls and from what context) and the project pass decides which exported functions really run
at run time. Nothing is parsed twice: summaries travel from the workers to the project pass.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ftaudit.analysis.memo import per_unit
from ftaudit.cmodel import CUnit
from ftaudit.cmodel.nodes import compact, pruned_walk

if TYPE_CHECKING:
    from ftaudit.context import ProjectContext
from ftaudit.summaries import summary_type

# A `main` belongs to a program built beside the extension (a generator, a test driver), not to code
# Python calls.
_PROGRAM_ENTRIES = frozenset({"main", "wmain", "WinMain", "wWinMain"})


def _closure(roots: Iterable[str], unit: CUnit, skip: set[str]) -> set[str]:
    seen: set[str] = set()
    stack = [r for r in roots if r not in skip]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(c for c in unit.callees(name) if c in unit.functions and c not in skip and c not in seen)
    return seen


def teardown_roots(unit: CUnit) -> set[str]:
    """The module object's own teardown callbacks (`m_free`, `m_clear` of a PyModuleDef, and the
    clear/finalize/dealloc of a custom module type, one whose base is `PyModule_Type`). They run when
    the module is destroyed, never concurrently with calls into the same module instance. An
    instance type's `tp_dealloc` is not one of them: it runs at run time, on any thread."""
    names = set()
    for module_def in unit.module_defs:
        for field_name in ("m_free", "m_clear"):
            words = re.findall(r"[A-Za-z_]\w*", module_def.fields.get(field_name) or "")
            if words and words[-1] in unit.functions:  # `(freefunc) cbor2_free`: the cast goes
                names.add(words[-1])
    names.update(name for name in _module_type_teardown(unit.raw.mask) if name in unit.functions)
    return names


_MAX_TYPE_BODY = 16384  # bytes of a type object's initializer looked at
_MODULE_BASE = re.compile(rb"\b([A-Za-z_]\w*)\s*\.\s*tp_base\s*=\s*&\s*PyModule_Type\b")
_TYPE_OBJECT = re.compile(rb"\bPyTypeObject\s+([A-Za-z_]\w*)\s*=\s*\{")
_TEARDOWN_SLOT = rb"\.\s*tp_(?:clear|finalize|dealloc)\s*=\s*(?:\(\s*\w+\s*\)\s*)?&?\s*([A-Za-z_]\w*)"


def _module_type_teardown(mask: bytes) -> set[str]:
    """Teardown slots of types that subclass the module type (apsw's `APSWModule`): the base is set
    in the type's designated initializer or by `T.tp_base = &PyModule_Type;` before `PyType_Ready`."""
    if b"PyModule_Type" not in mask:
        return set()
    module_types = {m.group(1) for m in _MODULE_BASE.finditer(mask)}
    found: set[str] = set()
    for match in _TYPE_OBJECT.finditer(mask):
        end = mask.find(b"};", match.end(), match.end() + _MAX_TYPE_BODY)  # bounded: linear however many
        body = mask[match.end(): end if end >= 0 else match.end() + _MAX_TYPE_BODY]
        if match.group(1) in module_types or re.search(rb"\.\s*tp_base\s*=\s*&\s*PyModule_Type\b", body):
            found.update(m.group(1).decode("ascii") for m in re.finditer(_TEARDOWN_SLOT, body))
            module_types.discard(match.group(1))
    for name in module_types:  # `T.tp_dealloc = f;` assignments
        pattern = re.escape(name) + rb"\s*" + _TEARDOWN_SLOT
        found.update(m.group(1).decode("ascii") for m in re.finditer(pattern, mask))
    return found


@per_unit
def teardown_only(unit: CUnit) -> set[str]:
    """Teardown callbacks and the static helpers reached only from them (a label the sub-interpreter
    rules read too: such writes are per process, not per interpreter)."""
    return _only_from(unit, teardown_roots(unit))


@per_unit
def init_only(unit: CUnit) -> set[str]:
    """Functions that never run concurrently with calls into the module: the model's init-only
    functions and the module's teardown callbacks, plus helpers and callbacks whose address is only
    ever taken inside them (`lifecycle` code).

    ``PyInit_x`` often hands its exec function to a helper (``make_module(def, x_exec)``) that puts
    it in a slot at run time; a function referenced and called only from init code runs only then.
    """
    return _only_from(unit, set(unit.init_functions) | teardown_roots(unit))


def _only_from(unit: CUnit, roots: set[str]) -> set[str]:
    """``roots`` and every static function referenced and called only from functions in the set.

    A least fixed point by a worklist: each candidate counts its users (callers, and functions that
    take its address; a file-scope use is a user that never joins) not yet in the set, and joins when
    the count reaches zero. Re-scanning every function until nothing changes was quadratic on a long
    chain of helpers."""
    init = set(roots)
    missing: dict[str, int] = {}
    users_of: dict[str | None, list[str]] = {}  # user -> the candidates waiting for it
    for name, function in unit.functions.items():
        if name in init:
            continue
        if not function.is_static and not name.startswith("PyInit_"):
            continue  # exported: other files may call it at run time (decided in the project pass)
        users: set[str | None] = {r.function for r in unit.references.get(name, [])}
        users.update(unit.callers(name))
        if not users:
            continue  # nobody here uses it: another file may
        waiting = users - init
        if not waiting:
            init.add(name)
            continue
        missing[name] = len(waiting)
        for user in waiting:
            users_of.setdefault(user, []).append(name)
    todo = list(init)
    while todo:
        joined = todo.pop()
        for name in users_of.pop(joined, ()):
            if name in init:
                continue
            missing[name] -= 1
            if missing[name] == 0:
                init.add(name)
                todo.append(name)
    return init


# A method name that is private and says test (`_testfunc`, `_set_test_timings`, `_test_hook`,
# `_run_tests`): a hook for the package's own test suite, not an API its users call from threads.
# Not a dunder (`__test__`), nor a word that only starts with test (`_testbit`, `_testcancel`), nor
# an operation named test-and-something (`_test_and_set`).
_TEST_HOOK_NAME = re.compile(r"_(?!_)(?:\w*_)?tests?(?:func|funcs|ing|hook|hooks|only)?(?:_(?!and_)\w*)?$")


def test_hooks(unit: CUnit) -> set[str]:
    """Static functions Python reaches only under a private test name: nothing calls them, and
    every use of their name is the C function of a `PyMethodDef` entry whose Python name matches
    ``_TEST_HOOK_NAME``."""
    hooks = set()
    tables = {v.node.start_byte for v in unit.globals if v.base_type.replace("struct ", "").strip() == "PyMethodDef"}
    for name, references in unit.references.items():
        function = unit.functions.get(name)
        if function is None or not function.is_static or unit.callers(name) or not references:
            continue
        if all(_test_entry(r.node, unit, tables) for r in references):
            hooks.add(name)
    return hooks


def _test_entry(node: Any, unit: CUnit, tables: set[int]) -> bool:
    entry = node.parent if node is not None else None
    while entry is not None and entry.type in ("cast_expression", "pointer_expression", "parenthesized_expression"):
        entry = entry.parent
    if entry is None or entry.type != "initializer_list" or len(entry.named_children) < 2 \
            or entry.named_children[1].end_byte < node.end_byte:
        return False  # the C function is the second field of a PyMethodDef entry
    table = entry.parent.parent if entry.parent is not None else None  # entry -> array initializer -> declarator
    declared = table.child_by_field_name("declarator") if table is not None else None
    while declared is not None and declared.type in ("array_declarator", "pointer_declarator"):
        declared = declared.child_by_field_name("declarator")
    if declared is None or declared.start_byte not in tables:
        return False  # not a PyMethodDef table (a getter table, an options table, ...)
    first = entry.named_children[0]
    if first.type not in ("string_literal", "concatenated_string"):
        return False
    python_name = first.text.decode("utf-8", "replace").strip('"') if first.text is not None else ""
    return python_name.isidentifier() and _TEST_HOOK_NAME.match(python_name) is not None


@per_unit
def test_only(unit: CUnit) -> set[str]:
    """Test hooks and the static helpers referenced and called only from them (cffi's `_testfunc`
    hands out pointers to `_testfunc0` ... `_testfunc23`)."""
    hooks = test_hooks(unit)
    return _only_from(unit, hooks) if hooks else set()


@dataclass(frozen=True)
class Reach:
    """Where a function's code can run from, seen from one file."""

    runtime: bool  # reachable from an entry point of this file outside init
    roots: frozenset[str]  # exported functions of this file that reach it (decided project-wide)

    @property
    def reachable(self) -> bool:
        return self.runtime or bool(self.roots)


@summary_type
@dataclass(frozen=True)
class ReachSummary:
    """What the project pass needs of one file to decide which exported functions run at run time."""

    exported: tuple[str, ...]  # functions other files may call
    runtime_calls: tuple[str, ...]  # external functions called from run-time code without a lock
    exported_calls: tuple[tuple[str, tuple[str, ...]], ...]  # exported function -> external functions it calls
    all_calls: tuple[str, ...]  # every external function called (or, if exported, called here)
    init_calls: tuple[str, ...]  # functions module init calls on every import


class FileReach:
    """Per-file reachability: local entry points, exported roots, and calls to other files."""

    def __init__(self, unit: CUnit) -> None:
        self.unit = unit
        # Code that never runs concurrently with the module's users: module init and teardown, and
        # hooks only the package's test suite calls.
        init = init_only(unit) | test_only(unit)
        # A C++ lambda that is stored runs whenever it is called, not when the function that writes it
        # runs: pybind11's `m.def("train", [](int n) { do_train(n); })` sits in module init but runs at
        # run time, and so does every helper it calls.
        from_lambdas = {_unqualified(call.name) for call in self.lambda_calls} & set(unit.functions)
        self.init = init - _closure(from_lambdas, unit, set())
        entry = {name for name in unit.entry_points if name in unit.functions and name not in self.init}
        self.runtime = _closure((entry | from_lambdas) - self.init, unit, self.init)
        self.exported = sorted(
            f.name for f in unit.function_list
            if (not f.is_static or f.name in unit.fragment_entries)
            and f.name not in self.init and not f.name.startswith("PyInit_")
            and _is_identifier(f.name) and f.name not in _PROGRAM_ENTRIES
        )
        self._reach = {root: _closure([root], unit, self.init) for root in self.exported}

    @cached_property
    def lambda_calls(self) -> list[Any]:
        """Calls written inside a stored C++ lambda (see ``stored_lambdas``); the enclosing function's
        locks do not hold when it runs later."""
        if not self._lambda_starts:
            return []
        return [call for call in self.unit.calls if self.in_stored_lambda(call.node)]

    @cached_property
    def _lambda_starts(self) -> list[int]:
        return [start for start, _ in stored_lambdas(self.unit)]

    def in_stored_lambda(self, node: Any) -> bool:
        """Whether a node lies inside a stored lambda (one bisect over their start offsets)."""
        index = bisect_right(self._lambda_starts, node.start_byte) - 1
        return index >= 0 and node.end_byte <= stored_lambdas(self.unit)[index][1]

    def of(self, function: str) -> Reach:
        if function in self.init:
            return Reach(False, frozenset())
        if function in self.runtime:
            return Reach(True, frozenset())
        return Reach(False, frozenset(r for r, names in self._reach.items() if function in names))

    @cached_property
    def summary(self) -> ReachSummary:
        """What the project pass needs to decide which exported functions run at run time (computed
        once per file, however many rules carry it to the project pass)."""
        unit = self.unit
        defined = set(unit.functions)

        # Per function, its calls to other files (all of them, or those made holding no lock). Each
        # exported root's closure shares most functions with the others: computed once per function.
        memo: dict[tuple[str, bool], set[str]] = {}

        def calls_of(name: str, unlocked_only: bool) -> set[str]:
            found = memo.get((name, unlocked_only))
            if found is None:
                found = memo[name, unlocked_only] = set()
                function = unit.functions.get(name)
                for call in function.calls if function is not None else ():
                    callee = _callee_key(call.name)
                    if callee in defined or callee in found or not _is_identifier(callee.lstrip(".")):
                        continue
                    # A call made while a lock is held is serialised by that lock: numpy calls its
                    # non-reentrant f2c LAPACK only under `lapack_lite_lock`, so that code is not racy.
                    if unlocked_only and unit.lock_state(call.node).locked:
                        continue
                    found.add(callee)
            return found

        def external_calls(names: Iterable[str], unlocked_only: bool = True) -> set[str]:
            out: set[str] = set()
            for name in names:
                out |= calls_of(name, unlocked_only)
            return out

        every = external_calls(defined, unlocked_only=False)
        # An exported function that this file itself calls (e.g. only from PyInit_*) has a known
        # caller: the project pass must not treat it as called from who knows where.
        every.update(name for name in self.exported if unit.callers(name) or unit.references.get(name))
        lambdas = {_callee_key(c.name) for c in self.lambda_calls}
        pointers = {"." + m.group(1).decode() for m in _MEMBER_POINTER.finditer(unit.raw.mask)}
        every |= pointers
        return ReachSummary(
            exported=tuple(self.exported),
            runtime_calls=tuple(sorted(external_calls(self.runtime) | pointers | {
                n for n in lambdas if n not in defined and _is_identifier(n.lstrip("."))})),
            exported_calls=tuple((root, tuple(sorted(external_calls(names)))) for root, names in self._reach.items()),
            all_calls=tuple(sorted(every)),
            init_calls=tuple(sorted(self.init_calls)),
        )

    @cached_property
    def init_calls(self) -> set[str]:
        """Functions module init calls on every import: a call statement straight in the body of an
        init-only function, under no `if` or loop (setproctitle's exec calls `spt_debug("module init")`)."""
        unit = self.unit
        found: set[str] = set()
        # From the init functions themselves (PyInit_*, exec slots), through same-file helpers they
        # call unconditionally: a helper init calls only under an `if` proves nothing.
        todo = [name for name in unit.init_functions if name.startswith("PyInit_") or name in unit._slot_functions]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            function = unit.functions.get(name)
            if name in seen or function is None or function.body is None:
                continue
            seen.add(name)
            for statement in function.body.named_children:
                if statement.type in ("return_statement", "goto_statement"):
                    break
                if statement.type != "expression_statement" or not statement.named_children:
                    continue
                call = statement.named_children[0]
                if call.type == "call_expression":
                    callee = _callee_key(compact(call.child_by_field_name("function")))
                    found.add(callee)
                    if callee in unit.functions:
                        todo.append(callee)
        return found


# Calls that run a lambda argument before they return (an in-place algorithm, a one-time init): the
# lambda is part of the function that writes it.
_RUNS_IN_PLACE = re.compile(r"(?:^|::)(?:call_once|sort|stable_sort|for_each|transform|find_if|any_of|all_of|"
                            r"none_of|count_if|remove_if|accumulate|partition|min_element|max_element|visit|"
                            r"invoke|apply|generate)$")
_LAMBDA_START = re.compile(rb"\[[^\[\]\n;]{0,200}\]\s*(?:\([^()]{0,400}\)\s*)?(?:mutable\s*)?(?:->[^{;]{0,100})?\{")


@per_unit
def file_reach(unit: CUnit) -> FileReach:
    """The file's reachability, computed once: its own entry in the per-file cache, so a rule that needs
    only reachability does not run the shared-state analysis for it."""
    return FileReach(unit)


@per_unit
def stored_lambdas(unit: CUnit) -> list[tuple[int, int]]:
    """Byte ranges of the C++ lambdas that may run after the function writing them returns (passed to
    `m.def`, stored, registered), outermost only; lambdas invoked on the spot (`[]{…}()`) or handed to an
    in-place algorithm (`std::sort`, `std::call_once`) are not among them. Found once per file, by
    walking only the subtrees that hold a lambda introducer."""
    found: list[tuple[int, int]] = []
    if unit.language == "cpp":
        starts = sorted({m.start() for m in _LAMBDA_START.finditer(unit.raw.mask)})
        for node, path, _ in pruned_walk(unit.root, starts):
            if node.type != "lambda_expression" or node.start_byte not in starts:
                continue
            if found and found[-1][0] <= node.start_byte < found[-1][1]:
                continue  # nested in a stored lambda already
            parent = path[-1] if path else None
            if parent is not None and parent.type == "call_expression" \
                    and parent.child_by_field_name("function") == node:
                continue  # `[]{ … }()`: runs here
            if parent is not None and parent.type == "argument_list" and len(path) >= 2:
                callee = path[-2].child_by_field_name("function")
                if callee is not None and _RUNS_IN_PLACE.search(compact(callee)):
                    continue
            found.append((node.start_byte, node.end_byte))
    return found


def _is_identifier(name: str) -> bool:
    """`f`, or a C++ qualified name `ns::Class::method` (an out-of-line method definition)."""
    return all(part.strip().isidentifier() for part in name.split("::")) if "::" in name else name.isidentifier()


def _unqualified(name: str) -> str:
    """`kiwisolver::init_exceptions` -> `init_exceptions`: files define C++ functions inside their
    namespace by their plain name, so a qualified call from another file names the same function."""
    return name.rsplit("::", 1)[-1].strip() if "::" in name else name


def _callee_key(name: str) -> str:
    """What a call names for the project pass: `f` for `f()` or `ns::f()`; `.m` for a method call
    `obj.m()` / `obj->m()`, which may be any class's `m` but never a free function `m`."""
    for separator in ("->", "."):
        if separator in name:
            return "." + _unqualified(name.rsplit(separator, 1)[-1].strip())
    return _unqualified(name)


def _method_key(name: str) -> str:
    """`.setup` for an out-of-line method `Registry::setup` (how method calls name it)."""
    return "." + _unqualified(name)


# `&Index::setup`: a pointer to a member function (or a qualified function) handed out; when it is
# called is unknown.
_MEMBER_POINTER = re.compile(rb"&\s*(?:[A-Za-z_]\w*\s*::\s*)+([A-Za-z_]\w*)")


def project_runtime_exported(project: ProjectContext, summaries: Mapping[str, ReachSummary]) -> set[str]:
    """``runtime_exported`` for the project pass, computed once per scan for the same summaries
    (each run-time rule and the extension-state analysis carry the same reachability summaries)."""
    key = ("runtime_exported", tuple(sorted(summaries.items())))
    found = project.shared.get(key)
    if found is None:
        found = project.shared[key] = runtime_exported(summaries, project.unnamed)
    return set(found)


def runtime_exported(summaries: Mapping[str, ReachSummary],
                     unnamed: Callable[[str, str], bool] | None = None) -> set[str]:
    """Exported functions of the project that can run at run time (after init).

    A function runs at run time when a file calls it from run-time code without holding a lock,
    when an exported function that runs at run time calls it, or when nothing in the project calls
    it (its caller is unknown, so we assume the worst) -- unless nothing in the project even names
    it (``unnamed(path, name)``): zstd's bundled dictionary trainers that the package never uses,
    typed_ast's grammar printers only pgen called. Nothing loads an extension's symbols by name but
    its own code (CPython imports `PyInit_*` alone), so such a function never runs.
    """
    called_anywhere: set[str] = set()
    runtime: set[str] = set()
    exported_calls: dict[str, set[str]] = {}
    exported: dict[str, list[str]] = {}  # name -> files that define it
    for path, summary in summaries.items():
        called_anywhere.update(summary.all_calls)
        runtime.update(summary.runtime_calls)
        for name in summary.exported:
            exported.setdefault(name, []).append(path)
        for root, calls in summary.exported_calls:
            exported_calls.setdefault(root, set()).update(calls)
    # An out-of-line method `Registry::setup` is called as `reg.setup()` or `Registry::setup()`: calls
    # match by the last part; a free function only by a call that is no method call.
    methods: dict[str, list[str]] = {}
    for name in exported:
        if "::" in name:
            methods.setdefault(_method_key(name), []).append(name)
            methods.setdefault(_unqualified(name), []).append(name)
    runtime.update(name for key, names in methods.items() if key in runtime for name in names)

    def called(name: str) -> bool:
        if "::" in name:
            return _unqualified(name) in called_anywhere or _method_key(name) in called_anywhere
        return name in called_anywhere

    runtime.update(name for name, paths in exported.items() if not called(name)
                   and not (unnamed is not None and all(unnamed(path, name) for path in paths)))
    pending = list(runtime)
    while pending:
        name = pending.pop()
        for callee in exported_calls.get(name, ()):
            for target in (callee, *methods.get(callee, ())):
                if target not in runtime:
                    runtime.add(target)
                    pending.append(target)
    return runtime

