"""Question 8b: build-file readers; none may raise on bad input."""

from __future__ import annotations

import pytest

from ftaudit.cmodel.buildfiles import (
    parse_rust_pymodules,
    read_cargo,
    read_cmake,
    read_meson,
    read_pyproject,
    read_setup_py,
)


def test_setup_py_directives_and_extensions() -> None:
    info = read_setup_py(
        "from setuptools import setup, Extension\n"
        "from Cython.Build import cythonize\n"
        "DIRECTIVES = {'freethreading_compatible': True, 'language_level': 3}\n"
        "ext = Extension('pkg.fast', ['src/fast.c', 'src/util.c'],\n"
        "                define_macros=[('Py_LIMITED_API', '0x030B0000'), ('NDEBUG', None)],\n"
        "                py_limited_api=True)\n"
        "setup(ext_modules=cythonize([ext, Extension('pkg.c', sources=['c.pyx'])],\n"
        "                            compiler_directives=DIRECTIVES))\n"
    )
    assert info.compiler_directives == {"freethreading_compatible": True, "language_level": 3}
    assert info.cythonize_lines == [7]
    fast, c = info.extensions
    assert (fast.name, fast.sources, fast.line, fast.py_limited_api) == (
        "pkg.fast",
        ["src/fast.c", "src/util.c"],
        4,
        True,
    )
    assert fast.define_macros == [("Py_LIMITED_API", "0x030B0000"), ("NDEBUG", None)]
    assert (c.name, c.sources) == ("pkg.c", ["c.pyx"])
    assert info.errors == []


def test_setup_py_inline_dict_and_errors() -> None:
    inline = read_setup_py("cythonize('*.pyx', compiler_directives={'freethreading_compatible': False})")
    assert inline.compiler_directives == {"freethreading_compatible": False}
    computed = read_setup_py("cythonize('*.pyx', compiler_directives=make())")
    assert computed.compiler_directives == {} and computed.errors
    broken = read_setup_py("def (:\n")
    assert broken.errors and broken.extensions == []


def test_pyproject() -> None:
    info = read_pyproject(
        '[project]\nname = "x"\nrequires-python = ">=3.10"\n'
        'classifiers = ["Programming Language :: Python :: Free Threading :: 2 - Beta"]\n'
        '[build-system]\nbuild-backend = "mesonpy"\n'
        '[tool.meson-python.args]\nsetup = ["-Dcython_args=-X freethreading_compatible=True"]\n'
        "[tool.cython.directives]\nlanguage_level = 3\n"
    )
    assert info.requires_python == ">=3.10"
    assert info.build_backend == "mesonpy"
    assert info.cython_directives == {"language_level": "3", "freethreading_compatible": "True"}
    assert info.directive_sources == {
        "language_level": "tool.cython",
        "freethreading_compatible": "tool.meson-python",
    }
    assert info.classifiers == ["Programming Language :: Python :: Free Threading :: 2 - Beta"]
    assert read_pyproject("not = [toml").errors


def test_meson() -> None:
    info = read_meson(
        "py = import('python').find_installation()\n"
        "# cython_args : ['-X', 'commented=True']\n"
        "cython_args = ['-X', 'freethreading_compatible=True', '-Xboundscheck=False']\n"
        "py.extension_module('fast',\n"
        "  'src/fast.pyx', 'src/helper.c',\n"
        "  cython_args: cython_args,\n"
        "  install: true)\n"
    )
    assert info.cython_directives == {"freethreading_compatible": "True", "boundscheck": "False"}
    assert info.directive_lines == {"freethreading_compatible": 3, "boundscheck": 3}
    (module,) = info.extension_modules
    assert (module.name, module.sources, module.line) == ("fast", ["src/fast.pyx", "src/helper.c"], 4)


def test_cmake() -> None:
    info = read_cmake(
        "find_package(nanobind CONFIG REQUIRED)\n"
        "nanobind_add_module(\n"
        "  my_ext  # the module\n"
        "  STABLE_ABI FREE_THREADED NB_DOMAIN mydomain\n"
        '  src/my_ext.cpp "src/other file.cpp")\n'
        "nanobind_add_module(plain src/plain.cpp)\n"
        "pybind11_add_module(pb MODULE src/pb.cpp)\n"
    )
    first, plain, pb = info.modules
    assert (first.kind, first.target, first.options, first.sources, first.line, first.free_threaded) == (
        "nanobind",
        "my_ext",
        ["STABLE_ABI", "FREE_THREADED", "NB_DOMAIN=mydomain"],
        ["src/my_ext.cpp", "src/other file.cpp"],
        2,
        True,
    )
    assert (plain.target, plain.free_threaded, plain.line) == ("plain", False, 6)
    assert (pb.kind, pb.options, pb.sources) == ("pybind11", ["MODULE"], ["src/pb.cpp"])


