"""IEC104Server's events: spontaneous on change (value or quality), cyclic, on demand and in
batches; a client that reads slower than values change (the bounded buffer, what it never
pushes out, keep-latest, the counted losses); events kept while no client is connected."""

from __future__ import annotations

import logging

from test_iec104_server_support import (  # noqa: F401  (fixtures)
    _close_masters,
    connect,
    loop,
    make_server,
    point,
    wait,
)

from incore.objects.foundation.data import Quality
from incore.protocols.iec104 import Cause

SPONT = Cause.SPONTANEOUS


def objects(asdus, type_id=None, cause=None) -> list:
    return [
        o
        for a in asdus
        if (type_id is None or a.type_id == type_id) and (cause is None or a.cause == cause)
        for o in a.objects
    ]


def test_a_change_is_sent_spontaneously_with_its_time_tag(loop):
    server = make_server()
    m = connect(loop, server)
    tagged = point(server, 203)
    tagged.data = 9.5
    wait(loop, lambda: m.find(36, SPONT))
    sent = objects(m.asdus, 36, SPONT)[0]
    assert sent.value == 9.5 and sent.time is not None and sent.quality == 0
    assert tagged.processedAt > 0
    tagged.recordedAt = 1_700_000_000_123  # 2023-11-14 22:13:20.123 UTC
    tagged.data = 10.5
    wait(loop, lambda: len(m.find(36, SPONT)) == 2)
    tag = objects(m.asdus, 36, SPONT)[1].time
    assert (tag.year, tag.month, tag.day, tag.hour, tag.milliseconds) == (23, 11, 14, 22, 20123)
    point(server, 202).data = 23.5  # the same value: nothing to say
    point(server, 100).data = False
    wait(loop, lambda: m.find(1, SPONT))
    assert not m.find(13, SPONT)


def test_quality_goes_on_the_wire(loop):
    server = make_server()
    m = connect(loop, server)
    p = point(server, 202)
    p._set_quality(Quality.Bad, "source lost")
    wait(loop, lambda: m.find(13, SPONT))
    assert objects(m.asdus, 13)[-1].quality == 0x80  # IV
    p._set_quality(Quality.Uncertain, "unreachable")
    wait(loop, lambda: len(m.find(13, SPONT)) == 2)
    assert objects(m.asdus, 13)[-1].quality == 0x40  # NT
    p.qualityFlags = 0x10  # blocked, besides
    wait(loop, lambda: len(m.find(13, SPONT)) == 3)
    assert objects(m.asdus, 13)[-1].quality == 0x50
    p._set_quality(Quality.Good, "")
    p.qualityFlags = 0
    wait(loop, lambda: objects(m.asdus, 13)[-1].quality == 0)


def test_a_bound_bad_source_sends_iv(loop):
    from incore.objects.foundation.data import DataObject

    source = DataObject(data=1.0)
    server = make_server([(1, "M_ME_NC_1", None, {})])
    p = point(server, 1)
    p.bind("data", lambda: source.data)
    m = connect(loop, server)
    source._set_quality(Quality.Bad, "PLC unreachable")
    source.data = 2.0
    wait(loop, lambda: objects(m.asdus, 13) and objects(m.asdus, 13)[-1].value == 2.0)
    assert objects(m.asdus, 13)[-1].quality & 0x80


def test_report_ms_sends_cyclically(loop):
    server = make_server([(1, "M_ME_NB_1", 5, {"reportMs": 100})])
    m = connect(loop, server)
    wait(loop, lambda: len(m.find(11, Cause.PERIODIC)) >= 3, 3.0)
    assert {o.value for o in objects(m.asdus, 11, Cause.PERIODIC)} == {5}


def test_transmit_and_transmit_batch(loop):
    points = [(10 + i, "M_ME_NC_1", float(i), {}) for i in range(4)] + [(20, "M_SP_NA_1", True, {})]
    server = make_server(points)
    m = connect(loop, server)
    assert point(server, 20).transmit(Cause.RETURN_LOCAL)
    wait(loop, lambda: m.find(1, Cause.RETURN_LOCAL))
    assert server.transmitBatch([point(server, 10 + i) for i in (2, 0, 1, 3)], SPONT)
    wait(loop, lambda: m.find(13, SPONT))
    (batch,) = m.find(13, SPONT)
    assert batch.sequence and [o.value for o in batch.objects] == [0.0, 1.0, 2.0, 3.0]


def test_a_slow_client_loses_measured_values_counted_and_never_status(loop, caplog):
    points = [(1, "M_SP_NA_1", False, {}), (2, "M_ME_NC_1", 0.0, {})]
    # room for the 30 status changes: they are never pushed out by the 300 measured values
    # (were the bound full of status events, a new event of any kind would be the one lost)
    server = make_server(points, eventBufferSize=40)
    lost = []
    server.eventsLost.connect(lambda ip, count: lost.append((ip, count)))
    m = connect(loop, server, auto_ack=False)
    status, measured = point(server, 1), point(server, 2)
    caplog.set_level(logging.WARNING, "incore.iec104server")
    for n in range(1, 301):  # the client holds k = 12 frames unacknowledged, then waits
        measured.data = float(n)
        if n % 10 == 0:
            status.data = not status.data
    wait(loop, lambda: lost)
    assert server.lostEventCount > 0
    assert sum(c for _, c in lost) == server.lostEventCount
    slow = [r for r in caplog.records if "reads slower" in r.message]
    assert len(slow) == 1  # one line for the whole run of losses
    m.auto_ack = True
    m.ack()
    wait(loop, lambda: objects(m.asdus, 13) and objects(m.asdus, 13)[-1].value == 300.0)
    loop.run_until(lambda: False, 0.2)
    flips = [o.value for o in objects(m.asdus, 1, SPONT)]
    assert flips == [True, False] * 15  # every status change, in order
    values = [o.value for o in objects(m.asdus, 13, SPONT)]
    assert values == sorted(values) and values[-1] == 300.0
    # every measured value arrived, or is counted as lost
    assert len(values) + server.lostEventCount == 300


def test_keep_latest_sends_only_the_newest_waiting_value(loop):
    server = make_server([(3, "M_ME_NC_1", 0.0, {"keepLatest": True})], eventBufferSize=5)
    m = connect(loop, server, auto_ack=False)
    latest = point(server, 3)
    for n in range(1, 101):
        latest.data = float(n)
    loop.run_until(lambda: False, 0.1)
    m.auto_ack = True
    m.ack()
    wait(loop, lambda: objects(m.asdus, 13) and objects(m.asdus, 13)[-1].value == 100.0)
    values = [o.value for o in objects(m.asdus, 13, SPONT)]
    assert values == sorted(values) and len(values) < 30
    assert server.lostEventCount == 0  # replaced while waiting is not lost


def test_events_without_a_client_are_kept_when_asked(loop):
    server = make_server([(1, "M_SP_NA_1", False, {}), (2, "M_ME_NC_1", 0.0, {})])
    point(server, 1).data = True  # nobody connected, nothing kept
    server.keepEventsOffline = True
    server.stop()
    server.start()
    point(server, 2).data = 1.0
    point(server, 1).data = False
    point(server, 2).data = 2.0
    m = connect(loop, server)
    wait(loop, lambda: len(objects(m.asdus)) == 3)
    assert [(o.ioa, o.value) for o in objects(m.asdus)] == [(2, 1.0), (1, False), (2, 2.0)]
    other = connect(loop, server)  # the kept events went to the first client only
    loop.run_until(lambda: False, 0.2)
    assert not other.asdus
