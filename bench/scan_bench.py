#!/usr/bin/env python3
"""ftaudit's performance benchmark: the targets of issue 19, measured from a plain clone.

The corpus (``bench/corpus.toml``: CPython's sources from Debian's archive and pinned extension sdists
from PyPI, each verified by sha256) is fetched on first use. Every row pairs two whole processes and
runs them alternately (``bench/paired.py``), so the ratio is measured against a baseline from the
same minutes on the same machine; the floor scan (``bench/floor_scan.py``: read, parse with
tree-sitter, one combined query; for Python ``ast.parse`` and one walk) is the baseline of the
whole-tree rows. Wall time is the measure, child CPU time is shown beside it, and the machine's load
is printed: a loaded machine inflates ratios that involve parallel work.

Usage: ``python bench/scan_bench.py [--runs 5] [--only ROW,...] [--cache DIR] [--markdown FILE]``.
Exits 1 when a target is missed (2 when the corpus cannot be fetched).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus as corpus_mod
from paired import Paired, child_env, load_average, measure

BENCH = Path(__file__).resolve().parent
PY = sys.executable
FLOOR = [PY, str(BENCH / "floor_scan.py")]
# The command a user types (default output: the terminal report and its summary), findings or not.
FTAUDIT = [PY, "-m", "ftaudit", "scan", "--isolated", "--exit-zero"]
JOBS = "2"


@dataclass
class Row:
    name: str
    what: str
    baseline: str
    value: float  # the measured ratio (or seconds, or MB)
    unit: str  # "x", "s" or "MB"
    target: float
    higher_is_better: bool = False
    cpu_ratio: float | None = None
    note: str = ""
    measurable: bool = True

    @property
    def met(self) -> bool:
        if not self.measurable:
            return True
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def cells(self) -> list[str]:
        fmt = {"x": "{:.2f}×", "s": "{:.3f} s", "MB": "{:.0f} MB"}[self.unit]
        value = fmt.format(self.value) if self.measurable else f"not measurable ({fmt.format(self.value)})"
        target = ("≥ " if self.higher_is_better else "≤ ") + fmt.format(self.target)
        cpu = f"{self.cpu_ratio:.2f}×" if self.cpu_ratio is not None else ""
        met = "—" if not self.measurable else ("yes" if self.met else "**no**")
        return [self.what, self.baseline, value, cpu, target, met, self.note]


def peak_rss_mb(cmd: list[str], cwd: str | None = None) -> float:
    """The largest resident set of any process of one run of ``cmd`` (the main process or a worker)."""
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
             "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([PY, "-c", probe, *cmd], capture_output=True, text=True, env=child_env(), cwd=cwd,
                         check=True).stdout
    kib = int(out.strip().splitlines()[-1])
    return kib / 1024 if sys.platform != "darwin" else kib / (1024 * 1024)


def _busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have used since boot (Linux), or None."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, *rest = (int(x) for x in fields)
    steal = rest[0] if rest else 0
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="pairs per row (median; default 5)")
    ap.add_argument("--only", default="", help="comma-separated row names (default: all)")
    ap.add_argument("--cache", type=Path, default=None, help="corpus folder (default ~/.cache/ftaudit/bench)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the table to this file")
    args = ap.parse_args(argv)
    try:
        corpus = corpus_mod.prepare(args.cache, log=lambda m: print(m, file=sys.stderr))
    except Exception as exc:  # network, checksum: nothing to measure
        print(f"scan_bench: cannot fetch the corpus: {exc}", file=sys.stderr)
        return 2
    runs = args.runs
    if runs < 5:
        print(f"scan_bench: {runs} pairs per row is a quick look, not the benchmark (5 or more)", file=sys.stderr)
    scratch = Path(tempfile.mkdtemp(prefix="ftaudit-bench-"))
    try:
        rows = _measure(corpus, runs, {r for r in args.only.split(",") if r}, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    table = _table(rows, runs)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n", encoding="utf-8")
    missed = [r.name for r in rows if not r.met]
    if missed:
        print(f"\ntargets missed: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


def _measure(corpus: corpus_mod.Corpus, runs: int, only: set[str], scratch: Path) -> list[Row]:
    rows: list[Row] = []
    c_folders = [str(p) for p in corpus.c_folders]
    extensions = [str(p) for p in corpus.extensions]

    def wanted(name: str) -> bool:
        return not only or name in only

    def paired(name: str, a: list[str], b: list[str], **kw: str | None) -> Paired:
        print(f"== {name}: {' '.join(a[2:] if a[:2] == [PY, '-m'] else a)[:110]}", file=sys.stderr, flush=True)
        result = measure(a, b, runs=runs, **kw)  # type: ignore[arg-type]
        print(f"   A {result.wall('A'):.3f}s (cpu {result.cpu('A'):.3f}s)  B {result.wall('B'):.3f}s "
              f"(cpu {result.cpu('B'):.3f}s)  ratio {result.ratio:.2f}x  load {load_average()}",
              file=sys.stderr, flush=True)
        for side in "AB":
            if result.failed[side]:
                print(f"   warning: {side} exited non-zero {result.failed[side]} times", file=sys.stderr)
        return result

    cold_c = [*FTAUDIT, "--no-cache", "--jobs", JOBS, *c_folders]
    floor_c = [*FLOOR, "--jobs", JOBS, *c_folders]
    if wanted("c"):
        r = paired("c", cold_c, floor_c)
        rows.append(Row("c", "CPython C (Modules, Objects, Python), -j2, default rules", "floor scan",
                        r.ratio, "x", 2.0, cpu_ratio=r.cpu_ratio))
    if wanted("c-generated"):
        r = paired("c-generated", [*cold_c[:-len(c_folders)], "--scan-generated", *c_folders], floor_c)
        rows.append(Row("c-generated", "the same, like for like (--scan-generated)", "floor scan",
                        r.ratio, "x", 2.0, cpu_ratio=r.cpu_ratio))
    if wanted("extensions"):
        r = paired("extensions", [*FTAUDIT, "--no-cache", "--jobs", JOBS, *extensions],
                   [*FLOOR, "--jobs", JOBS, *extensions])
        rows.append(Row("extensions", f"{len(extensions)} extension sdists, -j2", "floor scan",
                        r.ratio, "x", 2.0, cpu_ratio=r.cpu_ratio))
    one_c = corpus.one_c_file
    alone = scratch / "alone"
    alone.mkdir()
    shutil.copy2(one_c, alone / one_c.name)
    shutil.copy2(corpus.one_python_file, alone / corpus.one_python_file.name)
    if wanted("one-file-in-repo") or wanted("one-c-file"):
        # pre-commit in a large working tree: the corpus folder holds CPython and every sdist, no build
        # file above the file; the baseline is the same file copied alone into an empty folder.
        repo = corpus.cpython.parents[1]
        r = paired("one-file-in-repo", [*FTAUDIT, "--no-cache", str(one_c.relative_to(repo))],
                   [*FTAUDIT, "--no-cache", one_c.name], cwd_a=str(repo), cwd_b=str(alone))
        if wanted("one-file-in-repo"):
            rows.append(Row("one-file-in-repo", f"one staged file ({one_c.name}) inside a large repository, cold",
                            "the same file alone", r.ratio, "x", 2.0, cpu_ratio=r.cpu_ratio))
        if wanted("one-c-file"):
            lines = one_c.read_bytes().count(b"\n")
            rows.append(Row("one-c-file", f"one C file alone ({one_c.name}, {lines / 1000:.1f} kLOC), whole process",
                            "absolute", r.wall("B"), "s", 0.120, note="seconds on the machine below"))
    if wanted("one-python-file"):
        py_file = corpus.one_python_file.name
        r = paired("one-python-file", [*FTAUDIT, "--no-cache", py_file], [*FLOOR, "--python", py_file],
                   cwd_a=str(alone), cwd_b=str(alone))
        rows.append(Row("one-python-file", f"one Python file alone ({py_file}), whole process", "absolute",
                        r.wall("A"), "s", 0.100, note=f"floor process {r.wall('B'):.3f} s"))
    if wanted("python"):
        lib = str(corpus.python_folder)
        r = paired("python", [*FTAUDIT, "--no-cache", "--jobs", JOBS, lib], [*FLOOR, "--python", "--jobs", JOBS, lib])
        rows.append(Row("python", "CPython Lib/, all Python rules, -j2", "ast.parse + one walk",
                        r.ratio, "x", 1.3, cpu_ratio=r.cpu_ratio))
    if wanted("jobs"):
        one_job = [*FTAUDIT, "--no-cache", "--jobs", "1", *c_folders]
        before = _busy_seconds()
        r = paired("jobs", one_job, cold_c)
        after = _busy_seconds()
        # A speed-up from a second worker needs a second idle core: when other processes used a
        # noticeable share of the machine during the row, the ratio says more about them than us.
        elapsed = sum(r.walls["A"]) + sum(r.walls["B"])
        others = None
        if before is not None and after is not None and elapsed > 0:
            others = max(0.0, (after - before) - sum(r.cpus["A"]) - sum(r.cpus["B"])) / elapsed
        busy = others is not None and others > 0.15
        note = f"other processes used {others:.2f} of a core meanwhile" if others is not None else "load unknown"
        # A busy machine only lowers the speed-up: it excuses a miss, never a pass.
        rows.append(Row("jobs", "-j2 speed-up over -j1 (CPython C)", "-j1", r.ratio, "x", 1.8, higher_is_better=True,
                        note=note, measurable=not busy or r.ratio >= 1.8))
    if wanted("warm"):
        cache_dir = scratch / "cache"
        warm = [*FTAUDIT, "--cache-dir", str(cache_dir), "--jobs", JOBS, *c_folders]
        subprocess.run(warm, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        r = paired("warm", warm, cold_c)
        rows.append(Row("warm", "warm cache, nothing changed (CPython C)", "cold scan", r.ratio, "x", 0.1))
    if wanted("rss"):
        peak = max(peak_rss_mb(cold_c), peak_rss_mb([*FTAUDIT, "--no-cache", "--jobs", JOBS, *extensions]))
        rows.append(Row("rss", "peak RSS of any process (C and extension scans)", "absolute", peak, "MB", 150))
    return rows


def _table(rows: list[Row], runs: int) -> str:
    head = ["measurement", "baseline", "ftaudit", "CPU ratio", "target", "met", "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    lines.append("")
    lines.append(f"Median of {runs} alternating pairs per row; ratios are ftaudit / baseline wall time "
                 f"(CPU ratio: child CPU time). Machine: {machine()}; load average now {load_average()}.")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
