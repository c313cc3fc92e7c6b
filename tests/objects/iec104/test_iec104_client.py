"""IEC104Connection and its IEC104Points against c104 2.2.1's Server: STARTDT and a general
interrogation on connect, values and their quality bits, spontaneous values faster than
the loop takes them (none lost, in order, as on the wire), points made for undeclared
addresses, read, clock sync and counter interrogation, each judged by the frames c104
received from us and sent to us."""

# no `from __future__ import annotations`: the support module defines c104 callbacks

import time

import c104
from test_iec104_client_support import (  # noqa: F401  (fixtures)
    WAIT,
    loop,
    make_connection,
    needs_proc,
    station,
    until,
)

from incore.objects.foundation.data import Quality
from incore.objects.iec104.connection import IEC104Connection
from incore.protocols.iec104 import Cause, TypeId
from incore.protocols.iec104 import Quality as Flag

pytestmark = needs_proc

MONITORED = [
    dict(ioa=1001, type="M_ME_NC_1"),
    dict(ioa=1002, type="M_SP_NA_1"),
    dict(ioa=1003, type="M_DP_TB_1"),
    dict(ioa=1004, type="M_ME_NB_1"),
]


def _point(connection, ioa):
    point = connection.getPoint(ioa)
    assert point is not None, [p.ioa for p in connection.points]
    return point


def _changes(first, values):
    """`values` without repeats of the value before (what dataChanged reports)."""
    out = []
    for value in values:
        if value != first:
            out.append(value)
        first = value
    return out


def test_connect_starts_data_transfer_then_interrogates(loop, station, make_connection):
    connection = make_connection(station.port, MONITORED)
    # c104 answers one point per ASDU, in an order of its own: wait for all of them
    answered = (1001, 1002, 1003, 1004)
    assert loop.run_until(
        lambda: all(_point(connection, ioa).data is not None for ioa in answered), WAIT
    )
    assert _point(connection, 1004).data == -1234
    assert connection.state == IEC104Connection.State.Open
    assert connection.connectedAt > 0 and connection.error == IEC104Connection.NoError
    # on the wire: STARTDT act first, then the GI to the station's common address
    gi = station.got(TypeId.C_IC_NA_1, Cause.ACTIVATION)
    assert station.received[0] == bytes.fromhex("680407000000")
    assert (gi.common_address, gi.objects[0].qoi) == (1, 20)
    assert until(lambda: [a.type_id for a in station.asdus_received()] == [TypeId.C_IC_NA_1])
    # the values c104 answered with (COT 20), as the points hold them
    assert _point(connection, 1001).data == 23.5
    assert _point(connection, 1002).data is True
    double = _point(connection, 1003)
    assert double.data == 2 and double.recordedAt > 0  # M_DP_TB_1 carries its time tag
    for point in connection.points:
        assert point.quality == Quality.Good and point.qualityFlags == 0
        assert point.processedAt > 0


def test_no_interrogation_when_told_not_to(loop, station, make_connection):
    connection = make_connection(station.port, MONITORED, interrogateOnConnect=False)
    loop.run_until(lambda: False, 0.2)  # anything the connection would send goes out by now
    assert station.asdus_received() == []
    assert _point(connection, 1001).data is None
    connection.interrogation()
    assert loop.run_until(lambda: _point(connection, 1001).data == 23.5, WAIT)


def test_undeclared_addresses_become_points(loop, station, make_connection):
    connection = make_connection(station.port, [dict(ioa=1001, type="M_ME_NC_1")])
    made = []
    connection.newPoint.connect(lambda point: made.append(point))
    assert loop.run_until(lambda: len(connection.points) == 4, WAIT)
    assert sorted(p.ioa for p in made) == [1002, 1003, 1004]
    kinds = {p.ioa: p.type for p in connection.points}
    assert kinds[1002].name == "M_SP_NA_1" and kinds[1003].name == "M_DP_TB_1"
    assert all(p.parent is connection for p in made)
    assert _point(connection, 1004).data == -1234


