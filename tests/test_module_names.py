"""How findings name a module whose PyModuleDef does not spell its name (issue 17).

The name is the ``m_name`` string literal (also through ``#define``s of the file); else the
``<name>`` of the one ``PyInit_<name>`` that creates the definition, directly or through a helper;
else the module is described by its variable, saying the name is set at run time. The same text is
used by the terminal, JSON and SARIF messages and by the HTML readiness table.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from support import REPO, run

from ftaudit.cmodel.module_defs import ModuleName, described_module, module_phrase
from ftaudit.cmodel.unit import build_unit
from ftaudit.config import Settings
from ftaudit.engine import scan
from ftaudit.report import html as html_report

FIXTURES = REPO / "fixtures" / "ft1xx"
FOLDERS = ("modname_assigned", "modname_macro", "modname_noinit")


def _names(source: str) -> dict[str, ModuleName]:
    unit = build_unit(textwrap.dedent(source).encode(), "t.c")
    return {definition.name: unit.module_name(definition) for definition in unit.module_defs}


def _subject(source: str) -> str:
    [name] = _names(source).values()
    return name.subject


# -- the model -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("m_name", "defines", "expected"), [
    ('"spam"', "", "spam"),
    ('"pkg." "spam"', "", "pkg.spam"),
    ("MODULE_NAME", '#define MODULE_NAME "pkg._spam"', "pkg._spam"),
    ("(MODULE_NAME)", '#define MODULE_NAME ("spam")', "spam"),
    ('"_" SUFFIX', '#define SUFFIX "spam"', "_spam"),
    ("FULL", '#define PACKAGE "pkg."\n#define FULL PACKAGE "spam"', "pkg.spam"),
])
def test_a_string_the_file_spells_names_the_module(m_name: str, defines: str, expected: str) -> None:
    # PyInit_other would name it too: the string wins.
    got = _names(f"""\
    {defines}
    static PyModuleDef def = {{PyModuleDef_HEAD_INIT, .m_name = {m_name}, .m_slots = slots}};
    PyMODINIT_FUNC PyInit_other(void) {{ return PyModuleDef_Init(&def); }}
    """)
    assert got["def"] == ModuleName("def", expected, "literal")


def test_macros_that_disagree_across_branches_are_not_a_name() -> None:
    assert _subject("""\
    #ifdef DEBUG_BUILD
    #define MODULE_NAME "spam_d"
    #else
    #define MODULE_NAME "spam"
    #endif
    static PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_name = MODULE_NAME, .m_slots = slots};
    PyMODINIT_FUNC PyInit_spam(void) { return PyModuleDef_Init(&def); }
    """) == "spam"  # from PyInit_spam, not one of the two spellings


@pytest.mark.parametrize("source", [
    # m_name assigned in PyInit before the module is created
    """\
    static PyModuleDef def = {PyModuleDef_HEAD_INIT, NULL, NULL, 0, NULL, slots};
    PyMODINIT_FUNC PyInit_dyn(void) { def.m_name = getenv("DYN_NAME"); return PyModuleDef_Init(&def); }
    """,
    # no m_name at all; a helper creates the module (multi-phase)
    """\
    static PyModuleDef def = {.m_base = PyModuleDef_HEAD_INIT, .m_slots = slots};
    static PyObject *make(const char *name) { def.m_name = name; return PyModuleDef_Init(&def); }
    PyMODINIT_FUNC PyInit_dyn(void) { return make("dyn"); }
    """,
    # single-phase, two helpers deep
    """\
    static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, 0, NULL, -1, methods};
    static PyObject *create(void) { return PyModule_Create(&def); }
    static PyObject *setup(void) { def.m_name = module_name; return create(); }
    PyMODINIT_FUNC PyInit_dyn(void) { return setup(); }
    """,
    # an object-like macro of the file creates it
    """\
    #define CREATE_MODULE PyModuleDef_Init(&def)
    static PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_slots = slots};
    PyMODINIT_FUNC PyInit_dyn(void) { def.m_name = module_name; return CREATE_MODULE; }
    """,
    # a macro of the build names it
    """\
    static PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_name = DYN_MODULE_NAME, .m_slots = slots};
    PyMODINIT_FUNC PyInit_dyn(void) { return PyModuleDef_Init(&def); }
    """,
])
def test_otherwise_the_init_function_that_creates_it_names_it(source: str) -> None:
    [name] = _names(source).values()
    assert (name.name, name.origin, name.subject) == ("dyn", "init", "dyn")


def test_a_submodule_created_in_another_modules_init_is_not_named_after_it() -> None:
    names = _names("""\
    static PyModuleDef main_def = {PyModuleDef_HEAD_INIT, .m_slots = slots};
    static PyModuleDef sub_def = {PyModuleDef_HEAD_INIT, .m_slots = sub_slots};
    PyMODINIT_FUNC PyInit_outer(void) {
        main_def.m_name = "outer";
        sub_def.m_name = "outer.sub";
        PyObject *sub = PyModule_FromDefAndSpec(&sub_def, spec);
        return PyModuleDef_Init(&main_def);
    }
    """)
    assert names["main_def"].subject == "outer"
    assert names["sub_def"].subject == "the module defined by `sub_def` (name set at run time)"


def test_without_one_init_function_the_name_is_dynamic() -> None:
    assert _subject("""\
    static PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_slots = slots};
    PyObject *plugin_init(const char *name) { def.m_name = name; return PyModuleDef_Init(&def); }
    """) == "the module defined by `def` (name set at run time)"
    # Two inits share the definition: neither name is the module's.
    assert _subject("""\
    static PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_slots = slots};
    static PyObject *create(const char *name) { def.m_name = name; return PyModuleDef_Init(&def); }
    PyMODINIT_FUNC PyInit_a(void) { return create("a"); }
    PyMODINIT_FUNC PyInit_b(void) { return create("b"); }
    """) == "the module defined by `def` (name set at run time)"


def test_an_expression_with_no_init_function_is_quoted_when_short() -> None:
    assert _subject("""\
    static PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_name = PLUGIN_NAME, .m_slots = slots};
    """) == "the module defined by `def` (name given by `PLUGIN_NAME`)"
    assert _subject("""\
    static PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_name = choose_a_module_name(argument_one, argument_two),
                              .m_slots = slots};
    """) == "the module defined by `def` (name not a string literal)"


def test_phrases() -> None:
    described = "the module defined by `def` (name set at run time)"
    assert module_phrase("pkg.spam") == "Module `pkg.spam`"
    assert module_phrase(described) == "The module defined by `def` (name set at run time)"
    assert described_module(described) and not described_module("spam")


# -- the reports ---------------------------------------------------------------------------------

CONCISE = [
    "modname_assigned/_speedups.c:16:25: FT101 Module `_speedups` does not declare `Py_mod_gil`: importing it "
    "re-enables the GIL on free-threaded 3.14t",
    "modname_macro/_accel.c:17:5: FT109 Module `_accel` declares `Py_MOD_GIL_USED`: importing it keeps the GIL "
    "enabled on free-threaded builds",
    "modname_macro/_tables.c:7:25: FT101 Module `accel._tables` does not declare `Py_mod_gil`: importing it "
    "re-enables the GIL on free-threaded 3.14t",
    "modname_noinit/hooks.c:4:25: FT101 The module defined by `hooks_def` (name given by `HOOKS_MODULE_NAME`) "
    "does not declare `Py_mod_gil`: importing it re-enables the GIL on free-threaded 3.14t",
    "modname_noinit/plugin.c:21:5: FT108 The module defined by `plugin_def` (name set at run time) declares it "
    "does not need the GIL (the Py_mod_gil slot), but its extension still has racy global state: `loads` "
    "(modname_noinit/plugin.c:5)",
]


def _scan(output_format: str) -> str:
    result = run(["scan", *FOLDERS, "--isolated", "--select", "FT1", "--output-format", output_format], FIXTURES)
    assert result.exit_code == 1, result.output
    return result.stdout


def test_terminal_messages() -> None:
    lines = [line for line in _scan("concise").splitlines() if ": FT1" in line]
    assert lines == CONCISE
    full = _scan("full")
    assert "(PyModuleDef)" not in full
    assert "FT108 The module defined by `plugin_def` (name set at run time) declares it does not need" in full


def test_json_and_sarif_messages() -> None:
    findings = json.loads(_scan("json"))
    assert [f"{f['filename']}:{f['location']['row']}:{f['location']['column']}: {f['code']} {f['message']}"
            for f in findings] == CONCISE
    sarif = json.loads(_scan("sarif"))
    texts = [(r["ruleId"], r["message"]["text"]) for r in sarif["runs"][0]["results"]]
    messages = [line.split(": ", 1)[1] for line in CONCISE]
    # SARIF's text goes on with the help; it starts with the same message.
    assert len(texts) == len(messages)
    for (rule, text), message in zip(texts, messages, strict=True):
        assert f"{rule} {text}".startswith(message)


def _verdicts(root: Path) -> list[tuple[str, str, str]]:
    result = scan([root], Settings(root=root))
    return [(v.module, Path(v.path).name, v.state) for v in html_report.verdicts(result, {})]


def test_readiness_rows_use_the_same_names() -> None:
    result = scan([FIXTURES / folder for folder in FOLDERS], Settings(root=FIXTURES, select=["FT1"]))
    verdicts = [(v.module, Path(v.path).name, v.state) for v in html_report.verdicts(result, {})]
    assert verdicts == [
        ("_speedups", "_speedups.c", "needs declaration"),
        ("_accel", "_accel.c", "requires the GIL"),
        ("accel._tables", "_tables.c", "needs declaration"),
        ("the module defined by `hooks_def` (name given by `HOOKS_MODULE_NAME`)", "hooks.c", "needs declaration"),
        ("the module defined by `plugin_def` (name set at run time)", "plugin.c", "declared but racy"),
    ]
    page = html_report.render_html(result, generated="now")
    rows = [re.sub(r"<[^>]+>", "|", row) for row in re.findall(r"<tr><td>.*?</td><td class=\"mono\">", page)]
    assert [re.sub(r"\|+", "|", row).strip("|") for row in rows] == [
        "_speedups", "_accel", "accel._tables",
        "the module defined by |hooks_def| (name given by |HOOKS_MODULE_NAME|)",
        "the module defined by |plugin_def| (name set at run time)",
    ]
    assert ("<tr><td>the module defined by <code>plugin_def</code> (name set at run time)</td>"
            "<td class=\"mono\">") in page
    assert "<tr><td><code>accel._tables</code></td>" in page


def test_a_declaration_and_its_findings_share_one_readiness_row(tmp_path: Path) -> None:
    """The FT108 summary, FT101 and FT109 name a run-time-named module alike: one row per module."""
    (tmp_path / "ok.c").write_text(textwrap.dedent("""\
        #include <Python.h>
        static PyModuleDef_Slot ok_slots[] = {{Py_mod_gil, Py_MOD_GIL_NOT_USED}, {0, NULL}};
        static struct PyModuleDef ok_def = {PyModuleDef_HEAD_INIT, .m_slots = ok_slots};
        PyObject *ok_module(const char *name) { ok_def.m_name = name; return PyModuleDef_Init(&ok_def); }
        """))
    (tmp_path / "used.c").write_text(textwrap.dedent("""\
        #include <Python.h>
        static PyModuleDef_Slot used_slots[] = {{Py_mod_gil, Py_MOD_GIL_USED}, {0, NULL}};
        static struct PyModuleDef used_def = {PyModuleDef_HEAD_INIT, NULL, NULL, 0, NULL, used_slots};
        PyMODINIT_FUNC PyInit__used(void) { used_def.m_name = "_used"; return PyModuleDef_Init(&used_def); }
        """))
    assert _verdicts(tmp_path) == [
        ("the module defined by `ok_def` (name set at run time)", "ok.c", "declares GIL-free"),
        ("_used", "used.c", "requires the GIL"),
    ]
