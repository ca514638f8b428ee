"""FT301–FT303: borrowed references and unlocked container access that free-threading turns into races.

With the GIL, a borrowed pointer from a dict or list stayed valid until the code released the GIL;
on a free-threaded build another thread can remove the item and free it at any moment. Which names
are affected, and their strong-reference replacements, come from ``ftaudit.facts.capi``. A container
no other thread can change is not a finding (`capi_uses.container_origin`): one created in this
function (also by a same-file function that returns a new one), the call's own ``args``/``kwargs``,
the per-thread dict, a global filled only at module init and only read afterwards, or a use inside
module init itself. A local variable's origin is the one assignment that reaches the use when there
is one (`_reaching_value`). Inside a critical section on the container the finding drops to a note
worded for what is left: the pointer must not outlive the section.
"""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase

from tree_sitter import Node

from ftaudit.analysis.capi_uses import PRIVATE_ORIGINS, Use, container_origin, in_critical_section_on, normal_expr
from ftaudit.analysis.memo import per_unit_keyed
from ftaudit.analysis.reachability import init_only
from ftaudit.candidate import Candidate
from ftaudit.cmodel import CUnit, Function
from ftaudit.cmodel.nodes import declarator_name, descendants, is_written, strip, text
from ftaudit.context import FileContext
from ftaudit.facts.capi import markdown_table
from ftaudit.findings import Severity
from ftaudit.rule import Example
from ftaudit.source import Language
from ftaudit.target import FREE_THREADED

from ._runtime import RunTimeRule

C_LANGUAGES = frozenset({Language.C, Language.CPP})
HOWTO = "https://docs.python.org/3/howto/free-threading-extensions.html"
HOWTO_BORROWED = HOWTO + "#borrowed-references"
COMPAT = "https://pythoncapi-compat.readthedocs.io/"
_PRIVATE_WHAT = ("Containers no other thread can change are not findings: one created in the same function (by "
                 "`PyDict_New`, `PyList_New`, `PyDict_Copy`, `PySequence_List`, … or by a same-file function "
                 "that returns such a new container), one a static helper's every caller made for it, the "
                 "call's own `args`/`kwargs`, the per-thread dict of `PyThreadState_GetDict()`, "
                 "a global container filled only at module init (or cleared at module teardown) and only read "
                 "afterwards (for FT301 also one only ever added to with `PyDict_SetDefault`, which never "
                 "replaces a value), and any use inside module init or teardown.")


_GLOBAL_LOOKUPS = ("PyImport_", "PySys_", "PyWeakref_")
# FT303's help for the `PySequence_Fast` accessors. The version note is the critical section's: the
# snapshot API has existed all along.
_SEQUENCE_HELP = ("Hold `Py_BEGIN_CRITICAL_SECTION(seq)` … `Py_END_CRITICAL_SECTION()` around the loop (since "
                  "3.13; pythoncapi_compat.h provides both macros for older versions), or iterate over a snapshot "
                  "that `PySequence_Tuple(seq)` returns.")


def _only_tested(call: Node) -> bool:
    """The call's result is only tested (against NULL, as a truth value, or for identity with another
    pointer), never kept or dereferenced: a dangling pointer that is only compared does no harm."""
    node, parent = call, call.parent
    while parent is not None and parent.type == "parenthesized_expression":
        node, parent = parent, parent.parent
    if parent is None:
        return False
    if parent.type == "unary_expression" and parent.children and parent.children[0].type == "!":
        return True
    if parent.type == "binary_expression":
        operator = parent.child_by_field_name("operator")
        other = parent.child_by_field_name("right" if parent.child_by_field_name("left") == node else "left")
        return operator is not None and operator.type in ("==", "!=") and other is not None
    if parent.type in ("if_statement", "while_statement", "condition_clause"):
        return parent.child_by_field_name("condition") in (node, call)
    return False


def _kept_only_for_tests(unit: CUnit, call: Node, function: Function | None) -> bool:
    """`PyObject *wo = PyWeakref_GetObject(wr); if (wo == o || wo == Py_None)`: the result is kept in
    a local that is only ever tested, never dereferenced or handed on."""
    parent = call.parent
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        parent = parent.parent
    if parent is None or function is None or function.body is None:
        return False
    if parent.type == "init_declarator":
        name = declarator_name(parent.child_by_field_name("declarator"))
    elif parent.type == "assignment_expression" and (left := parent.child_by_field_name("left")) is not None \
            and left.type == "identifier":
        name = left
    else:
        return False
    if name is None:
        return False
    wanted = text(name)
    identifiers, declared = _function_index(unit, function)
    if wanted not in declared:
        return False  # a global or a parameter's target outlives the call: other code may use it later
    uses = [n for n in identifiers.get(wanted, ())
            if n.start_byte != name.start_byte and n.start_byte > call.start_byte]
    return bool(uses) and all(_only_tested(n) for n in uses)


