"""The context of a focused scan: which files name the asked ones (``ftaudit.neighbours``)."""

from __future__ import annotations

from pathlib import Path

from support import write_tree

from ftaudit.discover import FoundFile
from ftaudit.neighbours import NeighbourPool, search_names
from ftaudit.source import Language


def _pool(root: Path, files: dict[str, str], **kw: int) -> NeighbourPool:
    write_tree(root, files)
    found = [FoundFile(root / name, name, Language.C, (root / name).stat().st_size) for name in sorted(files)]
    return NeighbourPool(found, **kw)


def _names(files: list[FoundFile]) -> list[str]:
    return [f.display for f in files]


def test_whole_words_and_file_names_only(tmp_path: Path) -> None:
    pool = _pool(tmp_path, {
        "calls.c": "void run(void) { cache_get(1); }\n",
        "longer.c": "void run2(void) { cache_getter(1); }\n",  # a longer name is not a mention
        "includes.c": '#include "cache.c"\n',
        "cpp.c": '#include "cache.cpp"\n',  # another file that only starts the same
        "setup.py": "Extension('m', ['src/cache.c'])\n",
    })
    assert search_names("src/cache.c", ["cache_get", "Registry::lookup"]) == {"cache_get", "lookup", "cache.c"}
    found = pool.naming(search_names("src/cache.c", ["cache_get"]))
    assert _names(found) == ["calls.c", "includes.c", "setup.py"]
    assert pool.naming({"cache_get"}) == []  # each file is handed out once
    assert not pool.truncated


def test_build_files_and_linked_sources(tmp_path: Path) -> None:
    pool = _pool(tmp_path, {
        "setup.py": "...\n", "src/module.c": "int m;\n", "src/helper.c": "int h;\n", "other/x.c": "int x;\n",
    })
    assert _names(pool.build_files()) == ["setup.py"]
    groups = [("src/module.c", "src/h*.c"), ("other/x.c",)]
    assert _names(pool.linked(groups, {"src/helper.c"})) == ["src/helper.c", "src/module.c"]
    assert pool.linked(groups, {"elsewhere.c"}) == []


def test_budgets_leave_files_out_and_say_so(tmp_path: Path) -> None:
    pool = _pool(tmp_path, {"a.c": "f();\n" * 10, "b.c": "f();\n" * 10}, budget=50)
    assert _names(pool.naming({"f"})) == ["a.c"]  # b.c would pass the 50-byte budget
    assert pool.truncated
    big = _pool(tmp_path / "big", {"huge.c": "f();\n" * 100, "small.c": "f();\n"}, max_file_bytes=100)
    assert big.truncated  # a file too large to search may name anything
    assert _names(big.naming({"f"})) == ["small.c"]
