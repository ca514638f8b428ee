"""The scan step of the GitHub Action (``action.yml``): ``python -m ftaudit.github_action``.

It turns the action's inputs (passed as environment variables, never spliced into a script) into one
``ftaudit scan`` run that prints workflow annotations and writes SARIF, then publishes what the later
steps and the workflow need: step outputs (``findings``, ``exit-code``, ``sarif-file``) and a job summary
table. It always exits 0 itself: the action fails the job in its last step, after the SARIF upload, so
that code scanning gets the results of a failing run too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Inputs, by the environment variable action.yml sets for each.
PATHS, ARGS, TARGET, SARIF, CATEGORY = (
    "FTAUDIT_PATHS", "FTAUDIT_ARGS", "FTAUDIT_TARGET_VERSION", "FTAUDIT_SARIF_FILE", "FTAUDIT_CATEGORY")


def scan_command(env: Mapping[str, str], json_file: Path) -> list[str]:
    """The ``ftaudit scan`` arguments for these inputs (shell-style splitting, no shell involved)."""
    paths = shlex.split(env.get(PATHS, "")) or ["."]
    command = ["scan", *paths, "--output-format", "github", "--json-output", str(json_file)]
    if sarif := env.get(SARIF, "").strip():
        command += ["--sarif-output", sarif]
    if category := env.get(CATEGORY, "").strip():
        command += ["--sarif-category", category]
    if target := env.get(TARGET, "").strip():
        command += ["--target-version", target]
    return command + shlex.split(env.get(ARGS, ""))


def summary_markdown(entries: list[dict[str, Any]], exit_code: int) -> str:
    """The job summary: findings per rule, and the files that could not be analysed in full."""
    findings = [e for e in entries if e.get("code")]
    incomplete = [e for e in entries if not e.get("code")]
    lines = ["## ftaudit", ""]
    if exit_code == 2:
        lines += ["ftaudit stopped with an error (exit status 2); see the step log.", ""]
    if not findings:
        lines.append("No findings.")
    else:
        lines += [f"{len(findings)} finding{'s' if len(findings) != 1 else ''}.", "",
                  "| Rule | Name | Severity | Findings |", "|---|---|---|---:|"]
        per_rule = Counter((e["code"], e["name"], e["severity"]) for e in findings)
        for (code, name, severity), count in sorted(per_rule.items()):
            lines.append(f"| {code} | `{_cell(name)}` | {severity} | {count} |")
    if incomplete:
        lines += ["", f"{len(incomplete)} file(s) could not be analysed in full:", ""]
        lines += [f"- `{_cell(e['filename'])}`: {_plain(e['message'])}" for e in incomplete[:20]]
        if len(incomplete) > 20:
            lines.append(f"- … and {len(incomplete) - 20} more (see the step log)")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text from the scanned repository for a code span: one line, no backtick to end the span early."""
    return " ".join(str(text).split()).replace("`", "'")


def _plain(text: str) -> str:
    """Text from the scanned repository as inert Markdown: links, images, HTML and tables escaped."""
    return re.sub(r"([\\`*_\[\]()<>!#|~])", r"\\\1", " ".join(str(text).split()))


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def main(env: Mapping[str, str] = os.environ) -> int:
    with tempfile.TemporaryDirectory(prefix="ftaudit-action-") as tmp:
        json_file = Path(tmp) / "findings.json"
        command = [sys.executable, "-m", "ftaudit", *scan_command(env, json_file)]
        print("ftaudit " + shlex.join(command[3:]), flush=True)
        exit_code = subprocess.run(command, check=False).returncode
        try:
            entries = json.loads(json_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            entries = []
    sarif = env.get(SARIF, "").strip()
    outputs = {
        "findings": str(sum(1 for e in entries if e.get("code"))),
        "exit-code": str(exit_code),
        "sarif-file": sarif if sarif and Path(sarif).is_file() else "",
    }
    _append(env.get("GITHUB_OUTPUT"), "".join(f"{key}={value}\n" for key, value in outputs.items()))
    _append(env.get("GITHUB_STEP_SUMMARY"), summary_markdown(entries, exit_code))
    return 0


if __name__ == "__main__":
    sys.exit(main())
