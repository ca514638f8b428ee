"""Question 6: locks, critical sections and detached thread state at each statement."""

from __future__ import annotations

from cmodel_helpers import node_at

from ftaudit.target import parse_target

FT313 = parse_target("3.13t")
GIL312 = parse_target("3.12")


def state(u, needle: str, occurrence: int = 0):  # type: ignore[no-untyped-def]
    return u.lock_state(node_at(u, needle, occurrence))


def test_pymutex_statement_order(unit) -> None:
    u = unit("""\
    static PyMutex m;
    static int counter;
    static void bump(void) {
        before();
        PyMutex_Lock(&m);
        counter++;
        PyMutex_Unlock(&m);
        after();
    }
    """)
    assert not state(u, "before").locked
    assert state(u, "counter++").held == ("m",)
    assert state(u, "counter++").locked
    assert not state(u, "after").locked
    assert state(u, "counter++").critical_sections == ()


def test_lock_taken_in_one_branch_is_not_held_after_join(unit) -> None:
    u = unit("""\
    static void f(int c) {
        if (c) {
            pthread_mutex_lock(&mu);
            inside();
        }
        joined();
        if (c) { EnterCriticalSection(&cs); } else { EnterCriticalSection(&cs); }
        both();
    }
    """)
    assert state(u, "inside").held == ("mu",)
    assert state(u, "joined").held == ()
    assert state(u, "both").held == ("cs",)


def test_early_goto_and_return_out_of_locked_region(unit) -> None:
    u = unit("""\
    static int f(PyObject *self, int c) {
        PyThread_acquire_lock(lock, WAIT_LOCK);
        if (c < 0) {
            PyThread_release_lock(lock);
            goto error;
        }
        if (c == 0) {
            PyThread_release_lock(lock);
            return 0;
        }
        still_locked();
        PyThread_release_lock(lock);
        unlocked();
        return 1;
    error:
        at_error();
        return -1;
    }
    """)
    assert state(u, "still_locked").held == ("lock",)
    assert not state(u, "unlocked").locked
    assert not state(u, "at_error").locked


def test_goto_while_locked_reaches_label_locked(unit) -> None:
    u = unit("""\
    static int f(int c) {
        PyMutex_Lock(&m);
        if (c) goto done;
        work();
    done:
        PyMutex_Unlock(&m);
        return 0;
    }
    """)
    assert state(u, "PyMutex_Unlock").held == ("m",)


def test_critical_sections(unit) -> None:
    u = unit("""\
    static PyObject *f(PyObject *self, PyObject *other) {
        Py_BEGIN_CRITICAL_SECTION(self);
        one();
        Py_END_CRITICAL_SECTION();
        Py_BEGIN_CRITICAL_SECTION2(self, other);
        two();
        if (bad) {
            return NULL;
        }
        Py_END_CRITICAL_SECTION2();
        Py_BEGIN_CRITICAL_SECTION_MUTEX(&state->mutex);
        three();
        Py_END_CRITICAL_SECTION();
        none();
        Py_BEGIN_CRITICAL_SECTION2(self, other);
        mismatched();
        Py_END_CRITICAL_SECTION();
        return NULL;
    }
    """)
    assert state(u, "one").critical_sections == ("self",)
    assert state(u, "two").critical_sections == ("self", "other")
    assert state(u, "three").critical_sections == ("state->mutex",)
    assert not state(u, "none").locked
    regions = u.critical_sections
    assert [(r.kind, r.end_kind, r.objects, r.matched) for r in regions] == [
        ("1", "1", ("self",), True),
        ("2", "2", ("self", "other"), True),
        ("mutex", "1", ("state->mutex",), True),
        ("2", "1", ("self", "other"), False),
    ]
    assert all(r.function == "f" and r.block.type == "compound_statement" for r in regions)
    assert u.text(regions[0].begin) == "Py_BEGIN_CRITICAL_SECTION(self)"
    assert u.line_of(regions[1].end.start_byte) == 10