@per_unit_keyed
def _function_index(unit: CUnit, function: Function) -> tuple[dict[str, list[Node]], set[str]]:
    """Identifier nodes of a function body by name (built once per function: a walk per borrowed
    call made functions with hundreds of lookups quadratic), and its automatic locals (the model's
    declarations; a function-static local outlives the call like a global)."""
    identifiers: dict[str, list[Node]] = {}
    for node in descendants(function.body):
        if node.type == "identifier":
            identifiers.setdefault(text(node), []).append(node)
    declared = {name for name, v in unit.variables_in(function).items() if not v.is_parameter and not v.is_static}
    return identifiers, declared


def _reaching_value(unit: CUnit, function: Function, use: Node, obj: Node | None) -> Node | None:
    """The value a local variable holds at ``use`` when one assignment decides it: the nearest
    `x = …;` statement (or initialised declaration) of a block enclosing the use, with no other write
    to `x` (or `&x`) between it and the use. netifaces: `list = PyDict_GetItem(…)`, then in the branch
    `if (!list) { list = PyList_New(1); PyList_SET_ITEM(list, 0, obj); }` fills a list of its own."""
    obj = strip(obj)
    if obj is None or obj.type != "identifier":
        return None
    name = text(obj)
    identifiers, declared = _function_index(unit, function)
    if name not in declared:
        return None
    node, found = use, None
    while found is None and node.parent is not None and node != function.body:
        parent = node.parent
        if parent.type == "compound_statement":
            for sibling in reversed([c for c in parent.named_children if c.end_byte <= node.start_byte]):
                found = _assigned_value(sibling, name)
                if found is not None:
                    break
        node = parent
    if found is None:
        return None
    statement, value = found
    # Writes between the assignment and the use, or anywhere in a loop around the use that the
    # assignment is outside of (the next iteration sees them), make the value undecided.
    spans = [(statement.end_byte, use.start_byte)]
    loop = use.parent
    while loop is not None and loop.start_byte > statement.start_byte:
        if loop.type in ("for_statement", "while_statement", "do_statement", "for_range_loop"):
            spans.append((loop.start_byte, loop.end_byte))
        loop = loop.parent
    for other in identifiers.get(name, ()):
        if any(start <= other.start_byte < end for start, end in spans) and is_written(other):
            return None
    return value


def _assigned_value(statement: Node, name: str) -> tuple[Node, Node] | None:
    """(statement, value) when ``statement`` is `name = value;` or declares `name` with a value."""
    if statement.type == "expression_statement" and statement.named_children:
        expression = statement.named_children[0]
        left = expression.child_by_field_name("left")
        operator = expression.child_by_field_name("operator")
        if expression.type == "assignment_expression" and left is not None and left.type == "identifier" \
                and text(left) == name and (operator is None or operator.type == "="):
            value = expression.child_by_field_name("right")
            return (statement, value) if value is not None else None
    if statement.type == "declaration":
        for child in statement.named_children:
            if child.type == "init_declarator" and text(declarator_name(child.child_by_field_name("declarator"))
                                                        or child) == name:
                value = child.child_by_field_name("value")
                return (statement, value) if value is not None else None
    return None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


