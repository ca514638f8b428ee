"""Configuration discovery, validation and target-version derivation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import run, write_tree

from ftaudit.config import target_from_requires_python
from ftaudit.target import Target, parse_target


def settings(cwd: Path, *args: str) -> dict:
    result = run(["scan", *args, "--show-settings"], cwd)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_nearest_pyproject_with_tool_table_wins(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.ftaudit]\nignore = ['XMP2']\n",
        "sub/pyproject.toml": "[project]\nname = 'x'\n",          # no [tool.ftaudit]: skipped
        "sub/deeper/ftaudit.toml": "ignore = ['XMP3']\n",
    })
    assert settings(tmp_path / "sub")["config-file"] == (tmp_path / "pyproject.toml").as_posix()
    assert settings(tmp_path / "sub" / "deeper")["config-file"] == (
        tmp_path / "sub" / "deeper" / "ftaudit.toml").as_posix()
    assert settings(tmp_path / "sub" / "deeper")["ignore"] == ["XMP3"]


def test_explicit_config_and_isolated(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pyproject.toml": "[tool.ftaudit]\nignore = ['XMP2']\n",
                          "other.toml": "ignore = ['XMP301']\n"})
    assert settings(tmp_path, "--config", "other.toml")["ignore"] == ["XMP301"]
    assert settings(tmp_path, "--isolated")["ignore"] == []


def test_cli_overrides_config(tmp_path: Path) -> None:
    write_tree(tmp_path, {"ftaudit.toml": "target-version = '3.13t'\nfail-on = 'error'\n"})
    data = settings(tmp_path, "--target-version", "3.14t")
    assert data["target"]["version"] == "3.14t" and data["fail-on"] == "error"


@pytest.mark.parametrize(("text", "message"), [
    ("selekt = ['FT']", "unknown key 'selekt'"),
    ("target_version = '3.13t'", "unknown key 'target_version' in [tool.ftaudit] (did you mean 'target-version'?)"),
    ("target-version = '3.12t'", "free-threaded builds start at 3.13"),
    ("select = 'FT2'", "invalid value for 'select': expected a list of rule selectors"),
    ("severity = { FT001 = 'fatal' }", "invalid severity 'fatal'"),
    ("per-file-ignores = { 'tests/*' = ['NOPE1'] }", "unknown rule selector 'NOPE1'"),
    ("rule-options = { FT001 = { depth = 3 } }", "unknown option 'depth' for FT001"),
    ("max-file-size-kb = -1", "'max-file-size-kb' must be positive"),
    ("select = [", "invalid TOML"),
])
def test_bad_config_is_exit_2_naming_key_and_file(tmp_path: Path, text: str, message: str) -> None:
    write_tree(tmp_path, {"ftaudit.toml": text + "\n"})
    result = run(["scan", "."], tmp_path)
    assert result.exit_code == 2
    assert message in result.stderr
    assert str(tmp_path / "ftaudit.toml") in result.stderr


def test_severity_override_and_per_file_ignores(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "ftaudit.toml": "select = ['XMP2', 'XMP3']\nseverity = { XMP201 = 'note' }\n"
                        "per-file-ignores = { 'tests/*' = ['XMP2'] }\n",
        "src/a.py": "danger()\n",
        "tests/t.py": "danger()\n",
    })
    result = run(["scan", ".", "--output-format", "json"], tmp_path)
    data = json.loads(result.stdout)
    assert [(f["filename"], f["severity"]) for f in data] == [("src/a.py", "note")]
    assert result.exit_code == 0  # a note is below the default fail-on


def test_per_file_ignores_from_cli(tmp_path: Path) -> None:
    write_tree(tmp_path, {"src/a.py": "danger()\n", "gen/b.py": "danger()\n"})
    result = run(["scan", ".", "--isolated", "--select", "XMP201", "--per-file-ignores", "gen/*:XMP2",
                  "--output-format", "json"], tmp_path)
    assert [f["filename"] for f in json.loads(result.stdout)] == ["src/a.py"]


@pytest.mark.parametrize(("spec", "target"), [
    (None, Target((3, 14), True, None)),
    (">=3.9", Target((3, 14), True, (3, 9))),
    (">=3.8,<3.13", Target((3, 12), False, (3, 8))),
    ("~=3.13", Target((3, 14), True, (3, 13))),
    ("not a spec", Target((3, 14), True, None)),
])
def test_target_from_requires_python(spec: str | None, target: Target) -> None:
    assert target_from_requires_python(spec) == target


def test_parse_target() -> None:
    assert parse_target("py313t") == Target((3, 13), True)
    assert parse_target("3.12") == Target((3, 12), False)
    assert parse_target("3.13t").hex == 0x030D0000
    with pytest.raises(ValueError, match=r"expected e\.g\."):
        parse_target("313x")
