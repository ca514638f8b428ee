"""What a rule sees: one file's shared parse (built lazily, once) and a ``report`` call.

The engine creates one FileContext per file; every rule reads the same ``python_ast`` or ``c_unit``,
so a file is parsed at most once per language however many rules run.
"""

from __future__ import annotations

import ast
import os
import sys
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ftaudit.analysis.file import FileAnalyses
from ftaudit.candidate import Anchor, Candidate
from ftaudit.cmodel.conditions import Tri
from ftaudit.findings import Diagnostic, DiagnosticKind, Finding, Fix, Position, RelatedLocation, Severity
from ftaudit.source import Language, SourceFile, lone_cr_as_lf
from ftaudit.target import Target

if TYPE_CHECKING:
    from ftaudit.cmodel import CUnit
    from ftaudit.cmodel.buildfiles import CMakeInfo, MesonInfo, SetupInfo
    from ftaudit.rule import Rule


# Precise mode's preprocessor for one file (``FileContext.preprocessor``).
Preprocessor = Callable[[str], tuple[tuple[tuple[int, int], ...] | None, str]]


class FileContext:
    def __init__(self, source: SourceFile, target: Target) -> None:
        self.source = source
        self.target = target
        self.findings: list[Finding] = []
        self.diagnostics: list[Diagnostic] = []
        self.rule: Rule | None = None  # the rule being run; set by the engine
        # Precise mode (--engine libclang): the real preprocessor, set by the engine and run once when the
        # C model is built: language -> (the byte ranges it skipped, or None to evaluate the guards here;
        # what it did for this file, for the run's summary).
        self.preprocessor: Preprocessor | None = None
        self.precise_state = ""  # what precise mode did for this file, for the run's summary
        self.kept_lines: set[int] = set()
        # Where project headers may be read from (the scan boundary); empty: anywhere (library use).
        self.boundary: tuple[Path, ...] = ()
        # Debug-style macro names the project's build files mention (they may define them), and
        # whether switches no part of the project defines count as off (set by the engine).
        self.build_mentions: frozenset[str] = frozenset()
        self.debug_switches_off = False
        self.analyses = FileAnalyses(self)  # the analyses rules share, each computed on first use

    def keep_lines(self, *lines: int) -> None:
        """Keep these lines (and their context) for code frames of findings the project pass may
        report here later; files are never read again after their worker is done."""
        self.kept_lines.update(lines)

    # -- shared parses -------------------------------------------------------------------------
    @cached_property
    def python_ast(self) -> ast.Module | None:
        """The file's ``ast`` (None, with one diagnostic, when this Python cannot parse it)."""
        if self.source.language is not Language.PYTHON:
            return None
        try:
            return parse_python(self.source.text, self.source.display)
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            where = f" at line {line}" if line else ""
            self.diagnostics.append(Diagnostic(
                self.source.display, DiagnosticKind.SYNTAX,
                f"cannot be parsed by Python {_running_python()}{where}: {getattr(exc, 'msg', exc)} "
                "(it may use newer syntax); Python rules skipped for this file",
            ))
        except (RecursionError, MemoryError):
            # Valid but deeper than this Python's parser can build even with room to spare
            # (tens of thousands of `elif`s or `+` terms): not a crash, and not a syntax error.
            self.too_complex("nested too deeply for Python's parser to build its syntax tree; "
                             "Python rules skipped for this file")
        return None

    @cached_property
    def python_nodes(self) -> list[ast.AST]:
        """Every node of ``python_ast`` from one walk, shared by the rules (a walk costs ~1 µs a node)."""
        tree = self.python_ast
        return list(ast.walk(tree)) if tree is not None else []

    @cached_property
    def python_parents(self) -> dict[ast.AST, ast.AST]:
        """Each node of ``python_ast`` -> the node that holds it (``ast`` keeps no parent links)."""
        return {child: node for node in self.python_nodes for child in ast.iter_child_nodes(node)}

    @cached_property
    def build_model(self) -> SetupInfo | MesonInfo | CMakeInfo | None:
        """What a build file declares, read once for every rule that asks: ``setup.py`` (and Python build
        helpers, from the shared ``python_ast``), ``meson.build``, ``CMakeLists.txt``; None for other files."""
        from ftaudit.cmodel.buildfiles import read_cmake, read_meson, read_setup_py

        if self.source.language is Language.PYTHON:
            return read_setup_py(self.source.text, self.python_ast)
        if self.source.language is Language.MESON:
            return read_meson(self.source.text)
        if self.source.language is Language.CMAKE:
            return read_cmake(self.source.text)
        return None

    @cached_property
    def c_unit(self) -> CUnit | None:
        """The C/C++ source model (one tree-sitter parse), for C, C++ and header files."""
        if self.source.language not in (Language.C, Language.CPP):
            return None
        from ftaudit.cmodel import build_unit

        # A `.h` may be C++ (templates, namespaces): the model decides from its contents.
        language = None if self.source.path.suffix.lower() == ".h" else self.source.language.value
        skipped = self._preprocessor_skipped(language or "c")
        from ftaudit.cmodel.preprocess import debug_switches

        reader = read_header if not self.boundary else _bounded_reader(self.boundary)
        unit = build_unit(self.source.c_data, path=str(self.source.path), target=self.target,
                          language=language, read_header=reader, skipped=skipped)
        if self.debug_switches_off:
            # A debug/test switch the project never defines (not in the file, its headers or a build
            # file) is off; the file's own `#define`s still win (unit.defines_at).
            unit.off_macros = frozenset(debug_switches(unit.raw.directives) - self.build_mentions)
        return unit

    def forget_parses(self) -> None:
        """Let go of the shared parses (C model, Python tree) once the file's results are taken."""
        for name in ("c_unit", "python_ast", "python_nodes", "python_parents"):
            self.__dict__.pop(name, None)

    @property
    def built_unit(self) -> CUnit | None:
        """The C/C++ model if a rule has built it; never builds it (for passes that must not parse
        a file for themselves)."""
        unit: CUnit | None = self.__dict__.get("c_unit")  # where cached_property keeps it
        return unit

    def _preprocessor_skipped(self, language: str) -> tuple[tuple[int, int], ...] | None:
        """Precise mode: the real preprocessor's skipped ranges, when it ran for the audit target."""
        if self.preprocessor is None:
            return None
        skipped, self.precise_state = self.preprocessor(language)
        return skipped

    def too_complex(self, message: str) -> None:
        """One ``too-complex`` diagnostic per message, however many rules run into the same limit."""
        diagnostic = Diagnostic(self.source.display, DiagnosticKind.TOO_COMPLEX, message)
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)

    # -- reporting -----------------------------------------------------------------------------
    def span(self, anchor: Anchor) -> tuple[Position, Position]:
        """Start and end Position of anything a rule reports at."""
        if hasattr(anchor, "start_byte"):  # tree-sitter node
            return self.source.position(anchor.start_byte), self.source.position(anchor.end_byte)
        if hasattr(anchor, "lineno"):  # ast node
            start = self.source.position_from_ast(anchor.lineno, anchor.col_offset)
            end_line = getattr(anchor, "end_lineno", None) or anchor.lineno
            end_col = getattr(anchor, "end_col_offset", None)
            end = self.source.position_from_ast(end_line, end_col if end_col is not None else anchor.col_offset)
            return start, end
        first, second = anchor
        if isinstance(first, Position):
            return first, second
        return self.source.position(first), self.source.position(second)

    def report(
        self,
        anchor: Anchor,
        message: str,
        *,
        help: str | None = None,
        severity: Severity | None = None,
        fix: Fix | None = None,
        related: tuple[RelatedLocation, ...] = (),
        subject: str = "",
    ) -> None:
        rule = self.rule
        assert rule is not None, "report() is only valid while a rule runs"
        if not rule.reports_uncompiled and not self.compiled(anchor):
            return
        start, end = self.span(anchor)
        self.findings.append(Finding(
            code=rule.code, name=rule.slug, message=message,
            severity=severity if severity is not None else rule.severity,
            path=self.source.display, start=start, end=end,
            help=help if help is not None else rule.suggestion, fix=fix, related=related, subject=subject,
        ))

    def report_candidate(self, candidate: Candidate) -> None:
        self.report(candidate.anchor, candidate.message, help=candidate.help, severity=candidate.severity,
                    fix=candidate.fix,
                    related=tuple(self.related(anchor, text) for anchor, text in candidate.related))

    def compiled(self, anchor: Anchor) -> bool:
        """False when the target's preprocessor drops the C/C++ code at ``anchor`` (`#if 0`, a guard for
        another version or platform switch that is off); True for anything else, Python included."""
        unit = self.built_unit  # never build the model just for this (a build-file rule)
        if unit is None:
            return True
        offset = self._offset(anchor)
        return offset is None or unit.compiled(offset, self.target) is not Tri.NO

    def _offset(self, anchor: Anchor) -> int | None:
        if hasattr(anchor, "start_byte"):
            return int(anchor.start_byte)
        if isinstance(anchor, tuple) and anchor and isinstance(anchor[0], int):
            return anchor[0]
        if isinstance(anchor, tuple) and anchor and isinstance(anchor[0], Position):
            return self.source.offset(anchor[0])
        return None

    def related(self, anchor: Anchor, message: str) -> RelatedLocation:
        start, end = self.span(anchor)
        return RelatedLocation(self.source.display, start, end, message)