class _ContainerRule(RunTimeRule):
    languages = C_LANGUAGES
    applies_to = FREE_THREADED  # with the GIL these are the documented, correct idioms
    # Containers the project never mutates after creation (NumPy's dtype `fields`), as glob patterns
    # over the argument text with casts and spaces removed: ["*->fields", "PyDataType_FIELDS(*)"].
    options = {"immutable-containers": []}

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        unit = ctx.c_unit
        if unit is None:
            return []
        patterns = [str(p) for p in self.config.get("immutable-containers") or ()]
        reach = ctx.analyses.reach
        found = []
        for use in ctx.analyses.capi_uses:
            if use.api.rule != self.code or use.api.kind != "call":
                continue
            if patterns and use.obj is not None and any(
                    fnmatchcase(normal_expr(unit.text(use.obj)), p) for p in patterns):
                continue
            judged = self.judge(ctx, use)
            if judged is None:
                continue
            # Code reached only through functions this file exports waits for the project pass: when
            # only another file's module init calls them (psycopg2's typecast_init), it is init code.
            where = reach.of(use.function.name) if reach is not None and use.function is not None else None
            roots = where.roots if where is not None and not where.runtime else frozenset()
            found.append(replace(judged, roots=roots))
        return found

    def container(self, ctx: FileContext, use: Use) -> tuple[str, str, bool]:
        """(container text, origin, inside a critical section on it)."""
        unit = ctx.c_unit
        assert unit is not None
        name = " ".join(unit.text(use.obj).split()) if use.obj is not None else "the container"
        filling = use.api.name in ("PyList_SET_ITEM", "PyTuple_SET_ITEM")
        origin = container_origin(unit, use.function, use.obj, filling=filling) if use.macro is None else "shared"
        if origin == "shared" and use.macro is None and use.node is not None and use.function is not None:
            value = _reaching_value(unit, use.function, use.node, use.obj)
            if value is not None:  # one assignment decides what the variable holds here
                origin = container_origin(unit, use.function, value, filling=filling)
        if origin == "shared" and use.function is not None and use.function.name in init_only(unit):
            origin = "init"
        locked = use.node is not None and use.macro is None and in_critical_section_on(unit, use.node, use.obj)
        return name, origin, locked

    def judge(self, ctx: FileContext, use: Use) -> Candidate | None:
        """The finding this use is (at the use), or None."""
        raise NotImplementedError


