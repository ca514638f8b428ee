"""FT504/FT505: Python code that leans on CPython runtime details changed by immortal objects and free threading.

Absolute reference counts stopped meaning anything stable with immortal objects (3.12) and borrowed stack
references (3.14); the switch interval only paces the GIL, which the free-threaded build does not have.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from ftaudit.analysis import python_events as events
from ftaudit.analysis.python_events import IMMORTAL_SINCE, old_only
from ftaudit.analysis.python_scopes import ScopeSubscriber, handles
from ftaudit.context import FileContext
from ftaudit.findings import Position, Severity
from ftaudit.rule import Example, Rule
from ftaudit.source import Language
from ftaudit.target import FREE_THREADED, Applies

PYTHON = frozenset({Language.PYTHON})
# `getrefcount(x) < 50` is a leak ceiling that lower counts (3.14's borrowed references) only make easier to
# meet; ceilings this small or smaller are "am I the only holder?" checks that lower counts break.
UNIQUENESS_CEILING = 5


def is_test_file(path: str) -> bool:
    parts = PurePosixPath(path.replace("\\", "/")).parts
    name = parts[-1] if parts else ""
    return (any(p in ("test", "tests", "testing") for p in parts[:-1]) or name.startswith("test_")
            or name.endswith("_test.py") or name == "conftest.py")


class RefcountAssumption(ScopeSubscriber, Rule):
    code = "FT504"
    applies_to = Applies(since=IMMORTAL_SINCE)  # before 3.12 no object was immortal
    slug = "refcount-assumption"
    summary = "sys.getrefcount compared with a fixed number or on an immortal object"
    severity = Severity.WARNING
    languages = PYTHON
    precision = "high"
    what = (
        "Finds comparisons (`==`, `!=`, `<`, `<=`, `>`, `>=`, and unittest's `assertEqual`/`assertLess`/… "
        "family) that involve `sys.getrefcount(x)` — directly, through an alias of the function, or through a "
        "name holding an earlier reading — when `x` is immortal since 3.12 (`None`, `True`, `False`, `...`, "
        "ints from -5 to 256, `()`, `''`, `b''`, one-character and identifier-like string literals, builtin "
        "types such as `int`), or when an absolute count (not a difference of two readings) is compared with a "
        "literal number — except a generous ceiling (`sys.getrefcount(a) < 50`, any upper bound above 5), which "
        "lower counts only make easier to meet; small ceilings (`<= 2`, the \"only holder\" check) are "
        "reported. Before/after deltas on an ordinary object are not findings. In test files an "
        "absolute threshold on an ordinary object is reported as a note: a test fails loudly, library code "
        "silently changes behaviour. An immortal's count used as a number — a `range()` bound or a sequence "
        "repetition (`range(sys.getrefcount(None) * 10)`, `[0] * n` where `n` holds such a count) — is an "
        "error: the count is about 2**32, so the loop or allocation does not end; the `getrefcount` call is "
        "a related location when the count was read earlier. Code that runs only before 3.12 is not reported: "
        "under `if sys.version_info < (3, 12):`, in a test skipped from 3.12 (`@pytest.mark.skipif`, "
        "`@unittest.skipIf`/`skipUnless` on a version test), or after an early exit taken where the object "
        "is immortal (`if before == sys.getrefcount(None): raise unittest.SkipTest(...)`, itself no finding)."
    )
    why = (
        "Since 3.12 (PEP 683) immortal objects have a fixed sentinel count that never moves, so a leak check on "
        "them tests nothing. Since 3.14 the interpreter skips reference-count updates where it can prove them "
        "unnecessary (borrowed stack references), so `sys.getrefcount(obj) == 2`-style checks give different "
        "answers on different versions, and the free-threaded build defers reference counting for some "
        "objects. The docs now say refcount values are not stable across versions."
    )
    instead = (
        "Compare deltas on a freshly created private object (`before = sys.getrefcount(obj)` … "
        "`sys.getrefcount(obj) - before`), check lifetimes with `weakref.ref` / `gc.collect()`, and ask "
        "`sys._is_immortal(x)` (3.14+) instead of inferring immortality from a huge count."
    )
    suggestion = ("Compare before/after deltas on a fresh object, use `weakref` for lifetimes, or "
                  "`sys._is_immortal()` (3.14+); do not rely on absolute counts.")
    references = ("https://peps.python.org/pep-0683/", "https://docs.python.org/3/library/sys.html#sys.getrefcount",
                  "https://docs.python.org/3/library/sys.html#sys._is_immortal",
                  "https://docs.python.org/3/whatsnew/3.14.html", "https://docs.python.org/3/glossary.html#term-immortal")
    tags = ("pep-683", "python-3.12", "python-3.14", "refcount", "free-threading")
    bad = (
        Example(
            "import sys\n"
            "\n"
            "def check_no_leak(run):\n"
            "    before = sys.getrefcount(None)\n"
            "    run()\n"
            "    assert sys.getrefcount(None) == before  # <- FT504\n",
            title="None is immortal: its count never changes",
        ),
        Example(
            "from sys import getrefcount\n"
            "\n"
            "def can_reuse(buffer):\n"
            "    return getrefcount(buffer) <= 2  # <- FT504\n",
            title="An absolute threshold in library code",
        ),
        Example(
            "import sys\n"
            "import unittest\n"
            "\n"
            "class Test(unittest.TestCase):\n"
            "    def test_empty(self):\n"
            "        self.assertGreater(sys.getrefcount(()), 1)  # <- FT504\n",
        ),
        Example(
            "import sys\n"
            "\n"
            "def stress():\n"
            "    for _ in range(sys.getrefcount(None) * 10):  # <- FT504\n"
            "        pass\n",
            title="An immortal's count as a loop bound: about 2**32 × 10 rounds",
        ),
    )
    good = (
        Example(
            "import sys\n"
            "\n"
            "def check_no_leak(run):\n"
            "    obj = object()\n"
            "    before = sys.getrefcount(obj)\n"
            "    run(obj)\n"
            "    assert sys.getrefcount(obj) == before\n"
            "    assert sys.getrefcount(obj) - before == 0\n",
            title="Deltas on a fresh private object",
        ),
        Example(
            "import sys\n"
            "\n"
            "def debug(obj):\n"
            "    print('refs:', sys.getrefcount(obj))\n"
            "    return sys.getrefcount(obj) > len([obj])\n",
            title="Reporting, and comparisons with non-literal values",
        ),
        Example(
            "import weakref\n"
            "\n"
            "def check_freed(make):\n"
            "    ref = weakref.ref(make())\n"
            "    assert ref() is None\n",
        ),
    )

    def wants(self, event: events.ScopeEvent) -> bool:
        return not old_only(event.versions, IMMORTAL_SINCE)

    @handles(events.ImmortalRefcountAsNumber)
    def on_number(self, ctx: FileContext, event: events.ImmortalRefcountAsNumber) -> None:
        line = event.read_at
        related = () if line in (0, event.node.lineno) else (ctx.related(
            (Position(line, 1), Position(line, 1)), f"the count of `{event.immortal}` is read here"),)
        ctx.report(event.node, f"`{event.subject}` uses the reference count of `{event.immortal}` as a number: "
                   f"`{event.immortal}` is immortal since 3.12 (PEP 683) and its count is a fixed sentinel "
                   "(about 2**32 on 64-bit builds), so this loops or allocates billions of times",
                   severity=Severity.ERROR, related=related,
                   help="Use the number you mean (a constant, len(...)); to test immortality ask "
                        "`sys._is_immortal(x)` (3.14+).")

    @handles(events.ImmortalRefcountComparison)
    def on_immortal(self, ctx: FileContext, event: events.ImmortalRefcountComparison) -> None:
        ctx.report(event.node, f"`{event.subject}` reads the reference count of `{event.immortal}`, which is immortal "
                   "since 3.12 (PEP 683): its count is a fixed sentinel that never changes, so this "
                   "comparison tests nothing",
                   help="Measure a freshly created private object instead, or ask `sys._is_immortal(x)` "
                        "(3.14+).")

    @handles(events.AbsoluteRefcountComparison)
    def on_threshold(self, ctx: FileContext, event: events.AbsoluteRefcountComparison) -> None:
        if event.ceiling is not None and event.ceiling > UNIQUENESS_CEILING:
            return  # a generous ceiling: lower counts only make it easier to meet
        ctx.report(event.node, f"`{event.subject}` compares an absolute reference count with `{event.limit}`: "
                   "counts differ between CPython versions and builds (immortal objects in 3.12, borrowed "
                   "stack references in 3.14, deferred reference counting on free-threaded builds)",
                   severity=Severity.NOTE if is_test_file(ctx.source.display) else None)


class SwitchIntervalReliance(ScopeSubscriber, Rule):
    code = "FT505"
    applies_to = FREE_THREADED  # with the GIL the switch interval still paces the threads
    slug = "switch-interval-reliance"
    summary = "sys.setswitchinterval used to force or prevent thread interleaving"
    severity = Severity.NOTE
    languages = PYTHON
    precision = "medium"
    what = (
        "Finds calls to `sys.setswitchinterval(...)` and uses of `sys.getswitchinterval()` (e.g. "
        "`time.sleep(sys.getswitchinterval())`) when the target is a free-threaded build. Saving the current "
        "interval (`old = sys.getswitchinterval()`) and putting it back (`sys.setswitchinterval(old)`, also "
        "through `self.old`) are not findings: only the call that changes the interval is."
    )
    why = (
        "The switch interval only says how often the thread holding the GIL is asked to hand it over. On the "
        "free-threaded build there is no GIL: threads run truly in parallel whatever the interval, so a tiny "
        "interval no longer provokes interleavings (stress tests lose their power) and a huge one no longer "
        "keeps a critical section atomic."
    )
    instead = (
        "Use real synchronisation: `threading.Lock`/`RLock` for mutual exclusion, `threading.Event`, "
        "`Condition` or `Barrier` to order threads or make them start together; stress tests can use "
        "`threading.Barrier` plus many iterations instead of a tiny switch interval."
    )
    suggestion = ("Use real synchronisation (`threading.Lock`, `Event`, `Barrier`): the switch interval has no "
                  "effect on the free-threaded build.")
    references = ("https://docs.python.org/3/library/sys.html#sys.setswitchinterval",
                  "https://docs.python.org/3/howto/free-threading-python.html", "https://peps.python.org/pep-0703/")
    tags = ("free-threading", "threads", "testing")
    bad = (
        Example(
            "import sys\n"
            "import threading\n"
            "\n"
            "def stress(worker):\n"
            "    old = sys.getswitchinterval()\n"
            "    sys.setswitchinterval(1e-6)  # <- FT505\n"
            "    try:\n"
            "        threads = [threading.Thread(target=worker) for _ in range(8)]\n"
            "        for t in threads:\n"
            "            t.start()\n"
            "    finally:\n"
            "        sys.setswitchinterval(old)\n",
            title="A tiny interval to provoke races",
        ),
        Example(
            "import time\n"
            "from sys import getswitchinterval\n"
            "\n"
            "def let_others_run():\n"
            "    time.sleep(getswitchinterval())  # <- FT505\n",
            title="Sleeping one interval to let another thread run",
        ),
    )
    good = (
        Example(
            "import threading\n"
            "\n"
            "def stress(worker):\n"
            "    barrier = threading.Barrier(8)\n"
            "    threads = [threading.Thread(target=worker, args=(barrier,)) for _ in range(8)]\n"
            "    for t in threads:\n"
            "        t.start()\n",
            title="A barrier lines the threads up",
        ),
        Example(
            "import sys\n"
            "\n"
            "def stress(worker):\n"
            "    sys.setswitchinterval(1e-6)\n",
            target="3.13", title="Targeting a GIL build, where the interval still paces the GIL",
        ),
        Example(
            "class Scheduler:\n"
            "    def setswitchinterval(self, seconds):\n"
            "        self.interval = seconds\n"
            "\n"
            "Scheduler().setswitchinterval(5)\n",
            title="Not the sys function",
        ),
    )

    @handles(events.SwitchIntervalSet)
    def on_set(self, ctx: FileContext, event: events.SwitchIntervalSet) -> None:
        if event.restores_saved:
            return  # putting back the interval saved earlier
        ctx.report(event.node, f"`{event.subject}` changes how often the GIL is handed over; the free-threaded build "
                   "has no GIL, so this neither forces nor prevents thread interleaving there")

    @handles(events.SwitchIntervalGet)
    def on_get(self, ctx: FileContext, event: events.SwitchIntervalGet) -> None:
        if event.saved or event.in_set:
            return  # saved to be put back, or part of a set reported as one finding
        ctx.report(event.node, f"`{event.subject}` is used as a timing assumption about GIL hand-overs; on the "
                   "free-threaded build threads run in parallel regardless of the switch interval")
