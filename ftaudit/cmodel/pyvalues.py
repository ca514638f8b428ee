"""What a build script's names hold, read without running it (setup.py is untrusted code).

Real `setup.py` files rarely pass literals: `sources=common + platform_sources`, a list grown with
`.append()` under `if sys.platform == ...`, extensions made in a loop (`for name in MODULES:
Extension(name, [f"src/{name}.c"])`), directives set with `directives["x"] = True` after the dict
literal. This is a small flow-insensitive evaluator: every value a name is ever given counts (the
union over branches, which is what "which files can be linked together" needs), anything it cannot
follow is unknown, and nothing is ever executed. Bounded in depth and in the number of values.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from collections.abc import Iterator

MAX_DEPTH = 12
MAX_VALUES = 256
UNKNOWN = object()  # a value that cannot be known statically (a call, an environment lookup)


class Bindings:
    """Every expression bound to each name anywhere in the module, in source order."""

    def __init__(self, tree: ast.AST) -> None:
        self.values: dict[str, list[ast.expr]] = defaultdict(list)  # name = / += / for name in
        self.loop_values: dict[str, list[ast.expr]] = defaultdict(list)  # `for name in <iterable>`
        self.items: dict[str, list[ast.expr]] = defaultdict(list)  # name.append(x), name.insert(i, x)
        self.extends: dict[str, list[ast.expr]] = defaultdict(list)  # name.extend(xs), name += xs
        self.keys: dict[str, list[tuple[ast.expr, ast.expr]]] = defaultdict(list)  # name[k] = v
        self.updates: dict[str, list[ast.expr]] = defaultdict(list)  # name.update({...} / k=v)
        for node in ast.walk(tree):
            self._record(node)

    def _record(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.values[target.id].append(node.value)
                elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    self.keys[target.value.id].append((target.slice, node.value))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            self.values[node.target.id].append(node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and isinstance(node.op, ast.Add):
            self.extends[node.target.id].append(node.value)
        elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
            self.loop_values[node.target.id].append(node.iter)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name):
            owner, method = node.func.value.id, node.func.attr
            if method == "append" and node.args:
                self.items[owner].append(node.args[0])
            elif method == "insert" and len(node.args) == 2:
                self.items[owner].append(node.args[1])
            elif method == "extend" and node.args:
                self.extends[owner].append(node.args[0])
            elif method == "update":
                self.updates[owner].extend(node.args)
                for keyword in node.keywords:
                    if keyword.arg:
                        self.keys[owner].append((ast.Constant(keyword.arg), keyword.value))


class Evaluator:
    """Possible values of expressions: strings and lists of strings for sources, dicts for directives."""

    def __init__(self, tree: ast.AST) -> None:
        self.bindings = Bindings(tree)
        self._list_names: dict[str, bool] = {}

    # -- strings and lists of strings ------------------------------------------------------------
    def strings(self, node: ast.expr | None, fixed: dict[str, str] | None = None) -> list[str]:
        """Every string ``node`` may be or contain (a list's elements, each alternative of a name).
        Unknown parts are left out; patterns from `glob("src/*.c")` are kept as they are."""
        out: list[str] = []
        for value in self._strings(node, fixed or {}, 0, set()):
            if isinstance(value, str) and value not in out:
                out.append(value)
                if len(out) >= MAX_VALUES:
                    break
        return out

    def _strings(self, node: ast.expr | None, fixed: dict[str, str], depth: int,
                 visiting: set[str]) -> Iterator[object]:
        if node is None or depth > MAX_DEPTH:
            yield UNKNOWN
            return
        deeper = depth + 1
        if isinstance(node, ast.Constant):
            yield node.value if isinstance(node.value, str) else UNKNOWN
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            for element in node.elts:
                inner = element.value if isinstance(element, ast.Starred) else element
                yield from self._strings(inner, fixed, deeper, visiting)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = list(self._strings(node.left, fixed, deeper, visiting))
            right = list(self._strings(node.right, fixed, deeper, visiting))
            if self._is_list(node.left) or self._is_list(node.right):
                yield from left + right  # list concatenation
            else:
                yield from _joined(left, right)  # string concatenation
        elif isinstance(node, ast.Name):
            yield from self._name(node.id, fixed, deeper, visiting)
        elif isinstance(node, ast.JoinedStr):
            yield from self._fstring(node, fixed, deeper, visiting)
        elif isinstance(node, ast.Call):
            yield from self._call(node, fixed, deeper, visiting)
        elif isinstance(node, ast.ListComp) and len(node.generators) == 1:
            generator = node.generators[0]
            if isinstance(generator.target, ast.Name):
                for value in self._strings(generator.iter, fixed, deeper, visiting):
                    if isinstance(value, str):
                        yield from self._strings(node.elt, {**fixed, generator.target.id: value}, deeper, visiting)
        elif isinstance(node, ast.IfExp):
            yield from self._strings(node.body, fixed, deeper, visiting)
            yield from self._strings(node.orelse, fixed, deeper, visiting)
        else:
            yield UNKNOWN

    def _name(self, name: str, fixed: dict[str, str], depth: int, visiting: set[str]) -> Iterator[object]:
        if name in fixed:
            yield fixed[name]
            return
        if name in visiting:
            return
        visiting = visiting | {name}
        b = self.bindings
        for value in b.values.get(name, ()):
            yield from self._strings(value, fixed, depth, visiting)
        for iterable in b.loop_values.get(name, ()):
            yield from self._strings(iterable, fixed, depth, visiting)
        for item in b.items.get(name, ()):
            yield from self._strings(item, fixed, depth, visiting)
        for extra in b.extends.get(name, ()):
            yield from self._strings(extra, fixed, depth, visiting)

    def _fstring(self, node: ast.JoinedStr, fixed: dict[str, str], depth: int,
                 visiting: set[str]) -> Iterator[object]:
        parts: list[list[object]] = []
        for piece in node.values:
            if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
                parts.append([piece.value])
            elif isinstance(piece, ast.FormattedValue) and piece.format_spec is None:
                parts.append([v for v in self._strings(piece.value, fixed, depth, visiting) if isinstance(v, str)]
                             or [UNKNOWN])
            else:
                parts.append([UNKNOWN])
        for combination in itertools.islice(itertools.product(*parts), MAX_VALUES):
            known = [p for p in combination if isinstance(p, str)]
            yield "".join(known) if len(known) == len(combination) else UNKNOWN

    def _call(self, node: ast.Call, fixed: dict[str, str], depth: int, visiting: set[str]) -> Iterator[object]:
        name = node.func.attr if isinstance(node.func, ast.Attribute) else \
            node.func.id if isinstance(node.func, ast.Name) else ""
        if name == "join" and isinstance(node.func, ast.Attribute) and _is_path_module(node.func.value):
            parts = [[v for v in self._strings(a, fixed, depth, visiting) if isinstance(v, str)] for a in node.args]
            for combination in itertools.islice(itertools.product(*parts), MAX_VALUES):
                yield "/".join(p.strip("/") for p in combination if p)
        elif name in ("glob", "iglob") and node.args:
            yield from self._strings(node.args[0], fixed, depth, visiting)  # the pattern; matched by the reader
        elif name in ("list", "tuple", "sorted", "set") and node.args:
            yield from self._strings(node.args[0], fixed, depth, visiting)
        else:
            yield UNKNOWN

    def _is_list(self, node: ast.expr) -> bool:
        if isinstance(node, (ast.List, ast.Tuple, ast.ListComp)):
            return True
        if isinstance(node, ast.Name):
            return self._list_name(node.id)
        if isinstance(node, ast.BinOp):
            return self._is_list(node.left) or self._is_list(node.right)
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("list", "sorted")

    def _list_name(self, name: str) -> bool:
        """Whether a name is ever bound to a list (kept per name: asked once per binding of a name
        given 5,000 times, a scan of its bindings each time was quadratic)."""
        known = self._list_names.get(name)
        if known is None:
            b = self.bindings
            known = any(isinstance(v, (ast.List, ast.Tuple, ast.ListComp)) for v in b.values.get(name, ())) \
                or name in b.items or name in b.extends
            self._list_names[name] = known
        return known

    # -- dicts -----------------------------------------------------------------------------------
    def dict_items(self, node: ast.expr | None, depth: int = 0, visiting: frozenset[str] = frozenset()
                   ) -> dict[str, object]:
        """The keys a dict expression may hold and their literal values (UNKNOWN where not literal);
        later bindings of the same key win, as at run time in source order."""
        out: dict[str, object] = {}
        if node is None or depth > MAX_DEPTH:
            return out
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=False):
                if key is None:
                    out.update(self.dict_items(value, depth + 1, visiting))
                elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                    out[key.value] = _literal(value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            for argument in node.args:
                out.update(self.dict_items(argument, depth + 1, visiting))
            for keyword in node.keywords:
                if keyword.arg:
                    out[keyword.arg] = _literal(keyword.value)
        elif isinstance(node, ast.Name) and node.id not in visiting:
            b, seen = self.bindings, visiting | {node.id}
            for value in b.values.get(node.id, ()):
                out.update(self.dict_items(value, depth + 1, seen))
            for update in b.updates.get(node.id, ()):
                out.update(self.dict_items(update, depth + 1, seen))
            for key, value in b.keys.get(node.id, ()):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    out[key.value] = _literal(value)
        return out


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNKNOWN


def _joined(left: list[object], right: list[object]) -> Iterator[object]:
    for a, b in itertools.islice(itertools.product(left, right), MAX_VALUES):
        yield a + b if isinstance(a, str) and isinstance(b, str) else UNKNOWN


def _is_path_module(node: ast.expr) -> bool:
    """`os.path.join`, `path.join`, `osp.join`."""
    return (isinstance(node, ast.Attribute) and node.attr == "path") or \
        (isinstance(node, ast.Name) and node.id in ("path", "osp", "op"))


def loop_names(tree: ast.AST) -> dict[ast.AST, list[ast.For | ast.comprehension]]:
    """For each call node: the loops around it (outermost first) that bind plain names."""
    enclosing: dict[ast.AST, list[ast.For | ast.comprehension]] = {}

    def visit(node: ast.AST, loops: list[ast.For | ast.comprehension]) -> None:
        stack: list[tuple[ast.AST, list[ast.For | ast.comprehension]]] = [(node, loops)]
        while stack:
            current, around = stack.pop()
            if isinstance(current, ast.Call):
                enclosing[current] = around
            if isinstance(current, ast.For) and isinstance(current.target, ast.Name):
                inner = [*around, current]
                stack.extend((child, inner) for child in current.body)
                stack.extend((child, around) for child in (current.iter, *current.orelse))
                continue
            if isinstance(current, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
                generators = [g for g in current.generators if isinstance(g.target, ast.Name)]
                stack.append((current.elt, [*around, *generators]))
                stack.extend((g.iter, around) for g in current.generators)
                continue
            stack.extend((child, around) for child in ast.iter_child_nodes(current))

    visit(tree, [])
    return enclosing
