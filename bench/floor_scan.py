#!/usr/bin/env python3
"""Floor scan: the least work any scan of the sources must do (the yardstick B of a paired benchmark).

For every C/C++ file under the given paths: read it, parse it with tree-sitter (C grammar for .c/.h,
C++ grammar for the rest) and run one combined query over the tree, counting captures. Nothing else.
With ``--python``, for every Python file instead: read it, ``ast.parse`` it and walk the tree once.

Usage: ``floor_scan.py [--jobs N] [--python] PATH ...`` (PATH: files or folders). Prints a one-line summary.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

C_SUFFIXES = frozenset({".c", ".h"})
CPP_SUFFIXES = frozenset({".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx"})
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "venv", ".venv", "env", ".env", ".tox", ".nox", "__pycache__",
                       "node_modules", "site-packages"})
QUERY = "(function_definition) @f (call_expression) @c (declaration) @d (assignment_expression) @a"

# Per-process state, built once per worker by _init.
_PARSERS: dict[str, object] = {}
_QUERIES: dict[str, object] = {}


def collect(paths: list[str], suffixes: frozenset[str] = C_SUFFIXES | CPP_SUFFIXES) -> list[str]:
    """Files with ``suffixes`` under ``paths`` (files given explicitly are kept whatever their suffix),
    sorted per root."""
    out: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            out.append(str(p))
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not _is_venv(Path(dirpath, d)))
            out.extend(str(Path(dirpath, f)) for f in sorted(filenames)
                       if Path(f).suffix.lower() in suffixes)
    return out


def _is_venv(d: Path) -> bool:
    return (d / "pyvenv.cfg").is_file()


def _init() -> None:
    import tree_sitter as ts
    import tree_sitter_c
    import tree_sitter_cpp

    for name, mod in (("c", tree_sitter_c), ("cpp", tree_sitter_cpp)):
        lang = ts.Language(mod.language())
        _PARSERS[name] = ts.Parser(lang)
        _QUERIES[name] = ts.Query(lang, QUERY)


def scan_file(path: str) -> tuple[int, int]:
    """(bytes read, captures) for one file; (0, 0) if it cannot be read."""
    import tree_sitter as ts

    try:
        with open(path, "rb") as fh:
            src = fh.read()
    except OSError:
        return 0, 0
    kind = "c" if Path(path).suffix.lower() in C_SUFFIXES else "cpp"
    tree = _PARSERS[kind].parse(src)  # type: ignore[attr-defined]
    caps = ts.QueryCursor(_QUERIES[kind]).captures(tree.root_node)  # type: ignore[arg-type]
    return len(src), sum(len(nodes) for nodes in caps.values())


def scan_python_file(path: str) -> tuple[int, int]:
    """(bytes read, nodes walked) for one Python file; (0, 0) if it cannot be read or parsed."""
    import ast
    import warnings

    try:
        with open(path, "rb") as fh:
            src = fh.read()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(src, filename=path)
    except (OSError, SyntaxError, ValueError):
        return 0, 0
    return len(src), sum(1 for _ in ast.walk(tree))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1: no pool)")
    ap.add_argument("--python", action="store_true", help="Python files: ast.parse and one ast.walk")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    files = collect(args.paths, frozenset({".py"}) if args.python else C_SUFFIXES | CPP_SUFFIXES)
    work = scan_python_file if args.python else scan_file
    init = (lambda: None) if args.python else _init
    if args.jobs > 1 and len(files) > 1:
        ctx = mp.get_context("fork") if sys.platform != "win32" else mp.get_context()
        with ctx.Pool(args.jobs, initializer=init) as pool:
            results = pool.map(work, files, chunksize=max(1, len(files) // (args.jobs * 4)))
    else:
        init()
        results = [work(f) for f in files]
    nbytes = sum(r[0] for r in results)
    ncaps = sum(r[1] for r in results)
    counted = "nodes" if args.python else "captures"
    print(f"floor_scan: {len(files)} files, {nbytes / 1024:.0f} KiB, {ncaps} {counted}, jobs={args.jobs}, "
          f"{time.perf_counter() - t0:.3f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
