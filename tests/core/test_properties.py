"""Properties: defaults, conversion, read-only, change signals, connections."""

import enum
import gc

import pytest

from incore.core import Object, Property, Signal


class Mode(enum.IntEnum):
    Off = 0
    On = 1


class Thing(Object):
    Mode = Mode
    level = Property(float, 1.5)
    count = Property(int, 0)
    label = Property(str, "")
    flags = Property(list, [])
    mode = Property(Mode, Mode.Off)
    status = Property(int, 0, readonly=True)
    peer = Property("Thing", None)
    alarm = Signal("level", "text")


def test_defaults_are_per_instance_for_mutable_values():
    a, b = Thing(), Thing()
    a.flags.append(1)
    assert b.flags == []
    assert a.level == 1.5 and a.mode is Mode.Off


def test_keyword_construction_and_unknown_property_suggests_name():
    t = Thing(level=3, label="x")
    assert t.level == 3.0 and isinstance(t.level, float)
    with pytest.raises(TypeError, match=r"has no property 'lable' \(did you mean 'label'\?\)"):
        Thing(lable="x")


def test_conversion_errors_name_the_property():
    t = Thing()
    with pytest.raises(TypeError, match="Thing.count expects an integer"):
        t.count = "3"
    with pytest.raises(TypeError, match="Thing.level expects a number"):
        t.level = True
    with pytest.raises(ValueError, match="unknown Mode 'Of'"):
        t.mode = "Of"
    t.mode = "Thing.On"
    assert t.mode is Mode.On
    t.mode = 0
    assert t.mode is Mode.Off
    assert Thing.On is Mode.On  # enum values are exposed as Type.Name


def test_read_only_and_internal_update():
    t = Thing()
    with pytest.raises(AttributeError, match="Thing.status is read-only"):
        t.status = 1
    seen = []
    t.statusChanged.connect(seen.append)
    t._update("status", 7)
    assert t.status == 7 and seen == [7]


def test_change_signal_only_on_real_change():
    t = Thing()
    seen = []
    t.levelChanged.connect(seen.append)
    t.level = 1.5
    t.level = 2
    t.level = 2.0
    assert seen == [2.0]


def test_handlers_may_take_fewer_arguments_than_the_signal():
    t = Thing()
    calls = []
    t.alarm.connect(lambda: calls.append("none"))
    t.alarm.connect(lambda level: calls.append(level))
    t.alarm.connect(lambda level, text: calls.append((level, text)))
    t.alarm(5, "high")
    assert calls == ["none", 5, (5, "high")]


def test_disconnect():
    t = Thing()
    seen = []
    t.levelChanged.connect(seen.append)
    t.levelChanged.disconnect(seen.append)
    t.level = 9
    assert seen == []
    with pytest.raises(ValueError):
        t.levelChanged.disconnect(seen.append)


def test_bound_method_connection_does_not_keep_receiver_alive():
    class Receiver:
        def __init__(self):
            self.seen = []

        def on_level(self, v):
            self.seen.append(v)

    t = Thing()
    r = Receiver()
    t.levelChanged.connect(r.on_level)
    t.level = 4
    assert r.seen == [4.0]
    del r
    gc.collect()
    assert t._subscribers("level") == []
    t.level = 5  # no error from a dead receiver


def test_reference_property_checks_type():
    a, b = Thing(), Thing()
    a.peer = b
    assert a.peer is b
    with pytest.raises(TypeError, match="expects a Thing reference"):
        a.peer = Object()


def test_children_and_parent():
    root = Thing(objectId="root")
    child = Thing(objectId="c1")
    root.appendChild(child)
    assert child.parent is root and root.children() == (child,)
    other = Thing(objects=[child])
    assert child.parent is other and root.children() == ()
    assert other.findChild("c1") is child


def test_state_round_trip_matches_children_by_object_id():
    root = Thing(
        objectId="r", level=2, objects=[Thing(objectId="a", count=1), Thing(objectId="b", count=2)]
    )
    state = root.serializeProperties()
    copy = Thing(objectId="r", objects=[Thing(objectId="b"), Thing(objectId="a")])
    copy.deserializeProperties(state)
    assert copy.level == 2.0
    assert copy.findChild("a").count == 1 and copy.findChild("b").count == 2
    again = Thing(objects=[Thing(objectId="a"), Thing(objectId="b")])
    again.fromJson(root.toJson())
    assert [c.count for c in again.children()] == [1, 2]


def test_a_class_inheriting_two_property_sets_keeps_them_apart():
    class Left(Object):
        x = Property(int, 1)
        y = Property(int, 2)

    class Right(Object):
        z = Property(str, "z")

    class Both(Left, Right):
        w = Property(float, 4.0)

    b = Both()
    assert (b.x, b.y, b.z, b.w) == (1, 2, "z", 4.0)
    b.z = "changed"
    seen = []
    b.zChanged.connect(seen.append)
    b.x = 10
    b.z = "again"
    assert (b.x, b.y, b.z) == (10, 2, "again") and seen == ["again"]
    assert sorted(p.index for p in Both._prop_list) == list(range(len(Both._prop_list)))
    assert Right().z == "z"  # the base keeps its own layout
