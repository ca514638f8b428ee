"""Precise mode: the real C preprocessor (libclang) decides which code is compiled.

tree-sitter sees `#if FEATURE` without knowing FEATURE when it comes from another header or a `-D`
flag, so such guards are MAYBE. With `--engine libclang`, each C/C++ file is preprocessed by libclang
with its real flags — from `compile_commands.json` (meson and CMake write one; `bear` does for
setuptools) or, failing that, the target interpreter's include folder — and the ranges the
preprocessor skipped become exact answers for `CUnit.compiled()`. The tree-sitter parse stays the
model; libclang only settles the guards, and only when the build's Python is the audit target.
"""

from __future__ import annotations

import ctypes
import json
import shlex
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ftaudit.findings import Diagnostic, DiagnosticKind
from ftaudit.target import Target

if TYPE_CHECKING:
    from ftaudit.config import Settings

BUILD_DIRS = ("", "build", "builddir", "_build", "cmake-build-debug", "cmake-build-release", "out")
_DROP_WITH_VALUE = {"-o", "-MF", "-MT", "-MQ", "--serialize-diagnostics"}
_DROP = {"-c", "-M", "-MM", "-MD", "-MMD", "-MP", "-MG", "-fcolor-diagnostics", "-fdiagnostics-color=always"}
# compile_commands.json comes from the scanned (untrusted) repository. Only flags that shape how a file
# is preprocessed and parsed reach libclang; anything that could load code into this process
# (-fplugin, -Xclang -load, -fpass-plugin), read a response file (@file) or name other programs is dropped.
_KEEP_WITH_VALUE = {"-D", "-U", "-x", "-include", "-imacros", "-isysroot", "--sysroot", "-target", "--target",
                    "-arch", "-std"}
_KEEP_PREFIXES = ("-D", "-U", "-std=", "--std=", "-f", "-m", "-W", "-O", "-g", "-pthread", "-ansi", "-pedantic",
                  "-nostdinc", "-include", "-imacros", "-isysroot", "--sysroot=", "--target=", "-target",
                  "-w", "-x")
_NEVER_PREFIXES = ("-fplugin", "-fpass-plugin", "-Wl,", "-Wa,", "-Wp,", "-Xclang", "-load", "-B", "--config",
                   "-fprofile", "-fcrash", "-ftime-trace", "-save-temps", "-fmodules-cache-path", "-fmodule-file",
                   "-fopenmp-targets", "-fsave-optimization-record")


class PreciseUnavailable(Exception):
    """libclang cannot be used here; the message says why (the scan goes on without it)."""


@dataclass(frozen=True)
class PreciseConfig:
    """What the workers need: per-file flags from the database, and flags for files it lacks."""

    commands: dict[str, tuple[str, ...]] = field(default_factory=dict)  # resolved path -> arguments
    fallback: tuple[str, ...] = ()
    database: str | None = None  # where the commands came from (None: guessed flags)


def find_database(start: Path, build_path: Path | None = None) -> Path | None:
    """`compile_commands.json` in --build-path, or the scan root and its usual build folders."""
    if build_path is not None:
        candidate = build_path / "compile_commands.json" if build_path.is_dir() else build_path
        return candidate if candidate.is_file() else None
    for folder in (start, *start.parents):
        for sub in BUILD_DIRS:
            candidate = folder / sub / "compile_commands.json"
            if candidate.is_file():
                return candidate
        if (folder / ".git").exists():
            break
    for candidate in sorted(start.glob(".mesonpy-*/compile_commands.json")):
        return candidate
    return None