class BorrowedReferenceApi(_ContainerRule):
    code = "FT301"
    security_severity = 7.5  # memory corruption (use after free, torn pointer) when it races
    slug = "borrowed-reference-api"
    summary = "API that returns a borrowed reference into a container other threads can change"
    severity = Severity.WARNING
    precision = "medium"
    what = (
        "On a free-threaded target, finds calls of `PyDict_GetItem`, `PyDict_GetItemWithError`, "
        "`PyDict_GetItemString`, `PyDict_SetDefault`, `PyList_GetItem`, `PyWeakref_GetObject`, "
        "`PyWeakref_GET_OBJECT`, `PyImport_AddModule[Object]`, `PySys_GetObject`, `PyCell_GET`/`PyCell_SET` and "
        "the private dict getters (also inside same-file macro bodies). " + _PRIVATE_WHAT + " A result only "
        "tested against NULL (a membership test) is not a finding either. Inside "
        "`Py_BEGIN_CRITICAL_SECTION` on the container the severity drops to note. Tuple getters "
        "(`PyTuple_GetItem`, `PyTuple_GET_ITEM`) are not "
        "findings: tuples are immutable. Code not compiled for the target (`#ifndef Py_GIL_DISABLED`, "
        "`#if PY_VERSION_HEX < 0x030D0000`) is not reported."
    )
    why = (
        "A borrowed reference is only valid while something else keeps the object alive. With the GIL, nothing "
        "could remove the item between the lookup and its use; without it, another thread can delete the key or "
        "replace the list item and free the object while this thread still uses the pointer. Even "
        "`Py_NewRef(PyDict_GetItem(d, k))` races: the object can be freed before the increment."
    )
    instead = (
        "Use the strong-reference variant and release the result with `Py_DECREF` when done:\n\n"
        + markdown_table(["FT301"])
    )
    suggestion = ("Use the strong-reference variant (`PyDict_GetItemRef`, `PyList_GetItemRef`, …; since 3.13, "
                  "pythoncapi_compat.h backports them) and release the result with `Py_DECREF`.")
    references = (HOWTO_BORROWED, "https://py-free-threading.github.io/porting-extensions/", COMPAT)
    tags = ("free-threading", "borrowed-reference", "use-after-free")
    bad = (
        Example(
            "static PyObject *cache;  /* dict shared by every thread */\n"
            "static PyObject *lookup(PyObject *self, PyObject *key) {\n"
            "    PyObject *hit = PyDict_GetItem(cache, key);  // <- FT301\n"
            "    if (hit != NULL) {\n"
            "        return Py_NewRef(hit);\n"
            "    }\n"
            "    Py_RETURN_NONE;\n"
            "}\n"
            "static PyObject *first(PyObject *self, PyObject *list) {\n"
            "    return Py_XNewRef(PyList_GetItem(list, 0));  // <- FT301\n"
            "}\n"
            "static PyMethodDef methods[] = {\n"
            "    {\"lookup\", lookup, METH_O, NULL}, {\"first\", first, METH_O, NULL}, {NULL}};\n",
        ),
    )
    good = (
        Example(
            "static PyObject *cache;\n"
            "static PyObject *lookup(PyObject *self, PyObject *key) {\n"
            "    PyObject *hit;\n"
            "    if (PyDict_GetItemRef(cache, key, &hit) < 0) {\n"
            "        return NULL;\n"
            "    }\n"
            "    return hit != NULL ? hit : Py_NewRef(Py_None);  /* PyDict_GetItem would race */\n"
            "}\n"
            "static PyObject *second(PyObject *self, PyObject *tuple) {\n"
            "    return Py_XNewRef(PyTuple_GetItem(tuple, 1));\n"
            "}\n",
        ),
        Example(
            "static PyObject *lookup(PyObject *self, PyObject *key) {\n"
            "#ifndef Py_GIL_DISABLED\n"
            "    PyObject *hit = PyDict_GetItem(self_cache(self), key);\n"
            "    return Py_XNewRef(hit);\n"
            "#else\n"
            "    PyObject *hit;\n"
            "    PyDict_GetItemRef(self_cache(self), key, &hit);\n"
            "    return hit;\n"
            "#endif\n"
            "}\n",
            title="Code compiled only for the GIL build",
        ),
        Example(
            "static PyObject *codecs;  /* filled once in PyInit_m, only looked up afterwards */\n"
            "static PyObject *new_options(void) {\n"
            "    PyObject *d = PyDict_New();\n"
            "    return d;\n"
            "}\n"
            "static PyObject *option(PyObject *self, PyObject *args, PyObject *kwargs) {\n"
            "    PyObject *seen = new_options();\n"
            "    PyObject *v = PyDict_GetItemString(kwargs, \"verbose\");\n"
            "    PyObject *w = PyDict_GetItemString(seen, \"x\");\n"
            "    PyObject *t = PyDict_GetItemString(PyThreadState_GetDict(), \"depth\");\n"
            "    PyObject *c = PyDict_GetItemString(codecs, \"utf-8\");\n"
            "    Py_DECREF(seen);\n"
            "    return Py_NewRef(v ? v : w ? w : t ? t : c ? c : Py_None);\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"option\", (PyCFunction)option, METH_VARARGS | METH_KEYWORDS, NULL},\n"
            "                                {NULL}};\n"
            "static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, \"m\", NULL, -1, methods};\n"
            "PyMODINIT_FUNC PyInit_m(void) {\n"
            "    codecs = PyDict_New();\n"
            "    if (codecs == NULL || PyDict_SetItemString(codecs, \"utf-8\", Py_None) < 0) {\n"
            "        return NULL;\n"
            "    }\n"
            "    return PyModule_Create(&def);\n"
            "}\n",
            title="Containers no other thread can change",
        ),
        Example(
            "static PyObject *seen;\n"
            "static PyObject *was_seen(PyObject *self, PyObject *key) {\n"
            "    if (PyDict_GetItem(seen, key) != NULL) {  /* only tested, never used */\n"
            "        Py_RETURN_TRUE;\n"
            "    }\n"
            "    Py_RETURN_FALSE;\n"
            "}\n",
            title="A membership test: the borrowed pointer is never dereferenced",
        ),
    )

    def judge(self, ctx: FileContext, use: Use) -> Candidate | None:
        api, unit = use.api, ctx.c_unit
        assert unit is not None
        name, origin, locked = self.container(ctx, use)
        severity = Severity.WARNING
        if api.name.startswith("PyCell_"):
            message = f"`{api.name}` on `{name}` {api.change()}: {api.reason}"
        elif api.name.startswith(_GLOBAL_LOOKUPS):
            message = f"`{api.name}` returns a borrowed reference: {api.reason}"
        else:
            message = f"`{api.name}` returns a borrowed reference into `{name}`: {api.reason}"
        if origin in PRIVATE_ORIGINS | {"add-only"} and (origin == "init" or not api.name.startswith(_GLOBAL_LOOKUPS)):
            return None  # sys, sys.modules and weakrefs are shared whatever the argument, but not at init
        if use.node is not None and use.macro is None and (
                _only_tested(use.node) or _kept_only_for_tests(unit, use.node, use.function)):
            return None  # `if (PyDict_GetItem(d, k) != NULL)`: a membership test; the pointer is never used
        if locked:
            # The lock keeps other threads out, so the race the warning describes is not the hazard here:
            # what is left is the pointer outliving the section (or a nested one suspending it).
            severity = Severity.NOTE
            message = (f"`{api.name}` returns a borrowed reference into `{name}` inside a critical section on "
                       f"it: the pointer is valid only while the section holds, so not after "
                       "`Py_END_CRITICAL_SECTION()`, nor across a nested critical section or a blocking call, "
                       "which can suspend it")
        if use.macro is not None:
            message += f" (in the body of macro `{use.macro.name}`)"
        return Candidate(use.anchor, message, _capital(api.advice()) + ".", severity)


