"""IEC104Connection when the station goes away and comes back: the points turn Bad (last
value kept) in the same wave as `connected` and the error, the state follows c104's
names, the connection reconnects with backoff once c104's Server listens again on the same
port, starts data transfer and interrogates, and the points are Good again. Also the
IEC104Client around connections: counts, start/stop, getConnection, and its forwarded
signals. And a station that breaks the link's rules after a good frame: the good frame's
value still arrives."""

# no `from __future__ import annotations`: the support module defines c104 callbacks

import socket
import threading

from test_iec104_client_support import (  # noqa: F401  (fixtures)
    WAIT,
    loop,
    make_connection,
    needs_proc,
    record_errors,
    station,
    until,
)

from incore.objects.foundation.data import Quality
from incore.objects.iec104.client import IEC104Client
from incore.objects.iec104.connection import IEC104Connection
from incore.objects.iec104.point import IEC104Point
from incore.protocols.iec104 import (
    Asdu,
    Cause,
    SinglePoint,
    TypeId,
    UFunction,
    encode_asdu,
    i_frame,
    u_frame,
)

pytestmark = needs_proc

State = IEC104Connection.State


def test_bad_while_down_and_good_after_the_station_restarts(loop, station, make_connection):
    connection = make_connection(
        station.port,
        [dict(ioa=1001, type="M_ME_NC_1"), dict(ioa=2001, type="C_SC_NA_1")],
        reconnectInterval=50,
        maxReconnectInterval=200,
    )
    measured = connection.getPoint(1001)
    assert loop.run_until(lambda: measured.data == 23.5, WAIT)
    assert measured.quality == Quality.Good
    errors = record_errors(connection)
    seen = []  # what a handler of `connected` sees of the point, in that wave

    def on_connected(up):
        seen.append((up, measured.quality, connection.error))

    connection.connectedChanged.connect(on_connected)
    station.stop()
    assert loop.run_until(lambda: not connection.connected, WAIT)
    assert seen[0] == (False, Quality.Bad, IEC104Connection.ConnectionError)
    assert measured.data == 23.5  # the last value is kept
    assert measured.qualityReason
    assert connection.disconnectedAt >= connection.connectedAt
    assert loop.run_until(lambda: connection.state == State.ClosedAwaitReconnect, WAIT)
    assert loop.run_until(lambda: len(errors) >= 2, WAIT)  # refused attempts are reported
    assert all(e == IEC104Connection.ConnectionError for e, _ in errors)
    assert "retry in" in errors[-1][1]
    # a command while down fails at once
    failed = []
    connection.commandFinished.connect(lambda p, ok, why: failed.append((ok, why)))
    connection.getPoint(2001).value = True
    assert loop.run_until(lambda: failed, WAIT) and not failed[0][0]

    station.start()  # the same port again
    station.points[1001].value = 99.0
    assert loop.run_until(lambda: connection.connected, WAIT), connection.errorString
    assert loop.run_until(lambda: measured.data == 99.0, WAIT)
    assert measured.quality == Quality.Good and connection.state == State.Open
    assert connection.error == IEC104Connection.NoError
    assert station.got(TypeId.C_IC_NA_1, Cause.ACTIVATION)  # a GI on the new link


def test_disconnect_and_connect(loop, station, make_connection):
    connection = make_connection(station.port, [dict(ioa=1001, type="M_ME_NC_1")])
    measured = connection.getPoint(1001)
    assert loop.run_until(lambda: measured.data == 23.5, WAIT)
    states = []
    connection.stateChanged.connect(states.append)
    connection.disconnect()
    assert loop.run_until(lambda: connection.state == State.Closed, WAIT)
    assert states[0] == State.OpenAwaitClosed
    assert measured.quality == Quality.Bad
    assert until(lambda: station.server.open_connection_count == 0)
    connection.connect()
    assert loop.run_until(lambda: connection.state == State.Open, WAIT)
    assert loop.run_until(lambda: measured.quality == Quality.Good, WAIT)


