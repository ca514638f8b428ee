"""File discovery: types, .gitignore, default and configured excludes, symlinks, --force-exclude."""

from __future__ import annotations

import os
from pathlib import Path

from support import run, write_tree

from ftaudit.discover import discover

TREE = {
    "ext/mod.c": "", "ext/mod.h": "", "ext/wrap.cpp": "", "ext/fast.pyx": "", "ext/fast.pxd": "",
    "pkg/a.py": "", "pkg/a.pyi": "", "setup.py": "", "pyproject.toml": "", "meson.build": "",
    "CMakeLists.txt": "", "rust/Cargo.toml": "", "rust/src/lib.rs": "", "README.md": "", "notes.txt": "",
    "build/gen.c": "", "node_modules/x/y.c": "", ".git/hooks/h.py": "", ".tox/t.py": "",
    "env/pyvenv.cfg": "", "env/lib/site.py": "", "generated/out.c": "", "ignored_by_git.c": "",
    "sub/.gitignore": "local.c\n", "sub/local.c": "", "sub/kept.c": "",
}


def files(root: Path, *args: str) -> list[str]:
    result = run(["scan", *args, "--show-files"], root)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_walk_finds_the_file_types_and_skips_the_usual_folders(tmp_path: Path) -> None:
    write_tree(tmp_path, {**TREE, ".gitignore": "ignored_by_git.c\n"})
    (tmp_path / ".git").mkdir(exist_ok=True)
    assert files(tmp_path, ".", "--isolated") == [
        "CMakeLists.txt", "ext/fast.pxd", "ext/fast.pyx", "ext/mod.c", "ext/mod.h", "ext/wrap.cpp",
        "generated/out.c", "meson.build", "pkg/a.py", "pyproject.toml", "rust/Cargo.toml",
        "rust/src/lib.rs", "setup.py", "sub/kept.c",
    ]


def test_config_exclude_and_no_gitignore(tmp_path: Path) -> None:
    write_tree(tmp_path, {**TREE, ".gitignore": "ignored_by_git.c\n",
                          "ftaudit.toml": "extend-exclude = ['generated/', '*.pyi']\nrespect-gitignore = false\n"})
    found = files(tmp_path, ".")
    assert "generated/out.c" not in found and "pkg/a.pyi" not in found
    assert "ignored_by_git.c" in found and "sub/local.c" in found


def test_explicit_paths_are_scanned_unless_force_exclude(tmp_path: Path) -> None:
    write_tree(tmp_path, {**TREE, "ftaudit.toml": "extend-exclude = ['generated/']\n"})
    assert files(tmp_path, "generated/out.c", "build/gen.c") == ["build/gen.c", "generated/out.c"]
    assert files(tmp_path, "generated/out.c", "build/gen.c", "ext/mod.c", "--force-exclude") == ["ext/mod.c"]


def test_symlinks_are_resolved_and_scanned_once(tmp_path: Path) -> None:
    write_tree(tmp_path, {"real/mod.c": "int x;\n"})
    os.symlink(tmp_path / "real", tmp_path / "alias")
    os.symlink(tmp_path / "real" / "mod.c", tmp_path / "link.c")
    os.symlink(tmp_path, tmp_path / "real" / "loop")  # a cycle must not hang the walk
    found = discover([tmp_path], root=tmp_path, exclude=[], respect_gitignore=False, force_exclude=False,
                     cwd=tmp_path)
    assert [f.display for f in found.files] == ["real/mod.c"]


def test_missing_path_is_reported_not_fatal(tmp_path: Path) -> None:
    found = discover([Path("nope.c")], root=tmp_path, exclude=[], respect_gitignore=False,
                     force_exclude=False, cwd=tmp_path)
    assert found.files == [] and found.skipped == [("nope.c", "no such file or directory")]


def test_vendored_libraries_are_excluded_by_default_and_can_be_brought_back(tmp_path: Path) -> None:
    write_tree(tmp_path, {"src/mod.c": "int x;\n", "vendor/libuv/src/uv.c": "int y;\n",
                          "deps/c-ares/ares.c": "int z;\n", "third_party/zlib/inflate.c": "int w;\n"})
    shown = run(["scan", ".", "--isolated", "--show-files"], tmp_path).stdout.split()
    assert shown == ["src/mod.c"]
    everything = run(["scan", ".", "--isolated", "--show-files", "--exclude", ".git"], tmp_path).stdout.split()
    assert everything == ["deps/c-ares/ares.c", "src/mod.c", "third_party/zlib/inflate.c", "vendor/libuv/src/uv.c"]


def test_a_file_named_outside_the_working_folder_is_scanned_but_not_through_a_link(tmp_path: Path) -> None:
    write_tree(tmp_path, {"here/keep.txt": "", "there/mod.c": "int x;\n", "elsewhere/secret.c": "int s;\n"})
    os.symlink(tmp_path / "elsewhere", tmp_path / "there" / "linked")
    here = tmp_path / "here"
    found = discover([tmp_path / "there" / "mod.c", tmp_path / "there" / "linked" / "secret.c"], root=here,
                     exclude=[], respect_gitignore=False, force_exclude=False, cwd=here)
    assert [f.path for f in found.files] == [tmp_path / "there" / "mod.c"]
    assert [d.message for d in found.diagnostics] == [
        f"a symlink to {tmp_path / 'elsewhere' / 'secret.c'}, outside the scanned tree; not followed"]
