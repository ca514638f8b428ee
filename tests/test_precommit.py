"""pre-commit integration: the hook manifest, quiet output under PRE_COMMIT=1, project context for a
few files, and the real ``pre-commit try-repo`` against a copy of this checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import REPO, run, write_tree

from ftaudit.registry import load_registry

RACY = """\
#include <Python.h>

static long calls;

static PyObject *
count(PyObject *self, PyObject *args)
{
    calls++;
    return PyLong_FromLong(calls);
}

static PyMethodDef methods[] = {{"count", count, METH_NOARGS, NULL}, {NULL}};
"""
FIXED = RACY.replace("static long calls;", "static _Atomic long calls;").replace(
    "    calls++;\n    return PyLong_FromLong(calls);", "    return PyLong_FromLong(atomic_fetch_add(&calls, 1) + 1);"
).replace("#include <Python.h>\n", "#include <Python.h>\n#include <stdatomic.h>\n")


def test_manifest_matches_the_conventions() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    focused, project = hooks["ftaudit"], hooks["ftaudit-project"]
    assert focused["entry"] == "ftaudit scan --force-exclude"
    assert focused["language"] == project["language"] == "python"
    assert focused["types_or"] == project["types_or"] == ["c", "c++", "cython", "python", "rust", "toml", "meson",
                                                          "cmake"]
    assert focused["require_serial"] is project["require_serial"] is True
    assert focused.get("pass_filenames", True) is True
    assert project["pass_filenames"] is False and project["args"] == ["."]


def test_quiet_under_pre_commit(tmp_path: Path) -> None:
    write_tree(tmp_path, {"ok.c": FIXED})
    result = run(["scan", "ok.c", "--isolated"], tmp_path, env={"PRE_COMMIT": "1"})
    assert result.exit_code == 0
    assert result.output == ""
    assert "All checks passed!" in run(["scan", "ok.c", "--isolated"], tmp_path).output


def test_a_few_files_keep_the_project_as_context(tmp_path: Path) -> None:
    # FT108 in module.c depends on the racy cache in cache.c (linked by setup.py).
    example = load_registry().rules["FT108"].bad[1]
    write_tree(tmp_path, {**example.files, example.path: example.code, "pyproject.toml": "[tool.ftaudit]\n"})
    only_module = run(["scan", "src/module.c", "--output-format", "concise", "--ignore", "FT6"], tmp_path,
                      env={"PRE_COMMIT": "1"})
    assert [line.split(" ")[:2] for line in only_module.stdout.splitlines() if line.startswith("src/")] == [
        ["src/module.c:5:5:", "FT108"]]
    # Given only cache.c, the contradiction is reported there, at its racy global, with the declaration
    # in module.c (linked by setup.py, read as context) as the related location.
    only_cache = run(["scan", "src/cache.c", "--output-format", "json"], tmp_path, env={"PRE_COMMIT": "1"})
    found = {(f["code"], f["location"]["row"]): f for f in json.loads(only_cache.stdout)}
    assert sorted(found) == [("FT108", 3), ("FT202", 3)]
    ft108 = found["FT108", 3]
    assert ft108["filename"].endswith("src/cache.c")
    assert ft108["message"].startswith("`cache` is racy global state of an extension whose module `m` declares")
    assert "src/module.c:5" in ft108["message"]


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=ftaudit tests", "-c", "user.email=tests@example.invalid",
                    "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
                   cwd=cwd, check=True, capture_output=True)


def _hook_repository(target: Path) -> Path:
    """A committed copy of this checkout's package files (the working tree, so uncommitted work counts)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    wanted = ("ftaudit/", "rules/")
    for name in listed:
        if name and (name.startswith(wanted) or name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml")):
            source = REPO / name
            if source.is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
    _git("init", "-q", cwd=target)
    _git("add", "-A", cwd=target)
    _git("commit", "-q", "-m", "hook repository snapshot", cwd=target)
    return target


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path, dict[str, str]]:
    """The real pre-commit, a committed copy of this checkout as the hook repository, and an environment
    whose PRE_COMMIT_HOME is shared by the tests of this module (the hook's virtualenv is built once)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    pre_commit = [sys.executable, "-m", "pre_commit"]
    if subprocess.run([*pre_commit, "--version"], capture_output=True).returncode != 0:
        pytest.skip("pre-commit is not installed (it is in the test extras)")
    base = tmp_path_factory.mktemp("precommit")
    hooks = _hook_repository(base / "hooks")
    env = {**os.environ, "PRE_COMMIT_HOME": str(base / "cache"), "PRE_COMMIT_COLOR": "never",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)  # the hook runs from its own virtualenv, not from this checkout
    return pre_commit, hooks, env


def _try_repo(hook_env: tuple[list[str], Path, dict[str, str]], project: Path, *files: str,
              hook: str = "ftaudit") -> subprocess.CompletedProcess[str]:
    pre_commit, hooks, env = hook_env
    selection = ["--files", *files] if files else ["--all-files"]
    if hook == "ftaudit-project":
        selection += ["--hook-stage", "manual"]  # it runs at pre-push or by hand, not on every commit
    result = subprocess.run([*pre_commit, "try-repo", str(hooks), hook, *selection], cwd=project, env=env,
                            capture_output=True, text=True, timeout=900)
    if result.returncode == 3 or "Could not find a version" in result.stdout + result.stderr:
        pytest.skip(f"pre-commit could not build the hook environment (PyPI unreachable?):\n{result.stdout[-2000:]}")
    return result


@pytest.mark.precommit
def test_real_pre_commit_fails_on_a_finding_and_passes_when_fixed(
        tmp_path: Path, hook_env: tuple[list[str], Path, dict[str, str]]) -> None:
    project = tmp_path / "project"
    write_tree(project, {"src/counter.c": RACY, "README.md": "demo\n"})
    _git("init", "-q", cwd=project)
    _git("add", "-A", cwd=project)

    failing = _try_repo(hook_env, project, "src/counter.c")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "ftaudit (free-threading readiness)" in failing.stdout
    assert "Failed" in failing.stdout
    assert "src/counter.c:8:5" in failing.stdout and "FT201" in failing.stdout

    (project / "src" / "counter.c").write_text(FIXED)
    _git("add", "-A", cwd=project)
    passing = _try_repo(hook_env, project, "src/counter.c")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "ftaudit (free-threading readiness)" in passing.stdout and "Passed" in passing.stdout


PYO3_PROJECT = {
    "Cargo.toml": '[package]\nname = "fastsum"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\n'
                  'crate-type = ["cdylib"]\n\n[dependencies]\npyo3 = "0.23"\n',
    "src/lib.rs": "use pyo3::prelude::*;\n\n#[pyfunction]\nfn total(values: Vec<i64>) -> i64 {\n"
                  "    values.iter().sum()\n}\n\n#[pymodule]\nfn fastsum(m: &Bound<'_, PyModule>) -> PyResult<()> {\n"
                  "    m.add_function(wrap_pyfunction!(total, m)?)\n}\n",
}
CYTHON_PROJECT = {
    "pyproject.toml": '[build-system]\nrequires = ["setuptools", "cython"]\n',
    "setup.py": "from Cython.Build import cythonize\nfrom setuptools import setup\n\n"
                "setup(ext_modules=cythonize(['speedups.pyx']))\n",
    "speedups.pyx": "def dot(double[:] a, double[:] b):\n    cdef double total = 0\n"
                    "    for i in range(a.shape[0]):\n        total += a[i] * b[i]\n    return total\n",
}


@pytest.mark.precommit
@pytest.mark.parametrize(("tree", "code"), [(PYO3_PROJECT, "FT107"), (CYTHON_PROJECT, "FT104")], ids=["pyo3", "cython"])
def test_real_pre_commit_hooks_see_every_file_type_the_rules_read(
        tmp_path: Path, hook_env: tuple[list[str], Path, dict[str, str]], tree: dict[str, str], code: str) -> None:
    # A PyO3 crate (Cargo.toml + src/lib.rs) and a Cython project reach both hooks, which report what
    # `ftaudit scan .` reports there.
    write_tree(tmp_path, tree)
    _git("init", "-q", cwd=tmp_path)
    _git("add", "-A", cwd=tmp_path)
    for hook in ("ftaudit", "ftaudit-project"):
        result = _try_repo(hook_env, tmp_path, hook=hook)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "no files to check" not in result.stdout and code in result.stdout, result.stdout
