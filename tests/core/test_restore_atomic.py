"""State restore (fromJson / deserializeProperties) is all or nothing, for the whole tree."""

from __future__ import annotations

import json
import logging

import pytest

from incore.core import Object, Property
from incore.objects.foundation import DataObject, Measurement, ObjectArray


def plant() -> ObjectArray:
    """plant: a DataObject `mode` and a group `tank` holding the Measurement `level`."""
    return ObjectArray(
        objectId="plant",
        objects=[
            DataObject(objectId="mode", data="auto", name="Mode"),
            ObjectArray(
                objectId="tank",
                objects=[
                    Measurement(objectId="level", data=1.5, dataType="Float", unit="m"),
                ],
            ),
        ],
    )


def test_a_bad_value_changes_none_of_the_good_ones():
    m = Measurement(data=2.0, unit="bar")
    with pytest.raises(TypeError, match=r"^Measurement\.unit expects a string, got int 5$"):
        m.fromJson('{"data": "abc", "unit": 5}')
    assert (m.data, m.unit, m.displayString) == (2.0, "bar", "2.00 bar")


def test_a_bad_value_deep_in_the_tree_leaves_parent_and_siblings_untouched():
    tree = plant()
    mode, tank = tree.children()
    (level,) = tank.children()
    mode.bind("name", lambda: f"Mode of {level.unit}")
    stamp = mode.timestamp
    before = tree.serializeProperties()
    state = json.loads(tree.toJson())
    state["objectId"] = "renamed"
    state["objects"][0].update(data="manual", name="Betrieb")
    state["objects"][1]["objects"][0].update(unit="cm", data="high")  # not a Float
    with pytest.raises(TypeError) as failure:
        tree.deserializeProperties(state)
    assert str(failure.value) == (
        "objects[1].objects[0]: Measurement.data expects a number (dataType Float), got str 'high'"
    )
    assert tree.serializeProperties() == before
    assert mode.binding("name") is not None and mode.timestamp == stamp
    level.unit = "mm"
    assert mode.name == "Mode of mm"  # the binding still follows


def test_a_child_state_that_is_not_a_mapping_changes_nothing():
    tree = plant()
    before = tree.serializeProperties()
    with pytest.raises(TypeError, match=r"^objects\[1\]: expected a mapping of properties"):
        tree.fromJson('{"objectId": "other", "objects": [{"data": "manual"}, 7]}')
    assert tree.serializeProperties() == before


def test_data_is_checked_against_the_data_type_the_same_state_sets():
    m = Measurement(dataType="Boolean", data=True)
    m.fromJson('{"data": 1.5, "dataType": "Float"}')  # data first, as toJson writes it
    assert (m.data, m.dataType) == (1.5, DataObject.Float)
    text = Measurement(dataType="Double", data=5.0).toJson()
    again = Measurement(dataType="String", data="x")
    again.fromJson(text)
    assert again.data == 5.0 and isinstance(again.data, float)
    assert again.dataType == DataObject.Double
    with pytest.raises(
        TypeError,
        match=r"^Measurement\.data expects a number \(dataType "
        r"Float\), got str 'x'$",
    ):
        m.fromJson('{"data": "x", "unit": "K", "dataType": "Float"}')
    with pytest.raises(ValueError, match=r"^Measurement\.data expects an integer in 0\.\.65535"):
        m.fromJson('{"dataType": "UnsignedSmallInteger", "data": 70000}')
    assert (m.data, m.dataType, m.unit) == (1.5, DataObject.Float, "")


def test_unknown_keys_are_logged_and_the_rest_restored(caplog):
    caplog.set_level(logging.WARNING, logger="incore.serialize")
    tree = plant()
    tree.fromJson(
        json.dumps(
            {
                "colour": "red",
                "objects": [
                    {"data": "manual", "nmae": "Betrieb"},
                    {"objects": [{"unit": "cm"}, {"objectId": "pressure", "data": 3.0}]},
                ],
            }
        )
    )
    mode, tank = tree.children()
    assert mode.data == "manual" and tank.children()[0].unit == "cm"
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert messages == [
        "ObjectArray has no property 'colour': skipped",
        "objects[0]: DataObject has no property 'nmae' (did you mean 'name'?): skipped",
        "objects[1].objects[1]: no child of <ObjectArray tank> matches this state "
        "(objectId 'pressure'): skipped",
    ]


class Counter(Object):
    count = Property(int, 0)
    total = Property(int, 0, readonly=True)


def test_read_only_keys_are_skipped_as_toJson_never_writes_them(caplog):
    c = Counter()
    c.fromJson('{"count": 3, "total": 99, "parent": null}')
    assert (c.count, c.total) == (3, 0)
    assert not caplog.records
    with pytest.raises(TypeError, match=r"^Counter\.count expects an integer, got str"):
        c.fromJson('{"count": "4", "total": "not even an int"}')
    assert c.count == 3