@dataclass
class ProjectContext:
    """Facts gathered from every file of the scan, for rules that need more than one file.

    ``summaries`` maps each file's display path to what the rule's ``summarize`` returned for it;
    ``focus`` is the set of files the user asked about (pre-commit passes a few files while the
    rest of the project is context): project findings are kept only for those.
    """

    rule: Rule
    summaries: Mapping[str, Any]
    focus: frozenset[str]
    target: Target
    emit: Callable[[Finding], None]
    # Every name the scan's files use other than to define or declare a function (None: unknown, a
    # file could not be read), and the files whose whole project the scan covers.
    mentions: frozenset[str] | None = None
    whole_project: frozenset[str] = frozenset()
    # Answers of project-wide analyses, shared by every rule's project pass in one scan (several rules
    # ask which exported functions run at run time, from the same per-file summaries).
    shared: dict[Any, Any] = field(default_factory=dict)

    def unnamed(self, path: str, function: str) -> bool:
        """Nothing in the project names this function of ``path``: no call, address, macro, method
        call, Cython/cffi/ctypes use. Only said when the scan covers the file's whole project."""
        return (self.mentions is not None and path in self.whole_project
                and function.rsplit("::", 1)[-1].strip() not in self.mentions)

    def report(
        self, path: str, start: Position, end: Position, message: str, *,
        help: str | None = None, severity: Severity | None = None, fix: Fix | None = None,
        related: tuple[RelatedLocation, ...] = (), subject: str = "",
    ) -> None:
        if path not in self.focus:
            return
        rule = self.rule
        self.emit(Finding(
            code=rule.code, name=rule.slug, message=message,
            severity=severity if severity is not None else rule.severity, path=path, start=start, end=end,
            help=help if help is not None else rule.suggestion, fix=fix, related=related, subject=subject,
        ))