def test_a_station_that_is_not_there(loop, make_connection):
    connection = make_connection(
        1, [dict(ioa=5, type="M_SP_NA_1")], connect=False, reconnectInterval=50
    )
    assert connection.getPoint(5).quality == Quality.Bad  # down from the start
    assert loop.run_until(lambda: connection.error == IEC104Connection.ConnectionError, WAIT)
    assert connection.state in (State.ClosedAwaitOpen, State.ClosedAwaitReconnect)
    assert "127.0.0.1:1" in connection.errorString or "refused" in connection.errorString


def test_the_client_holds_its_connections(loop, station):
    client = IEC104Client()
    first = IEC104Connection(client, ip="127.0.0.1", port=station.port, commonAddress=1)
    IEC104Point(first, ioa=1001, type="M_ME_NC_1")
    second = client.addConnection("127.0.0.1", 1, commonAddress=7, autoConnect=False)
    made, initialized = [], []
    client.newPoint.connect(lambda c, p: made.append((c, p.ioa)))
    client.stationInitialized.connect(lambda c, ca, cause: initialized.append((c, ca)))
    client.complete()
    try:
        assert client.connections == [first, second] and client.hasConnections
        assert client.isRunning
        assert loop.run_until(lambda: client.activeConnectionCount == 1, WAIT)
        assert client.openConnectionCount == 1 and client.hasActiveConnections
        assert loop.run_until(lambda: len(made) == 3, WAIT)
        assert {ioa for c, ioa in made} == {1002, 1003, 1004} and made[0][0] is first
        assert client.getConnection(ip="127.0.0.1", port=station.port) is first
        assert client.getConnection(commonAddress=7) is second
        assert client.getConnection(ip="10.0.0.1") is None
        client.stop()
        assert loop.run_until(lambda: client.openConnectionCount == 0, WAIT)
        assert not client.isRunning and not client.hasOpenConnections
        client.start()
        assert loop.run_until(lambda: client.activeConnectionCount == 1, WAIT)
        assert first.getPoint(1001).data == 23.5
    finally:
        client.shutdown()
    assert until(lambda: station.server.open_connection_count == 0)
    assert initialized == []  # c104's Server sends no end of initialisation


def test_values_before_a_broken_frame_still_arrive(loop, make_connection):
    """A station sends, in one segment, a status change and then a frame that breaks the
    link's rules (N(S) out of step): the connection is dropped, but the whole frame before
    the broken one is the station's data and reaches its point (Bad, since the link is
    down). c104 loses such a value with the connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    go = threading.Event()

    def station() -> None:
        sock, _ = listener.accept()
        with sock:
            assert sock.recv(64) == u_frame(UFunction.STARTDT_ACT)
            sock.sendall(u_frame(UFunction.STARTDT_CON))
            go.wait(WAIT)
            change = Asdu(TypeId.M_SP_NA_1, Cause.SPONTANEOUS, 1, (SinglePoint(7, True),))
            late = Asdu(TypeId.M_SP_NA_1, Cause.SPONTANEOUS, 1, (SinglePoint(8, True),))
            sock.sendall(i_frame(0, 0, encode_asdu(change)) + i_frame(5, 0, encode_asdu(late)))
            sock.recv(64)  # until the client closes

    peer = threading.Thread(target=station, daemon=True)
    peer.start()
    try:
        connection = make_connection(
            listener.getsockname()[1],
            [dict(ioa=7, type="M_SP_NA_1"), dict(ioa=8, type="M_SP_NA_1")],
            interrogateOnConnect=False,
        )
        status, late = connection.getPoint(7), connection.getPoint(8)
        go.set()
        assert loop.run_until(lambda: status.data is True, WAIT), connection.errorString
        assert loop.run_until(lambda: not connection.connected, WAIT)
        assert status.quality == Quality.Bad and late.data is None  # the broken frame: not taken
        assert "N(S)" in connection.errorString
    finally:
        peer.join(WAIT)
        listener.close()
