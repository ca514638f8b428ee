"""The pipeline: discover → read once → parse once → every rule on the shared parse → project pass →
suppressions, severities and selection → one deterministic list for the reporters.

Per-file work runs in a process pool (largest files first) or in-process for small runs; both give
the same result because everything after the per-file stage happens here, in file order.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftaudit import cache
from ftaudit.config import Settings, requires_python, target_from_requires_python
from ftaudit.context import FileContext, ProjectContext
from ftaudit.discover import Discovery, FoundFile, PatternSet, discover, scan_boundary
from ftaudit.findings import Diagnostic, DiagnosticKind, Finding, Position, Severity
from ftaudit.fingerprint import decode, line_fingerprints
from ftaudit.neighbours import MAX_ROUNDS, NeighbourPool, search_names
from ftaudit.registry import load_registry
from ftaudit.result import ScanResult
from ftaudit.rule import Rule
from ftaudit.selection import most_specific, resolve
from ftaudit.source import BUILD_FILE_NAMES, Language, SourceFile, generated_marker, is_template, language_for
from ftaudit.statements import multiline_statements
from ftaudit.suppress import Suppression, find_suppressions
from ftaudit.target import Target

if TYPE_CHECKING:
    from ftaudit.precise import PreciseConfig

UNUSED_SUPPRESSION = "FT001"
_WORD = re.compile(r"[A-Za-z_]\w*")
CONTEXT_LINES = 3  # lines kept around each finding for code frames and the HTML report
Progress = Callable[[int, int], None]  # (files done, files in all), for a progress bar


@dataclass(frozen=True)
class FileTask:
    file: FoundFile
    rules: tuple[str, ...]  # codes enabled for this file
    target: Target | None = None  # when a nested pyproject.toml gives this file another minimum
    focus: bool = True  # False: read only as context for project-level rules (their findings here are dropped)


@dataclass
class FileResult:
    display: str
    findings: list[Finding] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)
    unclosed: list[tuple[int, int]] = field(default_factory=list)  # NOLINTBEGIN without END
    statements: list[tuple[int, int]] = field(default_factory=list)
    summaries: dict[str, Any] = field(default_factory=dict)
    lines: dict[int, str] = field(default_factory=dict)
    fingerprints: dict[int, str] = field(default_factory=dict)  # line -> GitHub primaryLocationLineHash
    analysed: bool = False
    from_cache: bool = False
    digest: str = ""  # SHA-256 of the bytes analysed: --fix and --add-noqa skip a file changed since
    skipped_reason: str = ""
    precise_state: str = ""
    # Project source files this one #includes: (resolved path, whether that #include is compiled).
    fragments: list[tuple[str, bool]] = field(default_factory=list)
    hidden: int = 0  # findings only in code built with debug/test switches nobody defines
    # Names the file uses other than to define or declare a function (``CUnit.mentions``; for other
    # files every word). None: the file was not read, so what it names is unknown.
    mentions: list[str] | None = field(default_factory=list)
    # Functions and variables this file defines that other files can use (a focused scan searches its
    # context for them).
    exports: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WorkerConfig:
    target: Target
    rule_options: dict[str, dict[str, Any]]
    max_bytes: int
    cache_dir: Path | None = None
    cache_salt: str = ""
    cache_secret: bytes = b""
    per_file_timeout: float = 0.0  # seconds; 0: no budget
    boundary: tuple[Path, ...] = ()  # the scan boundary: project headers are read only inside it
    build_mentions: frozenset[str] = frozenset()  # debug-style names the project's build files mention
    debug_switches_off: bool = True  # debug/test switches nobody defines are off (config `debug-switches`)
    scan_generated: bool = False
    precise: PreciseConfig | None = None
    collect_mentions: bool = False  # a project pass decides which exported functions anyone names
    # Count the findings debug/test switches hide (a second analysis of such files): only the terminal
    # summary shows the count, so machine formats and quiet runs skip it.
    count_hidden: bool = True


# -- per-file stage (runs in workers) ------------------------------------------------------------
_worker: WorkerConfig | None = None
_instances: dict[str, Rule] = {}


def _init_worker(config: WorkerConfig) -> None:
    global _worker
    _worker = config
    _instances.clear()
    includes = sys.modules.get("ftaudit.cmodel.includes")  # imported only once a C file was analysed
    if includes is not None:
        includes.forget_lookups()  # header lookups are remembered for one scan only
    load_registry()  # imports the rules, and so defines their summary types before a cache entry is decoded


def _init_pool_worker(config: WorkerConfig) -> None:
    """A pool worker dies with the process that started it: an orphan would block on its queue forever
    and hold the caller's stdout open, so the caller would never see EOF."""
    _init_worker(config)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    """Where no death signal exists (macOS, BSD): notice within a second that the parent is gone."""
    import time

    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


class _Overrun(BaseException):
    """The per-file budget ran out (a BaseException, so no rule's `except Exception` swallows it)."""


_alarm_live = False  # a late SIGALRM (handled after the file was done) must not hit the next file


def _on_alarm(signum: int, frame: object) -> None:
    global _alarm_live
    if _alarm_live:
        _alarm_live = False
        raise _Overrun


