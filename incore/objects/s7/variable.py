"""S7Variable: InCore's PLC variable, a DataObject bound to an address in an S7 host.

The host is an S7Client (polls and writes the PLC) or an S7Server (maps its own memory);
both implement the VariableHost interface of docs/dev/s7-objects-plan.md:

    host.attach_variable(var) / host.detach_variable(var)
    host.read_variable(var)          # pollData(); the host answers later with var._deliver()
    host.write_variable(var, raw)    # data was written; raw = the encoded value

What the variable offers its host: `area_code` (0x81 PE, 0x82 PA, 0x83 MK, 0x84 DB), `db`,
`address` (byte offset), `bit`, `width`, `size` (bytes), `transport_size`, and
`_deliver(raw)` / `_fail(error, text)`. `raw` given to `_deliver` is the `size` bytes at
`address` (for a Bit variable: the byte that holds the bit); `raw` given to
`write_variable` is the encoded value (for a Bit variable one byte, 0x00 or 0x01, to be
stored into bit `bit` of the byte at `address`).
"""
from __future__ import annotations

import enum
from typing import Any, Iterator

from ...core import Object, Property, Signal, engine, method, registry
from ...protocols.s7 import Area, TransportSize
from ..errors import ErrorReporting, error_property
from ..foundation.data import DataObject, now_ms
from ..foundation.datatypes import DataType
from .address import MAX_BYTE_OFFSET, MAX_DB, WIDTH_SIZE, AddressError, Type, address_in_name, \
    area_of, format_address, width_of
from .values import decode, encode

__all__ = ["S7Variable", "refine_type"]

_AREA_CODES = {"Data": Area.DB, "Input": Area.PE, "Output": Area.PA, "Memory": Area.MK}
_TRANSPORT = {"Bit": TransportSize.BIT, "Byte": TransportSize.BYTE, "Word": TransportSize.WORD,
              "DWord": TransportSize.DWORD, "Int": TransportSize.INT, "DInt": TransportSize.DINT,
              "Real": TransportSize.REAL}
_SIGNED = (DataType.SignedSmallInteger, DataType.SignedInteger, DataType.SignedBigInteger)
_HOST_METHODS = ("attach_variable", "detach_variable", "read_variable", "write_variable")


def refine_type(t: Type, data_type: DataType) -> Type:
    """What a width-only address means for a data type: a DBD of Float is a REAL, a DBD
    of SignedInteger a DINT, a DBW of a signed integer type an INT."""
    width = width_of(t)
    if width == "DWord" and data_type in (DataType.Float, DataType.Double):
        return Type(t + 3)  # DWord -> Real
    if width == "DWord" and data_type in _SIGNED:
        return Type(t + 2)  # DWord -> DInt
    if width == "Word" and data_type in _SIGNED:
        return Type(t + 2)  # Word -> Int
    return t


def _check_name(text: str) -> None:
    """a plain name, or an S7 address that parses (DB1.DBX0.3, DB1.DBD4:REAL, I0.1, MW10)"""
    address_in_name(text)


def _is_host(obj: Any) -> bool:
    return obj is not None and all(callable(getattr(obj, n, None)) for n in _HOST_METHODS)


