"""An S7Client reads on through a proxy that mangles one reply on purpose.

A flaky network or a gateway can send a reply twice, late or broken. The rule the client
keeps (the same for Modbus transaction ids and IEC 104 sequence numbers): a reply to an
earlier request is dropped and counted in `droppedReplies`, and a link whose replies no
longer pair with its requests is closed and reconnected. Whatever the fault, polls read
the right bytes again within one timeout. The PLC behind the proxy is python-snap7's server.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from test_s7_client_support import WAIT, loop, make_client, py_peer  # noqa: F401  (fixtures)

from incore.protocols.s7 import Area

TIMEOUT_MS = 400
#: How long after the fault the client must read right again: one timeout, a reconnect
#: (its first retry waits reconnectInterval) and slack for a loaded machine.
RECOVERY = TIMEOUT_MS / 1000 + 1.5

Fault = Callable[[bytes, bytes], bytes]  # (previous reply frame, this one) -> what to send


def _frame_with_ref(frame: bytes, ref: int) -> bytes:
    """`frame` (TPKT + COTP DT + S7 header) with its S7 PDU reference replaced."""
    return frame[:11] + struct.pack(">H", ref) + frame[13:]


FAULTS: dict[str, Fault] = {
    # the reply twice: the second answers the request before the next one
    "duplicate": lambda previous, frame: frame + frame,
    # the previous reply again, late, before this one
    "stale": lambda previous, frame: previous + frame,
    # a reply whose reference answers nothing ever asked
    "foreign reference": lambda previous, frame: _frame_with_ref(
        frame, (struct.unpack_from(">H", frame, 11)[0] + 30000) % 0xFFFF
    ),
    # bytes that are no TPKT frame at all
    "garbage": lambda previous, frame: bytes(range(0x40, 0x40 + len(frame))),
    # half a frame, then nothing of it
    "truncated": lambda previous, frame: frame[: len(frame) // 2],
    # a frame that claims more than any reply holds
    "oversized": lambda previous, frame: b"\x03\x00\xff\xff" + frame[4:],
}


class FaultyProxy:
    """Forwards S7 clients to `upstream`; `arm(fault)` mangles the next reply frame."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self._fault: Fault | None = None
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.applied = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._fault = fault

    def close(self) -> None:
        with self._lock:
            socks, self._socks = [self._listener, *self._socks], []
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                server = socket.create_connection(("127.0.0.1", self.upstream), WAIT)
            except OSError:
                return
            with self._lock:
                self._socks += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _replies(self, src: socket.socket, dst: socket.socket) -> None:
        """Server to client, a TPKT frame at a time, so a fault hits exactly one reply."""
        previous = b""
        try:
            with src.makefile("rb") as stream:
                while header := stream.read(4):
                    frame = header + stream.read(struct.unpack_from(">H", header, 2)[0] - 4)
                    with self._lock:
                        fault, self._fault = self._fault, None
                    dst.sendall(frame if fault is None else fault(previous, frame))
                    if fault is not None:
                        self.applied.set()
                    previous = frame
        except (OSError, ValueError):
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def proxy(py_peer) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy(py_peer.port)
    try:
        yield proxy
    finally:
        proxy.close()


def _poll(client, expected: bytes) -> bool:
    """One read of DB1.0..15: True if it brought the right bytes."""
    try:
        return client.dbRead(1, 0, 16).result(WAIT) == expected
    except Exception:
        return False


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_mangled_reply_costs_at_most_one_timeout(name, py_peer, proxy, make_client, loop):
    expected = bytes(range(16))
    py_peer.areas[(Area.DB, 1)][:16] = expected
    client = make_client(proxy.port, timeout=TIMEOUT_MS, reconnectInterval=10)
    assert _poll(client, expected)
    proxy.arm(FAULTS[name])
    armed = time.monotonic()
    outcomes = []
    while time.monotonic() - armed < RECOVERY and not (outcomes[-3:] == [True] * 3):
        outcomes.append(_poll(client, expected))
        loop.process_events()
        if not outcomes[-1]:  # the link went down: poll again once it is back
            loop.run_until(lambda: client.connected, RECOVERY)
    assert proxy.applied.is_set()
    assert outcomes[-3:] == [True] * 3, f"{name}: polls {outcomes}, {client.errorString}"
    if name in ("duplicate", "stale"):  # a late answer is dropped, and no poll fails for it
        assert all(outcomes), outcomes
        assert loop.run_until(lambda: client.droppedReplies == 1, WAIT), client.droppedReplies
    else:  # the link was out of step: closed, and reconnected
        assert client.droppedReplies == 0
        assert outcomes.count(False) <= 2, outcomes
