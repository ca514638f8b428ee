"""Inline suppressions in every syntax, multi-line statements, and FT001 for unused ones."""

from __future__ import annotations

import json
from pathlib import Path

from support import run, write_tree


def findings(tmp_path: Path, files: dict[str, str], *extra: str) -> list[tuple[str, str, int]]:
    write_tree(tmp_path, files)
    result = run(["scan", ".", "--output-format", "json", "--isolated", "--select", "XMP,FT001", *extra], tmp_path)
    assert result.exit_code in (0, 1), result.output
    return [(f["filename"], f["code"], f["location"]["row"]) for f in json.loads(result.stdout)]


def test_python_noqa_and_ignore_comments(tmp_path: Path) -> None:
    src = (
        "danger()  # noqa: XMP201\n"                 # 1 suppressed
        "danger()  # noqa: XMP2\n"                   # 2 prefix, suppressed
        "danger()  # ftaudit: ignore[XMP201]\n"      # 3 suppressed
        "# ftaudit: ignore[XMP201]\n"                # 4 own line -> next code line
        "\n"
        "danger()\n"                                 # 6 suppressed by line 4
        "danger()  # noqa\n"                         # 7 bare noqa: not honoured
        "danger()  # noqa: E501\n"                   # 8 other tool's code: not honoured
        "x = '# noqa: XMP201'; danger()\n"           # 9 inside a string: not a comment
        "danger()  # NOQA: xmp201\n"                 # 10 case-insensitive: suppressed
    )
    assert findings(tmp_path, {"m.py": src}) == [
        ("m.py", "XMP201", 7), ("m.py", "XMP201", 8), ("m.py", "XMP201", 9),
    ]


def test_multiline_python_statement_suppressed_from_any_line(tmp_path: Path) -> None:
    src = (
        "value = (\n"
        "    danger()\n"
        ")  # noqa: XMP201\n"
        "if (\n"
        "    danger()\n"
        "):\n"
        "    pass  # noqa: XMP201\n"           # body comment must not silence the header
    )
    assert findings(tmp_path, {"m.py": src}) == [("m.py", "XMP201", 5), ("m.py", "FT001", 7)]


def test_unused_suppressions_are_ft001(tmp_path: Path) -> None:
    src = (
        "safe()  # noqa: XMP201\n"            # unused -> FT001
        "danger()  # noqa: XMP201, XMP301\n"  # XMP301 unused -> FT001, XMP201 used
        "safe()  # noqa: FT999\n"              # unknown ftaudit code -> FT001
        "safe()  # noqa: ABC123\n"             # another tool's code -> not ours
    )
    got = findings(tmp_path, {"m.py": src})
    assert got == [("m.py", "FT001", 1), ("m.py", "FT001", 2), ("m.py", "FT001", 3)]


def test_suppression_for_rule_not_run_is_not_judged(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m.py": "safe()  # noqa: XMP201\n"})
    result = run(["scan", ".", "--output-format", "json", "--isolated", "--select", "FT001"], tmp_path)
    assert json.loads(result.stdout) == []


def test_suppression_for_rule_that_does_not_apply_to_the_target_is_not_judged(tmp_path: Path) -> None:
    # FT505 audits free-threaded builds only (applies_to): on 3.12 it does not run, so its `noqa` is kept,
    # not reported as unused (nor deleted by --fix); FT501 runs on 3.12 and its stale `noqa` is reported.
    write_tree(tmp_path, {"m.py": "import sys\nsys.setswitchinterval(1)  # noqa: FT505\nx = 1  # noqa: FT501\n"})
    for target, expected in (("3.12", [3]), ("3.13t", [3])):
        result = run(["scan", ".", "--output-format", "json", "--isolated", "--select", "FT5,FT001",
                      "--target-version", target], tmp_path)
        got = [(f["code"], f["location"]["row"]) for f in json.loads(result.stdout)]
        assert got == [("FT001", row) for row in expected], (target, got)


def test_ft001_message_and_column(tmp_path: Path) -> None:
    write_tree(tmp_path, {"m.py": "safe()  # noqa: XMP201\n"})
    result = run(["scan", ".", "--output-format", "json", "--isolated", "--select", "XMP,FT001"], tmp_path)
    [finding] = json.loads(result.stdout)
    assert finding["message"] == "Unused suppression: no XMP201 finding here to suppress"
    assert finding["location"] == {"row": 1, "column": 9}
    assert finding["severity"] == "note"


C_SOURCE = """\
#include <Python.h>

static void
update(int v)
{
    forbidden_write(v);  // NOLINT(XMP101)
    forbidden_write(v);  // NOLINT
    forbidden_write(v);  // NOLINT(bugprone-foo, XMP1)
    // NOLINTNEXTLINE(XMP101)
    forbidden_write(v);
    forbidden_write(v);  /* ftaudit: ignore[XMP101] */
    /* ftaudit: ignore[XMP101] */
    forbidden_write(v);
    const char *s = "// NOLINT(XMP101)"; forbidden_write(v);
    // NOLINTBEGIN(XMP101)
    forbidden_write(v);
    forbidden_write(v);
    // NOLINTEND(XMP101)
    forbidden_write(v);
    forbidden_write(v,
                    v + 1);  // NOLINT(XMP101)
    if (v > 0 &&
        forbidden_write(v)) {
        return;  // NOLINT(XMP101)
    }
}
"""


def test_c_suppressions_in_every_syntax(tmp_path: Path) -> None:
    got = findings(tmp_path, {"m.c": C_SOURCE})
    assert got == [
        ("m.c", "XMP101", 7),    # bare NOLINT belongs to other tools
        ("m.c", "XMP101", 14),   # the NOLINT is inside a string literal
        ("m.c", "XMP101", 19),   # after NOLINTEND
        ("m.c", "XMP101", 23),   # the comment is in the body, not on the if's condition
        ("m.c", "FT001", 24),    # ... so that suppression is unused
    ]


def test_unclosed_nolintbegin_suppresses_to_end_and_is_reported(tmp_path: Path) -> None:
    src = ("void f(void) {\n    // NOLINTBEGIN(XMP101)\n    forbidden_write(1);\n}\n"
           "void g(void) { forbidden_write(2); }\n")
    assert findings(tmp_path, {"m.c": src}) == [("m.c", "FT001", 2)]
