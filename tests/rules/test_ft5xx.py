"""FT501–FT505 through the CLI: fixtures with exact lines and severities, version guards, name resolution."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest
from support import REPO, run, write_tree

from ftaudit.analysis.python_scopes import analyse

FIXTURES = REPO / "fixtures" / "python"
MARK = re.compile(r"(?<!`)#\s*(FT50\d|ok)\b")  # a code comment, not the docstring's `# FT501`

Found = list[tuple[str, int, str]]


def scan(path: Path, cwd: Path, *extra: str) -> Found:
    result = run(["scan", str(path), "--isolated", "--select", "FT5", "--output-format", "json", *extra], cwd)
    assert result.exit_code in (0, 1), result.output
    return [(f["code"], f["location"]["row"], f["severity"]) for f in json.loads(result.stdout)]


def scan_source(tmp_path: Path, text: str, *extra: str, name: str = "m.py") -> Found:
    write_tree(tmp_path, {name: text})
    return scan(tmp_path / name, tmp_path, *extra)


def lines(found: Found) -> list[tuple[str, int]]:
    return [(code, line) for code, line, _ in found]


# -- fixtures: exact findings ----------------------------------------------------------------------------

def test_debugger_helper() -> None:
    assert scan(FIXTURES / "debugger_helper.py", REPO) == [
        ("FT502", 29, "warning"),  # annotated types.FrameType parameter, no copy-back
        ("FT503", 45, "error"),  # api = ctypes.pythonapi (the write before it is not FT502: it is copied back)
        ("FT503", 49, "error"),  # PyFrame_FastToLocalsWithError
        ("FT502", 71, "warning"),  # deleting through the proxy, in a bdb.Bdb hook
        ("FT502", 75, "warning"),  # self.curframe in a Bdb subclass
        ("FT502", 77, "note"),  # isinstance(<f_locals alias>, dict)
        ("FT502", 87, "warning"),  # trace function (frame, event, arg)
        ("FT502", 96, "warning"),  # alias of tb.tb_frame.f_locals
    ]


def test_template_engine() -> None:
    assert scan(FIXTURES / "template_engine.py", REPO) == [
        ("FT501", 22, "warning"),  # locals().update(...)
        ("FT501", 29, "warning"),  # ctx = locals(); ctx[...] = ...
        ("FT501", 30, "warning"),  # del ctx[...]
        ("FT501", 35, "warning"),  # exec literal, read back through locals()[...]
        ("FT501", 51, "warning"),  # bare locals() to refresh a snapshot
    ]


def test_library_refcount_thresholds_are_warnings() -> None:
    assert scan(FIXTURES / "buffer_pool.py", REPO) == [("FT504", 11, "warning"), ("FT504", 19, "warning")]


def test_test_suite_refcounts() -> None:
    assert scan(FIXTURES / "tests" / "test_refcounts.py", REPO) == [
        ("FT504", 22, "warning"),  # immortal None: always a warning
        ("FT504", 27, "note"),  # absolute threshold on a fresh object, in a test file
        ("FT504", 33, "warning"),
        ("FT504", 36, "warning"),
    ]


def test_thread_stress() -> None:
    assert scan(FIXTURES / "thread_stress.py", REPO) == [
        ("FT505", 14, "note"), ("FT505", 22, "note"), ("FT505", 34, "note"),
    ]


def test_class_body_advice() -> None:
    """Advisors that check for a class body write to its namespace dict, which PEP 667 left alone."""
    assert scan(FIXTURES / "ft502_class_advice.py", REPO) == [
        ("FT502", 54, "warning"),  # the guard refuses class bodies: what is left is a function frame
        ("FT502", 60, "warning"),  # written only when `'__module__' not in` the namespace
        ("FT502", 64, "warning"),  # no evidence of which frame
    ]


def test_module_frames() -> None:
    assert scan(FIXTURES / "ft502_module_frames.py", REPO) == [
        ("FT502", 25, "warning"),  # the `else` of `co_name == '<module>'`
        ("FT502", 37, "warning"),  # a caller's frame, no test
        ("FT502", 44, "warning"),  # sys._getframe(1) at module level: the importer's frame
    ]


@pytest.mark.parametrize("name", ["non_findings.py", "shadowed_builtins.py"])
def test_non_findings(name: str) -> None:
    assert scan(FIXTURES / name, REPO) == []


def test_fixture_marks_agree_with_findings() -> None:
    """Every `# FT50x` comment in the fixtures is a finding on that line, every `# ok` line is silent."""
    found = {(Path(f["filename"]).name, f["location"]["row"], f["code"])
             for f in json.loads(run(["scan", str(FIXTURES), "--isolated", "--select", "FT5", "--output-format",
                                      "json"], REPO).stdout)}
    expected, silent = set(), set()
    for path in FIXTURES.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for mark in MARK.findall(line):
                (silent if mark == "ok" else expected).add((path.name, number, mark))
    assert found == expected
    assert not {(name, line) for name, line, _ in found} & {(name, line) for name, line, _ in silent}


# -- FT501 details ---------------------------------------------------------------------------------------

def test_locals_scopes(tmp_path: Path) -> None:
    src = (
        "def outer():\n"
        "    def inner():\n"
        "        locals()['a'] = 1\n"            # 3 nested function
        "    f = lambda: vars().clear()\n"       # 4 lambda
        "    return [locals().pop('x') for x in range(3)]\n"  # 5 comprehension in a function
        "class C:\n"
        "    locals()['b'] = 2\n"                # 7 class body: fine
        "    def m(self):\n"
        "        locals()['c'] = 3\n"            # 9 method
        "    data = [vars().update() for _ in ()]\n"  # 10 comprehension in a class body: fine
        "g = [locals().clear() for _ in ()]\n"  # 11 module-level comprehension: fine
    )
    assert lines(scan_source(tmp_path, src)) == [("FT501", 3), ("FT501", 4), ("FT501", 5), ("FT501", 9)]


def test_locals_alias_follows_reassignment(tmp_path: Path) -> None:
    src = (
        "def f(extra):\n"
        "    ns = locals()\n"
        "    ns.update(extra)\n"       # 3 finding
        "    ns = dict(ns)\n"
        "    ns.update(extra)\n"       # 5 a private copy now
        "    other = locals().copy()\n"
        "    other['x'] = 1\n"         # 7 a copy
        "    ns2 = ns3 = vars()\n"
        "    ns3.popitem()\n"          # 9 finding
        "    return ns, other, ns2\n"
    )
    assert lines(scan_source(tmp_path, src)) == [("FT501", 3), ("FT501", 9)]


@pytest.mark.parametrize(("shadow", "reported"), [
    ("", True),
    ("locals = dict\n", False),  # module-level assignment
    ("from mylib import locals\n", False),  # import
    ("def locals():\n    return {}\n", False),  # def
    ("def setup():\n    global locals\n    locals = dict\n", False),  # global in a function
    ("import builtins\nlocals = builtins.locals\n", True),  # an alias of the builtin is the builtin
])
def test_locals_shadowing(tmp_path: Path, shadow: str, reported: bool) -> None:
    src = shadow + "def f():\n    locals()['x'] = 1\n"
    assert bool(scan_source(tmp_path, src)) is reported


def test_exec_eval_implicit_namespace(tmp_path: Path) -> None:
    src = (
        "CODE = 'total = 1'\n"
        "def a():\n"
        "    exec('x = 1')\n"                      # 3: read as a variable
        "    return x\n"
        "def b():\n"
        "    exec('y = 2', globals(), locals())\n"  # 6: an explicit locals() is still a snapshot
        "    return eval('y * 2')\n"
        "def c():\n"
        "    exec(CODE)\n"                          # 9: a module constant holds the literal
        "    return locals()['total']\n"
        "def d():\n"
        "    print(z)\n"                            # a read before the exec does not count
        "    exec('z = 1')\n"
        "def e(code):\n"
        "    exec(code)\n"                          # not a literal: unknown names
        "    return w\n"
        "def g():\n"
        "    exec('v = 1', {})\n"                   # one explicit dict serves as both namespaces
        "    return v\n"
        "def h():\n"
        "    return eval('(u := 3)') + u\n"         # 21: walrus in eval; the read comes after the call
    )
    assert lines(scan_source(tmp_path, src)) == [("FT501", 3), ("FT501", 6), ("FT501", 9), ("FT501", 21)]


# -- FT502 / FT503 details -------------------------------------------------------------------------------

def test_frame_producing_expressions(tmp_path: Path) -> None:
    src = (
        "import sys, inspect, traceback\n"
        "from sys import _getframe\n"
        "from inspect import currentframe as cf\n"
        "def f(gen):\n"
        "    _getframe().f_locals['a'] = 1\n"                  # 5
        "    cf().f_back.f_back.f_locals['b'] = 2\n"           # 6
        "    inspect.stack()[1][0].f_locals.clear()\n"         # 7
        "    gen.gi_frame.f_locals.update(c=3)\n"              # 8
        "    for info in inspect.stack():\n"
        "        info.frame.f_locals.pop('d', None)\n"         # 10
        "    for frame, lineno in traceback.walk_stack(None):\n"
        "        frame.f_locals['e'] = lineno\n"               # 12
        "    for tid, frame in sys._current_frames().items():\n"
        "        del frame.f_locals['g']\n"                    # 14
        "    frame = sys._getframe(1)\n"
        "    frame = frame.f_back\n"
        "    frame.f_locals.__setitem__('h', 1)\n"             # 17
        "    if type(frame.f_locals) == dict:\n"               # 18 note
        "        pass\n"
        "    fl = frame.f_locals\n"
        "    fl |= {'i': 1}\n"                                 # 21
    )
    found = scan_source(tmp_path, src)
    assert lines(found) == [("FT502", n) for n in (5, 6, 7, 8, 10, 12, 14, 17, 18, 21)]
    assert [sev for _, line, sev in found if line == 18] == ["note"]


ADVISOR = "import inspect\nimport sys\ndef advise(name, value):\n    frame = sys._getframe(1)\n"
WRITE = "frame.f_locals[name] = value\n"


@pytest.mark.parametrize(("guard", "reported"), [
    # Tests only a class body (or module / exec frame) passes: writes after them reach a namespace dict.
    (f"if '__module__' not in frame.f_locals:\n    raise TypeError('class only')\n{WRITE}", False),
    ("ns = frame.f_locals\nif ns is frame.f_globals or '__module__' not in ns:\n    raise TypeError\n"
     "ns[name] = value\n", False),
    (f"if '__qualname__' in frame.f_locals:\n    {WRITE}", False),
    (f"assert '__module__' in frame.f_locals\n{WRITE}", False),
    (f"if frame.f_locals.get('__module__'):\n    {WRITE}", False),
    (f"if frame.f_locals is frame.f_globals:\n    {WRITE}", False),
    (f"g = frame.f_globals\nif frame.f_locals is not g:\n    return\n{WRITE}", False),
    (f"if frame.f_code.co_name != '<module>':\n    return\n{WRITE}", False),
    (f"if not frame.f_code.co_flags & inspect.CO_OPTIMIZED:\n    {WRITE}", False),
    (f"if frame.f_code.co_flags & CO_NEWLOCALS == 0:\n    {WRITE}", False),
    (f"in_class = '__module__' in frame.f_locals\nif not in_class:\n    return\n{WRITE}", False),
    ("'__module__' in frame.f_locals and frame.f_locals.update(x=1)\n", False),
    (f"if not ok(frame):\n    raise TypeError(name + ' can be used only from a class definition')\n{WRITE}", False),
    ("for key in ('a', 'b'):\n    if '__module__' not in frame.f_locals:\n        continue\n"
     "    frame.f_locals[key] = value\n", False),
    # Tests a function frame passes, or that prove nothing: still reported.
    (WRITE, True),
    (f"if '__module__' in frame.f_locals:\n    raise TypeError('not in a class body')\n{WRITE}", True),
    (f"if '__module__' in frame.f_locals:\n    pass\nelse:\n    {WRITE}", True),
    (f"if '__module__' not in frame.f_locals:\n    {WRITE}", True),
    (f"if frame.f_locals is not frame.f_globals:\n    {WRITE}", True),
    (f"if '__module__' in frame.f_locals or name:\n    {WRITE}", True),
    (f"if '__name__' in frame.f_locals:\n    {WRITE}", True),
    (f"if '__module__' in other.f_locals:\n    {WRITE}", True),
    (f"if frame.f_code.co_flags & inspect.CO_OPTIMIZED:\n    {WRITE}", True),
    (f"if '__module__' not in frame.f_locals:\n    log('no class')\n{WRITE}", True),  # no exit
    (f"if not ok(frame):\n    raise TypeError('cannot be used from a class definition')\n{WRITE}", True),
    (f"if not ok(name):\n    raise TypeError('can be used only from a class definition')\n{WRITE}", True),
    (f"if '__module__' not in frame.f_locals:\n    raise TypeError\nframe = frame.f_back\n{WRITE}", True),
    (f"if '__module__' not in frame.f_locals:\n    raise TypeError\ndef later():\n    {WRITE}", True),
])
def test_class_and_module_frame_evidence(tmp_path: Path, guard: str, reported: bool) -> None:
    body = "".join(f"    {line}\n" for line in guard.splitlines())
    found = scan_source(tmp_path, ADVISOR + body)
    assert [code for code, _, _ in found] == (["FT502"] if reported else [])


def test_frames_of_module_and_class_bodies(tmp_path: Path) -> None:
    src = (
        "import inspect\n"
        "import sys\n"
        "here = sys._getframe()\n"
        "here.f_locals['a'] = 1\n"                         # module frame: its globals
        "inspect.currentframe().f_locals.pop('here')\n"    # a deletion there too
        "sys._getframe(0).f_locals.update(b=2)\n"
        "sys._getframe(1).f_locals['c'] = 3\n"             # 7: the importer's frame
        "[sys._getframe().f_locals.update(d=4) for _ in 'x']\n"  # 8: a comprehension: not shown to be a body
        "class Settings:\n"
        "    sys._getframe().f_locals['e'] = 5\n"          # the class body's frame
        "    def method(self):\n"
        "        sys._getframe().f_locals['f'] = 6\n"      # 12: the method's frame
        "        frame = sys._getframe()\n"
        "        frame.f_locals['g'] = 7\n"                # 14
        "moved = sys._getframe()\n"
        "moved = moved.f_back\n"
        "moved.f_locals['h'] = 8\n"                        # 17: rebound to another frame
    )
    assert lines(scan_source(tmp_path, src)) == [("FT502", n) for n in (7, 8, 12, 14, 17)]


def test_ctypes_pythonapi_resolution(tmp_path: Path) -> None:
    src = (
        "import ctypes as c\n"
        "from ctypes import pythonapi\n"
        "def f(frame):\n"
        "    import ctypes\n"
        "    api = ctypes.pythonapi\n"
        "    api.PyFrame_LocalsToFast(c.py_object(frame), 0)\n"                # 6
        "    pythonapi.PyFrame_FastToLocals(c.py_object(frame))\n"             # 7
        "    getattr(c.pythonapi, 'PyFrame_LocalsToFast')(frame, 0)\n"         # 8
        "    sync = c.pythonapi.PyFrame_FastToLocalsWithError\n"
        "    sync(c.py_object(frame))\n"                                       # 10
        "    other.pythonapi.PyFrame_LocalsToFast(frame, 0)\n"                 # not ctypes
    )
    assert lines(scan_source(tmp_path, src)) == [("FT503", 6), ("FT503", 7), ("FT503", 8), ("FT503", 10)]


def test_star_import_of_ctypes(tmp_path: Path) -> None:
    src = "from ctypes import *\ndef f(frame):\n    pythonapi.PyFrame_LocalsToFast(py_object(frame), c_int(0))\n"
    assert lines(scan_source(tmp_path, src)) == [("FT503", 3)]


CALL = "    ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))\n"


@pytest.mark.parametrize(("guard", "reported"), [
    ("if sys.version_info < (3, 13):\n" + CALL, False),
    ("if sys.version_info >= (3, 13):\n    pass\nelse:\n" + CALL, False),
    ("if sys.version_info[:2] <= (3, 12):\n" + CALL, False),
    ("if sys.version_info <= (3, 13):\n" + CALL, False),  # the full tuple is > (3, 13) on any 3.13.x
    ("if sys.version_info.minor < 13:\n" + CALL, False),
    ("if not sys.version_info >= (3, 13):\n" + CALL, False),
    ("if (3, 13) > sys.version_info:\n" + CALL, False),
    ("if PY313:\n    pass\nelse:\n" + CALL, False),
    ("if sys.version_info >= (3, 13):\n    return\n" + CALL.strip() + "\n", False),  # early return
    ("if sys.version_info >= (3, 12):\n    pass\nelse:\n" + CALL, False),
    ("if sys.version_info < (3, 13) and frame is not None:\n" + CALL, False),
    ("if sys.version_info < (3, 14):\n" + CALL, True),  # runs on 3.13 too
    ("if sys.version_info[:2] <= (3, 13):\n" + CALL, True),
    ("if sys.version_info > (3, 12):\n" + CALL, True),
    ("if sys.version_info >= (3, 13):\n" + CALL, True),
    ("if sys.version_info < (3, 13) or frame is None:\n" + CALL, True),
    ("if sys.platform == 'win32':\n" + CALL, True),
    (CALL.strip() + "\n", True),
])
def test_version_guards(tmp_path: Path, guard: str, reported: bool) -> None:
    body = "".join(f"    {line}\n" for line in guard.splitlines())
    src = ("import ctypes\nimport sys\nPY313 = sys.version_info >= (3, 13)\n"
           f"def set_local(frame):\n{body}")
    found = scan_source(tmp_path, src)
    assert [code for code, _, _ in found] == (["FT503"] if reported else [])


def test_guarded_definitions(tmp_path: Path) -> None:
    src = (
        "import sys\n"
        "if sys.version_info < (3, 13):\n"
        "    def inject(name, value):\n"
        "        sys._getframe(1).f_locals[name] = value\n"   # the whole function is pre-3.13 only
        "        locals()['x'] = 1\n"
        "else:\n"
        "    def inject(name, value):\n"
        "        sys._getframe(1).f_locals[name] = value\n"   # 3.13+ only: the proxy on purpose
        "        locals()['x'] = 1\n"                         # 9: still broken on 3.13+
    )
    assert lines(scan_source(tmp_path, src)) == [("FT501", 9)]


# -- FT504 / FT505 details -------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "reported"), [
    ("sys.getrefcount(None) == 1", True),
    ("sys.getrefcount(True) > 1", True),
    ("sys.getrefcount(...) != before", True),
    ("sys.getrefcount(256) == before", True),
    ("sys.getrefcount(257) == before", False),
    ("sys.getrefcount(-5) == before", True),
    ("sys.getrefcount('') == before", True),
    ("sys.getrefcount('a') == before", True),
    ("sys.getrefcount('name') == before", True),  # interned identifier literal
    ("sys.getrefcount('two words') == before", False),
    ("sys.getrefcount(b'') == before", True),
    ("sys.getrefcount(()) == before", True),
    ("sys.getrefcount(int) == before", True),  # static builtin type
    ("sys.getrefcount(obj) == 2", True),
    ("2 < sys.getrefcount(obj)", True),
    ("sys.getrefcount(obj) - 1 == 1", True),
    ("sys.getrefcount(obj) == before", False),
    ("sys.getrefcount(obj) - before == 1", False),
    ("sys.getrefcount(obj) > limit", False),
    ("sys.getrefcount(obj) < 50", False),  # a generous leak ceiling: lower counts only make it easier
    ("50 > sys.getrefcount(obj)", False),
    ("sys.getrefcount(obj) <= 3", True),  # "am I the only holder?": lower counts break it
    ("3 >= sys.getrefcount(obj)", True),
    ("sys.getrefcount(obj) > 100", True),  # a lower bound breaks when counts drop
    ("sys.getrefcount(obj) in (2, 3)", False),
])
def test_refcount_comparisons(tmp_path: Path, expression: str, reported: bool) -> None:
    src = f"import sys\ndef f(obj, before, limit):\n    return {expression}\n"
    assert bool(scan_source(tmp_path, src)) is reported


def test_switch_interval_resolution(tmp_path: Path) -> None:
    src = (
        "import sys as system\n"
        "from sys import setswitchinterval as ssi\n"
        "def f(obj):\n"
        "    ssi(1e-6)\n"                                      # 4
        "    system.setswitchinterval(system.getswitchinterval() / 10)\n"  # 5, once
        "    obj.setswitchinterval(1)\n"                       # not sys
    )
    assert scan_source(tmp_path, src) == [("FT505", 4, "note"), ("FT505", 5, "note")]


# -- targets, diagnostics, suppression, help -------------------------------------------------------------

def test_target_version_gates_rules() -> None:
    def codes(target: str) -> set[str]:
        return {code for code, _, _ in scan(FIXTURES, REPO, "--target-version", target)}

    assert codes("3.14t") == {"FT501", "FT502", "FT503", "FT504", "FT505"}
    assert codes("3.13") == {"FT501", "FT502", "FT503", "FT504"}  # no GIL-less build: FT505 is moot
    assert codes("3.12") == {"FT501", "FT504"}  # f_locals is still a dict snapshot
    assert codes("3.11") == {"FT501"}  # no immortal objects yet


def test_unparsable_file_gets_a_diagnostic_and_the_scan_goes_on(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "broken.py": "def f(:\n    pass\n",
        "newer.py": "type Alias = list[int]\n",  # PEP 695: only 3.12+ parses it
        "ok.py": "import sys\nassert sys.getrefcount(None) == 1\n",
    })
    result = run(["scan", ".", "--isolated", "--select", "FT5", "--output-format", "json"], tmp_path)
    assert result.exit_code == 1
    assert [(f["filename"], f["code"]) for f in json.loads(result.stdout)] == [("ok.py", "FT504")]
    assert "broken.py" in result.stderr and "cannot be parsed by Python" in result.stderr
    assert ("newer.py" in result.stderr) is (sys.version_info < (3, 12))


def test_suppression_comments(tmp_path: Path) -> None:
    src = (
        "import sys\n"
        "def f():\n"
        "    locals()['x'] = 1  # noqa: FT501\n"
        "    sys._getframe(1).f_locals['y'] = 2  # ftaudit: ignore[FT502]\n"
        "    locals()['z'] = 3\n"
    )
    assert lines(scan_source(tmp_path, src)) == [("FT501", 5)]


def test_every_finding_has_versioned_help() -> None:
    result = run(["scan", str(FIXTURES), "--isolated", "--select", "FT5", "--output-format", "json"], REPO)
    findings = json.loads(result.stdout)
    assert findings
    for finding in findings:
        assert finding["help"], finding
        if finding["code"] in ("FT501", "FT502", "FT503"):
            assert "3.13" in finding["message"] + finding["help"], finding


def test_one_shared_walk_per_file() -> None:
    text = "def f():\n    locals()['x'] = 1\n"
    tree = ast.parse(text)
    assert analyse(tree, text) is analyse(tree, text)
    untouched = "def f():\n    return 1\n"
    assert analyse(ast.parse(untouched), untouched).hits == []


def test_equality_version_tests_guard_their_branch(tmp_path: Path) -> None:
    write_tree(tmp_path, {"t.py": (
        "import sys\n\n\n"
        "def check(obj):\n"
        "    if sys.version_info[:2] == (3, 11):\n"
        "        assert sys.getrefcount(obj) == 2\n"
        "    if sys.version_info.minor != 11:\n"
        "        pass\n"
        "    else:\n"
        "        assert sys.getrefcount(obj) == 2\n"
        "    assert sys.getrefcount(obj) == 2\n"
    )})
    result = run(["scan", ".", "--isolated", "--select", "FT504", "--output-format", "json"], tmp_path)
    # Lines 6 and 10 run only on 3.11, not on the 3.14t target; line 11 runs everywhere.
    assert [f["location"]["row"] for f in json.loads(result.stdout)] == [11]


def test_introspection_recall_cases() -> None:
    # An immortal's count used as a number (9: in range(); 15: list repetition, read at 14); deleting
    # from a function frame's f_locals (27, 28, 29: TypeError/ValueError/AttributeError on 3.13+); exec
    # into a snapshot that a later locals() is expected to hold (40).
    found = scan(FIXTURES / "introspection.py", REPO)
    assert found == [("FT504", 9, "error"), ("FT504", 15, "error"), ("FT502", 27, "warning"),
                     ("FT502", 28, "warning"), ("FT502", 29, "warning"), ("FT501", 40, "warning")]
    assert found == [(code, line, severity) for code, line, severity in found
                     if (code, line) in marked(FIXTURES / "introspection.py")]


def marked(path: Path) -> set[tuple[str, int]]:
    return {(m.group(1), number) for number, text in enumerate(path.read_text().splitlines(), start=1)
            for m in MARK.finditer(text) if m.group(1) != "ok"}


def test_an_immortal_count_read_earlier_is_a_related_location() -> None:
    result = run(["scan", str(FIXTURES / "introspection.py"), "--isolated", "--select", "FT504",
                  "--output-format", "json"], REPO)
    second = json.loads(result.stdout)[1]
    assert [(r["location"]["row"], r["message"]) for r in second["related"]] == [
        (14, "the count of `True` is read here")]
