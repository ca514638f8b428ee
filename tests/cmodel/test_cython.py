"""Question 8a: Cython header directives and functions, read at text level."""

from __future__ import annotations

from ftaudit.cmodel.cython import parse_cython


def test_header_directives_only_before_code() -> None:
    module = parse_cython(
        "#!/usr/bin/env python\n"
        "# cython: language_level=3, boundscheck=False\n"
        "#cython: freethreading_compatible = True\n"
        "\n"
        "# a comment\n"
        "import cython\n"
        "# cython: wraparound=False\n"
        "def f(x):\n"
        "    return x\n"
        "cdef int g(int y) nogil:\n"
        "    return y\n"
        "cpdef double h(double z):\n"
        "    return z\n"
        "cdef class Box:\n"
        "    cdef public int size\n"
        "    def method(self):\n"
        "        pass\n"
        "cdef extern from 'x.h':\n"
        "    int external(int)\n"
        "async def coro():\n"
        "    pass\n"
    )
    assert module.directives == {
        "language_level": "3",
        "boundscheck": "False",
        "freethreading_compatible": "True",
    }
    assert module.directive_lines == {"language_level": 2, "boundscheck": 2, "freethreading_compatible": 3}
    assert module.freethreading_compatible is True
    assert [(f.kind, f.name, f.line) for f in module.functions] == [
        ("def", "f", 8),
        ("cdef", "g", 10),
        ("cpdef", "h", 12),
        ("def", "method", 16),
        ("def", "coro", 20),
    ]
    assert module.errors == []


def test_docstring_ends_header_and_bad_input() -> None:
    module = parse_cython('"""Doc."""\n# cython: freethreading_compatible=True\n')
    assert module.directives == {} and module.freethreading_compatible is None
    assert parse_cython(b"\xff\xfe# cython: a=[1, 2], b=c\n").directives == {}
    assert parse_cython("# cython: a=[1, 2], b=c\n").directives == {"a": "[1, 2]", "b": "c"}
    assert parse_cython("").functions == []
