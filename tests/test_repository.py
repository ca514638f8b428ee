"""Repository promises: generated docs in sync, the Quickstart's two commands, packaging layout."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support import REPO, run

from ftaudit.ruledocs import main as ruledocs_main


def test_readme_rule_table_and_rules_doc_are_in_sync() -> None:
    assert ruledocs_main(["--check", "--root", str(REPO)]) == 0, "run `python -m ftaudit.ruledocs`"


def test_quickstart_has_exactly_two_setup_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert commands == [
        "pip install . && ftaudit scan fixtures/demo_ext --exit-zero",
        "pip install -e '.[test]' && python -m pytest",
    ]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci


def test_demo_scan_json_is_valid_against_the_shipped_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / "ftaudit" / "schemas" / "findings.schema.json").read_text())
    result = run(["scan", "fixtures/demo_ext", "--output-format", "json"], REPO)
    assert result.exit_code in (0, 1), result.output
    data = json.loads(result.stdout)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(data)
    # And the schema really constrains: a broken document fails.
    broken = [{**data[0], "severity": "fatal"}] if data else [{"code": "FT201"}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)


def test_wheel_ships_rules_inside_the_package(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path), str(REPO)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("ftaudit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ftaudit/rules/__init__.py" in names and "ftaudit/rules/meta.py" in names
    assert "ftaudit/schemas/findings.schema.json" in names
    assert not [n for n in names if n.startswith(("rules/", "tests/", "fixtures/"))]
    packages = {n.rsplit("/", 1)[0] for n in names if n.endswith("__init__.py")}
    source_packages = {p.parent.relative_to(REPO).as_posix() for p in (REPO / "ftaudit").rglob("__init__.py")}
    assert source_packages <= packages, "a package under ftaudit/ is missing from [tool.setuptools] packages"


def test_install_instructions_name_nothing_that_does_not_exist() -> None:
    # Until ftaudit is on PyPI and tagged, docs install it from the repository and pin a commit.
    texts = {p: (REPO / p).read_text(encoding="utf-8") for p in
             ("README.md", "docs/github-actions.md", "examples/ftaudit-github-actions.yml", ".pre-commit-hooks.yaml")}
    for path, text in texts.items():
        assert "rev: v0." not in text, path
        assert not re.search(r"pip install ftaudit\b(?! @)", text), path
    example = texts["examples/ftaudit-github-actions.yml"]
    assert 'pip install "ftaudit @ git+https://github.com/ftaudit/ftaudit"' in example
