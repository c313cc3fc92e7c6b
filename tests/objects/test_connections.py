"""Connections: handlers on another object's signals, enabled, retargeting, shutdown."""

from __future__ import annotations

import gc

import pytest

from incore.core import Object, Signal
from incore.objects.foundation import Connections, DataObject, Timer


class Pump(Object, register=False):
    started = Signal("speed", "reason")


def test_handlers_follow_the_parent_by_default():
    pump = Pump()
    conn = Connections()
    calls = []
    conn.connect("started", lambda speed, reason: calls.append((speed, reason)))
    pump.appendChild(conn)  # connected before it had a parent: attaches now
    pump.started.emit(50, "manual")
    assert calls == [(50, "manual")]
    assert conn.effectiveTarget is pump


def test_a_handler_gets_only_the_arguments_it_takes():
    pump = Pump(objects=[Connections()])
    conn = pump.children()[0]
    calls = []
    conn.connect("started", lambda speed: calls.append(speed))
    conn.connect("started", lambda: calls.append("no args"))
    pump.started.emit(10, "auto")
    assert calls == [10, "no args"]


def test_enabled_false_mutes_the_handlers():
    d = DataObject(objects=[Connections()])
    conn = d.children()[0]
    calls = []
    conn.connect("dataChanged", calls.append)
    conn.enabled = False
    d.data = 1
    conn.enabled = True
    d.data = 2
    assert calls == [2]


def test_changing_the_target_moves_every_handler():
    a, b = DataObject(), DataObject()
    conn = Connections(target=a)
    calls = []
    conn.connect("dataChanged", lambda v: calls.append(("changed", v)))
    conn.connect("nameChanged", lambda v: calls.append(("name", v)))
    a.data = 1
    conn.target = b
    a.data = 2
    a.name = "a"
    b.data = 3
    b.name = "b"
    assert calls == [("changed", 1), ("changed", 3), ("name", "b")]
    conn.target = None  # back to the parent, of which there is none
    b.data = 4
    assert calls[-1] == ("name", "b")


def test_a_target_without_the_signal_is_an_error_naming_it():
    conn = Connections(target=Timer())
    with pytest.raises(
        AttributeError,
        match=r"Timer has no signal 'trigered' "
        r"\(did you mean 'triggered'\?\)",
    ):
        conn.connect("trigered", print)


def test_retargeting_to_an_object_without_the_signal_warns(caplog):
    conn = Connections(target=Timer())
    conn.connect("triggered", print)
    conn.target = DataObject()
    assert "DataObject has no signal 'triggered'" in caplog.text


def test_disconnect_and_shutdown_detach():
    pump = Pump(objects=[Connections()])
    conn = pump.children()[0]
    calls = []

    def handler(speed):
        calls.append(speed)

    conn.connect("started", handler)
    conn.disconnect("started", handler)
    pump.started.emit(1, "")
    conn.connect("started", handler)
    pump.started.emit(2, "")
    conn.shutdown()
    pump.started.emit(3, "")
    assert calls == [2]
    with pytest.raises(ValueError):
        conn.disconnect("started", print)


def test_a_connection_does_not_keep_a_dropped_connections_object_alive():
    pump = Pump()
    conn = Connections(target=pump)
    calls = []
    conn.connect("started", lambda *a: calls.append(a))
    del conn
    gc.collect()
    pump.started.emit(1, "x")
    assert calls == []


def test_connections_is_a_modifier():
    assert Connections.modifier
