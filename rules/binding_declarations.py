"""FT104/FT106/FT107: GIL declarations of modules written with Cython, nanobind and PyO3.

Each of these tools declares GIL independence in a different place, often in a build file beside
the sources, so the rules are project-level: every file contributes a small summary and the
project pass decides, file by file, with the build files of the folders above it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ftaudit.context import FileContext, ProjectContext
from ftaudit.facts.declarations import PYO3_FREE_THREADED_SINCE, PYO3_GIL_NOT_USED_DEFAULT_SINCE
from ftaudit.findings import Applicability, Edit, Fix, Position, Severity
from ftaudit.readiness import Readiness
from ftaudit.rule import Example, Rule
from ftaudit.source import Language
from ftaudit.summaries import summary_type

HOWTO = "https://docs.python.org/3/howto/free-threading-extensions.html"


def folder_of(path: str) -> PurePosixPath:
    return PurePosixPath(path).parent


def governs(build_dir: PurePosixPath, path: str) -> bool:
    """A build file governs the files in its folder and below."""
    folder = folder_of(path)
    return folder == build_dir or build_dir in folder.parents or str(build_dir) == "."


def _truthy(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def _line_span(ctx: ProjectContext | None, line: int, width: int) -> tuple[Position, Position]:
    return Position(line, 1), Position(line, max(2, width + 1))


# -- FT104's summaries: what each file says about `freethreading_compatible` ------------------------
@summary_type
@dataclass(frozen=True)
class PyxModule:
    """A `.pyx` module: its own header's directive (None: not set), the width of its first line, and the
    files it pulls in with `include`."""

    declared: bool | None
    width: int
    includes: tuple[str, ...]


@summary_type
@dataclass(frozen=True)
class PxiIncludes:
    """A `.pxi` fragment's own `include`s (what it includes is part of the including module too)."""

    includes: tuple[str, ...]


@summary_type
@dataclass(frozen=True)
class CythonBuildDirective:
    """A build file's `freethreading_compatible` for the `.pyx` files in its folder and below, and the
    modules a `setup.py` imports (helpers that call `cythonize` for it)."""

    declared: bool | None
    imports: tuple[str, ...] = ()


@summary_type
@dataclass(frozen=True)
class CythonHelperDirective:
    """A Python build helper that calls `cythonize` with the directive (lxml's setupinfo.py)."""

    module: str
    declared: bool | None


def _includes(summary: object) -> Sequence[str]:
    return summary.includes if isinstance(summary, (PyxModule, PxiIncludes)) else ()


