"""FT501–FT503: Python code that writes to ``locals()`` or a frame's ``f_locals``, which PEP 667 (3.13) redefined.

The facts come from one shared walk (``python_scopes.analyse``); these rules decide, per hit, whether the version
guard around it makes it the correct compatibility pattern, and say what to write instead.
"""

from __future__ import annotations

from ftaudit.analysis.python_scopes import PEP667, Hit, file_hits, new_only, old_only
from ftaudit.context import FileContext
from ftaudit.findings import Severity
from ftaudit.rule import Example, Rule
from ftaudit.source import Language

PYTHON = frozenset({Language.PYTHON})
PEP_667 = "https://peps.python.org/pep-0667/"
WHATS_NEW_313 = "https://docs.python.org/3/whatsnew/3.13.html#defined-mutation-semantics-for-locals"
LOCALS_DOC = "https://docs.python.org/3/library/functions.html#locals"
FRAME_DOC = "https://docs.python.org/3/reference/datamodel.html#frame.f_locals"
LEGACY_C_API = "https://docs.python.org/3/c-api/frame.html"


class LocalsMutation(Rule):
    code = "FT501"
    slug = "locals-mutation"
    summary = "Write through locals() in a function, or exec/eval whose results are read from it"
    severity = Severity.WARNING
    languages = PYTHON
    precision = "high"
    what = (
        "In a function (or lambda, or a comprehension inside one), finds writes through `locals()` or `vars()` "
        "with no argument: item assignment or deletion (`locals()[k] = v`, `del locals()[k]`), the mutating "
        "methods `update`, `pop`, `popitem`, `clear`, `setdefault`, `__setitem__`, `__delitem__`, and `|=` — on "
        "the call itself or on a local name assigned from it (`ns = locals(); ns['x'] = 1`). It also finds a "
        "bare `locals()` statement (called only to refresh the frame's cached dict) in a function that also keeps "
        "a `locals()` snapshot or an `f_locals` alias the refresh was meant to update, and `exec`/`eval` of a "
        "string literal with no namespace (or an explicit `locals()` one) when the function later reads a name "
        "the string assigns — as a variable, as `locals()['x']` or in a later `exec`/`eval` literal. "
        "Module-level and class-body `locals()` (real namespaces), reads of `locals()` in any form, a local "
        "name that shadows the builtin, and code only run before 3.13 (`if sys.version_info < (3, 13):`, the "
        "`else` of a `>= (3, 13)` test, or after an early `return` under one) are not findings."
        "An `exec`/`eval` of code not known here into `locals()` (implicitly or as `exec(code, globals(), "
        "locals())`) is reported when the function later reads a name back through a new `locals()` "
        "(`locals()[\"result\"]`): since 3.13 that is a fresh snapshot without it."
    )
    why = (
        "In a function, `locals()` has never been the variables themselves: a write to it never changed a "
        "variable. Before 3.13 it at least returned the same cached dict on every call, so a write (or the "
        "results of an implicit-namespace `exec`) stayed visible to later `locals()`, `exec` and `eval` calls. "
        "PEP 667 (3.13) makes every `locals()` call in an optimized scope return an independent snapshot, so "
        "that last way of seeing the write is gone too and code relying on it changes meaning silently."
    )
    instead = (
        "Assign to the variable directly. When a namespace is needed, keep an explicit dict and read results "
        "from it: `ns = dict(locals()); exec(code, globals(), ns); x = ns['x']`. Call `locals()` again where "
        "current values are needed instead of keeping an old result. Code that must keep the pre-3.13 path "
        "can put it under `if sys.version_info < (3, 13):`."
    )
    suggestion = "Assign to the variable directly, or use an explicit dict: `ns = dict(locals())` and read from `ns`."
    references = (PEP_667, WHATS_NEW_313, LOCALS_DOC, "https://docs.python.org/3/library/functions.html#exec",
                  "https://codeql.github.com/codeql-query-help/python/py-modification-of-locals/")
    tags = ("pep-667", "python-3.13", "correctness")
    bad = (
        Example(
            "def configure(**options):\n"
            "    debug = False\n"
            "    locals().update(options)  # <- FT501\n"
            "    return debug\n",
            title="The update never reaches `debug`",
        ),
        Example(
            "def defaults():\n"
            "    ns = locals()\n"
            "    ns['timeout'] = 30  # <- FT501\n"
            "    exec('retries = 3')  # <- FT501\n"
            "    return locals()['retries'], ns\n",
            title="Through an alias, and exec results read back from a fresh locals() snapshot",
        ),
        Example(
            "def snapshot_then_change():\n"
            "    seen = vars()\n"
            "    value = 1\n"
            "    locals()  # <- FT501\n"
            "    return seen.get('value')\n",
            title="A bare locals() no longer refreshes an earlier snapshot",
        ),
    )
    good = (
        Example(
            "locals()['VERSION'] = '1.0'\n"
            "\n"
            "class Colours:\n"
            "    for _name in ('red', 'green'):\n"
            "        locals()[_name.upper()] = _name\n",
            title="Module level and class bodies: locals() is the real namespace",
        ),
        Example(
            "class Socket:\n"
            "    def __del__(self):\n"
            "        locals()  # an old interpreter bug's workaround: nothing here reads a snapshot\n"
            "        self.close()\n",
            title="A bare locals() in a function that keeps no snapshot or f_locals alias",
        ),
        Example(
            "def render(template, name, count):\n"
            "    names = sorted(locals())\n"
            "    copy = dict(locals())\n"
            "    for key in locals():\n"
            "        print(key, locals().get(key))\n"
            "    return template.format(**locals()), names, copy\n",
            title="Reading locals() in any form",
        ),
        Example(
            "def bind(locals, vars=None):\n"
            "    locals['x'] = 1\n"
            "    ns = {}\n"
            "    exec('y = 2', globals(), ns)\n"
            "    return ns['y']\n",
            title="A parameter shadows the builtin; exec with an explicit namespace",
        ),
        Example(
            "import sys\n"
            "\n"
            "def legacy(expr):\n"
            "    if sys.version_info >= (3, 13):\n"
            "        ns = {}\n"
            "        exec('value = ' + expr, globals(), ns)\n"
            "        return ns['value']\n"
            "    exec('value = 1')\n"
            "    return locals()['value']\n",
            title="The pre-3.13 path kept behind a version check",
        ),
    )

    def check(self, ctx: FileContext) -> None:
        for hit in file_hits(ctx, self.code):
            if old_only(hit.versions):
                continue  # the snapshot semantics only change on 3.13+
            if hit.kind == "write":
                self.report_write(ctx, hit)
            elif hit.kind == "refresh":
                ctx.report(hit.node, f"`{hit.subject}` called only for its side effect: before 3.13 it refreshed the "
                           "frame's cached locals dict, since 3.13 (PEP 667) it builds a new snapshot and drops it, "
                           "so dicts taken earlier from `locals()` stay stale",
                           help="Call `locals()` again where the current values are needed and use what it returns.")
            elif hit.kind == "exec-read":
                ctx.report(hit.node, f"`{hit.subject}()` runs code into a `locals()` snapshot, and line {hit.line} "
                           f"reads `{hit.detail}` back through a new `locals()`: since 3.13 (PEP 667) each call "
                           "returns a fresh snapshot, so names the code binds are not there (`KeyError`)",
                           help=f"Pass an explicit namespace and read from it: `ns = {{}}; {hit.subject}(code, "
                                f"globals(), ns); {hit.detail} = ns[{hit.detail!r}]`.")
            else:
                ctx.report(hit.node, f"`{hit.subject}()` without an explicit namespace assigns `{hit.detail}`, which "
                           f"is read at line {hit.line}: the assignment never reaches the variable, and since 3.13 "
                           "(PEP 667) it lands in a throw-away `locals()` snapshot that later reads do not see",
                           help=f"Pass an explicit namespace and read from it: `ns = {{}}; {hit.subject}(code, "
                                f"globals(), ns); {hit.detail} = ns[{hit.detail!r}]`.")

    @staticmethod
    def report_write(ctx: FileContext, hit: Hit) -> None:
        via = (f"`{hit.detail}`" if hit.subject.startswith(hit.detail) or hit.detail in hit.subject
               else f"a snapshot taken by `{hit.detail}` at line {hit.line}")
        ctx.report(hit.node, f"`{hit.subject}` writes to {via} in a function: it never changes a variable, and "
                   "since 3.13 (PEP 667) every `locals()` call returns a new snapshot, so later calls do not see "
                   "the write either",
                   help="Assign to the variable directly, or keep an explicit dict (`ns = dict(locals())`) and pass "
                        "`ns` on (`exec(code, globals(), ns)`, `template.render(ns)`).")


