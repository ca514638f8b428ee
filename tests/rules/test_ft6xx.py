"""FT6xx on realistic modules: exact findings and severities, guards, targets and the readiness table."""

from __future__ import annotations

import json
import re

from support import REPO, run, write_tree

from ftaudit.findings import Finding, Position, Severity
from ftaudit.readiness import ModuleClaim, Readiness, Subinterpreters, module_verdicts

FIXTURES = REPO / "fixtures" / "ft6xx"


def findings(*args: str) -> list[tuple[str, str, int, str]]:
    """The FT6xx findings on the C modules of fixtures/ft6xx (bindings/ has its own test)."""
    modules = sorted(p.name for p in FIXTURES.glob("*.c"))
    result = run(["scan", *modules, "--isolated", "--select", "FT6", "--output-format", "json", "--exit-zero",
                  *args], FIXTURES)
    assert result.exit_code == 0, result.output
    return [(f["filename"], f["code"], f["location"]["row"], f["severity"]) for f in json.loads(result.stdout)]


def test_every_kind_of_module() -> None:
    assert findings("--target-version", "3.13t") == [
        # Claims a GIL per interpreter: the GILState callback and the PyState lookup contradict it.
        ("_claims.c", "FT606", 14, "warning"),
        ("_claims.c", "FT605", 15, "warning"),   # multi-phase: PyState_FindModule never finds it
        ("_claims.c", "FT602", 35, "error"),     # the claim, under #if PY_VERSION_HEX >= 0x030C0000
        ("_future_slot.c", "FT602", 4, "note"),  # its slot is only compiled for 3.15
        ("_legacy.c", "FT605", 14, "note"),      # single-phase: works, and ties it to single-phase
        ("_legacy.c", "FT601", 42, "note"),      # the Python 2 branch (Py_InitModule3) is not compiled
        # _main_only.c: log_ident is written only after `if (!is_main_interpreter()) return`: no finding.
        # Two modules: legacy_cache and LegacyType are the "not supported" module's (cast slot value);
        # sentinel holds Py_None (immortal), old_python_only is set only for < 3.12; a thread-local
        # object is still one slot for every interpreter on the thread.
        ("_many.c", "FT604", 9, "warning"),
        ("_many.c", "FT602", 58, "error"),       # ISOLATED: a project macro for the own-GIL value
        # No slot: shared-GIL sub-interpreters load it, so its globals and static type are notes.
        ("_shared.c", "FT604", 4, "note"),       # ParseError, set in the exec function (init-only counts)
        ("_shared.c", "FT603", 11, "note"),      # ParserType; default_encoding (const char *) is no object
        ("_shared.c", "FT604", 24, "note"),      # a function-static lazy cache
        ("_shared.c", "FT602", 62, "note"),      # PyGILState_Ensure: no claim, so no FT606
    ]


def test_the_claim_decides_the_severity_and_the_messages_name_the_state() -> None:
    result = run(["scan", "_claims.c", "--isolated", "--select", "FT602", "--target-version", "3.13t",
                  "--output-format", "json", "--exit-zero"], FIXTURES)
    [contradiction] = json.loads(result.stdout)
    assert contradiction["message"] == (
        "Module `_claims` declares `Py_MOD_PER_INTERPRETER_GIL_SUPPORTED`, but its code is not isolated from "
        "other interpreters: `PyGILState_Ensure`, `PyState_FindModule`")
    assert [(r["location"]["row"], r["message"]) for r in contradiction["related"]] == [
        (14, "`PyGILState_Ensure` (FT606)"), (15, "`PyState_FindModule` (FT605)")]


def test_sub_interpreter_rules_need_a_target_that_has_them() -> None:
    # Per-interpreter GILs, the isolated configuration and the slot arrived in 3.12.
    assert findings("--target-version", "3.11") == []
    assert [f[:3] for f in findings("--target-version", "3.12")][:2] == [("_claims.c", "FT606", 14),
                                                                     ("_claims.c", "FT605", 15)]