class CythonMissingFreethreadingDirective(Rule):
    code = "FT104"
    slug = "cython-missing-freethreading-directive"
    summary = "Cython module does not declare `freethreading_compatible=True`"
    severity = Severity.WARNING
    languages = frozenset({Language.CYTHON, Language.PYTHON, Language.TOML, Language.MESON})
    project_level = True
    readiness = Readiness.NEEDS_DECLARATION
    fixable = True
    what = (
        "Finds `.pyx` modules with no `freethreading_compatible=True` in their `# cython:` header comment "
        "when no build file of the project sets it for them either: `compiler_directives` passed to "
        "`cythonize()` in `setup.py`, `-X freethreading_compatible=True` in `meson.build` `cython_args`, or "
        "Cython options in `pyproject.toml`. A build file applies to the `.pyx` files in its folder and below. "
        "An explicit `freethreading_compatible=False` is a deliberate choice and is not reported."
    )
    why = (
        "Cython 3.1 and newer build modules that work on the free-threaded CPython, but they only declare "
        "GIL independence when asked to; without the directive, importing the module re-enables the GIL for "
        "the whole process."
    )
    instead = (
        "Once the module is thread-safe, add `# cython: freethreading_compatible=True` at the top of the "
        "`.pyx` (Cython 3.1+), or set it for every module in the build: "
        "`cythonize(..., compiler_directives={\"freethreading_compatible\": True})`, or "
        "`cython_args: ['-X', 'freethreading_compatible=True']` in meson. Cython's `cython.critical_section` "
        "and `cython.pymutex` help make shared state safe."
    )
    suggestion = "Add `# cython: freethreading_compatible=True` (Cython 3.1+) once the module is thread-safe."
    fix_safety = "Unsafe: the directive only declares thread-safety; it does not create it."
    references = ("https://cython.readthedocs.io/en/latest/src/userguide/freethreading.html", HOWTO)
    tags = ("free-threading", "module-declaration", "cython")
    bad = (
        Example("# cython: language_level=3  <- FT104\n\ndef add(int a, int b):\n    return a + b\n",
                path="fastmath.pyx",
                files={"setup.py": "from setuptools import setup\nfrom Cython.Build import cythonize\n"
                                   "setup(ext_modules=cythonize('fastmath.pyx'))\n"},
                fixed="""
                # cython: freethreading_compatible=True
                # cython: language_level=3  <- FT104

                def add(int a, int b):
                    return a + b
                """),
    )
    good = (
        Example("# cython: language_level=3, freethreading_compatible=True\n\ninclude \"helpers.pyx\"\n\n"
                "def add(int a, int b):\n    return a + b\n", path="fastmath.pyx",
                files={"helpers.pyx": "cdef int twice(int x):\n    return 2 * x\n"},
                title="An included .pyx is part of the module that includes it"),
        Example("def add(int a, int b):\n    return a + b\n", path="pkg/fastmath.pyx",
                files={"setup.py": "from setuptools import setup\nfrom Cython.Build import cythonize\n"
                                   "setup(ext_modules=cythonize('pkg/*.pyx', compiler_directives="
                                   "{'freethreading_compatible': True}))\n"},
                title="Set for the whole project in setup.py"),
        Example("def add(int a, int b):\n    return a + b\n", path="fastmath.pyx",
                files={"meson.build": "py.extension_module('fastmath', 'fastmath.pyx',\n"
                                      "  cython_args: ['-X', 'freethreading_compatible=True'])\n"},
                title="Set in meson.build"),
    )

    def summarize(self, ctx: FileContext) -> PyxModule | PxiIncludes | CythonBuildDirective \
            | CythonHelperDirective | None:
        # Build-file readers are imported when a file needs them: a pre-commit run on C files never does.
        from ftaudit.cmodel.buildfiles import MesonInfo, SetupInfo, read_pyproject
        from ftaudit.cmodel.cython import parse_cython

        source = ctx.source
        name = source.path.name
        if source.language is Language.CYTHON:
            if source.path.suffix == ".pxd":
                return None  # declarations only, never a module
            if source.path.suffix == ".pxi":
                folder = PurePosixPath(source.display).parent
                includes = tuple(sorted({(folder / name).as_posix() for name in parse_cython(source.text).includes}))
                return PxiIncludes(includes) if includes else None
            module = parse_cython(source.text)
            first = source.line_text(1)
            ctx.keep_lines(1)
            folder = PurePosixPath(source.display).parent
            includes = tuple(sorted({(folder / name).as_posix() for name in module.includes}))
            return PyxModule(module.freethreading_compatible, len(first), includes)
        if name == "setup.py":
            setup = ctx.build_model
            assert isinstance(setup, SetupInfo)
            return CythonBuildDirective(_truthy(setup.compiler_directives.get("freethreading_compatible")),
                                        tuple(sorted(set(setup.imports))))
        if source.language is Language.PYTHON and b"cythonize" in source.data:
            # A build helper that setup.py imports (lxml's setupinfo.py calls cythonize for it).
            helper = ctx.build_model
            assert isinstance(helper, SetupInfo)
            value = helper.compiler_directives.get("freethreading_compatible")
            return CythonHelperDirective(source.path.stem, _truthy(value)) if value is not None else None
        if name == "pyproject.toml":
            value = read_pyproject(source.text).cython_directives.get("freethreading_compatible")
        elif source.language is Language.MESON and isinstance(meson := ctx.build_model, MesonInfo):
            value = meson.cython_directives.get("freethreading_compatible")
        else:
            return None
        return CythonBuildDirective(_truthy(value))

    def check_project(self, project: ProjectContext) -> None:
        builds = [(folder_of(path), s.declared) for path, s in project.summaries.items()
                  if isinstance(s, CythonBuildDirective)]
        # Helpers count where a setup.py in the same folder imports them.
        importers = {(folder_of(path), module) for path, s in project.summaries.items()
                     if isinstance(s, CythonBuildDirective) for module in s.imports}
        builds += [(folder_of(path), s.declared) for path, s in project.summaries.items()
                   if isinstance(s, CythonHelperDirective) and (folder_of(path), s.module) in importers]
        # A .pyx pulled into another with `include "x.pyx"` (uvloop does this) is part of that module.
        included = {target for s in project.summaries.values() for target in _includes(s)}
        for path, summary in sorted(project.summaries.items()):
            if not isinstance(summary, PyxModule) or summary.declared is not None or path in included:
                continue
            if any(declared is not None and governs(folder, path) for folder, declared in builds):
                continue  # a build file decides for it (True: declared; False: deliberately not)
            start = Position(1, 1)
            project.report(
                path, start, Position(1, max(2, summary.width + 1)),
                f"Cython module `{PurePosixPath(path).name}` does not declare freethreading_compatible=True: "
                f"importing it re-enables the GIL on free-threaded {project.target.label}",
                fix=Fix(Applicability.UNSAFE, "Declare the module free-threading compatible",
                        (Edit("# cython: freethreading_compatible=True\n", start, start),)),
                subject=PurePosixPath(path).stem,
            )


