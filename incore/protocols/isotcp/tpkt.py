"""RFC 1006 TPKT framing: a 4-byte header in front of every ISO TPDU.

TCP is a byte stream; TPKT restores message boundaries.  The decoder is
incremental so a transport can feed whatever `recv` returned.
"""

from __future__ import annotations

import struct

from ..errors import TpktError

__all__ = [
    "TPKT_VERSION",
    "TPKT_HEADER_SIZE",
    "MIN_TPKT_LENGTH",
    "MAX_TPKT_LENGTH",
    "encode_tpkt",
    "TpktDecoder",
]

TPKT_VERSION = 3
TPKT_HEADER_SIZE = 4
#: Smallest frame that can carry a COTP header (DT: LI, code, EOT/NR).
MIN_TPKT_LENGTH = 7
MAX_TPKT_LENGTH = 0xFFFF

_HEADER = struct.Struct(">BBH")


def encode_tpkt(payload: bytes) -> bytes:
    """Prefix one TPDU with its TPKT header."""
    length = len(payload) + TPKT_HEADER_SIZE
    if not MIN_TPKT_LENGTH <= length <= MAX_TPKT_LENGTH:
        raise TpktError(f"TPKT payload of {len(payload)} bytes does not fit a frame")
    return _HEADER.pack(TPKT_VERSION, 0, length) + payload


class TpktDecoder:
    """Incremental TPKT splitter: bytes in, complete TPDU payloads out.

    After a `TpktError` the stream has lost its framing, so the decoder
    stays failed and every further `feed` raises again.
    """

    __slots__ = ("_buffer", "_max_length", "_failed")

    def __init__(self, max_length: int = MAX_TPKT_LENGTH) -> None:
        self._buffer = bytearray()
        self._max_length = max_length
        self._failed: str | None = None

    @property
    def idle(self) -> bool:
        """Nothing buffered and not failed: the next bytes start a frame."""
        return not self._buffer and self._failed is None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Append `data` and return every TPDU payload now complete."""
        if self._failed is not None:
            raise TpktError(self._failed)
        buf = self._buffer
        buf += data
        frames: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= TPKT_HEADER_SIZE:
            version, _reserved, length = _HEADER.unpack_from(buf, pos)
            if version != TPKT_VERSION:
                self._fail(f"TPKT version {version} (expected 3)")
            if length < MIN_TPKT_LENGTH:
                self._fail(f"TPKT length {length} is below the minimum of {MIN_TPKT_LENGTH}")
            if length > self._max_length:
                self._fail(f"TPKT length {length} exceeds the limit of {self._max_length}")
            if end - pos < length:
                break
            frames.append(bytes(buf[pos + TPKT_HEADER_SIZE : pos + length]))
            pos += length
        if pos:
            del buf[:pos]
        return frames

    def _fail(self, message: str) -> None:
        self._buffer.clear()
        self._failed = message
        raise TpktError(message)