class FrameLocalsWrite(Rule):
    code = "FT502"
    slug = "frame-locals-write"
    summary = "Write to a frame's f_locals, which is a write-through proxy since 3.13"
    severity = Severity.WARNING
    languages = PYTHON
    precision = "high"
    what = (
        "Finds item assignment or deletion and the mutating methods (`update`, `pop`, `popitem`, `clear`, "
        "`setdefault`, `__setitem__`, `__delitem__`, `|=`) on the `f_locals` of an expression that evidently "
        "yields a frame: `sys._getframe(...)`, `inspect.currentframe()`, `.f_back` chains, "
        "`inspect.stack()[i].frame` or `[i][0]`, a traceback's `tb_frame` (and `gi_frame`/`cr_frame`/"
        "`ag_frame`), frames from `traceback.walk_stack`/`walk_tb` and `sys._current_frames()`, the "
        "`frame` parameter of a trace function `(frame, event, arg)` or of a `bdb.Bdb`/`pdb.Pdb` subclass "
        "method, a parameter annotated `types.FrameType`, or a name assigned from any of these (or from "
        "`frame.f_locals` itself). `isinstance(f.f_locals, dict)` and `type(f.f_locals) is dict` are reported "
        "as notes. Not findings: reads of `f_locals`; objects not known to be frames; writes under a "
        "`sys.version_info` test against 3.13 (either branch: the code has chosen its behaviour); stores of "
        "dunder keys — literal or a module-level string constant — such as debuggers' `__return__`/`__exception__` "
        "or class advisors' `__interface_tagged_values__` (they become the frame's extra locals, as "
        "before); and a write followed in the same function by a locals-to-fast sync of the same frame "
        "(`PyFrame_LocalsToFast`, pydevd-style `save_locals(frame)`), which wanted write-through all along — "
        "FT503 reports a ctypes sync call itself. Deletions (`del f_locals[k]`, `pop`, `popitem`, `clear`) "
        "are reported even when a "
        "`PyFrame_LocalsToFast` follows: the 3.13+ proxy raises first (`TypeError` on 3.13.0, `ValueError` for "
        "a real local from 3.13.1, `AttributeError` for `clear`)."
    )
    why = (
        "Before 3.13, `f_locals` of a function frame was a dict snapshot: writes to it were lost unless followed "
        "by `PyFrame_LocalsToFast`, and debuggers relied on either. PEP 667 (3.13) makes it a write-through "
        "`FrameLocalsProxy`: the same write now changes the variable in the running frame, and the object is "
        "no longer a `dict`. Code written for one behaviour silently gets the other."
    )
    instead = (
        "Decide which behaviour is wanted. To change the variable, write through the proxy on 3.13+ and keep "
        "the old `dict` + `ctypes.pythonapi.PyFrame_LocalsToFast` path under `if sys.version_info < (3, 13):`. "
        "To work on a private copy, take `dict(frame.f_locals)`. Test for `collections.abc.Mapping`, not `dict`."
    )
    suggestion = ("On 3.13+ this write changes the frame's variable; keep any pre-3.13 path under "
                  "`if sys.version_info < (3, 13):`, or write to `dict(frame.f_locals)` if it must not.")
    references = (PEP_667, WHATS_NEW_313, FRAME_DOC, "https://docs.python.org/3/library/inspect.html#the-interpreter-stack")
    tags = ("pep-667", "python-3.13", "frames", "debugger")
    bad = (
        Example(
            "import sys\n"
            "\n"
            "def inject(name, value):\n"
            "    sys._getframe(1).f_locals[name] = value  # <- FT502\n",
            title="Now changes the caller's variable",
        ),
        Example(
            "from inspect import currentframe as cf\n"
            "\n"
            "def set_debug():\n"
            "    frame = cf().f_back\n"
            "    scope = frame.f_locals\n"
            "    scope.update(debug=True)  # <- FT502\n"
            "    assert isinstance(frame.f_locals, dict)  # <- FT502\n",
            title="Through aliases; and the proxy is not a dict",
        ),
        Example(
            "import sys\n"
            "\n"
            "def tracer(frame, event, arg):\n"
            "    if event == 'line':\n"
            "        del frame.f_locals['secret']  # <- FT502\n"
            "    return tracer\n"
            "\n"
            "sys.settrace(tracer)\n",
            title="A trace function's frame",
        ),
    )
    good = (
        Example(
            "import sys\n"
            "\n"
            "def lookup(name):\n"
            "    value = sys._getframe(1).f_locals.get(name)\n"
            "    return value, dict(sys._getframe(1).f_locals)\n",
            title="Reading f_locals",
        ),
        Example(
            "class Recorder:\n"
            "    def __init__(self):\n"
            "        self.f_locals = {}\n"
            "\n"
            "def record(obj, frame):\n"
            "    obj.f_locals['x'] = 1\n"
            "    Recorder().f_locals.update(y=2)\n"
            "    frame.f_locals['z'] = 3\n",
            title="Objects not known to be frames",
        ),
        Example(
            "import ctypes\n"
            "import sys\n"
            "\n"
            "def set_caller_local(name, value):\n"
            "    frame = sys._getframe(1)\n"
            "    if sys.version_info >= (3, 13):\n"
            "        frame.f_locals[name] = value\n"
            "    else:\n"
            "        frame.f_locals[name] = value\n"
            "        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))\n",
            title="Both behaviours chosen explicitly",
        ),
        Example(
            "import sys\n"
            "\n"
            "def inject(name, value):\n"
            "    sys._getframe(1).f_locals[name] = value\n",
            target="3.12", title="Targeting 3.12, where f_locals is still a snapshot dict",
        ),
        Example(
            "import ctypes\n"
            "import sys\n"
            "\n"
            "def set_caller_local(name, value):\n"
            "    frame = sys._getframe(1)\n"
            "    frame.f_locals[name] = value\n"
            "    ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))\n"
            "    frame.f_locals['__return__'] = None\n",
            title="Written then copied back (write-through was the intent; FT503 reports the call), "
                  "and a debugger's dunder stash key",
        ),
        Example(
            "import sys\n"
            "\n"
            "TAGGED_DATA = '__interface_tagged_values__'\n"
            "\n"
            "def taggedValue(key, value):\n"
            "    f_locals = sys._getframe(1).f_locals\n"
            "    tagged = f_locals.setdefault(TAGGED_DATA, {})\n"
            "    tagged[key] = value\n",
            title="A class advisor stashing data under a dunder key kept in a module constant (zope.interface)",
        ),
    )

    def check(self, ctx: FileContext) -> None:
        if ctx.target.version < PEP667:
            return
        for hit in file_hits(ctx, self.code):
            if old_only(hit.versions) or new_only(hit.versions):
                continue
            if hit.kind == "typecheck":
                ctx.report(hit.node, f"`{hit.subject}` is false for function frames since 3.13 (PEP 667): "
                           "`f_locals` is a write-through `FrameLocalsProxy`, not a `dict`",
                           severity=Severity.NOTE,
                           help="Test for `collections.abc.Mapping`, or take `dict(frame.f_locals)` when a real dict "
                                "is needed.")
                continue
            via = "" if hit.detail in hit.subject else f" (through `{hit.detail}`, taken at line {hit.line})"
            if hit.kind == "delete":
                what = ("has no `clear()` on 3.13+: `AttributeError`" if hit.subject.endswith(".clear()")
                        else "raises on 3.13+: `TypeError` for any key on 3.13.0, `ValueError` for a real local "
                             "variable from 3.13.1 (other keys can be removed)")
                ctx.report(hit.node, f"`{hit.subject}` deletes from a frame's `f_locals`{via} and {what}. Since "
                           "3.13 (PEP 667) `f_locals` of a function frame is a write-through `FrameLocalsProxy`; "
                           "before 3.13 only a dict snapshot lost the key",
                           help="Delete from a copy (`dict(frame.f_locals)`), or keep the deletion under "
                                "`if sys.version_info < (3, 13):`; on 3.13+ assign a placeholder instead.")
                continue
            ctx.report(hit.node, f"`{hit.subject}` writes to a frame's `f_locals`{via}: since 3.13 (PEP 667) this is "
                       "a write-through proxy, so the write now changes the variable in that frame (before 3.13 it "
                       "was lost unless followed by `PyFrame_LocalsToFast`)")


