"""SARIF 2.1.0 output for GitHub code scanning, GitHub's line fingerprints, and the annotation format.

Every SARIF document produced here is validated against the OASIS schema (Draft 4) beside the
repository; the negative tests show that the validator does reject what GitHub would reject.
"""

from __future__ import annotations

import copy
import json
import random
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support import REPO, run, write_tree

from ftaudit.facts.precision import level as precision_level
from ftaudit.fingerprint import decode, line_fingerprints, rolling_hashes
from ftaudit.registry import load_registry
from ftaudit.ruledocs import plain_text, render_markdown

SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"  # the OASIS schema, see tests/data/README.md
M64 = 1 << 64


@cache
def _validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(document)]


def sarif_of(tree: Path, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    out = tree / "out.sarif"
    result = run(["scan", *args, "--sarif-output", str(out), "--exit-zero", "-s"], cwd or tree)
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert schema_errors(document) == []
    return document


# -- fingerprints: GitHub's primaryLocationLineHash ----------------------------------------------
def poly(units: list[int]) -> str:
    """The hash written out by hand: sum of unit * 37^(99 - i) over the 100-unit window, mod 2^64."""
    window = (units + [0] * 100)[:100]
    return format(sum(u * pow(37, 99 - i, M64) for i, u in enumerate(window)) % M64, "x")


def test_fingerprint_of_tiny_files_by_hand() -> None:
    # "a\nb\n": line 1 sees a, LF, b, LF, EOF; line 2 sees b, LF, EOF; line 3 (after the last LF) sees EOF.
    assert line_fingerprints("a\nb\n", [1, 2, 3]) == {
        1: poly([97, 10, 98, 10, 0xFFFF]) + ":1",
        2: poly([98, 10, 0xFFFF]) + ":1",
        3: poly([0xFFFF]) + ":1",
    }
    # Values GitHub's fingerprints.ts produces for the same input (computed once with its code).
    assert rolling_hashes("a\nb\n") == ["81b8d8db678b2bbe:1", "ade70578248be16f:1", "c129715d7a2bc9a3:1"]
    assert rolling_hashes("") == ["c129715d7a2bc9a3:1"]


def test_fingerprint_ignores_blanks_and_line_endings() -> None:
    expected = rolling_hashes("int x;\nx++;\n")
    assert rolling_hashes("  int  x;\r\n\tx++;\r\n") == expected
    assert rolling_hashes("int x;\rx++;\r") == expected
    # "\r \n" is two line breaks for GitHub: the space ends the CRLF pair.
    assert len(rolling_hashes("a\r \nb")) == 3


def test_fingerprint_counts_repeated_hashes() -> None:
    text = "A" * 120 + "\n" + "A" * 120 + "\nend\n"
    hashes = rolling_hashes(text)
    assert hashes[0] == poly([65] * 100) + ":1"
    assert hashes[1] == poly([65] * 100) + ":2"  # same 100-unit window: same hash, next count
    assert line_fingerprints(text, [2]) == {2: hashes[1]}


def test_fingerprint_counts_utf16_units() -> None:
    # An astral character is two UTF-16 code units in GitHub's (JavaScript) reading of the file.
    assert rolling_hashes("\U0001F600\n")[0] == poly([0xD83D, 0xDE00, 10, 0xFFFF]) + ":1"
    assert rolling_hashes("é\n")[0] == poly([0xE9, 10, 0xFFFF]) + ":1"


def test_fast_and_streaming_forms_agree() -> None:
    rng = random.Random(4)
    pieces = ["a", "b", " ", "\t", "\n", "\r", "\r\n", "x" * 40, "é", "\U0001F600", "{", "}", "\ufeff"]
    for _ in range(200):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 500)))
        streaming = rolling_hashes(text)
        fast = line_fingerprints(text, range(1, len(streaming) + 2))
        assert [fast[n] for n in range(1, len(streaming) + 1)] == streaming
        assert len(streaming) + 1 not in fast


def test_fingerprint_does_not_move_with_the_line() -> None:
    body = "static long hits;\nvoid f(void) {\n    hits++;\n}\n"
    before = line_fingerprints(body, [3])[3]
    after = line_fingerprints("/* new header */\n#include <x.h>\n\n" + body, [6])[6]
    assert before == after


# -- the SARIF document --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("sarif") / "demo.sarif"
    result = run(["scan", "fixtures/demo_ext", "--output-format", "sarif", "-o", str(out)], REPO)
    assert result.exit_code == 1
    document = json.loads(out.read_text(encoding="utf-8"))
    assert schema_errors(document) == []
    return document


