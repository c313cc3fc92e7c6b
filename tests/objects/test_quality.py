"""Quality: a bound data takes the worst quality (with its reason) and the newest timestamp
of the DataObjects whose data it read, follows them when only their quality changes, passes
it down chains, and stops deriving quality once quality is bound or written by the user."""

from __future__ import annotations

import json

import pytest

import incore
from incore.core import Object, Signal, engine
from incore.objects.foundation import DataObject, Measurement
from incore.objects.foundation import data as data_module

GOOD, UNCERTAIN, BAD = DataObject.Good, DataObject.Uncertain, DataObject.Bad


class Trigger(Object, register=False):
    """Runs a function as a handler (inside a wave), as an app's Timer handler runs."""

    fire = Signal()

    def run(self, fn) -> None:
        ran = []
        self.fire.connect(lambda: ran.append(fn()))
        self.fire.emit()
        assert len(ran) == 1, "the handler ran"


@pytest.fixture
def clock(monkeypatch):
    """A settable millisecond clock for timestamps."""
    now = [1_000]
    monkeypatch.setattr(data_module, "now_ms", lambda: now[0])
    return now


@pytest.fixture(autouse=True)
def idle_engine():
    yield
    assert not engine.pending()


def bound(fn) -> DataObject:
    d = DataObject()
    d.bind("data", fn)
    return d


def test_the_enum_and_its_order():
    assert DataObject.Quality.Good is GOOD and int(GOOD) == 0
    assert int(UNCERTAIN) == 1 and int(BAD) == 2
    assert GOOD < UNCERTAIN < BAD
    d = DataObject()
    assert d.quality is GOOD and d.qualityReason == ""


def test_the_worst_input_wins_and_gives_its_reason():
    a, b, c = DataObject(data=1), DataObject(data=2), DataObject(data=3)
    y = bound(lambda: a.data + b.data + c.data)
    assert (y.data, y.quality, y.qualityReason) == (6, GOOD, "")
    b._set_quality(UNCERTAIN, "stale")
    assert (y.data, y.quality, y.qualityReason) == (6, UNCERTAIN, "stale")
    c._set_quality(BAD, "connection refused")
    assert (y.quality, y.qualityReason) == (BAD, "connection refused")
    c._set_quality(GOOD)
    assert (y.quality, y.qualityReason) == (UNCERTAIN, "stale")
    b._set_quality(GOOD)
    assert (y.quality, y.qualityReason) == (GOOD, "")


def test_a_new_reason_alone_flows_on():
    x = DataObject(data=1)
    y = bound(lambda: x.data * 10)
    x._set_quality(BAD, "timeout")
    x._set_quality(BAD, "connection refused")
    assert (y.quality, y.qualityReason) == (BAD, "connection refused")


def test_quality_changes_flow_though_the_data_stays_the_same():
    x = DataObject(data=4)
    y = bound(lambda: x.data * 10)
    values = []
    y.dataChanged.connect(values.append)
    x._set_quality(BAD, "sensor broken")
    assert (y.data, y.quality, y.qualityReason) == (40, BAD, "sensor broken")
    x._set_quality(GOOD)
    assert (y.data, y.quality, y.qualityReason) == (40, GOOD, "")
    assert values == []


def test_quality_set_through_update_flows_too():
    x = DataObject(data=1)
    y = bound(lambda: x.data + 1)
    x._update("quality", UNCERTAIN)
    assert y.quality is UNCERTAIN
    x._update("quality", GOOD)
    assert y.quality is GOOD


