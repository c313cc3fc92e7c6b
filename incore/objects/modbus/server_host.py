"""How a ModbusTcpServer's tables meet the application: ModbusRegister children.

`TableHost` is the loop-thread half of ModbusTcpServer: it maps each ModbusRegister onto
its table (link.host.VariableHost, finding it by its `ModbusAddress`), writes a register's
value into the table when the application changes it, and fans the clients' writes
(batched per loop turn by the inbox) out to every register they touch, emitting
`registersDataChanged(index)` for each whose value changed. In an overlaid table a write
through one view reaches the registers of the other view too.

Initial values: at the server's start, registers in document order write their `data`
(literal or bound) into the table; a register without data takes what the table holds
(zeros). A register that does not fit its table, or whose layout is impossible, is not
mapped: its error says why and `mapErrorOccurred` fires.

Registers whose quality is Bad with `badValue` ExceptionAnswer are refused to clients'
reads (exception 04, server_store.py), and so are those bound to a source with no value yet;
the ranges follow every change of quality and of data.
"""

from __future__ import annotations

import logging
from typing import Any

from ...protocols.modbus.store import OVERLAY_REGISTERS, MemoryStore, Table
from ..foundation.data import Quality
from .register import ModbusAddress, ModbusRegister
from .server_store import OVERLAY_OF

log = logging.getLogger("incore.modbusserver")

_BIT_TABLES = (Table.Coil, Table.DiscreteInput)
#: Register properties that move it in the table (it is mapped again when one changes).
_LAYOUT = ("type", "address", "count", "dataType", "byteOrder", "registerOrder")


def _raw(store: MemoryStore, a: ModbusAddress) -> bytes:
    """What the table holds at `a` (never refused: the application's own read)."""
    if a.bits:
        return MemoryStore.read_bits(store, a.table, a.address, a.count)
    return MemoryStore.read_registers(store, a.table, a.address, a.count)


def _refused(reg: ModbusRegister) -> bool:
    """Whether a client read that touches `reg` gets exception 04: its value is Bad and it
    says so (`badValue` ExceptionAnswer), or its data is bound to a source that has no value
    yet (a client variable not read since the start): the table's 0 there would be a lie."""
    if reg.quality == Quality.Bad and reg.badValue == ModbusRegister.ExceptionAnswer:
        return True
    return reg.data is None and reg.binding("data") is not None


