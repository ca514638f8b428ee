"""What ``ftaudit scan`` was asked to do, parsed and checked once (``ftaudit.cli`` builds it from the
command line): which files, which configuration overrides, what to fix, where the reports go.

Nothing here runs anything; ``cli.run_scan`` does, from a ``ScanOptions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FixOptions:
    fix: bool = False  # --fix: apply safe fixes (and unsafe ones with --unsafe-fixes)
    unsafe: bool = False  # --unsafe-fixes: also apply or show fixes that may change behaviour
    diff: bool = False  # --diff: print the fixes as a unified diff, write nothing
    exit_non_zero_on_fix: bool = False
    add_noqa: bool = False  # --add-noqa: write suppression comments instead of reporting


@dataclass(frozen=True)
class OutputOptions:
    output_file: Path | None = None  # -o: the main report goes here instead of stdout
    json_output: Path | None = None  # also write these formats to these files
    sarif_output: Path | None = None
    html_output: Path | None = None
    sarif_category: str | None = None
    statistics: bool = False  # findings per rule instead of the findings
    color: str = "auto"  # auto, always, never
    quiet: bool = False  # findings only, no summary
    silent: bool = False  # nothing at all: only the exit code
    verbose: bool = False  # what is scanned, skipped and how long it took


@dataclass(frozen=True)
class ScanOptions:
    targets: tuple[Path, ...]  # what to scan (the current folder when no PATHS were given)
    paths_given: bool = False  # PATHS were given (a scan that finds no file to read warns)
    # (the path it stands for, its bytes) when PATH is '-': an editor's unsaved buffer on standard input
    stdin: tuple[Path, bytes] | None = None
    config_path: Path | None = None  # --config
    isolated: bool = False  # --isolated: no configuration file at all
    overrides: Mapping[str, Any] = field(default_factory=dict)  # configuration keys set on the command line
    jobs: int | None = None
    show_settings: bool = False  # print the resolved settings and stop
    show_files: bool = False  # print the files that would be scanned and stop
    baseline: Path | None = None  # --baseline: report only findings not in it
    write_baseline: Path | None = None  # --write-baseline: record the findings in it and stop
    exit_zero: bool = False
    fixes: FixOptions = field(default_factory=FixOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    command: str = "ftaudit scan"  # the command line, for the reports that show it