@pytest.mark.parametrize(
    ("text", "version", "features", "workspace"),
    [
        ('[dependencies]\npyo3 = "0.22"\n', "0.22", [], False),
        (
            '[dependencies]\npyo3 = { version = "0.23.3", features = ["extension-module"] }\n',
            "0.23.3",
            ["extension-module"],
            False,
        ),
        ('[dependencies.pyo3]\nversion = "^0.21"\n', "^0.21", [], False),
        ('[workspace.dependencies]\npyo3 = "0.24"\n', "0.24", [], False),
        ("[dependencies]\npyo3 = { workspace = true }\n", None, [], True),
        ('[dependencies]\nserde = "1"\n', None, [], False),
    ],
)
def test_cargo(text: str, version: str | None, features: list[str], workspace: bool) -> None:
    info = read_cargo(text)
    assert (info.pyo3_version, info.pyo3_features, info.from_workspace) == (version, features, workspace)


def test_cargo_bad_input() -> None:
    assert read_cargo("[dependencies\n").errors


def test_rust_pymodules() -> None:
    found = parse_rust_pymodules(
        "use pyo3::prelude::*;\n"
        "// #[pymodule(gil_used = false)] in a comment\n"
        "#[pymodule]\n"
        "fn plain(m: &Bound<'_, PyModule>) -> PyResult<()> { Ok(()) }\n"
        "\n"
        "#[pymodule(gil_used = false)]\n"
        '#[pyo3(name = "fast")]\n'
        "fn fast_impl(m: &Bound<'_, PyModule>) -> PyResult<()> { Ok(()) }\n"
        "/* #[pymodule] */\n"
        '#[pyo3::pymodule(name = "decl", gil_used = false)]\n'
        "mod declarative {}\n"
    )
    assert [(m.attribute_line, m.line, m.name, m.item, m.gil_used_false) for m in found] == [
        (3, 4, "plain", "fn", False),
        (6, 8, "fast_impl", "fn", True),
        (10, 11, "declarative", "mod", True),
    ]
    assert parse_rust_pymodules(b"\xff") == []


def test_setup_py_sources_through_variables_concatenation_and_loops() -> None:
    from ftaudit.cmodel.buildfiles import read_setup_py

    info = read_setup_py(
        "import os, sys, glob\n"
        "from setuptools import Extension, setup\n"
        "common = ['src/a.c']\n"
        "extra = []\n"
        "if sys.platform == 'win32':\n"
        "    extra.append('src/win.c')\n"
        "else:\n"
        "    extra += [os.path.join('src', 'posix.c')]\n"
        "exts = [Extension('pkg.core', sources=common + extra + glob.glob('src/gen/*.c'))]\n"
        "for name in ('x', 'y'):\n"
        "    exts.append(Extension('pkg.' + name, [f'src/{name}.c', 'src/shared.c']))\n"
        "exts += [Extension(f'pkg.{n}_fast', [f'fast/{n}.c']) for n in ['p']]\n"
        "setup(ext_modules=exts)\n")
    assert sorted((e.name, e.sources) for e in info.extensions) == [
        ("pkg.core", ["src/a.c", "src/win.c", "src/posix.c", "src/gen/*.c"]),
        ("pkg.p_fast", ["fast/p.c"]),
        ("pkg.x", ["src/x.c", "src/shared.c"]),
        ("pkg.y", ["src/y.c", "src/shared.c"]),
    ]


def test_setup_py_directives_changed_after_the_literal_and_unknown_values() -> None:
    from ftaudit.cmodel.buildfiles import read_setup_py

    info = read_setup_py(
        "from Cython.Build import cythonize\n"
        "directives = {'language_level': 3}\n"
        "directives['freethreading_compatible'] = True\n"
        "directives.update(binding=False, embedsignature=FLAG)\n"
        "cythonize('*.pyx', compiler_directives=directives)\n")
    assert info.compiler_directives == {"language_level": 3, "freethreading_compatible": True, "binding": False,
                                        "embedsignature": "unknown"}
    assert read_setup_py("import setupinfo\nfrom helpers.build import x\n").imports == ["setupinfo", "helpers"]


def test_setup_py_reader_never_raises_on_deep_or_cyclic_input() -> None:
    from ftaudit.cmodel.buildfiles import read_setup_py

    assert read_setup_py("x = " + "[" * 5000 + "]" * 5000 + "\n").errors  # too deep for ast: one error
    cyclic = read_setup_py("a = b\nb = a + ['s.c']\nExtension('m', a)\n")
    assert [e.sources for e in cyclic.extensions] == [["s.c"]]
