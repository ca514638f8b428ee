"""The command line: formats, exit codes, colour, statistics, quiet/silent, rule docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import REPO, run, run_process, write_tree

PY = "import os\n\ndanger()\nx = 1  # note-me\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path, {"pkg/m.py": PY, "pkg/clean.py": "safe()\n"})


def scan(tree: Path, *args: str, env: dict | None = None):
    return run(["scan", ".", "--isolated", "--select", "XMP2,XMP3", *args], tree, env)


def test_full_output_has_code_frame_and_help(tree: Path) -> None:
    result = scan(tree, "--color", "never")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:8] == [
        "XMP201 danger() called",
        " --> pkg/m.py:3:1",
        "  |",
        "3 | danger()",
        "  | ^^^^^^^^",
        "4 | x = 1  # note-me",
        "  |",
        "help: Call safe() instead.",
    ]
    assert result.stdout.rstrip().endswith(
        "Found 2 findings (1 error, 0 warnings, 1 note) in 1 file.")


def test_concise_and_quiet(tree: Path) -> None:
    result = scan(tree, "--output-format", "concise", "-q")
    assert result.stdout.splitlines() == [
        "pkg/m.py:3:1: XMP201 danger() called",
        "pkg/m.py:4:8: XMP301 note marker",
    ]


def test_silent_prints_nothing_but_keeps_exit_code(tree: Path) -> None:
    result = scan(tree, "-s")
    assert result.stdout == "" and result.exit_code == 1


@pytest.mark.parametrize(("args", "code"), [
    ([], 1),                                   # an error-severity finding fails at the default 'warning'
    (["--fail-on", "error"], 1),
    (["--ignore", "XMP201"], 0),               # only a note is left: below 'warning'
    (["--ignore", "XMP201", "--fail-on", "note"], 1),
    (["--exit-zero"], 0),
])
def test_exit_codes(tree: Path, args: list[str], code: int) -> None:
    assert scan(tree, *args).exit_code == code


def test_usage_and_config_errors_exit_2(tree: Path) -> None:
    assert run(["scan", "--output-format", "nope"], tree).exit_code == 2
    assert run(["scan", "--select", "ZZ9"], tree).exit_code == 2
    (tree / "ftaudit.toml").write_text("selekt = ['FT']\n")
    result = run(["scan", "."], tree)
    assert result.exit_code == 2
    assert "unknown key 'selekt'" in result.stderr and "ftaudit.toml" in result.stderr


def test_internal_error_exits_2_and_keeps_other_findings(tree: Path) -> None:
    (tree / "pkg" / "boom.py").write_text("CRASH_ME = 1\ndanger()\n")
    result = run(["scan", ".", "--isolated", "--select", "XMP201,XMP901", "--output-format", "concise"], tree)
    assert result.exit_code == 2
    assert "pkg/boom.py: internal-error [XMP901]: rule raised RuntimeError: boom" in result.stderr
    assert "pkg/boom.py:2:1: XMP201 danger() called" in result.stdout


def test_min_severity_drops_notes(tree: Path) -> None:
    result = scan(tree, "--min-severity", "warning", "--output-format", "concise", "-q")
    assert result.stdout.splitlines() == ["pkg/m.py:3:1: XMP201 danger() called"]


def test_statistics(tree: Path) -> None:
    (tree / "pkg" / "more.py").write_text("danger()\ndanger()\n")
    result = scan(tree, "--statistics", "-q", "--color", "never")
    assert result.stdout.splitlines() == [
        "3\tXMP201\t[ ] danger-call (error)",
        "1\tXMP301\t[ ] note-marker (note)",
    ]


@pytest.mark.parametrize(("flag", "env", "coloured"), [
    ("always", {}, True),
    ("never", {"FORCE_COLOR": "1"}, False),
    ("auto", {"FORCE_COLOR": "1"}, True),
    ("auto", {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    ("auto", {}, False),                      # not a terminal
])
def test_colour_resolution(tree: Path, flag: str, env: dict, coloured: bool) -> None:
    result = scan(tree, "--color", flag, env=env)
    assert ("\x1b[" in result.stdout) is coloured


def test_machine_formats_are_never_coloured(tree: Path) -> None:
    result = scan(tree, "--color", "always", "--output-format", "json")
    assert "\x1b[" not in result.stdout
    assert [f["code"] for f in json.loads(result.stdout)] == ["XMP201", "XMP301"]


def test_json_lines_and_extra_json_output(tree: Path) -> None:
    result = scan(tree, "--output-format", "json-lines", "--json-output", "report.json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(f["code"], f["location"]["row"]) for f in lines] == [("XMP201", 3), ("XMP301", 4)]
    assert json.loads((tree / "report.json").read_text()) == lines


def test_output_file(tree: Path) -> None:
    scan(tree, "--output-format", "concise", "-o", "out.txt")
    assert (tree / "out.txt").read_text().startswith("pkg/m.py:3:1: XMP201 danger() called\n")


def test_github_annotations(tree: Path) -> None:
    (tree / "pkg" / "two.py").write_text("y = (\n    danger(\n    )\n)\n")
    result = scan(tree, "--output-format", "github")
    assert result.stdout.splitlines() == [
        "::error title=ftaudit (XMP201),file=pkg/m.py,line=3,col=1,endLine=3,endColumn=9::"
        "XMP201 danger() called%0A%0Ahelp: Call safe() instead.",
        "::error title=ftaudit (XMP201),file=pkg/two.py,line=2,endLine=3::"
        "XMP201 danger() called%0A%0Ahelp: Call safe() instead.",
        "::notice title=ftaudit (XMP301),file=pkg/m.py,line=4,col=8,endLine=4,endColumn=17::"
        "XMP301 note marker%0A%0Ahelp: Nothing to do.",
    ]


def test_default_subcommand_is_scan(tree: Path) -> None:
    result = run([".", "--isolated", "--select", "XMP201", "-q", "--output-format", "concise"], tree)
    assert result.stdout == "pkg/m.py:3:1: XMP201 danger() called\n"


def test_rules_and_rule_docs(tree: Path) -> None:
    listing = run(["rules", "--output-format", "json"], tree)
    codes = [r["code"] for r in json.loads(listing.stdout)]
    assert "FT001" in codes and "XMP201" in codes
    doc = run(["rule", "FT001"], tree).stdout
    assert doc.startswith("# FT001 `unused-suppression`")
    for section in ("## What it does", "## Why it matters", "## Example", "## Use instead", "## Fix"):
        assert section in doc
    assert run(["rule", "unused-suppression"], tree).stdout == doc
    assert run(["rule", "FT999"], tree).exit_code == 2
    every = run(["rule", "--all"], tree).stdout
    headings = [line.split()[1] for line in every.splitlines() if line.startswith("# ") and "`" in line]
    assert headings == codes


def test_show_settings(tree: Path) -> None:
    write_tree(tree, {"pyproject.toml": "[project]\nrequires-python = '>=3.10'\n"
                                        "[tool.ftaudit]\nignore = ['XMP3']\n"})
    data = json.loads(run(["scan", "--show-settings"], tree).stdout)
    assert data["target"] == {"version": "3.14t", "minimum": "3.10"}
    assert "XMP301" not in data["enabled-rules"] and "XMP201" in data["enabled-rules"]


def test_real_process_entry_point(tree: Path) -> None:
    proc = run_process(["scan", ".", "--isolated", "--select", "XMP201", "--output-format", "concise"], tree)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("pkg/m.py:3:1: XMP201 danger() called")


def test_fix_diff_and_unsafe_fixes(tmp_path: Path) -> None:
    from support import REPO

    source = (REPO / "fixtures" / "ft1xx" / "multiphase" / "_bare.c").read_text()
    write_tree(tmp_path, {"_bare.c": source})
    base = ["scan", ".", "--isolated", "--select", "FT101", "--no-cache"]
    # --diff writes nothing; FT101's edit is unsafe, so it only shows with --unsafe-fixes.
    assert run([*base, "--diff"], tmp_path).stdout == ""
    diff = run([*base, "--diff", "--unsafe-fixes"], tmp_path)
    assert diff.exit_code == 1
    assert "+#if PY_VERSION_HEX >= 0x030D0000\n+    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n+#endif\n" in diff.stdout
    assert (tmp_path / "_bare.c").read_text() == source
    summary = run([*base, "--color", "never"], tmp_path).stdout
    assert "(1 more fix available with `--fix --unsafe-fixes`" in summary
    # --fix alone applies only safe fixes: nothing changes.
    assert run([*base, "--fix"], tmp_path).exit_code == 1
    assert (tmp_path / "_bare.c").read_text() == source
    fixed = run([*base, "--fix", "--unsafe-fixes", "--exit-non-zero-on-fix"], tmp_path)
    assert "Fixed 1 finding in 1 file." in fixed.stderr
    assert fixed.exit_code == 1  # clean now, but something was fixed
    assert run(base, tmp_path).exit_code == 0


def test_add_noqa_writes_comments_that_silence_every_finding(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "m.c": "void f(void) {\n    forbidden_write(1);\n    forbidden_write(2);  // NOLINT(XMP999)\n}\n",
        "frame.c": "#include <Python.h>\n#define CODE_OF(f) \\\n    ((PyFrameObject *)(f))->f_code + \\\n    0\n",
        "p.py": 'danger()\nx = 1  # noqa: E501\ndanger(); y = 2  # noqa: E731\ndanger("""\ntext\n""")\n',
    })
    base = ["scan", ".", "--isolated", "--no-cache", "--select", "XMP101,XMP201,FT401"]
    result = run([*base, "--add-noqa"], tmp_path)
    assert result.exit_code == 0
    assert "Added 5 suppression comments in 3 files (1 line could not take a comment)." in result.stderr
    assert (tmp_path / "m.c").read_text() == (
        "void f(void) {\n    forbidden_write(1);  // NOLINT(XMP101)\n"
        "    forbidden_write(2);  // NOLINT(XMP999, XMP101)\n}\n")
    # Inside a macro, a line comment would swallow the continuation backslash.
    assert "((PyFrameObject *)(f))->f_code + /* NOLINT(FT401) */ \\\n" in (tmp_path / "frame.c").read_text()
    assert (tmp_path / "p.py").read_text().splitlines()[:3] == [
        "danger()  # noqa: XMP201", "x = 1  # noqa: E501", "danger(); y = 2  # noqa: E731, XMP201"]
    # What is left is the call whose line ends inside a string literal.
    after = run([*base, "--output-format", "concise", "-q"], tmp_path)
    assert after.stdout == "p.py:4:1: XMP201 danger() called\n"


def test_standard_input_stands_for_a_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ftaudit.cli import main

    write_tree(tmp_path, {"pkg/m.py": "safe()\n"})  # on disk the file is clean; the editor buffer is not
    runner = CliRunner()
    import os

    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = runner.invoke(main, ["scan", "-", "--stdin-filename", "pkg/m.py", "--isolated", "--select",
                                      "XMP201", "--output-format", "concise", "-q"], input="x = 1\ndanger()\n")
        missing = runner.invoke(main, ["scan", "-", "--isolated"], input="danger()\n")
        refused = runner.invoke(main, ["scan", "-", "--stdin-filename", "a.py", "--fix"], input="danger()\n")
    finally:
        os.chdir(old)
    assert result.exit_code == 1 and result.stdout == "pkg/m.py:2:1: XMP201 danger() called\n"
    assert missing.exit_code == 2 and "needs --stdin-filename" in missing.output
    assert refused.exit_code == 2


def test_fixable_marks_match_the_edits_offered() -> None:
    """`[*]` means `--fix` (with the options given) would edit that finding: FT401's safe edit always,
    FT405's unsafe one only with --unsafe-fixes, and FT101 never in an extension with racy globals
    (its edit is display-only there)."""
    demo = REPO / "fixtures" / "demo_ext"
    rows = {line.split("\t")[1]: line.split("\t")[2][:3]
            for line in run(["scan", ".", "--statistics", "-q", "--color", "never"], demo).stdout.splitlines()}
    assert (rows["FT401"], rows["FT405"], rows["FT101"]) == ("[*]", "[ ]", "[ ]")
    unsafe = run(["scan", ".", "--statistics", "-q", "--color", "never", "--unsafe-fixes"], demo).stdout
    rows = {line.split("\t")[1]: line.split("\t")[2][:3] for line in unsafe.splitlines()}
    assert (rows["FT401"], rows["FT405"], rows["FT101"], rows["FT102"]) == ("[*]", "[*]", "[ ]", "[*]")
    concise = run(["scan", ".", "--output-format", "concise", "-q", "--select", "FT101"], demo).stdout
    assert concise.splitlines() == [
        "src/_speedups.c:113:25: FT101 Module `demo_ext._speedups` does not declare `Py_mod_gil`: importing it "
        "re-enables the GIL on free-threaded 3.14t; first make its racy global state thread-safe: "
        "`calls_served` (line 11), `verbose` (line 12), `token_cache` (line 10)"]
    diff = run(["scan", ".", "--diff", "--unsafe-fixes", "--select", "FT101"], demo)
    assert diff.stdout == ""  # nothing --fix would write