def test_quality_bits_of_each_frame(loop, station, make_connection):
    connection = make_connection(station.port, MONITORED)
    measured = _point(connection, 1001)
    assert loop.run_until(lambda: measured.data == 23.5, WAIT)
    cases = [
        (c104.Quality.Invalid, Flag.IV, Quality.Bad),
        (c104.Quality.NonTopical, Flag.NT, Quality.Uncertain),
        (c104.Quality.Blocked | c104.Quality.Substituted, Flag.BL | Flag.SB, Quality.Good),
        (c104.Quality.Overflow, Flag.OV, Quality.Good),
        (c104.Quality(0), 0, Quality.Good),
    ]
    for n, (theirs, flags, quality) in enumerate(cases):
        source = station.points[1001]
        source.value = 100.0 + n
        source.quality = theirs
        assert source.transmit(cause=c104.Cot.SPONTANEOUS)
        assert loop.run_until(lambda n=n: measured.data == 100.0 + n, WAIT)
        assert (measured.qualityFlags, measured.quality) == (flags, quality), theirs
    assert until(
        lambda: (
            [a.objects[0].quality for a in station.asdus_sent() if a.cause == 3]
            == [int(f) for _, f, _ in cases]
        )
    )


def test_spontaneous_values_faster_than_the_loop_arrive_all_in_order(
    loop, station, make_connection
):
    connection = make_connection(station.port, MONITORED)
    measured, single = _point(connection, 1001), _point(connection, 1002)
    assert loop.run_until(lambda: measured.data == 23.5 and single.data is True, WAIT)
    values, states = [], []
    measured.dataChanged.connect(values.append)
    single.dataChanged.connect(states.append)
    last = 1499
    for n in range(last + 1):  # the loop is not running: everything waits for it
        station.points[1001].value = float(n)
        station.points[1001].transmit(cause=c104.Cot.SPONTANEOUS)
        if n % 10 == 5:
            station.points[1002].value = not station.points[1002].value
            station.points[1002].transmit(cause=c104.Cot.SPONTANEOUS)

    def on_wire(type_id):
        return [
            a.objects[0].value
            for a in station.asdus_sent()
            if a.type_id == type_id and a.cause == 3
        ]

    assert until(lambda: on_wire(13)[-1:] == [float(last)], 10)  # c104 itself drops some
    assert until(lambda: connection._inbox.pending >= len(on_wire(13)), WAIT)
    assert loop.run_until(lambda: values[-1:] == [float(last)], WAIT)
    loop.process_events()
    # every value c104 sent, in order, none merged (c104 records what it sent a moment after)
    assert until(lambda: values == on_wire(13)), (len(values), len(on_wire(13)))
    assert until(lambda: states == _changes(True, on_wire(1)))  # dataChanged: real changes
    assert connection.mergedValues == 0 and connection.droppedValues == 0


def test_keep_latest_merges_waiting_measurands_but_never_status_changes(
    loop, station, make_connection
):
    points = [dict(MONITORED[0], keepLatest=True), *MONITORED[1:]]
    connection = make_connection(station.port, points)
    measured, single = _point(connection, 1001), _point(connection, 1002)
    assert loop.run_until(lambda: measured.data == 23.5 and single.data is True, WAIT)
    values, states = [], []
    measured.dataChanged.connect(values.append)
    single.dataChanged.connect(states.append)
    for n in range(300):
        station.points[1001].value = float(n)
        station.points[1001].transmit(cause=c104.Cot.SPONTANEOUS)
        if n % 3 == 0:
            station.points[1002].value = not station.points[1002].value
            station.points[1002].transmit(cause=c104.Cot.SPONTANEOUS)
    singles = lambda: [  # noqa: E731
        a.objects[0].value for a in station.asdus_sent() if a.type_id == 1 and a.cause == 3
    ]
    assert until(lambda: [v for v in station.asdus_sent() if v.type_id == 13][-1:] != [], WAIT)
    assert until(lambda: connection._inbox.merged > 0, WAIT)
    assert loop.run_until(lambda: values[-1:] == [299.0], WAIT)
    loop.process_events()
    assert connection.mergedValues > 0 and len(values) < 300
    assert values == sorted(values)  # merged, never reordered
    assert until(lambda: states == _changes(True, singles()))  # never merged


