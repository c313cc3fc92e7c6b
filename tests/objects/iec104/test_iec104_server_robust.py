"""A live IEC104Server fed bad input: bad lengths, a wrong start byte, sequence-number errors,
I-frames before STARTDT, an ASDU too short for its type. Each closes (or answers) only the
connection that sent it; another client keeps getting its data throughout."""

from __future__ import annotations

import pytest
from test_iec104_server_support import (  # noqa: F401  (fixtures)
    WAIT,
    _close_masters,
    connect,
    loop,
    make_server,
    point,
    wait,
)

from incore.protocols.iec104 import Asdu, Cause, Interrogation, TypeId, i_frame, s_frame

GI = Asdu(TypeId.C_IC_NA_1, Cause.ACTIVATION, 1, (Interrogation(0, 20),))

BAD = {
    "start byte": b"\x69\x04\x07\x00\x00\x00",
    "length below 4": b"\x68\x02\x07\x00",
    "unknown U function": b"\x68\x04\x0f\x00\x00\x00",
    "N(S) out of step": i_frame(5, 0, bytes([100, 1, 6, 0, 1, 0, 0, 0, 0, 20])),
    "N(R) acknowledging frames never sent": s_frame(40),
    "ASDU too short for its type": i_frame(0, 0, bytes([13, 1, 3, 0, 1, 0, 1, 0, 0, 0])),
    "ASDU with no object": i_frame(0, 0, bytes([100, 0, 6, 0, 1, 0, 0, 0, 0])),
}


@pytest.mark.parametrize("what", list(BAD))
def test_bad_input_closes_only_that_connection(loop, what):
    server = make_server()
    good = connect(loop, server)
    bad = connect(loop, server)
    wait(loop, lambda: server.openConnectionCount == 2)
    bad.send_raw(BAD[what])
    assert bad.closed.wait(WAIT), f"{what}: the connection stayed open"
    wait(loop, lambda: server.openConnectionCount == 1)
    point(server, 202).data = 77.0
    wait(loop, lambda: good.find(13, Cause.SPONTANEOUS))
    good.send(GI)
    wait(loop, lambda: good.find(100, Cause.ACTIVATION_TERMINATION))
    assert not good.closed.is_set()


def test_an_i_frame_before_startdt_closes_the_connection(loop):
    server = make_server()
    good = connect(loop, server)
    early = connect(loop, server, start=False)
    early.send(GI)
    assert early.closed.wait(WAIT)
    assert not [a for a in early.asdus]  # nothing was answered
    good.send(GI)
    wait(loop, lambda: good.find(100, Cause.ACTIVATION_TERMINATION))


def test_an_unknown_type_is_answered_and_the_link_stays(loop):
    server = make_server()
    m = connect(loop, server)
    m.send(bytes([200, 1, 6, 0, 1, 0, 0, 0, 0]))
    wait(loop, lambda: m.find(200, Cause.UNKNOWN_TYPE, negative=True))
    m.send(GI)
    wait(loop, lambda: m.find(100, Cause.ACTIVATION_TERMINATION))
    assert not m.closed.is_set()


def test_testfr_is_answered_before_and_after_startdt(loop):
    from incore.protocols.iec104 import UFrame, UFunction, u_frame

    server = make_server()
    m = connect(loop, server, start=False)
    m.send_raw(u_frame(UFunction.TESTFR_ACT))
    wait(loop, lambda: UFrame(UFunction.TESTFR_CON) in m.frames)
    m.startdt()
    wait(loop, m.started)
    m.send_raw(u_frame(UFunction.TESTFR_ACT))
    wait(loop, lambda: m.frames.count(UFrame(UFunction.TESTFR_CON)) == 2)


def test_t1_closes_a_client_that_never_acknowledges(loop):
    server = make_server(protocolParameters={"t1": 1, "t2": 0.5, "t3": 20})
    good = connect(loop, server)
    silent = connect(loop, server, auto_ack=False)
    point(server, 202).data = 1.0  # an I-frame the silent one never acknowledges
    assert loop.run_until(silent.closed.is_set, 3.0)
    wait(loop, lambda: server.openConnectionCount == 1)
    good.send(GI)
    wait(loop, lambda: good.find(100, Cause.ACTIVATION_TERMINATION))


def test_allowed_clients_and_connect_request(loop):
    server = make_server(allowedClients=["10.9.8.7"])
    m = connect(loop, server, start=False)
    assert m.closed.wait(WAIT) and server.openConnectionCount == 0
    server.allowedClients = []
    server.stop()
    server.start()
    asked = []

    def decide(ip, request):
        asked.append(ip)
        if len(asked) == 1:
            request.refuse()

    server.connectRequest.connect(decide)
    first = connect(loop, server, start=False)
    assert loop.run_until(first.closed.is_set, WAIT)
    second = connect(loop, server)
    assert asked == ["127.0.0.1", "127.0.0.1"] and not second.closed.is_set()
    server.setConnectRequestCallback(lambda srv, ip: False)
    third = connect(loop, server, start=False)
    assert loop.run_until(third.closed.is_set, WAIT)


def test_max_connections(loop):
    server = make_server(maxConnections=1)
    first = connect(loop, server)
    second = connect(loop, server, start=False)
    assert second.closed.wait(WAIT)
    assert not first.closed.is_set() and server.openConnectionCount == 1