def test_quality_flows_down_a_chain_whose_values_do_not_change():
    x = DataObject(data=3)
    y = bound(lambda: x.data * 0)  # always 0: only quality can change
    z = bound(lambda: y.data + 1)  # always 1
    w = bound(lambda: z.data - 1)
    x._set_quality(BAD, "no connection")
    assert [(d.data, d.quality, d.qualityReason) for d in (y, z, w)] == [
        (0, BAD, "no connection"),
        (1, BAD, "no connection"),
        (0, BAD, "no connection"),
    ]
    x._set_quality(UNCERTAIN, "reconnecting")
    assert (w.quality, w.qualityReason) == (UNCERTAIN, "reconnecting")
    x._set_quality(GOOD)
    assert [(d.quality, d.qualityReason) for d in (y, z, w)] == [(GOOD, "")] * 3


def test_only_the_inputs_the_binding_read_count():
    sel, p, q = DataObject(data=False), DataObject(data=1), DataObject(data=100)
    r = bound(lambda: q.data if sel.data else p.data)
    p._set_quality(BAD, "p is down")
    assert (r.data, r.quality, r.qualityReason) == (1, BAD, "p is down")
    sel.data = True  # now r reads sel and q, not p
    assert (r.data, r.quality, r.qualityReason) == (100, GOOD, "")
    q._set_quality(UNCERTAIN, "q is stale")
    assert (r.quality, r.qualityReason) == (UNCERTAIN, "q is stale")
    sel.data = False
    assert (r.data, r.quality, r.qualityReason) == (1, BAD, "p is down")


def test_the_timestamp_is_the_newest_of_the_inputs(clock):
    a, b = DataObject(data=1), DataObject(data=2)
    y = bound(lambda: a.data + b.data)
    clock[0] = 2_000
    a.data = 10
    assert y.timestamp == 2_000
    clock[0] = 3_000
    b.data = 20
    assert y.timestamp == 3_000
    clock[0] = 4_000
    b.data = 20  # the same value, written again: a new timestamp
    assert (y.data, y.timestamp) == (30, 4_000)
    a._update("timestamp", 9_000)  # a source stamps its value with the time it measured it
    clock[0] = 5_000
    b.data = 21
    assert y.timestamp == 9_000  # the newest, not the last written
    z = bound(lambda: y.data * 2)  # and down a chain
    assert z.timestamp == 9_000


def test_a_user_written_quality_is_no_longer_derived(clock):
    x = DataObject(data=1)
    y = bound(lambda: x.data * 10)
    z = bound(lambda: y.data + 1)
    y.quality = UNCERTAIN
    assert (y.quality, z.quality) == (UNCERTAIN, UNCERTAIN)
    x._set_quality(BAD, "down")
    assert y.quality is UNCERTAIN and z.quality is UNCERTAIN
    clock[0] = 7_000
    x.data = 2
    assert (y.data, y.quality, y.timestamp) == (20, UNCERTAIN, 7_000)  # timestamp still is
    x._set_quality(GOOD)
    assert y.quality is UNCERTAIN
    y.quality = GOOD
    assert (y.quality, z.quality) == (GOOD, GOOD)
    x._set_quality(BAD, "down again")
    assert y.quality is GOOD


def test_a_bound_quality_follows_its_binding_not_the_inputs(clock):
    x, manual = DataObject(data=1), DataObject(data=False)
    y = bound(lambda: x.data * 10)
    y.bind("quality", lambda: UNCERTAIN if manual.data else GOOD)
    x._set_quality(BAD, "down")
    assert y.quality is GOOD
    clock[0] = 8_000
    x.data = 6
    assert (y.data, y.quality, y.timestamp) == (60, GOOD, 8_000)  # timestamp still derived
    manual.data = True
    assert y.quality is UNCERTAIN
    x._set_quality(GOOD)
    assert y.quality is UNCERTAIN


def test_a_bound_quality_in_an_app_file():
    app = incore.load_string(
        "Application:\n"
        "  objects:\n"
        "    - DataObject: {id: x, data: 1}\n"
        "    - DataObject: {id: manual, data: false}\n"
        "    - DataObject:\n"
        "        id: y\n"
        "        data: !bind x.data * 10\n"
        "        quality: !bind self.Uncertain if manual.data else self.Good\n",
        "quality.yaml",
    )
    x, manual, y = app.ids["x"], app.ids["manual"], app.ids["y"]
    x._set_quality(BAD, "down")
    assert y.quality is GOOD
    x.data = 6
    assert (y.data, y.quality) == (60, GOOD)
    manual.data = True
    assert y.quality is UNCERTAIN


