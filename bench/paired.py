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
from dataclasses import dataclass, field


def run_once(cmd: list[str], env: dict[str, str], cwd: str | None = None) -> tuple[float, float, int]:
    """(wall seconds, child CPU seconds, exit code) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        check=False).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, rc


@dataclass
class Paired:
    """What ``measure`` saw of commands A and B, round by round."""

    walls: dict[str, list[float]] = field(default_factory=lambda: {"A": [], "B": []})
    cpus: dict[str, list[float]] = field(default_factory=lambda: {"A": [], "B": []})
    failed: dict[str, int] = field(default_factory=lambda: {"A": 0, "B": 0})
    ratios: list[float] = field(default_factory=list)  # A/B wall, one per round

    def wall(self, name: str) -> float:
        return statistics.median(self.walls[name])

    def cpu(self, name: str) -> float:
        return statistics.median(self.cpus[name])

    @property
    def ratio(self) -> float:
        """Median of the per-round wall ratios A/B: machine drift between rounds cancels."""
        return statistics.median(self.ratios) if self.ratios else float("nan")

    @property
    def cpu_ratio(self) -> float:
        return self.cpu("A") / self.cpu("B") if self.cpu("B") > 0 else float("nan")


def child_env() -> dict[str, str]:
    """The environment for measured commands: without PYTHONDONTWRITEBYTECODE, so Python tools use
    their bytecode cache as users' installs do (a sandbox that sets it would measure the compiler)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(cmd_a: list[str], cmd_b: list[str], *, runs: int = 5, warmup: int = 1,
            cwd_a: str | None = None, cwd_b: str | None = None) -> Paired:
    """Run A and B alternately (the order flips every round) after ``warmup`` unmeasured rounds."""
    env = child_env()
    for _ in range(max(0, warmup)):
        run_once(cmd_a, env, cwd_a)
        run_once(cmd_b, env, cwd_b)
    result = Paired()
    for i in range(runs):
        order = ("A", "B") if i % 2 == 0 else ("B", "A")
        pair: dict[str, float] = {}
        for name in order:
            wall, cpu, rc = run_once(cmd_a if name == "A" else cmd_b, env, cwd_a if name == "A" else cwd_b)
            result.walls[name].append(wall)
            result.cpus[name].append(cpu)
            result.failed[name] += rc != 0
            pair[name] = wall
        if pair["B"] > 0:
            result.ratios.append(pair["A"] / pair["B"])
    return result


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


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
    result = measure(cmd_a, cmd_b, runs=args.runs, warmup=args.warmup)
    label = f"[{args.label}] " if args.label else ""
    for name in ("A", "B"):
        note = f"  ({result.failed[name]} non-zero exits)" if result.failed[name] else ""
        print(f"{label}{name}: wall median {result.wall(name):.3f}s "
              f"(min {min(result.walls[name]):.3f}, max {max(result.walls[name]):.3f}), "
              f"cpu median {result.cpu(name):.3f}s{note}")
    print(f"{label}A/B wall ratio: median {result.ratio:.2f}x over {len(result.ratios)} pairs; "
          f"load average {load_average()}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
