"""Bindings (§2): dependency re-capture, removal by assignment, loops, errors, glitch-free
waves, and bindings made from Python."""

from __future__ import annotations

import logging

import pytest
from app_types import XItem, XRoot

import incore


def test_binding_follows_its_expression(load) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem: {id: level, data: 1.5}
        - XItem: {id: reg, data: !bind level.data * 100.0}
    """)
    level, reg = app.ids["level"], app.ids["reg"]
    assert reg.data == 150.0
    level.data = 2
    assert reg.data == 200.0
    assert reg.binding("data").location == "app.yaml:4"
    assert reg.binding("data").source == "level.data * 100.0"


def test_dependencies_are_recaptured_so_conditionals_work(load, capsys) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem: {id: a, data: 1, flag: true}
        - XItem: {id: b, data: 2}
        - XItem:
            id: c
            data: !bind print("eval") or (a.data if a.flag else b.data)
    """)
    a, b, c = (app.ids[i] for i in "abc")
    assert capsys.readouterr().out.count("eval") == 1
    b.data = 20  # not read on the true branch: no evaluation
    assert capsys.readouterr().out.count("eval") == 0 and c.data == 1
    a.flag = False
    assert c.data == 20
    a.data = 10  # no longer read
    b.data = 30
    assert c.data == 30 and capsys.readouterr().out.count("eval") == 2


def test_assignment_removes_the_binding(load) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem: {id: a, data: 1}
        - XItem: {id: b, data: !bind a.data * 2}
        - XItem: {id: c, data: !bind a.data * 3, onFired: data = n}
    """)
    a, b, c = (app.ids[i] for i in "abc")
    b.data = 5  # from Python
    c.fired.emit(7, "x")  # from a handler (bare assignment)
    a.data = 100
    assert (b.data, c.data) == (5, 7)
    assert b.binding("data") is None and c.binding("data") is None


def test_removal_diagnostic_logs_the_binding_file_line(load, binding_log) -> None:
    app = load(
        """\
    XRoot:
      objects:
        - XItem: {id: a, data: 1}
        - XItem:
            id: b
            data: !bind a.data * 2
    """,
        "plant.yaml",
    )
    app.ids["a"].data = 2
    assert not [r for r in binding_log.records if "removed" in r.getMessage()]
    incore.set_binding_removal_diagnostic(True)
    app.ids["b"].data = 5
    messages = [r.getMessage() for r in binding_log.records if "removed" in r.getMessage()]
    assert messages == ["plant.yaml:6: binding of XItem.data (`a.data * 2`) removed by assignment"]


def test_binding_loop_is_reported_once_with_file_line_and_the_app_goes_on(
    load, binding_log
) -> None:
    app = load(
        """\
    XRoot:
      objects:
        - XItem: {id: a, count: 1}
        - XItem: {id: b, count: !bind a.count + c.count}
        - XItem: {id: c, count: !bind b.count + 1}
    """,
        "loop.yaml",
    )
    a, b, c = (app.ids[i] for i in "abc")
    a.count = 2
    a.count = 3
    loops = [r.getMessage() for r in binding_log.records if "Binding loop" in r.getMessage()]
    assert len(loops) >= 1 and len(set(loops)) == len(loops)
    assert all(m.startswith(("loop.yaml:4: ", "loop.yaml:5: ")) for m in loops)
    assert all(m.endswith('Binding loop detected for property "count"') for m in loops)
    a.count = 10  # still running: the wave ends and values are numbers
    assert isinstance(b.count, int) and isinstance(c.count, int)


def test_a_value_from_the_file_is_a_new_write_not_a_loop(load, binding_log) -> None:
    # Measurement binds displayString to data in its constructor; the file's data (and the
    # timestamp it brings) re-evaluate that binding, which is no loop.
    app = load("""\
    Application:
      objects:
        - Measurement: {id: m, unit: "%", decimals: 1, data: 12.5}
    """)
    assert app.ids["m"].displayString == "12.5 %"
    assert not [r for r in binding_log.records if "Binding loop" in r.getMessage()]


def test_exception_in_binding_is_reported_and_the_value_kept(load, binding_log) -> None:
    app = load(
        """\
    XRoot:
      objects:
        - XItem: {id: a, count: 2}
        - XItem:
            id: b
            data: !bind 1 / a.count
    """,
        "div.yaml",
    )
    a, b = app.ids["a"], app.ids["b"]
    assert b.data == 0.5
    a.count = 0
    assert b.data == 0.5
    errors = [r.getMessage() for r in binding_log.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].startswith("div.yaml:6: ")
    assert "`1 / a.count`" in errors[0] and "ZeroDivisionError" in errors[0]
    a.count = 4
    assert b.data == 0.25  # the binding is still alive


def test_diamond_evaluates_its_bottom_once_per_change_without_glitches(load, capsys) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem: {id: a, count: 1}
        - XItem: {id: b, count: !bind a.count * 2}
        - XItem: {id: c, count: !bind a.count * 3}
        - XItem:
            id: d
            count: !bind print("d", a.count, b.count, c.count) or b.count + c.count
    """)
    a, d = app.ids["a"], app.ids["d"]
    capsys.readouterr()
    for value in (2, 3, 7):
        a.count = value
        seen = [line.split()[1:] for line in capsys.readouterr().out.splitlines()]
        assert seen == [[str(value), str(2 * value), str(3 * value)]]
        assert d.count == 5 * value


def test_writing_the_current_value_emits_no_change(load, capsys) -> None:
    app = load("""\
    XRoot:
      objects:
        - XItem:
            id: a
            count: 1
            onCountChanged: print("changed", value)
    """)
    a = app.ids["a"]
    a.count = 1
    a.count = 2
    a.count = 2
    assert capsys.readouterr().out.splitlines() == ["changed 2"]


def test_python_api_binds_expressions_in_the_file_scope(load) -> None:
    app = load("XRoot:\n  objects:\n    - XItem: {id: a, count: 2}\n    - XItem: {id: b}\n")
    b = app.ids["b"]
    b.bind("count", "a.count * 2 + len(label)")
    b.label = "xy"
    app.ids["a"].count = 5
    assert b.count == 12


def test_python_api_binds_with_a_scope_or_by_object_ids() -> None:
    root = XRoot()
    a = XItem(root, objectId="a", count=3)
    b = XItem(root)
    b.bind("count", "a.count + 1")
    c = XItem()
    c.bind("data", "src.count / 2", scope={"src": a})
    a.count = 9
    assert (b.count, c.data) == (10, 4.5)
    with pytest.raises(ValueError, match="unknown name 'nobody'"):
        c.bind("data", "nobody.count")


def test_shared_shape_bindings_keep_their_own_ids(load) -> None:
    lines = "\n".join(
        f"    - XItem: {{id: s{i}, count: {i}}}\n"
        f"    - XItem: {{id: t{i}, count: !bind s{i}.count * 10}}"
        for i in range(4)
    )
    app = load(f"XRoot:\n  objects:\n{lines}\n")
    assert [app.ids[f"t{i}"].count for i in range(4)] == [0, 10, 20, 30]
    app.ids["s2"].count = 5
    assert [app.ids[f"t{i}"].count for i in range(4)] == [0, 10, 50, 30]
    fns = {app.ids[f"t{i}"].binding("count").fn.func for i in range(4)}
    assert len(fns) == 1  # compiled once