class TableHost:
    """Mixin of ModbusTcpServer (loop thread only). Expects `_core`, `_registers` (document
    order: `registersDataChanged`'s index), `_mapped` (register -> its last raw bytes),
    `_watching` and the signals from the class it is mixed into."""

    __slots__ = ()
    #: ModbusRegister reads this: every table of a server is writable (by its application).
    serves_tables = True

    # -- VariableHost (link/host.py) ----------------------------------------------------------
    def attach_variable(self, reg: ModbusRegister) -> None:
        if reg not in self._registers:
            self._registers.append(reg)
        if reg not in self._watching:
            self._watching.add(reg)
            for name in _LAYOUT:
                getattr(reg, name + "Changed").connect(lambda *_, r=reg: self._remap(r))
            reg.qualityChanged.connect(self._refresh_bad)
            reg.badValueChanged.connect(self._refresh_bad)
        if self.isCompleted:  # before that, _on_completed maps them in document order
            self._map(reg)

    def detach_variable(self, reg: ModbusRegister) -> None:
        self._mapped.pop(reg, None)
        if reg in self._registers:
            self._registers.remove(reg)
        self._rewatch()
        self._refresh_bad()

    def read_variable(self, reg: ModbusRegister) -> None:
        """pollData(): deliver what the table holds now."""
        if reg not in self._mapped:
            self._map(reg)
            return
        raw = _raw(self._core.store, reg.peer_address)
        self._mapped[reg] = raw
        reg._deliver(raw)

    def write_variable(self, reg: ModbusRegister, raw: bytes) -> None:
        """The register's data was written (by the application): clients read it next."""
        if reg not in self._mapped:
            self._map(reg, value=raw)
            return
        a = reg.peer_address
        if len(raw) != a.size:
            reg._fail("WriteError", f"{len(raw)} bytes for {a} ({a.size} bytes)")
            self.dataErrorOccurred.emit()
            return
        self._put(a, raw)
        self._mapped[reg] = raw
        self._refresh_bad()
        self._fan_out(self._views(a.table, a.address, a.end), skip=reg, by_client=False)

    # -- mapping -----------------------------------------------------------------------------
    def _map(self, reg: ModbusRegister, value: bytes | None = None) -> None:
        """Map `reg`: its value (`value`, else its data if it has one) goes into the table,
        else it takes the table's."""
        self._mapped.pop(reg, None)
        a = reg.peer_address
        problem = reg._address_problem()
        size = self._core.store.size(a.table)
        if not problem and a.end > size:
            problem = f"{a} does not fit the table of {size} (see the server's table sizes)"
        if problem:
            reg._fail("ReadError", problem)
            self.mapErrorOccurred.emit()
            self._rewatch()
            return
        if value is None and reg.data is not None:
            try:
                value = reg._encode(reg.data)
            except (TypeError, ValueError) as exc:
                reg._fail("WriteError", f"{a}: {exc}")
                self.dataErrorOccurred.emit()
        if value is not None:
            self._put(a, value)
        raw = _raw(self._core.store, a)
        self._mapped[reg] = raw
        self._rewatch()
        self._refresh_bad()
        if value is None:
            reg._deliver(raw)
        else:
            reg._confirm_write()
            self._fan_out(self._views(a.table, a.address, a.end), skip=reg, by_client=False)

    def _remap(self, reg: ModbusRegister) -> None:
        if self.isCompleted and reg in self._registers:
            self._map(reg)

    def _rewatch(self) -> None:
        """Tell the workers which tables' writes the loop must hear of."""
        watched = [False] * 5
        overlaid = self._core.store.overlaid
        for reg in self._mapped:
            table = reg.peer_address.table
            watched[table] = True
            if overlaid:
                watched[OVERLAY_OF[table]] = True
        self._core.watched = watched
        self._revet()  # VetoHost (server_veto.py): the ranges whose writes the app vets

    def _refresh_bad(self, *_: Any) -> None:
        ranges: dict[Table, list[tuple[int, int]]] = {}
        for reg in self._mapped:
            if _refused(reg):
                a = reg.peer_address
                ranges.setdefault(a.table, []).append((a.address, a.end))
        store = self._core.store
        if ranges or any(store.bad):
            store.set_bad(ranges)

    def _put(self, a: ModbusAddress, raw: bytes) -> None:
        store = self._core.store
        if a.bits:
            store.write_bits(a.table, a.address, a.count, raw)
        else:
            store.write_registers(a.table, a.address, raw)

    def _views(self, table: Table, start: int, end: int) -> list[tuple[Table, int, int]]:
        """The span written, and in an overlaid table what the other view calls it."""
        spans = [(table, start, end)]
        if self._core.store.overlaid:
            other = OVERLAY_OF[table]
            if table in _BIT_TABLES:
                spans.append((other, start >> 4, (end + 15) >> 4))
            elif start < OVERLAY_REGISTERS:
                spans.append((other, 16 * start, 16 * min(end, OVERLAY_REGISTERS)))
        return spans

    # -- fan-out -------------------------------------------------------------------------------
    def _apply_client_writes(self, changes: list) -> None:
        spans: list[tuple[Table, int, int]] = []
        for table, start, end in changes:
            spans.extend(self._views(table, start, end))
        self._fan_out(spans, skip=None, by_client=True)

    def _fan_out(self, spans: list, skip: Any, by_client: bool) -> None:
        """Registers overlapping `spans` whose bytes changed take the table's value."""
        store = self._core.store
        for index, reg in enumerate(self._registers):
            last = self._mapped.get(reg)
            if reg is skip or last is None:
                continue
            a = reg.peer_address
            if not any(t == a.table and s < a.end and a.address < e for t, s, e in spans):
                continue
            raw = _raw(store, a)
            if raw == last:
                continue
            self._mapped[reg] = raw
            try:
                reg._decode(raw)
            except ValueError as exc:
                reg._fail("ReadError", f"{a}: {exc}")
                self.dataErrorOccurred.emit()
                continue
            try:
                reg._deliver(raw)
            except Exception:  # one faulty register must not starve the others
                log.exception("%r: delivering %r failed", self, reg)
                continue
            if by_client:
                self.registersDataChanged.emit(index)