class UnlockedDictIteration(_ContainerRule):
    code = "FT302"
    security_severity = 7.5  # memory corruption (use after free, torn pointer) when it races
    slug = "unlocked-dict-iteration"
    summary = "`PyDict_Next` outside a critical section on the same dict"
    severity = Severity.WARNING
    what = (
        "On a free-threaded target, finds `PyDict_Next(d, …)` calls that are not inside "
"`Py_BEGIN_CRITICAL_SECTION(d)` (or a `Py_BEGIN_CRITICAL_SECTION2` that includes `d`). " + _PRIVATE_WHAT
        + " Iteration under some other lock is a note (fine only if every writer of the dict takes that lock)."
    )
    why = (
        "`PyDict_Next` takes no lock: another thread can insert or delete while the loop runs, which can skip or "
        "repeat entries, and the borrowed key and value it hands out can be freed under the loop."
    )
    instead = (
        "Hold a critical section on the dict for the whole loop: `Py_BEGIN_CRITICAL_SECTION(d);` … "
        "`Py_END_CRITICAL_SECTION();` (3.13; pythoncapi_compat.h defines no-op macros for older versions), and "
        "take strong references (`Py_NewRef`) to keys or values that must outlive it. Alternatively iterate over "
        "a snapshot: `PyDict_Items(d)` or `PyDict_Copy(d)`."
    )
    suggestion = ("Wrap the loop in `Py_BEGIN_CRITICAL_SECTION(d)` … `Py_END_CRITICAL_SECTION()` (since 3.13; "
                  "pythoncapi_compat.h provides both macros for older versions).")
    references = (HOWTO + "#pydict-next", "https://docs.python.org/3/c-api/init.html#critical-sections", COMPAT)
    tags = ("free-threading", "borrowed-reference", "data-race")
    bad = (
        Example(
            "static PyObject *registry;\n"
            "static int count_callables(void) {\n"
            "    PyObject *key, *value;\n"
            "    Py_ssize_t pos = 0;\n"
            "    int n = 0;\n"
            "    while (PyDict_Next(registry, &pos, &key, &value)) {  // <- FT302\n"
            "        n += PyCallable_Check(value);\n"
            "    }\n"
            "    return n;\n"
            "}\n"
            "static PyObject *callables(PyObject *self, PyObject *unused) {\n"
            "    return PyLong_FromLong(count_callables());\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"callables\", callables, METH_NOARGS, NULL}, {NULL}};\n",
        ),
    )
    good = (
        Example(
            "static PyObject *registry;\n"
            "static int count_callables(void) {\n"
            "    PyObject *key, *value;\n"
            "    Py_ssize_t pos = 0;\n"
            "    int n = 0;\n"
            "    Py_BEGIN_CRITICAL_SECTION(registry);\n"
            "    while (PyDict_Next(registry, &pos, &key, &value)) {\n"
            "        n += PyCallable_Check(value);\n"
            "    }\n"
            "    Py_END_CRITICAL_SECTION();\n"
            "    return n;\n"
            "}\n",
        ),
    )

    def judge(self, ctx: FileContext, use: Use) -> Candidate | None:
        if use.macro is not None:
            return None  # the loop is at the macro's use; the body alone says nothing about locking
        unit = ctx.c_unit
        assert unit is not None
        name, origin, locked = self.container(ctx, use)
        if locked:
            return None
        if origin in PRIVATE_ORIGINS:
            return None
        severity = Severity.WARNING
        message = (f"`PyDict_Next` iterates `{name}` without a critical section on it: another thread can "
                   "change the dict during the loop and free the borrowed keys and values")
        if use.node is not None and unit.lock_state(use.node).locked:
            # Another lock is held: the hazard left is a writer that does not take it.
            severity = Severity.NOTE
            held = ", ".join(f"`{lock}`" for lock in unit.lock_state(use.node).held)
            message = (f"`PyDict_Next` iterates `{name}` under {held} but not in a critical section on it: a "
                       f"thread that changes `{name}` without holding that lock (Python code using the dict "
                       "never does) can still free the borrowed keys and values during the loop")
        return Candidate(use.anchor, message, self.suggestion, severity)


