"""Process-wide tree-sitter languages and parsers, and the choice of C or C++ for a file.

Languages, parsers and the collection query are built once per process (the query compile
costs milliseconds) and shared by every unit.
"""

from __future__ import annotations

import re
from functools import cache

import tree_sitter
import tree_sitter_c
import tree_sitter_cpp

CPP_SUFFIXES = (".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".tpp", ".inl")
C_SUFFIXES = (".c", ".h")
# Evidence that a .h header is C++ (checked on the code mask, so comments do not count).
# Bounded repetitions: `^\s*` and an open `[^;(]*` let one search try every line start against the
# rest of the file (12 s on apsw's 600 KB faultinject.h).
_CPP_EVIDENCE = re.compile(
    rb"^[ \t]*(?:namespace\s+\w*\s*\{|template\s*<|class\s+\w+[^;(]{0,256}\{|using\s+namespace\b)"
    rb"|\bstd::|\bextern\s+\"C\+\+\"|\bconstexpr\b|\bnullptr\b",
    re.M,
)


def choose_language(path: str, mask: bytes | None = None, source: bytes | None = None) -> str:
    """ "c" or "cpp" from the path suffix; a ``.h`` whose code evidently is C++ becomes "cpp"."""
    lower = path.lower()
    if lower.endswith(CPP_SUFFIXES):
        return "cpp"
    if lower.endswith(".h"):
        # extern "C++" is in a string; look at the raw source for it, at the mask for the rest.
        text = mask if mask is not None else source or b""
        if _CPP_EVIDENCE.search(text) or (source is not None and b'extern "C++"' in source):
            return "cpp"
    return "c"


@cache
def language(name: str) -> tree_sitter.Language:
    module = tree_sitter_cpp if name == "cpp" else tree_sitter_c
    return tree_sitter.Language(module.language())


@cache
def parser(name: str) -> tree_sitter.Parser:
    return tree_sitter.Parser(language(name))