def test_critical_section_without_end_and_stray_end(unit) -> None:
    u = unit("""\
    static void f(PyObject *o) {
        {
            Py_BEGIN_CRITICAL_SECTION(o);
            inside();
        }
        after_block();
        Py_END_CRITICAL_SECTION();
    }
    """)
    (region,) = u.critical_sections
    assert region.end is None and not region.matched
    assert state(u, "inside").critical_sections == ("o",)
    assert not state(u, "after_block").locked  # the section's braces close with the block
    assert [u.text(n) for n in u.stray_critical_section_ends] == ["Py_END_CRITICAL_SECTION()"]


def test_critical_section_macros_without_semicolons(unit) -> None:
    u = unit("""\
    static int f(PyObject *o) {
        int x;
        Py_BEGIN_CRITICAL_SECTION(o)
        x = 1;
        Py_END_CRITICAL_SECTION()
        return x;
    }
    """)
    assert not u.has_errors
    assignment = node_at(u, "x = 1")
    assert assignment.type in ("assignment_expression", "expression_statement")
    assert state(u, "x = 1").critical_sections == ("o",)
    assert not state(u, "return x").locked
    (region,) = u.critical_sections
    assert (region.kind, region.end_kind, region.objects) == ("1", "1", ("o",))


def test_allow_threads_macros_and_block_unblock(unit) -> None:
    u = unit("""\
    static int f(int x) {
        int r;
        Py_BEGIN_ALLOW_THREADS
        r = compute(x);
        Py_BLOCK_THREADS
        PyErr_SetString(PyExc_ValueError, "x");
        Py_UNBLOCK_THREADS
        more();
        Py_END_ALLOW_THREADS
        return PyLong_FromLong(r);
    }
    """)
    assert state(u, "compute").allow_threads
    assert not state(u, "PyErr_SetString").allow_threads
    assert state(u, "more").allow_threads
    assert not state(u, "PyLong_FromLong").allow_threads
    assert not state(u, "compute").locked
    (region,) = u.allow_threads_regions
    assert (region.kind, region.function, u.line_of(region.begin_offset), u.line_of(region.end_offset)) == (
        "macro",
        "f",
        3,
        9,
    )


def test_save_restore_thread(unit) -> None:
    u = unit("""\
    static void f(void) {
        PyThreadState *save = PyEval_SaveThread();
        blocking_io();
        PyEval_RestoreThread(save);
        PyObject_Print(o, stdout, 0);
    }
    """)
    assert state(u, "blocking_io").allow_threads
    assert not state(u, "PyObject_Print").allow_threads
    (region,) = u.allow_threads_regions
    assert (region.kind, u.text(region.begin), u.text(region.end)) == (
        "save-restore",
        "PyEval_SaveThread()",
        "PyEval_RestoreThread(save)",
    )


def test_locks_under_ifdef_follow_the_target(unit) -> None:
    src = """\
    static void f(void) {
    #ifdef Py_GIL_DISABLED
        PyMutex_Lock(&m);
    #endif
        touch();
    #ifdef Py_GIL_DISABLED
        PyMutex_Unlock(&m);
    #endif
    }
    """
    assert state(unit(src, target=FT313), "touch").held == ("m",)
    assert state(unit(src, target=GIL312), "touch").held == ()


def test_loops_and_switch(unit) -> None:
    u = unit("""\
    static void f(int n) {
        for (int i = 0; i < n; i++) {
            pthread_mutex_lock(&mu);
            body();
            pthread_mutex_unlock(&mu);
        }
        after_loop();
        pthread_rwlock_wrlock(&rw);
        switch (n) {
        case 0:
            zero();
            break;
        default:
            pthread_rwlock_unlock(&rw);
            other();
        }
        after_switch();
    }
    """)
    assert state(u, "body").held == ("mu",)
    assert state(u, "after_loop").held == ()
    assert state(u, "zero").held == ("rw",)
    assert state(u, "other").held == ()
    assert state(u, "after_switch").held == ()