def test_reads_inside_a_handler_are_consistent(clock):
    x = DataObject(data=1)
    y = bound(lambda: x.data * 10)
    z = bound(lambda: y.data + 1)
    alarm = bound(lambda: y.quality == BAD)  # reads a quality, not data
    seen = []

    def handler():
        clock[0] = 2_000
        x.data = 2
        seen.append((y.data, y.quality, y.timestamp, z.data, z.timestamp, alarm.data))
        x._set_quality(BAD, "down")
        seen.append((y.data, y.quality, y.qualityReason, z.quality, z.qualityReason, alarm.data))
        clock[0] = 3_000
        x.data = 2  # the same value again: only the timestamp changes
        seen.append((y.timestamp, z.timestamp))
        x._set_quality(GOOD)
        seen.append((y.quality, y.qualityReason, z.quality, alarm.data))

    Trigger().run(handler)
    assert seen == [
        (20, GOOD, 2_000, 21, 2_000, False),
        (20, BAD, "down", BAD, "down", True),
        (3_000, 3_000),
        (GOOD, "", GOOD, False),
    ]


def test_quality_changed_fires_once_per_change():
    a, b = DataObject(data=1), DataObject(data=2)
    y = bound(lambda: a.data + b.data)
    changes, reasons = [], []
    y.qualityChanged.connect(changes.append)
    y.qualityReasonChanged.connect(reasons.append)
    a._set_quality(BAD, "a down")
    a.data = 5  # a new value, the same quality
    b._set_quality(UNCERTAIN, "b stale")  # not worse than Bad
    a._set_quality(GOOD)
    b._set_quality(GOOD)
    b._set_quality(GOOD)
    assert changes == [BAD, UNCERTAIN, GOOD]
    assert reasons == ["a down", "b stale", ""]


def test_quality_changed_from_a_handler_carries_each_change_once():
    x = DataObject(data=1)
    y = bound(lambda: x.data * 10)
    changes = []
    y.qualityChanged.connect(changes.append)

    def handler():
        x._set_quality(BAD, "down")
        assert y.quality is BAD
        x.data = 2
        assert y.quality is BAD
        x._set_quality(GOOD)
        assert y.quality is GOOD

    Trigger().run(handler)
    assert changes == [BAD, GOOD]


def test_a_measurement_carries_quality_both_ways():
    x = DataObject(data=21.5)
    m = Measurement(unit="°C", decimals=1)
    m.bind("data", lambda: x.data)
    x._set_quality(BAD, "sensor")
    assert (m.quality, m.qualityReason, m.displayString) == (BAD, "sensor", "21.5 °C")
    downstream = bound(lambda: m.data * 2)
    assert (downstream.data, downstream.quality) == (43.0, BAD)
    x._set_quality(GOOD)
    assert (m.quality, downstream.quality) == (GOOD, GOOD)
    source = Measurement(data=1.0)
    follower = bound(lambda: source.data + 1)
    source._set_quality(UNCERTAIN, "manual value")
    assert (follower.quality, follower.qualityReason) == (UNCERTAIN, "manual value")


def test_quality_is_not_saved_by_to_json():
    d = DataObject(data=5, objectId="level")
    d._set_quality(BAD, "connection refused")
    saved = json.loads(d.toJson())
    assert saved["data"] == 5 and saved["objectId"] == "level"
    assert "quality" not in saved and "qualityReason" not in saved
    restored = DataObject()
    restored.fromJson(d.toJson())
    assert (restored.data, restored.quality, restored.qualityReason) == (5, GOOD, "")
