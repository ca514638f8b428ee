"""FT2xx on fixtures that hold each finding and each non-finding of the issue, exact lines asserted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import REPO, run

FIXTURES = REPO / "fixtures" / "ft2xx"


def findings(name: str, select: str = "FT2") -> list[tuple[str, int]]:
    result = run(["scan", name, "--isolated", "--select", select, "--output-format", "json"], FIXTURES)
    assert result.exit_code in (0, 1), result.output
    return [(f["code"], f["location"]["row"]) for f in json.loads(result.stdout)]


def test_global_writes() -> None:
    # Reported: ++ on a static (31), a member of a static struct (32), memset(&static) (47), a
    # function-local static (49), &verbose passed to PyArg_ParseTupleAndKeywords (57).
    # Silent: _Atomic, _Thread_local, writes under PyMutex, #ifndef Py_GIL_DISABLED code, const tables,
    # kwlist, self->count, the static PyTypeObject set up before PyType_Ready, and writes in exec.
    assert findings("counters.c") == [
        ("FT201", 31), ("FT201", 32), ("FT201", 47), ("FT201", 49), ("FT201", 57),
    ]


def test_lazy_initialisation_reported_once_per_pattern() -> None:
    # check-then-set (15), early return (24), flag with the table it guards (34, one finding);
    # silent: double-checked under a PyMutex, and the cache built in the exec function.
    assert findings("caches.c") == [("FT202", 15), ("FT202", 24), ("FT202", 34)]


def ft203(name: str) -> list[dict]:
    result = run(["scan", name, "--isolated", "--select", "FT203", "--output-format", "json"], FIXTURES)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_critical_section_misuse() -> None:
    assert [(f["location"]["row"], f["severity"]) for f in ft203("sections.c")] == [
        (11, "error"),   # return inside the section
        (40, "note"),    # nested single-object sections: allowed, the outer lock may be suspended
        (53, "error"),   # ...2 begin closed by a one-object end
        (59, "error"),   # begin without an end
    ]


def test_ft203_nested_sections_are_notes_and_misuse_stays_an_error() -> None:
    assert [(f["code"], f["location"]["row"], f["severity"]) for f in ft203("ft203_nested.c")] == [
        ("FT203", 29, "note"),    # `value` declared inside the while loop
        ("FT203", 46, "note"),    # two parameters
        ("FT203", 62, "note"),    # `entry` assigned inside the outer section, begun under an `if`
        ("FT203", 76, "note"),    # `self->codedict`, read through the outer object
        ("FT203", 89, "note"),    # nested, and...
        ("FT203", 91, "error"),   # ...the return leaves both sections
        ("FT203", 91, "error"),
        ("FT203", 104, "note"),   # macros without semicolons, two parameters
        ("FT203", 124, "note"),   # the block's own `item` shadows the one declared before the outer begin
        ("FT203", 139, "note"),   # the same object again
    ]


def test_ft203_no_section2_advice_for_a_variable_declared_inside_the_loop() -> None:
    [note] = [f for f in ft203("ft203_nested.c") if f["location"]["row"] == 29]
    assert "`value`" in note["message"] and "`codedict`" in note["message"]
    assert "CRITICAL_SECTION2" not in note["message"] + note["help"]
    assert "Nesting is allowed" in note["help"]


def test_ft203_section2_advice_only_when_both_are_in_scope_at_the_outer_begin() -> None:
    advice = {f["location"]["row"]: f["help"] for f in ft203("ft203_nested.c") if f["severity"] == "note"}
    assert "`Py_BEGIN_CRITICAL_SECTION2(into, from)` at line 45" in advice[46]
    assert "`Py_BEGIN_CRITICAL_SECTION2(self->codedict, list)` at line 88" in advice[89]
    assert "`Py_BEGIN_CRITICAL_SECTION2(left, right)` at line 103" in advice[104]
    for row in (29, 62, 76, 124, 139):  # declared inside, assigned inside, a field, shadowed, the same object
        assert "CRITICAL_SECTION2" not in advice[row], row


def test_ft203_same_object_nested_is_a_redundant_note() -> None:
    [note] = [f for f in ft203("ft203_nested.c") if f["location"]["row"] == 139]
    assert note["severity"] == "note"
    assert "same object (line 137)" in note["message"]
    assert note["help"].startswith("Drop the inner begin/end pair")


def test_thread_unsafe_libc_calls() -> None:
    # strtok twice on line 15 and strerror; silent: localtime_r, getenv under a PyMutex, getenv in exec.
    assert findings("libc_calls.c", "FT204") == [("FT204", 15), ("FT204", 15), ("FT204", 44)]


def test_capi_calls_without_thread_state() -> None:
    # silent: PyMem_Raw* while detached, and PyErr_CheckSignals between Py_BLOCK/UNBLOCK_THREADS.
    assert findings("detached.c", "FT205") == [("FT205", 17), ("FT205", 32)]


def test_module_declaring_gil_free_with_racy_writes_is_ft108() -> None:
    result = run(["scan", "counters.c", "--isolated", "--select", "FT108", "--output-format", "json"], FIXTURES)
    [finding] = json.loads(result.stdout)
    assert finding["location"]["row"] == 114  # the Py_mod_gil slot
    assert "`calls`" in finding["message"] and "`verbose`" in finding["message"]


def test_not_compiled_for_a_gil_target_code_is_judged_for_that_target() -> None:
    # On a default (GIL) build the #ifndef Py_GIL_DISABLED write is compiled: it is reported too.
    result = run(["scan", "counters.c", "--isolated", "--select", "FT201", "--output-format", "json",
                  "--target-version", "3.13"], FIXTURES)
    assert 39 in [f["location"]["row"] for f in json.loads(result.stdout)]


def test_module_teardown_is_not_run_time_but_an_instance_dealloc_is() -> None:
    # m_clear/m_free and the helper only they call (lines 17, 18, 32) are silent; the type's
    # tp_dealloc pushes onto a static free list from any thread.
    assert findings("teardown.c") == [("FT201", 40), ("FT201", 40)]


def test_debug_switches_nobody_defines_are_off(tmp_path: Path) -> None:
    # DEBUG_MEM is defined nowhere in the project: line 12 is not compiled by default. setup.py
    # defines TRACE_CALLS, so line 15 is; line 17 always is. FAULT_INJECT (19) is defined only under
    # `if "--debug" in sys.argv:`: a default build leaves it off too.
    assert findings("switches") == [("FT201", 15), ("FT201", 17)]
    shutil.copytree(FIXTURES / "switches", tmp_path / "switches")
    (tmp_path / "switches" / "ftaudit.toml").write_text("debug-switches = 'unknown'\n")
    result = run(["scan", "switches", "--select", "FT2", "--output-format", "json"], tmp_path)
    assert [f["location"]["row"] for f in json.loads(result.stdout)] == [12, 15, 17, 19]


def test_the_summary_says_how_many_findings_debug_switches_hid(tmp_path: Path) -> None:
    summary = run(["scan", "switches", "--isolated", "--select", "FT2"], FIXTURES).stdout.splitlines()[-1]
    assert summary == ("Not shown: 2 findings in code that only debug or test switches no part of the project "
                       'defines would build (`debug-switches = "unknown"` shows them).')
    shutil.copytree(FIXTURES / "switches", tmp_path / "switches")
    (tmp_path / "switches" / "ftaudit.toml").write_text("debug-switches = 'unknown'\n")
    assert "Not shown" not in run(["scan", "switches", "--select", "FT2"], tmp_path).stdout


def test_project_lock_wrappers_protect_what_they_enclose() -> None:
    # dblock.h wraps sqlite3_mutex_enter/leave (DB_ENTER/DB_LEAVE) and a try-lock that returns on
    # failure, reached through a forwarding macro (DB_ENSURE -> DB_ENSURE_OR): lines 18 and 27 are
    # under the connection's mutex. Line 37 comes after DB_LEAVE: reported, and FT108 names it.
    assert findings("lockwrap", "FT1,FT2") == [("FT201", 37), ("FT108", 64)]


def test_source_fragments_are_part_of_their_includers_unit() -> None:
    # store_ops.c is #included by _store.c: its static store_put is named by _store.c's method table
    # (line 7), and it calls _store.c's static bump_generation at run time (line 10), which the
    # module's m_free also calls. store_debug.c is only included under STORE_DEBUG_HOOKS, which no
    # build file defines: not compiled, so its findings are not reported and one diagnostic says so.
    result = run(["scan", "fragments", "--isolated", "--select", "FT2", "--output-format", "json"], FIXTURES)
    assert [(f["filename"], f["code"], f["location"]["row"]) for f in json.loads(result.stdout)] == [
        ("fragments/_store.c", "FT201", 10), ("fragments/store_ops.c", "FT201", 7),
    ]
    assert "fragments/store_debug.c: not-built: 1 finding(s) not reported: only fragments/_store.c" in result.stderr


def test_qualified_cxx_calls_from_the_exec_slot_are_init() -> None:
    # module.cpp's exec slot (in an anonymous namespace, behind reinterpret_cast) calls
    # solver::init_errors() of errors.cpp: its write is init-only. solve() runs per call.
    result = run(["scan", "cppns", "--isolated", "--select", "FT1,FT2", "--output-format", "json"], FIXTURES)
    assert [(f["filename"], f["code"], f["location"]["row"]) for f in json.loads(result.stdout)] == [
        ("cppns/errors.cpp", "FT201", 19),
    ]


def test_a_compare_and_swap_spin_lock_protects_what_it_encloses() -> None:
    # The lazy init of `registry` (line 18) runs between the acquiring and the releasing CAS loop;
    # the write on line 29 comes after the release.
    assert findings("spinlock.c") == [("FT201", 29)]


def test_a_lazy_initialisation_module_init_always_performs_is_done_at_import() -> None:
    # _mod.c's exec function calls debug_log() on every import, and the check leads debug_log's
    # body: the getenv() branch (lines 13-15) never runs at run time. cached_host() is first
    # called from host() at run time: its lazy init (25) and the getenv() inside it (26) race.
    result = run(["scan", "lazyatinit", "--isolated", "--select", "FT2", "--output-format", "json"], FIXTURES)
    assert [(f["filename"], f["code"], f["location"]["row"]) for f in json.loads(result.stdout)] == [
        ("lazyatinit/debuglog.c", "FT202", 25), ("lazyatinit/debuglog.c", "FT204", 26),
    ]


def test_clearing_a_variable_after_testing_it_is_a_write_not_a_lazy_init() -> None:
    # `if (on_sample) {...} error: Py_CLEAR(on_sample)` empties the callback: FT201 at the clear (19);
    # the interned name is a real check-then-set (26).
    assert findings("callbacks.c") == [("FT201", 19), ("FT202", 26)]


def test_a_file_the_build_compiles_is_not_hidden_by_a_test_harness_that_includes_it(tmp_path: Path) -> None:
    # tests/harness.c #includes src/tok.c only under RUN_UNIT_TESTS (off), but setup.py compiles
    # src/tok.c itself: its race is reported.
    from support import write_tree

    write_tree(tmp_path, {
        "setup.py": "from setuptools import Extension, setup\n"
                    "setup(ext_modules=[Extension('tok', ['src/tok.c'])])\n",
        "src/tok.c": "#include <Python.h>\nstatic long seen;\n"
                     "static PyObject *scan(PyObject *m, PyObject *a) { seen++; Py_RETURN_NONE; }\n"
                     "static PyMethodDef methods[] = {{\"scan\", scan, METH_O, NULL}, {NULL, NULL, 0, NULL}};\n",
        "tests/harness.c": "#ifdef RUN_UNIT_TESTS\n#include \"../src/tok.c\"\n#endif\nint main(void) { return 0; }\n",
    })
    result = run(["scan", ".", "--isolated", "--select", "FT201", "--output-format", "json"], tmp_path)
    assert [(f["filename"], f["location"]["row"]) for f in json.loads(result.stdout)] == [("src/tok.c", 3)]
    assert "not-built" not in result.stderr


def test_review_cases_stay_reported() -> None:
    # From the hostile review of the lock and init-time changes: a compare-and-swap update loop
    # (ids.c) takes no lock, so the writes after it race (15, 16 as in make2's 23, 24); a lazy init
    # whose helper the exec function calls only under an `if` (np.c) is not done at import (9).
    result = run(["scan", "review", "--isolated", "--select", "FT2", "--output-format", "json"], FIXTURES)
    assert [(f["filename"], f["code"], f["location"]["row"]) for f in json.loads(result.stdout)] == [
        ("review/ids.c", "FT201", 15), ("review/ids.c", "FT201", 16),
        ("review/ids.c", "FT201", 23), ("review/ids.c", "FT201", 24),
        ("review/np.c", "FT202", 9),
    ]


def test_cxx_data_members_are_not_the_globals_they_share_a_name_with() -> None:
    # Reader's constructor and methods (11, 15, 38) write its member `position_`; Tally::Take (30)
    # its own local `reads` (a method named like Reader's, whose locals must be its own). Only
    # take_first's writes to the globals race.
    assert findings("members.cpp") == [("FT201", 49), ("FT201", 50)]


def test_private_test_hooks_are_not_run_time_entry_points() -> None:
    # `_set_test_clock` and `_testfunc` (and probe_one, which only `_testfunc` hands out) are for the
    # package's tests; `tick` (39) and `_latest` (46, private but not a test hook) race.
    assert findings("testhooks.c") == [("FT201", 39), ("FT201", 46)]


def scan_json(name: str, select: str = "FT2") -> list[dict]:
    result = run(["scan", name, "--isolated", "--select", select, "--output-format", "json"], FIXTURES)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_a_lazy_initialisation_group_is_one_finding_with_every_static_it_sets() -> None:
    # One unlocked check (17) sets three statics: the finding names the other two, and lists the
    # declaration and their writes as related locations. The locked group (29) is silent.
    [finding] = scan_json("recall/lazygroup.c")
    assert (finding["code"], finding["location"]["row"]) == ("FT202", 17)
    assert "`callable_str` and `classmethod_str`" in finding["message"]
    assert [(r["location"]["row"], r["message"]) for r in finding["related"]] == [
        (6, "`function_str` is declared here"),
        (18, "`function_str` is set here"),
        (19, "`callable_str` is also set under this check"),
        (20, "`classmethod_str` is also set under this check"),
    ]


def test_lazy_initialisation_behind_compound_conditions() -> None:
    # `if (can_cache && cached_type) return …; … if (can_cache && !cached_type && type) cached_type = …`
    # is a check-then-set (17); the same shape on `self->cached` is per object.
    assert findings("recall/compound.c") == [("FT202", 17)]


def test_copying_calls_into_a_global_buffer() -> None:
    # strncpy + memset(ps_buffer + used) (22, one finding, 2 writes), snprintf through a local pointer
    # into the buffer (36), memcpy through a global pointer (43) and PyOS_snprintf into a global
    # array (44). Silent: a local buffer, a local pointer to it, copying *from* the global, the
    # PyMutex-held strncpy, and the exec slot's memset.
    assert findings("recall/title.c") == [("FT201", 22), ("FT201", 36), ("FT201", 43), ("FT201", 44)]
    first = scan_json("recall/title.c")[0]
    assert first["message"].startswith("Unsynchronised write into the buffer of static `ps_buffer`")
    assert [(r["location"]["row"], r["message"]) for r in first["related"]] == [
        (9, "`ps_buffer` is declared here"), (24, "another write to `ps_buffer`")]


def test_shared_state_findings_carry_the_declaration_in_sarif() -> None:
    result = run(["scan", "recall/title.c", "--isolated", "--select", "FT201", "--output-format", "sarif"], FIXTURES)
    results = json.loads(result.stdout)["runs"][0]["results"]
    related = results[0]["relatedLocations"]
    assert related[0]["physicalLocation"]["region"]["startLine"] == 9
    assert related[0]["message"]["text"] == "`ps_buffer` is declared here"


def _scan_codes(folder: Path, *paths: str) -> list[tuple[str, str, int]]:
    result = run(["scan", *paths, "--isolated", "--select", "FT2", "--output-format", "json"], folder)
    assert result.exit_code in (0, 1), result.output
    return [(f["filename"], f["code"], f["location"]["row"]) for f in json.loads(result.stdout)]


def test_an_exported_function_nothing_names_never_runs(tmp_path: Path) -> None:
    # codec_train (and train_step, only it calls) is declared by module.c but never called, taken
    # or used from Python: silent. codec_encode (13, called), codec_decode_hook (35, in a function
    # table) and codec_reset_stats (42, called from Python through cffi) run at run time. (Copied out
    # of this repository: a project inside a larger one is never taken as whole.)
    project = tmp_path / "unnamed"
    shutil.copytree(FIXTURES / "unnamed", project)
    expected = [("src/codec.c", "FT201", 13), ("src/codec.c", "FT201", 35), ("src/codec.c", "FT201", 42)]
    assert _scan_codes(project, ".") == expected
    # A one-file run reads the file's project (the setup.py folder) as context: the same answer.
    assert _scan_codes(project, "src/codec.c") == expected
    # A file the scan cannot read that may call C (a SWIG interface) leaves the trainer possibly
    # called: its writes (21, 22) are reported.
    (project / "src" / "codec.i").write_text("%module codec\nint codec_train(int level);\n")
    assert [row for _, _, row in _scan_codes(project, ".")] == [13, 21, 22, 35, 42]


def test_a_scan_of_part_of_a_project_assumes_unnamed_functions_may_run(tmp_path: Path) -> None:
    # Scanning src/ alone does not see setup.py's folder (pkg/ may use any name): the trainer's
    # writes (21, 22) are reported as before. So does a scan of a project inside a repository.
    project = tmp_path / "unnamed"
    shutil.copytree(FIXTURES / "unnamed", project)
    assert [row for _, _, row in _scan_codes(project, "src")] == [13, 21, 22, 35, 42]
    assert findings("unnamed") == [("FT201", 13), ("FT201", 21), ("FT201", 22), ("FT201", 35), ("FT201", 42)]


def test_review_cases_of_member_shadowing() -> None:
    # A static data member is shared (12); io::Reader has no member `position_`, so its out-of-line
    # Reset writes the global (31), whatever the file-scope Reader declares; a struct local to a
    # function body says nothing about Buffer::Flush, which writes the global `pending` (45).
    assert findings("review2/members.cpp") == [("FT201", 12), ("FT201", 31), ("FT201", 45)]


def test_review_cases_of_test_hooks() -> None:
    # A test hook the public clear() also calls (12); an options table, not a PyMethodDef, whose
    # entry merely looks like a test name (25); `_testbit` is no test hook (51).
    assert findings("review2/hooks.c") == [("FT201", 12), ("FT201", 25), ("FT201", 51)]


def test_review_cases_of_buffer_writes() -> None:
    # `*(g_off + local)` writes the local array; a local pointer set to the global and then redirected
    # copies into the local; strncpy into a member array of a global struct is a write to it (39).
    assert findings("review2/buffers.c") == [("FT201", 39)]


def test_a_cxx_method_module_init_calls_through_an_object_is_init_only() -> None:
    # Registry::setup is called only by PyInit (`reg.setup()`): silent. Registry::lookup runs per get().
    result = run(["scan", "review2/registry", "--isolated", "--select", "FT2", "--output-format", "json"], FIXTURES)
    assert [(f["filename"], f["code"], f["location"]["row"]) for f in json.loads(result.stdout)] == [
        ("review2/registry/reg.cpp", "FT201", 23)]


def test_a_subdirectory_with_its_own_build_file_is_not_the_whole_project(tmp_path: Path) -> None:
    # meson puts a meson.build in every subdirectory: scanning src/codec (or one file in it) must not
    # take it for the project, whose module in src/ext calls codec_train at run time.
    (tmp_path / "src" / "codec").mkdir(parents=True)
    (tmp_path / "src" / "ext").mkdir(parents=True)
    (tmp_path / "meson.build").write_text("project('m', 'c')\nsubdir('src/codec')\nsubdir('src/ext')\n")
    (tmp_path / "src" / "codec" / "meson.build").write_text("codec = static_library('codec', 'codec.c')\n")
    (tmp_path / "src" / "codec" / "codec.c").write_text(
        "static long trained;\nint codec_train(int level)\n{\n    trained += level;\n    return 0;\n}\n")
    (tmp_path / "src" / "ext" / "meson.build").write_text("py.extension_module('m', 'module.c')\n")
    (tmp_path / "src" / "ext" / "module.c").write_text(
        "#include <Python.h>\nint codec_train(int level);\n"
        "static PyObject *train(PyObject *self, PyObject *arg) { return PyLong_FromLong(codec_train(1)); }\n"
        "static PyMethodDef methods[] = {{\"train\", train, METH_NOARGS, NULL}, {NULL}};\n")
    for paths in ([".",], ["src/codec"], ["src/codec/codec.c"]):
        assert _scan_codes(tmp_path, *paths) == [("src/codec/codec.c", "FT201", 4)], paths


def test_lambdas_registered_in_module_init_run_at_run_time() -> None:
    # pybind11-style: helpers called from registered lambdas (19), a write inside one (41) and a hook
    # stored under a lock and fired later (35) race; a comparator handed to std::sort and a lambda
    # invoked on the spot run during init.
    assert findings("review2/bindings.cpp") == [("FT201", 19), ("FT201", 35), ("FT201", 41)]


def test_a_local_pointer_moved_along_a_global_buffer_still_points_into_it() -> None:
    # `out += n`, `dst = dst + 2`, and a redirect only under an `if` keep the alias.
    assert findings("review2/aliases.c") == [("FT201", 19), ("FT201", 32), ("FT201", 48)]


def test_a_method_call_does_not_name_a_free_function_of_the_same_name(tmp_path: Path) -> None:
    # Module init calls `scratch.reset(...)` on a smart pointer; the C function reset() is called by
    # Python through cffi and races (7).
    (tmp_path / "pkg").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(name='p')\n")
    (tmp_path / "pkg" / "_ffi.py").write_text("from cffi import FFI\nffi = FFI()\nlib = ffi.dlopen(None)\n"
                                               "def reset():\n    lib.reset()\n")
    (tmp_path / "src" / "stats.c").write_text(
        "static long hits;\n\nvoid\nreset(void)\n{\n    /* called through cffi */\n    hits = 0;\n}\n")
    (tmp_path / "src" / "module.cpp").write_text(
        "#include <Python.h>\n#include <memory>\nstruct Buffer {};\nstatic std::unique_ptr<Buffer> scratch;\n"
        "PyMODINIT_FUNC PyInit__m(void)\n{\n    scratch.reset(new Buffer());\n"
        "    static PyModuleDef def = {PyModuleDef_HEAD_INIT, \"_m\"};\n    return PyModule_Create(&def);\n}\n")
    assert _scan_codes(tmp_path, ".") == [("src/stats.c", "FT201", 7)]


@pytest.mark.parametrize("extra", ["src/train.inl", "src/bridge.c++", "pkg/_train.pyx.tp", "link"])
def test_files_the_scan_cannot_read_keep_unnamed_functions_possibly_called(tmp_path: Path, extra: str) -> None:
    project = tmp_path / "unnamed"
    shutil.copytree(FIXTURES / "unnamed", project)
    if extra == "link":  # a linked folder: discovery does not follow it, so its sources are unseen
        (tmp_path / "outside").mkdir()
        (tmp_path / "outside" / "train.c").write_text(
            "int codec_train(int);\nint go(void) { return codec_train(1); }\n")
        (project / "src" / "common").symlink_to(tmp_path / "outside", target_is_directory=True)
    else:
        (project / extra).write_text("codec_train(1);\n")
    assert [row for _, _, row in _scan_codes(project, ".")] == [13, 21, 22, 35, 42]
    # Build outputs are not the project's code: a compiler probe under build/ changes nothing.
    if extra == "src/train.inl":
        (project / extra).unlink()
        (project / "build" / "probe").mkdir(parents=True)
        (project / "build" / "probe" / "CompilerId.c").write_text("int main(void) { return 0; }\n")
        assert [row for _, _, row in _scan_codes(project, ".")] == [13, 35, 42]
