"""The IEC 104 link engine (`Iec104Link`) on a fake clock: STARTDT/STOPDT, sequence
numbers, k and w, and t1/t2/t3 driven by plain floats (no sleeping). Two engines talk to
each other through `shuttle`, which moves bytes both ways until both are quiet."""

from __future__ import annotations

import pytest

from incore.protocols.contract import Framing, StreamEngine
from incore.protocols.errors import ProtocolError
from incore.protocols.iec104 import (
    Acknowledged,
    ApciError,
    AsduReceived,
    Iec104Link,
    IFrame,
    LinkError,
    LinkParameters,
    LinkState,
    NotStartedError,
    Role,
    SequenceError,
    SFrame,
    Started,
    Stopped,
    TestConfirmed,
    TimeoutExpired,
    UFrame,
    UFunction,
    decode_frame,
    i_frame,
    s_frame,
    u_frame,
)
from incore.protocols.iec104.apci import ApciDecoder

ASDU = bytes.fromhex("0D0103000100E903000000BC4100")


def frames(data: bytes) -> list:
    return ApciDecoder().feed(data)


def shuttle(a: Iec104Link, b: Iec104Link, now: float) -> tuple[list, list]:
    """Deliver bytes both ways until neither has anything to send; the events of each."""
    seen_a: list = []
    seen_b: list = []
    while True:
        out_a, out_b = a.data_to_send(), b.data_to_send()
        if not out_a and not out_b:
            return seen_a, seen_b
        if out_a:
            seen_b += b.receive_data(out_a, now)
        if out_b:
            seen_a += a.receive_data(out_b, now)


def started_pair(params: LinkParameters | None = None, now: float = 100.0):
    server = Iec104Link(Role.CONTROLLED, params, now=now)
    client = Iec104Link(Role.CONTROLLING, params, now=now)
    client.start(now)
    seen_s, seen_c = shuttle(server, client, now)
    assert seen_s == [Started()] and seen_c == [Started()]
    return server, client


def test_the_link_has_the_framing_shape():
    link = Iec104Link()
    assert isinstance(link, StreamEngine) and isinstance(link, Framing)
    assert link.state is LinkState.STOPPED and link.can_send


def test_startdt_handshake_bytes():
    server = Iec104Link(Role.CONTROLLED, now=0.0)
    client = Iec104Link(Role.CONTROLLING, now=0.0)
    client.start(0.0)
    assert client.data_to_send() == bytes.fromhex("680407000000")
    assert client.state is LinkState.STARTING
    assert server.receive_data(bytes.fromhex("680407000000"), 0.1) == [Started()]
    assert server.data_to_send() == bytes.fromhex("68040B000000")
    assert client.receive_data(bytes.fromhex("68040B000000"), 0.2) == [Started()]
    assert server.started and client.started


def test_the_station_queues_asdus_until_started_then_sends_them_in_order():
    server = Iec104Link(Role.CONTROLLED, now=0.0)
    server.send_pdu(ASDU, 0.0)
    server.send_pdu(ASDU[:-1] + b"\x01", 0.0)
    assert server.data_to_send() == b"" and server.queued == 2
    server.receive_data(u_frame(UFunction.STARTDT_ACT), 1.0)
    sent = frames(server.data_to_send())
    assert sent == [
        UFrame(UFunction.STARTDT_CON),
        IFrame(0, 0, ASDU),
        IFrame(1, 0, ASDU[:-1] + b"\x01"),
    ]
    assert server.outstanding == 2 and server.queued == 0


def test_i_frames_before_startdt_close_the_station_link():
    server = Iec104Link(Role.CONTROLLED, now=0.0)
    with pytest.raises(NotStartedError, match="stopped") as err:
        server.receive_data(u_frame(UFunction.TESTFR_ACT) + i_frame(0, 0, ASDU), 1.0)
    assert server.state is LinkState.CLOSED and server.next_deadline() is None
    assert isinstance(err.value, ProtocolError)
    with pytest.raises(LinkError):
        server.receive_data(u_frame(UFunction.TESTFR_ACT), 2.0)