class S7Variable(DataObject):
    """A PLC variable (InCore's S7Variable): `data` follows the PLC and writes to it.

    Give the address as `name` (`DB1.DBX0.3`, `DB1.DBW2`, `DB1.DBD4:REAL`, `I0.1`, `QW4`,
    `MD8`, ...) or as `db`, `address`, `bit` and `type`. `pollData()` (or a Polling child)
    reads it; writing `data` writes the PLC. Under an S7Server the variable maps that
    server's memory instead.
    """

    Type = Type

    class Error(enum.IntEnum):
        """What went wrong with the variable."""

        NoError = 0
        InvalidClientError = 1
        NameParseError = 2
        ReadError = 3
        WriteError = 4

    __slots__ = ("_host", "_name_type")

    client = Property("S7Client", None, on_write="_client_written",
                      doc="The S7Client to read and write through (default: the parent, "
                          "if it is one).")
    db = Property(int, 0, minimum=0, maximum=MAX_DB,
                  doc="The data block number (Data types only).")
    address = Property(int, 0, minimum=0, maximum=MAX_BYTE_OFFSET,
                       doc="The byte offset in the area.")
    bit = Property(int, 0, minimum=0, maximum=7, doc="The bit number of Bit types.")
    type = Property(Type, Type.DataByte, on_write="_type_written",
                    doc="The area and width, e.g. DataWord, InputBit, MemoryReal.")
    enabled = Property(bool, True,
                       doc="Whether pollData() reads and writing data writes the PLC.")
    name = Property(str, "", on_write="_name_written", check=_check_name,
                    doc="A name for the value; an address string (DB1.DBW2, I0.1, MD4:REAL) "
                        "sets db, address, bit and type.")
    error = error_property(Error)
    # The error convention, shared with ErrorReporting without inheriting it twice from Object.
    errorString = Property(str, "", readonly=True, doc=ErrorReporting.errorString.doc)
    errorOccurred = Signal(doc="Emitted on every error, also when the same error repeats.")
    _report_error = ErrorReporting._report_error
    _clear_error = ErrorReporting._clear_error
    _apply_error = ErrorReporting._apply_error

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._host: Any = None
        self._name_type: Type | None = None  # the width-only type a name gave (refinable)
        super().__init__(parent, **properties)

    # -- what the host reads ---------------------------------------------------------------
    @property
    def area_code(self) -> int:
        return _AREA_CODES[area_of(self.type)]

    @property
    def width(self) -> str:
        return width_of(self.type)

    @property
    def size(self) -> int:
        return WIDTH_SIZE[width_of(self.type)]

    @property
    def transport_size(self) -> int:
        return _TRANSPORT[width_of(self.type)]

    @property
    def address_text(self) -> str:
        return format_address(self.db, self.address, self.bit, self.type)

    @property
    def host(self) -> Any:
        """The S7Client or S7Server this variable is attached to (None if none)."""
        return self._host

    # -- InCore API ------------------------------------------------------------------------
    @method
    def pollData(self) -> None:
        """Read the variable now; data is updated when the answer arrives."""
        host = self._usable_host(self.ReadError)
        if host is not None:
            host.read_variable(self)

    def _usable_host(self, error: Any) -> Any:
        """The host, if this variable may use it now; else None (reporting `error` if the
        address is what stands in the way)."""
        if not self.enabled or not self.isLive:
            return None
        host = self._require_host()
        if host is None:
            return None
        problem = self._address_problem()
        if problem:
            self._report_error(error, problem)
            return None
        return host

    # -- called by the host (loop thread) ---------------------------------------------------
    def _deliver(self, raw: bytes) -> None:
        """Bytes read from the PLC (or the server's memory) become data (no write-back)."""
        width, size = self.width, self.size
        try:
            if len(raw) < size:
                raise ValueError(f"{len(raw)} bytes for a {width} variable")
            value = decode(width, bytes(raw[:size]), self._big_endian(), self.bit)
        except ValueError as exc:
            self._report_error(self.ReadError, f"{self.address_text}: {exc}")
            return
        engine.run_on_owner(self._store, value)

    def _fail(self, error: Any, text: str) -> None:
        """Report an error of the host's read or write (enum member, name or number)."""
        self._report_error(error, text)

    def _store(self, value: Any) -> None:
        try:
            self._update("data", value)
        except (TypeError, ValueError) as exc:
            self._report_error(self.ReadError, f"{self.address_text}: {exc}")
            return
        self._update("timestamp", now_ms())
        if self.error == self.ReadError:
            self._clear_error()

    # -- writes ----------------------------------------------------------------------------
    def _data_written(self, value: Any) -> None:
        super()._data_written(value)
        host = self._usable_host(self.WriteError)
        if host is None:
            return
        try:
            raw = encode(self.width, value, self._big_endian())
        except (TypeError, ValueError) as exc:
            self._report_error(self.WriteError, f"{self.address_text}: {exc}")
            return
        host.write_variable(self, raw)

    def _big_endian(self) -> bool:
        return int(getattr(self._host, "byteOrder", 0)) != 1

    def _address_problem(self) -> str:
        if self.width == "Bit" and not 0 <= self.bit <= 7:
            return f"bit {self.bit} is not 0..7"
        if self.address < 0 or self.db < 0:
            return f"address {self.address} / db {self.db} must not be negative"
        return ""

    # -- the host ----------------------------------------------------------------------------
    def _on_completed(self) -> None:
        self._attach()

    def _on_shutdown(self) -> None:
        host, self._host = self._host, None
        if host is not None:
            host.detach_variable(self)

    def _resolve_host(self) -> Any:
        client = type(self).client.peek(self)
        if client is not None:
            return client
        parent = self.parent
        return parent if _is_host(parent) else None

    def _attach(self) -> None:
        host = self._resolve_host()
        old = self._host
        if host is not old:
            if old is not None:
                old.detach_variable(self)
            self._host = host
            if host is not None:
                if isinstance(host, type(self).client.type) and self.client is None:
                    self._update("client", host)  # the default: the parent S7Client
                host.attach_variable(self)
        if host is None:
            self._report_missing_host()
        elif self.error == self.InvalidClientError:
            self._clear_error()

    def _require_host(self) -> Any:
        if self._host is None:
            self._report_missing_host()
        return self._host

    def _report_missing_host(self) -> None:
        self._report_error(self.InvalidClientError, self._missing_host_text())

    def _missing_host_text(self) -> str:
        return (f"S7Variable {self.name or self.address_text} has no client: put it under an "
                f"S7Client (or an S7Server) or set client")

    def _check(self) -> Iterator[registry.Problem]:
        """It has a host (a parent S7Client or S7Server, or client), and bit and db only if
        its type uses them."""
        if self._resolve_host() is None and self.binding("client") is None:
            yield registry.Problem(self, "client", self._missing_host_text())
        if self.bit and self.width != "Bit":
            yield registry.Problem(self, "bit", f"S7Variable.bit is only used by Bit types "
                                                f"(type is {self.type.name})")
        if self.db and area_of(self.type) != "Data":
            yield registry.Problem(self, "db", f"S7Variable.db is only used by Data types "
                                               f"(type is {self.type.name})")

    def _client_written(self, _client: Any) -> None:
        if self.isLive:
            self._attach()

    # -- the address as a name ---------------------------------------------------------------
    def _name_written(self, text: str) -> None:
        try:
            parsed = address_in_name(text)
        except AddressError as exc:
            self._name_type = None
            self._report_error(self.NameParseError, str(exc))
            return
        if parsed is None:  # a plain name
            self._name_type = None
            return
        explicit = ":" in text or " " in text.strip()
        self._name_type = None if explicit else parsed.type
        self._update("db", parsed.db)
        self._update("address", parsed.offset)
        self._update("bit", parsed.bit)
        self._update("type", refine_type(parsed.type, self.dataType) if not explicit else parsed.type)
        if self.error == self.NameParseError:
            self._clear_error()

    def _type_written(self, _t: Type) -> None:
        self._name_type = None  # an explicit type wins over what the name implied

    def _data_type_written(self, data_type: DataType) -> None:
        if self._name_type is not None:
            self._update("type", refine_type(self._name_type, data_type))
        super()._data_type_written(data_type)
