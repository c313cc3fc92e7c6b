"""Hypothesis over ModbusTcpClient's link (client_link.ModbusLink) on a real loopback socket:
a scripted peer answers each request frame as drawn (at once, twice, late, never, with
another transaction id, or from another unit), and the link must return each request's own
value, or fail the way the script says it must, never with another request's answer.

The codec's client engine has its own hypothesis tests (test_protocols_modbus_fuzz.py);
this is the path the client object takes: `AduFraming`, `Link.transfer_matched` with
`_match`, the retries of `exchange`, and the pipelining of `exchange_many`.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from collections import deque

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incore.objects.modbus.client_link import (
    STALE_WINDOW,
    ModbusConnectionError,
    ModbusLink,
    ModbusTimeoutError,
)
from incore.protocols.modbus import MbapDecoder, ModbusFramingError, frame_adu
from incore.protocols.modbus import pdu as P
from incore.transport.link_stream import BlockingStream

#: Seconds a request waits for its answer: short, since "never" and "late" cost one each.
TIMEOUT = 0.05
RETRIES = 2
UNIT = 1

#: What the peer does with one request frame.
OK, DUP, LATE, DROP, FOREIGN, OTHER_UNIT = "ok", "dup", "late", "drop", "foreign", "unit"

FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def value(address: int) -> int:
    """The register value the peer serves at `address` (distinct for every address)."""
    return (address * 7919 + 13) & 0xFFFF


class ScriptedPeer:
    """Serves FC 3 reads of one register on an accepted socket, doing with the n-th frame
    what `actions[n]` says (OK once the script is used up). With `shuffle`, the frames of
    one receive are answered in an order drawn from `seed`."""

    def __init__(self, sock: socket.socket, actions: list[str], shuffle: int | None = None):
        self.sock = sock
        self.actions = deque(actions)
        self.rnd = random.Random(shuffle) if shuffle is not None else None
        self.log: list[tuple[int, str]] = []  # (address, action) per frame, in arrival order
        self.held: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        decoder = MbapDecoder()
        while True:
            try:
                data = self.sock.recv(4096)
                frames = decoder.feed(data) if data else None
            except (OSError, ModbusFramingError):
                return
            if not frames:
                if frames is None:
                    return
                continue
            if self.rnd is not None:
                self.rnd.shuffle(frames)
            out = b"".join(self._answer(*frame) for frame in frames)
            if out:
                try:
                    self.sock.sendall(out)
                except OSError:
                    return

    def _answer(self, tid: int, unit: int, pdu: bytes) -> bytes:
        (address,) = struct.unpack_from(">H", pdu, 1)
        action = self.actions.popleft() if self.actions else OK
        self.log.append((address, action))
        answer = bytes([3, 2]) + value(address).to_bytes(2, "big")
        if action == LATE:  # sent just before the next answer that goes out
            self.held.append(frame_adu(tid, unit, answer))
            return b""
        if action == DROP:
            return b""
        if action == FOREIGN:  # an id far from anything asked
            return frame_adu((tid + 1000) & 0xFFFF, unit, answer)
        if action == OTHER_UNIT:
            return frame_adu(tid, unit ^ 0x40, answer)
        held, self.held = b"".join(self.held), []
        return held + frame_adu(tid, unit, answer) * (2 if action == DUP else 1)


def connected(opened: list[socket.socket]) -> tuple[socket.socket, socket.socket]:
    """A connected (client, server) pair of TCP sockets on 127.0.0.1, added to `opened`."""
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    finally:
        listener.close()
    opened.extend((client, server))
    return client, server


def expected_outcome(actions: list[str]) -> object:
    """What the link must return for one request whose attempts met `actions` (in order)."""
    for action in actions:
        if action in (OK, DUP):
            return "value"
        if action in (FOREIGN, OTHER_UNIT):
            return ModbusConnectionError
    assert len(actions) == RETRIES + 1, actions  # every attempt went unanswered
    return ModbusTimeoutError


action_lists = st.lists(
    st.sampled_from([OK, OK, OK, DUP, DUP, LATE, DROP, FOREIGN, OTHER_UNIT]), max_size=14
)


@FAST
@given(actions=action_lists, requests=st.integers(1, 8))
def test_each_request_gets_its_own_answer_or_the_failure_the_peer_caused(actions, requests):
    sockets: list[socket.socket] = []
    try:
        client, server = connected(sockets)
        peer = ScriptedPeer(server, actions)
        link = ModbusLink(BlockingStream(client, 2.0), TIMEOUT, retries=RETRIES)
        outcomes: list[object] = []
        for address in range(requests):
            try:
                outcomes.append(link.request(UNIT, P.read_holding_registers(address, 1)))
            except (ModbusConnectionError, ModbusTimeoutError) as exc:
                outcomes.append(type(exc))
                break  # the link is failed: the client object closes and reconnects
        client.shutdown(socket.SHUT_WR)
        peer.thread.join(5)
        for address, got in enumerate(outcomes):
            tried = [a for n, a in peer.log if n == address]
            want = expected_outcome(tried)
            if want == "value":
                assert got == [value(address)], (address, tried, peer.log)
            else:
                assert got is want, (address, tried, peer.log)
        if outcomes[-1] not in (ModbusConnectionError, ModbusTimeoutError):
            assert len(outcomes) == requests
        assert link.stale <= sum(a in (DUP, LATE) for _, a in peer.log)
    finally:
        for sock in sockets:
            sock.close()


@FAST
@given(
    dups=st.lists(st.booleans(), min_size=2, max_size=12),
    pending=st.integers(2, 6),
    seed=st.integers(0, 2**16),
)
def test_pipelined_answers_in_any_order_land_in_their_own_requests(dups, pending, seed):
    """With `max_pending` above 1 a server may answer the frames of a segment in any
    order, some twice: each result is still its own request's, in the order asked."""
    sockets: list[socket.socket] = []
    try:
        client, server = connected(sockets)
        peer = ScriptedPeer(server, [DUP if d else OK for d in dups], shuffle=seed)
        link = ModbusLink(
            BlockingStream(client, 2.0), TIMEOUT, retries=RETRIES, max_pending=pending
        )
        items = [(UNIT, P.read_holding_registers(10 * n, 1)) for n in range(len(dups))]
        results = link.exchange_many(items)
        assert [r[0] for r in results] == [[value(10 * n)] for n in range(len(dups))]
        again = link.exchange_many(items[:2])  # duplicates still on the way are dropped
        assert [r[0] for r in again] == [[value(0)], [value(10)]]
        assert link.stale <= sum(dups) < STALE_WINDOW
        client.shutdown(socket.SHUT_WR)
        peer.thread.join(5)
    finally:
        for sock in sockets:
            sock.close()
