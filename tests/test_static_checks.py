"""The code's own contracts, checked where CI runs the suite: types (mypy) and lint (ruff) are clean,
and each layer imports only the layers below it (docs/architecture.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_mypy_finds_no_error_in_ftaudit_and_rules() -> None:
    # The folders and options are in pyproject.toml ([tool.mypy]), so a developer runs the same check.
    result = _run("mypy")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


# Each layer and what it may import at run time (imports under `if TYPE_CHECKING:` are for annotations
# only). A module not listed belongs to the `ftaudit` top level and may import anything.
LAYERS: dict[str, frozenset[str]] = {}


def _define_layers() -> None:
    data = {"ftaudit.findings", "ftaudit.source", "ftaudit.target", "ftaudit.summaries", "ftaudit.readiness",
            "ftaudit.candidate", "ftaudit.safe_write", "ftaudit.discover"}
    facts = data | {"ftaudit.facts"}
    cmodel = facts | {"ftaudit.cmodel"}
    analysis = cmodel | {"ftaudit.analysis"}
    kernel = analysis | {"ftaudit.rule", "ftaudit.context", "ftaudit.compat_edits", "ftaudit.fixes",
                         "ftaudit.statements"}
    for name in data:
        LAYERS[name] = frozenset(data)
    LAYERS["ftaudit.facts"] = frozenset(facts)
    LAYERS["ftaudit.cmodel"] = frozenset(cmodel)
    LAYERS["ftaudit.analysis"] = frozenset(analysis) | {"ftaudit.context"}  # FileContext, read lazily
    for name in ("ftaudit.rule", "ftaudit.context", "ftaudit.compat_edits", "ftaudit.fixes", "ftaudit.statements"):
        LAYERS[name] = frozenset(kernel)
    LAYERS["rules"] = frozenset(kernel | {"rules"})
    # Reporters render a finished ScanResult: never the engine, the registry or the C model.
    LAYERS["ftaudit.report"] = frozenset(data | {"ftaudit.report", "ftaudit.result", "ftaudit.rule",
                                                 "ftaudit.ruledocs", "ftaudit.facts", "ftaudit.fixes",
                                                 "ftaudit.baseline", "ftaudit.selection", "ftaudit.families"})


_define_layers()


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "rules":
        return "rules"
    if len(parts) > 1 and parts[1] in ("cmodel", "analysis", "facts", "report"):
        return f"ftaudit.{parts[1]}"
    return ".".join(parts[:2])


def _runtime_imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                   for n in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.rsplit(".", node.level)[0]
                found.add(f"{package}.{node.module}" if node.module else package)
            elif node.module:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("ftaudit", "rules")}


def _modules() -> list[tuple[Path, str]]:
    out = []
    for folder in ("ftaudit", "rules"):
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            out.append((path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)))
    return out


def test_each_layer_imports_only_the_layers_it_may() -> None:
    problems = []
    for path, module in _modules():
        allowed = LAYERS.get(_layer(module))
        if allowed is None:
            continue
        for name in sorted(_runtime_imports(path, module)):
            if _layer(name) not in allowed and name != "ftaudit":
                problems.append(f"{module} imports {name}")
    assert problems == []


def test_the_layer_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    reporter = tmp_path / "bad.py"
    reporter.write_text("from ftaudit.engine import scan\nif TYPE_CHECKING:\n    from ftaudit.cmodel import CUnit\n")
    assert _runtime_imports(reporter, "ftaudit.report.bad") == {"ftaudit.engine"}
    assert _layer("ftaudit.engine") not in LAYERS["ftaudit.report"]
