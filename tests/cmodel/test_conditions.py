"""evaluate_condition and Tri: three-valued #if evaluation against a Target."""

from __future__ import annotations

import pytest

from ftaudit.cmodel import Tri, evaluate_condition
from ftaudit.target import Target, parse_target

FT313 = parse_target("3.13t")
GIL312 = parse_target("3.12")
FT314 = parse_target("3.14t")


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        ("PY_VERSION_HEX >= 0x030D0000", FT313, Tri.YES),
        ("PY_VERSION_HEX >= 0x030D0000", GIL312, Tri.NO),
        ("PY_VERSION_HEX >= 0x030d00a4", FT313, Tri.YES),  # a 3.13 pre-release check holds for 3.13
        ("PY_VERSION_HEX < 0x030E0000", FT313, Tri.YES),
        ("PY_VERSION_HEX > 0x030D0000", FT313, Tri.YES),
        ("PY_VERSION_HEX <= 0x030C00F0", FT313, Tri.NO),
        ("PY_VERSION_HEX == 0x030D0000", FT313, Tri.NO),
        ("PY_VERSION_HEX != 0x030D0000", FT313, Tri.YES),
        ("PY_VERSION_HEX >= 0x030D0100", FT313, Tri.MAYBE),  # 3.13.1+: depends on the micro release
        ("PY_VERSION_HEX >= 51183616", FT313, Tri.YES),  # decimal 0x030D0000
        ("PY_MAJOR_VERSION >= 3 && PY_MINOR_VERSION >= 13", FT313, Tri.YES),
        ("PY_MAJOR_VERSION == 3 && PY_MINOR_VERSION < 12", FT313, Tri.NO),
        ("defined(Py_GIL_DISABLED)", FT313, Tri.YES),
        ("defined Py_GIL_DISABLED", GIL312, Tri.NO),
        ("!defined(Py_GIL_DISABLED)", FT313, Tri.NO),
        ("Py_GIL_DISABLED", FT313, Tri.YES),
        ("defined(Py_LIMITED_API)", FT313, Tri.NO),
        ("Py_LIMITED_API+0 >= 0x030D0000", FT313, Tri.NO),
        ("defined(Py_LIMITED_API)", Target((3, 12), False, limited_api=True), Tri.YES),
        ("Py_LIMITED_API+0 >= 0x030D0000", Target((3, 12), False, limited_api=True), Tri.NO),
        ("Py_LIMITED_API+0 >= 0x030A0000", Target((3, 13), False, limited_api=True), Tri.MAYBE),
        ("defined(PYPY_VERSION)", FT313, Tri.NO),
        ("!defined(PYPY_VERSION) && PY_VERSION_HEX >= 0x030D0000", FT313, Tri.YES),
        ("defined(Py_mod_gil)", FT313, Tri.YES),
        ("defined(Py_mod_gil)", GIL312, Tri.NO),
        ("defined(Py_BEGIN_CRITICAL_SECTION)", FT313, Tri.YES),
        ("defined(Py_BEGIN_CRITICAL_SECTION_MUTEX)", FT313, Tri.NO),
        ("defined(Py_BEGIN_CRITICAL_SECTION_MUTEX)", FT314, Tri.YES),
        ("0", FT313, Tri.NO),
        ("1", FT313, Tri.YES),
        ("SOME_PROJECT_FLAG", FT313, Tri.MAYBE),
        ("defined(SOME_PROJECT_FLAG)", FT313, Tri.MAYBE),
        ("defined(SOME_PROJECT_FLAG) && 0", FT313, Tri.NO),  # MAYBE && NO = NO
        ("defined(SOME_PROJECT_FLAG) || 1", FT313, Tri.YES),  # MAYBE || YES = YES
        ("defined(SOME_PROJECT_FLAG) && 1", FT313, Tri.MAYBE),
        ("!(defined(Py_GIL_DISABLED) && PY_VERSION_HEX < 0x030D0000)", FT313, Tri.YES),
        ("(PY_VERSION_HEX >= 0x030D0000) ? 1 : 0", FT313, Tri.YES),
        ("__has_include(<foo.h>)", FT313, Tri.MAYBE),
        ("this is not C ((", FT313, Tri.MAYBE),
        ("", FT313, Tri.MAYBE),
    ],
)
def test_evaluate_condition(text: str, target: Target, expected: Tri) -> None:
    assert evaluate_condition(text, target) is expected


def test_defines_override_knowledge() -> None:
    assert evaluate_condition("defined(__cplusplus)", FT313, {"__cplusplus": None}) is Tri.NO
    assert evaluate_condition("__cplusplus >= 201103", FT313, {"__cplusplus": 201703}) is Tri.YES
    assert evaluate_condition("defined(__cplusplus)", FT313) is Tri.MAYBE


def test_tri_logic_and_no_truthiness() -> None:
    assert (Tri.MAYBE & Tri.NO) is Tri.NO
    assert (Tri.MAYBE & Tri.YES) is Tri.MAYBE
    assert (Tri.MAYBE | Tri.YES) is Tri.YES
    assert (Tri.NO | Tri.NO) is Tri.NO
    assert ~Tri.MAYBE is Tri.MAYBE
    assert ~Tri.YES is Tri.NO
    with pytest.raises(TypeError):
        bool(Tri.YES)
