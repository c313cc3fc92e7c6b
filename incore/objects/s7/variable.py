"""S7Variable: InCore's PLC variable, a DataObject bound to an address in an S7 host.

The host is an S7Client (polls and writes the PLC) or an S7Server (maps its own memory);
both implement link.host.VariableHost, and what the variable does with its host (polling,
writes, errors, quality) is link.variable.LinkVariable's. What is S7 here: the address
(`name` as an S7 address string, or `db`, `address`, `bit` and `type`), which hosts see as
an `S7Address` (`peer_address`), and how bytes become values (values.py, in the host's
`byteOrder`). `plcType` chooses an element kind beyond the widths of `type` (STRING, CHAR,
LREAL, SINT/USINT/UINT/UDINT, TIME, DATE_AND_TIME, DTL), `count` makes an array and `length`
is a STRING's; hosts see all of it in `S7Address`. `raw` given to `_deliver` is the `size`
bytes at the address (for Bit variables: the bytes that hold the bits); `raw` given to
`write_variable` is the encoded value (for Bit variables one byte, 0x00 or 0x01, per bit,
to be stored into the bits one by one).
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
    MAX_COUNT,
    MAX_DB,
    AddressError,
    S7Address,
    Type,
    address_in_name,
    area_of,
    names_width_only,
    s7_address,
    width_of,
)
from .values import decode, encode

__all__ = ["S7Variable", "PlcType", "refine_type"]

_TRANSPORT = {
    "Bit": TransportSize.BIT,
    "Byte": TransportSize.BYTE,
    "Word": TransportSize.WORD,
    "DWord": TransportSize.DWORD,
    "Int": TransportSize.INT,
    "DInt": TransportSize.DINT,
    "Real": TransportSize.REAL,
}
_STRING_MAX = 254
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


class PlcType(enum.IntEnum):
    """The S7 data type of each element, by its STEP 7 name (Auto: the width of `type`)."""

    Auto = 0
    BOOL = 1
    BYTE = 2
    WORD = 3
    DWORD = 4
    INT = 5
    DINT = 6
    REAL = 7
    CHAR = 8
    SINT = 9
    USINT = 10
    UINT = 11
    UDINT = 12
    TIME = 13
    LREAL = 14
    DATE_AND_TIME = 15
    DTL = 16
    STRING = 17


#: The element kind (protocols/s7/types.py) of each PlcType, and back.
_KIND_OF = dict(
    zip(
        list(PlcType)[1:],
        ("Bit", "Byte", "Word", "DWord", "Int", "DInt", "Real", "Char", "SInt", "USInt")
        + ("UInt", "UDInt", "Time", "LReal", "DateAndTime", "DTL", "String"),
    )
)
_PLC_TYPE_OF = {kind: t for t, kind in _KIND_OF.items()}


class S7Variable(LinkVariable):
    """A PLC variable (InCore's S7Variable): `data` follows the PLC and writes to it.

    Give the address as `name` (`DB1.DBX0.3`, `DB1.DBW2`, `DB1.DBD4:REAL`, `I0.1`, `QW4`,
    `MD8`, `DB1.DBB10:STRING[20]`, `DB1.DBW0:INT[10]`, or Node-RED's `DB1,REAL0`,
    `DB1,S10.20`, ...) or as `db`, `address`, `bit`, `type`, and for the other S7 types
    `plcType`, `count` and `length`. `pollData()` (or a Polling child) reads it; writing
    `data` writes the PLC. Under an S7Server the variable maps that server's memory instead.
    `quality` is Bad (with the reason) while the variable's reads fail or its client's
    connection is down, and Good again with the next value read.

    What `data` holds: BOOL a bool; BYTE, WORD, DWORD, SINT, USINT, INT, UINT, DINT, UDINT
    an int; REAL, LREAL a float; CHAR a one-character str; STRING a str of up to `length`
    Latin-1 characters; TIME an int of milliseconds; DATE_AND_TIME (1990..2089, ms) and DTL
    a datetime; with `count` > 1 a list of them. The bytes are the ones python-snap7's
    `snap7.util` setters write.
    """

    Type = Type
    PlcType = PlcType

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
    plcType = Property(
        PlcType,
        PlcType.Auto,
        on_write="_type_written",
        doc="The S7 data type of each element: STRING, CHAR, LREAL, SINT, USINT, UINT, UDINT, "
        "TIME (ms), DATE_AND_TIME, DTL, or a width (BOOL ... REAL); Auto: the width of type "
        "(whose area is used either way).",
    )
    count = Property(
        int,
        1,
        minimum=1,
        maximum=MAX_COUNT,
        doc="The number of elements: more than 1 makes data a list (an ARRAY in the PLC).",
    )
    length = Property(
        int,
        _STRING_MAX,
        minimum=1,
        maximum=_STRING_MAX,
        doc="The declared length of a String (STRING[length]: length + 2 bytes in the PLC).",
    )
    name = Property(
        str,
        "",
        on_write="_name_written",
        check=_check_name,
        doc="A name for the value; an address string (DB1.DBW2, I0.1, MD4:REAL, "
        "DB1.DBB0:STRING[20], DB1,REAL0.10) sets db, address, bit, type, plcType, count and "
        "length.",
    )
    error = error_property(Error)

    def __init__(self, parent: Any = None, **properties: Any) -> None:
        self._name_type: Type | None = None  # the width-only type a name gave (refinable)
        super().__init__(parent, **properties)

    # -- what the host reads ---------------------------------------------------------------
    @property
    def peer_address(self) -> S7Address:
        kind = _KIND_OF.get(self.plcType, "")
        return s7_address(self.type, self.db, self.address, self.bit, kind, self.count, self.length)

    @property
    def area_code(self) -> int:
        return self.peer_address.area

    @property
    def width(self) -> str:
        """The element kind ("Bit", "Int", "String", "DTL", ...)."""
        return self.peer_address.width

    @property
    def size(self) -> int:
        return self.peer_address.size

    @property
    def transport_size(self) -> int:
        return _TRANSPORT.get(self.width, TransportSize.BYTE)

    @property
    def address_text(self) -> str:
        return str(self.peer_address)

    # -- bytes and values (LinkVariable's hooks) ----------------------------------------------
    def _decode(self, raw: bytes) -> Any:
        a = self.peer_address
        size = a.size
        if len(raw) < size:
            raise ValueError(f"{len(raw)} bytes for a {a.width} variable of {size}")
        return decode(
            a.width, bytes(raw[:size]), self._big_endian(), a.bit, a.count, a.length or _STRING_MAX
        )

    def _encode(self, value: Any) -> bytes:
        a = self.peer_address
        return encode(a.width, value, self._big_endian(), a.count, a.length or _STRING_MAX)

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
        explicit = not names_width_only(text)
        self._name_type = None if explicit else parsed.type
        self._update("db", parsed.db)
        self._update("address", parsed.offset)
        self._update("bit", parsed.bit)
        self._update(
            "type", refine_type(parsed.type, self.dataType) if not explicit else parsed.type
        )
        self._update("plcType", _PLC_TYPE_OF[parsed.kind] if parsed.kind else PlcType.Auto)
        self._update("count", parsed.count)
        self._update("length", parsed.length)
        if self.error == self.NameParseError:
            self._clear_error()

    def _type_written(self, _t: Type) -> None:
        self._name_type = None  # an explicit type wins over what the name implied

    def _data_type_written(self, data_type: DataType) -> None:
        if self._name_type is not None:
            self._update("type", refine_type(self._name_type, data_type))
        super()._data_type_written(data_type)
