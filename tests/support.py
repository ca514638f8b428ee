"""Test helpers shared by the suite: repository paths, small trees, and CLI runners.

Kept out of conftest.py so that test modules can import them by name without clashing with the
conftest.py files of sub-folders.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from types import ModuleType

from click.testing import CliRunner, Result

from ftaudit.cli import main

REPO = Path(__file__).resolve().parents[1]


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def load_tool(relative: str, name: str) -> ModuleType:
    """A script of ``tools/`` (not a package) imported by path, as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, REPO / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> Result:
    """Run the CLI in-process (click's runner) from ``cwd``."""
    runner = CliRunner()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, args, env=dict(env or {}), catch_exceptions=False)
    finally:
        os.chdir(old)


def run_process(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``ftaudit`` as a user would, in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "ftaudit", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


# What the test suite needs from the `test` extra (pyproject.toml) before anything else can run.
NEEDED = {"pytest": (8,), "setuptools": (69,), "jsonschema": (4, 18), "check-jsonschema": (0, 29), "pyyaml": (6,),
          "mypy": (1, 11), "ruff": (0, 6)}
INSTALL = "pip install -e '.[test]'"


def missing_test_extras(version_of: Callable[[str], str] = metadata.version) -> list[str]:
    """The packages of the test extra that are absent or too old, as "name>=version" (empty: all there)."""
    missing = []
    for name, minimum in NEEDED.items():
        wanted = f"{name}>={'.'.join(map(str, minimum))}"
        try:
            found = tuple(int(part) for part in re.findall(r"\d+", version_of(name))[:len(minimum)])
        except metadata.PackageNotFoundError:
            missing.append(wanted)
            continue
        if found < minimum:
            missing.append(wanted)
    return missing