def parse_python(text: str, filename: str) -> ast.Module:
    """``ast.parse`` of decoded text (a coding cookie in it is ignored, never looked up again).

    Building the tree recurses once per nesting level (a 3,000-term ``a + a + …`` is 3,000 levels);
    when that exceeds the default recursion limit, the parse is retried with more room (`run_deep`).
    """
    def parse() -> ast.Module:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes is the user's business
            return ast.parse(text, filename=filename)

    try:
        return parse()
    except RecursionError:
        return run_deep(parse)


DEEP_RECURSION_LIMIT = 30_000
DEEP_STACK_BYTES = 256 * 1024 * 1024  # address space only: pages are touched as the recursion needs them
_DEEP_THREAD = "ftaudit-deep"
_deep_lock = threading.Lock()
T = TypeVar("T")


def run_deep(work: Callable[[], T]) -> T:
    """``work()`` with a raised recursion limit, in a thread whose C stack is large enough for it.

    For deep but valid input that recursive code (``ast.parse``, tree walks) cannot handle within
    the default limit. Raising the limit on the calling thread could overflow its C stack and kill
    the process, so the work gets its own thread. Raises RecursionError when even this is not
    enough (or no such thread can be started); re-raises whatever ``work`` raised.
    """
    if threading.current_thread().name == _DEEP_THREAD:
        return work()  # already as deep as it gets
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    with _deep_lock:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, DEEP_RECURSION_LIMIT))  # before the thread starts: it reads it
        try:
            thread = _start_deep_thread(target)
            if thread is None:
                raise RecursionError("no thread with a large enough stack could be started")
            try:
                thread.join()
            except BaseException:  # Ctrl-C or the engine's per-file budget: stop the work too
                _interrupt(thread)
                raise
        finally:
            sys.setrecursionlimit(limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _start_deep_thread(target: Callable[[], None]) -> threading.Thread | None:
    try:
        previous = threading.stack_size(DEEP_STACK_BYTES)
    except (ValueError, RuntimeError):
        return None
    try:
        thread = threading.Thread(target=target, name=_DEEP_THREAD, daemon=True)
        thread.start()
    except RuntimeError:  # no memory for the stack
        return None
    finally:
        threading.stack_size(previous)
    return thread


def _interrupt(thread: threading.Thread) -> None:
    """Raise SystemExit in ``thread`` at its next bytecode, so abandoned work does not run on."""
    try:
        import ctypes

        if thread.ident is not None and thread.is_alive():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit))
    except (ImportError, AttributeError, OSError):
        pass  # it finishes on its own: the work is bounded by the input's size


@lru_cache(maxsize=256)
def _header_bytes(path: Path, mtime_ns: int) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) > 2_000_000:
        return None
    return lone_cr_as_lf(data) if b"\r" in data else data  # lines as the compiler counts them


@lru_cache(maxsize=8)
def _bounded_reader(boundary: tuple[Path, ...]) -> Callable[[Path], bytes | None]:
    """A header reader that never leaves the scan: `#include "../../../etc/passwd"` or a header that is a
    symlink out of the tree reads as a missing header. One reader per boundary, so the header lookups
    of a scan's files are shared (``includes.find_header`` remembers them per reader)."""
    roots = tuple(str(root) for root in boundary)
    inside = tuple(root.rstrip(os.sep) + os.sep for root in roots)

    def read(path: Path) -> bytes | None:
        try:
            real = os.path.realpath(path)
        except (OSError, RuntimeError, ValueError):
            return None
        if real not in roots and not real.startswith(inside):
            return None
        return read_header(Path(real))

    return read


def read_header(path: Path) -> bytes | None:
    """A project header's bytes for guard evaluation (preprocessing, not analysis), cached per process."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _header_bytes(path, stat.st_mtime_ns) if path.is_file() else None


def _running_python() -> str:
    import sys

    return f"{sys.version_info[0]}.{sys.version_info[1]}"
