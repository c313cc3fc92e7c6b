"""Sans-IO Modbus TCP server engine: MBAP requests in, answers out, writes as events.

`ModbusServerProtocol` is a `StreamEngine` (no timers): `receive_data` takes whatever
`recv` returned, answers every whole request in it in order (pipelined requests included),
queues the answers for `data_to_send` and returns one `ModbusWrite` event per request that
changed a table. A bad MBAP header raises `ModbusFramingError` (drop the connection); a bad
request is answered with the exception the spec asks for, checked in the spec's order:

- 01: function (or MEI type, or diagnostics sub-function) not served;
- 03: PDU length, quantity, byte count or coil value wrong;
- 02: the range leaves the table (or a device id object that is not there);
- 04: the store refused (`ModbusStoreError`, whose code it may choose);
- 0B: a unit id this server does not answer (see `ModbusServerProtocol`).

The data lives behind `ModbusStore`, which may block (see `.store`): run the engine where
waiting is allowed. FC 22 and FC 23 run inside `store.atomic()`.

An optional `WriteVetter` lets the application refuse a client's write before it lands:
the engine asks it only for a range it `covers`, always outside `store.atomic()` (the
vetter may wait for another thread that needs the store), and a refusal leaves the table
as it was. FC 22 asks with the value it would write and then writes only if the register
still holds what that value was computed from (else it computes and asks again).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple, Protocol

from ..contract import Untimed
from .device import DeviceIdentity, DiagnosticCounters
from .errors import ModbusStoreError, RequestRefused
from .mbap import HEADER, MbapDecoder
from .pdu import (
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    MAX_RW_WRITE_REGISTERS,
    MAX_WRITE_COILS,
    MAX_WRITE_REGISTERS,
    MEI_READ_DEVICE_ID,
    ExceptionCode,
)
from .store import ModbusStore, Table

__all__ = ["ModbusServerProtocol", "ModbusWrite", "WriteVetter", "WRITE_FUNCTIONS"]

_PAIR = struct.Struct(">HH")
_MASK = struct.Struct(">HHH")
_READ_WRITE = struct.Struct(">HHHHB")
_WRITE_MANY = struct.Struct(">HHB")
_EXCEPTION = struct.Struct(">HHHBBB")  # MBAP header, function | 0x80, code
_READ_ANSWER = _EXCEPTION  # MBAP header, function, byte count

#: The functions that change a table (the only ones run for a broadcast).
WRITE_FUNCTIONS = frozenset({5, 6, 15, 16, 22, 23})

_ILLEGAL_VALUE = ExceptionCode.ILLEGAL_DATA_VALUE
_ILLEGAL_ADDRESS = ExceptionCode.ILLEGAL_DATA_ADDRESS
_COILS, _DISCRETE = Table.Coil, Table.DiscreteInput
_HOLDING, _INPUT = Table.Holding, Table.Input


class ModbusWrite(NamedTuple):
    """A request changed `count` entries of `table` from `start` (FC `function`)."""

    table: Table
    start: int
    count: int
    function: int
    unit: int
    tid: int


#: FC 22 asks again at most this often when other writers keep changing its register (each
#: miss means another write landed: two clients racing all the time miss 50 in a row with odds
#: of about 2**-50).
_MASK_ATTEMPTS = 50


class WriteVetter(Protocol):
    """Who may refuse a client's write before it reaches the table (the application)."""

    def covers(self, table: Table, start: int, end: int) -> bool:
        """Whether a write to entries `start`..`end - 1` must be asked about (cheap: it
        runs for every write)."""
        ...

    def ask(
        self, table: Table, start: int, count: int, data: bytes, function: int, unit: int
    ) -> None:
        """Accept the write of `data` (wire form) by returning; refuse it by raising
        `ModbusStoreError` (answered as its code). May block."""
        ...


#: A function's handler: (pdu, tid, unit, events) -> the whole answer ADU.
Handler = Callable[[bytes, int, int, list], bytes]


