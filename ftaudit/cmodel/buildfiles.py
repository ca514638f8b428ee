"""Readers for build files that carry free-threading declarations: setup.py, pyproject.toml,
meson.build, CMakeLists.txt, Cargo.toml, and ``#[pymodule]`` attributes in Rust sources.

Each reader returns a small result with an ``errors`` list and never raises on bad input.
"""

from __future__ import annotations

import ast
import itertools
import re
import tomllib
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# -- setup.py -------------------------------------------------------------------------------------


@dataclass(slots=True)
class ExtensionInfo:
    name: str | None
    sources: list[str]
    define_macros: list[tuple[str, str | None]]
    line: int
    py_limited_api: bool | None = None


@dataclass(slots=True)
class SetupInfo:
    # Directives from every cythonize(..., compiler_directives={...}) call, merged.
    compiler_directives: dict[str, Any] = field(default_factory=dict)
    cythonize_lines: list[int] = field(default_factory=list)
    extensions: list[ExtensionInfo] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # top-level module names it imports (build helpers)
    errors: list[str] = field(default_factory=list)


def _literal(node: ast.AST, names: dict[str, ast.AST]) -> Any:
    """A literal value, following one level of ``name = {...}`` bindings; None if not literal."""
    if isinstance(node, ast.Name) and node.id in names:
        node = names[node.id]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def read_setup_py(text: str | bytes, tree: ast.Module | None = None) -> SetupInfo:
    """What a setup.py (or a build helper module it imports) declares, read statically (`pyvalues`):
    sources through variables, concatenation, `.append()`/`.extend()`, loops and f-strings;
    directives through a dict variable later changed with `d["x"] = …` or `.update()`. A directive
    whose value is not a literal (`FREE_THREADED_BUILD`) is recorded as the string "unknown"."""
    from ftaudit.cmodel.pyvalues import UNKNOWN, Evaluator, loop_names

    info = SetupInfo()
    try:
        tree = tree if tree is not None else ast.parse(text)  # `tree`: the file's shared parse, when made
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        info.errors.append(f"setup.py does not parse: {exc}")
        return info
    values = Evaluator(tree)
    loops = loop_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            info.imports.extend(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            info.imports.append(node.module.split(".")[0])
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        if name == "cythonize":
            info.cythonize_lines.append(node.lineno)
            value = keywords.get("compiler_directives")
            if value is not None:
                directives = values.dict_items(value)
                if directives:
                    info.compiler_directives.update(
                        {k: ("unknown" if v is UNKNOWN else v) for k, v in directives.items()})
                else:
                    info.errors.append(f"line {node.lineno}: compiler_directives cannot be read statically")
        elif name in ("Extension", "Pybind11Extension", "CppExtension", "CUDAExtension"):
            info.extensions.extend(_extensions(node, keywords, values, loops.get(node, [])))
    return info


def _extensions(node: ast.Call, keywords: dict[str, ast.expr], values: Any,
                loops: list[Any]) -> list[ExtensionInfo]:
    """One ExtensionInfo per iteration of the loops around the call that its arguments use (a
    `for name in MODULES: Extension(name, [f"src/{name}.c"])` builds one extension per name)."""
    args = list(node.args)
    name_node = args[0] if args else keywords.get("name")
    sources_node = args[1] if len(args) > 1 else keywords.get("sources")
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    varying = [loop for loop in loops if loop.target.id in used]
    choices = [[v for v in values.strings(loop.iter)] for loop in varying]
    bindings = [dict(zip([loop.target.id for loop in varying], combination, strict=True))
                for combination in itertools.islice(itertools.product(*choices), 64)] if varying else [{}]
    macros = _literal(keywords["define_macros"], {}) if "define_macros" in keywords else None
    limited = _literal(keywords["py_limited_api"], {}) if "py_limited_api" in keywords else None
    out = []
    for fixed in bindings or [{}]:
        names = values.strings(name_node, fixed) if name_node is not None else []
        out.append(ExtensionInfo(
            names[0] if len(names) == 1 else None,
            values.strings(sources_node, fixed) if sources_node is not None else [],
            [(m[0], m[1]) if isinstance(m, list | tuple) and len(m) == 2 else (str(m), None)
             for m in macros] if isinstance(macros, list | tuple) else [],
            node.lineno,
            limited if isinstance(limited, bool) else None,
        ))
    return out


# -- pyproject.toml -------------------------------------------------------------------------------


@dataclass(slots=True)
class PyprojectInfo:
    requires_python: str | None = None
    # Cython directives found in tool settings, with where they were found ("tool.cython", ...).
    cython_directives: dict[str, str] = field(default_factory=dict)
    directive_sources: dict[str, str] = field(default_factory=dict)
    classifiers: list[str] = field(default_factory=list)
    build_backend: str | None = None
    errors: list[str] = field(default_factory=list)


_X_DIRECTIVE = re.compile(r"(?:^|[\s=,'\"\[])(?:-X|--directive)\s*=?\s*([A-Za-z_]\w*)\s*=\s*([^\s,'\"\]]+)")


def cython_x_directives(text: str) -> dict[str, str]:
    """``-X freethreading_compatible=True`` / ``-Xa=b`` / ``--directive a=b`` in an argument string."""
    found = {}
    for match in _X_DIRECTIVE.finditer(text):
        found[match.group(1)] = match.group(2)
    for match in re.finditer(r"-X([A-Za-z_]\w*)=([^\s,'\"\]]+)", text):
        found[match.group(1)] = match.group(2)
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    """``data[key]`` when it is a table, else an empty one."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def read_pyproject(text: str | bytes) -> PyprojectInfo:
    """What we recognise: ``project.requires-python`` and classifiers; Cython directives in
    ``[tool.cython]``/``[tool.cython.directives]`` (key = value) and ``-X name=value`` strings in
    any ``[tool.*]`` table (scikit-build-core ``cmake.args``/``cmake.define``, meson-python
    ``args``/``config-settings``, cibuildwheel environments)."""
    info = PyprojectInfo()
    try:
        data = tomllib.loads(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:  # `a = [[[[…` nests too deep
        info.errors.append(f"pyproject.toml does not parse: {exc}")
        return info
    project = _table(data, "project")
    requires = project.get("requires-python")
    info.requires_python = requires if isinstance(requires, str) else None
    info.classifiers = [c for c in project.get("classifiers", []) if isinstance(c, str)]
    build = _table(data, "build-system")
    backend = build.get("build-backend")
    info.build_backend = backend if isinstance(backend, str) else None
    tool = _table(data, "tool")
    cython = tool.get("cython")
    if isinstance(cython, dict):
        directives = cython.get("directives")
        table = directives if isinstance(directives, dict) else cython
        for key, value in table.items():
            if isinstance(value, str | bool | int | float):
                info.cython_directives[key] = str(value)
                info.directive_sources[key] = "tool.cython"
    for name, section in tool.items():
        for string in _strings(section):
            for key, value in cython_x_directives(string).items():
                info.cython_directives.setdefault(key, value)
                info.directive_sources.setdefault(key, f"tool.{name}")
    return info


# -- meson.build ----------------------------------------------------------------------------------


@dataclass(slots=True)
class MesonModule:
    name: str
    sources: list[str]
    line: int


@dataclass(slots=True)
class MesonInfo:
    cython_directives: dict[str, str] = field(default_factory=dict)
    directive_lines: dict[str, int] = field(default_factory=dict)
    extension_modules: list[MesonModule] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


_MESON_EXTENSION = re.compile(r"\bextension_module\s*\(")
_MESON_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _strip_meson_comments(text: str) -> str:
    # '#' starts a comment unless inside a string; blank comments but keep line structure.
    out = []
    for line in re.split(r"\r\n?|\n", text):  # as SourceFile numbers lines
        in_string = False
        for index, char in enumerate(line):
            if char == "'":
                in_string = not in_string
            elif char == "#" and not in_string:
                line = line[:index]
                break
        out.append(line)
    return "\n".join(out)


class _Lines:
    """1-based line of an offset by one bisect (``text.count("\\n", 0, offset)`` per match is
    quadratic on a file with many matches)."""

    def __init__(self, text: str) -> None:
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def __call__(self, offset: int) -> int:
        return bisect_right(self.starts, offset)


def _calls(pattern: re.Pattern[str], source: str) -> Iterator[tuple[re.Match[str], str]]:
    """Each call the pattern finds (it ends at the '('), with its argument text; a match inside an
    earlier call's arguments is part of that call, not another call (an unclosed call would
    otherwise be rescanned to the end of the file from every match)."""
    done = 0
    for match in pattern.finditer(source):
        if match.start() < done:
            continue
        inner = _balanced_call(source, match.end() - 1)
        done = match.end() + len(inner)
        yield match, inner


def _balanced_call(text: str, open_paren: int) -> str:
    depth = 0
    in_string = False
    for index in range(open_paren, len(text)):
        char = text[index]
        if char == "'":
            in_string = not in_string
        elif not in_string:
            depth += char == "("
            depth -= char == ")"
            if depth == 0:
                return text[open_paren + 1 : index]
    return text[open_paren + 1 :]


def read_meson(text: str | bytes) -> MesonInfo:
    info = MesonInfo()
    try:
        source = _strip_meson_comments(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
        strings = list(_MESON_STRING.finditer(source))
        line_of = _Lines(source)
        for index, match in enumerate(strings):
            value = match.group(1)
            if value in ("-X", "--directive") and index + 1 < len(strings):
                # `['-X', 'freethreading_compatible=True']`: the flag and its value are two strings.
                value = f"-X {strings[index + 1].group(1)}"
            for key, setting in cython_x_directives(value).items():
                info.cython_directives[key] = setting
                info.directive_lines[key] = line_of(match.start())
        for match, inner in _calls(_MESON_EXTENSION, source):
            arguments: list[str] = _MESON_STRING.findall(inner)
            if not arguments:
                continue
            line = line_of(match.start())
            sources = [s for s in arguments[1:] if "." in s and "=" not in s and not s.startswith("-")]
            info.extension_modules.append(MesonModule(arguments[0], sources, line))
    except Exception as exc:  # never take the run down
        info.errors.append(f"cannot read meson.build: {exc}")
    return info


# -- CMakeLists.txt -------------------------------------------------------------------------------


@dataclass(slots=True)
class CMakeModule:
    kind: str  # "nanobind" or "pybind11"
    target: str
    options: list[str]
    sources: list[str]
    line: int

    @property
    def free_threaded(self) -> bool:
        return "FREE_THREADED" in self.options


@dataclass(slots=True)
class CMakeInfo:
    modules: list[CMakeModule] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


_CMAKE_COMMAND = re.compile(r"\b(nanobind_add_module|pybind11_add_module)\s*\(", re.I)
_CMAKE_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"|([^\s()"]+)')
# Keyword options of the two commands (flags, and keywords that take one value).
_NANOBIND_FLAGS = frozenset(
    {
        "STABLE_ABI",
        "FREE_THREADED",
        "NB_STATIC",
        "NB_SHARED",
        "PROTECT_STACK",
        "LTO",
        "NOMINSIZE",
        "NOSTRIP",
        "MUST_NOT_BE_USED",
        "SHARED",
        "MODULE",
        "EXCLUDE_FROM_ALL",
    }
)
_NANOBIND_VALUED = frozenset({"NB_DOMAIN", "NB_SUPPRESS_WARNINGS"})
_PYBIND11_FLAGS = frozenset(
    {"MODULE", "SHARED", "EXCLUDE_FROM_ALL", "NO_EXTRAS", "SYSTEM", "THIN_LTO", "OPT_SIZE", "WITHOUT_SOABI"}
)


def read_cmake(text: str | bytes) -> CMakeInfo:
    info = CMakeInfo()
    try:
        source = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        source = re.sub(r"#[^\n]*", lambda m: " " * len(m.group()), source)  # comments (not in strings: rare)
        line_of = _Lines(source)
        for match, inner in _calls(_CMAKE_COMMAND, source):
            args = [m.group(1) if m.group(1) is not None else m.group(2) for m in _CMAKE_ARG.finditer(inner)]
            if not args:
                continue
            kind = "nanobind" if match.group(1).lower().startswith("nanobind") else "pybind11"
            flags = _NANOBIND_FLAGS if kind == "nanobind" else _PYBIND11_FLAGS
            valued = _NANOBIND_VALUED if kind == "nanobind" else frozenset()
            options, sources = [], []
            rest = iter(args[1:])
            for arg in rest:
                if arg in flags:
                    options.append(arg)
                elif arg in valued:
                    options.append(f"{arg}={next(rest, '')}")
                else:
                    sources.append(arg)
            line = line_of(match.start())
            info.modules.append(CMakeModule(kind, args[0], options, sources, line))
    except Exception as exc:
        info.errors.append(f"cannot read CMakeLists.txt: {exc}")
    return info


# -- Cargo.toml and Rust -----------------------------------------------------------------------------


@dataclass(slots=True)
class CargoInfo:
    pyo3_version: str | None = None  # the requirement as written, e.g. "0.23" or "^0.22.2"
    pyo3_features: list[str] = field(default_factory=list)
    from_workspace: bool = False  # `pyo3 = { workspace = true }` (version in the workspace root)
    errors: list[str] = field(default_factory=list)


def read_cargo(text: str | bytes) -> CargoInfo:
    """pyo3 from ``[dependencies]``, ``[workspace.dependencies]`` or target-specific dependencies."""
    info = CargoInfo()
    try:
        data = tomllib.loads(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:  # `a = [[[[…` nests too deep
        info.errors.append(f"Cargo.toml does not parse: {exc}")
        return info
    tables: list[Any] = [data.get("dependencies"), (data.get("workspace") or {}).get("dependencies")]
    for target in (data.get("target") or {}).values():
        if isinstance(target, dict):
            tables.append(target.get("dependencies"))
    for table in tables:
        if not isinstance(table, dict) or "pyo3" not in table:
            continue
        spec = table["pyo3"]
        if isinstance(spec, str):
            info.pyo3_version = spec
        elif isinstance(spec, dict):
            version = spec.get("version")
            info.pyo3_version = version if isinstance(version, str) else info.pyo3_version
            info.from_workspace = info.from_workspace or spec.get("workspace") is True
            features = spec.get("features")
            if isinstance(features, list):
                info.pyo3_features = [f for f in features if isinstance(f, str)]
        if info.pyo3_version:
            break
    return info


@dataclass(frozen=True, slots=True)
class RustPyModule:
    attribute_line: int
    line: int  # line of the `fn`/`mod` the attribute applies to (0 when not found)
    name: str | None
    item: str | None  # "fn" or "mod"
    gil_used_false: bool
    attribute: str  # the attribute text, e.g. "#[pymodule(gil_used = false)]"


_RUST_ATTRIBUTE = re.compile(r"#\[\s*(?:pyo3\s*::\s*)?pymodule\b(\s*\((?:[^()]|\([^()]*\))*\))?\s*\]")
_RUST_ITEM = re.compile(r"\b(fn|mod)\s+([A-Za-z_]\w*)")
_GIL_USED_FALSE = re.compile(r"\bgil_used\s*=\s*false\b")


def _strip_rust_comments(text: str) -> str:
    """Blank // and /* */ comments (same length, newlines kept), leaving strings alone."""
    out = list(text)
    index, size = 0, len(text)
    while index < size:
        char = text[index]
        if char == '"':
            index += 1
            while index < size and text[index] != '"':
                index += 2 if text[index] == "\\" else 1
            index += 1
        elif text.startswith("//", index):
            end = text.find("\n", index)
            end = size if end < 0 else end
            out[index:end] = " " * (end - index)
            index = end
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            end = size if end < 0 else end + 2
            out[index:end] = [c if c == "\n" else " " for c in text[index:end]]
            index = end
        else:
            index += 1
    return "".join(out)