def test_testfr_is_answered_in_any_state():
    server = Iec104Link(Role.CONTROLLED, now=0.0)
    assert server.receive_data(u_frame(UFunction.TESTFR_ACT), 1.0) == []
    assert server.data_to_send() == u_frame(UFunction.TESTFR_CON)


def test_k_unacknowledged_frames_at_most_and_acks_release_the_queue():
    server, client = started_pair(LinkParameters(k=3, w=2))
    for _ in range(7):
        server.send_pdu(ASDU, 100.0)
    assert [type(f) for f in frames(server.data_to_send())] == [IFrame] * 3
    assert server.outstanding == 3 and server.queued == 4
    # the client acknowledges after w = 2 frames: 2 more may go
    got = client.receive_data(i_frame(0, 0, ASDU) + i_frame(1, 0, ASDU), 101.0)
    assert got == [AsduReceived(ASDU)] * 2
    ack = client.data_to_send()
    assert frames(ack) == [SFrame(2)]
    assert server.receive_data(ack, 101.0) == [Acknowledged(2, 1)]
    assert [f.ns for f in frames(server.data_to_send())] == [3, 4]
    assert server.outstanding == 3 and server.queued == 2


def test_own_i_frames_carry_the_acknowledgement():
    server, client = started_pair()
    client.receive_data(i_frame(0, 0, ASDU), 100.5)
    assert client.next_deadline() == 110.5  # t2 is running
    client.send_pdu(ASDU, 101.0)
    assert frames(client.data_to_send()) == [IFrame(0, 1, ASDU)]
    assert client.next_deadline() == 116.0  # t1 of that frame; t2 stopped (and t3 at 120.5)


def test_t2_acknowledges_with_an_s_frame():
    server, client = started_pair()
    client.receive_data(i_frame(0, 0, ASDU) + i_frame(1, 0, ASDU), 100.0)
    assert client.data_to_send() == b""  # fewer than w
    assert client.next_deadline() == 110.0
    assert client.handle_timer(109.9) == [] and client.data_to_send() == b""
    assert client.handle_timer(110.0) == []
    assert frames(client.data_to_send()) == [SFrame(2)]


def test_t1_closes_when_an_i_frame_stays_unacknowledged():
    server, client = started_pair()
    server.send_pdu(ASDU, 101.0)
    server.data_to_send()
    assert server.next_deadline() == 116.0
    server.handle_timer(115.9)
    with pytest.raises(TimeoutExpired, match="t1"):
        server.handle_timer(116.0)
    assert server.state is LinkState.CLOSED and server.closed_reason.startswith("t1")


def test_t3_sends_testfr_and_t1_closes_if_no_con_comes():
    server, client = started_pair()
    assert server.next_deadline() == 120.0
    server.handle_timer(120.0)
    assert server.data_to_send() == u_frame(UFunction.TESTFR_ACT)
    assert server.next_deadline() == 135.0
    with pytest.raises(TimeoutExpired, match="TESTFR_ACT"):
        server.handle_timer(135.0)


def test_t3_test_frame_answered_restarts_idle_time():
    server, client = started_pair()
    server.handle_timer(120.0)
    seen_s, seen_c = shuttle(server, client, 121.0)
    assert seen_s == [TestConfirmed()] and seen_c == []
    assert server.next_deadline() == 141.0
    client.test(130.0)
    assert shuttle(server, client, 131.0) == ([], [TestConfirmed()])


def test_t1_also_guards_startdt():
    client = Iec104Link(Role.CONTROLLING, now=0.0)
    client.start(1.0)
    assert client.next_deadline() == 16.0
    with pytest.raises(TimeoutExpired, match="STARTDT_ACT"):
        client.handle_timer(16.0)


def test_a_wrong_send_number_closes():
    server, client = started_pair()
    with pytest.raises(SequenceError, match="N\\(S\\) 1, expected 0") as err:
        client.receive_data(u_frame(UFunction.TESTFR_CON) + i_frame(1, 0, ASDU), 101.0)
    assert err.value.events == []


