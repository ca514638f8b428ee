"""Ground truth: ftaudit's verdicts checked against what a real free-threaded CPython does.

Every expectation is read from ftaudit's own findings on ``fixtures/groundtruth`` (scanned with
``--python`` pointing at the interpreter), then the fixture is compiled against that interpreter's
headers with a plain compiler call and run:

- FT101/FT102/FT109: importing the module turns the GIL back on; a module without them leaves it off.
- FT201/FT202 (and FT108): threads hammering a racy counter lose updates and threads racing a lazy
  cache build it more than once; the variants fixed as the messages suggest never do.
- FT401/FT402/FT404: the lines marked ``// <- FTxxx`` fail to compile against 3.13t headers, and
  the ``*_fixed.c`` rewrites with the suggested APIs compile and run.
- FT601/FT602: each module of ``subinterpreters/`` is imported in a sub-interpreter created with the
  isolated and with the legacy configuration; which ones refuse it is what the module's declaration (as
  ftaudit reads it) predicts. FT603/FT604: a static type and a global ``PyObject *`` of a module claiming
  a per-interpreter GIL leak objects between interpreters; the module-state rewrite does not.

The interpreter comes from ``tools/build-freethreaded-python.sh`` (built once into a cache folder
outside the repository, reused afterwards; the tests only reuse it, and skip with one line naming the
command that builds it when there is none). ``FTAUDIT_FT_PYTHON`` names one directly, or several
separated by os.pathsep (3.13t, 3.14t, ...: every test runs against each); ``FTAUDIT_FT_UNAVAILABLE``
(set by ``.ci/run`` when the build failed) is the reason to skip.
Tests that need it are marked ``freethreaded``; the ``--python`` option tests below are not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
from support import REPO, run, write_tree

from ftaudit.interpreter import Interpreter, InterpreterError, query
from ftaudit.registry import load_registry

FIXTURES = REPO / "fixtures" / "groundtruth"
BUILD_SCRIPT = REPO / "tools" / "build-freethreaded-python.sh"
DECLARATION_CODES = {"FT101", "FT102", "FT109"}
# Modules: every top-level fixture, plus the rewritten removed-API ones (the originals do not compile).
MODULES = sorted([*FIXTURES.glob("gt_*.c"), *FIXTURES.glob("removed/*_fixed.c")])
COUNTERS = [p for p in MODULES if p.stem.startswith("gt_counter_")]
CACHES = [p for p in MODULES if p.stem.startswith("gt_cache_")]
REMOVED = sorted(p for p in FIXTURES.glob("removed/*.c") if not p.stem.endswith("_fixed"))
MARKER = re.compile(r"//\s*<-\s*(FT\d{3})")
THREADS = 4
# Interpreters named by the environment (collected now, so that each becomes a test parameter).
FT_PYTHONS = [p for p in os.environ.get("FTAUDIT_FT_PYTHON", "").split(os.pathsep) if p] or [None]

freethreaded = pytest.mark.freethreaded


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


# --- the interpreter, ftaudit's verdicts and the compiled fixtures (once per session) ------------

@pytest.fixture(scope="session", params=FT_PYTHONS, ids=lambda p: Path(p).name if p else "ft-python")
def ft_python(request: pytest.FixtureRequest) -> Interpreter:
    """A free-threaded interpreter: named by FTAUDIT_FT_PYTHON, else built or reused by the script."""
    path = request.param
    if not path and os.environ.get("FTAUDIT_FT_UNAVAILABLE"):
        pytest.skip(f"no free-threaded CPython: {os.environ['FTAUDIT_FT_UNAVAILABLE']}")
    if not path:
        # Reuses a build from the cache; never builds one here (minutes with no output): the skip
        # reason names the command, and .ci/run builds it before the tests.
        proc = subprocess.run(["bash", str(BUILD_SCRIPT), "--reuse-only"], capture_output=True, text=True,
                              timeout=120)
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            pytest.skip(reason.removeprefix("build-freethreaded-python: "))
        path = proc.stdout.strip().splitlines()[-1]
    try:
        interpreter = query(Path(path))
    except InterpreterError as exc:
        pytest.fail(f"FTAUDIT_FT_PYTHON / build script gave an unusable interpreter: {exc}")
    assert interpreter.free_threaded, f"{path} is not a free-threaded build"
    assert interpreter.include_dir is not None and interpreter.ext_suffix, f"{path} has no C headers"
    if not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler (cc/gcc) to build the fixtures with")
    return interpreter


@pytest.fixture(scope="session")
def verdicts(ft_python: Interpreter) -> dict[str, set[tuple[str, int]]]:
    """ftaudit's findings per fixture (by file stem): {(code, line)}, target taken from the interpreter."""
    result = run(["scan", "fixtures/groundtruth", "--isolated", "--python", str(ft_python.executable),
                  "--output-format", "json", "--exit-zero", "--no-cache"], REPO)
    assert result.exit_code == 0, result.output
    found: dict[str, set[tuple[str, int]]] = {p.stem: set() for p in FIXTURES.rglob("*.c")}
    for finding in json.loads(result.stdout):
        found[Path(finding["filename"]).stem].add((finding["code"], finding["location"]["row"]))
    return found


