"""A scanned repository is hostile: it must not run code, make ftaudit read or write outside it, or
hide findings; and ftaudit's own writes (fixes, suppression comments, reports) never lose a byte.

Each test builds the attack as a repository would commit it and checks the outcome from outside.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import REPO, run, write_tree

from ftaudit import cache, fixes
from ftaudit.config import Settings
from ftaudit.engine import scan

# A real-looking extension with a racy counter (FT201 on line 5) and an unguarded frame access
# (FT401 on line 9), so there is always something to hide, quote or fix.
MODULE_C = """#include <Python.h>

static long calls;

static PyObject *count(PyObject *self, PyObject *args) { calls++; return PyLong_FromLong(calls); }

static PyObject *back(PyObject *self, PyObject *args) {
    PyFrameObject *frame = PyEval_GetFrame();
    return Py_NewRef((PyObject *)frame->f_back);
}

static PyMethodDef methods[] = {{"count", count, METH_NOARGS, NULL}, {"back", back, METH_NOARGS, NULL}, {NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "m", NULL, -1, methods};
PyMODINIT_FUNC PyInit_m(void) { return PyModule_Create(&def); }
"""

SECRET = "int stolen_secret = 42;  /* must never be read, quoted or rewritten */\n"


class _Payload:
    """Unpickling this runs a command: what a committed pickle cache entry could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _json(args: list[str], cwd: Path) -> list[dict]:
    result = run([*args, "--output-format", "json", "--exit-zero"], cwd)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _codes(entries: list[dict]) -> list[tuple[str, str, int]]:
    return [(e["filename"], e["code"], e["location"]["row"]) for e in entries]


# -- 1 and 4: the cache -------------------------------------------------------------------------
def test_a_committed_cache_runs_nothing_and_hides_nothing(tmp_path: Path) -> None:
    repo, marker = tmp_path / "repo", tmp_path / "pwned"
    write_tree(repo, {"m.c": MODULE_C, "pyproject.toml": "[tool.ftaudit]\ncache-dir = 'committed'\n"})
    clean = _codes(_json(["scan", ".", "--no-cache"], repo))
    assert ("m.c", "FT201", 5) in clean and ("m.c", "FT401", 9) in clean
    # The old format: a pickle named after the file's absolute path, in the folder the config names
    # and in the old default folder, as a repository could commit them for a predictable CI path.
    name = hashlib.sha1(str((repo / "m.c").resolve()).encode()).hexdigest()
    for folder in (repo / "committed", repo / ".ftaudit_cache"):
        folder.mkdir()
        (folder / f"{name}.pickle").write_bytes(pickle.dumps(("key", _Payload(marker))))
    # The new format, forged without the user's key: "this file has no findings".
    entry = cache._entry(repo / "committed", (repo / "m.c").resolve())
    body = json.dumps(["any-key", {"$d": "FileResult", "f": {"display": "m.c"}}]).encode()
    entry.write_bytes(b"0" * 64 + b"\n" + body)
    assert _codes(_json(["scan", "."], repo)) == clean
    assert _codes(_json(["scan", "."], repo)) == clean  # and again, now from the (authentic) cache
    assert not marker.exists()


def test_corrupt_entries_are_dropped_and_rewritten(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m.c": MODULE_C})
    clean = _codes(_json(["scan", ".", "--no-cache"], tmp_path))
    _json(["scan", "."], tmp_path)
    folder = cache.default_dir(tmp_path)
    (entry,) = folder.glob("*.json")
    for garbage in (b"", b"\xff" * 1000, entry.read_bytes()[:-20], b"x\n" + b"[" * 100_000):
        entry.write_bytes(garbage)
        assert _codes(_json(["scan", "."], tmp_path)) == clean
        assert entry.read_bytes() != garbage  # rewritten by the run that could not use it


def test_a_cache_folder_that_is_a_symlink_is_never_followed(tmp_path: Path) -> None:
    repo, victim = tmp_path / "repo", tmp_path / "victim"
    victim.mkdir()
    write_tree(repo, {"m.c": MODULE_C, "ftaudit.toml": "cache-dir = '.ftaudit_cache'\n"})
    (repo / ".ftaudit_cache").symlink_to(victim)
    result = run(["scan", ".", "--output-format", "concise"], repo)
    assert result.exit_code == 1 and "m.c:5:" in result.stdout
    assert "is a symlink; ftaudit does not follow it" in result.stderr
    assert list(victim.iterdir()) == []
    # A link further up the configured path, inside the project, is refused the same way.
    (repo / "ftaudit.toml").write_text("cache-dir = '.ftaudit_cache/sub'\n")
    result = run(["scan", ".", "--output-format", "concise"], repo)
    assert "is a symlink" in result.stderr and list(victim.iterdir()) == []


# -- 2, 3: temporary files and symlinks out of the tree ---------------------------------------
def _fixable() -> str:
    """A single-phase module whose FT102 unsafe fix inserts a guarded SetGIL call after the NULL check."""
    return (REPO / "fixtures" / "ft1xx" / "singlephase" / "_timer.c").read_text()


def test_fix_ignores_a_planted_symlink_at_the_old_temporary_name(tmp_path: Path) -> None:
    text = _fixable()
    repo, victim = tmp_path / "repo", tmp_path / "bashrc"
    victim.write_text("export PATH=/usr/bin\n")
    write_tree(repo, {"_timer.c": text})
    (repo / "._timer.c.ftaudit-fix").symlink_to(victim)
    result = run(["scan", ".", "--isolated", "--select", "FT102", "--fix", "--unsafe-fixes"], repo)
    assert "Fixed 1 finding in 1 file." in result.stderr
    assert victim.read_text() == "export PATH=/usr/bin\n"
    assert "PyUnstable_Module_SetGIL" in (repo / "_timer.c").read_text()
    assert [p.name for p in repo.iterdir() if "ftaudit" in p.name] == ["._timer.c.ftaudit-fix"]  # no leftovers


def test_symlinks_out_of_the_tree_are_not_read_quoted_or_written(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    write_tree(outside, {"secret.c": SECRET + MODULE_C})
    write_tree(repo, {"m.c": MODULE_C, "src/inner.c": MODULE_C})
    (repo / "link.c").symlink_to(outside / "secret.c")
    (repo / "linked_dir").symlink_to(outside)
    (repo / "alias.c").symlink_to(repo / "src" / "inner.c")  # inside the tree: fine, and read once
    sarif, html = tmp_path / "out.sarif", tmp_path / "out.html"
    entries = _json(["scan", ".", "--sarif-output", str(sarif), "--html-output", str(html)], repo)
    assert {e["filename"] for e in entries} == {"m.c", "src/inner.c"}
    for report in (sarif.read_text(), html.read_text()):
        assert "stolen_secret" not in report and str(outside) not in report
    verbose = run(["scan", ".", "-v", "--exit-zero"], repo)
    assert "outside the scanned tree; not followed" in verbose.stderr
    # Named on the command line, as pre-commit passes a staged link: said so, and not scanned.
    explicit = run(["scan", "link.c", "--output-format", "json"], repo)
    assert json.loads(explicit.stdout) == [] and "outside the scanned tree" in explicit.stderr
    before = (outside / "secret.c").read_bytes()
    run(["scan", "link.c", "linked_dir", ".", "--fix", "--unsafe-fixes", "--exit-zero"], repo)
    run(["scan", "link.c", "linked_dir/secret.c", "--add-noqa"], repo)
    assert (outside / "secret.c").read_bytes() == before


def test_fix_through_an_in_tree_symlink_rewrites_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    text = _fixable()
    write_tree(tmp_path, {"real/_timer.c": text})
    (tmp_path / "_timer.c").symlink_to(tmp_path / "real" / "_timer.c")
    run(["scan", "_timer.c", "--isolated", "--select", "FT102", "--fix", "--unsafe-fixes"], tmp_path)
    assert (tmp_path / "_timer.c").is_symlink()
    assert "PyUnstable_Module_SetGIL" in (tmp_path / "real" / "_timer.c").read_text()


# -- 5, 6, 7: never lose a byte -----------------------------------------------------------------
CRLF_PY = ("import sys\r\n\r\ndef f():\r\n    frame = sys._getframe()\r\n    frame.f_locals['x'] = 1\r\n"
           "    return frame\r\n")


def test_add_noqa_keeps_crlf_and_the_final_newline(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m.py": CRLF_PY.encode(), "m.c": MODULE_C.replace("\n", "\r\n").encode()})
    run(["scan", ".", "--isolated", "--add-noqa"], tmp_path)
    data = (tmp_path / "m.c").read_bytes()
    assert data.count(b"\r\n") == MODULE_C.count("\n") and b"\n" not in data.replace(b"\r\n", b"")
    assert b"calls++; return PyLong_FromLong(calls); }  // NOLINT(FT201)\r\n" in data
    python = (tmp_path / "m.py").read_bytes()
    assert python.endswith(b"return frame\r\n") and b"\n" not in python.replace(b"\r\n", b"")
    assert b"# noqa: FT502\r\n" in python
    assert run(["scan", ".", "--isolated"], tmp_path).exit_code == 0


def test_fix_keeps_crlf_and_is_idempotent(tmp_path: Path) -> None:
    text = _fixable()
    write_tree(tmp_path, {"_timer.c": text.replace("\n", "\r\n").encode()})
    args = ["scan", ".", "--isolated", "--select", "FT102", "--fix", "--unsafe-fixes"]
    run(args, tmp_path)
    once = (tmp_path / "_timer.c").read_bytes()
    assert b"PyUnstable_Module_SetGIL" in once and b"\n" not in once.replace(b"\r\n", b"")
    run(args, tmp_path)
    assert (tmp_path / "_timer.c").read_bytes() == once


def test_read_only_files_and_hard_links_are_refused_not_rewritten(tmp_path: Path) -> None:
    text = _fixable()
    write_tree(tmp_path, {"ro.c": text, "linked.c": text})
    (tmp_path / "ro.c").chmod(0o444)
    os.link(tmp_path / "linked.c", tmp_path / "other-name.txt")
    result = run(["scan", ".", "--isolated", "--select", "FT102", "--fix", "--unsafe-fixes"], tmp_path)
    assert "ro.c is read-only; not written" in result.stderr
    assert "linked.c has 2 hard links" in result.stderr
    assert (tmp_path / "ro.c").read_text() == text and (tmp_path / "linked.c").read_text() == text
    assert result.exit_code == 1 and "Traceback" not in result.stderr  # the findings are still there


def test_fix_into_a_read_only_folder_is_a_warning_not_a_traceback(tmp_path: Path) -> None:
    text = _fixable()
    write_tree(tmp_path, {"pkg/_timer.c": text})
    (tmp_path / "pkg").chmod(0o555)
    try:
        result = run(["scan", ".", "--isolated", "--select", "FT102", "--fix", "--unsafe-fixes", "--exit-zero"],
                     tmp_path)
    finally:
        (tmp_path / "pkg").chmod(0o755)
    if os.geteuid() == 0:  # root writes anywhere: the fix lands, safely
        assert result.exit_code == 0 and "PyUnstable_Module_SetGIL" in (tmp_path / "pkg/_timer.c").read_text()
    else:
        assert result.exit_code == 0 and "cannot create a temporary file" in result.stderr
        assert (tmp_path / "pkg/_timer.c").read_text() == text


def test_a_file_changed_since_analysis_is_not_patched(tmp_path: Path) -> None:
    text = _fixable()
    write_tree(tmp_path, {"_timer.c": text})
    settings = Settings(root=tmp_path, cache=False, select=["FT102"])
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = scan([tmp_path], settings, jobs=1)
        (tmp_path / "_timer.c").write_text(text.replace("#include", "/* saved by the editor */\n#include", 1))
        plans = fixes.plan(result.findings, unsafe=True, digests=result.digests)
    finally:
        os.chdir(old)
    assert plans.files == [] and plans.skipped == ["_timer.c: changed since it was analysed; not fixed (run again)"]


def _kill_during(args: list[str], cwd: Path, delays: list[float]) -> None:
    for delay in delays:
        process = subprocess.Popen([sys.executable, "-m", "ftaudit", *args], cwd=cwd,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.kill()
        process.wait()


@pytest.mark.parametrize("mode", ["--add-noqa", "--fix"])
def test_kill_9_during_writes_never_leaves_a_truncated_file(tmp_path: Path, mode: str) -> None:
    text = _fixable()
    originals = {f"m{i:03}.c": (MODULE_C if mode == "--add-noqa" else text) for i in range(120)}
    write_tree(tmp_path, originals)
    args = ["scan", ".", "--isolated", "--no-cache", "-j1", mode]
    if mode == "--fix":
        args += ["--select", "FT102", "--unsafe-fixes"]
    _kill_during(args, tmp_path, [0.6 + 0.15 * i for i in range(12)])
    finished = subprocess.run([sys.executable, "-m", "ftaudit", *args], cwd=tmp_path, capture_output=True,
                              timeout=300)
    assert finished.returncode in (0, 1), finished.stderr
    for name, original in originals.items():
        data = (tmp_path / name).read_text()
        assert len(data) >= len(original), name  # never truncated; edits only add
    # Temporary files of killed runs may remain (a kill leaves no time to clean up); never a source file.
    assert {p.name for p in tmp_path.iterdir() if not p.name.endswith(".ftaudit-tmp")} == set(originals)


# -- 11: workers die with their parent ------------------------------------------------------------
def _pool_tree(root: Path) -> None:
    body = "".join(f"static long c{i};\nstatic PyObject *f{i}(PyObject *s, PyObject *a) {{ c{i}++; Py_RETURN_NONE; }}\n"
                   for i in range(400))
    write_tree(root, {f"mod{i}.c": "#include <Python.h>\n" + body for i in range(40)})


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_killing_a_parallel_scan_leaves_no_orphans(tmp_path: Path, how: int) -> None:
    _pool_tree(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "ftaudit", "scan", ".", "--isolated", "--no-cache", "-j2"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    children: set[int] = set()
    deadline = time.monotonic() + 30
    while len(children) < 2 and time.monotonic() < deadline:  # wait until the pool's workers run
        children = _children(process.pid)
        time.sleep(0.05)
    assert len(children) >= 2, "the pool never started"
    process.send_signal(how)
    process.communicate(timeout=30)  # EOF: nobody holds the pipes any more
    assert process.returncode == (143 if how == signal.SIGTERM else -signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)]


def test_ctrl_c_exits_130(tmp_path: Path) -> None:
    _pool_tree(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "ftaudit", "scan", ".", "--isolated", "--no-cache", "-j2"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    # Both workers: a signal while the first one is being forked can be lost (seen on a fresh clone,
    # exit 0 instead of 130; not yet explained), which this test is not about.
    while len(_children(process.pid)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the scan ended before a worker started: nothing to interrupt"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and b"Traceback" not in stderr


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):  # the parent's pid
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_project_headers_are_read_only_inside_the_scan(tmp_path: Path) -> None:
    # The counter is compiled unless a header switches it off; a header outside the tree (reached by
    # `..` or through a symlink) is never read, so its `#define ENABLE_COUNTER 0` cannot hide the finding.
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    write_tree(outside, {"cfg.h": "#define ENABLE_COUNTER 0\n"})
    body = ("#if ENABLE_COUNTER\nstatic long n;\n"
            "static PyObject *f(PyObject *s, PyObject *a) { n++; Py_RETURN_NONE; }\n"
            "static PyMethodDef m[] = {{\"f\", f, METH_NOARGS, NULL}, {NULL}};\n#endif\n")
    write_tree(repo, {"up.c": '#include "../outside/cfg.h"\n' + body, "linked.c": '#include "cfg_link.h"\n' + body,
                      "inside.c": '#include "cfg_in.h"\n' + body, "cfg_in.h": "#define ENABLE_COUNTER 0\n"})
    (repo / "cfg_link.h").symlink_to(outside / "cfg.h")
    assert _codes(_json(["scan", ".", "--isolated", "--select", "FT201"], repo)) == [
        ("linked.c", "FT201", 4), ("up.c", "FT201", 4)]  # inside.c's own header is read and switches it off