def test_an_ack_of_frames_never_sent_closes_and_keeps_earlier_events():
    server, client = started_pair()
    server.send_pdu(ASDU, 100.0)
    server.data_to_send()
    with pytest.raises(SequenceError, match="never sent") as err:
        server.receive_data(s_frame(1) + s_frame(2), 101.0)
    assert err.value.events == [Acknowledged(1, 0)]


def test_stopdt_waits_for_outstanding_frames_then_confirms():
    server, client = started_pair()
    server.send_pdu(ASDU, 100.0)
    sent = server.data_to_send()
    client.stop(100.5)
    stop = client.data_to_send()
    assert frames(stop) == [UFrame(UFunction.STOPDT_ACT)]
    assert server.receive_data(stop, 101.0) == []  # one I-frame still unacknowledged
    assert server.state is LinkState.STOPPING
    server.send_pdu(ASDU, 101.0)
    assert server.data_to_send() == b""  # no new I-frames while stopping
    got = client.receive_data(sent, 101.5)
    assert got == [AsduReceived(ASDU)]
    ack = client.data_to_send()
    assert frames(ack) == [SFrame(1)]  # acknowledged at once while stopping
    assert server.receive_data(ack, 102.0) == [Acknowledged(1, 0), Stopped()]
    con = server.data_to_send()
    assert frames(con) == [UFrame(UFunction.STOPDT_CON)]
    assert client.receive_data(con, 102.5) == [Stopped()]
    assert server.queued == 1  # kept for the next STARTDT
    client.start(103.0)
    seen_s, seen_c = shuttle(server, client, 103.0)
    assert seen_s[0] == Started() and seen_c == [Started(), AsduReceived(ASDU)]


def test_sequence_numbers_wrap_at_32768():
    server, client = started_pair(LinkParameters(k=32767, w=32767))
    server._vs = server._acked = 32766  # as if 32766 frames had gone before
    client._vr = 32766
    for _ in range(4):
        server.send_pdu(ASDU, 100.0)
    data = server.data_to_send()
    assert [f.ns for f in frames(data)] == [32766, 32767, 0, 1]
    assert client.receive_data(data, 100.0) == [AsduReceived(ASDU)] * 4
    client.acknowledge()
    ack = client.data_to_send()
    assert frames(ack) == [SFrame(2)]
    assert server.receive_data(ack, 100.0) == [Acknowledged(4, 0)]


def test_the_clock_may_come_later_than_the_engine():
    link = Iec104Link(Role.CONTROLLING)  # no time yet
    link.start()
    link.handle_timer(5000.0)  # the first reading: STARTDT act counts from here
    assert link.next_deadline() == 5015.0


def test_the_controlled_station_refuses_to_start_and_the_client_refuses_acts():
    with pytest.raises(ValueError):
        Iec104Link(Role.CONTROLLED).start()
    client = Iec104Link(Role.CONTROLLING, now=0.0)
    with pytest.raises(LinkError, match="STARTDT_ACT from the controlled"):
        client.receive_data(u_frame(UFunction.STARTDT_ACT), 1.0)


def test_bad_bytes_close_with_a_framing_error():
    link = Iec104Link(now=0.0)
    with pytest.raises(ApciError):
        link.receive_data(b"\x69\x04", 1.0)
    assert link.state is LinkState.CLOSED
    with pytest.raises(LinkError, match="closed"):
        link.send_pdu(ASDU)
    with pytest.raises(ApciError):
        Iec104Link().send_pdu(b"x" * 250)


@pytest.mark.parametrize("kwargs", [{"k": 0}, {"w": 40000}, {"t1": 0}, {"t2": 15.0, "t1": 15.0}])
def test_parameters_are_checked(kwargs):
    with pytest.raises(ValueError):
        LinkParameters(**kwargs)


def test_decode_frame_checks_its_length():
    with pytest.raises(ApciError):
        decode_frame(u_frame(UFunction.TESTFR_ACT) + b"\x00")
