"""Baselines: record today's findings, report only new ones, survive line shifts, list stale entries."""

from __future__ import annotations

import json
from pathlib import Path

from support import run, write_tree
from test_sarif import schema_errors

from ftaudit.fingerprint import line_fingerprints

C_FILE = """\
static long hits;
static long misses;

static PyObject *
hit(PyObject *self, PyObject *args)
{
    hits++;
    misses++;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {{"hit", hit, METH_NOARGS, NULL}, {NULL}};
"""
ARGS = ["scan", ".", "--isolated", "--select", "FT201", "--output-format", "concise"]


def _tree(tmp_path: Path, text: str = C_FILE) -> Path:
    return write_tree(tmp_path, {"src/ext.c": text})


def _codes_and_lines(output: str) -> list[str]:
    return [line.split(": ", 1)[0] for line in output.splitlines() if line.startswith("src/")]


def test_write_then_scan_reports_nothing(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    result = run([*ARGS, "--write-baseline", "baseline.json"], tree)
    assert result.exit_code == 0, result.output
    assert "wrote 2 findings to baseline baseline.json" in result.stderr
    document = json.loads((tree / "baseline.json").read_text())
    assert document["version"] == 1
    fingerprints = line_fingerprints(C_FILE, [7, 8])
    assert [(e["code"], e["path"], e["hash"], e["occurrence"], e["line"]) for e in document["entries"]] == [
        ("FT201", "src/ext.c", fingerprints[7], 0, 7),
        ("FT201", "src/ext.c", fingerprints[8], 0, 8),
    ]
    result = run([*ARGS, "--baseline", "baseline.json"], tree)
    assert result.exit_code == 0, result.output
    assert _codes_and_lines(result.stdout) == []
    assert "stale" not in result.stderr


def test_lines_moving_down_do_not_resurrect_findings(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    assert run([*ARGS, "--write-baseline", "baseline.json"], tree).exit_code == 0
    shifted = "#include <Python.h>\n/* a long new header comment */\n\nstatic int unrelated;\n\n" + C_FILE
    _tree(tmp_path, shifted)
    result = run([*ARGS, "--baseline", "baseline.json"], tree)
    assert result.exit_code == 0, result.output
    assert _codes_and_lines(result.stdout) == []
    # Without the baseline both findings are still there, five lines lower.
    assert _codes_and_lines(run(ARGS, tree).stdout) == ["src/ext.c:12:5", "src/ext.c:13:5"]


def test_new_findings_are_reported_and_fixed_ones_listed_as_stale(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    assert run([*ARGS, "--write-baseline", "baseline.json"], tree).exit_code == 0
    changed = C_FILE.replace("    misses++;\n", "").replace("static long misses;\n", "static long misses;\n"
                                                                "static long total;\n")
    changed = changed.replace("    hits++;\n", "    hits++;\n    total += 2;\n")
    _tree(tmp_path, changed)
    result = run([*ARGS, "--baseline", "baseline.json"], tree)
    assert result.exit_code == 1
    assert _codes_and_lines(result.stdout) == ["src/ext.c:9:5"]  # total += 2, new
    assert "1 stale entry" in result.stderr
    assert "src/ext.c:8: FT201 Unsynchronised write to static `misses`" in result.stderr


def test_editing_the_lines_after_a_finding_keeps_it_baselined(tmp_path: Path) -> None:
    # The fingerprint covers ~100 characters after the line; the second pass matches the line itself.
    tree = _tree(tmp_path)
    assert run([*ARGS, "--write-baseline", "baseline.json"], tree).exit_code == 0
    _tree(tmp_path, C_FILE.replace("Py_RETURN_NONE;", "return PyLong_FromLong(hits);"))
    result = run([*ARGS, "--baseline", "baseline.json"], tree)
    assert result.exit_code == 0, result.output
    assert "stale" not in result.stderr


def test_findings_sharing_a_line_are_counted(tmp_path: Path) -> None:
    # Two findings of one rule on one line share the fingerprint; `occurrence` tells them apart.
    tree = write_tree(tmp_path, {"m.py": "import os\ndanger(); danger()\n"})
    args = ["scan", ".", "--isolated", "--select", "XMP201", "--output-format", "concise"]
    assert run([*args, "--write-baseline", "baseline.json"], tree).exit_code == 0
    entries = json.loads((tree / "baseline.json").read_text())["entries"]
    assert [(e["line"], e["occurrence"]) for e in entries] == [(2, 0), (2, 1)]
    assert entries[0]["hash"] == entries[1]["hash"]
    write_tree(tmp_path, {"m.py": "import os\nimport sys\n\ndanger(); danger()\n"})
    assert run([*args, "--baseline", "baseline.json"], tree).exit_code == 0
    # A baseline that accepted only the first of the two: the second is new.
    (tree / "baseline.json").write_text(json.dumps({"version": 1, "entries": entries[:1]}))
    result = run([*args, "--baseline", "baseline.json"], tree)
    assert result.exit_code == 1
    assert [line.split(": ")[0] for line in result.stdout.splitlines() if line.startswith("m.py")] == ["m.py:4:11"]


def test_files_not_scanned_are_not_stale(tmp_path: Path) -> None:
    tree = write_tree(tmp_path, {"src/ext.c": C_FILE, "src/other.c": C_FILE})
    assert run([*ARGS, "--write-baseline", "baseline.json"], tree).exit_code == 0
    result = run(["scan", "src/ext.c", "--isolated", "--select", "FT201", "--baseline", "baseline.json"], tree)
    assert result.exit_code == 0, result.output
    assert "stale" not in result.stderr


def test_broken_baseline_is_a_usage_error(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    (tree / "baseline.json").write_text("{not json")
    result = run([*ARGS, "--baseline", "baseline.json"], tree)
    assert result.exit_code == 2
    assert "baseline.json is not JSON" in result.stderr
    (tree / "baseline.json").write_text('{"version": 1, "entries": [{"code": "FT201"}]}')
    result = run([*ARGS, "--baseline", "baseline.json"], tree)
    assert result.exit_code == 2
    assert "entry 0 lacks code, path, hash or occurrence" in result.stderr


def test_baseline_results_in_sarif_are_new(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    assert run([*ARGS, "--write-baseline", "baseline.json"], tree).exit_code == 0
    changed = C_FILE.replace("static long misses;\n", "static long misses;\nstatic long total;\n")
    _tree(tmp_path, changed.replace("    hits++;\n", "    hits++;\n    total += 2;\n"))
    result = run([*ARGS, "--baseline", "baseline.json", "--sarif-output", "out.sarif"], tree)
    assert result.exit_code == 1
    document = json.loads((tree / "out.sarif").read_text())
    assert schema_errors(document) == []
    results = document["runs"][0]["results"]
    assert [(r["locations"][0]["physicalLocation"]["region"]["startLine"], r["baselineState"]) for r in results] == [
        (9, "new")]
