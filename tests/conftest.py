"""Shared test helpers: the demo plugin installed for the session, and small tree/CLI runners."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ftaudit.cli import main
from ftaudit.registry import load_registry

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


_PLUGIN_SITE = tempfile.TemporaryDirectory(prefix="ftaudit-plugin-site-")


def pytest_configure(config: pytest.Config) -> None:
    """Install tests/plugin (a real third-party rule package) with pip into a private folder, before
    collection, so its rules are in the registry that parametrised tests enumerate."""
    target = _PLUGIN_SITE.name
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", target, str(REPO / "tests" / "plugin")],
        check=True, capture_output=True,
    )
    sys.path.insert(0, target)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [target, os.environ.get("PYTHONPATH")]))
    load_registry.cache_clear()


def pytest_unconfigure(config: pytest.Config) -> None:
    _PLUGIN_SITE.cleanup()


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


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