# -- FT106's summaries -------------------------------------------------------------------------------
@summary_type
@dataclass(frozen=True)
class NanobindTarget:
    """A `nanobind_add_module(...)` of a CMakeLists.txt."""

    target: str
    free_threaded: bool
    sources: tuple[str, ...]
    line: int
    width: int  # of its line


@summary_type
@dataclass(frozen=True)
class NanobindTargets:
    """A CMakeLists.txt's nanobind modules."""

    modules: tuple[NanobindTarget, ...]


@summary_type
@dataclass(frozen=True)
class NanobindSource:
    """A source file that defines a nanobind module (`NB_MODULE`)."""


NB_SOURCE = "#include <nanobind/nanobind.h>\nNB_MODULE(fastmod, m) {}\n"


class NanobindMissingFreeThreaded(Rule):
    code = "FT106"
    readiness = Readiness.NEEDS_DECLARATION
    slug = "nanobind-missing-free-threaded"
    summary = "nanobind module built without `FREE_THREADED`"
    severity = Severity.WARNING
    languages = frozenset({Language.CMAKE, Language.CPP, Language.C})
    project_level = True
    what = (
        "Finds `nanobind_add_module(...)` calls in `CMakeLists.txt` without the `FREE_THREADED` option for "
        "targets built from sources that define an `NB_MODULE`. When the sources are given through CMake "
        "variables, any `NB_MODULE` below the CMake file's folder counts."
    )
    why = (
        "nanobind only declares `Py_MOD_GIL_NOT_USED` (and builds its free-threaded support) when the module "
        "is added with `FREE_THREADED`; otherwise importing it re-enables the GIL."
    )
    instead = "Once the bindings are thread-safe, add `FREE_THREADED` to `nanobind_add_module()` (nanobind 2.2+)."
    suggestion = "Add `FREE_THREADED` to `nanobind_add_module()` (nanobind 2.2+)."
    references = ("https://nanobind.readthedocs.io/en/latest/free_threaded.html", HOWTO)
    tags = ("free-threading", "module-declaration", "nanobind")
    bad = (
        Example("cmake_minimum_required(VERSION 3.15)\nfind_package(nanobind CONFIG REQUIRED)\n"
                "nanobind_add_module(fastmod NB_STATIC src/fastmod.cpp)  # <- FT106\n",
                path="CMakeLists.txt", files={"src/fastmod.cpp": NB_SOURCE}),
    )
    good = (
        Example("find_package(nanobind CONFIG REQUIRED)\n"
                "nanobind_add_module(fastmod FREE_THREADED NB_STATIC src/fastmod.cpp)\n",
                path="CMakeLists.txt", files={"src/fastmod.cpp": NB_SOURCE}),
    )

    def summarize(self, ctx: FileContext) -> NanobindTargets | NanobindSource | None:
        if ctx.source.language is Language.CMAKE:
            from ftaudit.cmodel.buildfiles import CMakeInfo

            cmake = ctx.build_model
            assert isinstance(cmake, CMakeInfo)
            modules = tuple(NanobindTarget(m.target, m.free_threaded, tuple(m.sources), m.line,
                                           len(ctx.source.line_text(m.line)))
                            for m in cmake.modules if m.kind == "nanobind")
            ctx.keep_lines(*(m.line for m in modules))
            return NanobindTargets(modules) if modules else None
        if b"NB_MODULE" not in ctx.source.data or ctx.c_unit is None:
            return None
        if any(m.kind == "nanobind" for m in ctx.c_unit.binding_modules):
            return NanobindSource()
        return None

    def check_project(self, project: ProjectContext) -> None:
        nb_sources = {path for path, s in project.summaries.items() if isinstance(s, NanobindSource)}
        for path, summary in sorted(project.summaries.items()):
            if not isinstance(summary, NanobindTargets):
                continue
            folder = folder_of(path)
            for module in summary.modules:
                if module.free_threaded:
                    continue
                if not self._builds_nb_module(folder, module.sources, nb_sources):
                    continue
                project.report(path, *_line_span(project, module.line, module.width),
                               f"nanobind module `{module.target}` is added without FREE_THREADED: importing "
                               f"it re-enables the GIL on free-threaded {project.target.label}",
                               subject=module.target)

    @staticmethod
    def _builds_nb_module(folder: PurePosixPath, sources: Sequence[str], nb_sources: set[str]) -> bool:
        literal = [s for s in sources if "$" not in s]
        if literal and len(literal) == len(sources):
            wanted = {(folder / s).as_posix() for s in literal}
            return bool(wanted & nb_sources) or any(p.endswith(tuple("/" + s for s in literal)) for p in nb_sources)
        return any(governs(folder, p) for p in nb_sources)


