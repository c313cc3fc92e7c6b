"""Regressions found by the consistency property tests, each as its smallest program."""

from __future__ import annotations

from incore.core import Object, Property, Signal
from incore.objects.foundation import DataObject
from incore.objects.foundation import data as data_module


class N(Object, register=False):
    x = Property(float, 0.0)
    a = Property(float, 0.0)
    b = Property(float, 0.0)
    go = Signal()


def in_handler(fn):
    t = N()
    t.go.connect(fn)
    t.go.emit()


def test_bug1_read_in_handler_of_binding_made_before_its_input_was_bound():
    n = N()
    n.bind("b", lambda: -n.a)  # b reads a, not bound yet
    n.bind("a", lambda: n.x + 1)  # a is bound afterwards
    seen = []

    def handler():
        n.x = 5
        seen.append(n.b)

    in_handler(handler)
    assert seen == [-6.0]  # HEAD: [-1.0], the value before the write


def test_bug2_bound_property_changes_written_twice_in_one_handler():
    n = N()
    n.bind("b", lambda: n.a * 10)
    seen = []
    n.bChanged.connect(seen.append)

    def handler():
        n.a = 1
        n.a = 2

    in_handler(handler)
    assert seen == [10.0, 20.0]  # HEAD: [20.0]


def test_bug2_quality_changes_in_one_handler():
    x = DataObject(data=1)
    y = DataObject()
    y.bind("data", lambda: x.data * 10)
    seen = []
    y.qualityChanged.connect(seen.append)

    def handler():
        x._set_quality(DataObject.Bad, "down")
        x._set_quality(DataObject.Good)
        x._set_quality(DataObject.Uncertain, "stale")

    in_handler(handler)
    assert seen == [DataObject.Bad, DataObject.Good, DataObject.Uncertain]  # HEAD: [Uncertain]


def test_bug3_timestamp_handler_runs_before_the_data_change_is_propagated(monkeypatch):
    monkeypatch.setattr(data_module, "now_ms", lambda: 2_000)
    x = DataObject(data=1)
    y = DataObject()
    y.bind("data", lambda: x.data * 10)
    seen = []
    x.timestampChanged.connect(lambda ts: seen.append(y.data))
    monkeypatch.setattr(data_module, "now_ms", lambda: 3_000)
    x.data = 2
    assert seen == [20]  # HEAD: [10]


def test_bug3_one_write_of_data_evaluates_a_binding_twice(monkeypatch):
    monkeypatch.setattr(data_module, "now_ms", lambda: 2_000)
    x = DataObject(data=1)
    calls = []
    z = DataObject()
    z.bind("data", lambda: calls.append(1) or (x.data, x.timestamp))
    calls.clear()
    monkeypatch.setattr(data_module, "now_ms", lambda: 3_000)
    x.data = 2
    assert len(calls) == 1  # HEAD: 2


def test_bug4_touch_is_not_followed(monkeypatch):
    monkeypatch.setattr(data_module, "now_ms", lambda: 1_000)
    x = DataObject(data=1)
    y = DataObject()
    y.bind("data", lambda: x.data * 10)
    monkeypatch.setattr(data_module, "now_ms", lambda: 5_000)
    x.touch()
    assert y.timestamp == x.timestamp == 5_000  # HEAD: y.timestamp stays 1000
