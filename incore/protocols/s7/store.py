"""Where the S7 server engine's memory lives: the `AreaStore` interface.

This is the one place the engine can wait. Buffers answer at once, but a store may also
lock an area against a writer (snap7's lockArea) or hand each access to an application
handler and wait for its answer (snap7's resourceless mode), so the engine runs where
blocking is allowed: a connection's thread, never an event loop. Everything else in the
engine is plain computation on bytes.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import AreaError
from .constants import ReturnCode
from .items import ItemSpec

__all__ = ["AreaStore", "MemoryAreaStore", "set_bit"]


class AreaStore(Protocol):
    """Byte-addressed memory the engine reads and writes.

    `area` is the wire area code (0x81 PE, 0x82 PA, 0x83 MK, 0x84 DB, 0x1C CT,
    0x1D TM), `index` the DB number (0 elsewhere), `start` a byte offset
    (timer/counter N is at byte 2N).  Refuse with `AreaError(0x0A)` for a
    missing area and `AreaError(0x05)` for an out-of-range access.

    `spec` is the request item as the client asked it (bit address, element
    count, word length).  Memory ignores it; a store that hands each access to
    an application (snap7's resourceless mode) needs it to describe the access
    the way the client saw it rather than as the bytes behind it.
    """

    def read(
        self, area: int, index: int, start: int, size: int, *, spec: ItemSpec | None = None
    ) -> bytes: ...

    def write(
        self, area: int, index: int, start: int, data: bytes, *, spec: ItemSpec | None = None
    ) -> None: ...

    def write_bit(
        self,
        area: int,
        index: int,
        start: int,
        bit: int,
        value: bool,
        *,
        spec: ItemSpec | None = None,
    ) -> None:
        """Set or clear one bit of the byte at `start`.

        The store does the read-modify-write itself, so it can be one atomic
        step against other writers and one call for a resourceless handler.
        """
        ...


def set_bit(buf: bytearray, offset: int, bit: int, value: bool) -> None:
    """Set or clear bit `bit` of `buf[offset]`, leaving its other bits (the caller locks)."""
    if value:
        buf[offset] |= 1 << bit
    else:
        buf[offset] &= ~(1 << bit) & 0xFF


class MemoryAreaStore:
    """Reference `AreaStore` over `bytearray` buffers keyed by (area, index)."""

    def __init__(self) -> None:
        self.areas: dict[tuple[int, int], bytearray] = {}

    def register(self, area: int, index: int, buffer: bytearray | int) -> bytearray:
        buf = bytearray(buffer) if isinstance(buffer, int) else buffer
        self.areas[(area, index)] = buf
        return buf

    def _area(self, area: int, index: int, start: int, size: int) -> bytearray:
        buf = self.areas.get((area, index))
        if buf is None:
            raise AreaError(ReturnCode.OBJECT_DOES_NOT_EXIST)
        if start < 0 or start + size > len(buf):
            raise AreaError(ReturnCode.ADDRESS_OUT_OF_RANGE)
        return buf

    def read(
        self, area: int, index: int, start: int, size: int, *, spec: ItemSpec | None = None
    ) -> bytes:
        return bytes(self._area(area, index, start, size)[start : start + size])

    def write(
        self, area: int, index: int, start: int, data: bytes, *, spec: ItemSpec | None = None
    ) -> None:
        self._area(area, index, start, len(data))[start : start + len(data)] = data

    def write_bit(
        self,
        area: int,
        index: int,
        start: int,
        bit: int,
        value: bool,
        *,
        spec: ItemSpec | None = None,
    ) -> None:
        set_bit(self._area(area, index, start, 1), start, bit, value)