def codes(verdicts: dict[str, set[tuple[str, int]]], source: Path) -> set[str]:
    return {code for code, _ in verdicts[source.stem]}


def compile_c(ft: Interpreter, source: Path, out_dir: Path | None) -> subprocess.CompletedProcess:
    """A plain compiler call against the interpreter's headers; syntax only when ``out_dir`` is None."""
    compiler = os.environ.get("CC") or shutil.which("cc") or "gcc"
    output = ["-fsyntax-only"] if out_dir is None else ["-shared", "-fPIC", "-O1", "-o",
                                                        str(out_dir / f"{source.stem}{ft.ext_suffix}")]
    return subprocess.run([compiler, "-Wall", f"-I{ft.include_dir}", str(source), *output],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def built(ft_python: Interpreter, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every fixture module compiled into one folder (in parallel: each call parses Python.h)."""
    out = tmp_path_factory.mktemp("groundtruth-build")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = dict(zip(MODULES, pool.map(lambda p: compile_c(ft_python, p, out), MODULES), strict=True))
    failed = {p.name: r.stderr for p, r in results.items() if r.returncode != 0}
    assert not failed, f"fixtures that do not compile against {ft_python.label}: {failed}"
    return out


def run_in(ft: Interpreter, script: str, *args: str, timeout: int = 120) -> dict:
    """Run ``script`` in the free-threaded interpreter; -I so that PYTHON_GIL cannot change the answer."""
    proc = subprocess.run([str(ft.executable), "-I", "-W", "error::RuntimeWarning", "-c", script, *args],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def parallel_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# --- FT1xx: does importing the module turn the GIL back on? --------------------------------------

IMPORT_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
before, warning, error = sys._is_gil_enabled(), None, None
try:
    __import__(sys.argv[2])
except RuntimeWarning as exc:  # -W error::RuntimeWarning turns the GIL warning into this
    warning = str(exc)
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({"before": before, "after": sys._is_gil_enabled(), "warning": warning, "error": error}))
"""


@freethreaded
@pytest.mark.parametrize("source", MODULES, ids=_ids(MODULES))
def test_declaration_verdict_matches_import(source: Path, ft_python: Interpreter, verdicts: dict,
                                            built: Path) -> None:
    needs_gil = bool(codes(verdicts, source) & DECLARATION_CODES)
    outcome = run_in(ft_python, IMPORT_PROBE, str(built), source.stem)
    assert outcome["before"] is False, "the interpreter must start without the GIL"
    assert outcome["error"] is None, outcome["error"]
    if needs_gil:
        assert outcome["after"] is True, f"ftaudit says {source.name} re-enables the GIL; the interpreter disagrees"
        assert f"enabled to load module '{source.stem}'" in (outcome["warning"] or ""), outcome
    else:
        assert outcome == {"before": False, "after": False, "warning": None, "error": None}, (
            f"ftaudit has no FT101/FT102/FT109 on {source.name}, but importing it re-enabled the GIL")


# --- FT201/FT202: the races are real, and the fixes remove them ----------------------------------

COUNTER_STRESS = f"""
import json, sys, threading
sys.path.insert(0, sys.argv[1])
module = __import__(sys.argv[2])
calls, rounds, until_loss = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
lost = []
for _ in range(rounds):
    barrier = threading.Barrier({THREADS})
    def work():
        track = module.track
        barrier.wait()
        for _ in range(calls):
            track()
    before = module.seen()
    workers = [threading.Thread(target=work) for _ in range({THREADS})]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    lost.append({THREADS} * calls - (module.seen() - before))
    if until_loss and lost[-1]:
        break
print(json.dumps({{"gil": sys._is_gil_enabled(), "lost": lost}}))
"""

CACHE_TRIAL = f"""
import json, sys, threading
sys.path.insert(0, sys.argv[1])
module = __import__(sys.argv[2])
barrier = threading.Barrier({THREADS})
values = []
def work():
    barrier.wait()
    values.append(module.factor("km"))
workers = [threading.Thread(target=work) for _ in range({THREADS})]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(json.dumps({{"gil": sys._is_gil_enabled(), "built": module.tables_built(), "values": values}}))
"""

CALLS_PER_THREAD = 200_000
# A racy round loses updates about half the time on two cores, so 40 rounds miss with odds ~1e-12;
# the loop stops at the first loss, so a racy module usually needs one or two rounds.
RACY_ROUNDS, FIXED_ROUNDS = 40, 5
# A racy trial builds the cache twice in 25-100 % of trials on two cores, depending on the machine's
# load: 60 trials miss with odds below 1e-7, and the loop stops at the first double build.
RACY_TRIALS, FIXED_TRIALS = 60, 8


def counter_rounds(ft: Interpreter, built: Path, name: str, rounds: int, until_loss: bool) -> dict:
    return run_in(ft, COUNTER_STRESS, str(built), name, str(CALLS_PER_THREAD), str(rounds),
                  "1" if until_loss else "0")


def cache_trials(ft: Interpreter, built: Path, name: str, trials: int, stop: Callable[[dict], bool]) -> list[dict]:
    """One trial per process: the static cache starts empty only once per process."""
    results = []
    for _ in range(trials):
        results.append(run_in(ft, CACHE_TRIAL, str(built), name))
        assert results[-1]["values"] == [1000.0] * THREADS
        if stop(results[-1]):
            break
    return results


def _require_parallelism(racy: bool) -> None:
    if racy and parallel_cpus() < 2:
        pytest.skip("a race needs two CPUs to show; this machine gives the tests one")


@freethreaded
@pytest.mark.parametrize("source", COUNTERS, ids=_ids(COUNTERS))
def test_counter_loses_updates_exactly_when_ftaudit_says_it_races(source: Path, ft_python: Interpreter,
                                                                   verdicts: dict, built: Path) -> None:
    found = codes(verdicts, source)
    racy = "FT201" in found
    _require_parallelism(racy)
    result = counter_rounds(ft_python, built, source.stem, RACY_ROUNDS if racy else FIXED_ROUNDS, until_loss=racy)
    assert result["gil"] is False, "the module must keep the GIL off for the race to matter"
    if racy:
        assert any(result["lost"]), f"ftaudit reports FT201 on {source.name}, but no update was lost: {result}"
    else:
        assert result["lost"] == [0] * FIXED_ROUNDS, f"{source.name} has no FT201 yet lost updates: {result}"
    # FT108: the module declares Py_MOD_GIL_NOT_USED (the GIL stayed off) while its state races.
    assert ("FT108" in found) == racy


@freethreaded
@pytest.mark.parametrize("source", CACHES, ids=_ids(CACHES))
def test_lazy_cache_is_built_twice_exactly_when_ftaudit_says_it_races(source: Path, ft_python: Interpreter,
                                                                       verdicts: dict, built: Path) -> None:
    found = codes(verdicts, source)
    racy = "FT202" in found
    _require_parallelism(racy)
    if racy:
        trials = cache_trials(ft_python, built, source.stem, RACY_TRIALS, stop=lambda t: t["built"] > 1)
        assert trials[-1]["built"] > 1, f"ftaudit reports FT202 on {source.name}, but the table was built once " \
                                        f"in each of {len(trials)} trials"
    else:
        trials = cache_trials(ft_python, built, source.stem, FIXED_TRIALS, stop=lambda t: False)
        assert [t["built"] for t in trials] == [1] * FIXED_TRIALS, f"{source.name} has no FT202: {trials}"
    assert all(t["gil"] is False for t in trials)
    assert ("FT108" in found) == racy


# --- FT401/FT402/FT404: removed APIs really are gone --------------------------------------------

def marked_lines(source: Path) -> dict[int, str]:
    lines = source.read_text(encoding="utf-8").splitlines()
    return {number: m.group(1) for number, line in enumerate(lines, 1) if (m := MARKER.search(line))}


@cache
def error_lines(executable: Path, source: Path) -> frozenset[int]:
    ft = query(executable)
    proc = compile_c(ft, source, None)
    pattern = re.compile(rf"^{re.escape(str(source))}:(\d+):\d+: error:", re.MULTILINE)
    return frozenset(int(n) for n in pattern.findall(proc.stderr))


@freethreaded
@pytest.mark.parametrize("source", REMOVED, ids=_ids(REMOVED))
def test_removed_api_fails_to_compile_and_replacement_compiles(source: Path, ft_python: Interpreter) -> None:
    marked = marked_lines(source)
    assert marked, f"{source.name} marks no line with // <- FTxxx"
    assert error_lines(ft_python.executable, source) == set(marked), (
        f"compile errors against {ft_python.label} headers differ from the marked lines")
    fixed = source.with_name(f"{source.stem}_fixed.c")
    proc = compile_c(ft_python, fixed, None)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr


@freethreaded
@pytest.mark.parametrize("source", REMOVED, ids=_ids(REMOVED))
def test_removed_api_findings_are_where_compilation_fails(source: Path, ft_python: Interpreter,
                                                          verdicts: dict) -> None:
    (code,) = set(marked_lines(source).values())
    if code not in load_registry().rules:
        pytest.skip(f"{code} is not implemented yet: the compile failures are checked, this link waits for the rule")
    reported = {line for c, line in verdicts[source.stem] if c == code}
    assert reported == error_lines(ft_python.executable, source)
    assert not {c for c, _ in verdicts[f"{source.stem}_fixed"] if c == code}


DEMO_SOURCES = sorted((REPO / "fixtures" / "demo_ext" / "src").glob("*.c"))


@freethreaded
@pytest.mark.parametrize("source", DEMO_SOURCES, ids=_ids(DEMO_SOURCES))
def test_every_compile_failure_of_the_demo_extension_has_an_ft4_finding(source: Path, ft_python: Interpreter) -> None:
    """The other direction, on code not written for this test: whatever fails to compile against
    the free-threaded headers must have been predicted by an FT4xx finding on that line."""
    result = run(["scan", str(source.relative_to(REPO)), "--isolated", "--python", str(ft_python.executable),
                  "--select", "FT4", "--output-format", "json", "--exit-zero", "--no-cache"], REPO)
    predicted = {f["location"]["row"] for f in json.loads(result.stdout)}
    assert error_lines(ft_python.executable, source) <= predicted


REPLACEMENTS_RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
import gt_frame_fixed, gt_objects_fixed, gt_tstate_fixed
def inner():
    return gt_frame_fixed.caller()
items = [1, 2, 3, 4]
gt_objects_fixed.truncate_list(items, 2)
print(json.dumps({"caller": list(inner()), "thread": list(gt_tstate_fixed.thread_info()),
                  "items": items, "refcount": gt_objects_fixed.refcount(items) >= 1}))
"""


@freethreaded
def test_removed_api_replacements_run(ft_python: Interpreter, built: Path) -> None:
    result = run_in(ft_python, REPLACEMENTS_RUN, str(built))
    assert result["caller"][0] == "inner" and result["caller"][2] == "__main__" and result["caller"][3] is True
    assert result["thread"][0] is True
    assert result["items"] == [1, 2] and result["refcount"] is True


@freethreaded
def test_python_option_takes_the_target_from_the_free_threaded_build(ft_python: Interpreter, tmp_path: Path) -> None:
    data = json.loads(run(["scan", "--isolated", "--python", str(ft_python.executable), "--show-settings"],
                          tmp_path).stdout)
    assert data["target"]["version"] == f"{ft_python.version[0]}.{ft_python.version[1]}t"
    assert (Path(data["python"]["include-dir"]) / "Python.h").is_file()


# --- --python / `python` with the interpreter running the tests (no free-threaded build needed) --

def _this_python() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}{'t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''}"


def test_python_option_sets_the_target_from_the_interpreter(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pyproject.toml": "[project]\nrequires-python = '>=3.9'\n"})
    result = run(["scan", "--python", sys.executable, "--show-settings"], tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # The minimum still comes from requires-python.
    assert data["target"] == {"version": _this_python(), "minimum": "3.9"}
    assert data["python"]["version"] == _this_python()
    assert data["python"]["ext-suffix"] == sysconfig.get_config_var("EXT_SUFFIX")


def test_config_python_is_relative_to_the_config_file(tmp_path: Path) -> None:
    # As in a virtual environment: a link in the project to the real interpreter outside it.
    write_tree(tmp_path, {"ftaudit.toml": "python = 'env/bin/py'\n", "src/m.c": "int x;\n"})
    (tmp_path / "env/bin").mkdir(parents=True)
    (tmp_path / "env/bin/py").symlink_to(Path(sys.executable).resolve())
    data = json.loads(run(["scan", "--show-settings"], tmp_path / "src").stdout)
    assert data["target"]["version"] == _this_python()
    assert data["python"]["executable"] == (tmp_path / "env/bin/py").as_posix()
    # A later layer's target-version replaces the interpreter's facts.
    data = json.loads(run(["scan", "--show-settings", "--target-version", "3.12"], tmp_path / "src").stdout)
    assert data["target"]["version"] == "3.12" and data["python"] is None


def test_config_never_runs_a_program_from_the_scanned_repository(tmp_path: Path) -> None:
    marker = tmp_path.parent / f"{tmp_path.name}-ran"
    script = f'#!/bin/sh\ntouch "{marker}"\nexec "{sys.executable}" "$@"\n'
    write_tree(tmp_path, {"ftaudit.toml": "python = 'env/bin/python3'\n", "env/bin/python3": script, "m.c": "int x;\n"})
    (tmp_path / "env/bin/python3").chmod(0o755)
    result = run(["scan", "."], tmp_path)
    assert result.exit_code == 2 and "does not run programs from the scanned repository" in result.stderr
    # A system program that is not an interpreter is not run either.
    (tmp_path / "ftaudit.toml").write_text("python = '/bin/sh'\n")
    result = run(["scan", "."], tmp_path)
    assert result.exit_code == 2 and "does not look like a Python interpreter" in result.stderr
    assert not marker.exists()
    # The user's own --python on the command line is their choice.
    allowed = run(["scan", "--isolated", "--python", "env/bin/python3", "--show-settings"], tmp_path)
    assert allowed.exit_code == 0 and marker.exists()


def test_interpreter_facts_decide_free_threading(tmp_path: Path) -> None:
    # A stand-in that answers the probe like a free-threaded 3.14 without headers would.
    answer = json.dumps({"version": [3, 14], "implementation": "cpython", "gil_disabled": True,
                         "include": str(tmp_path / "nowhere"), "ext_suffix": ".cpython-314t-x.so", "executable": "x"})
    write_tree(tmp_path, {"py314t": f"#!/bin/sh\necho '{answer}'\n"})
    (tmp_path / "py314t").chmod(0o755)
    data = json.loads(run(["scan", "--isolated", "--python", "./py314t", "--show-settings"], tmp_path).stdout)
    assert data["target"]["version"] == "3.14t"
    assert data["python"]["include-dir"] is None  # no Python.h there: nothing for a header-aware engine


@pytest.mark.parametrize(("config", "args", "message"), [
    ("", ["--python", "missing/python3"], "command line: 'python': cannot query the interpreter: "),
    ("python = 'no-such-python'\n", [], "ftaudit.toml: 'python': cannot query the interpreter: "),
    ("python = ''\n", [], "'python' must name an interpreter"),
    ("python = 3\n", [], "invalid value for 'python': expected the path of a Python interpreter"),
    ("python = 'x'\ntarget-version = '3.13t'\n", [], "'python' and 'target-version' are both set"),
    ("", ["--python", "/bin/sh", "--target-version", "3.13t"], "'python' and 'target-version' are both set"),
    ("", ["--python", "ftaudit.toml"], "not an executable file"),
    ("", ["--python", "/bin/true"], "not a Python interpreter ftaudit can query"),
])
def test_unusable_interpreter_is_exit_2_with_the_reason(tmp_path: Path, config: str, args: list[str],
                                                        message: str) -> None:
    write_tree(tmp_path, {"ftaudit.toml": config, "m.c": "int x;\n"})
    result = run(["scan", ".", *args], tmp_path)
    assert result.exit_code == 2
    assert message in result.stderr


# --- the generated C API name table against a real interpreter's headers ---------------------------

def _table_row(ft: Interpreter) -> tuple[int, int]:
    from ftaudit.facts import capi_names

    if ft.version not in capi_names.load().known:
        pytest.skip(f"the shipped table has no row for {ft.label}")
    return ft.version


@freethreaded
def test_the_name_table_matches_the_interpreters_headers(ft_python: Interpreter) -> None:
    # The table's row comes from the pinned source release; the interpreter's installed headers are
    # another patch release and a free-threaded configuration: the private names agree all but a few.
    from ftaudit.facts import capi_names

    row = _table_row(ft_python)
    assert ft_python.include_dir is not None
    headers = [(p.relative_to(ft_python.include_dir).as_posix(), p.read_text(encoding="utf-8", errors="replace"))
               for p in sorted(ft_python.include_dir.rglob("*.h"))]
    installed = {n for n in capi_names.names_in_headers(headers) if n.startswith("_Py")}
    table = capi_names.load()
    shipped = {n for n, versions in table.declared.items() if row in versions and n.startswith("_Py")}
    assert len(installed ^ shipped) <= 0.02 * len(installed | shipped), sorted(installed ^ shipped)[:40]


@freethreaded
def test_names_the_table_says_are_gone_do_not_compile(ft_python: Interpreter, tmp_path: Path) -> None:
    # Taking the address of an undeclared name is an error for every C compiler; a declared one compiles.
    from ftaudit.facts import capi_names

    row = _table_row(ft_python)
    table = capi_names.load()
    gone = ["_PyEval_SetProfile", "_PyArg_ParseStackAndKeywords", "_PyObject_LookupAttr", "_PyLong_AsInt"]
    present = ["PyMutex_Lock", "PyFrame_GetLocals", "_PyUnicodeWriter_Init"]
    assert [table.declares(row, n) for n in gone] == [False] * len(gone)
    assert [table.declares(row, n) for n in present] == [True] * len(present)
    for name, compiles in [*((n, False) for n in gone), *((n, True) for n in present)]:
        source = tmp_path / f"{name}.c"
        source.write_text(f"#include <Python.h>\nvoid *taken(void) {{ return (void *)&{name}; }}\n")
        assert (compile_c(ft_python, source, None).returncode == 0) is compiles, name


@freethreaded
def test_the_testing_page_check_runs_on_a_free_threaded_interpreter(ft_python: Interpreter) -> None:
    # docs/testing-free-threaded.md's first check, run as written, prints "1 False" on a 3.13t.
    page = (REPO / "docs" / "testing-free-threaded.md").read_text(encoding="utf-8")
    command = re.search(r'python3\.13t -c "([^"]+)"', page)
    assert command is not None
    result = subprocess.run([str(ft_python.executable), "-c", command.group(1)], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split() == ["1", "False"], result.stdout + result.stderr


def test_the_suite_never_builds_the_interpreter_itself(tmp_path: Path) -> None:
    """`--reuse-only` (what the ft_python fixture calls) fails at once with the command that builds one,
    and creates nothing: a newcomer's `pytest` skips these tests instead of compiling CPython silently."""
    proc = subprocess.run(["bash", str(BUILD_SCRIPT), "--reuse-only", "3.13"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "FTAUDIT_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().endswith("with: bash tools/build-freethreaded-python.sh 3.13")
    assert not (tmp_path / "cache").exists()


# --- FT6xx: which interpreters import the module, and what leaks between them --------------------

SUBINTERPRETERS = sorted((FIXTURES / "subinterpreters").glob("si_*.c"))
# Imports the module in a fresh sub-interpreter of each predefined configuration: "isolated" (its own
# GIL, what _interpreters.create() and concurrent.interpreters give) and "legacy" (the shared GIL).
SUBINTERPRETER_IMPORT = """
import json, sys, _interpreters
folder, name = sys.argv[1], sys.argv[2]
run = getattr(_interpreters, "exec", None) or _interpreters.run_string  # `exec` since 3.13
outcome = {}
for config in ("isolated", "legacy"):
    interp = _interpreters.create(config)
    try:
        failure = run(interp, f"import sys; sys.path.insert(0, {folder!r}); import {name}")
    finally:
        _interpreters.destroy(interp)
    outcome[config] = None if failure is None else f"{failure.type.__name__}: {failure.msg}"
print(json.dumps(outcome))
"""
# The main interpreter and an isolated one both import the module; the sub-interpreter writes into the
# registry it gets and subclasses the module's Base. What does the main interpreter see afterwards?
# (os._exit: tearing down a process whose interpreters share objects is exactly what may crash.)
CROSS_INTERPRETER = """
import json, os, sys, _interpreters
folder, name = sys.argv[1], sys.argv[2]
sys.path.insert(0, folder)
module = __import__(name)
mine = module.get_registry()
mine["owner"] = "main"
sub = _interpreters.create()
run = getattr(_interpreters, "exec", None) or _interpreters.run_string
failure = run(sub, f"import sys; sys.path.insert(0, {folder!r}); import {name} as m\\n"
                                        "m.get_registry()['owner'] = 'sub'\\n"
                                        "class FromSub(m.Base): pass\\n")
print(json.dumps({"error": None if failure is None else failure.msg,
                  "owner": module.get_registry().get("owner"),
                  "subclasses": [c.__name__ for c in module.Base.__subclasses__()]}), flush=True)
os._exit(0)
"""


@pytest.fixture(scope="session")
def built_subinterpreters(ft_python: Interpreter, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("subinterpreters-build")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = dict(zip(SUBINTERPRETERS, pool.map(lambda p: compile_c(ft_python, p, out), SUBINTERPRETERS),
                           strict=True))
    failed = {p.name: r.stderr for p, r in results.items() if r.returncode != 0}
    assert not failed, f"fixtures that do not compile against {ft_python.label}: {failed}"
    return out


def declared_support(source: Path, ft: Interpreter) -> list:
    """What ftaudit's model reads from the module's definition (the Support the FT6xx rules decide on)."""
    from ftaudit.analysis.isolation import analyse
    from ftaudit.cmodel import build_unit

    target = ft.target()
    return [m.support for m in analyse(build_unit(source.read_bytes(), str(source), target), target).modules]


@freethreaded
@pytest.mark.parametrize("source", SUBINTERPRETERS, ids=_ids(SUBINTERPRETERS))
def test_subinterpreter_verdict_matches_import(source: Path, ft_python: Interpreter, verdicts: dict,
                                               built_subinterpreters: Path) -> None:
    from ftaudit.analysis.isolation import Support

    [support] = declared_support(source, ft_python)
    found = codes(verdicts, source)
    # The findings say what the model read: FT601 for single-phase, FT602 for a missing slot (or for a
    # per-interpreter GIL claim that the file's FT603-FT606 findings contradict).
    assert ("FT601" in found) == (support is Support.SINGLE_PHASE), (source.name, support, found)
    contradicted = support is Support.OWN_GIL and bool(found & {"FT603", "FT604", "FT605", "FT606"})
    assert ("FT602" in found) == (support is Support.DEFAULT or contradicted), (source.name, support, found)
    outcome = run_in(ft_python, SUBINTERPRETER_IMPORT, str(built_subinterpreters), source.stem)
    refused = f"ImportError: module {source.stem} does not support loading in subinterpreters"
    # Only a per-interpreter GIL claim gets into an isolated interpreter; a shared-GIL one (explicit or
    # the default of a multi-phase module) gets into a legacy one; single-phase and "not supported"
    # modules into none (on a free-threaded build every sub-interpreter checks).
    assert outcome["isolated"] == (None if support is Support.OWN_GIL else refused), (support, outcome)
    assert outcome["legacy"] == (None if support.several_interpreters else refused), (support, outcome)


@freethreaded
def test_static_type_and_global_object_leak_between_interpreters(ft_python: Interpreter, verdicts: dict,
                                                                 built_subinterpreters: Path) -> None:
    leaky, fixed = FIXTURES / "subinterpreters" / "si_leaky.c", FIXTURES / "subinterpreters" / "si_isolated.c"
    text = leaky.read_text().splitlines()
    line_of = {needle: next(i for i, line in enumerate(text, 1) if needle in line)
               for needle in ("static PyObject *registry", "static PyTypeObject BaseType",
                              "Py_MOD_PER_INTERPRETER_GIL_SUPPORTED")}
    assert verdicts[leaky.stem] == {("FT604", line_of["static PyObject *registry"]),
                                    ("FT603", line_of["static PyTypeObject BaseType"]),
                                    ("FT602", line_of["Py_MOD_PER_INTERPRETER_GIL_SUPPORTED"])}
    assert verdicts[fixed.stem] == set()
    # FT604: the sub-interpreter's import replaced the global; the main interpreter now reads the
    # sub-interpreter's dict. FT603: a class made in the sub-interpreter is a subclass in the main one.
    assert run_in(ft_python, CROSS_INTERPRETER, str(built_subinterpreters), leaky.stem) == {
        "error": None, "owner": "sub", "subclasses": ["FromSub"]}
    # Fixed as the messages say (heap type, module state): each interpreter keeps its own.
    assert run_in(ft_python, CROSS_INTERPRETER, str(built_subinterpreters), fixed.stem) == {
        "error": None, "owner": "main", "subclasses": []}