def load_database(path: Path) -> dict[str, tuple[str, ...]]:
    """Resolved source path -> compiler arguments (compiler, output and source file removed)."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PreciseUnavailable(f"cannot read {path}: {exc}") from None
    commands: dict[str, tuple[str, ...]] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            continue
        try:
            directory = Path(entry.get("directory", path.parent))
            source = (directory / entry["file"]).resolve()
            argv = entry.get("arguments") or shlex.split(entry.get("command", ""))
            if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
                continue
        except (TypeError, ValueError, OSError, RuntimeError):
            continue  # a malformed entry: that file is preprocessed with guessed flags
        commands[str(source)] = tuple(_clean(argv[1:], directory, source))
    return commands


_INCLUDE_FLAGS = ("-I", "-isystem", "-iquote", "-idirafter")


def _clean(args: list[str], directory: Path, source: Path) -> list[str]:
    """Compiler arguments libclang can use from any folder: no output or dependency-file options, no
    source file, and include folders made absolute (the database's paths are relative to its entry's
    `directory`, libclang's to ftaudit's working folder)."""
    out: list[str] = []
    pending: str | None = None  # an include flag whose folder is the next argument
    skip = False
    value_of: str | None = None  # a kept flag whose value is the next argument
    for arg in args:
        if "\0" in arg:
            continue
        if skip:
            skip = False
        elif value_of is not None:
            out += [value_of, arg]
            value_of = None
        elif pending is not None:
            out += [pending, _absolute(arg, directory)]
            pending = None
        elif arg in _DROP_WITH_VALUE or arg == "-Xclang" or not _safe_flag(arg):
            skip = arg in _DROP_WITH_VALUE or arg in ("-Xclang", "-B", "--config", "-load")
        elif arg in _KEEP_WITH_VALUE:
            value_of = arg
        elif arg in _INCLUDE_FLAGS:
            pending = arg
        elif arg in _DROP or (not arg.startswith("-") and (directory / arg).resolve() == source):
            continue
        else:
            flag = next((f for f in _INCLUDE_FLAGS if arg.startswith(f) and len(arg) > len(f)), None)
            out.append(flag + _absolute(arg[len(flag):], directory) if flag else arg)
    return out


def _safe_flag(arg: str) -> bool:
    """Whether a database argument may reach libclang (see _KEEP_PREFIXES); a bare word (the source
    file, the compiler's own inputs) is judged by the caller."""
    if not arg.startswith("-"):
        return not arg.startswith("@")
    if arg.startswith(_NEVER_PREFIXES):
        return False
    return arg in _INCLUDE_FLAGS or arg.startswith(_INCLUDE_FLAGS) or arg.startswith(_KEEP_PREFIXES) or arg in _DROP


def _absolute(folder: str, directory: Path) -> str:
    path = Path(folder)
    return str(path if path.is_absolute() else directory / path)


def fallback_flags(include_dir: str | None, target: Target) -> tuple[str, ...]:
    """Flags for a file the database does not list: the interpreter's headers, the target's build."""
    flags = [f"-I{include_dir}"] if include_dir else []
    if target.free_threaded:
        flags.append("-DPy_GIL_DISABLED=1")
    flags.extend(_system_includes())
    return tuple(flags)


@lru_cache(maxsize=1)
def _system_includes() -> tuple[str, ...]:
    """The C compiler's own header folder (stddef.h, stdarg.h): the libclang wheel ships none."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        return ()
    try:
        folder = subprocess.run([compiler, "-print-file-name=include"], capture_output=True, text=True,
                                timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ()
    return ("-isystem", folder) if folder and Path(folder).is_dir() else ()


class _RangeList(ctypes.Structure):
    pass


@lru_cache(maxsize=1)
def _clang():  # type: ignore[no-untyped-def]
    try:
        from clang import cindex  # type: ignore[import-untyped]  # libclang ships no type information
    except ImportError:
        raise PreciseUnavailable("the libclang package is not installed (pip install 'ftaudit[precise]')") from None
    _RangeList._fields_ = [("count", ctypes.c_uint), ("ranges", ctypes.POINTER(cindex.SourceRange))]
    try:
        index = cindex.Index.create()
        lib = cindex.conf.lib
    except Exception as exc:  # the shared library itself failed to load
        raise PreciseUnavailable(f"libclang cannot be loaded: {exc}") from None
    lib.clang_getSkippedRanges.restype = ctypes.POINTER(_RangeList)
    lib.clang_getSkippedRanges.argtypes = [cindex.TranslationUnit, cindex.File]
    lib.clang_disposeSourceRangeList.argtypes = [ctypes.POINTER(_RangeList)]
    return cindex, index, lib


def available() -> str | None:
    """None when precise mode can run, else why not."""
    try:
        _clang()
    except PreciseUnavailable as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class Preprocessed:
    skipped: tuple[tuple[int, int], ...]  # byte ranges the preprocessor did not compile
    python: tuple[int, int] | None  # the CPython version the file was preprocessed against
    free_threaded: bool | None
    flags_source: str  # "compile_commands.json" or "guessed flags"


def preprocess(path: Path, data: bytes, config: PreciseConfig, language: str) -> Preprocessed:
    """Run libclang's preprocessor over one file (function bodies are not parsed: it is faster)."""
    cindex, index, lib = _clang()
    listed = config.commands.get(str(path.resolve()))
    args = list(listed) if listed is not None else ["-x", "c++" if language == "cpp" else "c", *config.fallback]
    options = (cindex.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD
               | cindex.TranslationUnit.PARSE_SKIP_FUNCTION_BODIES | cindex.TranslationUnit.PARSE_INCOMPLETE)
    try:
        unit = index.parse(str(path), args=args, unsaved_files=[(str(path), data)], options=options)
    except cindex.TranslationUnitLoadError as exc:
        raise PreciseUnavailable(f"libclang could not preprocess the file: {exc}") from None
    ranges = lib.clang_getSkippedRanges(unit, cindex.File.from_name(unit, str(path)))
    try:
        skipped = tuple((ranges.contents.ranges[i].start.offset, ranges.contents.ranges[i].end.offset)
                        for i in range(ranges.contents.count))
    finally:
        lib.clang_disposeSourceRangeList(ranges)
    major = minor = None
    free_threaded: bool | None = None
    for cursor in unit.cursor.get_children():
        if cursor.kind != cindex.CursorKind.MACRO_DEFINITION:
            continue
        if cursor.spelling in ("PY_MAJOR_VERSION", "PY_MINOR_VERSION"):
            tokens = [t.spelling for t in cursor.get_tokens()]
            if len(tokens) == 2 and tokens[1].isdigit():
                if cursor.spelling == "PY_MAJOR_VERSION":
                    major = int(tokens[1])
                else:
                    minor = int(tokens[1])
        elif cursor.spelling == "Py_GIL_DISABLED":
            free_threaded = True
    python = (major, minor) if major is not None and minor is not None else None
    if python is not None and free_threaded is None:
        free_threaded = False
    return Preprocessed(skipped, python, free_threaded,
                        "compile_commands.json" if listed is not None else "guessed flags")


def matches_target(result: Preprocessed, target: Target) -> bool:
    """Skipped ranges answer for the build they came from; trust them only for that target."""
    return result.python == target.version and result.free_threaded == target.free_threaded


def skipped_ranges(config: PreciseConfig, path: Path, data: bytes, target: Target,
                   language: str) -> tuple[tuple[tuple[int, int], ...] | None, str]:
    """One file's answer for the C model (``FileContext.preprocessor``): the byte ranges the preprocessor
    skipped when it ran for the audit target, else None; and what happened, for the run's summary."""
    try:
        result = preprocess(path, data, config, language)
    except PreciseUnavailable as exc:
        return None, f"failed: {exc}"
    if not matches_target(result, target):
        built = (f"{result.python[0]}.{result.python[1]}{'t' if result.free_threaded else ''}"
                 if result.python else "an unknown CPython (Python.h not found)")
        return None, f"mismatch: preprocessed for {built}"
    return result.skipped, f"exact ({result.flags_source})"


def configure(settings: Settings, paths: Iterable[Path]) -> tuple[PreciseConfig | None, list[Diagnostic]]:
    """Precise mode's flags (and what to tell the user about them), or None when it is off or unusable."""
    if settings.engine != "libclang":
        return None, []
    def note(message: str) -> Diagnostic:
        return Diagnostic("", DiagnosticKind.PRECISE, message)

    reason = available()
    if reason is not None:
        return None, [note(f"--engine libclang is unavailable ({reason}); #if guards are evaluated by tree-sitter")]
    first = next(iter(paths), Path("."))
    start = (first if first.is_dir() else first.parent).resolve()
    database = find_database(start, settings.build_path)
    try:
        commands = load_database(database) if database is not None else {}
    except PreciseUnavailable as exc:
        return None, [note(str(exc))]
    include: str | None = None
    if settings.python is not None and settings.python.include_dir:
        include = str(settings.python.include_dir)
    else:
        import sysconfig

        include = sysconfig.get_paths().get("include")
    fallback = fallback_flags(include or None, settings.target)
    notes = [] if database is not None else [note(
        "no compile_commands.json found (meson and CMake write one; `bear -- pip install -e .` does for "
        f"setuptools): files are preprocessed with guessed flags ({' '.join(fallback)})")]
    return PreciseConfig(commands, fallback, str(database) if database else None), notes


def summary(states: list[str], target: Target) -> list[Diagnostic]:
    """One line when the preprocessor ran for another CPython than the target (then its ranges are
    not used and tree-sitter evaluates the guards), or failed; silence when every guard was exact."""
    other = sorted({s.split("preprocessed for ", 1)[1] for s in states
                    if s.startswith("mismatch") and "unknown" not in s})
    failed = [s.split(": ", 1)[1] for s in states if s.startswith("failed")]
    parts = []
    if other:
        count = sum(1 for s in states if s.startswith("mismatch") and "unknown" not in s)
        parts.append(f"{count} file{'s were' if count != 1 else ' was'} preprocessed for CPython {', '.join(other)}, "
                     f"not the target {target.label}: pass --python with the target interpreter (or use a matching "
                     "build's compile_commands.json); their guards were evaluated without libclang")
    if failed:
        parts.append(f"{len(failed)} file{'s' if len(failed) != 1 else ''} could not be preprocessed ({failed[0]})")
    return [Diagnostic("", DiagnosticKind.PRECISE, "; ".join(parts))] if parts else []
