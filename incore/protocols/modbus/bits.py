"""Coils and discrete inputs on the wire: the first bit in bit 0 of the first byte, the
unused high bits of the last byte zero. One packer for requests, answers and registers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["pack_bits", "unpack_bits"]

_BITS = tuple(tuple(bool(b >> i & 1) for i in range(8)) for b in range(256))


def pack_bits(bits: Iterable[Any]) -> bytes:
    """Bits as Modbus sends them: the first in bit 0 of byte 0, unused high bits zero."""
    flags = [bool(b) for b in bits]
    if not flags:
        return b""
    text = "".join("1" if b else "0" for b in reversed(flags))
    return int(text, 2).to_bytes((len(flags) + 7) // 8, "little")


def unpack_bits(data: bytes | bytearray | memoryview, count: int) -> list[bool]:
    """The first `count` bits of `data` (a validated answer: `count` <= 8 * its length)."""
    if count > 8 * len(data):
        raise ValueError(f"{len(data)} bytes hold at most {8 * len(data)} bits, not {count}")
    out: list[bool] = []
    extend = out.extend
    for byte in data[: (count + 7) // 8]:
        extend(_BITS[byte])
    del out[count:]
    return out
