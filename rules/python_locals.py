"""FT501–FT503: Python code that writes to ``locals()`` or a frame's ``f_locals``, which PEP 667 (3.13) redefined.

The events come from one shared walk (``python_scopes``); these rules subscribe to the ones they judge, decide per
event whether the version guard around it makes it the correct compatibility pattern, and say what to write
instead.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from itertools import pairwise

from ftaudit.analysis import python_events as events
from ftaudit.analysis.python_events import PEP667, new_only, old_only
from ftaudit.analysis.python_scopes import ScopeSubscriber, handles, source, terminates
from ftaudit.context import FileContext
from ftaudit.findings import Severity
from ftaudit.rule import Example, Rule
from ftaudit.source import Language
from ftaudit.target import Applies

PYTHON = frozenset({Language.PYTHON})
PEP_667 = "https://peps.python.org/pep-0667/"
WHATS_NEW_313 = "https://docs.python.org/3/whatsnew/3.13.html#defined-mutation-semantics-for-locals"
LOCALS_DOC = "https://docs.python.org/3/library/functions.html#locals"
FRAME_DOC = "https://docs.python.org/3/reference/datamodel.html#frame.f_locals"
LEGACY_C_API = "https://docs.python.org/3/c-api/frame.html"


class LocalsMutation(ScopeSubscriber, Rule):
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

    def wants(self, event: events.ScopeEvent) -> bool:
        return not old_only(event.versions)  # the snapshot semantics only change on 3.13+

    @handles(events.LocalsWrite)
    def on_write(self, ctx: FileContext, event: events.LocalsWrite) -> None:
        via = (f"`{event.taken_by}`" if event.subject.startswith(event.taken_by) or event.taken_by in event.subject
               else f"a snapshot taken by `{event.taken_by}` at line {event.taken_at}")
        ctx.report(event.node, f"`{event.subject}` writes to {via} in a function: it never changes a variable, and "
                   "since 3.13 (PEP 667) every `locals()` call returns a new snapshot, so later calls do not see "
                   "the write either",
                   help="Assign to the variable directly, or keep an explicit dict (`ns = dict(locals())`) and pass "
                        "`ns` on (`exec(code, globals(), ns)`, `template.render(ns)`).")

    @handles(events.LocalsRefresh)
    def on_refresh(self, ctx: FileContext, event: events.LocalsRefresh) -> None:
        if not event.snapshot_kept:
            return  # alone, the call had no effect anyone could see
        ctx.report(event.node, f"`{event.subject}` called only for its side effect: before 3.13 it refreshed the "
                   "frame's cached locals dict, since 3.13 (PEP 667) it builds a new snapshot and drops it, "
                   "so dicts taken earlier from `locals()` stay stale",
                   help="Call `locals()` again where the current values are needed and use what it returns.")

    @handles(events.ExecLocalsKeyRead)
    def on_exec_key_read(self, ctx: FileContext, event: events.ExecLocalsKeyRead) -> None:
        ctx.report(event.node, f"`{event.subject}()` runs code into a `locals()` snapshot, and line {event.read_at} "
                   f"reads `{event.name}` back through a new `locals()`: since 3.13 (PEP 667) each call "
                   "returns a fresh snapshot, so names the code binds are not there (`KeyError`)",
                   help=_explicit_namespace(event.subject, event.name))

    @handles(events.ExecBindingRead)
    def on_exec_binding_read(self, ctx: FileContext, event: events.ExecBindingRead) -> None:
        ctx.report(event.node, f"`{event.subject}()` without an explicit namespace assigns `{event.name}`, which "
                   f"is read at line {event.read_at}: the assignment never reaches the variable, and since 3.13 "
                   "(PEP 667) it lands in a throw-away `locals()` snapshot that later reads do not see",
                   help=_explicit_namespace(event.subject, event.name))


class FrameLocalsWrite(ScopeSubscriber, Rule):
    code = "FT502"
    applies_to = Applies(since=PEP667)  # before 3.13 f_locals writes behaved as the code expects
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
        "a real local from 3.13.1, `AttributeError` for `clear`). Nor are writes through the `f_locals` of a frame "
        "the code shows to be a class body or a module, whose `f_locals` is the namespace dict itself on every "
        "version: `sys._getframe()` / `inspect.currentframe()` taken in a module or class body, or a write that "
        "only runs once a test a function frame fails has passed — `'__module__' in f_locals` (or "
        "`'__qualname__'`), `f_locals is frame.f_globals`, `frame.f_code.co_name == '<module>'`, "
        "`co_flags & CO_OPTIMIZED` (or `CO_NEWLOCALS`) false — as an enclosing `if`, an `assert`, or an earlier "
        "`if` that raises or returns, possibly through a name bound to the test; or an earlier `if` about the "
        "frame that raises an error saying the function can be used only from a class definition. A test "
        "that refuses class bodies, or no test, leaves a function frame and is still reported, as is a test of "
        "a frame name rebound before the write."
    )
    why = (
        "Before 3.13, `f_locals` of a function frame was a dict snapshot: writes to it were lost unless followed "
        "by `PyFrame_LocalsToFast`, and debuggers relied on either. PEP 667 (3.13) makes it a write-through "
        "`FrameLocalsProxy`: the same write now changes the variable in the running frame, and the object is "
        "no longer a `dict`. Code written for one behaviour silently gets the other. Only optimized (function, "
        "lambda, comprehension) frames changed: a class body's, a module's and an `exec`/`eval` frame's "
        "`f_locals` is the namespace mapping itself, before 3.13 and after."
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
        Example(
            "import sys\n"
            "\n"
            "def export(name, value):\n"
            "    frame = sys._getframe(1)\n"
            "    if '__module__' in frame.f_locals:\n"
            "        raise TypeError('export() cannot be used in a class body')\n"
            "    frame.f_locals[name] = value  # <- FT502\n",
            title="A guard that refuses class bodies leaves a function's frame",
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
        Example(
            "import sys\n"
            "\n"
            "def fields(*names):\n"
            "    frame = sys._getframe(1)\n"
            "    namespace = frame.f_locals\n"
            "    if namespace is frame.f_globals or '__module__' not in namespace:\n"
            "        raise TypeError('fields() can be used only from a class definition')\n"
            "    namespace['_fields'] = names\n"
            "\n"
            "class Point:\n"
            "    fields('x', 'y')\n",
            title="A class advisor that checks it was called from a class body: the class namespace dict",
        ),
        Example(
            "import sys\n"
            "\n"
            "def provide(*names):\n"
            "    frame = sys._getframe(1)\n"
            "    if frame.f_locals is frame.f_globals:\n"
            "        frame.f_locals['_provided'] = names\n"
            "\n"
            "sys._getframe().f_locals['BUILD'] = 'release'\n",
            title="Module frames: their f_locals is the module's globals dict",
        ),
    )

    def wants(self, event: events.ScopeEvent) -> bool:
        return not (old_only(event.versions) or new_only(event.versions))

    @handles(events.FrameLocalsTypeCheck)
    def on_type_check(self, ctx: FileContext, event: events.FrameLocalsTypeCheck) -> None:
        ctx.report(event.node, f"`{event.subject}` is false for function frames since 3.13 (PEP 667): "
                   "`f_locals` is a write-through `FrameLocalsProxy`, not a `dict`",
                   severity=Severity.NOTE,
                   help="Test for `collections.abc.Mapping`, or take `dict(frame.f_locals)` when a real dict "
                        "is needed.")

    @handles(events.FrameLocalsMutation)
    def on_change(self, ctx: FileContext, event: events.FrameLocalsMutation) -> None:
        deleting = isinstance(event, events.FrameLocalsDelete)
        # Dunder keys (`__return__`, `__exception__`) are debugger stash entries, not variables: on 3.13+ they
        # become the frame's extra locals and behave as the old cached dict did. Written, then copied back with
        # LocalsToFast: the old way to change a variable, which the 3.13 proxy does by itself (FT503 reports a
        # ctypes sync call). A deletion stays a hazard either way: the 3.13+ proxy raises before any sync.
        if not deleting and (event.dunder_keys or event.synced):
            return
        if _NamespaceFrames(ctx.python_parents).namespace(event):
            return  # a class body's or module's f_locals: the namespace dict itself, unchanged by PEP 667
        via = ("" if event.f_locals in event.subject
               else f" (through `{event.f_locals}`, taken at line {event.taken_at})")
        if deleting:
            what = ("has no `clear()` on 3.13+: `AttributeError`" if event.subject.endswith(".clear()")
                    else "raises on 3.13+: `TypeError` for any key on 3.13.0, `ValueError` for a real local "
                         "variable from 3.13.1 (other keys can be removed)")
            ctx.report(event.node, f"`{event.subject}` deletes from a frame's `f_locals`{via} and {what}. Since "
                       "3.13 (PEP 667) `f_locals` of a function frame is a write-through `FrameLocalsProxy`; "
                       "before 3.13 only a dict snapshot lost the key",
                       help="Delete from a copy (`dict(frame.f_locals)`), or keep the deletion under "
                            "`if sys.version_info < (3, 13):`; on 3.13+ assign a placeholder instead.")
            return
        ctx.report(event.node, f"`{event.subject}` writes to a frame's `f_locals`{via}: since 3.13 (PEP 667) this is "
                   "a write-through proxy, so the write now changes the variable in that frame (before 3.13 it "
                   "was lost unless followed by `PyFrame_LocalsToFast`)")


class CtypesFrameLocalsSync(ScopeSubscriber, Rule):
    code = "FT503"
    applies_to = Applies(since=PEP667)  # before 3.13 the sync call did what the code expects
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

    def wants(self, event: events.ScopeEvent) -> bool:
        return not old_only(event.versions)

    @handles(events.CtypesFrameSync)
    def on_sync(self, ctx: FileContext, event: events.CtypesFrameSync) -> None:
        if event.subject == "PyFrame_LocalsToFast":
            effect = ("writes to `frame.f_locals` now reach the variables by themselves, and a dict it was meant "
                      "to copy from is no longer the frame's")
        else:
            effect = "`frame.f_locals` is a live proxy now, and code expecting a refreshed dict snapshot breaks"
        ctx.report(event.node, f"`{event.subject}` through ctypes does nothing since 3.13 (PEP 667): {effect}")


# -- FT502: frames the code itself shows to be a class body or a module -------------------------------------
#
# PEP 667 changed `f_locals` only for optimized scopes (functions, lambdas, comprehensions): a class body's,
# a module's and an `exec`/`eval` frame's `f_locals` is still the namespace mapping itself. Class advisors
# (`implements(...)` called in a class body, reaching it with `sys._getframe(1)`) check that before writing.

_CLASS_KEYS = frozenset({"__module__", "__qualname__"})  # set by the compiler at the top of every class body
_CODE_FLAGS = frozenset({"CO_OPTIMIZED", "CO_NEWLOCALS"})  # set for function-like code, never for a class body
_CURRENT_FRAME = re.compile(r"^(?:[\w.]+\.)?(?:_getframe\((?:0)?\)|currentframe\(\))$")
# "can be used only from a class definition", "must be called in a class body"; not "cannot ... class body".
_CLASS_ONLY = re.compile(r"(?i)\b(?:only|must)\b.*\bclass (?:definition|body|statement|block|scope|namespace)")
_NEGATED = re.compile(r"(?i)\b(?:not|cannot|never|outside)\b|n't\b")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Module,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_Position = tuple[int, int]


def _start(node: ast.expr | ast.stmt) -> _Position:
    return node.lineno, node.col_offset


def _end(node: ast.expr | ast.stmt) -> _Position:
    return node.end_lineno or node.lineno, node.end_col_offset or 0


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes that run in ``scope``'s own frame: nested functions, classes and comprehensions left out."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))


class _NamespaceFrames:
    """Decides, for one file, which FT502 events go through the ``f_locals`` of a frame the code shows not to be a
    function's: taken in a module or class body by ``sys._getframe()``, or written only after a test that a
    function frame fails (``'__module__' in f_locals``, ``f_locals is frame.f_globals``, ``co_name ==
    '<module>'``, no ``CO_OPTIMIZED`` flag) or a guard raising "can be used only from a class definition"."""

    def __init__(self, parents: dict[ast.AST, ast.AST]) -> None:
        self.parents = parents

    def namespace(self, change: events.FrameLocalsMutation) -> bool:
        if not change.f_locals.endswith(".f_locals"):
            return False
        chain: list[ast.AST] = [change.node]
        while not isinstance(chain[-1], _SCOPES):
            parent = self.parents.get(chain[-1])
            if parent is None:
                return False
            chain.append(parent)
        facts = _FrameFacts(chain[-1], change.f_locals[: -len(".f_locals")], change.f_locals)
        if isinstance(chain[-1], (ast.Module, ast.ClassDef)) and facts.current_frame():
            return True
        write = _start(change.node)
        return any(facts.guards(child, parent, write) for child, parent in pairwise(chain))


class _FrameFacts:
    """What one scope says about one frame expression (``frame``, ``sys._getframe(1)``) and its ``f_locals``."""

    def __init__(self, scope: ast.AST, frame: str, f_locals: str) -> None:
        self.frame, self.f_locals = frame, f_locals
        stores: dict[str, list[ast.Name]] = {}
        values: dict[str, list[ast.expr | None]] = {}
        for node in _own_nodes(scope):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                stores.setdefault(node.id, []).append(node)
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                values.setdefault(node.targets[0].id, []).append(node.value)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Name):
                        values.setdefault(target.id, []).append(None)  # bound, but not simply
        # Names bound once, to a known expression: `has_module = '__module__' in f_locals` is that test.
        self.single = {name: found[0] for name, found in values.items()
                       if len(found) == 1 and found[0] is not None and len(stores.get(name, ())) == 1}
        self.locals_names = {name for name, value in self.single.items()
                             if isinstance(value, ast.Attribute) and value.attr == "f_locals"
                             and source(value) == f_locals}
        self.globals_names = {name for name, value in self.single.items()
                              if isinstance(value, ast.Attribute) and value.attr == "f_globals"
                              and source(value.value) == frame}
        self.stores = stores
        self.values = values

    # -- where the frame comes from ---------------------------------------------------------------------------
    def current_frame(self) -> bool:
        """``sys._getframe()`` / ``inspect.currentframe()`` run in a module or class body: that body's frame."""
        if _CURRENT_FRAME.match(self.frame):
            return True
        found = self.values.get(self.frame, [])
        return (bool(found) and len(self.stores.get(self.frame, ())) == len(found)
                and all(value is not None and _CURRENT_FRAME.match(source(value)) for value in found))

    # -- guards -----------------------------------------------------------------------------------------------
    def guards(self, child: ast.AST, parent: ast.AST, write: _Position) -> bool:
        """True when ``child`` (on the way from the write up to its scope) only runs once a test of ``parent``,
        or of a statement before ``child`` in ``parent``, has shown the frame is not a function's."""
        if isinstance(parent, (ast.If, ast.While, ast.IfExp)) and child is not parent.test:
            return self.holds(parent.test, child in _as_list(parent.body), write)
        if isinstance(parent, ast.BoolOp) and child in parent.values:
            earlier = parent.values[: parent.values.index(child)]
            return any(self.holds(value, isinstance(parent.op, ast.And), write) for value in earlier)
        for field in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(parent, field, None)
            if isinstance(block, list) and child in block:
                return any(self.statement_guards(statement, write) for statement in block[: block.index(child)])
        return False

    def statement_guards(self, statement: ast.stmt, write: _Position) -> bool:
        if isinstance(statement, ast.Assert):
            return self.holds(statement.test, True, write)
        if not isinstance(statement, ast.If):
            return False
        if terminates(statement.body) and not terminates(statement.orelse):
            return self.holds(statement.test, False, write) or self.class_only_error(statement, write)
        if terminates(statement.orelse) and not terminates(statement.body):
            return self.holds(statement.test, True, write)
        return False

    def holds(self, test: ast.expr, truth: bool, write: _Position) -> bool:
        """``test`` evaluating to ``truth`` shows a namespace frame, and nothing rebinds the frame or its
        ``f_locals`` alias between the test and the write."""
        return self.implies(test, truth) and not self.rebound(_end(test), write)

    def rebound(self, after: _Position, before: _Position) -> bool:
        names = {self.frame, *self.locals_names} if self.frame.isidentifier() else set(self.locals_names)
        return any(after <= _start(node) < before for name in names for node in self.stores.get(name, ()))

    def class_only_error(self, guard: ast.If, write: _Position) -> bool:
        """``if <test of this frame>: raise TypeError("... can be used only from a class definition")``."""
        error = guard.body[-1]
        if not isinstance(error, ast.Raise) or error.exc is None or not self.mentions(guard.test):
            return False
        text = " ".join(node.value for node in ast.walk(error.exc)
                        if isinstance(node, ast.Constant) and isinstance(node.value, str))
        return (bool(_CLASS_ONLY.search(text)) and not _NEGATED.search(text)
                and not self.rebound(_end(guard.test), write))

    def mentions(self, test: ast.expr) -> bool:
        names = {self.frame, *self.locals_names, *self.globals_names}
        return any((isinstance(node, ast.Name) and node.id in names) or source(node) in (self.frame, self.f_locals)
                   for node in ast.walk(test) if isinstance(node, (ast.Name, ast.Attribute, ast.Call)))

    def implies(self, test: ast.expr, truth: bool, depth: int = 0) -> bool:
        """Whether ``test`` evaluating to ``truth`` shows the frame is a class body, module or exec frame."""
        if depth > 8:
            return False
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return self.implies(test.operand, not truth, depth + 1)
        if isinstance(test, ast.BoolOp):
            results = [self.implies(value, truth, depth + 1) for value in test.values]
            # `a and b` true (or `a or b` false) fixes every operand: one telling operand is enough.
            return any(results) if isinstance(test.op, ast.And) == truth else all(results)
        if isinstance(test, ast.NamedExpr):
            return self.implies(test.value, truth, depth + 1)
        if isinstance(test, ast.Name) and test.id in self.single:
            return self.implies(self.single[test.id], truth, depth + 1)
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            return self.comparison(test.left, test.ops[0], test.comparators[0], truth)
        if self.optimized_flag(test):
            return not truth
        if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "get" \
                and self.is_locals(test.func.value) and len(test.args) == 1 and self.class_key(test.args[0]):
            return truth
        return False

    def comparison(self, left: ast.expr, op: ast.cmpop, right: ast.expr, truth: bool) -> bool:
        if isinstance(op, (ast.In, ast.NotIn)):
            return self.class_key(left) and self.is_locals(right) and truth == isinstance(op, ast.In)
        if isinstance(op, (ast.Is, ast.IsNot)):
            same = ((self.is_locals(left) and self.is_globals(right))
                    or (self.is_locals(right) and self.is_globals(left)))
            return same and truth == isinstance(op, ast.Is)  # only a module (or exec) frame shares the two
        if isinstance(op, (ast.Eq, ast.NotEq)):
            for one, other in ((left, right), (right, left)):
                if not isinstance(other, ast.Constant):
                    continue
                if (self.code_attribute(one, "co_name") and other.value == "<module>") or (
                        self.optimized_flag(one) and other.value == 0 and type(other.value) is int):
                    return truth == isinstance(op, ast.Eq)
        return False

    def class_key(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in _CLASS_KEYS

    def is_locals(self, node: ast.expr) -> bool:
        return (isinstance(node, ast.Name) and node.id in self.locals_names) or source(node) == self.f_locals

    def is_globals(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.globals_names
        return isinstance(node, ast.Attribute) and node.attr == "f_globals" and source(node.value) == self.frame

    def code_attribute(self, node: ast.expr, name: str) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == name and isinstance(node.value, ast.Attribute)
                and node.value.attr == "f_code" and source(node.value.value) == self.frame)

    def optimized_flag(self, node: ast.expr) -> bool:
        """``frame.f_code.co_flags & inspect.CO_OPTIMIZED`` (or ``CO_NEWLOCALS``): zero for a class body."""
        if not isinstance(node, ast.BinOp) or not isinstance(node.op, ast.BitAnd):
            return False
        for one, other in ((node.left, node.right), (node.right, node.left)):
            flag = other.attr if isinstance(other, ast.Attribute) else other.id if isinstance(other, ast.Name) else ""
            if flag in _CODE_FLAGS and self.code_attribute(one, "co_flags"):
                return True
        return False


def _as_list(body: object) -> list[object]:
    return body if isinstance(body, list) else [body]


def _explicit_namespace(call: str, name: str) -> str:
    """The fix for reading back what `exec`/`eval` bound: give it a namespace and read that."""
    return (f"Pass an explicit namespace and read from it: `ns = {{}}; {call}(code, globals(), ns); "
            f"{name} = ns[{name!r}]`.")
