"""The link driver (incore.transport.link) on real TCP sockets, with a test codec.

The peer is the raw server end of the connection, so each test chooses exactly which
bytes go out in which send(); the ISO-on-TCP use is tested in tests/objects/s7.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from link_codec import Frame, Keepalive, LengthPrefixed, Pinged, frame, tcp_pair
from transport_helpers import WAIT, recv_exactly

from incore.protocols.errors import FramingError
from incore.transport.link import Failure, Link, LinkError
from incore.transport.link_stream import BlockingStream
from incore.transport.sockets import ReceiveTimeoutError, SendTimeoutError

SHORT = 0.2  # a timeout a test expects to run out


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = tcp_pair()
    server.settimeout(WAIT)
    yield client, server
    client.close()
    server.close()


def link_on(sock: socket.socket, engine=None, timeout: float = WAIT, **kw) -> Link:
    return Link(BlockingStream(sock, timeout), engine or LengthPrefixed(), timeout, **kw)


def test_events_come_whole_and_in_order_however_the_bytes_are_cut(pair) -> None:
    client, peer = pair
    link = link_on(client)
    data = b"".join(frame(bytes([n]) * n) for n in range(1, 40))
    for start in range(0, len(data), 7):
        peer.sendall(data[start : start + 7])
    assert [link.next_event() for _ in range(1, 40)] == [
        Frame(bytes([n]) * n) for n in range(1, 40)
    ]
    assert not link.pending


def test_a_reply_in_one_frame_skips_the_engine_and_anything_else_goes_through_it(pair) -> None:
    client, peer = pair
    engine = LengthPrefixed()
    link = link_on(client, engine)
    peer.sendall(frame(b"answer"))  # there already when the request goes out: one recv
    assert link.transfer(b"one") == b"answer"
    assert recv_exactly(peer, 5) == frame(b"one")
    assert engine.fed == 0  # the answer never met the engine

    peer.sendall(frame(b"re") + frame(b"extra"))  # two frames in one chunk
    assert link.transfer(b"two") == b"re"
    assert engine.fed == 1 and link.pending
    assert link.receive_pdu() == b"extra"


def test_events_left_before_a_request_go_to_others(pair) -> None:
    client, peer = pair
    seen: list = []
    link = link_on(client, others=seen.append)
    peer.sendall(frame(b"stale") + frame(b"stale too"))
    assert link.next_event() == Frame(b"stale")
    peer.sendall(frame(b"reply"))
    assert link.transfer(b"ask") == b"reply"
    assert seen == [Frame(b"stale too")]


def test_wait_for_keeps_what_it_passes_over(pair) -> None:
    client, peer = pair
    link = link_on(client)
    peer.sendall(frame(b"a") + frame(b"b") + frame(b"want") + frame(b"c"))
    assert link.wait_for(lambda e: e.payload == b"want") == Frame(b"want")
    assert link.held == [Frame(b"a"), Frame(b"b")]
    assert link.next_event() == Frame(b"c")


def test_nothing_before_the_deadline_is_a_timeout_naming_what_is_missing(pair) -> None:
    client, peer = pair
    link = link_on(client, timeout=SHORT)
    peer.sendall(frame(b"half")[:3])
    started = time.monotonic()
    with pytest.raises(ReceiveTimeoutError, match=r"127\.0\.0\.1:\d+: no reply within 0.2 s"):
        link.next_event(missing="no reply")
    assert SHORT <= time.monotonic() - started < WAIT
    peer.sendall(frame(b"half")[3:])  # what came before the deadline is kept
    assert link.next_event() == Frame(b"half")


def test_the_peer_closing_is_a_receive_failure(pair) -> None:
    client, peer = pair
    link = link_on(client)
    peer.close()
    with pytest.raises(LinkError, match="closed by the peer") as info:
        link.next_event()
    assert info.value.failure is Failure.RECEIVE and isinstance(info.value, ConnectionError)


def test_a_request_to_a_peer_that_closed_fails_on_the_way_out_or_back(pair) -> None:
    client, peer = pair
    link = link_on(client)
    peer.close()
    with pytest.raises(LinkError) as info:
        for _ in range(100):  # the first requests may still be taken by the kernel
            link.transfer(b"anyone?")
    assert info.value.failure in (Failure.SEND, Failure.RECEIVE)


def test_a_peer_that_takes_nothing_is_a_send_timeout(pair) -> None:
    client, _ = pair  # the peer never reads
    link = link_on(client, timeout=SHORT)
    with pytest.raises(SendTimeoutError, match="send timed out after 0.2 s"):
        link.send(bytes(64 << 20))  # more than the kernel buffers of both ends


def test_a_peer_that_takes_a_little_now_and_then_is_still_a_send_timeout(pair) -> None:
    client, peer = pair
    stop = threading.Event()

    def trickle() -> None:  # 1 MiB every 50 ms: each partial send would restart SO_SNDTIMEO
        while not stop.wait(0.05):
            try:
                peer.recv(1 << 20)
            except OSError:
                return

    reader = threading.Thread(target=trickle, daemon=True)
    reader.start()
    link = link_on(client, timeout=SHORT)
    started = time.monotonic()
    try:
        with pytest.raises(SendTimeoutError, match="send timed out"):
            link.send(bytes(64 << 20))
    finally:
        stop.set()
        reader.join(WAIT)
    assert time.monotonic() - started < SHORT + 1.0


def test_bytes_the_engine_refuses_fail_the_link_after_its_goodbye_went_out(pair) -> None:
    client, peer = pair
    link = link_on(client)
    peer.sendall(frame(b"fine"))
    assert link.next_event() == Frame(b"fine")
    peer.sendall(b"\x00\x00")
    with pytest.raises(LinkError, match="a frame of length 0") as info:
        link.next_event()
    assert info.value.failure is Failure.PROTOCOL
    assert isinstance(info.value.__cause__, FramingError)
    assert recv_exactly(peer, 5) == frame(b"bye")


def test_the_owner_policy_names_each_failure(pair) -> None:
    client, peer = pair
    failures: list[tuple[Failure, str]] = []

    def policy(failure: Failure, detail: str) -> OSError:
        failures.append((failure, detail))
        return ConnectionAbortedError(detail)

    link = link_on(client, timeout=SHORT, fail=policy)
    with pytest.raises(ConnectionAbortedError):
        link.next_event()
    peer.close()
    with pytest.raises(ConnectionAbortedError):
        link.next_event()
    with pytest.raises(ConnectionAbortedError):
        for _ in range(100):  # the first sends may still be taken by the kernel
            link.send_pdu(b"x" * 1000)
    assert [f for f, _ in failures] == [Failure.TIMEOUT, Failure.RECEIVE, Failure.SEND]


def test_a_timer_fires_during_a_wait_and_what_it_queues_is_sent(pair) -> None:
    client, peer = pair
    now = time.monotonic()
    link = link_on(client, Keepalive(now, t3=0.05, t1=WAIT))
    assert link.seconds_to_timer() <= 0.05
    event = link.next_event()  # nothing comes from the peer: the timer is the event
    assert isinstance(event, Pinged) and event.at >= now + 0.05
    assert recv_exactly(peer, 6) == frame(b"ping")
    peer.sendall(frame(b"pong"))
    assert link.next_event() == Frame(b"pong")
    assert link.engine.awaiting is None  # the engine saw the time the pong came


def test_a_timer_that_gives_up_fails_the_link_before_the_wait_ends(pair) -> None:
    client, peer = pair
    link = link_on(client, Keepalive(time.monotonic(), t3=0.02, t1=0.05))
    assert isinstance(link.next_event(), Pinged)
    started = time.monotonic()
    with pytest.raises(LinkError, match="no pong within t1") as info:
        link.next_event()
    assert info.value.failure is Failure.PROTOCOL and time.monotonic() - started < WAIT


def test_poll_never_waits_and_notices_the_peer_closing(pair) -> None:
    client, peer = pair
    link = link_on(client)
    assert link.poll() == [] and not link.peer_closed() and not link.readable()
    peer.sendall(frame(b"x") + frame(b"y"))
    assert link.readable(WAIT)
    assert link.poll() == [Frame(b"x"), Frame(b"y")]
    peer.close()
    assert link.readable(WAIT) and link.peer_closed()
    with pytest.raises(LinkError, match="closed by the peer"):
        link.poll()


def test_a_goodbye_never_fails(pair) -> None:
    client, peer = pair
    link = link_on(client)
    link.engine.send_pdu(b"bye")
    link.flush_quietly()
    assert recv_exactly(peer, 5) == frame(b"bye")
    link.stream.close()
    link.engine.send_pdu(b"again")
    link.flush_quietly()  # closed: nothing sent, nothing raised
    assert link.closed


def test_a_bad_timeout_is_refused(pair) -> None:
    client, _ = pair
    with pytest.raises(ValueError, match="timeout"):
        link_on(client, timeout=0)
