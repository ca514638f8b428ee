#!/usr/bin/env python3
"""Paired, alternating whole-process timer: run command A and command B in turn and compare them.

Usage: ``paired.py [--runs N] [--warmup W] [--label L] --vs "CMD_B" -- CMD_A ...``

After ``--warmup`` unmeasured rounds, each of ``--runs`` rounds runs A then B (the order flips every round
so neither always runs second). For each command it reports the median wall time and child CPU time
(user + system, from ``getrusage(RUSAGE_CHILDREN)`` deltas), then the median of the per-round wall ratios
A/B, which cancels most machine drift, and the load average. Output of the commands is discarded.
Children run without ``PYTHONDONTWRITEBYTECODE`` so Python tools use their bytecode cache as users' do.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, child CPU seconds, exit code) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, rc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--label", default="")
    ap.add_argument("--vs", required=True, help="command B, as one shell-quoted string")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="command A, after --")
    args = ap.parse_args(argv)
    cmd_a = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    cmd_b = shlex.split(args.vs)
    if not cmd_a or not cmd_b:
        ap.error("need command A after -- and command B in --vs")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    for _ in range(max(0, args.warmup)):
        run_once(cmd_a, env)
        run_once(cmd_b, env)

    walls: dict[str, list[float]] = {"A": [], "B": []}
    cpus: dict[str, list[float]] = {"A": [], "B": []}
    failed: dict[str, int] = {"A": 0, "B": 0}
    ratios: list[float] = []
    for i in range(args.runs):
        order = ("A", "B") if i % 2 == 0 else ("B", "A")
        pair: dict[str, float] = {}
        for name in order:
            wall, cpu, rc = run_once(cmd_a if name == "A" else cmd_b, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
            failed[name] += rc != 0
            pair[name] = wall
        if pair["B"] > 0:
            ratios.append(pair["A"] / pair["B"])

    label = f"[{args.label}] " if args.label else ""
    for name in ("A", "B"):
        note = f"  ({failed[name]} non-zero exits)" if failed[name] else ""
        print(f"{label}{name}: wall median {statistics.median(walls[name]):.3f}s "
              f"(min {min(walls[name]):.3f}, max {max(walls[name]):.3f}), "
              f"cpu median {statistics.median(cpus[name]):.3f}s{note}")
    ratio = statistics.median(ratios) if ratios else float("nan")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{label}A/B wall ratio: median {ratio:.2f}x over {len(ratios)} pairs; load average {load}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
