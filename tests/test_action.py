"""The GitHub Action (``action.yml``): valid against GitHub's schemas, safe, and working when its steps run.

Validation uses the JSON schemas that ``check-jsonschema`` (test extra) ships for actions and workflows,
offline. The end-to-end tests run the action's own shell steps in order, as a runner would: expressions
in ``env:`` and ``if:`` are evaluated from the inputs and earlier step outputs, the install step builds a
real venv from this checkout, and ``uses:`` steps (setup-python, upload-sarif) are recorded, not run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import REPO, write_tree

ACTION = REPO / "action.yml"
WORKFLOWS = sorted((REPO / "examples").glob("*.yml"))
DOCS = REPO / "docs" / "github-actions.md"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

RACY_C = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static long calls = 0;

static PyObject *
count(PyObject *self, PyObject *args)
{
    calls++;
    return PyLong_FromLong(calls);
}

static PyMethodDef methods[] = {
    {"count", count, METH_NOARGS, "Count the calls."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "counter", NULL, -1, methods};

PyMODINIT_FUNC
PyInit_counter(void)
{
    return PyModule_Create(&module);
}
"""


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def load_action() -> dict[str, Any]:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))


# --- schemas --------------------------------------------------------------------------------------

def test_action_matches_the_github_actions_schema() -> None:
    proc = check_jsonschema("vendor.github-actions", ACTION)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_workflows_match_the_github_workflows_schema() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ftaudit-github-actions.yml", "ftaudit-action.yml"}
    proc = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schemas_reject_a_broken_action_and_workflow(tmp_path: Path) -> None:
    # A composite run step needs `shell:`; a job needs `runs-on`. Proves the validation can fail.
    text = ACTION.read_text(encoding="utf-8")
    assert text.count("shell: bash") == 3
    broken_action = write_tree(tmp_path, {"action.yml": text.replace("shell: bash", "", 1)}) / "action.yml"
    proc = check_jsonschema("vendor.github-actions", broken_action)
    assert proc.returncode == 1 and "action.yml" in proc.stdout
    workflow = (REPO / "examples" / "ftaudit-action.yml").read_text(encoding="utf-8")
    assert "    runs-on: ubuntu-latest\n" in workflow
    broken_workflow = write_tree(tmp_path, {"wf.yml": workflow.replace("    runs-on: ubuntu-latest\n", "")}) / "wf.yml"
    proc = check_jsonschema("vendor.github-workflows", broken_workflow)
    assert proc.returncode == 1 and "wf.yml" in proc.stdout


# --- safety and documentation ----------------------------------------------------------------------

def test_no_expression_is_spliced_into_a_script() -> None:
    """Inputs reach scripts only through env: a `${{ inputs.paths }}` in `run:` would let a pull request's
    text become shell code (GitHub's script-injection advice)."""
    steps = load_action()["runs"]["steps"]
    scripts = [step["run"] for step in steps if "run" in step]
    assert len(scripts) == 3
    for script in scripts:
        assert "${{" not in script, script


def test_every_input_and_output_is_documented_with_its_default() -> None:
    action = load_action()
    docs = DOCS.read_text(encoding="utf-8")
    for name, spec in action["inputs"].items():
        default = spec.get("default", "")
        row = re.search(rf"^\| `{re.escape(name)}` \| (`[^`]*`|—) \|", docs, re.MULTILINE)
        assert row, f"input {name} is not in the table of {DOCS.name}"
        assert row.group(1) == (f"`{default}`" if default else "—"), (name, row.group(1))
    for name in action["outputs"]:
        assert re.search(rf"^\| `{re.escape(name)}` \|", docs, re.MULTILINE), f"output {name} is not documented"


# --- running the action's steps --------------------------------------------------------------------