def parse_rust_pymodules(text: str | bytes) -> list[RustPyModule]:
    """``#[pymodule]`` / ``#[pymodule(gil_used = false)]`` / ``#[pyo3::pymodule(...)]`` attributes."""
    try:
        source = _strip_rust_comments(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
    except Exception:
        return []
    found = []
    line_of = _Lines(source)
    item: re.Match[str] | None = None
    exhausted = False
    for match in _RUST_ATTRIBUTE.finditer(source):
        # The first item after each attribute; attributes come in order, so one search serves all
        # the attributes before that item (and none after the last item searches again).
        if not exhausted and (item is None or item.start() < match.end()):
            item = _RUST_ITEM.search(source, match.end())
            exhausted = item is None
        attribute_line = line_of(match.start())
        args = match.group(1) or ""
        found.append(
            RustPyModule(
                attribute_line,
                line_of(item.start()) if item else 0,
                item.group(2) if item else None,
                item.group(1) if item else None,
                bool(_GIL_USED_FALSE.search(args)),
                " ".join(match.group(0).split()),
            )
        )
    return found


_GIL_USED_FALSE_CALL = re.compile(r"\.gil_used\s*\(\s*false\s*\)")


def declares_gil_not_used_by_call(text: str | bytes) -> bool:
    """A `module.gil_used(false)` call outside comments (PyO3's declaration for modules built by hand)."""
    try:
        source = _strip_rust_comments(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
    except Exception:
        return False
    return bool(_GIL_USED_FALSE_CALL.search(source))
