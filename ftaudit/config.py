"""Configuration: ``[tool.ftaudit]`` in the nearest ``pyproject.toml`` that has it, or ``ftaudit.toml``.

Every key is checked; a bad key or value is a ConfigError naming the key and the file (exit 2).
Command-line options override the file. ``target-version`` defaults from ``requires-python``;
``python`` takes the target from a real interpreter instead (``ftaudit.interpreter``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ftaudit.findings import Severity
from ftaudit.interpreter import Interpreter, InterpreterError, query, resolve
from ftaudit.selection import SelectorError, normalise
from ftaudit.target import LATEST_KNOWN, Target, parse_target

CONFIG_NAMES = ("ftaudit.toml", "pyproject.toml")
OUTPUT_FORMATS = ("full", "concise", "json", "json-lines", "github", "sarif", "html", "gitlab", "junit")
DEFAULT_EXCLUDES = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".mypy_cache", ".nox", ".pants.d",
    ".pytest_cache", ".pytype", ".ruff_cache", ".ftaudit_cache", ".svn", ".tox", ".venv", ".vscode", "__pycache__",
    "__pypackages__", "_build", "buck-out", "build", "dist", "node_modules", "site-packages", "venv",
    "*.egg-info",
    # Vendored third-party libraries (libuv in uvloop, c-ares in pycares): their authors' code, not the
    # project's; their C callbacks and test programs are not Python entry points. `exclude = [...]`
    # (which replaces this list) brings them back.
    "vendor", "vendored", "third_party", "thirdparty", "third-party", "3rdparty", "deps",
)


class ConfigError(Exception):
    pass


@dataclass
class Settings:
    root: Path = field(default_factory=Path.cwd)  # relative paths in config resolve against this
    config_file: Path | None = None
    target: Target = field(default_factory=Target)
    select: list[str] = field(default_factory=lambda: ["ALL"])
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    severity: dict[str, Severity] = field(default_factory=dict)
    min_severity: Severity = Severity.NOTE
    fail_on: Severity = Severity.WARNING
    exclude: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDES))
    extend_exclude: list[str] = field(default_factory=list)
    respect_gitignore: bool = True
    force_exclude: bool = False
    output_format: str = "full"
    max_file_size_kb: int = 4096
    cache: bool = True
    engine: str = "tree-sitter"  # "libclang": the real preprocessor decides #if guards (precise mode)
    build_path: Path | None = None  # folder (or file) of compile_commands.json for precise mode
    scan_generated: bool = False  # files whose header says a tool generated them are skipped
    cache_dir: Path | None = None  # default: a folder per project in the user's cache folder (ftaudit.cache)
    per_file_timeout: float = 30.0  # seconds of analysis per file before a too-complex diagnostic; 0: none
    debug_switches: str = "off"  # "off": DEBUG_*/TRACE_*/TEST_*/FAULT_* macros nobody defines are off
    # Problems with the scanned project's own metadata (not ftaudit's configuration): warned, with the fallback.
    warnings: list[str] = field(default_factory=list)
    rule_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The interpreter `python` named; its include_dir is what a header-aware engine (libclang) uses.
    python: Interpreter | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path):
                value = value.as_posix()
            elif isinstance(value, Target):
                value = {"version": value.label, "minimum": ".".join(map(str, value.minimum))
                         if value.minimum else None}
            elif isinstance(value, Severity):
                value = value.label
            elif isinstance(value, Interpreter):
                value = value.as_dict()
            elif isinstance(value, dict) and value and isinstance(next(iter(value.values())), Severity):
                value = {k: v.label for k, v in value.items()}
            out[f.name.replace("_", "-")] = value
        return out


# key -> (python type of the value, description used in messages)
_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "target-version": (str, "a version such as '3.13t'"),
    "python": (str, "the path of a Python interpreter, e.g. '.venv/bin/python3.13t'"),
    "select": (list, "a list of rule selectors"),
    "extend-select": (list, "a list of rule selectors"),
    "ignore": (list, "a list of rule selectors"),
    "per-file-ignores": (dict, "a table of glob = [selectors]"),
    "extend-per-file-ignores": (dict, "a table of glob = [selectors]"),
    "severity": (dict, "a table of selector = 'error' | 'warning' | 'note'"),
    "min-severity": (str, "'error', 'warning' or 'note'"),
    "fail-on": (str, "'error', 'warning' or 'note'"),
    "exclude": (list, "a list of glob patterns"),
    "extend-exclude": (list, "a list of glob patterns"),
    "respect-gitignore": (bool, "true or false"),
    "force-exclude": (bool, "true or false"),
    "output-format": (str, f"one of {', '.join(OUTPUT_FORMATS)}"),
    "max-file-size-kb": (int, "a positive integer"),
    "cache": (bool, "true or false"),
    "engine": (str, "'tree-sitter' or 'libclang'"),
    "build-path": (str, "the folder holding compile_commands.json"),
    "scan-generated": (bool, "true or false"),
    "cache-dir": (str, "a folder path"),
    "per-file-timeout": ((int, float), "a number of seconds (0: no limit)"),
    "debug-switches": (str, "'off' (debug/test-only macros the project never defines are off) or 'unknown'"),
    "rule-options": (dict, "a table of CODE = { option = value }"),
}


def find_config(start: Path) -> Path | None:
    """The nearest ftaudit.toml, or pyproject.toml with a [tool.ftaudit] table, at or above ``start``."""
    directory = start if start.is_dir() else start.parent
    for folder in (directory, *directory.parents):
        for name in CONFIG_NAMES:
            candidate = folder / name
            if candidate.is_file() and (name != "pyproject.toml" or _has_tool_table(candidate)):
                return candidate
    return None


def find_pyproject(start: Path) -> Path | None:
    directory = start if start.is_dir() else start.parent
    for folder in (directory, *directory.parents):
        if (folder / "pyproject.toml").is_file():
            return folder / "pyproject.toml"
    return None


def _has_tool_table(path: Path) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if b"ftaudit" not in data:  # cheap test before parsing; `[tool]\nftaudit = 5` must still be seen
        return False
    try:
        tool = tomllib.loads(data.decode("utf-8")).get("tool", {})
    except (ValueError, UnicodeDecodeError, RecursionError):  # TOMLDecodeError, or an integer of 5,000 digits
        return True  # let load_config report the broken file
    return not isinstance(tool, dict) or "ftaudit" in tool


def read_table(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, or values Python refuses to convert
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if path.name == "pyproject.toml":
        tool = document.get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError(f"{path}: 'tool' must be a table, got {tool!r}")
        table = tool.get("ftaudit", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [tool.ftaudit] must be a table, got {table!r}")
        return table
    return document


def requires_python(pyproject: Path | None, warnings: list[str] | None = None) -> str | None:
    """The project's `requires-python`; a value that is not a version specifier is warned about in
    ``warnings`` (the scanned project's metadata, not ftaudit's configuration: never fatal)."""
    if pyproject is None:
        return None
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    value = project.get("requires-python") if isinstance(project, dict) else None
    problem = None
    if value is not None and not isinstance(value, str):
        problem = f"is {value!r}, not a string"
    elif isinstance(value, str):
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            problem = f"{value!r} is not a version specifier"
    if problem is not None:
        if warnings is not None:
            warnings.append(f"{pyproject}: requires-python {problem}; using the default target "
                            f"{Target().label} (set target-version to choose)")
        return None
    return value


def target_from_requires_python(spec: str | None) -> Target:
    """The newest CPython ``spec`` admits (free-threaded from 3.13), and the oldest as the minimum."""
    if not spec:
        return Target()
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        specifiers = SpecifierSet(spec)
    except InvalidSpecifier:
        return Target()
    allowed = [(3, minor) for minor in range(6, LATEST_KNOWN[1] + 1)
               if specifiers.contains(f"3.{minor}.0", prereleases=True)
               or specifiers.contains(f"3.{minor}.99", prereleases=True)]
    if not allowed:
        return Target()
    newest = max(allowed)
    return Target(version=newest, free_threaded=newest >= (3, 13), minimum=min(allowed))


def _check_type(key: str, value: Any, path: Path | None) -> None:
    expected, description = _KEYS[key]
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if ok and expected is list:
        ok = all(isinstance(item, str) for item in value)
    if not ok:
        raise ConfigError(f"{_where(path)}: invalid value for '{key}': expected {description}, got {value!r}")


def _where(path: Path | None) -> str:
    return str(path) if path else "command line"


def _selectors(values: Iterable[str], known: Iterable[str], key: str, path: Path | None) -> list[str]:
    known = list(known)
    try:
        return [normalise(v, known) for v in values]
    except SelectorError as exc:
        raise ConfigError(f"{_where(path)}: '{key}': {exc}") from None


def _severity(value: Any, key: str, path: Path | None) -> Severity:
    try:
        return Severity.parse(value) if isinstance(value, str) else Severity.parse(repr(value))
    except ValueError as exc:
        raise ConfigError(f"{_where(path)}: '{key}': {exc}") from None


def apply_table(settings: Settings, table: Mapping[str, Any], path: Path | None,
                rules: Mapping[str, Any]) -> None:
    """Validate ``table`` (from a config file or the CLI) and apply it on top of ``settings``."""
    known_codes = list(rules)
    if "python" in table and "target-version" in table:
        raise ConfigError(f"{_where(path)}: 'python' and 'target-version' are both set; the interpreter "
                          "already gives the target version, so keep only one")
    for key, value in table.items():
        if key not in _KEYS:
            close = [k for k in _KEYS if k.replace("-", "") == key.replace("_", "").replace("-", "")]
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{_where(path)}: unknown key '{key}' in [tool.ftaudit]{hint}")
        _check_type(key, value, path)
        if key == "target-version":
            try:
                settings.target = replace(parse_target(value), minimum=settings.target.minimum)
            except ValueError as exc:
                raise ConfigError(f"{_where(path)}: 'target-version': {exc}") from None
            settings.python = None  # a later layer's target-version replaces an earlier interpreter
        elif key == "python":
            settings.python = _interpreter(value, path)
            settings.target = settings.python.target(minimum=settings.target.minimum)
        elif key in ("select", "extend-select", "ignore"):
            setattr(settings, key.replace("-", "_"), _selectors(value, known_codes, key, path))
        elif key in ("per-file-ignores", "extend-per-file-ignores"):
            parsed = {}
            for glob, codes in value.items():
                if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                    raise ConfigError(f"{_where(path)}: '{key}.\"{glob}\"': expected a list of selectors")
                parsed[glob] = _selectors(codes, known_codes, key, path)
            if key == "per-file-ignores":
                settings.per_file_ignores = parsed
            else:
                settings.per_file_ignores.update(parsed)
        elif key == "severity":
            settings.severity = {
                _selectors([sel], known_codes, key, path)[0]: _severity(level, f"severity.{sel}", path)
                for sel, level in value.items()
            }
        elif key in ("min-severity", "fail-on"):
            setattr(settings, key.replace("-", "_"), _severity(value, key, path))
        elif key == "output-format":
            if value not in OUTPUT_FORMATS:
                raise ConfigError(f"{_where(path)}: invalid value for 'output-format': {value!r}; "
                                  f"expected one of {', '.join(OUTPUT_FORMATS)}")
            settings.output_format = value
        elif key == "max-file-size-kb":
            if value <= 0:
                raise ConfigError(f"{_where(path)}: 'max-file-size-kb' must be positive, got {value}")
            settings.max_file_size_kb = value
        elif key == "engine":
            settings.engine = _choice(key, value, ("tree-sitter", "libclang"), path)
        elif key == "build-path":
            folder = Path(value).expanduser()
            settings.build_path = folder if folder.is_absolute() or path is None else (path.parent / folder)
            if not settings.build_path.exists():
                raise ConfigError(f"{_where(path)}: 'build-path': {settings.build_path} does not exist")
        elif key == "cache-dir":
            folder = Path(value).expanduser()
            settings.cache_dir = folder if folder.is_absolute() or path is None else (path.parent / folder)
        elif key == "debug-switches":
            settings.debug_switches = _choice(key, value, ("off", "unknown"), path)
        elif key == "per-file-timeout":
            if value < 0 or value != value or value == float("inf"):
                raise ConfigError(f"{_where(path)}: 'per-file-timeout' must be a number of seconds >= 0 "
                                  f"(0: no limit), got {value}")
            settings.per_file_timeout = float(value)
        elif key == "rule-options":
            settings.rule_options = _rule_options(value, rules, path)
        else:
            setattr(settings, key.replace("-", "_"), value)


def _choice(key: str, value: str, choices: tuple[str, ...], path: Path | None) -> str:
    if value not in choices:
        expected = " or ".join(repr(c) for c in choices)
        raise ConfigError(f"{_where(path)}: invalid value for '{key}': {value!r}; expected {expected}")
    return value


def _interpreter(value: str, path: Path | None) -> Interpreter:
    """Query the interpreter ``value`` names (relative to the config file's folder, or the current
    folder on the command line); a failure is a ConfigError that says why."""
    if not value.strip():
        raise ConfigError(f"{_where(path)}: 'python' must name an interpreter, got an empty string")
    base = path.parent if path is not None else Path.cwd()
    executable = resolve(value, base)
    if path is not None and executable.exists():  # named by the (untrusted) scanned project, not by the user
        _check_runnable_from_config(executable, path)
    try:
        return query(executable)
    except InterpreterError as exc:
        raise ConfigError(f"{_where(path)}: 'python': cannot query the interpreter: {exc}") from None


_INTERPRETER_NAME = re.compile(r"^(?:python|pypy)(?:\d+(?:\.\d+)*)?[td]*(?:\.exe)?$", re.IGNORECASE)


def _check_runnable_from_config(executable: Path, config: Path) -> None:
    """ftaudit runs no program that the scanned repository supplies: a `python` from a configuration
    file must be a real interpreter (by name) whose real path lies outside the project folder (a
    virtual environment's link to the system interpreter is fine; a file committed to the repository
    is not). The command line's --python is the user's own choice and is not restricted."""
    try:
        real = executable.resolve()
    except (OSError, RuntimeError) as exc:
        raise ConfigError(f"{config}: 'python': cannot resolve {executable}: {exc}") from None
    project = config.parent.resolve()
    if real == project or project in real.parents:
        raise ConfigError(f"{config}: 'python': {executable} is a file inside the project ({real}); ftaudit "
                          "does not run programs from the scanned repository (pass --python on the command line)")
    if not _INTERPRETER_NAME.match(real.name):
        raise ConfigError(f"{config}: 'python': {real} does not look like a Python interpreter; ftaudit runs "
                          "only interpreters named from a configuration file (pass --python on the command line)")


def _rule_options(value: Mapping[str, Any], rules: Mapping[str, Any], path: Path | None) -> dict[str, dict]:
    result: dict[str, dict] = {}
    for code, options in value.items():
        rule = rules.get(code.upper())
        if rule is None:
            raise ConfigError(f"{_where(path)}: 'rule-options': unknown rule code '{code}'")
        if not isinstance(options, dict):
            raise ConfigError(f"{_where(path)}: 'rule-options.{code}' must be a table")
        for name, option in options.items():
            if name not in rule.options:
                accepted = ", ".join(rule.options) or "none"
                raise ConfigError(f"{_where(path)}: unknown option '{name}' for {rule.code} "
                                  f"(accepted: {accepted})")
            default = rule.options[name]
            if default is not None and not isinstance(option, type(default)):
                raise ConfigError(f"{_where(path)}: 'rule-options.{code}.{name}' must be "
                                  f"{type(default).__name__}, got {option!r}")
        result[rule.code] = dict(options)
    return result


def load_settings(
    *, start: Path, config_path: Path | None, isolated: bool, overrides: Mapping[str, Any],
    rules: Mapping[str, Any],
) -> Settings:
    """Settings from (in increasing precedence) defaults, requires-python, the config file, the CLI."""
    settings = Settings(root=Path.cwd())
    if not isolated:
        config = config_path or find_config(start)
        pyproject = None
        if config is not None:
            if not config.is_file():
                raise ConfigError(f"{config}: configuration file not found")
            config = config.resolve()
            settings.root, settings.config_file = config.parent, config
            pyproject = config if config.name == "pyproject.toml" else find_pyproject(config.parent)
        else:
            pyproject = find_pyproject(start)
            if pyproject is not None:
                settings.root = pyproject.parent.resolve()
        settings.target = target_from_requires_python(requires_python(pyproject, settings.warnings))
        if config is not None:
            apply_table(settings, read_table(config), config, rules)
    env_cache = os.environ.get("FTAUDIT_CACHE_DIR")
    if env_cache and "cache-dir" not in overrides:
        apply_table(settings, {"cache-dir": env_cache}, None, rules)
    env_format = os.environ.get("FTAUDIT_OUTPUT_FORMAT")
    if env_format and "output-format" not in overrides:
        apply_table(settings, {"output-format": env_format}, None, rules)
    apply_table(settings, overrides, None, rules)
    return settings
