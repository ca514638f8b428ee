"""Fuzzing: mutated fixtures, scanned by the real CLI, never crash, hang, blow up or emit invalid JSON/SARIF.

``tools/fuzz.py`` is the fuzzer; this runs a bounded, deterministic slice of it (the same seed gives
the same cases, whatever the machine) with the budgets of the long runs: 30 s of wall time per
subprocess (only a real hang trips it), 2 GiB of address space and 1 GiB of peak RSS. A failure is
bisected to the single case, shrunk, and saved; the assertion message names the folder
(``FTAUDIT_FUZZ_OUT`` chooses where it goes, by default pytest's temporary folder). Replay one with
``python tools/fuzz.py --replay FOLDER/tree``. Longer runs: ``python tools/fuzz.py --seconds 600 --seed N``.

The fuzzer's own machinery (case generation, the oracle, isolation and shrinking) is tested first
with a fake runner, so a broken fuzzer cannot pass as a clean product.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
from support import REPO


def _load_fuzzer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ftaudit_tools_fuzz", REPO / "tools" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


fuzz = _load_fuzzer()

SEED = 20261201
BATCHES = 30
BATCH_SIZE = 16  # 480 cases


@pytest.fixture(scope="module")
def corpus() -> object:
    return fuzz.Corpus()


@pytest.fixture(scope="module")
def schemas() -> object:
    return fuzz.Schemas()


# -- the fuzzer itself ------------------------------------------------------------------------------
def test_cases_are_deterministic_and_varied(corpus: object) -> None:
    first = [corpus.case(SEED, i) for i in range(BATCHES * BATCH_SIZE)]
    again = [corpus.case(SEED, i) for i in (0, 7, 300)]
    assert [c.files for c in again] == [first[i].files for i in (0, 7, 300)]
    assert corpus.case(SEED + 1, 0).files != first[0].files
    assert all(c.files and c.size <= fuzz.MAX_CASE_BYTES * 2 for c in first)
    # Every seed kind and every mutator takes part in the CI slice.
    used = {step.split(":")[-1] for c in first for step in c.recipe for step in step.split("+")}
    assert {name[2:] for name in (m.__name__ for m, _ in fuzz.MUTATORS)} <= used
    names = {Path(rel).name for c in first for rel in c.files}
    assert {"setup.py", "pyproject.toml", "CMakeLists.txt", "Cargo.toml", "meson.build"} <= names
    suffixes = {Path(rel).suffix for c in first for rel in c.files}
    assert {".c", ".cpp", ".pyx", ".pxd", ".py", ".rs", ".h"} <= suffixes
    assert any(len(c.files) > 1 for c in first)  # some cases keep their project around them


def _run(returncode: int | None = 0, stdout: bytes = b"[]", stderr: str = "", *, timed_out: bool = False,
         sarif: bytes | None = b'{"version": "2.1.0", "runs": []}', rss_kb: int = 50_000) -> object:
    return fuzz.RunResult(["ftaudit"], returncode, stdout, stderr, sarif, b"<html><body></body></html>\n", 0.5,
                          rss_kb, timed_out)


TRACEBACK = f"""Traceback (most recent call last):
  File "/usr/lib/python3.11/runpy.py", line 198, in _run_module_as_main
  File "{fuzz.REPO}/ftaudit/engine.py", line 120, in analyse_file
    result = _analyse(task, config, source, result)
  File "/usr/lib/python3.11/json/decoder.py", line 9, in decode
