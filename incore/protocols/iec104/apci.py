"""APCI framing: `68 len C1 C2 C3 C4` in front of every APDU, in I, S and U formats.

The stream has no resynchronisation marker, so a bad start byte or a length outside
4..253 makes the rest unreadable: `ApciError`, and the transport closes the connection.
`ApciDecoder` splits any chunking of the stream into `IFrame`, `SFrame` and `UFrame`
tuples; `i_frame`, `s_frame` and `u_frame` build the bytes.
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple

from .errors import ApciError

__all__ = [
    "START",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "SEQ_MODULUS",
    "ApciDecoder",
    "Frame",
    "IFrame",
    "SFrame",
    "UFrame",
    "UFunction",
    "decode_frame",
    "i_frame",
    "s_frame",
    "u_frame",
]

START = 0x68
MIN_LENGTH = 4
MAX_LENGTH = 253
SEQ_MODULUS = 1 << 15

_I_HEADER = struct.Struct("<BBHH")


class UFunction(enum.IntEnum):
    """The U-format functions, as the whole first control octet."""

    STARTDT_ACT = 0x07
    STARTDT_CON = 0x0B
    STOPDT_ACT = 0x13
    STOPDT_CON = 0x23
    TESTFR_ACT = 0x43
    TESTFR_CON = 0x83


_U_FUNCTIONS = {f.value: f for f in UFunction}
_U_BYTES = {f: bytes((START, 4, f.value, 0, 0, 0)) for f in UFunction}


class IFrame(NamedTuple):
    """An information frame: send number `ns`, receive number `nr` and the ASDU bytes."""

    ns: int
    nr: int
    asdu: bytes


class SFrame(NamedTuple):
    """A supervisory frame: acknowledges every I-frame before `nr`."""

    nr: int


class UFrame(NamedTuple):
    """An unnumbered frame: STARTDT, STOPDT or TESTFR, act or con."""

    function: UFunction


Frame = IFrame | SFrame | UFrame


def i_frame(ns: int, nr: int, asdu: bytes) -> bytes:
    """The APDU carrying `asdu` with send number `ns` and receive number `nr`."""
    size = len(asdu)
    if not 1 <= size <= MAX_LENGTH - 4:
        raise ApciError(f"an ASDU of {size} bytes does not fit an APDU (1..249)")
    return _I_HEADER.pack(START, size + 4, (ns & 0x7FFF) << 1, (nr & 0x7FFF) << 1) + asdu


def s_frame(nr: int) -> bytes:
    """The S-frame acknowledging every I-frame before `nr`."""
    return _I_HEADER.pack(START, 4, 1, (nr & 0x7FFF) << 1)


def u_frame(function: UFunction) -> bytes:
    """The 6 bytes of a U-frame."""
    return _U_BYTES[function]


def decode_frame(apdu: bytes | bytearray | memoryview) -> Frame:
    """One whole APDU (start byte included) as a frame tuple."""
    if len(apdu) < 6 or apdu[0] != START or apdu[1] != len(apdu) - 2:
        raise ApciError(f"not one whole APDU: {bytes(apdu[:8]).hex(' ')}")
    return _control(apdu, 0, len(apdu))


def _control(buf: bytes | bytearray | memoryview, pos: int, stop: int) -> Frame:
    c1 = buf[pos + 2]
    length = stop - pos - 2
    if not c1 & 1:
        if length == 4:
            raise ApciError("I-frame without an ASDU")
        return IFrame(
            (c1 >> 1) | (buf[pos + 3] << 7),
            (buf[pos + 4] >> 1) | (buf[pos + 5] << 7),
            bytes(buf[pos + 6 : stop]),
        )
    if length != 4:
        raise ApciError(f"{'S' if c1 & 3 == 1 else 'U'}-frame with length {length} (not 4)")
    if c1 & 3 == 1:
        return SFrame((buf[pos + 4] >> 1) | (buf[pos + 5] << 7))
    function = _U_FUNCTIONS.get(c1)
    if function is None:
        raise ApciError(f"U-frame control octet 0x{c1:02X} is no single known function")
    return UFrame(function)


class ApciDecoder:
    """Incremental APCI splitter: bytes in any chunking, frames out, in order.

    After an `ApciError` the stream has lost its framing, so the decoder stays failed and
    every further `feed` raises again.
    """

    __slots__ = ("_buffer", "_failed")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._failed: str | None = None

    @property
    def idle(self) -> bool:
        """Nothing buffered and not failed: the next bytes start a frame."""
        return not self._buffer and self._failed is None

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Append `data` and return every frame now complete."""
        if self._failed is not None:
            raise ApciError(self._failed)
        buf = self._buffer
        buf += data
        frames: list[Frame] = []
        pos = 0
        end = len(buf)
        try:
            while end - pos >= 2:
                if buf[pos] != START:
                    raise ApciError(f"start byte 0x{buf[pos]:02X} (expected 0x68)")
                length = buf[pos + 1]
                if not MIN_LENGTH <= length <= MAX_LENGTH:
                    raise ApciError(f"APDU length {length} outside {MIN_LENGTH}..{MAX_LENGTH}")
                stop = pos + 2 + length
                if stop > end:
                    break
                frames.append(_control(buf, pos, stop))
                pos = stop
        except ApciError as exc:
            buf.clear()
            self._failed = str(exc)
            raise
        if pos:
            del buf[:pos]
        return frames
