"""Scaling of the C source model on pathological inputs: time and peak RSS per input size.

Not a test (pytest does not collect it). Run from the repository root:

    python tests/cmodel/bench_scaling.py                # every shape at its default sizes
    python tests/cmodel/bench_scaling.py nested_if 20000 40000

Each measurement runs in a fresh process: build the unit, then ask every question the rules ask
(guards, compiled, lock state, locals, references, macros) about every call, write and global.
Linear code roughly doubles in time and memory when the size doubles.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _sum(n: int) -> str:
    return "+".join(f"f({i})" for i in range(n))


SHAPES: dict[str, tuple[Callable[[int], str], tuple[int, ...]]] = {
    # The reliability report's input: a global initialised by an n-term sum of calls.
    "sum_global": (lambda n: "int f(int x){return x;}\nint g = " + _sum(n) + ";\n", (500, 1000, 2000, 4000)),
    "sum_in_function": (lambda n: "static PyMutex m;\nint f(int);\nint g;\nint run(void) {\n"
                        f" PyMutex_Lock(&m);\n g = {_sum(n)};\n PyMutex_Unlock(&m);\n return 0;\n}}\n",
                        (500, 1000, 2000, 4000)),
    "statements": (lambda n: "int f(int);\nint run(void) {\n int x = 0;\n" + "".join(
        f" x = f({i});\n" for i in range(n)) + " return x;\n}\n", (10000, 20000)),
    "deep_blocks": (lambda n: "int f(int);\nint run(void) {\n" + "{ f(1);\n" * n + "}\n" * n + "return 0;\n}\n",
                    (100, 200, 300)),  # ~330 levels up, the recursive lock walk ends in a too-complex diagnostic
    "else_if": (lambda n: "int f(int);\nint run(int x) {\n int y = 0;\n " + " else ".join(
        f"if (x == {i}) {{ y = f({i}); }}" for i in range(n)) + "\n return y;\n}\n", (1000, 2000, 4000)),
    "functions": (lambda n: "int f(int);\n" + "".join(
        f"static int g{i}(int x) {{ return f(x + {i}); }}\n" for i in range(n)), (5000, 10000, 20000)),
    "nested_if": (lambda n: "#if A\n" * n + "int x;\n" + "#endif\n" * n, (5000, 10000, 20000, 40000)),
    "elifs": (lambda n: "#if A == 0\nint x0;\n" + "".join(
        f"#elif A == {i}\nint x{i};\n" for i in range(1, n)) + "#endif\n", (5000, 10000, 20000)),
    "defines": (lambda n: "".join(
        f"#define D{i} {i}\n#if D{i} > 3\nint x{i};\n#endif\n" for i in range(n)), (5000, 10000, 20000)),
    "long_line": (lambda n: "int f(int x){return x;}\nint g = " + "+".join(["f(1)"] * n) + ";\n",
                  (50000, 100000, 200000)),
}


def measure(shape: str, size: int) -> tuple[float, int, int]:
    """Seconds, bytes of source and peak RSS (KiB) of building and questioning one unit (in this process)."""
    from ftaudit.cmodel import build_unit
    from ftaudit.target import parse_target

    source = ("#include <Python.h>\n" + SHAPES[shape][0](size)).encode()
    start = time.perf_counter()
    unit = build_unit(source, "t.c", parse_target("3.13t"))
    _ = (unit.references, unit.entry_points, unit.init_functions, unit.module_inits, unit.macros)
    for function in unit.function_list:
        unit.variables_in(function.name)
    for node in [*(c.node for c in unit.calls), *unit.assignments, *unit.updates, *(v.node for v in unit.globals)]:
        unit.lock_state(node), unit.compiled(node), unit.guards_at(node)
    for call in unit.calls:
        for arg in call.args:
            unit.type_of(arg)
    elapsed = time.perf_counter() - start
    return elapsed, len(source), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        seconds, size, rss = measure(argv[1], int(argv[2]))
        print(f"{seconds} {size} {rss}")
        return
    shapes = [argv[0]] if argv else list(SHAPES)
    print(f"{'shape':16} {'n':>7} {'bytes':>9} {'seconds':>9} {'peak RSS':>10}")
    for shape in shapes:
        sizes = [int(a) for a in argv[1:]] if argv[1:] else SHAPES[shape][1]
        for size in sizes:
            done = subprocess.run([sys.executable, str(Path(__file__)), "--one", shape, str(size)],
                                  capture_output=True, text=True, timeout=1800)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["?"])[-1]
                print(f"{shape:16} {size:7} failed: {last}")
                continue
            seconds, length, rss = done.stdout.split()
            print(f"{shape:16} {size:7} {int(length):9} {float(seconds):8.2f}s {int(rss) // 1024:7} MiB", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