def _arm(seconds: float) -> bool:
    """Arm the per-file timer; False where signals cannot be used (not the main thread, no SIGALRM)."""
    global _alarm_live
    if seconds <= 0 or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGALRM, _on_alarm)
    _alarm_live = True
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return True


def _disarm() -> None:
    global _alarm_live
    _alarm_live = False
    signal.setitimer(signal.ITIMER_REAL, 0)


def _rule(code: str) -> Rule:
    rule = _instances.get(code)
    if rule is None:
        assert _worker is not None
        cls = load_registry().rules[code]
        rule = _instances[code] = cls(_worker.rule_options.get(code))
    return rule


def _read(found: FoundFile, config: WorkerConfig, result: FileResult,
          rules: tuple[str, ...] = ()) -> tuple[SourceFile, bool] | None:
    """The file's source, and whether it is generated code that only `reads_generated` rules see."""
    def skip(kind: DiagnosticKind, message: str) -> None:
        result.diagnostics.append(Diagnostic(found.display, kind, message))

    generated = False
    if found.size > config.max_bytes:
        skip(DiagnosticKind.TOO_LARGE, f"{-(-found.size // 1024)} KiB is over the {config.max_bytes // 1024} KiB "
             "limit (max-file-size-kb); skipped")
        return None
    try:
        data = found.content if found.content is not None else found.path.read_bytes()
    except OSError as exc:
        skip(DiagnosticKind.UNREADABLE, f"cannot read: {exc.strerror or exc}; skipped")
        return None
    if b"\0" in data[:8192]:
        skip(DiagnosticKind.BINARY, "looks binary (NUL bytes); skipped")
        return None
    if not config.scan_generated:
        marker = generated_marker(data)
        if marker is not None:
            result.skipped_reason = f"generated code ({marker!r} in its header); --scan-generated reads it"
            if config.collect_mentions:  # a SWIG/Cython wrapper is where the library's API gets called
                result.mentions = sorted(set(_WORD.findall(data.decode("utf-8", "replace"))))
            if "cython" in marker.lower() or not any(_rule(code).reads_generated for code in rules):
                return None
            if not _may_define_module(data):
                return None  # a generated data table (unicodedata's 1.3 MB of names): no module to check
            result.skipped_reason = (f"generated code ({marker!r} in its header): only its module's GIL "
                                     "declaration is checked; --scan-generated reads it all")
            generated = True
    source = SourceFile(found.path, found.display, data, found.language)
    source.text  # noqa: B018 - decode now so an encoding problem is reported once
    if source.encoding_problem:
        skip(DiagnosticKind.ENCODING, source.encoding_problem)
    return source, generated


def settled(task: FileTask) -> FileResult | _Pending:
    """A file's result when it needs no analysis (skipped, unreadable, or in the result cache), else
    what its analysis starts from."""
    config = _worker
    assert config is not None, "worker not initialised"
    result = FileResult(task.file.display)
    read = _read(task.file, config, result, task.rules)
    if read is None:
        if result.diagnostics:
            result.mentions = None  # too large, unreadable or binary: what it names is unknown
        return result
    source, generated = read
    if generated:  # only the module-declaration rules read generated code (asdl_c.py's Python-ast.c)
        task = replace(task, rules=tuple(code for code in task.rules if _rule(code).reads_generated))
    digest = hashlib.sha256(source.data).hexdigest()
    cache_key = ""
    if config.cache_dir is not None:
        cache_key = cache.key(source.data, config.cache_salt, task.file.display, task.rules, task.focus,
                              task.target or config.target, config.rule_options, config.precise,
                              sorted(config.build_mentions), config.debug_switches_off, config.collect_mentions,
                              config.count_hidden)
        cached = cache.load(config.cache_dir, task.file.path, cache_key, config.cache_secret)
        if isinstance(cached, FileResult):
            cached.from_cache = True
            cached.digest = digest
            return cached
    return _Pending(task, source, result, digest, cache_key)


@dataclass
class _Pending:
    task: FileTask
    source: SourceFile
    result: FileResult
    digest: str
    cache_key: str


def _may_define_module(data: bytes) -> bool:
    from ftaudit.cmodel.module_defs import may_define_module  # only when a generated file is met

    return may_define_module(data)


def analyse_file(task: FileTask) -> FileResult:
    config = _worker
    assert config is not None, "worker not initialised"
    pending = settled(task)
    if isinstance(pending, FileResult):
        return pending
    task, source, result, digest, cache_key = (pending.task, pending.source, pending.result, pending.digest,
                                               pending.cache_key)
    armed = False
    try:
        try:
            armed = _arm(config.per_file_timeout)
            result = _analyse(task, config, source, result)
        finally:
            if armed:
                _disarm()
    except _Overrun:
        result = FileResult(task.file.display, analysed=True, diagnostics=[Diagnostic(
            task.file.display, DiagnosticKind.TOO_COMPLEX,
            f"analysis took longer than the per-file budget of {config.per_file_timeout:g} s "
            "(per-file-timeout); no findings are reported for this file")], mentions=None)
    result.digest = digest
    overran = any(d.kind is DiagnosticKind.TOO_COMPLEX for d in result.diagnostics)
    if config.cache_dir is not None and not overran and not any(d.is_error for d in result.diagnostics):
        cache.store(config.cache_dir, task.file.path, cache_key, result, config.cache_secret)
    return result


