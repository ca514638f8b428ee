"""What a newcomer meets first: stubs are not read, and Python newer than the host is one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import run, write_tree

NEWER = "type Point = tuple[float, float]\n"  # PEP 695: 3.12+


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="this Python parses PEP 695 statements")
def test_files_with_newer_syntax_are_summarised_on_one_line(tmp_path: Path) -> None:
    write_tree(tmp_path, {f"pkg/m{i}.py": NEWER for i in range(5)})
    result = run(["scan", ".", "--isolated", "-q"], tmp_path)
    lines = [line for line in result.stderr.splitlines() if "cannot be parsed" in line]
    assert len(lines) == 1, result.stderr
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert f"5 Python files cannot be parsed by Python {running} (pkg/m0.py, pkg/m1.py, pkg/m2.py, …)" in lines[0]
    # One such file keeps its own line, with where the parser stopped.
    single = run(["scan", "pkg/m0.py", "--isolated"], tmp_path)
    assert "pkg/m0.py: syntax: cannot be parsed by Python" in single.stderr and "at line 1" in single.stderr


def test_stubs_are_not_read(tmp_path: Path) -> None:
    # A .pyi holds no run-time code: no rule, no diagnostic, even for syntax this Python cannot parse.
    write_tree(tmp_path, {"pkg/_core.pyi": NEWER + "def f(x: int) -> int: ...\n", "pkg/m.py": "import sys\n"})
    result = run(["scan", ".", "--isolated", "--show-files"], tmp_path)
    assert result.stdout.split() == ["pkg/m.py"]
    scanned = run(["scan", ".", "--isolated"], tmp_path)
    assert scanned.exit_code == 0 and "_core.pyi" not in scanned.stderr + scanned.stdout


def test_a_missing_test_extra_is_named_with_the_command_that_installs_it() -> None:
    # With only `pip install -e .` the session stops with one usage error, not an INTERNALERROR.
    import support

    versions = {"pytest": "8.3.1", "setuptools": "65.5.0", "jsonschema": "4.23.0", "check-jsonschema": "0.39.0",
                "pyyaml": "6.0.3", "mypy": "1.18.2", "ruff": "0.14.0"}

    def version_of(name: str) -> str:
        if name not in versions:
            raise support.metadata.PackageNotFoundError(name)
        return versions[name]

    assert support.missing_test_extras(version_of) == ["setuptools>=69"]
    del versions["jsonschema"]
    assert support.missing_test_extras(version_of) == ["setuptools>=69", "jsonschema>=4.18"]
    assert support.missing_test_extras() == []  # this environment has the extra
    assert support.INSTALL == "pip install -e '.[test]'"
