"""ftaudit: static audit of CPython extensions and Python code for free-threaded and modern CPython."""

__version__ = "0.1.0"
HOMEPAGE = "https://github.com/ftaudit/ftaudit"