class CtypesFrameLocalsSync(Rule):
    code = "FT503"
    slug = "ctypes-frame-locals-sync"
    summary = "ctypes call to PyFrame_LocalsToFast / PyFrame_FastToLocals, which do nothing since 3.13"
    severity = Severity.ERROR
    languages = PYTHON
    precision = "very-high"
    what = (
        "Finds calls to `PyFrame_LocalsToFast`, `PyFrame_FastToLocals` and `PyFrame_FastToLocalsWithError` "
        "through `ctypes.pythonapi`, however it is reached: `import ctypes as c`, `from ctypes import "
        "pythonapi`, `api = ctypes.pythonapi`, an alias of the function itself, or `getattr(ctypes.pythonapi, "
        "'PyFrame_LocalsToFast')`. Calls only run before 3.13 (under `if sys.version_info < (3, 13):`, in the "
        "`else` of a `>= (3, 13)` test, or after an early `return` under one) are the correct compatibility "
        "pattern and are not findings."
    )
    why = (
        "Debuggers and test helpers used `PyFrame_LocalsToFast` to make writes to `frame.f_locals` reach the "
        "running function's variables. Since 3.13 (PEP 667) these functions are soft deprecated and do nothing: "
        "code that relies on them to *copy* anything is broken, and on 3.13+ the `f_locals` proxy has already "
        "written through."
    )
    instead = (
        "On 3.13+ write through `frame.f_locals` (the proxy) and drop the call; keep the ctypes call only "
        "under `if sys.version_info < (3, 13):`."
    )
    suggestion = ("Remove the call on 3.13+ (guard it with `if sys.version_info < (3, 13):`): writes to "
                  "`frame.f_locals` go through the proxy directly.")
    references = (PEP_667, LEGACY_C_API, WHATS_NEW_313, "https://docs.python.org/3/library/ctypes.html#ctypes.pythonapi")
    tags = ("pep-667", "python-3.13", "frames", "ctypes")
    bad = (
        Example(
            "import ctypes\n"
            "\n"
            "def set_local(frame, name, value):\n"
            "    frame.f_locals[name] = value\n"
            "    ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))  # <- FT503\n",
        ),
        Example(
            "import ctypes as c\n"
            "from ctypes import pythonapi as api\n"
            "\n"
            "to_fast = c.pythonapi.PyFrame_LocalsToFast\n"
            "\n"
            "def sync(frame):\n"
            "    api.PyFrame_FastToLocalsWithError(c.py_object(frame))  # <- FT503\n"
            "    to_fast(c.py_object(frame), c.c_int(1))  # <- FT503\n",
            title="Through aliases of the module and of the function",
        ),
    )
    good = (
        Example(
            "import ctypes\n"
            "import sys\n"
            "\n"
            "def set_local(frame, name, value):\n"
            "    frame.f_locals[name] = value\n"
            "    if sys.version_info < (3, 13):\n"
            "        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))\n",
            title="Only on versions where it still does something",
        ),
        Example(
            "import ctypes\n"
            "import sys\n"
            "\n"
            "def set_local(frame, name, value):\n"
            "    frame.f_locals[name] = value\n"
            "    if sys.version_info >= (3, 13):\n"
            "        return\n"
            "    ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))\n",
            title="An early return on 3.13+",
        ),
        Example(
            "import ctypes\n"
            "\n"
            "def interrupt(thread_id):\n"
            "    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(KeyError))\n",
            title="Other pythonapi functions",
        ),
    )

    def check(self, ctx: FileContext) -> None:
        if ctx.target.version < PEP667:
            return
        for hit in file_hits(ctx, self.code):
            if old_only(hit.versions):
                continue
            if hit.subject == "PyFrame_LocalsToFast":
                effect = ("writes to `frame.f_locals` now reach the variables by themselves, and a dict it was meant "
                          "to copy from is no longer the frame's")
            else:
                effect = "`frame.f_locals` is a live proxy now, and code expecting a refreshed dict snapshot breaks"
            ctx.report(hit.node, f"`{hit.subject}` through ctypes does nothing since 3.13 (PEP 667): {effect}")
