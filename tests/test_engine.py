"""The pipeline: bad input never crashes, --jobs parity, project-level rules, plugins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import run, write_tree

from ftaudit.cache import default_dir, user_cache_root
from ftaudit.config import Settings
from ftaudit.engine import scan
from ftaudit.registry import load_registry
from ftaudit.target import Target


def test_bad_input_gives_one_diagnostic_each_and_the_scan_goes_on(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "bin.c": b"\x7fELF\x00\x00\x01",
        "latin.c": b"/* caf\xe9 */ int x;\n",
        "broken.py": "def f(:\n    danger()\n",
        "huge.py": "danger()\n" + "#" * 3000,
        "good.py": "danger()\n",
        "latin1.py": b"# -*- coding: latin-1 -*-\ns = 'caf\xe9'; danger()\n",
    })
    result = run(["scan", ".", "--isolated", "--select", "XMP201", "--output-format", "concise", "-q",
                  "--jobs", "1"], tmp_path, env={"FTAUDIT_OUTPUT_FORMAT": ""})
    assert result.exit_code == 1
    with_config = tmp_path / "ftaudit.toml"
    with_config.write_text("max-file-size-kb = 2\nselect = ['XMP201']\n")
    result = run(["scan", ".", "--output-format", "concise", "-q"], tmp_path)
    stderr = sorted(result.stderr.splitlines())
    assert stderr == [
        "ftaudit: warning: bin.c: binary: looks binary (NUL bytes); skipped",
        "ftaudit: warning: broken.py: syntax: cannot be parsed by Python 3.11 at line 1: invalid syntax "
        "(it may use newer syntax); Python rules skipped for this file".replace("3.11", _py()),
        "ftaudit: warning: huge.py: too-large: 3 KiB is over the 2 KiB limit (max-file-size-kb); skipped",
        "ftaudit: warning: latin.c: encoding: not valid utf-8 (byte offset 6); undecodable bytes were replaced, "
        "columns may be off",
    ]
    # latin1.py declares its encoding (PEP 263): no diagnostic, and its finding is reported.
    assert result.stdout.splitlines() == ["good.py:1:1: XMP201 danger() called",
                                          "latin1.py:2:13: XMP201 danger() called"]
    assert result.exit_code == 1


def _py() -> str:
    import sys

    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path, {"a.py": "danger()\n", "b.py": "danger()\n"})
    original = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "a.py":
            raise PermissionError(13, "Permission denied")
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = scan([tmp_path], Settings(root=tmp_path, select=["XMP201"]), jobs=1)
    assert [d.render() for d in result.diagnostics] == [
        f"{_rel(tmp_path / 'a.py')}: unreadable: cannot read: Permission denied; skipped"]
    assert [f.path for f in result.findings] == [_rel(tmp_path / "b.py")]


def _rel(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def test_jobs_parity(tmp_path: Path) -> None:
    files = {}
    for i in range(40):
        files[f"pkg{i % 5}/m{i}.py"] = ("danger()\n" * (i % 3 + 1)) + "x = 1  # note-me\n" + "# pad\n" * 2000
        files[f"pkg{i % 5}/s{i}.py"] = "safe()  # noqa: XMP201\n" + "danger()\n" * (i % 2)
    write_tree(tmp_path, files)
    outputs = []
    for jobs in ("1", "2"):
        result = run(["scan", ".", "--isolated", "--select", "XMP,FT001", "--output-format", "json",
                      "--jobs", jobs], tmp_path)
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    dangers = sum(i % 3 + 1 for i in range(40)) + 20  # m-files, then the odd s-files
    notes, unused = 40, 40  # every noqa sits on a safe() line
    assert len(json.loads(outputs[0])) == dangers + notes + unused


def test_project_level_rule_sees_its_neighbours_and_reports_only_on_focus(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "ext/module.c": "#include <Python.h>\nPyMODINIT_FUNC PyInit_m(void) { return 0; }\n",
        "ext/helper.c": "/* Helpers split out of module.c. */\nvoid g(void) { forbidden_write(2); }\n",
        "ext/other.c": "void h(void) { forbidden_write(3); }\n",
        "ext/broken.c": "void k(void) { forbidden_write(4); }\n",
        "ftaudit.toml": "select = ['XMP401']\n",
    })
    (tmp_path / "ext/broken.c").write_bytes(b"\0\1binary")
    whole = run(["scan", ".", "--output-format", "concise", "-q"], tmp_path)
    assert whole.stdout == ("ext/module.c:2:1: XMP401 module links ext/helper.c, ext/other.c, which call "
                            "forbidden_write()\n")
    assert "ext/broken.c" in whole.stderr  # looks binary: skipped, and said so
    # Given one file (as pre-commit does), the files that name it are its context: helper.c names
    # module.c; other.c names nothing of it and is not read, nor is broken.c reported ...
    focused = run(["scan", "ext/module.c", "--output-format", "concise", "-q"], tmp_path)
    assert focused.stdout == "ext/module.c:2:1: XMP401 module links ext/helper.c, which call forbidden_write()\n"
    assert "broken" not in focused.stderr
    # ... and findings are only reported on the files given.
    other = run(["scan", "ext/helper.c", "--output-format", "concise", "-q"], tmp_path)
    assert other.stdout == "" and other.exit_code == 0


def test_entry_point_plugin_is_loaded() -> None:
    registry = load_registry()
    assert {"XMP101", "XMP201", "XMP301", "XMP401", "XMP901"} <= registry.plugin_codes
    assert "FT001" not in registry.plugin_codes
    assert registry.problems == []


def _verbose_cached(result_stderr: str) -> str:
    line = next(line for line in result_stderr.splitlines() if "rules enabled" in line)
    return line.split("scanned (")[1].split(" from")[0]


def test_result_cache_reuses_unchanged_files_only(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.py": "danger()\n", "b.py": "safe()\n", "ftaudit.toml": "select = ['XMP2']\n"})
    first = run(["scan", ".", "-v", "--output-format", "json"], tmp_path)
    assert _verbose_cached(first.stderr) == "0"
    # The default cache is the user's, outside the scanned tree (a repository cannot plant entries).
    assert not (tmp_path / ".ftaudit_cache").exists()
    folder = default_dir(tmp_path)
    assert user_cache_root() in folder.parents and (folder / ".gitignore").read_text().endswith("*\n")
    second = run(["scan", ".", "-v", "--output-format", "json"], tmp_path)
    assert _verbose_cached(second.stderr) == "2" and second.stdout == first.stdout
    (tmp_path / "b.py").write_text("safe()\ndanger()\n")
    third = run(["scan", ".", "-v", "--output-format", "json"], tmp_path)
    assert _verbose_cached(third.stderr) == "1"
    assert [f["filename"] for f in json.loads(third.stdout)] == ["a.py", "b.py"]
    # Another rule selection is another key: nothing is reused for it.
    other = run(["scan", ".", "-v", "--select", "XMP201,XMP301", "--output-format", "json"], tmp_path)
    assert _verbose_cached(other.stderr) == "0"


def test_no_cache_writes_nothing(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.py": "danger()\n"})
    run(["scan", ".", "--isolated", "--no-cache", "--select", "XMP201"], tmp_path)
    assert not (tmp_path / ".ftaudit_cache").exists()
    run(["scan", ".", "--isolated", "--cache-dir", "elsewhere", "--select", "XMP201"], tmp_path)
    assert (tmp_path / "elsewhere" / "CACHEDIR.TAG").is_file()


def test_generated_files_are_skipped_unless_asked(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "gen.py": "# This file is generated by tools/make_tables.py. DO NOT EDIT.\ndanger()\n",
        "f2c.c": "/*\n * NOTE: This is generated code. Look in lapack_lite for remaking it.\n */\n"
                 "void f(void) { forbidden_write(1); }\n",
        "generator.py": "# Writes tables.\nTEMPLATE = '# This file is generated. DO NOT EDIT.'\ndanger()\n",
        "hand.py": "# Mentions that numpyconfig.h is auto-generated, but is not itself.\ndanger()\n",
        "ast.c": "/* File automatically generated by Parser/asdl_c.py. */\nvoid g(void) { forbidden_write(2); }\n",
    })
    base = ["scan", ".", "--isolated", "--no-cache", "--select", "XMP101,XMP201", "--output-format", "concise"]
    result = run([*base, "-v"], tmp_path)
    assert [line.split(":")[0] for line in result.stdout.splitlines() if "XMP" in line] == ["generator.py", "hand.py"]
    assert "skipped gen.py: generated code ('This file is generated' in its header)" in result.stderr
    assert "skipped f2c.c: generated code ('This is generated code' in its header)" in result.stderr
    assert "skipped ast.c: generated code ('automatically generated by' in its header)" in result.stderr
    everything = run([*base, "--scan-generated"], tmp_path)
    assert [line.split(":")[0] for line in everything.stdout.splitlines() if "XMP" in line] == [
        "ast.c", "f2c.c", "gen.py", "generator.py", "hand.py"]


def test_generated_modules_still_get_their_gil_declaration_checked(tmp_path: Path) -> None:
    module = ("#include <Python.h>\nstatic long n;\n"
              "static PyObject *f(PyObject *s, PyObject *a) { n++; Py_RETURN_NONE; }\n"
              "static PyMethodDef m[] = {{\"f\", f, METH_NOARGS, NULL}, {NULL}};\n"
              "static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, \"_ast\", NULL, -1, m};\n"
              "PyMODINIT_FUNC PyInit__ast(void) { return PyModule_Create(&d); }\n")
    write_tree(tmp_path, {"asdl/ast.c": "/* File automatically generated by Parser/asdl_c.py. */\n" + module,
                          "cy/mod.c": "/* Generated by Cython 3.0.11 */\n" + module})
    result = run(["scan", ".", "--isolated", "--no-cache", "--output-format", "concise"], tmp_path)
    # The module's missing SetGIL and its single-phase init are the built module's problems; the racy
    # counter is the generator's, and Cython's output is judged through its .pyx (FT104) instead.
    assert [line.split(": ")[0] + " " + line.split()[1] for line in result.stdout.splitlines() if "FT" in line] == [
        "asdl/ast.c:7:43 FT102", "asdl/ast.c:7:43 FT601"]


def test_no_c_unit_outlives_the_scan() -> None:
    # The per-file analyses are kept with their unit (ftaudit.analysis.memo): an answer that refers back to
    # its unit (reachability does) must not keep every parsed file alive for the rest of the process.
    import gc

    from ftaudit.cmodel import CUnit

    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    for sub in ("c", "ft2xx", "ft1xx"):
        result = scan([fixtures / sub], Settings(root=fixtures / sub, cache=False), jobs=1)
        assert any(f.code.startswith("FT2") for f in result.findings) or sub != "ft2xx"
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, CUnit)] == []


def test_generated_data_tables_are_not_parsed_for_module_declarations(tmp_path: Path) -> None:
    # Generated code is read only by the module-declaration rules; a generated file that spells no module
    # (unicodedata's tables) has nothing for them, and parsing its megabytes cost 76 MB per worker.
    write_tree(tmp_path, {
        "table.h": "/* this file was generated by tools/make_tables.py */\n"
                   "static const unsigned char names[] = {" + "1, 2, 3, " * 2000 + "};\n",
        "mod.c": "/* this file was generated by tools/make_module.py */\n#include <Python.h>\n"
                 "static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, \"mod\"};\n"
                 "PyMODINIT_FUNC PyInit_mod(void) { return PyModule_Create(&def); }\n",
    })
    result = scan([tmp_path], Settings(root=tmp_path, cache=False, target=Target((3, 13), True)), jobs=1)
    assert [Path(p).name for p in result.files] == ["mod.c"]
    assert [(Path(f.path).name, f.code) for f in result.findings] == [("mod.c", "FT102"), ("mod.c", "FT601")]
