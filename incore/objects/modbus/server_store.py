"""The tables a ModbusTcpServer serves: the codec's MemoryStore plus the registers whose
value is Bad.

Modbus has no quality bits, so a register the application cannot vouch for (its `quality`
is Bad and its `badValue` is ExceptionAnswer) is refused: a client read that touches it is
answered with exception 04 (server device failure) instead of a stale number that would
pass for a good one. The loop replaces `bad` (a tuple of ranges per table, never mutated)
whenever a register's quality changes; the workers only read it, so the usual path (no Bad
register) costs one index and one truth test per read.

Writes are not refused for a Bad value: a client may always set a register, which makes
it Good again. (The application refuses writes another way: ModbusRegister's
`writeRequested`, server_veto.py.)
"""

from __future__ import annotations

import threading

from ...protocols.modbus.errors import ModbusStoreError
from ...protocols.modbus.store import OVERLAY_REGISTERS, MemoryStore, Table

__all__ = ["ServedStore", "OVERLAY_OF", "Spans", "spread"]

#: In an overlaid table: bit table -> the register table its bits live in, and back.
OVERLAY_OF = {
    Table.Coil: Table.Holding,
    Table.DiscreteInput: Table.Input,
    Table.Holding: Table.Coil,
    Table.Input: Table.DiscreteInput,
}
Spans = tuple[tuple[int, int], ...]
_NONE: Spans = ()
_BITS = (Table.Coil, Table.DiscreteInput)


class ServedStore(MemoryStore):
    """A MemoryStore (with its own re-entrant lock) that refuses reads of Bad registers."""

    def __init__(self, sizes: tuple[int, int, int, int], overlaid: bool) -> None:
        coils, discrete, inputs, holding = sizes
        super().__init__(
            coils, discrete, inputs, holding, overlaid=overlaid, lock=threading.RLock()
        )
        #: per table (indexed by Table): the (start, end) ranges a read must not touch.
        self.bad: list[Spans] = [_NONE] * 5

    def set_bad(self, ranges: dict[Table, list[tuple[int, int]]]) -> None:
        """Replace the Bad ranges (loop thread)."""
        self.bad = spread(ranges, self.overlaid)

    def read_registers(self, table: Table, start: int, count: int) -> bytes:
        if self.bad[table]:
            _refuse_bad(self.bad[table], start, start + count)
        return bytes(self.registers[table][2 * start : 2 * (start + count)])

    def read_bits(self, table: Table, start: int, count: int) -> bytes:
        if self.bad[table]:
            _refuse_bad(self.bad[table], start, start + count)
        return super().read_bits(table, start, count)


def spread(ranges: dict[Table, list[tuple[int, int]]], overlaid: bool) -> list[Spans]:
    """Ranges per table (a list indexed by Table, as the workers read them); in an overlaid
    table each range also covers what the other view of the same memory calls it."""
    out: list[list[tuple[int, int]]] = [[] for _ in range(5)]
    for table, spans in ranges.items():
        for start, end in spans:
            out[table].append((start, end))
            if overlaid:
                other = OVERLAY_OF[table]
                if table in _BITS:
                    out[other].append((start >> 4, (end + 15) >> 4))
                elif start < OVERLAY_REGISTERS:
                    out[other].append((16 * start, 16 * min(end, OVERLAY_REGISTERS)))
    return [tuple(spans) for spans in out]


def _refuse_bad(spans: Spans, start: int, end: int) -> None:
    for a, b in spans:
        if a < end and start < b:
            raise ModbusStoreError(4, f"entries {a}..{b - 1} hold a Bad value")