class ModbusServerProtocol(Untimed):
    """One connection of a Modbus TCP server over `store`.

    Unit ids: `address` 0 answers every unit id. A server with its own `address` answers
    it, 0 and 255 (both mean "this device" on TCP) and any other unit id with exception 0B
    (gateway target failed to respond). With `broadcast` on, unit 0 is a broadcast: write
    requests are carried out, nothing is answered. `identity` holds the FC 43/14 objects,
    `counters` the FC 8 counters (share one between a server's connections). Both are
    plain attributes, as are `address` and `broadcast`, so the owner may change them.
    `vetter` (a `WriteVetter`, or None) may refuse writes before they land.
    """

    __slots__ = (
        "store",
        "address",
        "broadcast",
        "identity",
        "counters",
        "vetter",
        "_decoder",
        "_outbox",
        "_handlers",
    )

    def __init__(
        self,
        store: ModbusStore,
        *,
        address: int = 0,
        broadcast: bool = False,
        identity: DeviceIdentity | Mapping[int, bytes | str] | None = None,
        counters: DiagnosticCounters | None = None,
        vetter: WriteVetter | None = None,
    ) -> None:
        self.store = store
        self.vetter = vetter
        self.address = address
        self.broadcast = broadcast
        self.identity = (
            identity if isinstance(identity, DeviceIdentity) else DeviceIdentity(identity)
        )
        self.counters = counters if counters is not None else DiagnosticCounters()
        self._decoder = MbapDecoder()
        self._outbox: list[bytes] = []
        self._handlers: dict[int, Handler] = {
            1: partial(self._read_bits, _COILS),
            2: partial(self._read_bits, _DISCRETE),
            3: partial(self._read_registers, _HOLDING),
            4: partial(self._read_registers, _INPUT),
            5: self._write_single_coil,
            6: self._write_single_register,
            8: self._diagnostics,
            15: self._write_multiple_coils,
            16: self._write_multiple_registers,
            22: self._mask_write_register,
            23: self._read_write_multiple_registers,
            43: self._encapsulated_interface,
        }

    def receive_data(self, data: bytes, now: float | None = None) -> list[ModbusWrite]:
        """Answer every whole request in the bytes so far; return the writes they made."""
        events: list[ModbusWrite] = []
        for tid, unit, pdu in self._decoder.feed(data):
            answer = self.answer(tid, unit, pdu, events)
            if answer is not None:
                self._outbox.append(answer)
        return events

    def data_to_send(self) -> bytes:
        """Drain and return the answers queued so far."""
        out = self._outbox
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    def answer(self, tid: int, unit: int, pdu: bytes, events: list[ModbusWrite]) -> bytes | None:
        """The whole answer ADU to one request (None: no answer), appending its writes to
        `events`. This is `receive_data` for one frame already split."""
        counters = self.counters
        counters.bus_messages += 1
        function = pdu[0]
        if unit != self.address and self.address and unit != 0 and unit != 255:
            counters.exceptions += 1
            return _EXCEPTION.pack(tid, 0, 3, unit, function | 0x80, 0x0B)
        if unit == 0 and self.broadcast:
            counters.no_response += 1
            if function in WRITE_FUNCTIONS:
                try:
                    self._handlers[function](pdu, tid, unit, events)
                except RequestRefused:
                    pass
            return None
        counters.server_messages += 1
        handler = self._handlers.get(function)
        try:
            if handler is None:
                raise RequestRefused(ExceptionCode.ILLEGAL_FUNCTION)
            return handler(pdu, tid, unit, events)
        except RequestRefused as refused:
            counters.exceptions += 1
            return _EXCEPTION.pack(tid, 0, 3, unit, function | 0x80, refused.code)

    # reads

    def _read_bits(self, table: Table, pdu: bytes, tid: int, unit: int, events: list) -> bytes:
        if len(pdu) != 5:
            raise RequestRefused(_ILLEGAL_VALUE)
        start, count = _PAIR.unpack_from(pdu, 1)
        if not 1 <= count <= MAX_READ_BITS:
            raise RequestRefused(_ILLEGAL_VALUE)
        if start + count > self.store.size(table):
            raise RequestRefused(_ILLEGAL_ADDRESS)
        size = (count + 7) >> 3
        data = self.store.read_bits(table, start, count)
        return _READ_ANSWER.pack(tid, 0, size + 3, unit, pdu[0], size) + data

    def _read_registers(self, table: Table, pdu: bytes, tid: int, unit: int, events: list) -> bytes:
        if len(pdu) != 5:
            raise RequestRefused(_ILLEGAL_VALUE)
        start, count = _PAIR.unpack_from(pdu, 1)
        if not 1 <= count <= MAX_READ_REGISTERS:
            raise RequestRefused(_ILLEGAL_VALUE)
        store = self.store
        if start + count > store.size(table):
            raise RequestRefused(_ILLEGAL_ADDRESS)
        data = store.read_registers(table, start, count)
        return _READ_ANSWER.pack(tid, 0, 2 * count + 3, unit, pdu[0], 2 * count) + data

    # writes

    def _write_single_coil(self, pdu: bytes, tid: int, unit: int, events: list) -> bytes:
        if len(pdu) != 5:
            raise RequestRefused(_ILLEGAL_VALUE)
        address, value = _PAIR.unpack_from(pdu, 1)
        if value != 0xFF00 and value != 0:
            raise RequestRefused(_ILLEGAL_VALUE)
        if address >= self.store.size(_COILS):
            raise RequestRefused(_ILLEGAL_ADDRESS)
        data = b"\x01" if value else b"\x00"
        vetter = self.vetter
        if vetter is not None and vetter.covers(_COILS, address, address + 1):
            vetter.ask(_COILS, address, 1, data, 5, unit)
        self.store.write_bits(_COILS, address, 1, data)
        events.append(ModbusWrite(_COILS, address, 1, 5, unit, tid))
        return HEADER.pack(tid, 0, 6, unit) + pdu

    def _write_single_register(self, pdu: bytes, tid: int, unit: int, events: list) -> bytes:
        if len(pdu) != 5:
            raise RequestRefused(_ILLEGAL_VALUE)
        (address,) = struct.unpack_from(">H", pdu, 1)
        if address >= self.store.size(_HOLDING):
            raise RequestRefused(_ILLEGAL_ADDRESS)
        vetter = self.vetter
        if vetter is not None and vetter.covers(_HOLDING, address, address + 1):
            vetter.ask(_HOLDING, address, 1, pdu[3:5], 6, unit)
        self.store.write_registers(_HOLDING, address, pdu[3:5])
        events.append(ModbusWrite(_HOLDING, address, 1, 6, unit, tid))
        return HEADER.pack(tid, 0, 6, unit) + pdu

    def _write_multiple_coils(self, pdu: bytes, tid: int, unit: int, events: list) -> bytes:
        if len(pdu) < 6:
            raise RequestRefused(_ILLEGAL_VALUE)
        start, count, size = _WRITE_MANY.unpack_from(pdu, 1)
        if not 1 <= count <= MAX_WRITE_COILS or size != (count + 7) >> 3 or len(pdu) != 6 + size:
            raise RequestRefused(_ILLEGAL_VALUE)
        if start + count > self.store.size(_COILS):
            raise RequestRefused(_ILLEGAL_ADDRESS)
        vetter = self.vetter
        if vetter is not None and vetter.covers(_COILS, start, start + count):
            vetter.ask(_COILS, start, count, pdu[6:], 15, unit)
        self.store.write_bits(_COILS, start, count, pdu[6:])
        events.append(ModbusWrite(_COILS, start, count, 15, unit, tid))
        return HEADER.pack(tid, 0, 6, unit) + pdu[:5]

    def _write_multiple_registers(self, pdu: bytes, tid: int, unit: int, events: list) -> bytes:
        if len(pdu) < 6:
            raise RequestRefused(_ILLEGAL_VALUE)
        start, count, size = _WRITE_MANY.unpack_from(pdu, 1)
        if not 1 <= count <= MAX_WRITE_REGISTERS or size != 2 * count or len(pdu) != 6 + size:
            raise RequestRefused(_ILLEGAL_VALUE)
        if start + count > self.store.size(_HOLDING):
            raise RequestRefused(_ILLEGAL_ADDRESS)
        vetter = self.vetter
        if vetter is not None and vetter.covers(_HOLDING, start, start + count):
            vetter.ask(_HOLDING, start, count, pdu[6:], 16, unit)
        self.store.write_registers(_HOLDING, start, pdu[6:])
        events.append(ModbusWrite(_HOLDING, start, count, 16, unit, tid))
        return HEADER.pack(tid, 0, 6, unit) + pdu[:5]

    def _mask_write_register(self, pdu: bytes, tid: int, unit: int, events: list) -> bytes:
        if len(pdu) != 7:
            raise RequestRefused(_ILLEGAL_VALUE)
        address, and_mask, or_mask = _MASK.unpack_from(pdu, 1)
        store = self.store
        if address >= store.size(_HOLDING):
            raise RequestRefused(_ILLEGAL_ADDRESS)
        vetter = self.vetter
        with store.atomic():
            current = store.read_registers(_HOLDING, address, 1)
            value = _masked(current, and_mask, or_mask)
            if vetter is None or not vetter.covers(_HOLDING, address, address + 1):
                store.write_registers(_HOLDING, address, value)
                vetter = None
        if vetter is not None:
            self._vetted_mask(vetter, address, current, and_mask, or_mask, unit)
        events.append(ModbusWrite(_HOLDING, address, 1, 22, unit, tid))
        return HEADER.pack(tid, 0, 8, unit) + pdu

    def _read_write_multiple_registers(
        self, pdu: bytes, tid: int, unit: int, events: list
    ) -> bytes:
        if len(pdu) < 10:
            raise RequestRefused(_ILLEGAL_VALUE)
        read_start, read_count, write_start, write_count, size = _READ_WRITE.unpack_from(pdu, 1)
        if (
            not 1 <= read_count <= MAX_READ_REGISTERS
            or not 1 <= write_count <= MAX_RW_WRITE_REGISTERS
            or size != 2 * write_count
            or len(pdu) != 10 + size
        ):
            raise RequestRefused(_ILLEGAL_VALUE)
        store = self.store
        registers = store.size(_HOLDING)
        if read_start + read_count > registers or write_start + write_count > registers:
            raise RequestRefused(_ILLEGAL_ADDRESS)
        read_end, write_end = read_start + read_count, write_start + write_count
        vetter = self.vetter  # asked before the atomic part: the written data is fixed
        if vetter is not None and vetter.covers(_HOLDING, write_start, write_start + write_count):
            vetter.ask(_HOLDING, write_start, write_count, pdu[10:], 23, unit)
        with store.atomic():  # nobody in between
            # The spec writes first, so the read sees the write: what it reads outside the
            # write cannot change, so it is read before, and a store's refusal there leaves
            # the table untouched; what it reads inside the write is the written bytes.
            before = _read_span(store, read_start, min(read_end, write_start))
            after = _read_span(store, max(read_start, write_end), read_end)
            store.write_registers(_HOLDING, write_start, pdu[10:])
        lo, hi = max(read_start, write_start), min(read_end, write_end)
        inside = pdu[10 + 2 * (lo - write_start) : 10 + 2 * (hi - write_start)] if lo < hi else b""
        data = before + inside + after
        events.append(ModbusWrite(_HOLDING, write_start, write_count, 23, unit, tid))
        return _READ_ANSWER.pack(tid, 0, 2 * read_count + 3, unit, 23, 2 * read_count) + data

    # the application's veto

    def _vetted_mask(
        self,
        vetter: WriteVetter,
        address: int,
        current: bytes,
        and_mask: int,
        or_mask: int,
        unit: int,
    ) -> None:
        """FC 22 on a vetted register: ask with the value outside the lock, then write it
        only if the register still holds what it came from (compare and swap)."""
        store = self.store
        for _ in range(_MASK_ATTEMPTS):
            value = _masked(current, and_mask, or_mask)
            vetter.ask(_HOLDING, address, 1, value, 22, unit)
            with store.atomic():
                now = store.read_registers(_HOLDING, address, 1)
                if now == current:
                    store.write_registers(_HOLDING, address, value)
                    return
            current = now
        raise ModbusStoreError(4, "the register kept changing while the application decided")

    # the rest

    def _diagnostics(self, pdu: bytes, tid: int, unit: int, events: list) -> bytes:
        if len(pdu) < 3:
            raise RequestRefused(_ILLEGAL_VALUE)
        return _framed(tid, unit, self.counters.answer(pdu))

    def _encapsulated_interface(self, pdu: bytes, tid: int, unit: int, events: list) -> bytes:
        if len(pdu) < 2:
            raise RequestRefused(_ILLEGAL_VALUE)
        if pdu[1] != MEI_READ_DEVICE_ID:
            raise RequestRefused(ExceptionCode.ILLEGAL_FUNCTION)
        if len(pdu) != 4:
            raise RequestRefused(_ILLEGAL_VALUE)
        return _framed(tid, unit, self.identity.answer(pdu[2], pdu[3]))


def _masked(current: bytes, and_mask: int, or_mask: int) -> bytes:
    """FC 22's result: (current AND and_mask) OR (or_mask AND NOT and_mask)."""
    value = (int.from_bytes(current, "big") & and_mask) | (or_mask & ~and_mask & 0xFFFF)
    return value.to_bytes(2, "big")


def _read_span(store: ModbusStore, start: int, end: int) -> bytes:
    """Holding registers `start`..`end - 1`, or nothing for an empty span."""
    return store.read_registers(_HOLDING, start, end - start) if start < end else b""


def _framed(tid: int, unit: int, pdu: bytes) -> bytes:
    return HEADER.pack(tid, 0, len(pdu) + 1, unit) + pdu