def test_cpp_raii_guards(unit) -> None:
    u = unit(
        """\
    #include <mutex>
    static std::mutex mu;
    void f(bool c) {
        {
            std::lock_guard<std::mutex> guard(mu);
            guarded();
        }
        unguarded();
        std::unique_lock<std::mutex> lk(mu, std::defer_lock);
        deferred();
        lk.lock();
        relocked();
        lk.unlock();
        released();
        mu.lock();
        direct();
        mu.unlock();
        std::scoped_lock both{a, b};
        scoped();
    }
    """,
        path="m.cpp",
    )
    assert state(u, "guarded").held == ("mu",)
    assert state(u, "unguarded").held == ()
    assert state(u, "deferred").held == ()
    assert state(u, "relocked").held == ("mu",)
    assert state(u, "released").held == ()
    assert state(u, "direct").held == ("mu",)
    assert state(u, "scoped()").held == ("a", "b")


def test_project_raii_guard_types_with_a_t_suffix(unit) -> None:
    u = unit(
        """\
    static zmq::mutex_t tick_mutex;
    unsigned long ticks() {
        zmq::scoped_lock_t locker(tick_mutex);
        static unsigned long wraps = 0;
        wraps++;
        return wraps;
    }
    """,
        path="clock.cpp",
    )
    assert state(u, "wraps++").held == ("tick_mutex",)


def test_atomic_calls(unit) -> None:
    u = unit(
        """\
    #include <atomic>
    static std::atomic<int> counter;
    static int plain;
    struct Box { int load() const; } box;
    void f() {
        counter.fetch_add(1);
        box.load();
        atomic_fetch_add(&plain, 1);
        __atomic_load_n(&plain, __ATOMIC_SEQ_CST);
        _Py_atomic_load_int(&plain);
        InterlockedIncrement(&plain);
        regular(plain);
    }
    """,
        path="m.cpp",
    )
    verdicts = {c.name: u.is_atomic_call(c) for c in u.calls}
    assert verdicts == {
        "counter.fetch_add": True,
        "box.load": False,
        "atomic_fetch_add": True,
        "__atomic_load_n": True,
        "_Py_atomic_load_int": True,
        "InterlockedIncrement": True,
        "regular": False,
    }


def test_same_file_lock_macros_and_all_caps_lock_macros(unit) -> None:
    u = unit("""
        static PyMutex lapack_lock;
        #define LOCK_LAPACK PyMutex_Lock(&lapack_lock)
        #define UNLOCK_LAPACK PyMutex_Unlock(&lapack_lock)
        #define TAKE(m) pthread_mutex_lock(&(m))
        #define GIVE(m) pthread_mutex_unlock(&(m))
        static long n;
        static int f(void) {
            LOCK_LAPACK;
            n = 1;
            UNLOCK_LAPACK;
            TAKE(table_lock);
            n = 2;
            GIVE(table_lock);
            MUTEX_LOCK(&arena.mutex);
            n = 3;
            MUTEX_UNLOCK(&arena.mutex);
            n = 4;
            return 0;
        }
    """)
    held = {}
    for number in (1, 2, 3, 4):
        node = node_at(u, f"n = {number}")
        held[number] = u.lock_state(node).held
    assert held == {1: ("lapack_lock",), 2: ("table_lock",), 3: ("arena.mutex",), 4: ()}


def test_trashcan_block_is_not_a_detached_region(unit) -> None:
    u = unit("""
        static void dealloc(PyObject *self) {
            PyObject_GC_UnTrack(self);
            Py_TRASHCAN_BEGIN(self, dealloc)
                PyObject_ClearWeakRefs(self);
            Py_TYPE(self)->tp_free(self);
            Py_TRASHCAN_END
        }
    """)
    assert u.allow_threads_regions == []
    assert u.lock_state(node_at(u, "PyObject_ClearWeakRefs")).allow_threads is False


def test_same_file_lock_helpers_and_platform_alternatives(unit) -> None:
    u = unit("""
        static pthread_mutex_t table_lock;
        static long n;
        static void lock_table(void) {
        #ifndef _WIN32
            pthread_mutex_lock(&table_lock);
        #else
            EnterCriticalSection(&table_cs);
        #endif
        }
        static void unlock_table(void) {
            pthread_mutex_unlock(&table_lock);
        }
        static int f(void) {
            lock_table();
            n = 1;
            unlock_table();
            n = 2;
            return 0;
        }
    """)
    assert u.lock_state(node_at(u, "n = 1")).locked
    assert not u.lock_state(node_at(u, "n = 2")).locked
