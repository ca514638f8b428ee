#!/usr/bin/env python3
"""Per-project, per-rule finding counts over a folder of real projects (for closing notes and reviews).

Usage: ``python bench/corpus_report.py CORPUS_DIR [--select FT1,FT2] [--jobs 2]``; each sub-folder of
CORPUS_DIR is scanned in isolation and the counts are printed as a Markdown table, with the scan
time of each project.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--select", default="ALL")
    ap.add_argument("--jobs", default="2")
    args = ap.parse_args()
    rows: list[tuple[str, Counter[str], float, int]] = []
    codes: set[str] = set()
    for project in sorted(p for p in args.corpus.iterdir() if p.is_dir() and not p.name.startswith(".")):
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "ftaudit", "scan", str(project), "--isolated", "--exit-zero", "--select",
             args.select, "--output-format", "json", "--jobs", args.jobs],
            capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        counts = Counter(f["code"] for f in json.loads(proc.stdout or "[]"))
        codes.update(counts)
        rows.append((project.name, counts, elapsed, proc.returncode))
    header = sorted(codes)
    print("| project | " + " | ".join(header) + " | time (s) |")
    print("|---|" + "---|" * len(header) + "---|")
    for name, counts, elapsed, code in rows:
        cells = " | ".join(str(counts.get(c, 0)) for c in header)
        print(f"| {name}{' (exit ' + str(code) + ')' if code else ''} | {cells} | {elapsed:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
