"""Bindings: capture, glitch-free waves, loops, errors, removal on assignment."""

import logging

from incore.core import Object, Property, binding_removed, set_binding_removal_diagnostic


class Node(Object):
    a = Property(float, 0.0)
    b = Property(float, 0.0)
    c = Property(float, 0.0)
    d = Property(float, 0.0)
    flag = Property(bool, False)


def test_dependencies_are_recaptured_on_every_evaluation():
    n = Node()
    n.bind("d", lambda: n.a if n.flag else n.b)
    n.b = 2
    assert n.d == 2.0
    n.a = 1  # not a dependency yet
    assert n.d == 2.0
    n.flag = True
    assert n.d == 1.0
    n.b = 7  # no longer a dependency
    assert n.d == 1.0
    n.a = 3
    assert n.d == 3.0
    assert n.binding("d").deps == [(n, "flag"), (n, "a")]


def test_diamond_is_evaluated_once_per_change_and_never_mixed():
    n = Node()
    seen = []
    n.bind("b", lambda: n.a + 1)
    n.bind("c", lambda: n.a * 2)

    def bottom():
        seen.append((n.a, n.b, n.c))
        return n.b + n.c

    n.bind("d", bottom)
    seen.clear()
    n.a = 10
    assert seen == [(10.0, 11.0, 20.0)]
    assert n.d == 31.0


def test_diamond_over_objects_created_out_of_order():
    top, left, right, bottom = Node(), Node(), Node(), Node()
    evaluations = []
    bottom.bind("a", lambda: evaluations.append(1) or left.a + right.a)
    left.bind("a", lambda: top.a + 1)
    right.bind("a", lambda: left.a * 2)  # right depends on left: three levels
    evaluations.clear()
    top.a = 1
    assert evaluations == [1]
    assert bottom.a == 2.0 + 4.0


def test_handlers_see_a_settled_state():
    n = Node()
    n.bind("b", lambda: n.a + 1)
    n.bind("c", lambda: n.b + 1)
    seen = []
    n.bChanged.connect(lambda v: seen.append((v, n.c)))
    n.a = 1
    assert seen == [(2.0, 3.0)]


def test_assignment_removes_binding_and_diagnostic_names_location(caplog):
    n = Node()
    n.bind("b", lambda: n.a * 2, location="plant.yaml:7", source="a * 2")
    removed = []
    binding_removed.connect(lambda sender, **kw: removed.append(kw["name"]), weak=False)
    set_binding_removal_diagnostic(True)
    try:
        with caplog.at_level(logging.WARNING):
            n.b = 5
    finally:
        set_binding_removal_diagnostic(False)
        binding_removed.receivers.clear()
    n.a = 100
    assert n.b == 5.0
    assert removed == ["b"]
    assert "plant.yaml:7: binding of Node.b (`a * 2`) removed by assignment" in caplog.text


def test_self_dependent_binding_reports_loop_once_and_keeps_running(caplog):
    n = Node()
    with caplog.at_level(logging.WARNING):
        n.bind("a", lambda: n.a + 1, location="app.yaml:3")
        n.bind("b", lambda: n.a)
    assert caplog.text.count('app.yaml:3: Binding loop detected for property "a"') == 1
    n.c = 1  # the app keeps running
    assert n.b == n.a


def test_two_binding_cycle_is_reported_not_infinite(caplog):
    n = Node()
    with caplog.at_level(logging.WARNING):
        n.bind("a", lambda: n.b + 1)
        n.bind("b", lambda: n.a + 1)
    assert "Binding loop detected for property" in caplog.text


def test_exception_in_binding_keeps_last_value(caplog):
    n = Node()
    n.bind("b", lambda: 10 / n.a if n.a != 5 else 1 / 0, location="f.yaml:9", source="10 / a")
    n.a = 2
    assert n.b == 5.0
    with caplog.at_level(logging.ERROR):
        n.a = 5
    assert n.b == 5.0
    assert 'f.yaml:9: Error in binding `10 / a` for property "b": ZeroDivisionError' in caplog.text
    n.a = 10
    assert n.b == 1.0


def test_handler_writes_are_queued_not_recursed():
    n = Node()
    n.aChanged.connect(lambda v: setattr(n, "a", v + 1) if v < 5000 else None)
    n.a = 1  # 5000 nested handler writes would overflow the stack if recursed
    assert n.a == 5000.0


def test_unbind_keeps_value():
    n = Node()
    n.bind("b", lambda: n.a + 1)
    n.unbind("b")
    n.a = 3
    assert n.b == 1.0


def test_binding_over_an_input_that_has_not_arrived_waits_quietly(caplog):
    class Var(Object):
        data = Property(object, None)

    v, n = Var(), Node()
    with caplog.at_level(logging.ERROR):
        n.bind("b", lambda: v.data * 100)
    assert caplog.text == "" and n.b == 0.0
    v.data = 2
    assert n.b == 200.0
    with caplog.at_level(logging.ERROR):
        v.data = "x"  # a real type error is still reported
    assert 'Error for property "b"' in caplog.text
