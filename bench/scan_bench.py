#!/usr/bin/env python3
"""Paired benchmark: ftaudit against the floor scan (read + parse + one combined query), same run.

Each measurement is reported as the median per-pair wall-time ratio A/B so machine noise cancels:
  cold   - ``ftaudit scan --no-cache --jobs J CORPUS`` vs ``floor_scan.py --jobs J CORPUS``
           (the full analysis cost: every file parsed and every rule run)
  warm   - the same scan reusing ``.ftaudit_cache`` (what a second CI run or a re-run costs)
  single - ``ftaudit scan FILE`` (a pre-commit run on one file, its project read as context, warm
           cache) vs ``floor_scan.py FILE``

The yardsticks are in this folder: ``floor_scan.py`` (command B) and ``paired.py`` (the alternating
timer). Usage: ``python bench/scan_bench.py CORPUS [--jobs 2] [--runs 5] [--file F]``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"


def paired(label: str, a: str, b: str, runs: int) -> None:
    cmd = [sys.executable, str(BENCH / "paired.py"), "--runs", str(runs), "--warmup", "1",
           "--label", label, "--vs", b, "--", *shlex.split(a)]
    print(f"\n== {label}\n   A: {a}\n   B: {b}", flush=True)
    # Users' Pythons cache bytecode; a sandbox that sets PYTHONDONTWRITEBYTECODE would make every run
    # recompile ftaudit's ~150 modules and measure the compiler instead of the tool (paired.py also drops it).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(cmd, check=False, env=env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--file", type=Path, help="the file for the single-file run (default: largest .c)")
    args = ap.parse_args()
    floor = f"{sys.executable} {BENCH / 'floor_scan.py'}"
    ftaudit = f"{sys.executable} -m ftaudit scan --isolated --exit-zero -q --output-format concise"
    corpus = args.corpus.resolve()
    paired(f"cold: whole corpus, no cache, jobs={args.jobs}", f"{ftaudit} --no-cache --jobs {args.jobs} {corpus}",
           f"{floor} --jobs {args.jobs} {corpus}", args.runs)
    paired(f"warm: whole corpus, cache, jobs={args.jobs}", f"{ftaudit} --jobs {args.jobs} {corpus}",
           f"{floor} --jobs {args.jobs} {corpus}", args.runs)
    single = args.file or max(corpus.rglob("*.c"), key=lambda p: p.stat().st_size)
    paired(f"single file ({single.name}, {single.stat().st_size // 1024} KiB)", f"{ftaudit} {single}",
           f"{floor} {single}", args.runs * 2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
