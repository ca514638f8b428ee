"""The ``ftaudit`` command: parses options, runs the engine, hands the result to reporters.

It knows nothing about C or Python. Exit codes (the README's table): 0 clean, 1 findings at or above
``--fail-on``, 2 usage, configuration or internal error (an error outranks findings; any uncaught
error is one line, its traceback only with ``-v``), 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM). A closed output pipe (``ftaudit … | head``) ends the run quietly.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypedDict, Unpack

import click

from ftaudit import __version__
from ftaudit.config import OUTPUT_FORMATS, ConfigError, Settings, load_settings
from ftaudit.result import RunInfo, ScanResult
from ftaudit.run_options import FixOptions, OutputOptions, ScanOptions

if TYPE_CHECKING:
    from ftaudit.baseline import Outcome
    from ftaudit.progress import DelayedBar

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_PIPE_CLOSED = 130, 143, 141
MAX_JOBS = 1024
_SEVERITIES = click.Choice(["error", "warning", "note"], case_sensitive=False)


class _Terminated(BaseException):
    """SIGTERM arrived: unwind (the worker pool is torn down on the way) and exit 143."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


class DefaultToScan(click.Group):
    """``ftaudit PATH`` means ``ftaudit scan PATH``, as ``semgrep`` runs ``scan`` by default."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Every way out follows the exit-code table: no traceback unless ``-v``, never exit 1 for a crash."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        if threading_main():
            signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            code = exc.exit_code
        except click.ClickException as exc:
            exc.show()
            code = EXIT_ERROR
        except (KeyboardInterrupt, click.exceptions.Abort):
            _quiet_echo("ftaudit: interrupted")
            code = EXIT_INTERRUPTED
        except _Terminated:
            _quiet_echo("ftaudit: terminated")
            code = EXIT_TERMINATED
        except BrokenPipeError:
            _silence_stdout()
            code = EXIT_PIPE_CLOSED
        except SystemExit:
            raise
        except Exception as exc:  # a bug of ours: one line, exit 2 (a crash must never read as "findings")
            if "-v" in argv or "--verbose" in argv:
                traceback.print_exc()
            _quiet_echo(f"ftaudit: error: internal error: {type(exc).__name__}: {exc}"
                        + ("" if "-v" in argv or "--verbose" in argv else " (run with -v for the traceback)"))
            code = EXIT_ERROR
        sys.exit(code if isinstance(code, int) else EXIT_CLEAN)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = args[0] if args else ""
        if args and first not in self.commands and first not in ("--help", "-h", "--version"):
            if not first.startswith("-") and not os.path.lexists(first):
                # A mistyped command (`ftaudit sacn`) must not become a scan of nothing that passes.
                import difflib

                close = difflib.get_close_matches(first, list(self.commands), n=1)
                hint = f"; did you mean `ftaudit {close[0]}`?" if close else "; `ftaudit --help` lists the commands"
                raise click.UsageError(f"{first!r} is neither a command nor an existing path{hint}", ctx)
            args = ["scan", *args]
        elif not args:
            args = ["scan"]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultToScan, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftaudit")
def main() -> None:
    """Audit CPython extensions and Python code for free-threaded and modern CPython."""


def _split(values: tuple[str, ...]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _per_file_ignores(values: tuple[str, ...]) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for value in values:
        glob, sep, codes = value.rpartition(":")
        if not sep or not glob:
            raise click.BadParameter(f"{value!r}: expected GLOB:CODES, e.g. 'tests/*:FT2'",
                                     param_hint="--per-file-ignores")
        table.setdefault(glob, []).extend(_split((codes,)))
    return table


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _quiet_echo(message: str) -> None:
    with contextlib.suppress(OSError):
        click.echo(message, err=True)


def visible(text: str) -> str:
    """Scanned text (paths, messages) with control and bidi characters shown, never sent to the terminal."""
    from ftaudit.report.terminal import visible as shown

    return shown(text)


def visible_lines(text: str) -> str:
    """A diff's lines with control characters shown (each line's own newline kept)."""
    return "".join(visible(line.rstrip("\n")) + "\n" if line.endswith("\n") else visible(line)
                   for line in text.splitlines(keepends=True))


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush cannot complain again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class ScanParams(TypedDict):
    """The parameters click passes to ``scan``, one per option (``scan_options`` makes a ScanOptions of them)."""

    paths: tuple[Path, ...]
    config_path: Path | None
    isolated: bool
    target_version: str | None
    python: str | None
    select: tuple[str, ...]
    extend_select: tuple[str, ...]
    ignore: tuple[str, ...]
    per_file_ignores: tuple[str, ...]
    min_severity: str | None
    fail_on: str | None
    exit_zero: bool
    fix: bool
    unsafe_fixes: bool
    show_diff: bool
    exit_non_zero_on_fix: bool
    add_noqa: bool
    output_format: str | None
    output_file: Path | None
    json_output: Path | None
    sarif_output: Path | None
    sarif_category: str | None
    html_output: Path | None
    baseline_path: Path | None
    write_baseline: Path | None
    statistics: bool
    color: str
    quiet: bool
    silent: bool
    verbose: bool
    jobs: int | None
    per_file_timeout: float | None
    exclude: tuple[str, ...]
    extend_exclude: tuple[str, ...]
    force_exclude: bool | None
    respect_gitignore: bool | None
    engine: str | None
    build_path: Path | None
    scan_generated: bool
    stdin_filename: Path | None
    no_cache: bool
    cache_dir: Path | None
    show_settings: bool
    show_files: bool


def _fail(message: str) -> NoReturn:
    click.echo(f"ftaudit: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Use this configuration file instead of discovering one.")
@click.option("--isolated", is_flag=True, help="Ignore all configuration files.")
@click.option("--target-version", help="CPython build to audit for, e.g. 3.13t (default: from requires-python).")
@click.option("--python", "python", metavar="PATH",
              help="Take the target from this interpreter: its version, whether it is free-threaded, its headers.")
@click.option("--select", multiple=True, help="Rule codes or prefixes to enable (replaces the configured set).")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable in addition.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--per-file-ignores", multiple=True, metavar="GLOB:CODES",
              help="Disable rules for files matching a glob, e.g. 'tests/*:FT2'.")
@click.option("--min-severity", type=_SEVERITIES, help="Do not report findings below this severity.")
@click.option("--fail-on", type=_SEVERITIES, help="Exit 1 when a finding at or above this severity is found "
              "[default: warning].")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported (errors still exit 2).")
@click.option("--fix", is_flag=True, help="Apply safe fixes to the files (and unsafe ones with --unsafe-fixes).")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (or show) fixes that may change behaviour.")
@click.option("--diff", "show_diff", is_flag=True, help="Print the fixes as a unified diff; write nothing.")
@click.option("--exit-non-zero-on-fix", is_flag=True, help="Exit 1 when --fix changed anything.")
@click.option("--add-noqa", is_flag=True,
              help="Add a suppression comment (// NOLINT(...) or # noqa: ...) to every line with findings.")
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), help="Output format [default: full].")
@click.option("-o", "--output-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the output to this file instead of stdout.")
@click.option("--json-output", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write JSON output to this file.")
@click.option("--sarif-output", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write SARIF 2.1.0 (for GitHub code scanning) to this file.")
@click.option("--sarif-category", metavar="NAME",
              help="SARIF category: automationDetails.id becomes ftaudit/NAME/ [default: the scanned folder].")
@click.option("--html-output", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the self-contained HTML report to this file.")
@click.option("--baseline", "baseline_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Report only findings that are not in this baseline file; list its stale entries.")
@click.option("--write-baseline", type=click.Path(path_type=Path, dir_okay=False),
              help="Record the current findings in this baseline file and exit 0.")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule instead of the findings.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour terminal output (honours NO_COLOR, FORCE_COLOR and TERM=dumb).")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only, no summary.")
@click.option("-s", "--silent", is_flag=True, help="Print nothing; only the exit code speaks.")
@click.option("-v", "--verbose", is_flag=True, help="Explain what is scanned, skipped and how long it took.")
@click.option("-j", "--jobs", type=click.IntRange(min=1, max=MAX_JOBS),
              help="Worker processes [default: CPU count].")
@click.option("--per-file-timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Give up on a file after this long, with a too-complex diagnostic (0: never) [default: 30].")
@click.option("--exclude", multiple=True, help="Glob patterns to exclude (replaces the default list).")
@click.option("--extend-exclude", multiple=True, help="Glob patterns to exclude in addition.")
@click.option("--force-exclude/--no-force-exclude", default=None,
              help="Apply excludes to paths passed explicitly too (what pre-commit needs).")
@click.option("--respect-gitignore/--no-respect-gitignore", default=None, help="Honour .gitignore files.")
@click.option("--engine", type=click.Choice(["tree-sitter", "libclang"]),
              help="How #if guards are decided: tree-sitter evaluation (default) or the real preprocessor "
                   "(libclang, with compile_commands.json flags): the precise mode.")
@click.option("-p", "--build-path", type=click.Path(path_type=Path),
              help="Folder (or file) of compile_commands.json for --engine libclang [default: searched].")
@click.option("--scan-generated", is_flag=True,
              help="Also analyse files whose header says they are generated (Cython's C output, f2c, @generated).")
@click.option("--stdin-filename", type=click.Path(path_type=Path, dir_okay=False),
              help="With PATH '-': the file the text on standard input stands for (editors pass unsaved buffers).")
@click.option("--no-cache", is_flag=True, help="Analyse every file again instead of reusing cached results.")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where to keep cached results [default: .ftaudit_cache beside the configuration].")
@click.option("--show-settings", is_flag=True, help="Print the resolved settings as JSON and exit.")
@click.option("--show-files", is_flag=True, help="Print the files that would be scanned and exit.")
def scan(**params: Unpack[ScanParams]) -> None:
    """Scan PATHS (default: the current folder) and report findings."""
    started = time.perf_counter()
    sys.exit(run_scan(scan_options(params), started))


def scan_options(params: ScanParams) -> ScanOptions:
    """The command line of ``ftaudit scan`` (click's parameters) checked and turned into a ScanOptions."""
    fixes = FixOptions(fix=params["fix"], unsafe=params["unsafe_fixes"], diff=params["show_diff"],
                       exit_non_zero_on_fix=params["exit_non_zero_on_fix"], add_noqa=params["add_noqa"])
    if fixes.add_noqa and (fixes.fix or fixes.diff or params["write_baseline"] is not None):
        raise click.UsageError("--add-noqa writes suppression comments; it cannot be combined with --fix, --diff "
                               "or --write-baseline (run them one after the other)")
    paths = params["paths"]
    stdin: tuple[Path, bytes] | None = None
    if [str(p) for p in paths] == ["-"]:
        stdin_filename = params["stdin_filename"]
        if stdin_filename is None:
            raise click.UsageError("reading from standard input (PATH '-') needs --stdin-filename")
        if fixes.fix or fixes.diff or fixes.add_noqa:
            raise click.UsageError("--fix, --diff and --add-noqa change files: they do not take standard input")
        stdin = (stdin_filename, sys.stdin.buffer.read())
        paths = (stdin_filename,)
    targets = paths or (Path("."),)
    missing = [str(p) for p in targets if stdin is None and not os.path.lexists(p)]
    if missing:
        _fail(f"no such file or directory: {', '.join(missing)}")  # a mistyped path must not pass silently
    output = OutputOptions(
        output_file=params["output_file"], json_output=params["json_output"], sarif_output=params["sarif_output"],
        html_output=params["html_output"], sarif_category=params["sarif_category"],
        statistics=params["statistics"], color=params["color"], quiet=params["quiet"], silent=params["silent"],
        verbose=params["verbose"])
    return ScanOptions(
        targets=targets, paths_given=bool(paths), stdin=stdin, config_path=params["config_path"],
        isolated=params["isolated"], overrides=MappingProxyType(_overrides(params)), jobs=params["jobs"],
        show_settings=params["show_settings"], show_files=params["show_files"], baseline=params["baseline_path"],
        write_baseline=params["write_baseline"], exit_zero=params["exit_zero"], fixes=fixes, output=output,
        command=" ".join(["ftaudit", *sys.argv[1:]]))


def _overrides(params: ScanParams) -> dict[str, Any]:
    """The configuration keys the command line sets (they win over the configuration file)."""
    overrides: dict[str, Any] = {}
    for key, values in (("select", params["select"]), ("extend-select", params["extend_select"]),
                        ("ignore", params["ignore"]), ("exclude", params["exclude"]),
                        ("extend-exclude", params["extend_exclude"])):
        value = _split(values)
        if value:
            overrides[key] = value
    if params["per_file_ignores"]:
        overrides["extend-per-file-ignores"] = _per_file_ignores(params["per_file_ignores"])
    if params["no_cache"]:
        overrides["cache"] = False
    if params["scan_generated"]:
        overrides["scan-generated"] = True
    if params["engine"] is not None:
        overrides["engine"] = params["engine"]
    if params["build_path"] is not None:
        overrides["build-path"] = str(params["build_path"].resolve())
    if params["per_file_timeout"] is not None:
        overrides["per-file-timeout"] = params["per_file_timeout"]
    if params["cache_dir"] is not None:
        overrides["cache-dir"] = str(params["cache_dir"].resolve())
    for key, setting in (("target-version", params["target_version"]), ("python", params["python"]),
                         ("min-severity", params["min_severity"]), ("fail-on", params["fail_on"]),
                         ("output-format", params["output_format"]), ("force-exclude", params["force_exclude"]),
                         ("respect-gitignore", params["respect_gitignore"])):
        if setting is not None:
            overrides[key] = setting
    return overrides


def _shows_summary(output_format: str, output: OutputOptions) -> bool:
    """Whether the terminal summary (which counts findings debug switches hide) will be printed."""
    from ftaudit.report import UnknownFormat, get_reporter

    try:
        return not get_reporter(output_format).machine and not output.quiet and not output.silent
    except UnknownFormat:
        return False


def _progress_bar(output_format: str, quiet: bool) -> DelayedBar | None:
    from ftaudit import progress
    from ftaudit.report import UnknownFormat, get_reporter

    try:
        machine = get_reporter(output_format).machine
    except UnknownFormat:
        return None  # reported after the scan, with the other output problems
    return progress.DelayedBar() if progress.wanted(machine_format=machine, quiet=quiet) else None


def run_scan(options: ScanOptions, started: float | None = None) -> int:
    """Run what ``options`` ask for: scan, fix or suppress, record or apply a baseline, report. The exit code."""
    from ftaudit.engine import scan as engine_scan  # looked up now: tests replace it

    started = time.perf_counter() if started is None else started
    output, fixes = options.output, options.fixes
    settings = _settings(options)
    # Modules, rule classes and tables live as long as the process: keep the cyclic collector from walking
    # them again on every full collection of the scan (measured: 7 % of a whole-tree scan). The pool's
    # workers are forked after this and inherit it.
    from ftaudit.registry import load_registry

    load_registry()
    gc.freeze()
    if options.show_settings:
        from ftaudit.engine import enabled_rules

        data = settings.as_dict()
        data["enabled-rules"] = list(enabled_rules(settings))
        click.echo(json.dumps(data, indent=2))
        return EXIT_CLEAN
    targets = list(options.targets)
    if options.show_files:
        from ftaudit.discover import discover

        found = discover(targets, root=settings.root, exclude=[*settings.exclude, *settings.extend_exclude],
                         respect_gitignore=settings.respect_gitignore, force_exclude=settings.force_exclude)
        for f in found.files:
            click.echo(visible(f.display))
        return EXIT_CLEAN

    context: list[Path] = []
    if options.stdin is not None or all(p.is_file() for p in targets if p.exists()):
        from ftaudit.discover import context_roots

        context = context_roots([p.resolve() for p in targets if p.exists() or options.stdin is not None],
                                settings.root)
    bar = _progress_bar(settings.output_format, output.quiet or output.silent)
    try:
        result = engine_scan(targets, settings, jobs=options.jobs, context_paths=context, stdin=options.stdin,
                             progress=bar, count_hidden=_shows_summary(settings.output_format, output))
    finally:
        if bar is not None:
            bar.close()
    if options.paths_given and not result.files and not output.silent:
        click.echo(f"ftaudit: warning: no file to scan in {', '.join(str(p) for p in targets)} "
                   "(not a file type ftaudit reads, excluded, or generated; -v says which)", err=True)
    if fixes.add_noqa:
        return _add_noqa(result, output.silent)
    if fixes.diff:
        return _show_diff(result, fixes.unsafe, output.silent)
    fixed = 0
    if fixes.fix:
        result, fixed = _fix(result, fixes.unsafe, output.silent,
                             lambda: engine_scan(targets, settings, jobs=options.jobs, context_paths=context))
    elapsed = time.perf_counter() - started
    # pre-commit sets PRE_COMMIT=1: no chatter there, only findings and errors.
    chatty = not output.silent and not output.quiet and os.environ.get("PRE_COMMIT") != "1"

    if not output.silent:
        for diagnostic in result.diagnostics:
            level = "error" if diagnostic.is_error else "warning"
            click.echo(f"ftaudit: {level}: {visible(diagnostic.render())}", err=True)
        if output.verbose:
            _explain(result, settings, elapsed)
    if options.write_baseline is not None:
        return _write_baseline(result, options.write_baseline, chatty)
    outcome = None
    if options.baseline is not None:
        outcome = _apply_baseline(result, options.baseline, output.silent)
        result = replace(result, findings=outcome.new)
    run = RunInfo(command=options.command, paths=tuple(targets), sarif_category=output.sarif_category,
                  unsafe_fixes=fixes.unsafe, baseline=outcome)
    try:
        _write_outputs(result, settings, output, run)
    except BrokenPipeError:
        raise  # `ftaudit … | head`: ends quietly (DefaultToScan.main)
    except OSError as exc:
        _fail(f"cannot write output: {exc}")
    code = exit_code(result, settings, options.exit_zero)
    return EXIT_FINDINGS if code == EXIT_CLEAN and fixes.exit_non_zero_on_fix and fixed else code


def _settings(options: ScanOptions) -> Settings:
    """The resolved settings (configuration file, then the command line); warnings about them and about
    rules that failed to load are printed here."""
    from ftaudit.registry import load_registry

    registry = load_registry()
    for problem in registry.problems:
        click.echo(f"ftaudit: warning: {problem}", err=True)
    first = options.targets[0]
    start = first if first.exists() else Path.cwd()
    try:
        settings = load_settings(start=start.resolve(), config_path=options.config_path, isolated=options.isolated,
                                 overrides=dict(options.overrides), rules=registry.rules)
    except ConfigError as exc:
        _fail(str(exc))
    if not options.output.silent:
        for warning in settings.warnings:
            click.echo(f"ftaudit: warning: {warning}", err=True)
    return settings


def _add_noqa(result: ScanResult, silent: bool) -> int:
    """`--add-noqa`: a suppression comment on every line with findings."""
    from ftaudit.add_noqa import add_noqa as write_suppressions

    added = write_suppressions(result.findings, digests=result.digests, roots=result.roots)
    for reason in added.refused:
        click.echo(f"ftaudit: warning: {reason}", err=True)
    if not silent:
        lines = f"{added.skipped} line{'s' if added.skipped != 1 else ''}"
        note = f" ({lines} could not take a comment)" if added.skipped else ""
        click.echo(f"Added {added.added} suppression comment{'s' if added.added != 1 else ''} in {added.files} "
                   f"file{'s' if added.files != 1 else ''}{note}.", err=True)
    return EXIT_ERROR if result.has_internal_error else EXIT_CLEAN


FIX_PASSES = 10  # --fix rounds at most (edits that overlap wait for the next round)


def _fix(result: ScanResult, unsafe: bool, silent: bool,
         rescan: Callable[[], ScanResult]) -> tuple[ScanResult, int]:
    """`--fix`: the result of the last rescan, and how many findings the edits fixed."""
    from ftaudit import fixes

    # Like ruff: apply, rescan, and apply again what overlapping edits held back, until nothing changes,
    # so that one `--fix` leaves nothing a second one would change (bounded, in case edits fight).
    fixed = 0
    files_written: set[Path] = set()
    for _ in range(FIX_PASSES):
        plans = fixes.plan(result.findings, unsafe=unsafe, digests=result.digests)
        refused = list(plans.skipped)
        written: list[fixes.FilePlan] = []
        for file_plan in plans.files:
            reason = fixes.write(file_plan, result.roots)
            if reason is None:
                written.append(file_plan)
            else:
                refused.append(reason)
        fixed += sum(len(p.fixed) for p in written)
        files_written.update(p.path for p in written)
        for refusal in refused:  # the findings stay, so the rescan still reports them
            click.echo(f"ftaudit: warning: {refusal}", err=True)
        if not written:
            break
        # Positions moved: report what is left, from a fresh scan (the cache keeps it cheap).
        result = rescan()
    else:
        click.echo(f"ftaudit: warning: fixes did not converge after {FIX_PASSES} rounds (an edit that "
                   "does not remove its finding: please report it); the files are left as they are now",
                   err=True)
    if not silent:
        click.echo(f"Fixed {fixed} finding{'s' if fixed != 1 else ''} in {len(files_written)} "
                   f"file{'s' if len(files_written) != 1 else ''}.", err=True)
    return result, fixed


def _write_baseline(result: ScanResult, path: Path, chatty: bool) -> int:
    from ftaudit.baseline import write

    try:
        count = write(result, path)
    except OSError as exc:
        _fail(f"cannot write baseline: {exc}")
    if chatty:
        click.echo(f"ftaudit: wrote {count} finding{'' if count == 1 else 's'} to baseline {path}", err=True)
    return EXIT_ERROR if result.has_internal_error else EXIT_CLEAN


def _apply_baseline(result: ScanResult, path: Path, silent: bool) -> Outcome:
    """Which findings the baseline does not hold; its stale entries are listed."""
    from ftaudit.baseline import BaselineError, apply, load

    try:
        outcome = apply(result, load(path))
    except BaselineError as exc:
        _fail(str(exc))
    if outcome.stale and not silent:
        click.echo(f"ftaudit: baseline {path}: {len(outcome.stale)} stale entr"
                   f"{'y' if len(outcome.stale) == 1 else 'ies'} (fixed since; rewrite it with "
                   "--write-baseline to tighten it):", err=True)
        for entry in outcome.stale:
            click.echo(visible(f"  {entry.path}:{entry.line}: {entry.code} {entry.message}"), err=True)
    return outcome


def _show_diff(result: ScanResult, unsafe: bool, silent: bool) -> int:
    """`--diff`: the edits `--fix` would make, as a unified diff; exit 1 when there are any."""
    from ftaudit import fixes

    plans = fixes.plan(result.findings, unsafe=unsafe, digests=result.digests)
    if not silent:
        for reason in plans.skipped:
            click.echo(f"ftaudit: warning: {reason}", err=True)
        for file_plan in plans.files:
            click.echo(visible_lines(fixes.unified_diff(file_plan)), nl=False)
        click.echo(f"Would fix {plans.count} finding{'s' if plans.count != 1 else ''} in {len(plans.files)} "
                   f"file{'s' if len(plans.files) != 1 else ''}.", err=True)
    if result.has_internal_error:
        return EXIT_ERROR
    return EXIT_FINDINGS if plans.files else EXIT_CLEAN


def exit_code(result: ScanResult, settings: Settings, exit_zero: bool) -> int:
    if result.has_internal_error:
        return EXIT_ERROR
    if exit_zero:
        return EXIT_CLEAN
    return EXIT_FINDINGS if any(f.severity >= settings.fail_on for f in result.findings) else EXIT_CLEAN


def _explain(result: ScanResult, settings: Settings, elapsed: float) -> None:
    echo = lambda text: click.echo(f"ftaudit: {text}", err=True)  # noqa: E731
    echo(f"configuration: {settings.config_file or 'defaults'}; target {settings.target.label}"
         + (f", oldest supported {settings.target.minimum[0]}.{settings.target.minimum[1]}"
            if settings.target.minimum else "")
         + (f"; from {settings.python.executable}" if settings.python else ""))
    echo(f"{len(result.rules)} rules enabled; {len(result.files)} files scanned ({result.cached} from the cache); "
         f"{result.suppressed} findings suppressed inline; {elapsed:.3f}s")
    for path, reason in result.skipped:
        echo(visible(f"skipped {path}: {reason}"))


def _write_outputs(result: ScanResult, settings: Settings, output: OutputOptions, run: RunInfo) -> None:
    """The report in the configured format (stdout or -o), and the extra files (--json-output, …)."""
    from ftaudit.report import UnknownFormat, get_reporter
    from ftaudit.report.colour import Painter, use_colour
    from ftaudit.report.terminal import statistics as stats_lines
    from ftaudit.report.terminal import summary_line

    try:
        reporter = get_reporter(settings.output_format)
    except UnknownFormat as exc:
        _fail(str(exc))
    for name, extra_path in (("json", output.json_output), ("sarif", output.sarif_output),
                             ("html", output.html_output)):
        if extra_path is not None:
            buffer = io.StringIO()
            get_reporter(name).render(result, buffer, color=False, run=run)
            _write_file(extra_path, buffer.getvalue())
    if output.silent:
        return
    stream: TextIO
    with (_FileOutput(output.output_file) if output.output_file else _stdout()) as stream:
        paint_on = not reporter.machine and use_colour(output.color, stream)
        if output.statistics and not reporter.machine:
            for line in stats_lines(result, Painter(paint_on), unsafe=run.unsafe_fixes):
                stream.write(line + "\n")
        else:
            reporter.render(result, stream, color=paint_on, run=run)
        # Under pre-commit (PRE_COMMIT=1) a passing hook prints nothing at all.
        if not reporter.machine and not output.quiet and (result.findings or os.environ.get("PRE_COMMIT") != "1"):
            stream.write(summary_line(result) + "\n")


def _write_file(path: Path, text: str) -> None:
    """Reports go through the one safe writer: atomic, never through a planted symlink."""
    from ftaudit.safe_write import WriteRefused, write_new

    try:
        write_new(path, text.encode("utf-8"))
    except WriteRefused as exc:
        raise OSError(str(exc)) from None


class _FileOutput:
    """An output file collected in memory and written in one atomic step when the report is done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.buffer = io.StringIO()

    def __enter__(self) -> TextIO:
        return self.buffer

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            _write_file(self.path, self.buffer.getvalue())


class _stdout:
    """stdout as a context manager that is not closed afterwards."""

    def __enter__(self) -> TextIO:
        return sys.stdout

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()


@main.command("rules")
@click.option("--output-format", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
def list_rules(output_format: str) -> None:
    """List every rule: code, name, default severity, languages, fixable."""
    from ftaudit.registry import load_registry
    from ftaudit.ruledocs import languages_label, rules_table

    rules = list(load_registry().rules.values())
    if output_format == "json":
        click.echo(json.dumps([{"code": r.code, "name": r.slug, "severity": r.severity.label,
                                "languages": sorted(lang.value for lang in r.languages),
                                "fixable": r.fixable, "summary": r.summary} for r in rules], indent=2))
    elif output_format == "markdown":
        click.echo(rules_table(rules), nl=False)
    else:
        width = max((len(r.slug) for r in rules), default=10)
        for r in rules:
            fix = "[*]" if r.fixable else "[ ]"
            click.echo(f"{r.code}  {r.slug:<{width}}  {r.severity.label:<7}  {fix}  {languages_label(r)}")


@main.command("rule")
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Print the documentation of every rule.")
@click.option("--output-format", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
def explain_rule(code: str | None, show_all: bool, output_format: str) -> None:
    """Print a rule's documentation (by code or name) as Markdown."""
    from ftaudit.registry import load_registry
    from ftaudit.ruledocs import render_markdown

    registry = load_registry()
    if show_all:
        rules = list(registry.rules.values())
    elif code:
        rule = registry.by_slug_or_code(code)
        if rule is None:
            _fail(f"unknown rule {code!r}; `ftaudit rules` lists them")
            return
        rules = [rule]
    else:
        raise click.UsageError("give a rule code (e.g. FT101) or --all")
    if output_format == "json":
        docs = [{"code": r.code, "name": r.slug, "summary": r.summary, "severity": r.severity.label,
                 "explanation": render_markdown(r)} for r in rules]
        click.echo(json.dumps(docs if show_all else docs[0], indent=2))
    else:
        click.echo("\n".join(render_markdown(r) for r in rules), nl=False)


@main.command()
def version() -> None:
    """Print ftaudit's version."""
    click.echo(f"ftaudit {__version__}")


if __name__ == "__main__":  # pragma: no cover
    main()
