"""MBAP framing (Modbus TCP's 7-byte header) over a byte stream, sans-IO.

Every Modbus TCP frame is `tid(2) protocol(2)=0 length(2) unit(1)` and then `length - 1`
bytes of PDU. TCP has no resynchronisation marker, so a header we cannot trust (protocol id
not 0, length outside 2..254) makes the rest of the stream unreadable:
`ModbusFramingError`, and the transport closes that connection.

`MbapDecoder` is the splitter the engines share: bytes in any chunking, `(tid, unit, pdu)`
tuples out, every frame of a pipelined segment in order. `MbapFraming` wraps it in the
contract's `Framing` shape for a `Stack` or a generic loop; the server and client engines
use the decoder directly, so the common request costs one unpack and no event object.
"""

from __future__ import annotations

import struct
from collections import deque

import attrs

from ..contract import PduReceived, Untimed
from .errors import ModbusFramingError

__all__ = [
    "MBAP_HEADER_SIZE",
    "MAX_ADU",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "MbapDecoder",
    "MbapFrame",
    "MbapFraming",
    "frame_adu",
]

MBAP_HEADER_SIZE = 7
#: The length field counts the unit id and the PDU: 1 + 1..253.
MIN_LENGTH = 2
MAX_LENGTH = 254
MAX_ADU = 6 + MAX_LENGTH  # 260

HEADER = struct.Struct(">HHHB")
"""`tid, protocol, length, unit`: the whole MBAP header."""

Frame = tuple[int, int, bytes]
"""`(transaction id, unit id, PDU)` as the decoder returns it."""


def frame_adu(tid: int, unit: int, pdu: bytes) -> bytes:
    """The whole ADU of one PDU (no checks: the engines build PDUs that fit)."""
    return HEADER.pack(tid, 0, len(pdu) + 1, unit) + pdu


def _complaint(protocol: int, length: int) -> str:
    if protocol:
        return f"MBAP protocol id {protocol} (Modbus is 0)"
    return f"MBAP length {length} outside {MIN_LENGTH}..{MAX_LENGTH}"


class MbapDecoder:
    """Incremental MBAP splitter: bytes in, `(tid, unit, pdu)` tuples out, in order.

    After a `ModbusFramingError` the stream has lost its framing, so the decoder stays
    failed and every further `feed` raises again.
    """

    __slots__ = ("_buffer", "_failed", "idle")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._failed: str | None = None
        #: Nothing buffered and not failed: the next bytes start a frame (an attribute, kept
        #: by `feed`: a client reads it on every request).
        self.idle = True

    def feed(self, data: bytes) -> list[Frame]:
        """Append `data` and return every frame now complete."""
        if self._failed is not None:
            raise ModbusFramingError(self._failed)
        buf = self._buffer
        if not buf:
            size = len(data)
            if size >= MBAP_HEADER_SIZE:  # the common case: one whole frame, nothing pending
                tid, protocol, length, unit = HEADER.unpack_from(data)
                if size == length + 6 and not protocol and MIN_LENGTH <= length <= MAX_LENGTH:
                    return [(tid, unit, bytes(data[7:]))]
        buf += data
        frames: list[Frame] = []
        pos = 0
        end = len(buf)
        while end - pos >= MBAP_HEADER_SIZE:
            tid, protocol, length, unit = HEADER.unpack_from(buf, pos)
            if protocol or not MIN_LENGTH <= length <= MAX_LENGTH:
                buf.clear()
                self._failed = _complaint(protocol, length)
                self.idle = False
                raise ModbusFramingError(self._failed)
            stop = pos + 6 + length
            if stop > end:
                break
            frames.append((tid, unit, bytes(buf[pos + 7 : stop])))
            pos = stop
        if pos:
            del buf[:pos]
        self.idle = not buf
        return frames


@attrs.frozen
class MbapFrame(PduReceived):
    """One received Modbus PDU in `payload`, with its transaction and unit ids."""

    tid: int
    unit: int


class MbapFraming(Untimed):
    """MBAP as a contract `Framing` engine (either end of a connection).

    Received frames come out as `MbapFrame` events. `send_pdu(pdu)` without ids answers the
    oldest received frame not answered yet (so a `Stack` with a PDU engine that answers
    every request in order pairs them right); a client passes `tid` and `unit`.
    """

    __slots__ = ("_decoder", "_outbox", "_unanswered")

    def __init__(self) -> None:
        self._decoder = MbapDecoder()
        self._outbox = bytearray()
        self._unanswered: deque[tuple[int, int]] = deque()

    @property
    def can_send(self) -> bool:
        """Always true: MBAP has no connection state of its own."""
        return True

    def receive_data(self, data: bytes, now: float | None = None) -> list[MbapFrame]:
        """Feed received bytes (any chunking); return one event per complete frame."""
        frames = self._decoder.feed(data)
        self._unanswered.extend((tid, unit) for tid, unit, _ in frames)
        return [MbapFrame(pdu, tid, unit) for tid, unit, pdu in frames]

    def send_pdu(self, pdu: bytes, tid: int | None = None, unit: int | None = None) -> None:
        """Queue one PDU, framed with `tid`/`unit` (default: the oldest unanswered frame's)."""
        if tid is None:
            if not self._unanswered:
                raise ModbusFramingError("no received frame to answer and no transaction id")
            tid, asked = self._unanswered.popleft()
            unit = asked if unit is None else unit
        if not 1 <= len(pdu) <= MAX_LENGTH - 1:
            raise ModbusFramingError(f"a PDU of {len(pdu)} bytes does not fit an MBAP frame")
        self._outbox += HEADER.pack(tid, 0, len(pdu) + 1, 255 if unit is None else unit)
        self._outbox += pdu

    def data_to_send(self) -> bytes:
        """Drain and return the bytes queued for the peer."""
        out = bytes(self._outbox)
        self._outbox.clear()
        return out
