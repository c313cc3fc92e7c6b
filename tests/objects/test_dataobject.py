"""DataObject and Measurement: change only on real change, timestamps, data types, display."""

from __future__ import annotations

import datetime as dt

import pytest

from incore.core import Object, Property
from incore.objects.foundation import DataObject, DataType, Measurement
from incore.objects.foundation import data as data_module


@pytest.fixture
def clock(monkeypatch):
    """A settable millisecond clock for timestamps."""
    now = [1_000]
    monkeypatch.setattr(data_module, "now_ms", lambda: now[0])
    return now


def test_data_changed_fires_only_on_real_change_but_timestamp_on_every_write(clock):
    d = DataObject()
    changes, stamps = [], []
    d.dataChanged.connect(changes.append)
    d.timestampChanged.connect(stamps.append)
    d.data = 5
    clock[0] = 2_000
    d.data = 5
    assert changes == [5]
    assert stamps == [1_000, 2_000]
    assert d.timestamp == 2_000


def test_a_binding_write_updates_the_timestamp(clock):
    class Source(Object, register=False):
        value = Property(int, 1)

    src = Source()
    d = DataObject()
    d.bind("data", lambda: src.value * 10)  # data is `var`: a callable would be a value
    assert d.data == 10 and d.timestamp == 1_000
    clock[0] = 3_000
    src.value = 2
    assert d.data == 20 and d.timestamp == 3_000


def test_touch_sets_the_timestamp_without_writing_data(clock):
    d = DataObject(data="x")
    changes = []
    d.dataChanged.connect(changes.append)
    clock[0] = 5_000
    d.touch()
    assert d.timestamp == 5_000 and changes == []


def test_timestamp_is_read_only_and_wall_clock_milliseconds():
    d = DataObject(data=1)
    with pytest.raises(AttributeError, match="read-only"):
        d.timestamp = 0
    assert abs(d.timestamp - dt.datetime.now().timestamp() * 1000) < 60_000


def test_enum_values_are_class_attributes_and_accept_names():
    assert DataObject.Float is DataType.Float and DataObject.Float == 5
    assert DataObject(dataType="UnsignedSmallInteger").dataType is DataType.UnsignedSmallInteger
    assert DataObject(dataType="DataObject.String").dataType is DataType.String
    assert [m.name for m in DataType][:4] == ["Invalid", "Boolean", "Date", "Time"]
    assert len(DataType) == 15


@pytest.mark.parametrize(
    "data_type, given, stored",
    [
        ("Float", 5, 5.0),
        ("Double", 2.5, 2.5),
        ("Boolean", 1, True),
        ("SignedInteger", 7.0, 7),
        ("UnsignedBigInteger", 2**64 - 1, 2**64 - 1),
        ("String", 3.5, "3.5"),
        ("StringList", ("a", "b"), ["a", "b"]),
        ("Date", "2024-05-01", dt.date(2024, 5, 1)),
        ("Time", "12:30:05", dt.time(12, 30, 5)),
        ("DateTime", "2024-05-01T12:30:00", dt.datetime(2024, 5, 1, 12, 30)),
        ("Invalid", {"any": "thing"}, {"any": "thing"}),
        ("Float", None, None),
    ],
)
def test_data_type_converts_data(data_type, given, stored):
    d = DataObject(dataType=data_type, data=given)
    assert d.data == stored and type(d.data) is type(stored)


@pytest.mark.parametrize(
    "data_type, bad, message",
    [
        ("Float", "abc", r"expects a number \(dataType Float\), got str 'abc'"),
        ("Boolean", 2, r"expects a bool"),
        ("SignedSmallInteger", 40_000, r"expects an integer in -32768\.\.32767"),
        ("UnsignedInteger", -1, r"expects an integer in 0\.\.4294967295"),
        ("SignedInteger", 1.5, r"expects an integer"),
        ("Date", "yesterday", r"expects a date"),
    ],
)
def test_data_that_does_not_fit_the_type_is_refused_and_the_old_value_kept(data_type, bad, message):
    d = DataObject(dataType=data_type)
    with pytest.raises((TypeError, ValueError), match=message):
        d.data = bad
    assert d.data is None


def test_setting_the_type_after_the_data_converts_it():
    d = DataObject(data=5, dataType="Double")
    assert d.data == 5.0 and isinstance(d.data, float)
    d.data = 5  # now the same value: no change
    changes = []
    d.dataChanged.connect(changes.append)
    d.data = 5
    assert changes == []


def test_a_type_that_the_data_does_not_fit_keeps_the_data(caplog):
    d = DataObject(data="text")
    d.dataType = DataObject.Float
    assert d.data == "text"
    assert "data kept as it is" in caplog.text


def test_measurement_display_string_follows_data_decimals_and_unit():
    m = Measurement(data=21.456, unit="°C", decimals=1)
    assert m.displayString == "21.5 °C"
    shown = []
    m.displayStringChanged.connect(shown.append)
    m.decimals = 3
    m.unit = "K"
    m.data = 2
    assert shown == ["21.456 °C", "21.456 K", "2.000 K"]
    assert Measurement().displayString == ""
    assert Measurement(data="n/a", unit="bar").displayString == "n/a bar"
    assert Measurement(data=True).displayString == "true"
    assert Measurement(data=3.14159).displayString == "3.14"  # two decimals by default


def test_measurement_display_string_follows_internal_updates_and_is_read_only():
    m = Measurement(unit="bar", decimals=0)
    m._update("data", 4.6)  # how a driver stores a value read from a device
    assert m.displayString == "5 bar"
    with pytest.raises(AttributeError, match="read-only"):
        m.displayString = "x"
    assert "displayString" not in m.serializeProperties()


def test_measurement_is_a_data_object():
    m = Measurement(dataType="Float", data=1)
    assert isinstance(m, DataObject) and m.data == 1.0
    assert "Polling" in DataObject.accepts