class UnlockedSequenceAccess(_ContainerRule):
    code = "FT303"
    security_severity = 7.0  # memory corruption (use after free, torn pointer) when it races
    slug = "unlocked-sequence-access"
    summary = "Unlocked list/sequence accessor macro on a container that may be shared"
    severity = Severity.NOTE
    what = (
        "On a free-threaded target, finds `PyList_GET_ITEM`, `PyList_SET_ITEM`, `PySequence_Fast_ITEMS` and "
        "`PySequence_Fast_GET_ITEM` on a container that was not created in the same function and is not inside "
        "a critical section on it. Filling a fresh `PyList_New`/`PyTuple_New`/`PySequence_List` result is never a "
        "finding, nor is `PySequence_Fast` over the function's own argument tuple."
    )
    why = (
        "The macros neither lock nor check bounds. `PySequence_Fast(arg)` returns `arg` itself when it is a list, "
        "so iterating `PySequence_Fast_ITEMS` of a caller's list races with threads that append to it (the item "
        "array can be reallocated) or replace items (the items can be freed)."
    )
    instead = (
        "Hold `Py_BEGIN_CRITICAL_SECTION(seq)` … `Py_END_CRITICAL_SECTION()` around the loop (3.13; "
        "pythoncapi_compat.h provides no-op macros), read single items with `PyList_GetItemRef` (3.13, "
        "backported), write with `PyList_SetItem`, or iterate over a snapshot (`PySequence_Tuple`)."
    )
    suggestion = ("Lock the container with `Py_BEGIN_CRITICAL_SECTION` for the loop (since 3.13; "
                  "pythoncapi_compat.h provides it for older versions), or iterate over a `PySequence_Tuple` "
                  "snapshot.")
    references = (HOWTO, COMPAT)
    tags = ("free-threading", "data-race")
    bad = (
        Example(
            "static double total(PyObject *self, PyObject *values) {\n"
            "    PyObject *seq = PySequence_Fast(values, \"expected a sequence\");\n"
            "    double sum = 0;\n"
            "    PyObject **items = PySequence_Fast_ITEMS(seq);  // <- FT303\n"
            "    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {\n"
            "        sum += PyFloat_AsDouble(items[i]);\n"
            "    }\n"
            "    Py_DECREF(seq);\n"
            "    return sum;\n"
            "}\n"
            "static PyObject *py_total(PyObject *self, PyObject *values) {\n"
            "    return PyFloat_FromDouble(total(self, values));\n"
            "}\n"
            "static PyMethodDef methods[] = {{\"total\", py_total, METH_O, NULL}, {NULL}};\n",
        ),
    )
    good = (
        Example(
            "static PyObject *squares(PyObject *self, PyObject *arg) {\n"
            "    Py_ssize_t n = PyLong_AsSsize_t(arg);\n"
            "    PyObject *list = PyList_New(n);\n"
            "    for (Py_ssize_t i = 0; i < n; i++) {\n"
            "        PyList_SET_ITEM(list, i, PyLong_FromSsize_t(i * i));\n"
            "    }\n"
            "    return list;\n"
            "}\n"
            "static PyObject *head(PyObject *self, PyObject *list) {\n"
            "    PyObject *item = NULL;\n"
            "    Py_BEGIN_CRITICAL_SECTION(list);\n"
            "    item = Py_XNewRef(PyList_GET_ITEM(list, 0));\n"
            "    Py_END_CRITICAL_SECTION();\n"
            "    return item;\n"
            "}\n",
        ),
    )

    def judge(self, ctx: FileContext, use: Use) -> Candidate | None:
        if use.macro is not None:
            return None
        name, origin, locked = self.container(ctx, use)
        if locked or origin in PRIVATE_ORIGINS:
            return None
        api = use.api
        verb = "writes" if api.name == "PyList_SET_ITEM" else "reads"
        message = f"`{api.name}` {verb} `{name}` without locking it: {api.reason}"
        help_text = _SEQUENCE_HELP if api.name.startswith("PySequence_Fast") else _capital(api.advice()) + "."
        return Candidate(use.anchor, message, help_text, Severity.NOTE)
