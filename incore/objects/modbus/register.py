"""ModbusRegister: InCore's Modbus register, a DataObject bound to a place in a Modbus table.

One type serves both sides: under a ModbusSlave (inside a ModbusTcpClient) it polls and
writes a remote device; under a ModbusTcpServer it maps the server's own tables. What it does
with its host (polling, writes, errors, quality) is link.variable.LinkVariable's; what is
Modbus here is the address (`type`, `address`, `count`, seen by hosts as a `ModbusAddress`)
and how wire bytes become values (incore.protocols.modbus.registers).

What a host implements (link.host.VariableHost, all on the loop thread):

- `attach_variable(reg)` / `detach_variable(reg)`: the register completed under the host,
  chose it (`client` written) or leaves; find its place by `reg.peer_address` alone.
- `read_variable(reg)`: `pollData()`; answer later with `reg._deliver(raw)` or
  `reg._fail("ReadError", text)` (an exception answer, a timeout), from any thread.
- `write_variable(reg, raw)`: `data` was written (or `write()` called): put `raw` at the
  address. A client writes the device (FC 5/15 for a coil, FC 6/16 for a holding register)
  and calls `reg._confirm_write()` or `reg._fail("WriteError", text)`; `reg.writable` is
  false for DiscreteInput and Input, and `write_variable` is never called for them
  (the register reports WriteError itself) unless the host has `serves_tables = True`
  (a server, whose own tables are all writable).
- `reg._lost(reason)` when the link is down: the value goes Bad, keeping the last value.

`raw`, both ways, is the table's wire form for `peer_address`: for Holding and Input,
`2 * count` bytes, each register high byte first (what FC 3/4 answer and FC 16 sends);
for Coil and DiscreteInput, `count` bits packed first-bit-in-bit-0 (what FC 1/2 answer and
FC 15 sends), `ceil(count / 8)` bytes. `ModbusAddress.size` is that length.

A server host asks `reg._vets()` (a `writeRequested` handler or a Python callback is there;
the register calls `host.vetters_changed(reg)` when that changes) and hands such a
register each client write that touches it as `reg._vet_write(message)` (server_veto.py).

A server host also reads `reg.badValue`: with ExceptionAnswer (the default) a client's read
that touches a register whose quality is Bad gets exception 04 (Modbus has no quality bits, so
a stale value would pass for a good one); with LastValue it is served the last value.

What `data` holds: with a dataType, one value laid over `count` registers as registers.py
describes (Float over 2, Double over 4, a String over `count` registers, the integer types
over their width or fewer); with dataType Invalid, each register an unsigned 16-bit int (a
list of them if `count` > 1). Coil and DiscreteInput hold a bool (a list if `count` > 1).
`count` 0 (the default) is the dataType's own width (1 for Invalid and the bit tables).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from ...core import Object, Property, Signal, method, registry
from ...protocols.modbus.registers import (
    ByteOrder,
    RegisterCodec,
    RegisterOrder,
    codec,
    default_count,
    pack_bits,
    unpack_bits,
)
from ...protocols.modbus.store import Table
from ..errors import error_property
from ..foundation.data import Quality
from ..foundation.datatypes import DataType
from ..link.address import PeerAddress
from ..link.variable import LinkVariable

__all__ = ["ModbusAddress", "ModbusRegister", "TABLE_SIZE"]

#: Addresses of every table are 0..65535.
TABLE_SIZE = 65536
_BIT_TABLES = (Table.DiscreteInput, Table.Coil)
_TABLE_NAMES = {
    Table.DiscreteInput: "DiscreteInput",
    Table.Coil: "Coil",
    Table.Input: "Input",
    Table.Holding: "Holding",
}


@dataclass(frozen=True, slots=True)
class ModbusAddress(PeerAddress):
    """A place in a Modbus table: `count` bits (Coil, DiscreteInput) or registers from
    `address`."""

    protocol: ClassVar[str] = "Modbus"
    table: Table
    address: int
    count: int = 1

    @property
    def bits(self) -> bool:
        """Whether the table holds bits (Coil, DiscreteInput) rather than registers."""
        return self.table in _BIT_TABLES

    @property
    def end(self) -> int:
        """One past the last bit or register."""
        return self.address + self.count

    @property
    def size(self) -> int:
        """The length of the wire form (`raw`) of the value."""
        return (self.count + 7) // 8 if self.bits else 2 * self.count

    def __str__(self) -> str:
        name = _TABLE_NAMES.get(self.table, str(self.table))
        if self.count == 1:
            return f"{name} {self.address}"
        return f"{name} {self.address}..{self.end - 1}"


class ModbusRegister(LinkVariable):
    """A Modbus register, coil or discrete input (InCore's ModbusRegister).

    Under a ModbusSlave, `pollData()` (or a Polling child) reads the device and writing
    `data` writes it (Input and DiscreteInput refuse writes). Under a ModbusTcpServer it maps
    the server's table: a client's write updates `data`, and a change of `data` (a binding,
    a handler) is what clients read next. `count` registers (or bits) from `address` hold
    one value of `dataType`, laid out by `byteOrder` and `registerOrder`. On a server,
    `writeRequested(message, value)` vets clients' writes: `message.refuse()` answers exception 04.
    """

    class Type(enum.IntEnum):
        """The Modbus table (numbered as InCore's ModbusRegister.Type)."""

        DiscreteInput = 1
        Coil = 2
        Input = 3
        Holding = 4

    class BadValue(enum.IntEnum):
        """What a server answers for a register whose value is Bad."""

        ExceptionAnswer = 0
        LastValue = 1

    ByteOrder = ByteOrder
    RegisterOrder = RegisterOrder

    class Error(enum.IntEnum):
        """What went wrong with the register."""

        NoError = 0
        InvalidClientError = 1
        ReadError = 2
        WriteError = 3

    __slots__ = ("_on_device", "_forced", "_callback")

    client = Property(
        Object,
        None,
        on_write="_client_written",
        doc="The ModbusSlave (or ModbusTcpServer) that hosts the register (default: the parent).",
    )
    type = Property(Type, Type.Holding, doc="The table: DiscreteInput, Coil, Input or Holding.")
    address = Property(
        int, 0, minimum=0, maximum=TABLE_SIZE - 1, doc="The first register (or bit), 0-based."
    )
    count = Property(
        int,
        0,
        minimum=0,
        maximum=TABLE_SIZE,
        doc="How many registers (or bits) the value takes; 0: the dataType's width (Float 2, "
        "Double 4, SignedInteger 2, ...; 1 for bits). A String needs it.",
    )
    byteOrder = Property(
        ByteOrder, ByteOrder.BigEndian, doc="The order of the two bytes inside each register."
    )
    registerOrder = Property(
        RegisterOrder,
        RegisterOrder.MostSignificantRegisterFirst,
        doc="Which register of a multi-register value holds its most significant word.",
    )
    stringEncoding = Property(
        str,
        "utf-8",
        doc="incore extension: the text encoding of a String (any Python codec name: "
        "utf-8, ascii, latin-1, cp1252, ...), as pymodbus's string_encoding.",
    )
    badValue = Property(
        BadValue,
        BadValue.ExceptionAnswer,
        doc="On a server, what a client reading the register gets while quality is Bad: "
        "ExceptionAnswer (exception 04, server device failure) or LastValue.",
    )
    error = error_property(Error)

    writeRequested = Signal(
        "message",
        "value",
        doc="On a server: a client wants to write this register; `value` (also "
        "`message.value`) is the value it would hold. A handler refuses with "
        "message.refuse(reason): the client gets exception 04 and nothing of the request is "
        "written. Only writes to registers with a handler wait for the app (the server's "
        "writeTimeout).",
    )

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        #: The wire bytes the device is known to hold here (its last read, or our last
        #: write), None when unknown; a client host skips writing a value equal to them.
        self._on_device: bytes | None = None
        self._forced = False
        self._callback: Callable[..., Any] | None = None
        super().__init__(parent, **properties)

    # -- the address -------------------------------------------------------------------------
    @property
    def table(self) -> Table:
        return Table(int(self.type))

    @property
    def writable(self) -> bool:
        """Whether a client may write the device's value (Coil and Holding only)."""
        return self.type in (self.Type.Coil, self.Type.Holding)

    @property
    def width(self) -> int:
        """The registers (or bits) the value takes: `count`, or the dataType's width."""
        if self.count:
            return self.count
        if self.type in (self.Type.Coil, self.Type.DiscreteInput):
            return 1
        data_type = self.dataType
        if data_type == DataType.Invalid:
            return 1
        try:
            return default_count(data_type.name) or 1
        except ValueError:
            return 1

    @property
    def peer_address(self) -> ModbusAddress:
        return ModbusAddress(Table(int(self.type)), self.address, self.width)

    def codec(self) -> RegisterCodec | None:
        """The layout of a register value (None for bits and for raw registers, dataType
        Invalid); ValueError if the dataType, count and orders make no layout."""
        if self.type in (self.Type.Coil, self.Type.DiscreteInput):
            return None
        data_type = self.dataType
        if data_type == DataType.Invalid:
            return None
        return codec(
            data_type.name, self.width, self.byteOrder, self.registerOrder, self.stringEncoding
        )

    def _address_problem(self) -> str:
        a = self.peer_address
        if a.end > TABLE_SIZE:
            return f"{a} passes the end of the table (address {TABLE_SIZE - 1})"
        if a.bits:
            if self.dataType not in (DataType.Invalid, DataType.Boolean):
                kind = self.dataType.name
                return f"{a} holds bits: dataType must be Boolean (or Invalid), not {kind}"
            if a.count > 1 and self.dataType == DataType.Boolean:
                return f"{a} holds {a.count} bits (a list): leave dataType Invalid"
            return ""
        if self.dataType == DataType.String and not self.count:
            return f"{a}: a String needs count (2 bytes per register)"
        try:
            self.codec()
        except ValueError as exc:
            return f"{a}: {exc}"
        return ""

    # -- bytes and values (LinkVariable's hooks) ---------------------------------------------
    def _decode(self, raw: bytes) -> Any:
        a = self.peer_address
        if len(raw) < a.size:
            raise ValueError(f"{len(raw)} bytes for {a} ({a.size} needed)")
        if a.bits:
            bits = unpack_bits(raw, a.count)
            return bits[0] if a.count == 1 else bits
        layout = self.codec()
        if layout is not None:
            return layout.decode_bytes(raw)
        regs = struct.unpack_from(f">{a.count}H", raw)
        return regs[0] if a.count == 1 else list(regs)

    def _encode(self, value: Any) -> bytes:
        a = self.peer_address
        if a.bits:
            values = value if isinstance(value, (list, tuple)) else [value]
            if len(values) != a.count:
                raise ValueError(f"{a} takes {a.count} bits, got {len(values)}")
            for v in values:
                if not (isinstance(v, bool) or (type(v) is int and v in (0, 1))):
                    raise TypeError(f"{a} takes true or false, got {v!r}")
            return pack_bits(values)
        layout = self.codec()
        if layout is not None:
            return layout.encode_bytes(value)
        values = value if isinstance(value, (list, tuple)) else [value]
        if len(values) != a.count:
            raise ValueError(f"{a} takes {a.count} register values, got {len(values)}")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFF:
                raise ValueError(f"{a}: a register holds 0..65535, not {v!r}")
        return struct.pack(f">{a.count}H", *values)

    def _missing_host_text(self) -> str:
        return (
            f"ModbusRegister {self.name or self.peer_address} has no host: put it under a "
            f"ModbusSlave or a ModbusTcpServer, or set client"
        )

    def _deliver(self, raw: bytes) -> None:
        self._on_device = bytes(raw)
        super()._deliver(raw)

    # -- InCore API --------------------------------------------------------------------------
    @method
    def write(self, value: Any) -> None:
        """Write `value` to the device now (also when it equals data)."""
        self._forced = True
        try:
            self.data = value
        finally:
            self._forced = False

    def _data_written(self, value: Any) -> None:
        """A changed value writes the device once: a value the device is known to hold (read
        from it, or written without an error since) is not written again, unless by
        `write()`. A failed write, an error or a Bad quality makes the next one go out."""
        if _serves(self._host):
            super()._data_written(value)
            return
        if not self.writable:
            super(LinkVariable, self)._data_written(value)
            if self.enabled and self.isLive and self._host is not None:
                self._report_error(
                    self.WriteError, f"{self.peer_address} is read-only: a client cannot write it"
                )
            return
        try:
            raw: bytes | None = self._encode(value)
        except (TypeError, ValueError):
            raw = None  # reported by the write below
        if (
            not self._forced
            and raw is not None
            and raw == self._on_device
            and not self.error
            and self.quality == Quality.Good
        ):
            super(LinkVariable, self)._data_written(value)
            return
        self._on_device = raw if self.enabled and self.isLive else None
        super()._data_written(value)

    # -- vetting clients' writes (server side, server_veto.py) ------------------------------------
    def setWriteRequestedCallback(self, fn: Callable[[Any, Any], Any] | None) -> None:
        """Python API: `fn(register, message)` vets a client's write before the
        `writeRequested` handlers; False or an exception refuses it (as `message.refuse()`)."""
        self._callback = fn
        self._tell_vetters()

    def _vets(self) -> bool:
        return self._callback is not None or self.has_receivers("writeRequested")

    def _vet_write(self, message: Any) -> None:
        """A client's write touching this register (loop thread): the callback, then the
        handlers (queued in this wave); the host reads `message.accepted` after the wave."""
        fn = self._callback
        if fn is not None:
            try:
                verdict = fn(self, message)
            except Exception as exc:  # a failing callback refuses, it does not accept
                message.refuse(f"the writeRequested callback failed: {exc}")
            else:
                if verdict is False:
                    message.refuse("refused by the writeRequested callback")
        self.writeRequested.emit(message, message.value)

    def _subscribe(self, key: str, subscriber: Any) -> None:
        super()._subscribe(key, subscriber)
        if key == "writeRequested":
            self._tell_vetters()

    def _unsubscribe(self, key: str, subscriber: Any) -> None:
        super()._unsubscribe(key, subscriber)
        if key == "writeRequested":
            self._tell_vetters()

    def _tell_vetters(self) -> None:
        tell = getattr(getattr(self, "_host", None), "vetters_changed", None)
        if tell is not None:
            tell(self)

    def _check(self) -> Iterator[registry.Problem]:
        """It has a host, and its dataType, count and orders make a layout."""
        yield from super()._check()
        problem = self._address_problem()
        if problem:
            yield registry.Problem(self, "dataType", problem)


def _serves(host: Any) -> bool:
    """Whether `host` maps its own tables (a server), where every table is writable."""
    return bool(getattr(host, "serves_tables", False))
