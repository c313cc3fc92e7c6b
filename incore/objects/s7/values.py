"""PLC bytes to Python values and back, per variable width and the client's byte order.

S7 itself is big-endian; `S7Client.byteOrder = LittleEndian` is for PLCs (or gateways) that
store multi-byte values the other way round. It never changes the protocol headers.
"""

from __future__ import annotations

import struct
from typing import Any

_FORMATS = {"Byte": "B", "Word": "H", "DWord": "I", "Int": "h", "DInt": "i", "Real": "f"}
_STRUCTS = {
    (w, big): struct.Struct((">" if big else "<") + f)
    for w, f in _FORMATS.items()
    for big in (True, False)
}


def decode(width: str, data: bytes, big_endian: bool = True, bit: int = 0) -> Any:
    """The value stored in `data` (exactly the variable's bytes)."""
    if width == "Bit":
        return bool(data[0] & 1) if len(data) == 1 and bit == 0 else bool(data[0] >> bit & 1)
    return _STRUCTS[width, big_endian].unpack(data)[0]


def encode(width: str, value: Any, big_endian: bool = True) -> bytes:
    """The bytes to write for `value`; ValueError/TypeError name the width when it can't fit."""
    if width == "Bit":
        if not isinstance(value, (bool, int)) or isinstance(value, int) and value not in (0, 1):
            raise TypeError(f"a Bit variable takes true/false, got {value!r}")
        return b"\x01" if value else b"\x00"
    s = _STRUCTS[width, big_endian]
    try:
        if width == "Real":
            return s.pack(float(value))
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise TypeError(f"a {width} variable takes an integer, got {value!r}")
        return s.pack(value)
    except struct.error:
        raise ValueError(f"{value!r} does not fit a {width} variable") from None