def test_read_clock_sync_and_counter_interrogation(loop, station, make_connection):
    connection = make_connection(station.port, MONITORED + [dict(ioa=1005, type="M_IT_NA_1")])
    measured = _point(connection, 1001)
    assert loop.run_until(lambda: measured.data == 23.5, WAIT)
    # read: c104's value changed without being sent; C_RD_NA_1 fetches it
    station.points[1001].value = -8.5
    measured.pollData()
    assert loop.run_until(lambda: measured.data == -8.5, WAIT)
    read = station.got(TypeId.C_RD_NA_1, Cause.REQUEST)
    assert (read.common_address, read.objects[0].ioa) == (1, 1001)
    assert until(
        lambda: [a.cause for a in station.asdus_sent() if a.type_id == 13][-1] == Cause.REQUEST
    )
    # clock sync: c104's handler gets our UTC time, and confirms
    done = connection.clockSync()
    assert loop.run_until(done.done, WAIT) and done.result().cause == Cause.ACTIVATION_CON
    sync = station.got(TypeId.C_CS_NA_1, Cause.ACTIVATION)
    assert abs(sync.objects[0].time.to_datetime().timestamp() - time.time()) < 5
    assert len(station.clock) == 1
    # counter interrogation: the counter comes with COT 37
    counter = _point(connection, 1005)
    assert counter.data is None  # a GI does not carry counters
    done = connection.counterInterrogation()
    assert loop.run_until(lambda: counter.data == 4711, WAIT)
    assert done.result().cause == Cause.ACTIVATION_CON
    ci = station.got(TypeId.C_CI_NA_1, Cause.ACTIVATION)
    assert (ci.objects[0].request, ci.objects[0].freeze) == (5, 0)
    assert until(
        lambda: (
            [a.cause for a in station.asdus_sent() if a.type_id == TypeId.M_IT_NA_1]
            == [Cause.REQUESTED_BY_GENERAL_COUNTER]
        )
    )


def test_a_read_of_an_unknown_address_fails_the_point(loop, station, make_connection):
    connection = make_connection(station.port, MONITORED + [dict(ioa=4242, type="M_SP_NA_1")])
    ghost = _point(connection, 4242)
    ghost.pollData()
    assert loop.run_until(lambda: ghost.error == ghost.ReadError, WAIT)
    assert "4242" in ghost.errorString and ghost.quality == Quality.Bad
    assert connection.error == IEC104Connection.NoError and connection.connected


def test_test_frame_and_mute(loop, station, make_connection):
    connection = make_connection(station.port, MONITORED)
    done = connection.test()
    assert loop.run_until(done.done, WAIT) and done.exception() is None
    assert until(lambda: bytes.fromhex("680483000000") in station.sent)
    done = connection.mute()  # (the future is done a moment before the state follows)
    assert loop.run_until(lambda: connection.state == IEC104Connection.State.OpenMuted, WAIT)
    assert done.exception() is None
    assert until(lambda: bytes.fromhex("680413000000") in station.received)
    done = connection.unmute()
    assert loop.run_until(lambda: connection.state == IEC104Connection.State.Open, WAIT)
    assert done.exception() is None


def test_an_idle_link_is_tested_after_t3(loop, station, make_connection):
    connection = make_connection(station.port, MONITORED, t3=1)
    started = time.monotonic()
    # nothing asked, nothing sent: the worker's timer sends TESTFR act after t3 (1 s)
    assert until(lambda: bytes.fromhex("680443000000") in station.received, 3)
    assert time.monotonic() - started >= 0.9
    assert until(lambda: bytes.fromhex("680483000000") in station.sent)
    loop.process_events()
    assert connection.connected and connection.error == IEC104Connection.NoError


def test_keep_latest_and_ioa_written_at_run_time_are_followed(loop, station, make_connection):
    points = [MONITORED[0], dict(ioa=1099, type="M_IT_NA_1")]
    connection = make_connection(station.port, points)
    measured, moved = _point(connection, 1001), _point(connection, 1099)
    assert loop.run_until(lambda: measured.data == 23.5, WAIT)
    assert connection._inbox.latest_only == frozenset()
    measured.keepLatest = True  # from now on its waiting values keep only the newest
    assert connection._inbox.latest_only == {(1, 1001)}
    measured.keepLatest = False
    assert connection._inbox.latest_only == frozenset()
    # a point moved to another address takes that address's values, no new point is made
    assert connection.getPoint(1005) is None  # (a counter: not in the interrogation)
    moved.ioa = 1005
    assert connection.getPoint(1005) is moved and connection.getPoint(1099) is None
    connection.counterInterrogation()
    assert loop.run_until(lambda: moved.data == 4711, WAIT)
    assert [p.ioa for p in connection.points].count(1005) == 1