def test_readiness_puts_the_claim_beside_the_free_threaded_verdict() -> None:
    where = Position(3, 1)

    def finding(code: str, severity: Severity, message: str) -> Finding:
        return Finding(code, "slug", message, severity, "m.c", where, where, subject="m")

    claims = {"m.c": (ModuleClaim("m", "own-gil", "`Py_mod_multiple_interpreters`: own GIL"),),
              "n.c": (ModuleClaim("n", "single-phase", "single-phase initialisation"),)}
    rows = module_verdicts([finding("FT603", Severity.WARNING, "static type"),
                            finding("FT602", Severity.ERROR, "claim contradicted")],
                           {"FT101": Readiness.NEEDS_DECLARATION}, {}, lambda _: False, claims,
                           {"FT602": True, "FT603": True})
    assert [(r.module, r.state, r.subinterpreters, r.subinterpreters_detail) for r in rows] == [
        ("m", None, Subinterpreters.LEAKY, "claim contradicted"),
        ("n", None, Subinterpreters.SINGLE_PHASE, "declared with single-phase initialisation"),
    ]


def test_binding_generators_declare_in_their_own_code() -> None:
    result = run(["scan", "bindings", "--isolated", "--select", "FT6", "--output-format", "json", "--exit-zero"],
                 FIXTURES)
    assert [(f["filename"], f["code"], f["location"]["row"]) for f in json.loads(result.stdout)] == [
        # setup.py asks every module for own_gil, but no build file turns Cython's module state on;
        # io.pyx says `no` for itself, and cython_state/ defines CYTHON_USE_MODULE_STATE.
        ("bindings/cython_nostate/core.pyx", "FT607", 1),
        # pybind11 3.0's per_interpreter_gil() option is a claim like the slot; nanobind never claims.
        ("bindings/fastpb.cpp", "FT604", 3),
        ("bindings/fastpb.cpp", "FT606", 4),
        ("bindings/fastpb.cpp", "FT602", 5),
    ]
    [contradiction] = [f for f in json.loads(result.stdout) if f["code"] == "FT602"]
    assert "declares `py::multiple_interpreters::per_interpreter_gil()`" in contradiction["message"]


def test_html_readiness_table_has_a_sub_interpreters_column(tmp_path) -> None:
    report = tmp_path / "report.html"
    run(["scan", ".", "--isolated", "--target-version", "3.13t", "--html-output", str(report), "--exit-zero",
         "-q"], FIXTURES)
    html = report.read_text()
    table = html[html.index('<table class="readiness">'):]
    table = table[:table.index("</table>")]
    assert '<th scope="col">Free-threaded</th><th scope="col">Sub-interpreters</th>' in table
    rows = {}
    for row in table.split("<tr>")[2:]:
        cells = [re.sub(r"<[^>]+>", "", c.split(">", 1)[1].split("</td>")[0]) for c in row.split("<td")[1:5]]
        rows[f"{cells[1]} {cells[0]}"] = cells[3]  # module, file, free-threaded, sub-interpreters
    assert rows == {
        "_claims.c _claims": "claims own GIL, shares objects", "_future_slot.c _future_slot": "shared GIL only",
        "_legacy.c _legacy": "single-phase: not in isolated", "_shared.c _shared": "shared GIL only",
        "_main_only.c _main_only": "isolated, own GIL",
        "_many.c _many_clean": "claims own GIL, shares objects", "_many.c _many_legacy": "main interpreter only",
        "bindings/cython_nostate/core.pyx core": "main interpreter only",
        "bindings/cython_nostate/io.pyx io": "main interpreter only",
        "bindings/cython_state/core.pyx core": "isolated, own GIL",
        "bindings/fastnb.cpp fastnb": "main interpreter only",
        "bindings/fastpb.cpp fastpb": "claims own GIL, shares objects",
        "headers/_errors.c _errors": "claims own GIL, shares objects",
        "linked/src/core.c _core": "claims own GIL, shares objects",
        "linked/src/tool.c _tool": "main interpreter only",
    }