def _analyse(task: FileTask, config: WorkerConfig, source: SourceFile, result: FileResult) -> FileResult:
    result.analysed = True
    ctx = FileContext(source, task.target or config.target)
    if config.precise is not None:  # the real preprocessor, run when (and if) a rule builds the C model
        from functools import partial

        from ftaudit import precise as precise_mode

        ctx.preprocessor = partial(precise_mode.skipped_ranges, config.precise, source.path, source.data,
                                   ctx.target)
    ctx.boundary = config.boundary
    ctx.build_mentions = config.build_mentions
    ctx.debug_switches_off = config.debug_switches_off
    for code in task.rules:
        rule = _rule(code)
        ctx.rule = rule
        try:
            if task.focus:
                rule.check(ctx)
            if rule.project_level:
                summary = rule.summarize(ctx)
                if summary is not None:
                    result.summaries[code] = summary
        except RecursionError:
            # Pathological input (thousands of nested blocks), not a rule bug: say so and go on.
            result.diagnostics.append(Diagnostic(
                source.display, DiagnosticKind.TOO_COMPLEX,
                "nested too deeply to analyse; this rule skipped the file", rule=code,
            ))
        except Exception as exc:  # a rule bug must not lose the other rules' findings
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            result.diagnostics.append(Diagnostic(
                source.display, DiagnosticKind.INTERNAL,
                f"rule raised {type(exc).__name__}: {exc} ({Path(frame.filename).name}:{frame.lineno})",
                rule=code,
            ))
    ctx.rule = None
    unit = ctx.built_unit  # only when a rule built the model: never parse for this alone
    count_hidden = unit is not None and task.focus and bool(unit.off_macros) and config.count_hidden
    if unit is not None:
        result.fragments = unit.source_fragments()
    if config.collect_mentions:
        result.mentions = unit.mentions if unit is not None else sorted(set(_WORD.findall(source.text)))
        if unit is not None:
            result.exports = sorted({f.name for f in unit.function_list if not f.is_static}
                                    | {v.name for v in unit.globals if v.storage is None})
    result.precise_state = ctx.precise_state
    result.findings = ctx.findings
    result.diagnostics.extend(ctx.diagnostics)
    nodes = (lambda: ctx.python_nodes) if source.language is Language.PYTHON else None
    result.suppressions, unclosed = find_suppressions(source, nodes)
    result.unclosed = [(c.line, c.column) for c in unclosed]
    if result.suppressions:
        result.statements = multiline_statements(ctx)
    wanted: set[int] = set()
    for finding in result.findings:
        wanted.update(range(max(1, finding.start.line - CONTEXT_LINES), finding.end.line + CONTEXT_LINES + 1))
    for suppression in result.suppressions:
        wanted.add(suppression.line)
    for line in ctx.kept_lines:
        wanted.update(range(max(1, line - CONTEXT_LINES), line + CONTEXT_LINES + 1))
    result.lines = {n: source.line_text(n) for n in sorted(wanted) if n <= source.line_count}
    # The fingerprint hashes a window running past the line, so it is computed here, from the bytes
    # in memory, for every line a finding (now or from the project pass) can start on.
    starts = {f.start.line for f in result.findings} | ctx.kept_lines
    starts.update(s.line for s in result.suppressions)
    starts.update(line for line, _ in result.unclosed)
    if starts:
        result.fingerprints = line_fingerprints(decode(source.data), starts)
    if count_hidden:
        # Last, with the first model let go: two models of a 2 MB amalgamation at once doubled the
        # worker's peak memory.
        shown = {(f.code, f.start.line, f.start.column) for f in result.findings}
        del unit
        ctx.forget_parses()
        gc.collect()  # the model's analyses refer back to it: only the cycle collector frees it
        result.hidden = _hidden_by_switches(task, config, source, shown)
    return result


def _analyse_batch(tasks: list[FileTask]) -> list[FileResult]:
    return [analyse_file(task) for task in tasks]