ValueError: invalid literal
"""


def test_the_oracle(schemas: object) -> None:
    limits = fuzz.Limits()
    assert fuzz.judge(_run(), schemas, limits).ok
    assert fuzz.judge(_run(1), schemas, limits).ok

    crash = fuzz.judge(_run(2, b"", TRACEBACK), schemas, limits)
    assert crash.signature == "ValueError @ ftaudit/engine.py:120 in analyse_file"
    assert any("exit status 2" in p for p in crash.problems)

    internal = fuzz.judge(_run(2, stderr="ftaudit: error: a.c: internal-error [FT201]: rule raised KeyError: 'x' "
                                         "(shared_state.py:42)\n"), schemas, limits)
    assert internal.signature == "KeyError @ shared_state.py:42"

    hang = fuzz.judge(_run(None, b"", "Fatal Python error: Aborted\n\nCurrent thread 0x1 (most recent call first):\n"
                                      f'  File "{fuzz.REPO}/ftaudit/cmodel/preprocessor.py", line 7 in evaluate\n'
                                      f'  File "{fuzz.REPO}/ftaudit/engine.py", line 3 in scan\n', timed_out=True),
                       schemas, limits)
    assert hang.signature == "timeout @ ftaudit/cmodel/preprocessor.py in evaluate"

    assert fuzz.judge(_run(-11), schemas, limits).signature.startswith("signal SIGSEGV")
    assert fuzz.judge(_run(0, rss_kb=5_000_000), schemas, limits).signature.startswith("memory")
    assert fuzz.judge(_run(0, b"[] trailing"), schemas, limits).signature == "stdout not JSON"
    assert fuzz.judge(_run(0, b'[{"code": 1}]'), schemas, limits).signature.startswith("findings schema")
    assert fuzz.judge(_run(0, sarif=b"{"), schemas, limits).signature == "SARIF not JSON"
    if schemas.sarif is not None:
        assert fuzz.judge(_run(0, sarif=b'{"runs": []}'), schemas, limits).signature.startswith("SARIF schema")


def test_isolation_and_shrinking_with_a_fake_runner(tmp_path: Path, corpus: object, schemas: object) -> None:
    """One case in a batch carries the bug; the saved reproducer is that case, shrunk to the guilty line."""
    poison = b"#if 07777 /* boom */\n"

    def runner(tree: Path, work: Path, limits: object, target: str | None) -> object:
        data = b"".join(p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file())
        return _run(2, b"", TRACEBACK) if poison in data else _run(0)

    fuzzer = fuzz.Fuzzer(seed=SEED, out=tmp_path, corpus=corpus, batch_size=8, workers=2, minimise_seconds=30,
                         runner=runner, schemas=schemas)
    cases = fuzzer.batch_cases(0)
    sick = cases[5]
    path = next(iter(sick.files))
    sick.files[path] = b"int a;\n" * 40 + poison + b"int b;\n" * 40
    fuzzer.batch_cases = lambda batch: cases  # type: ignore[method-assign]
    report = fuzzer.run(batches=1)
    assert [f.signature for f in report.failures] == ["ValueError @ ftaudit/engine.py:120 in analyse_file"]
    failure = report.failures[0]
    assert failure.cases == [sick.ident]
    saved = [p for p in (failure.folder / "tree").rglob("*") if p.is_file() and p.name != "ftaudit.toml"]
    assert len(saved) == 1 and saved[0].read_bytes().strip() == poison.strip()
    assert (failure.folder / "original" / sick.ident / path).read_bytes() == sick.files[path]
    assert "reproduce: cd" in (failure.folder / "reason.txt").read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["failures"][0]["reproducer"] == str(failure.folder / "tree")


# -- the product ------------------------------------------------------------------------------------
def test_mutated_fixtures_keep_the_oracle(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every case: exit 0/1, no traceback or internal-error, valid JSON and SARIF, within the budgets."""
    out = Path(os.environ.get("FTAUDIT_FUZZ_OUT") or tmp_path_factory.mktemp("fuzz"))
    limits = fuzz.Limits(seconds=30.0, memory_mb=2048, rss_mb=1024, html=True)
    fuzzer = fuzz.Fuzzer(seed=SEED, out=out, limits=limits, batch_size=BATCH_SIZE,
                         workers=max(2, min(4, os.cpu_count() or 1)), minimise_seconds=10.0)
    report = fuzzer.run(batches=BATCHES)
    assert report.cases == BATCHES * BATCH_SIZE
    assert not report.failures, (
        f"{len(report.failures)} distinct fuzz failure(s); each reproducer is a folder to scan "
        f"(python tools/fuzz.py --replay FOLDER/tree), its reason.txt says why:\n{report.summary()}")
    # Not a vacuous pass: the scans really read the mangled files (binary and oversized ones aside).
    assert report.files and report.scanned >= 0.8 * report.files, report.summary()
