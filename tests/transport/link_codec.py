"""A test codec for the link driver: length-prefixed frames, sans-IO, with and without
timers (imported by name by the transport tests).

Frames are a 2-byte big-endian length and the payload. A zero-length frame is refused:
the engine queues a ``b"bye"`` frame, then raises ProtocolError (so a test sees that what
an engine queues before giving up still goes out). ``Keepalive`` adds IEC 104's idle test:
t3 after the last frame received it sends ``b"ping"``, and unless ``b"pong"`` comes back
within t1 it gives the connection up. ``AckLater`` is IEC 104's t2 in miniature: a frame
received is acknowledged (``b"ack"``) t2 later, and no timer runs otherwise.
"""

from __future__ import annotations

import socket
import struct

import attrs

from incore.protocols.contract import PduReceived, Untimed
from incore.protocols.errors import FramingError, ProtocolError

HEADER = struct.Struct(">H")


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


@attrs.frozen
class Frame(PduReceived):
    """One whole frame's payload."""


@attrs.frozen
class Pinged:
    """Keepalive's t3 ran out: a ping went out at ``at``."""

    at: float


class Framed:
    """The framing both codecs share; ``fed`` counts receive_data calls."""

    def __init__(self) -> None:
        self._rx = bytearray()
        self._tx = bytearray()
        self.fed = 0

    def receive_data(self, data: bytes, now: float | None = None) -> list:
        self.fed += 1
        self._rx += data
        events: list = []
        while len(self._rx) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._rx)
            if size == 0:
                self._tx += frame(b"bye")
                raise FramingError("a frame of length 0")
            if len(self._rx) < HEADER.size + size:
                break
            payload = bytes(self._rx[HEADER.size : HEADER.size + size])
            del self._rx[: HEADER.size + size]
            events += self.received(payload, now)
        return events

    def received(self, payload: bytes, now: float | None) -> list:
        return [Frame(payload)]

    def data_to_send(self) -> bytes:
        out = bytes(self._tx)
        self._tx.clear()
        return out

    def send_pdu(self, pdu: bytes) -> None:
        self._tx += frame(pdu)


class LengthPrefixed(Framed, Untimed):
    """No timers; offers the quick framing a link uses for one whole frame in one recv."""

    def frame_pdu(self, pdu: bytes) -> bytes | None:
        return frame(pdu)

    def whole_payload(self, data: bytes) -> bytes | None:
        if self._rx or len(data) <= HEADER.size or HEADER.unpack_from(data)[0] != len(data) - 2:
            return None
        return data[HEADER.size :]


class Keepalive(Framed):
    """IEC 104's t3/t1 in miniature: ping an idle peer, give up if it does not answer."""

    def __init__(self, now: float, t3: float, t1: float) -> None:
        super().__init__()
        self.t3, self.t1 = t3, t1
        self.last_rx = now
        self.awaiting: float | None = None  # when t1 runs out for the ping sent

    def received(self, payload: bytes, now: float | None) -> list:
        if now is not None:
            self.last_rx = now
        if payload == b"pong":
            self.awaiting = None
        return [Frame(payload)]

    def next_deadline(self) -> float | None:
        return self.awaiting if self.awaiting is not None else self.last_rx + self.t3

    def handle_timer(self, now: float) -> list:
        if self.awaiting is not None:
            if now >= self.awaiting:
                raise ProtocolError(f"no pong within t1 ({self.t1:g} s)")
            return []
        if now < self.last_rx + self.t3:
            return []
        self._tx += frame(b"ping")
        self.awaiting = now + self.t1
        return [Pinged(now)]


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """A connected (client, server) pair of TCP sockets on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    for sock in (client, server):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client, server


class AckLater(Framed):
    """t2 in miniature: every frame received arms an acknowledgement due `t2` later."""

    def __init__(self, now: float, t2: float) -> None:
        super().__init__()
        self.t2 = t2
        self.due: float | None = None

    def received(self, payload: bytes, now: float | None) -> list:
        if self.due is None and now is not None:
            self.due = now + self.t2
        return [Frame(payload)]

    def next_deadline(self) -> float | None:
        return self.due

    def handle_timer(self, now: float) -> list:
        if self.due is not None and now >= self.due:
            self.due = None
            self._tx += frame(b"ack")
        return []