_VERSION = re.compile(r"(\d+)\.(\d+)")


# -- FT107's summaries -------------------------------------------------------------------------------
@summary_type
@dataclass(frozen=True)
class CargoPyo3:
    """A Cargo.toml's PyO3 version (None: not readable), and whether it comes from the workspace."""

    version: tuple[int, int] | None
    workspace: bool


@summary_type
@dataclass(frozen=True)
class RustModule:
    """A `#[pymodule]` without `gil_used = false`."""

    line: int
    name: str | None
    width: int  # of the attribute's line


@summary_type
@dataclass(frozen=True)
class RustModules:
    """A Rust file's undeclared `#[pymodule]`s."""

    modules: tuple[RustModule, ...]


def pyo3_version(requirement: str | None) -> tuple[int, int] | None:
    """The lowest PyO3 minor version a Cargo requirement admits ("0.23", "^0.22.2", ">=0.21, <0.24")."""
    if not requirement:
        return None
    match = _VERSION.search(requirement)
    return (int(match.group(1)), int(match.group(2))) if match else None


class Pyo3GilUsed(Rule):
    code = "FT107"
    readiness = Readiness.NEEDS_DECLARATION
    slug = "pyo3-gil-used"
    summary = "PyO3 module does not declare `gil_used = false`"
    severity = Severity.WARNING
    languages = frozenset({Language.RUST, Language.TOML})
    project_level = True
    what = (
        "Finds `#[pymodule]` (or `#[pyo3::pymodule]`) items without `gil_used = false` in crates whose PyO3 "
        "version, read from the nearest `Cargo.toml`, still defaults to requiring the GIL (before 0.28). "
        "A `.gil_used(false)` call in the same file counts as a declaration. With PyO3 0.28 or newer the "
        "default is `gil_used = false` and nothing is reported; when the version cannot be read (a "
        "workspace dependency, no `Cargo.toml`), the finding is a note."
    )
    why = "A PyO3 module that keeps the default `gil_used = true` re-enables the GIL when it is imported."
    instead = (
        "Once the module is thread-safe, write `#[pymodule(gil_used = false)]` (PyO3 0.23+), or upgrade to "
        "PyO3 0.28+, where it is the default. PyO3 before 0.23 cannot build for the free-threaded CPython."
    )
    suggestion = "Write `#[pymodule(gil_used = false)]` (PyO3 0.23+), or upgrade to PyO3 0.28+."
    references = ("https://pyo3.rs/latest/free-threading.html", "https://github.com/PyO3/pyo3/pull/5564")
    tags = ("free-threading", "module-declaration", "pyo3")
    bad = (
        Example("use pyo3::prelude::*;\n\n#[pymodule]  // <- FT107\nfn fastmod(m: &Bound<'_, PyModule>) -> "
                "PyResult<()> {\n    // m.gil_used(false)?;  once the caches are thread-safe\n    Ok(())\n}\n",
                files={"Cargo.toml": "[package]\nname = 'fastmod'\n[dependencies]\npyo3 = { version = \"0.23\" }\n"}),
    )
    good = (
        Example("use pyo3::prelude::*;\n\n#[pymodule(gil_used = false)]\nfn fastmod(m: &Bound<'_, PyModule>) -> "
                "PyResult<()> {\n    Ok(())\n}\n",
                files={"Cargo.toml": "[package]\nname = 'fastmod'\n[dependencies]\npyo3 = \"0.23\"\n"}),
        Example("use pyo3::prelude::*;\n\n#[pymodule]\nmod fastmod {}\n",
                files={"Cargo.toml": "[package]\nname = 'fastmod'\n[dependencies]\npyo3 = \"0.28.2\"\n"},
                title="PyO3 0.28 declares it by default"),
        Example("use pyo3::prelude::*;\n\n#[pymodule]\nfn fastmod(m: &Bound<'_, PyModule>) -> PyResult<()> {\n"
                "    m.gil_used(false)?;\n    Ok(())\n}\n",
                files={"Cargo.toml": "[package]\nname = 'fastmod'\n[dependencies]\npyo3 = \"0.24\"\n"},
                title="Declared with a call on the module"),
    )

    def summarize(self, ctx: FileContext) -> CargoPyo3 | RustModules | None:
        from ftaudit.cmodel.buildfiles import declares_gil_not_used_by_call, parse_rust_pymodules, read_cargo

        source = ctx.source
        if source.path.name == "Cargo.toml":
            info = read_cargo(source.text)
            return CargoPyo3(pyo3_version(info.pyo3_version), info.from_workspace)
        if source.language is not Language.RUST or b"pymodule" not in source.data:
            return None
        declared_by_call = declares_gil_not_used_by_call(source.text)
        modules = tuple(RustModule(m.attribute_line, m.name, len(source.line_text(m.attribute_line)))
                        for m in parse_rust_pymodules(source.text) if not m.gil_used_false)
        if declared_by_call or not modules:
            return None
        ctx.keep_lines(*(m.line for m in modules))
        return RustModules(modules)

    def check_project(self, project: ProjectContext) -> None:
        cargos = {folder_of(p): s for p, s in project.summaries.items() if isinstance(s, CargoPyo3)}
        for path, summary in sorted(project.summaries.items()):
            if not isinstance(summary, RustModules):
                continue
            cargo = self._nearest(cargos, folder_of(path))
            version = cargo.version if cargo is not None else None
            if version is not None and version >= PYO3_GIL_NOT_USED_DEFAULT_SINCE:
                continue
            for module in summary.modules:
                name = module.name or "module"
                if version is None:
                    severity, detail = Severity.NOTE, "PyO3's version could not be read from Cargo.toml"
                elif version < PYO3_FREE_THREADED_SINCE:
                    severity, detail = None, (f"PyO3 {version[0]}.{version[1]} predates free-threaded support "
                                              "(0.23)")
                else:
                    severity, detail = None, f"PyO3 {version[0]}.{version[1]} still defaults to gil_used = true"
                project.report(path, *_line_span(project, module.line, module.width),
                               f"PyO3 module `{name}` does not declare gil_used = false ({detail}): importing it "
                               f"re-enables the GIL on free-threaded {project.target.label}", severity=severity,
                               subject=name)

    @staticmethod
    def _nearest(cargos: dict[PurePosixPath, CargoPyo3], folder: PurePosixPath) -> CargoPyo3 | None:
        for candidate in (folder, *folder.parents):
            if candidate in cargos:
                return cargos[candidate]
        return None
