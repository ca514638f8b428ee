"""The exit-code table (README, "Exit codes and diagnostics") and the ways a run can go wrong: every
path ends in one of 0, 1, 2, 130, 143, with one line of explanation and no traceback unless -v."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import run, write_tree

from ftaudit.precise import _clean

RACY = ("static long calls;\nstatic PyObject *f(PyObject *s, PyObject *a) { calls++; Py_RETURN_NONE; }\n"
        "static PyMethodDef methods[] = {{\"f\", f, METH_NOARGS, NULL}, {NULL}};\n")


def test_an_internal_error_is_exit_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path, {"m.c": RACY})

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something we did not expect")

    monkeypatch.setattr("ftaudit.engine.scan", broken)
    quiet = run(["scan", "."], tmp_path)
    assert quiet.exit_code == 2
    assert quiet.stderr == ("ftaudit: error: internal error: RuntimeError: something we did not expect "
                            "(run with -v for the traceback)\n")
    verbose = run(["scan", ".", "-v"], tmp_path)
    assert verbose.exit_code == 2 and "Traceback (most recent call last)" in verbose.stderr


def test_a_closed_output_pipe_ends_quietly(tmp_path: Path) -> None:
    write_tree(tmp_path, {f"m{i}.c": RACY for i in range(200)})
    shell = f"{sys.executable} -m ftaudit scan . --isolated --no-cache --output-format concise | head -n 1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.count("\n") == 1 and "FT201" in done.stdout
    assert done.stderr == ""


@pytest.mark.parametrize(("files", "args", "message"), [
    ({"pyproject.toml": "[tool]\nftaudit = 5\n"}, [], "[tool.ftaudit] must be a table, got 5"),
    ({"pyproject.toml": "tool = 5\n[project]\nname = 'x'\n# ftaudit\n"}, [], "'tool' must be a table, got 5"),
    ({}, ["-j", "99999999999999999999"], "is not in the range 1<=x<=1024"),
    ({}, ["-j", "0"], "is not in the range 1<=x<=1024"),
    ({}, ["--add-noqa", "--fix"], "--add-noqa writes suppression comments; it cannot be combined with --fix"),
    ({}, ["-p", "/nonexistent", "--engine", "libclang"], "'build-path': /nonexistent does not exist"),
    ({"ftaudit.toml": "per-file-timeout = -1\n"}, [], "'per-file-timeout' must be a number of seconds >= 0"),
    ({"ftaudit.toml": "per-file-timeout = 'soon'\n"}, [], "invalid value for 'per-file-timeout'"),
])
def test_bad_configuration_and_options_are_exit_2(tmp_path: Path, files: dict[str, str], args: list[str],
                                                  message: str) -> None:
    write_tree(tmp_path, {"m.c": RACY, **files})
    result = run(["scan", ".", *args], tmp_path)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    assert not (tmp_path / "m.c").read_text().count("NOLINT")


def test_bad_project_metadata_is_a_warning_with_the_fallback(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m.c": RACY, "pyproject.toml": "[project]\nname = 'x'\nrequires-python = 3\n"})
    result = run(["scan", ".", "--output-format", "concise"], tmp_path)
    assert result.exit_code == 1 and "m.c:2:" in result.stdout
    assert "requires-python is 3, not a string; using the default target" in result.stderr
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\nrequires-python = 'three'\n")
    assert "'three' is not a version specifier" in run(["scan", "."], tmp_path).stderr


def test_per_file_budget_is_a_too_complex_diagnostic_in_every_format(tmp_path: Path) -> None:
    # Any real file takes more than a microsecond: the budget runs out on the first one, deterministically.
    write_tree(tmp_path, {"big.c": RACY + "static int filler;\n" * 3000, "ok.py": "x = 1\n"})
    base = ["scan", ".", "--isolated", "--no-cache", "-j1", "--per-file-timeout", "0.000001", "--select", "FT201"]
    full = run(base, tmp_path)
    assert "big.c: too-complex: analysis took longer than the per-file budget of 1e-06 s" in full.stderr
    assert "not analysed in full" in full.stdout
    entries = json.loads(run([*base, "--output-format", "json"], tmp_path).stdout)
    assert next((e["code"], e["name"], e["filename"]) for e in entries if e["code"] is None) == (
        None, "too-complex", "big.c")
    sarif = tmp_path / "out.sarif"
    run([*base, "--sarif-output", str(sarif)], tmp_path)
    notes = json.loads(sarif.read_text())["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any(n["descriptor"]["id"] == "too-complex" for n in notes)
    github = run([*base, "--output-format", "github"], tmp_path).stdout
    assert "::warning title=ftaudit (too-complex),file=big.c::" in github
    # Without the tiny budget the same file is analysed and its finding reported.
    normal = run(["scan", ".", "--isolated", "--no-cache", "-j1", "--select", "FT201", "--output-format", "concise"],
                 tmp_path)
    assert "big.c:2:" in normal.stdout


def test_a_bad_gitignore_line_is_reported_and_the_rest_applies(tmp_path: Path) -> None:
    write_tree(tmp_path, {".gitignore": "[z-a]\nskipped/\n", "m.c": RACY, "skipped/s.c": RACY})
    (tmp_path / ".git").mkdir()
    result = run(["scan", ".", "--isolated", "--output-format", "concise"], tmp_path)
    assert result.exit_code == 1
    assert ".gitignore: config: pattern '[z-a]' is not valid; that line is ignored" in result.stderr
    assert "m.c:2:" in result.stdout and "skipped" not in result.stdout


def test_an_unreadable_folder_is_a_diagnostic_and_the_scan_goes_on(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path, {"m.c": RACY, "locked/x.c": RACY})
    real_scandir = os.scandir

    def scandir(path: object) -> object:  # chmod 000 does not stop root, so refuse as the kernel would
        if Path(str(path)).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)  # type: ignore[arg-type]

    real_is_file = Path.is_file

    def is_file(self: Path) -> bool:
        if self.parent.name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_is_file(self)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(Path, "is_file", is_file)
    result = run(["scan", ".", "--isolated", "--output-format", "concise"], tmp_path)
    assert result.exit_code == 1 and "m.c:2:" in result.stdout
    assert "locked: unreadable: cannot list this folder: Permission denied; skipped" in result.stderr


def test_compile_commands_flags_that_could_load_code_never_reach_libclang(tmp_path: Path) -> None:
    args = ["-Iinclude", "-DNDEBUG", "-fplugin=./evil.so", "-Xclang", "-load", "-Xclang", "./evil.so",
            "-fpass-plugin=./p.so", "@./flags.rsp", "-B./bin", "-std=c11", "-O2", "-Wl,-rpath,/x", "-isystem", "sys",
            "-o", "m.o", "-c", "m.c"]
    cleaned = _clean(args, tmp_path, (tmp_path / "m.c").resolve())
    assert cleaned == [f"-I{tmp_path}/include", "-DNDEBUG", "-std=c11", "-O2", "-isystem", f"{tmp_path}/sys"]


@pytest.mark.parametrize(("args", "message"), [
    (["sacn", "."], "'sacn' is neither a command nor an existing path; did you mean `ftaudit scan`?"),
    (["check", "."], "'check' is neither a command nor an existing path"),
    (["scan", "nonexistent_dir"], "ftaudit: error: no such file or directory: nonexistent_dir"),
])
def test_a_wrong_word_never_switches_the_check_off(tmp_path: Path, args: list[str], message: str) -> None:
    write_tree(tmp_path, {"m.c": RACY})
    result = run(args, tmp_path)
    assert result.exit_code == 2 and message in result.stderr and "All checks passed" not in result.stdout


def test_explicit_paths_without_files_to_scan_say_so(tmp_path: Path) -> None:
    write_tree(tmp_path, {"README.md": "# hi\n"})
    result = run(["scan", "README.md"], tmp_path)
    assert result.exit_code == 0 and "ftaudit: warning: no file to scan in README.md" in result.stderr