class Runner:
    """Just enough of a GitHub runner for this composite action: env/if expressions and step outputs."""

    def __init__(self, workspace: Path, temp: Path, inputs: dict[str, str], *, fork: bool = False,
                 python: str | None = None) -> None:
        action = load_action()
        self.inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
        unknown = set(inputs) - set(self.inputs)
        assert not unknown, f"not inputs of the action: {unknown}"
        self.inputs.update(inputs)
        self.steps = action["runs"]["steps"]
        self.workspace, self.temp, self.fork = workspace, temp, fork
        self.outputs: dict[str, dict[str, str]] = {}
        self.ran: list[str] = []
        self.used: list[tuple[str, dict[str, str]]] = []
        self.summary = temp / "summary.md"
        self.failed: int | None = None
        if python:  # reuse an installed venv: the install step's output, as if it had run
            self.outputs["install"] = {"python": python}

    def value(self, reference: str) -> str:
        parts = reference.split(".")
        if parts[0] == "inputs":
            return self.inputs[parts[1]]
        if parts[0] == "steps" and parts[2] == "outputs":
            return self.outputs.get(parts[1], {}).get(parts[3], "")
        if reference == "github.action_path":
            return str(REPO)
        if reference == "github.event.pull_request.head.repo.fork":
            return "true" if self.fork else ""
        raise AssertionError(f"the test runner does not know `{reference}`")

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.value(m.group(1)), str(text))

    def condition(self, expression: str) -> bool:
        """Evaluate an `if:` of the shapes action.yml uses: always(), ==, !=, !, && (a failed step makes
        the job fail: without always() later steps are skipped, as on GitHub)."""
        source = expression.strip().removeprefix("${{").removesuffix("}}")
        if "always()" not in source and self.failed is not None:
            return False
        tokens = re.findall(r"always\(\)|'[^']*'|==|!=|&&|\|\||!|[A-Za-z_][\w.-]*", source)
        assert "".join(tokens) == re.sub(r"\s+", "", source), f"unsupported expression: {expression}"
        python = []
        for token in tokens:
            if token == "always()":
                python.append("True")
            elif token in ("==", "!="):
                python.append(token)
            elif token in ("&&", "||"):
                python.append(" and " if token == "&&" else " or ")
            elif token == "!":
                python.append(" not ")
            elif token.startswith("'"):
                python.append(repr(token[1:-1]))
            else:
                python.append(repr(self.value(token)))
        return bool(eval("".join(python), {"__builtins__": {}}))  # only literals from the lines above

    def run(self) -> int:
        """Run every step; the job's exit status (0 when no step failed)."""
        for step in self.steps:
            name = step.get("id") or step["name"]
            if name in self.outputs:  # already done (the install step, shared by the tests)
                continue
            if "if" in step and not self.condition(str(step["if"])):
                continue
            if "uses" in step:
                self.used.append((step["uses"], {k: self.substitute(v) for k, v in step.get("with", {}).items()}))
                continue
            output = self.temp / f"output-{name}"
            output.write_text("")
            env = {**os.environ, "RUNNER_TEMP": str(self.temp), "RUNNER_OS": "Linux",
                   "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(self.summary),
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
            env.update({k: self.substitute(v) for k, v in step.get("env", {}).items()})
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                  cwd=self.workspace, env=env, capture_output=True, text=True, timeout=600)
            self.ran.append(name)
            self.outputs[name] = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
            if proc.returncode != 0:
                self.failed = proc.returncode
        return self.failed or 0


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The action's install step, run for real: a venv in RUNNER_TEMP with ftaudit from this checkout."""
    temp = tmp_path_factory.mktemp("runner-temp")
    workspace = tmp_path_factory.mktemp("workspace")
    runner = Runner(workspace, temp, {})
    install = next(step for step in runner.steps if step.get("id") == "install")
    runner.steps = [install]
    assert runner.run() == 0, "the install step failed"
    python = runner.outputs["install"]["python"]
    assert python == str(temp / "ftaudit-venv" / "bin" / "python")
    version = subprocess.run([python, "-m", "ftaudit", "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and "ftaudit" in version.stdout
    return python


def racy_project(root: Path) -> Path:
    return write_tree(root, {"pyproject.toml": "[project]\nname = 'counter'\nrequires-python = '>=3.13'\n",
                             "src/counter.c": RACY_C})


def test_action_reports_uploads_and_then_fails_the_job(tmp_path: Path, installed: str) -> None:
    workspace = racy_project(tmp_path / "ws")
    runner = Runner(workspace, tmp_path, {"paths": "src", "target-version": "3.13t", "category": "ext"},
                    python=installed)
    assert runner.run() == 1
    assert runner.ran == ["scan", "Fail on findings or errors"]
    scan = runner.outputs["scan"]
    findings = json.loads(subprocess.run(
        [installed, "-m", "ftaudit", "scan", "src", "--target-version", "3.13t", "--output-format", "json"],
        cwd=workspace, capture_output=True, text=True, timeout=120).stdout)
    # FT601: the module is single-phase, a note (sub-interpreters), which does not fail the job.
    assert {(f["code"], f["location"]["row"]) for f in findings} == {("FT201", 9), ("FT102", 23), ("FT601", 23)}
    assert scan == {"findings": "3", "exit-code": "1", "sarif-file": "ftaudit.sarif"}
    sarif = json.loads((workspace / "ftaudit.sarif").read_text())
    assert sarif["runs"][0]["automationDetails"]["id"] == "ftaudit/ext/"
    assert sorted(r["ruleId"] for r in sarif["runs"][0]["results"]) == ["FT102", "FT201", "FT601"]
    # setup-python with the default version, then the upload of the file the scan wrote.
    assert runner.used == [("actions/setup-python@v5", {"python-version": "3.13"}),
                           ("github/codeql-action/upload-sarif@v4", {"sarif_file": "ftaudit.sarif"})]
    summary = runner.summary.read_text()
    assert "3 findings." in summary
    assert "| FT201 | `unsynchronized-global-write` | warning | 1 |" in summary


def test_fail_on_findings_false_keeps_the_job_green(tmp_path: Path, installed: str) -> None:
    runner = Runner(racy_project(tmp_path / "ws"), tmp_path, {"fail-on-findings": "false", "python-version": ""},
                    python=installed)
    assert runner.run() == 0
    assert runner.outputs["scan"]["findings"] == "3"
    assert [uses for uses, _ in runner.used] == ["github/codeql-action/upload-sarif@v4"]  # no setup-python


def test_a_clean_project_passes_and_skips_the_last_step(tmp_path: Path, installed: str) -> None:
    # Atomic counter, multi-phase init declaring both the GIL and sub-interpreter support (3.12+/3.13+).
    fixed = RACY_C.replace("static long calls = 0;", "static _Atomic long calls = 0;").replace(
        'static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "counter", NULL, -1, methods};',
        "static PyModuleDef_Slot slots[] = {\n"
        "#if PY_VERSION_HEX >= 0x030C0000\n"
        "    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},\n#endif\n"
        "#if PY_VERSION_HEX >= 0x030D0000\n    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n#endif\n"
        "    {0, NULL},\n};\n\n"
        'static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "counter", NULL, 0, methods, slots};').replace(
        "    return PyModule_Create(&module);", "    return PyModuleDef_Init(&module);")
    workspace = write_tree(tmp_path / "ws", {"src/counter.c": fixed})
    runner = Runner(workspace, tmp_path, {"target-version": "3.13t", "upload-sarif": "false"}, python=installed)
    assert runner.run() == 0
    assert runner.outputs["scan"] == {"findings": "0", "exit-code": "0", "sarif-file": "ftaudit.sarif"}
    assert runner.ran == ["scan"] and [u for u, _ in runner.used] == ["actions/setup-python@v5"]
    assert "No findings." in runner.summary.read_text()


def test_hostile_inputs_stay_arguments_and_a_missing_path_fails(tmp_path: Path, installed: str) -> None:
    workspace = racy_project(tmp_path / "ws")
    runner = Runner(workspace, tmp_path, {"paths": "src '$(touch pwned1)' `touch pwned2`; touch pwned3",
                                          "args": "--select FT2 $(touch pwned4)"}, python=installed, fork=True)
    assert runner.run() == 2
    assert not list(workspace.glob("pwned*")) and not list(tmp_path.glob("pwned*"))
    assert runner.outputs["scan"]["exit-code"] == "2"
    # A pull request from a fork gets a read-only token: the upload is skipped, not failed.
    assert [u for u, _ in runner.used] == ["actions/setup-python@v5"]
    assert "exit status 2" in runner.summary.read_text()


def test_shlex_splitting_of_paths_and_args() -> None:
    from ftaudit.github_action import scan_command

    command = scan_command({"FTAUDIT_PATHS": "src\n'dir with space'/x.c", "FTAUDIT_ARGS": "--select FT1,FT2 -q",
                            "FTAUDIT_SARIF_FILE": "out.sarif", "FTAUDIT_TARGET_VERSION": "3.14t"}, Path("f.json"))
    assert command == ["scan", "src", "dir with space/x.c", "--output-format", "github", "--json-output", "f.json",
                       "--sarif-output", "out.sarif", "--target-version", "3.14t", "--select", "FT1,FT2", "-q"]
    assert scan_command({}, Path("f.json"))[:2] == ["scan", "."]


def test_summary_escapes_text_from_the_repository() -> None:
    from ftaudit.github_action import summary_markdown

    entries = [{"code": None, "name": "parse-error", "severity": "warning", "filename": "a`b|c.c",
                "message": "![x](http://evil/p.png) <img src=x>"}]
    text = summary_markdown(entries, 0)
    assert "- `a'b|c.c`: \\!\\[x\\]\\(http://evil/p.png\\) \\<img src=x\\>" in text
    assert "No findings." in text


def test_gitlab_snippet_in_the_readme_matches_the_gitlab_ci_schema(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", readme[readme.index("**GitLab**"):], re.DOTALL)
    assert block, "the GitLab CI snippet is missing from the README"
    snippet = textwrap.dedent(block.group(1))
    assert "codequality: gl-code-quality-report.json" in snippet and "--output-format gitlab" in snippet
    good = write_tree(tmp_path, {".gitlab-ci.yml": snippet}) / ".gitlab-ci.yml"
    proc = check_jsonschema("vendor.gitlab-ci", good)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = write_tree(tmp_path, {"bad.yml": snippet.replace("codequality:", "code-quality:")}) / "bad.yml"
    assert check_jsonschema("vendor.gitlab-ci", bad).returncode == 1
