"""Target facts from a real interpreter (``--python PATH``, config key ``python``).

Instead of guessing the build from ``target-version``, ask the interpreter once, in a subprocess:
its version, whether it is a free-threaded build (``Py_GIL_DISABLED``) and where its C headers are
(for engines that preprocess with the real headers, such as libclang).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ftaudit.target import Target

# Runs inside the queried interpreter, which may be old: Python 2 syntax-compatible on purpose, so an
# old interpreter answers with its version instead of a SyntaxError.
_PROBE = """
import json, platform, sys, sysconfig
print(json.dumps({
    'version': list(sys.version_info[:2]),
    'implementation': platform.python_implementation().lower(),
    'gil_disabled': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),
    'include': sysconfig.get_paths().get('include') or sysconfig.get_config_var('INCLUDEPY'),
    'ext_suffix': sysconfig.get_config_var('EXT_SUFFIX'),
    'executable': sys.executable,
}))
"""
_TIMEOUT = 30


class InterpreterError(Exception):
    """The interpreter cannot be found, run or understood; the message says which and why."""


@dataclass(frozen=True)
class Interpreter:
    executable: Path
    version: tuple[int, int]
    free_threaded: bool
    include_dir: Path | None  # None when the build ships no headers (no Python.h there)
    ext_suffix: str | None

    @property
    def label(self) -> str:
        return f"{self.version[0]}.{self.version[1]}{'t' if self.free_threaded else ''}"

    def target(self, minimum: tuple[int, int] | None = None) -> Target:
        return Target(version=self.version, free_threaded=self.free_threaded, minimum=minimum)

    def as_dict(self) -> dict[str, Any]:
        return {"executable": self.executable.as_posix(), "version": self.label,
                "include-dir": self.include_dir.as_posix() if self.include_dir else None,
                "ext-suffix": self.ext_suffix}


def resolve(value: str, base: Path) -> Path:
    """A path relative to ``base`` (the config file's folder or the current folder), or a bare
    command name looked up on PATH, as a shell would."""
    expanded = os.path.expanduser(value)
    if os.sep not in expanded and (os.altsep is None or os.altsep not in expanded):
        found = shutil.which(expanded)
        if found:
            return Path(found)
    return (base / expanded).absolute()


@lru_cache(maxsize=16)
def query(executable: Path) -> Interpreter:
    """Ask ``executable`` for its facts (once per process); raise InterpreterError with the reason."""
    if not executable.exists():
        raise InterpreterError(f"{executable}: no such file")
    if executable.is_dir() or not os.access(executable, os.X_OK):
        raise InterpreterError(f"{executable}: not an executable file")
    try:
        # -E -S: the answer must not depend on PYTHON* variables or site customisation.
        proc = subprocess.run([str(executable), "-E", "-S", "-c", _PROBE], capture_output=True, text=True,
                              timeout=_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InterpreterError(f"{executable}: cannot run it: {exc}") from None
    try:
        facts = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    except (ValueError, IndexError):
        facts = None
    if not isinstance(facts, dict):
        detail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise InterpreterError(f"{executable}: not a Python interpreter ftaudit can query ({detail})")
    return _interpreter(executable, facts)


def _interpreter(executable: Path, facts: dict[str, Any]) -> Interpreter:
    major, minor = facts["version"]
    if facts.get("implementation") != "cpython":
        raise InterpreterError(f"{executable}: is {facts.get('implementation')} {major}.{minor}; "
                               "ftaudit audits extensions for CPython")
    if (major, minor) < (3, 6):
        raise InterpreterError(f"{executable}: is CPython {major}.{minor}; ftaudit audits CPython 3.6 and newer")
    include = Path(facts["include"]) if facts.get("include") else None
    if include is not None and not (include / "Python.h").is_file():
        include = None
    return Interpreter(executable=executable, version=(major, minor), free_threaded=bool(facts["gil_disabled"]),
                       include_dir=include, ext_suffix=facts.get("ext_suffix"))
