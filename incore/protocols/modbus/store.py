"""Where the Modbus server engine's data lives: the `ModbusStore` interface and an in-memory
store (separate tables, or MBLogic's overlaid table).

As with the S7 server's `AreaStore`, this is the one place the engine may wait: the object
layer's store can hold a lock while the application updates a table, so the engine runs on
a thread that may block. Data crosses the interface in wire form (registers as big-endian
bytes, bits packed first-bit-in-bit-0), so a read answer is the store's bytes behind a
two-byte header.

The protocols package may not create locks (it never imports `threading`), so
`MemoryStore` takes one from its owner; without one it is for a single thread.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

from .tables import Table

__all__ = ["MemoryStore", "ModbusStore", "Table", "OVERLAY_REGISTERS"]

#: MBLogic's overlay: 65536 bits, 16 per register, in registers 0..4095.
OVERLAY_REGISTERS = 4096


class ModbusStore(Protocol):
    """The tables a server engine serves.

    The engine checks every range against `size` first (exception 02), so the other
    methods are only called with ranges inside the table. Any of them may refuse with
    `ModbusStoreError` (answered as its code, 04 by default). `atomic()` is held around a
    read-then-write (FC 22, FC 23), so no other client's request lands in between; every
    write is also made while holding it, hence a store's lock must be re-entrant.
    """

    def size(self, table: Table) -> int:
        """How many bits or registers `table` has (addresses `0..size-1`)."""
        ...

    def read_bits(self, table: Table, start: int, count: int) -> bytes:
        """`count` bits from `start`, packed as Modbus sends them (ceil(count/8) bytes)."""
        ...

    def write_bits(self, table: Table, start: int, count: int, packed: bytes) -> None:
        """Set `count` bits from `start` to the first `count` bits of `packed`."""
        ...

    def read_registers(self, table: Table, start: int, count: int) -> bytes:
        """`count` registers from `start`, big-endian (2 * count bytes)."""
        ...

    def write_registers(self, table: Table, start: int, data: bytes) -> None:
        """Set `len(data) // 2` registers from `start` (big-endian)."""
        ...

    def atomic(self) -> AbstractContextManager[object]:
        """Hold off every other access while the engine reads and then writes."""
        ...


def _swap_pairs(data: bytes | bytearray) -> bytearray:
    """Big-endian registers as little-endian words (and back): bit n of register r is then
    bit 16r + n of a little-endian bit string."""
    swapped = bytearray(len(data))
    swapped[0::2] = data[1::2]
    swapped[1::2] = data[0::2]
    return swapped


def _get_bits(buf: bytes | bytearray, start: int, count: int) -> bytes:
    """`count` bits from bit `start` of a little-endian bit string, packed from bit 0."""
    number = int.from_bytes(buf[start >> 3 : (start + count + 7) >> 3], "little") >> (start & 7)
    return (number & ((1 << count) - 1)).to_bytes((count + 7) >> 3, "little")


def _put_bits(buf: bytearray, start: int, count: int, packed: bytes) -> None:
    """Set `count` bits from bit `start` of a little-endian bit string."""
    first, stop, shift = start >> 3, (start + count + 7) >> 3, start & 7
    mask = ((1 << count) - 1) << shift
    old = int.from_bytes(buf[first:stop], "little")
    new = (old & ~mask) | ((int.from_bytes(packed, "little") << shift) & mask)
    buf[first:stop] = new.to_bytes(stop - first, "little")


class MemoryStore:
    """The four tables in memory: registers in `bytearray`s (big-endian, as sent), bits
    packed eight to a byte.

    `overlaid=True` is MBLogic's overlaid data table: coils live in holding registers
    0..4095 and discrete inputs in input registers 0..4095, 16 per register, coil `n` in
    bit `n % 16` (bit 0 the least significant) of register `n // 16`, so each view sees the
    other's writes. Registers from 4096 up are plain registers.

    `lock` (a re-entrant lock from the owner, e.g. `threading.RLock()`) is held for every
    write and by `atomic()`; reads are single slice copies and need none.
    """

    def __init__(
        self,
        coils: int = 0x10000,
        discrete_inputs: int = 0x10000,
        input_registers: int = 0x10000,
        holding_registers: int = 0x10000,
        *,
        overlaid: bool = False,
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        for count in (coils, discrete_inputs, input_registers, holding_registers):
            if not 0 <= count <= 0x10000:
                raise ValueError(f"a Modbus table holds 0..65536 entries, not {count}")
        self.overlaid = overlaid
        self._lock: AbstractContextManager[object] = lock if lock is not None else nullcontext()
        self._sizes = [0, discrete_inputs, coils, input_registers, holding_registers]
        self.registers: list[bytearray] = [bytearray(), bytearray(), bytearray()]
        self.registers += [bytearray(2 * input_registers), bytearray(2 * holding_registers)]
        self.bits: list[bytearray] = [bytearray(), bytearray((discrete_inputs + 7) >> 3)]
        self.bits += [bytearray((coils + 7) >> 3)]
        if overlaid:
            self.bits = [bytearray(), bytearray(), bytearray()]
            for bits, registers in ((discrete_inputs, input_registers), (coils, holding_registers)):
                if bits > 16 * min(registers, OVERLAY_REGISTERS):
                    raise ValueError(f"{bits} overlaid bits need {(bits + 15) >> 4} registers")

    def size(self, table: Table) -> int:
        return self._sizes[table]

    def atomic(self) -> AbstractContextManager[object]:
        return self._lock

    def read_registers(self, table: Table, start: int, count: int) -> bytes:
        return bytes(self.registers[table][2 * start : 2 * (start + count)])

    def write_registers(self, table: Table, start: int, data: bytes) -> None:
        with self._lock:
            self.registers[table][2 * start : 2 * start + len(data)] = data

    def read_bits(self, table: Table, start: int, count: int) -> bytes:
        if not self.overlaid:
            return _get_bits(self.bits[table], start, count)
        first = start >> 4
        words = _swap_pairs(self.registers[table + 2][2 * first : 2 * ((start + count + 15) >> 4)])
        return _get_bits(words, start - 16 * first, count)

    def write_bits(self, table: Table, start: int, count: int, packed: bytes) -> None:
        with self._lock:
            if not self.overlaid:
                _put_bits(self.bits[table], start, count, packed)
                return
            registers = self.registers[table + 2]
            first, stop = 2 * (start >> 4), 2 * ((start + count + 15) >> 4)
            words = _swap_pairs(registers[first:stop])
            _put_bits(words, start - 8 * first, count, packed)
            registers[first:stop] = _swap_pairs(words)
