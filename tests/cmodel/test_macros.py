"""Question 7: #define records and macro bodies parsed at their real offsets."""

from __future__ import annotations


def test_macro_records(unit) -> None:
    u = unit("""\
    #define CODE(f) ((f)->f_code)
    #define LIMIT 10
    #define MULTI(a, b) \\
        do { (a)->f_back = (b); } while (0)
    #ifdef Py_GIL_DISABLED
    #define LOCKED 1
    #else
    #define LOCKED 0
    #endif
    """)
    code = u.macros["CODE"]
    assert (code.params, code.body, code.line) == (("f",), "((f)->f_code)", 1)
    assert u.source[code.body_offset : code.body_offset + 4] == b"((f)"
    assert code.node is not None and code.node.type == "preproc_function_def"
    limit = u.macros["LIMIT"]
    assert (limit.params, limit.body, limit.is_function_like) == (None, "10", False)
    assert u.macros["MULTI"].params == ("a", "b")
    assert " ".join(u.macros["MULTI"].body.split()) == "do { (a)->f_back = (b); } while (0)"
    assert [m.body for m in u.macro_definitions["LOCKED"]] == ["1", "0"]
    assert [g.kind for g in u.macros["LOCKED"].guards] == ["ifdef"]


def _find(node, kind):  # type: ignore[no-untyped-def]
    if node.type == kind:
        return node
    for child in node.named_children:
        found = _find(child, kind)
        if found is not None:
            return found
    return None


def test_body_tree_reports_at_file_offsets(unit) -> None:
    u = unit("""\
    static int x;
    #define CODE(f) ((f)->f_code)
    #define SET_BACK(a, b) \\
        do { (a)->f_back = (b); } while (0)
    """)
    code = u.macros["CODE"]
    field = _find(code.body_tree().root_node, "field_expression")
    assert field is not None
    assert u.source[field.start_byte : field.end_byte] == b"(f)->f_code"
    assert u.line_of(field.start_byte) == 2
    assert code.body_tree() is code.body_tree()  # cached
    back = _find(u.macros["SET_BACK"].body_tree().root_node, "field_expression")
    assert u.source[back.start_byte : back.end_byte] == b"(a)->f_back"
    assert u.line_of(back.start_byte) == 4
    assert [n.type for n in u.macros["SET_BACK"].body_nodes()] == ["do_statement"]