def test_globals_a_project_header_declares() -> None:
    result = run(["scan", "headers", "--isolated", "--select", "FT6", "--target-version", "3.13t",
                  "--output-format", "json", "--exit-zero"], FIXTURES)
    found = [(f["code"], f["location"]["row"], f["message"].split(")")[0]) for f in json.loads(result.stdout)]
    assert found == [
        ("FT604", 4, "Process-global `errors_module` (global, written in `errors_exec`"),
        # ProtocolError is declared in _errors_state.h; TimeoutError is a macro there (module state).
        ("FT604", 17, "Process-global `ProtocolError` (declared in a header, written in `errors_exec`"),
        ("FT602", 27, "Module `_errors` declares `Py_MOD_PER_INTERPRETER_GIL_SUPPORTED`, but its code is not "
                      "isolated from other interpreters: process-global `errors_module`, process-global "
                      "`ProtocolError`"),
    ]


def test_a_single_phase_module_is_a_note_until_its_extension_claims_support(tmp_path) -> None:
    files = {"_legacy.c": (FIXTURES / "_legacy.c").read_text(), "_claims.c": (FIXTURES / "_claims.c").read_text()}
    separate = "from setuptools import Extension, setup\nsetup(ext_modules=[Extension('a._legacy', ['_legacy.c']),\n" \
               "                         Extension('a._claims', ['_claims.c'])])\n"
    write_tree(tmp_path, {**files, "setup.py": separate})
    alone = run(["scan", ".", "--isolated", "--select", "FT601", "--output-format", "json", "--exit-zero"], tmp_path)
    [note] = json.loads(alone.stdout)
    assert (note["severity"], note["message"]) == ("note", (
        "Module `_legacy` uses single-phase initialisation: interpreters created with the isolated configuration "
        "(every sub-interpreter of a free-threaded build) refuse to import it"))
    # Linked into one extension with a module that declares support: a warning naming it, in a full scan
    # and in a focused one (pre-commit reads the linked sources as context).
    write_tree(tmp_path, {"setup.py": "from setuptools import Extension, setup\n"
                                      "setup(ext_modules=[Extension('a._both', ['_legacy.c', '_claims.c'])])\n"})
    for args, env in ((["."], None), (["_legacy.c"], {"PRE_COMMIT": "1"})):
        both = run(["scan", *args, "--isolated", "--select", "FT601", "--output-format", "json", "--exit-zero"],
                   tmp_path, env=env)
        [warning] = json.loads(both.stdout)
        assert warning["severity"] == "warning", args
        assert warning["message"].endswith("; module `_claims` (_claims.c) declares sub-interpreter support")


def test_a_claim_is_contradicted_by_the_files_linked_into_the_same_extension() -> None:
    # setup.py links src/cache.c into linked._core; src/tool.c is linked._tool, an extension of its own.
    result = run(["scan", "linked", "--isolated", "--select", "FT6", "--target-version", "3.13t",
                  "--output-format", "json", "--exit-zero"], FIXTURES)
    [contradiction] = json.loads(result.stdout)
    assert (contradiction["filename"], contradiction["code"], contradiction["location"]["row"]) == (
        "linked/src/core.c", "FT602", 20)
    assert contradiction["message"].endswith(": process-global `json_module` (linked/src/cache.c)")
    assert [(r["filename"], r["location"]["row"], r["message"]) for r in contradiction["related"]] == [
        ("linked/src/cache.c", 4, "process-global `json_module` (FT604)")]
    # Given only core.c, as pre-commit passes it, the linked helper is read as context: the same finding.
    alone = run(["scan", "linked/src/core.c", "--isolated", "--select", "FT6", "--target-version", "3.13t",
                 "--output-format", "json", "--exit-zero"], FIXTURES, env={"PRE_COMMIT": "1"})
    assert [(f["code"], f["location"]["row"]) for f in json.loads(alone.stdout)] == [("FT602", 20)]