def _batches(tasks: list[FileTask], jobs: int) -> list[list[FileTask]]:
    """Largest files first, alone; small files packed so each batch is a similar amount of work."""
    ordered = sorted(tasks, key=lambda t: -t.file.size)
    total = sum(t.file.size for t in ordered) or 1
    budget = max(total // (jobs * 16), 16_384)
    batches: list[list[FileTask]] = []
    current: list[FileTask] = []
    size = 0
    for task in ordered:
        if current and size + task.file.size > budget:
            batches.append(current)
            current, size = [], 0
        current.append(task)
        size += task.file.size
    if current:
        batches.append(current)
    return batches


# -- the whole run -------------------------------------------------------------------------------
def enabled_rules(settings: Settings) -> dict[str, type[Rule]]:
    registry = load_registry()
    codes = resolve(registry.rules, [*settings.select, *settings.extend_select], settings.ignore)
    return {code: cls for code, cls in registry.rules.items() if code in codes}


def _per_file_ignores(settings: Settings) -> list[tuple[PatternSet, list[str]]]:
    return [(PatternSet([glob]), codes) for glob, codes in settings.per_file_ignores.items()]


def _ignored_for(found: FoundFile, root: Path, table: list[tuple[PatternSet, list[str]]]) -> list[str]:
    try:
        relative = found.path.relative_to(root).as_posix()
    except ValueError:
        relative = found.display
    ignored: list[str] = []
    for spec, codes in table:
        if spec.match(relative, False) or spec.match(found.display, False):
            ignored.extend(codes)
    return ignored


def scan(paths: Iterable[Path], settings: Settings, *, jobs: int | None = None,
         context_paths: Iterable[Path] = (), stdin: tuple[Path, bytes] | None = None,
         progress: Progress | None = None, count_hidden: bool = True) -> ScanResult:
    """Analyse ``paths``; ``context_paths`` are read only to give project-level rules their context.

    ``stdin`` is (the path the text stands for, its bytes): analysed instead of ``paths``, in place
    of that file on disk (an editor's unsaved buffer).
    """
    paths, context_paths = list(paths), list(context_paths)
    rules = enabled_rules(settings)
    exclude = [*settings.exclude, *settings.extend_exclude]
    if stdin is not None:
        found = Discovery([stdin_file(*stdin)], [], scan_boundary([stdin[0]], settings.root, Path.cwd()))
    else:
        found = discover(list(paths), root=settings.root, exclude=exclude,
                         respect_gitignore=settings.respect_gitignore, force_exclude=settings.force_exclude)
    focus = {f.display for f in found.files if not is_template(f.path)}
    files = list(found.files)
    project_rules = [code for code, cls in rules.items() if cls.project_level]
    pool: NeighbourPool | None = None
    if project_rules and context_paths:
        extra = discover(list(context_paths), root=settings.root, exclude=exclude,
                         respect_gitignore=settings.respect_gitignore, force_exclude=False)
        pool = NeighbourPool([f for f in extra.files if f.display not in focus],
                             max_file_bytes=settings.max_file_size_kb * 1024)
    pfi = _per_file_ignores(settings)
    minimum_for = _MinimumVersions(settings)

    def task_for(f: FoundFile) -> FileTask:
        ignored = _ignored_for(f, settings.root, pfi) if pfi else []
        in_focus = f.display in focus
        codes = tuple(
            code for code, cls in rules.items()
            if f.language in cls.languages and cls.applies_to.includes(settings.target)
            and not any(code.startswith(s) for s in ignored)
            and (in_focus or cls.project_level)
        )
        return FileTask(f, codes, minimum_for(f.path), in_focus)

    tasks = [task_for(f) for f in files]
    cache_dir, salt, secret, cache_notes = None, "", b"", []
    if settings.cache:
        try:
            cache_dir = cache.prepare(settings.cache_dir or cache.default_dir(settings.root), settings.root)
            secret = cache.user_secret()
            salt = cache.code_salt()
        except cache.CacheUnavailable as exc:
            cache_dir = None
            cache_notes.append(Diagnostic("", DiagnosticKind.CONFIG, f"cache not used: {exc}"))
        except OSError:
            cache_dir = None  # a read-only home or cache folder: scan without a cache
    precise: PreciseConfig | None = None
    precise_notes: list[Diagnostic] = []
    if settings.engine == "libclang":  # imported only then: one-file runs stay quick
        from ftaudit import precise as precise_mode

        precise, precise_notes = precise_mode.configure(settings, paths)
    build_texts = _build_texts([*files, *(pool.files if pool is not None else [])])
    config = WorkerConfig(settings.target, settings.rule_options, settings.max_file_size_kb * 1024, cache_dir, salt,
                          secret, settings.per_file_timeout, tuple(found.roots), _build_mentions(build_texts),
                          settings.debug_switches == "off", settings.scan_generated, precise,
                          collect_mentions=bool(project_rules), count_hidden=count_hidden)
    jobs = jobs or os.cpu_count() or 1
    results = _run(tasks, config, jobs, progress)
    searched: set[str] | None = None
    if pool is not None:
        searched = _read_neighbours(pool, results, tasks, task_for, config, jobs)
        files = [t.file for t in tasks]
    mentions, whole = _project_mentions(results, [*files, *(pool.files if pool is not None else [])],
                                        [*paths, *context_paths], settings.root, stdin is not None)
    if searched is not None:
        whole = whole & searched

    by_path = {r.display: r for r in results}
    findings: list[Finding] = [f for r in results if r.display in focus for f in r.findings]
    # Context files are read for project-level facts only: their problems are not the user's question.
    diagnostics = _summarise_newer_syntax([d for r in results if r.display in focus for d in r.diagnostics]) \
        + precise_notes \
        + cache_notes + found.diagnostics
    if precise is not None:
        from ftaudit import precise as precise_mode

        states = [r.precise_state for r in results if r.precise_state and r.display in focus]
        diagnostics.extend(precise_mode.summary(states, settings.target))

    # Project pass: rules that need facts from several files.
    registry_rules = load_registry().rules
    shared: dict[Any, Any] = {}  # project-wide analyses, computed once for all the rules below
    for code in project_rules:
        summaries = {r.display: r.summaries[code] for r in results if code in r.summaries}
        rule = registry_rules[code](settings.rule_options.get(code))
        project = ProjectContext(rule, summaries, frozenset(focus), settings.target, findings.append,
                                 mentions, whole, shared)
        try:
            rule.check_project(project)
        except Exception as exc:
            diagnostics.append(Diagnostic("", DiagnosticKind.INTERNAL,
                                          f"project check raised {type(exc).__name__}: {exc}", rule=code))

    hidden = sum(r.hidden for r in results if r.display in focus)
    findings, unbuilt = _drop_unbuilt(findings, results, tasks, _built_sources(build_texts))
    diagnostics.extend(unbuilt)
    enabled_by_file = {t.file.display: set(t.rules) for t in tasks}
    findings, suppressed = _apply_suppressions(findings, by_path, enabled_by_file, rules, focus)
    findings = _apply_severity(findings, settings)
    findings.sort(key=lambda f: f.sort_key)
    diagnostics.sort(key=lambda d: (d.path, d.kind.value, d.message))
    return ScanResult(
        findings=findings, diagnostics=diagnostics,
        files=sorted(r.display for r in results if r.analysed and r.display in focus),
        lines={path: r.lines for path, r in by_path.items() if path in focus},
        rules=list(rules.values()), settings=settings, suppressed=suppressed,
        skipped=found.skipped + [(r.display, r.skipped_reason) for r in results
                                 if r.skipped_reason and r.display in focus],
        cached=sum(1 for r in results if r.from_cache),
        fingerprints={path: r.fingerprints for path, r in by_path.items() if path in focus and r.fingerprints},
        declarations=_listed(results, project_rules, focus, "declarations"),
        claims=_listed(results, project_rules, focus, "claims"),
        digests={r.display: r.digest for r in results if r.digest and r.display in focus},
        roots=found.roots,
        hidden_by_switches=hidden,
    )


def _read_neighbours(pool: NeighbourPool, results: list[FileResult], tasks: list[FileTask],
                     task_for: Callable[[FoundFile], FileTask], config: WorkerConfig, jobs: int) -> set[str]:
    """Analyse the context a focused scan needs (``ftaudit.neighbours``), appending to ``results`` and
    ``tasks``. Returns the files whose names were searched for in the whole pool: only for those is
    "no other file names this function" known."""
    from ftaudit.analysis.extension_state import LinkedSources

    asked = {r.display for r in results}
    searched: set[str] = set()
    latest = list(results)
    waiting = pool.build_files()
    for _ in range(MAX_ROUNDS):
        names = set().union(*(search_names(r.display, r.exports) for r in latest))
        found = pool.naming(names)
        if not pool.truncated:
            searched.update(r.display for r in latest)
        groups = [g for r in latest for s in r.summaries.values() if isinstance(s, LinkedSources)
                  for g in s.extensions]
        found += pool.linked(groups, asked)
        batch = [task_for(f) for f in [*waiting, *found]]
        waiting = []
        if not batch:
            break
        latest = _run(batch, config, jobs)
        tasks.extend(batch)
        results.extend(latest)
    results.sort(key=lambda r: r.display)
    return searched


def _listed(results: list[FileResult], project_rules: list[str], focus: set[str], attribute: str) -> dict:
    """What each file's summaries list for the readiness table: the modules it declares GIL-free
    (``declarations``, ``DeclaresGilFree``) or what its modules say about sub-interpreters (``claims``,
    ``DeclaresSubinterpreterSupport``)."""
    out: dict[str, tuple] = {}
    for result in results:
        if result.display not in focus:
            continue
        for code in project_rules:
            # The protocol's one attribute, read directly: isinstance() on a runtime Protocol costs
            # ~30 µs, paid per file and project rule.
            listed: Sequence = getattr(result.summaries.get(code), attribute, ())
            if listed:
                out.setdefault(result.display, tuple(listed))
    return out


def _hidden_by_switches(task: FileTask, config: WorkerConfig, source: SourceFile,
                        shown: set[tuple[str, int, int]]) -> int:
    """How many findings the file would have if its debug/test switches were unknown instead of off
    (the summary says so, and how to see them). Only files whose `#if`s test such a switch pay for
    this second look; ``shown`` is what the first look found (code, line, column)."""
    again = FileContext(source, task.target or config.target)
    again.boundary, again.build_mentions, again.debug_switches_off = config.boundary, config.build_mentions, False
    for code in task.rules:
        rule = _rule(code)
        again.rule = rule
        try:
            rule.check(again)
        except Exception:  # counted as best it can be: the real run already reported any failure
            continue
    return len({(f.code, f.start.line, f.start.column) for f in again.findings} - shown)


def _drop_unbuilt(findings: list[Finding], results: list[FileResult], tasks: list[FileTask],
                  built: frozenset[str] = frozenset()) -> tuple[list[Finding], list[Diagnostic]]:
    """Findings in a source file that other scanned files #include only where the target never
    compiles it (pyahocorasick's fault injector under `#ifdef PYCALLS_INJECT_FAULTS`, which no build
    file defines) are not reported; one diagnostic per file says how many and why."""
    live: set[str] = set()
    dead: dict[str, str] = {}
    for result in results:
        for path, compiled in result.fragments:
            if compiled:
                live.add(path)
            else:
                dead.setdefault(path, result.display)
    unbuilt: dict[str, str] = {}
    for task in tasks:
        try:
            resolved = str(task.file.path.resolve())
        except (OSError, RuntimeError):
            continue
        if resolved in dead and resolved not in live and task.file.path.name not in built:
            unbuilt[task.file.display] = dead[resolved]  # (a file a build file compiles is built anyway)
    if not unbuilt:
        return findings, []
    kept = [f for f in findings if f.path not in unbuilt]
    hidden: dict[str, int] = {}
    for finding in findings:
        if finding.path in unbuilt:
            hidden[finding.path] = hidden.get(finding.path, 0) + 1
    notes = [Diagnostic(path, DiagnosticKind.NOT_BUILT,
                        f"{count} finding(s) not reported: only {unbuilt[path]} builds this file, and only inside "
                        "an #if the target never compiles (an old-version branch, or a debug/test switch no part "
                        "of the project defines; `debug-switches = \"unknown\"` reports them)")
             for path, count in sorted(hidden.items())]
    return kept, notes


# Anchored at a name's start: unanchored, a 240 KB run of word characters was tried from each of its
# positions (quadratic; a fuzzed meson.build took minutes).
_SOURCE_NAME = re.compile(r"(?<![\w.+-])[\w.+-]+\.(?:c|cc|cpp|cxx|c\+\+|m|mm)\b")


def _build_texts(files: list[FoundFile]) -> list[tuple[Path, str]]:
    """The project's build files (setup.py, meson.build, CMake, pyproject.toml), each read once."""
    texts = []
    for found in files:
        if found.path.name in BUILD_FILE_NAMES and found.size <= 4 * 1024 * 1024:
            try:
                texts.append((found.path, found.path.read_text(encoding="utf-8", errors="replace")))
            except OSError:
                continue
    return texts


def _built_sources(build_texts: list[tuple[Path, str]]) -> frozenset[str]:
    """File names the project's build files compile: setup.py's extension `sources` (not `depends`),
    and any C/C++ file name meson.build or CMakeLists.txt mention."""
    from ftaudit.cmodel.buildfiles import read_setup_py

    names: set[str] = set()
    for path, text in build_texts:
        if path.name not in ("setup.py", "meson.build", "CMakeLists.txt"):
            continue
        if path.name == "setup.py":
            try:
                sources = [s for ext in read_setup_py(text).extensions for s in ext.sources]
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                sources = []
            names.update(Path(s).name for s in sources)
        else:
            names.update(Path(m.group(0)).name for m in _SOURCE_NAME.finditer(text))
    return frozenset(names)


_NEWER_SYNTAX = "cannot be parsed by Python "


def _summarise_newer_syntax(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One line for every Python file this interpreter cannot parse (numpy's PEP 695 code on 3.11 made a
    hundred), naming a few and the version that reads them all; a single such file keeps its own."""
    newer = [d for d in diagnostics if d.kind is DiagnosticKind.SYNTAX and d.message.startswith(_NEWER_SYNTAX)]
    if len(newer) < 2:
        return diagnostics
    shown = ", ".join(sorted(d.path for d in newer)[:3])
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    summary = Diagnostic("", DiagnosticKind.SYNTAX,
                         f"{len(newer)} Python files cannot be parsed by Python {running} ({shown}, …); they may "
                         f"use syntax newer than {running}: run ftaudit on a newer Python to check them. Python "
                         "rules skipped them")
    return [d for d in diagnostics if not any(d is n for n in newer)] + [summary]


def _project_mentions(results: list[FileResult], files: list[FoundFile], scanned: list[Path], root: Path,
                      from_stdin: bool) -> tuple[frozenset[str] | None, frozenset[str]]:
    """Every name the scanned files use (None when a file could not be read), and the files whose
    whole project the scan covers: the folder of the nearest build file above them (or the project
    root) lies inside a scanned folder. Only for those can "nothing names this function" be trusted:
    `ftaudit scan ext/` does not see the Python package beside it, whose cffi or ctypes code may."""
    if from_stdin or any(r.mentions is None for r in results):
        return None, frozenset()
    mentions = frozenset(word for r in results for word in (r.mentions or ()))
    folders = [p.resolve() for p in scanned if p.is_dir()]
    root = root.resolve()
    if _project_above(root):
        return mentions, frozenset()  # the project goes on above the root: its other parts are unseen
    read = {f.path for f in files}  # discovery resolved them
    outermost: dict[Path, Path] = {}

    def project_folder(folder: Path) -> Path:
        """The outermost folder, up to the root, with a build file (meson and CMake put one in every
        subdirectory: the project is the top one); the root when there is none."""
        if folder not in outermost:
            if folder == root or root not in folder.parents:
                outermost[folder] = folder
            else:
                above = project_folder(folder.parent)
                outermost[folder] = folder if above == root and not _has_build_file(root) \
                    and _has_build_file(folder) else above
        return outermost[folder]

    whole = set()
    complete: dict[Path, bool] = {}
    for found in files:
        folder = project_folder(found.path.parent)
        if not any(folder == d or d in folder.parents for d in folders):
            continue
        if folder not in complete:
            complete[folder] = not _unread_sources(folder, read)
        if complete[folder]:
            whole.add(found.display)
    return mentions, frozenset(whole)


# Files that can call into C code but that ftaudit does not read (SWIG interfaces, Objective-C, CUDA,
# assembly, Fortran, included fragments, templates of sources): a project that has one, or C/C++
# sources the scan left out (a vendored folder), may name a function in them.
_FOREIGN_SUFFIXES = (".i", ".swg", ".m", ".mm", ".cu", ".cuh", ".s", ".asm", ".f", ".f90", ".f95", ".for",
                     ".inc", ".inl", ".ipp", ".tpp", ".c++", ".h++", ".def", ".pyx.in", ".pxi.in", ".pxd.in",
                     ".c.in", ".h.in", ".cpp.in", ".tmpl", ".tp")
# Build outputs and environments: copies and other projects, not this project's code.
_NOT_PROJECT_DIRS = frozenset({"build", "dist", "venv", "env", "site-packages", "node_modules", "__pycache__",
                               "htmlcov", "wheelhouse"})
_SOURCE_SUFFIXES = (".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx", ".pyx", ".pxd", ".pxi")
_MAX_WALK = 50_000  # directory entries looked at before giving up (then: unknown)


def _unread_sources(folder: Path, read: set[Path]) -> bool:
    """Whether the project folder holds a file that may call C code and that the scan did not read.
    Symlinks are not followed; a tree too large to walk counts as having one."""
    seen = 0
    for current, dirs, names in os.walk(folder, followlinks=False):
        if any(os.path.islink(os.path.join(current, d)) for d in dirs):
            return True  # a linked folder may hold sources (discovery does not follow it either)
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _NOT_PROJECT_DIRS]
        seen += len(dirs) + len(names)
        if seen > _MAX_WALK:
            return True
        for name in names:
            lower = name.lower()
            if lower.endswith(_FOREIGN_SUFFIXES):
                return True
            path = Path(current) / name
            if lower.endswith(_SOURCE_SUFFIXES) and path not in read and path.resolve() not in read:
                return True
    return False


def _has_build_file(folder: Path) -> bool:
    return any((folder / name).is_file() for name in BUILD_FILE_NAMES)


def _project_above(root: Path) -> bool:
    """A build file or a repository a few folders above the root: the root is part of a larger
    project (`cd src && ftaudit scan .` without a config file makes the current folder the root)."""
    for parent in list(root.parents)[:4]:
        if _has_build_file(parent) or (parent / ".git").exists() or (parent / ".hg").exists():
            return True
    return False


def _build_mentions(build_texts: list[tuple[Path, str]]) -> frozenset[str]:
    """Debug-style macro names the project's build files mention (setup.py, meson.build, CMake,
    pyproject.toml): the project may define them, so they are never taken to be off."""
    from ftaudit.cmodel.preprocess import mentioned_switches

    names: set[str] = set()
    for path, text in build_texts:
        if path.suffix == ".py":
            text = _without_debug_branches(text)
        # Comments define nothing: a commented-out `#user_macros.append(('DEBUG_MEM', '1'))`.
        names |= mentioned_switches(re.sub(r"(?m)#.*$", "", text))
    return frozenset(names)


def _words(test: Any) -> list[str]:
    """Names, attributes and strings of an `if` test: `self.debug`, `"--debug" in sys.argv`."""
    import ast

    found = []
    for sub in ast.walk(test):
        if isinstance(sub, ast.Name):
            found.append(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.append(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            found.append(sub.value)
    return found


def _without_debug_branches(text: str) -> str:
    """setup.py without the bodies of `if self.debug:` branches: apsw defines APSW_TESTFIXTURES only
    for `setup.py build --debug`, so a default build leaves that switch off."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return text
    lines = text.splitlines(keepends=True)
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and node.body and any(
                "debug" in word.lower() for word in _words(node.test)):
            last = node.body[-1].end_lineno or node.body[-1].lineno
            for index in range(node.body[0].lineno - 1, min(last, len(lines))):
                lines[index] = "\n"
    return "".join(lines)


def stdin_file(path: Path, data: bytes) -> FoundFile:
    """The FoundFile for text given on standard input as the contents of ``path``."""
    from ftaudit.discover import display_path

    resolved = (path if path.is_absolute() else Path.cwd() / path).resolve()
    language = language_for(resolved) or Language.PYTHON
    return FoundFile(resolved, display_path(resolved, Path.cwd()), language, len(data), data)


class _MinimumVersions:
    """The oldest CPython each file must still build for: `requires-python` of the nearest
    pyproject.toml between the file and the project root (a monorepo's packages differ)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.root.resolve()
        self._by_dir: dict[Path, Target | None] = {}

    def __call__(self, path: Path) -> Target | None:
        return self._for_dir(path.parent)

    def _for_dir(self, folder: Path) -> Target | None:
        if folder in self._by_dir:
            return self._by_dir[folder]
        result: Target | None = None
        pyproject = folder / "pyproject.toml"
        spec = requires_python(pyproject) if pyproject.is_file() and folder != self.root else None
        if spec:
            minimum = target_from_requires_python(spec).minimum
            if minimum is not None and minimum != self.settings.target.minimum:
                result = replace(self.settings.target, minimum=minimum)
        elif folder != self.root and self.root in folder.parents:
            result = self._for_dir(folder.parent)
        self._by_dir[folder] = result
        return result


def _run(tasks: list[FileTask], config: WorkerConfig, jobs: int, progress: Progress | None = None) -> list[FileResult]:
    total = sum(t.file.size for t in tasks)
    done: list[FileResult] = []
    if config.cache_dir is not None and jobs > 1 and len(tasks) > 4 and total >= 256 * 1024:
        # Files the cache already holds are answered here: starting workers to decode cache entries
        # made an unchanged tree slower with -j2 than with -j1. The workers get the rest.
        _init_worker(config)
        left = []
        for task in tasks:
            answer = settled(task)
            if isinstance(answer, FileResult):
                done.append(answer)
            else:
                left.append(task)
        if progress is not None and done:
            progress(len(done), len(tasks))
        tasks_all, tasks = len(tasks), left
        total = sum(t.file.size for t in tasks)
    else:
        tasks_all = len(tasks)
    if jobs <= 1 or len(tasks) <= 4 or total < 256 * 1024:
        _init_worker(config)
        results = done
        for task in tasks:
            results.append(analyse_file(task))
            if progress is not None:
                progress(len(results), tasks_all)
    else:
        import multiprocessing

        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        batches = _batches(tasks, jobs)
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(batches)), mp_context=context,
                                   initializer=_init_pool_worker, initargs=(config,))
        try:
            results = done
            for future in as_completed([pool.submit(_analyse_batch, batch) for batch in batches]):
                results.extend(future.result())
                if progress is not None:
                    progress(len(results), tasks_all)
        except BaseException:
            _tear_down(pool)  # Ctrl-C or SIGTERM: stop the workers now, do not wait for their batches
            raise
        pool.shutdown()
    results.sort(key=lambda r: r.display)
    return results


def _tear_down(pool: ProcessPoolExecutor) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    _quiet_pool_manager()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()


def _quiet_pool_manager() -> None:
    """The pool's manager thread may still try to complete a future the teardown cancelled; that
    `InvalidStateError` is part of stopping, not a crash, and must not print a traceback."""
    from concurrent.futures import InvalidStateError

    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if not isinstance(args.exc_value, InvalidStateError):
            previous(args)

    threading.excepthook = hook


def _apply_suppressions(findings: list[Finding], by_path: dict[str, FileResult],
                        enabled_by_file: dict[str, set[str]], rules: dict[str, type[Rule]],
                        focus: set[str]) -> tuple[list[Finding], int]:
    kept: list[Finding] = []
    suppressed = 0
    for finding in findings:
        result = by_path.get(finding.path)
        if result is None or not result.suppressions:
            kept.append(finding)
            continue
        first, last = finding.start.line, max(finding.end.line, finding.start.line)
        for span_first, span_last in result.statements:
            if span_first <= finding.start.line <= span_last:
                first, last = min(first, span_first), max(last, span_last)
        hit = False
        for suppression in result.suppressions:
            selector = suppression.covers(finding.code, first, last)
            if selector is not None:
                suppression.used.add(selector)
                hit = True
        if hit:
            suppressed += 1
        else:
            kept.append(finding)
    if UNUSED_SUPPRESSION in rules:
        kept.extend(_unused_suppressions(by_path, enabled_by_file, focus))
    return kept, suppressed


def _unused_suppressions(by_path: dict[str, FileResult], enabled_by_file: dict[str, set[str]],
                         focus: set[str]) -> list[Finding]:
    known = load_registry().rules
    rule = known[UNUSED_SUPPRESSION]
    out = []
    for path, result in by_path.items():
        enabled = enabled_by_file.get(path, set())
        if path not in focus or UNUSED_SUPPRESSION not in enabled:
            continue
        for suppression in result.suppressions:
            for selector in suppression.codes:
                if selector in suppression.used or selector == UNUSED_SUPPRESSION:
                    continue
                covered = [c for c in known if c.startswith(selector)]
                if not covered and selector.startswith("FT"):
                    message = f"Suppression names {selector}, which is not an ftaudit rule"
                elif covered and all(c in enabled for c in covered):
                    message = f"Unused suppression: no {selector} finding here to suppress"
                else:
                    continue  # a rule that did not run here, or another tool's code: not ours to judge
                out.append(Finding(
                    code=rule.code, name=rule.slug, severity=rule.severity, path=path, message=message,
                    start=Position(suppression.line, suppression.column),
                    end=Position(suppression.line, suppression.end_column),
                    help=f"Remove `{selector}` from the suppression comment.",
                ))
        for line, column in result.unclosed:
            out.append(Finding(
                code=rule.code, name=rule.slug, severity=rule.severity, path=path,
                message="NOLINTBEGIN without a matching NOLINTEND: it suppresses to the end of the file",
                start=Position(line, column), end=Position(line, column),
                help="Add `// NOLINTEND(...)` with the same codes where the region should stop.",
            ))
    return out


def _apply_severity(findings: list[Finding], settings: Settings) -> list[Finding]:
    out = []
    for finding in findings:
        override = most_specific(settings.severity, finding.code) if settings.severity else None
        severity: Severity = override if override is not None else finding.severity
        if severity < settings.min_severity:
            continue
        out.append(finding if severity == finding.severity else replace(finding, severity=severity))
    return out