def test_demo_run_shape(demo: dict[str, Any]) -> None:
    assert demo["version"] == "2.1.0"
    (run_,) = demo["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "ftaudit" and driver["semanticVersion"] and driver["informationUri"].startswith("https://")
    assert run_["automationDetails"] == {"id": "ftaudit/fixtures/demo_ext/"}
    assert run_["columnKind"] == "utf16CodeUnits"
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == REPO.as_uri() + "/"
    assert run_["invocations"][0]["executionSuccessful"] is True


def test_demo_rules_carry_the_rule_docs(demo: dict[str, Any]) -> None:
    registry = load_registry().rules
    rules = demo["runs"][0]["tool"]["driver"]["rules"]
    assert {"FT101", "FT102", "FT201", "FT202", "FT501"} <= {r["id"] for r in rules}
    for rule in rules:
        cls = registry[rule["id"]]
        assert rule["name"] == cls.slug != rule["id"]
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"] == {"text": plain_text(cls), "markdown": render_markdown(cls)}
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert rule["properties"]["precision"] == precision_level(cls.code, cls.precision)  # measured when known
        assert rule["properties"]["tags"][0] == "correctness"


def test_demo_results(demo: dict[str, Any]) -> None:
    run_ = demo["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    results = run_["results"]
    by_code = {r["ruleId"]: r for r in results}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        assert artifact["uri"].startswith("fixtures/demo_ext/")  # relative to the git root, not the scanned folder
        # The fingerprint is GitHub's hash of that line of that file.
        line = location["physicalLocation"]["region"]["startLine"]
        text = decode((REPO / artifact["uri"]).read_bytes())
        assert result["partialFingerprints"]["primaryLocationLineHash"] == line_fingerprints(text, [line])[line]
        assert "fixes" not in location and "fixes" not in location["physicalLocation"]
    ft201 = next(r for r in results if r["ruleId"] == "FT201")
    assert ft201["level"] == "warning"
    assert ft201["message"]["text"].startswith("Unsynchronised write to static `calls_served`")
    assert ft201["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 31, "startColumn": 5, "endLine": 31, "endColumn": 19}
    fix = by_code["FT101"]["fixes"][0]
    assert fix["artifactChanges"][0]["artifactLocation"]["uri"] == "fixtures/demo_ext/src/_speedups.c"
    (replacement,) = fix["artifactChanges"][0]["replacements"]
    assert replacement["insertedContent"]["text"] == (
        "#if PY_VERSION_HEX >= 0x030D0000\n    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n#endif\n")
    assert replacement["deletedRegion"]["startLine"] == replacement["deletedRegion"]["endLine"] == 115


def test_relative_to_git_root_from_a_subfolder(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pkg/ext/m.py": "danger()\n"})
    (tmp_path / ".git").mkdir()
    document = sarif_of(tmp_path, ".", "--isolated", "--select", "XMP2", cwd=tmp_path / "pkg")
    (result,) = document["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/ext/m.py"
    assert document["runs"][0]["automationDetails"]["id"] == "ftaudit/pkg/"
    document = sarif_of(tmp_path, ".", "--isolated", "--select", "XMP2", "--sarif-category", "ext")
    assert document["runs"][0]["automationDetails"]["id"] == "ftaudit/ext/"
    document = sarif_of(tmp_path, ".", "--isolated", "--select", "XMP2")
    assert document["runs"][0]["automationDetails"]["id"] == "ftaudit/root/"


def test_columns_are_utf16_code_units(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m.py": 'x = "\U0001F600"; danger()\n'})
    document = sarif_of(tmp_path, ".", "--isolated", "--select", "XMP2")
    region = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    # `danger()` is at character columns 10-18; the emoji before it is two UTF-16 units.
    assert (region["startColumn"], region["endColumn"]) == (11, 19)


def test_suppressed_findings_are_left_out(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m.py": "danger()  # noqa: XMP201\ndanger()\n"})
    document = sarif_of(tmp_path, ".", "--isolated", "--select", "XMP2")
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in document["runs"][0]["results"]] == [2]


def test_related_locations_for_racy_globals(tmp_path: Path) -> None:
    rule = load_registry().rules["FT108"]
    example = rule.bad[1]
    write_tree(tmp_path, {**example.files, example.path: example.code})
    document = sarif_of(tmp_path, ".", "--isolated", "--select", "FT108")
    (result,) = document["runs"][0]["results"]
    assert result["ruleId"] == "FT108" and result["level"] == "error"
    (related,) = result["relatedLocations"]
    assert related["id"] == 1
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "src/cache.c"
    assert related["physicalLocation"]["region"]["startLine"] == 3
    assert "](1)" in result["message"]["text"]  # GitHub links [text](id) to relatedLocations[id]


def test_file_problems_become_notifications(tmp_path: Path) -> None:
    write_tree(tmp_path, {"bad.py": b"danger()\n\xff\xfe\n", "ok.py": "danger()\n"})
    document = sarif_of(tmp_path, ".", "--isolated", "--select", "XMP2")
    invocation = document["runs"][0]["invocations"][0]
    notes = invocation["toolExecutionNotifications"]
    assert [(n["level"], n["descriptor"]["id"]) for n in notes] == [("warning", "encoding"), ("warning", "syntax")]
    assert {n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes} == {"bad.py"}
    assert invocation["executionSuccessful"] is True


def test_internal_error_makes_execution_unsuccessful(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m.py": "CRASH_ME = 1\ndanger()\n"})
    out = tmp_path / "out.sarif"
    result = run(["scan", ".", "--isolated", "--select", "XMP2,XMP9", "--sarif-output", str(out), "-s"], tmp_path)
    assert result.exit_code == 2
    document = json.loads(out.read_text(encoding="utf-8"))
    assert schema_errors(document) == []
    invocation = document["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and note["associatedRule"] == {"id": "XMP901"}
    assert [r["ruleId"] for r in document["runs"][0]["results"]] == ["XMP201"]  # the other rules still report


def test_results_are_capped_at_githubs_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ftaudit.report import sarif

    monkeypatch.setattr(sarif, "MAX_RESULTS", 2)
    write_tree(tmp_path, {"m.py": "danger()\ndanger()\ndanger()\n"})
    document = sarif_of(tmp_path, ".", "--isolated", "--select", "XMP2")
    run_ = document["runs"][0]
    assert len(run_["results"]) == 2
    (note,) = run_["invocations"][0]["toolExecutionNotifications"]
    assert note["descriptor"]["id"] == "results-truncated" and note["message"]["text"].startswith("1 results")


# -- negative schema tests: the validator catches what upload-sarif rejects ---------------------
def _mutations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    misplaced = copy.deepcopy(document)
    result = next(r for r in misplaced["runs"][0]["results"] if "fixes" in r)
    result["locations"][0]["fixes"] = result.pop("fixes")  # semgrep#5421
    out.append(("fixes under a location", misplaced))
    zero = copy.deepcopy(document)
    zero["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    out.append(("startLine 0", zero))
    level = copy.deepcopy(document)
    level["runs"][0]["results"][0]["level"] = "info"
    out.append(("level info", level))
    no_message = copy.deepcopy(document)
    del no_message["runs"][0]["results"][0]["message"]
    out.append(("no message", no_message))
    version = copy.deepcopy(document)
    version["version"] = "2.0.0"
    out.append(("version", version))
    return out


def test_broken_documents_fail_validation(demo: dict[str, Any]) -> None:
    for label, broken in _mutations(demo):
        assert schema_errors(broken), label


# -- GitHub Actions annotations ----------------------------------------------------------------
ANNOTATION = re.compile(r"^::(error|warning|notice) ((?:[a-zA-Z]+=[^,:\r\n]*)(?:,[a-zA-Z]+=[^,:\r\n]*)*)::([^\r\n]*)$")


def test_github_annotations_follow_the_workflow_command_syntax() -> None:
    paths = ["fixtures/demo_ext", "fixtures/hostile"]
    lines = run(["scan", *paths, "--output-format", "github"], REPO).stdout.splitlines()
    findings = json.loads(run(["scan", *paths, "--output-format", "json"], REPO).stdout)
    assert len(lines) == len(findings) >= 12
    for line in lines:
        match = ANNOTATION.match(line)
        assert match, line
        props = dict(p.split("=", 1) for p in match.group(2).split(","))
        assert set(props) <= {"title", "file", "line", "col", "endLine", "endColumn"}
        assert props["title"].startswith("ftaudit (FT")
        path = props["file"].replace("%3A", ":").replace("%2C", ",").replace("%25", "%")
        assert (REPO / path).is_file(), path
        if "col" in props:
            assert props["line"] == props["endLine"]
    # Messages are escaped: their help text goes on "lines" joined by %0A.
    assert all("%0A%0Ahelp%3A" not in line and "%0A%0Ahelp: " in line for line in lines)


def test_rules_are_ranked_from_their_measured_precision(tmp_path: Path) -> None:
    # FT201's census (157 of 165 TRUE: Wilson lower bound 90.7 %) makes it very-high precision and, as a
    # memory-corrupting race, a security alert with its security-severity; FT301 (67 of 92) stays
    # medium and not security; FT205, never measured, keeps its declared precision and no security tag.
    from ftaudit.facts import precision

    assert precision.measured("FT201") == (157, 165) and precision.level("FT201", "medium") == "very-high"
    assert precision.level("FT301", "medium") == "medium"
    assert precision.measured("FT205") is None and precision.level("FT205", "high") == "high"
    write_tree(tmp_path, {"m.c": "int x;\n"})
    driver = sarif_of(tmp_path, ".", "--isolated")["runs"][0]["tool"]["driver"]
    rules = {r["id"]: r["properties"] for r in driver["rules"]}
    assert rules["FT201"]["precision"] == "very-high"
    assert rules["FT201"]["tags"][:3] == ["correctness", "concurrency", "security"]
    assert rules["FT201"]["security-severity"] == "6.5"
    assert "security" not in rules["FT301"]["tags"] and "security-severity" not in rules["FT301"]
    assert "security" not in rules["FT205"]["tags"] and rules["FT205"]["precision"] == "high"
    assert rules["FT504"]["tags"][0] == "correctness" and "concurrency" not in rules["FT504"]["tags"]


def test_wilson_lower_bounds_behind_the_levels() -> None:
    from ftaudit.facts.precision import wilson_lower

    assert round(wilson_lower(157, 165), 3) == 0.907
    assert round(wilson_lower(9, 9), 3) == 0.701  # nine of nine is not yet "very-high"
    assert wilson_lower(0, 0) == 0.0
