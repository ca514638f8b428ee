"""The benchmark's own parts (bench/): its corpus pins, the floor scan, the paired timer, the verdicts.

The benchmark itself fetches ~40 MB and runs for minutes (``python bench/scan_bench.py``); these tests
keep its pieces honest from a clean clone without the network. Timing is never asserted here.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import floor_scan  # noqa: E402
import paired  # noqa: E402
import scan_bench  # noqa: E402
from support import write_tree  # noqa: E402


def test_corpus_is_pinned_to_registries() -> None:
    spec = tomllib.loads((BENCH / "corpus.toml").read_text(encoding="utf-8"))
    cpython = spec["cpython"]
    assert cpython["url"].startswith("https://deb.debian.org/debian/pool/main/p/")
    assert cpython["url"].endswith(".orig.tar.xz")
    assert re.fullmatch(r"[0-9a-f]{64}", cpython["sha256"])
    extensions = spec["extension"]
    assert len(extensions) >= 10
    for entry in extensions:
        assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]), entry["name"]
        assert entry["sdist"].endswith((".tar.gz", ".zip")), entry["name"]
    assert len({(e["name"], e["version"]) for e in extensions}) == len(extensions)


def test_floor_scan_counts_c_and_python(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {
        "a.c": "int f(void) { return g(1) + g(2); }\nint x;\n",
        "b.py": "def f():\n    return 1\n",
        ".git/ignored.c": "int nope;\n",
    })
    assert floor_scan.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("floor_scan: 1 files,") and "4 captures" in out  # 1 function, 2 calls, 1 declaration
    assert floor_scan.main(["--python", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("floor_scan: 1 files,")


def test_paired_alternates_and_counts_failures() -> None:
    result = paired.measure([sys.executable, "-c", "pass"], [sys.executable, "-c", "raise SystemExit(3)"],
                            runs=3, warmup=0)
    assert len(result.walls["A"]) == len(result.walls["B"]) == len(result.ratios) == 3
    assert result.failed == {"A": 0, "B": 3}
    assert result.ratio > 0 and result.cpu("A") >= 0


def test_rows_judge_targets_both_ways() -> None:
    slower = scan_bench.Row("c", "C", "floor", 2.4, "x", 2.0)
    assert not slower.met and "**no**" in slower.cells()
    assert scan_bench.Row("jobs", "j", "-j1", 1.9, "x", 1.8, higher_is_better=True).met
    busy_miss = scan_bench.Row("jobs", "j", "-j1", 1.2, "x", 1.8, higher_is_better=True, measurable=False)
    assert busy_miss.met and busy_miss.cells()[2] == "not measurable (1.20×)"
    table = scan_bench._table([slower], 5)
    assert table.splitlines()[2].startswith("| C | floor | 2.40× |") and "Median of 5" in table
