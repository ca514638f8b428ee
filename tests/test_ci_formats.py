"""`--output-format gitlab` (GitLab Code Quality) and `junit`: shapes, severities, stable fingerprints."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from support import run, write_tree

RACY = """#include <Python.h>

static long calls;
static long errors;

static PyObject *
count(PyObject *self, PyObject *args)
{
    calls++;
    return PyLong_FromLong(calls);
}

static PyObject *
fail(PyObject *self, PyObject *args)
{
    errors++;
    return NULL;
}

static PyMethodDef methods[] = {{"count", count, METH_NOARGS, NULL}, {"fail", fail, METH_NOARGS, NULL}, {NULL}};
"""


def report(folder: Path, fmt: str) -> str:
    result = run(["scan", "m.c", "--isolated", "--select", "FT201", "--output-format", fmt], folder)
    assert result.exit_code == 1, result.output
    return result.stdout


def test_gitlab_code_quality_report(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m.c": RACY})
    issues = json.loads(report(tmp_path, "gitlab"))
    assert [(i["check_name"], i["severity"], i["location"]["path"], i["location"]["lines"]["begin"])
            for i in issues] == [("FT201 unsynchronized-global-write", "major", "m.c", 9),
                                 ("FT201 unsynchronized-global-write", "major", "m.c", 16)]
    assert all(len(i["fingerprint"]) == 64 for i in issues) and issues[0]["fingerprint"] != issues[1]["fingerprint"]
    # An unrelated edit above the findings moves their lines, not their fingerprints.
    write_tree(tmp_path, {"m.c": "/* counters */\n\n" + RACY})
    moved = json.loads(report(tmp_path, "gitlab"))
    assert [i["location"]["lines"]["begin"] for i in moved] == [11, 18]
    assert [i["fingerprint"] for i in moved] == [i["fingerprint"] for i in issues]


def test_junit_report(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m.c": RACY})
    root = ElementTree.fromstring(report(tmp_path, "junit").split("\n", 1)[1])
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "2", "2")
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "m.c"
    assert [(c.get("name"), c.find("failure").get("type")) for c in suite.findall("testcase")] == [
        ("FT201 at 9:5", "warning"), ("FT201 at 16:5", "warning")]
    # Nothing found: one passing case, so CI shows a green report rather than none.
    write_tree(tmp_path, {"m.c": "int ok(void) { return 0; }\n"})
    clean = run(["scan", "m.c", "--isolated", "--select", "FT201", "--output-format", "junit"], tmp_path)
    assert clean.exit_code == 0
    passed = ElementTree.fromstring(clean.stdout.split("\n", 1)[1])
    assert [c.get("name") for c in passed.iter("testcase")] == ["No findings"] and passed.get("failures") == "0"
