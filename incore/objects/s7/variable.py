"""S7Variable: InCore's PLC variable, a DataObject bound to an address in an S7 host.

The host is an S7Client (polls and writes the PLC) or an S7Server (maps its own memory);
both implement link.host.VariableHost, and what the variable does with its host (polling,
writes, errors, quality) is link.variable.LinkVariable's. What is S7 here: the address
(`name` as an S7 address string, or `db`, `address`, `bit` and `type`), which hosts see as
an `S7Address` (`peer_address`), and how bytes become values (values.py, in the host's
`byteOrder`). `raw` given to `_deliver` is the `size` bytes at the address (for a Bit
variable: the byte that holds the bit); `raw` given to `write_variable` is the encoded value
(for a Bit variable one byte, 0x00 or 0x01, to be stored into the bit).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any

from ...core import Property, registry
from ...protocols.s7 import TransportSize
from ..errors import error_property
from ..foundation.datatypes import DataType
from ..link.variable import LinkVariable
from .address import (
    MAX_BYTE_OFFSET,
    MAX_DB,
    AddressError,
    S7Address,
    Type,
    address_in_name,
    area_of,
    s7_address,
    width_of,
)
from .values import decode, encode

__all__ = ["S7Variable", "refine_type"]

_TRANSPORT = {
    "Bit": TransportSize.BIT,
    "Byte": TransportSize.BYTE,
    "Word": TransportSize.WORD,
    "DWord": TransportSize.DWORD,
    "Int": TransportSize.INT,
    "DInt": TransportSize.DINT,
    "Real": TransportSize.REAL,
}
_SIGNED = (DataType.SignedSmallInteger, DataType.SignedInteger, DataType.SignedBigInteger)


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
    """A plain name, or an S7 address that parses (DB1.DBX0.3, DB1.DBD4:REAL, I0.1, MW10)"""
    address_in_name(text)


class S7Variable(LinkVariable):
    """A PLC variable (InCore's S7Variable): `data` follows the PLC and writes to it.

    Give the address as `name` (`DB1.DBX0.3`, `DB1.DBW2`, `DB1.DBD4:REAL`, `I0.1`, `QW4`,
    `MD8`, ...) or as `db`, `address`, `bit` and `type`. `pollData()` (or a Polling child)
    reads it; writing `data` writes the PLC. Under an S7Server the variable maps that
    server's memory instead. `quality` is Bad (with the reason) while the variable's reads
    fail or its client's connection is down, and Good again with the next value read.
    """

    Type = Type

    class Error(enum.IntEnum):
        """What went wrong with the variable."""

        NoError = 0
        InvalidClientError = 1
        NameParseError = 2
        ReadError = 3
        WriteError = 4

    __slots__ = ("_name_type",)

    client = Property(
        "S7Client",
        None,
        on_write="_client_written",
        doc="The S7Client to read and write through (default: the parent, if it is one).",
    )
    db = Property(int, 0, minimum=0, maximum=MAX_DB, doc="The data block number (Data types only).")
    address = Property(
        int, 0, minimum=0, maximum=MAX_BYTE_OFFSET, doc="The byte offset in the area."
    )
    bit = Property(int, 0, minimum=0, maximum=7, doc="The bit number of Bit types.")
    type = Property(
        Type,
        Type.DataByte,
        on_write="_type_written",
        doc="The area and width, e.g. DataWord, InputBit, MemoryReal.",
    )
    name = Property(
        str,
        "",
        on_write="_name_written",
        check=_check_name,
        doc="A name for the value; an address string (DB1.DBW2, I0.1, MD4:REAL) "
        "sets db, address, bit and type.",
    )
    error = error_property(Error)

    def __init__(self, parent: Any = None, **properties: Any) -> None:
        self._name_type: Type | None = None  # the width-only type a name gave (refinable)
        super().__init__(parent, **properties)

    # -- what the host reads ---------------------------------------------------------------
    @property
    def peer_address(self) -> S7Address:
        return s7_address(self.type, self.db, self.address, self.bit)

    @property
    def area_code(self) -> int:
        return self.peer_address.area

    @property
    def width(self) -> str:
        return width_of(self.type)

    @property
    def size(self) -> int:
        return self.peer_address.size

    @property
    def transport_size(self) -> int:
        return _TRANSPORT[width_of(self.type)]

    @property
    def address_text(self) -> str:
        return str(self.peer_address)

    # -- bytes and values (LinkVariable's hooks) ----------------------------------------------
    def _decode(self, raw: bytes) -> Any:
        width, size = self.width, self.size
        if len(raw) < size:
            raise ValueError(f"{len(raw)} bytes for a {width} variable")
        return decode(width, bytes(raw[:size]), self._big_endian(), self.bit)

    def _encode(self, value: Any) -> bytes:
        return encode(self.width, value, self._big_endian())

    def _big_endian(self) -> bool:
        return int(getattr(self._host, "byteOrder", 0)) != 1

    def _address_problem(self) -> str:
        if self.width == "Bit" and not 0 <= self.bit <= 7:
            return f"bit {self.bit} is not 0..7"
        if self.address < 0 or self.db < 0:
            return f"address {self.address} / db {self.db} must not be negative"
        return ""

    def _missing_host_text(self) -> str:
        return (
            f"S7Variable {self.name or self.address_text} has no client: put it under an "
            f"S7Client (or an S7Server) or set client"
        )

    def _check(self) -> Iterator[registry.Problem]:
        """It has a host (a parent S7Client or S7Server, or client), and bit and db only if
        its type uses them."""
        yield from super()._check()
        if self.bit and self.width != "Bit":
            yield registry.Problem(
                self, "bit", f"S7Variable.bit is only used by Bit types (type is {self.type.name})"
            )
        if self.db and area_of(self.type) != "Data":
            yield registry.Problem(
                self, "db", f"S7Variable.db is only used by Data types (type is {self.type.name})"
            )

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
        self._update(
            "type", refine_type(parsed.type, self.dataType) if not explicit else parsed.type
        )
        if self.error == self.NameParseError:
            self._clear_error()

    def _type_written(self, _t: Type) -> None:
        self._name_type = None  # an explicit type wins over what the name implied

    def _data_type_written(self, data_type: DataType) -> None:
        if self._name_type is not None:
            self._update("type", refine_type(self._name_type, data_type))
        super()._data_type_written(data_type)
