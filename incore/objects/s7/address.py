"""S7 address strings (`DB1.DBD4`, `I0.1`, `MW10:INT`, `DB1,REAL0`) to where and what a value is.

Two grammars are read. Ours is STEP 7's absolute address, with the English (I/Q) and the
German (E/A) mnemonics and a `:TYPE` (or ` TYPE`) suffix that says what the bytes hold where
the width letter alone does not (a DBD may hold a DWORD, a DINT, a REAL, a TIME or a UDINT):
`DB1.DBD4:REAL`, `DB1.DBB10:STRING[20]`, `DB1.DBB0:DTL`, and `[n]` after the type for an
array (`DB1.DBW0:INT[10]`, `DB1.DBB8:STRING[16][3]`). The other is Node-RED's
(node-red-contrib-s7 / nodes7): `DB1,REAL0`, `DB1,X0.1`, `DB1,S10.20` (a STRING of 20 at byte
10), `DB1,REAL0.10` (ten REALs), `MR4`, `IW2`. `S7Address` is what an S7Variable's hosts see
of either: the wire area code, DB, byte offset, bit, element kind, count and string length.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from ...protocols.s7 import Area
from ...protocols.s7.types import STRING_MAX, span
from ...protocols.s7.types_nodered import nodered_area_form, parse_nodered
from ..link.address import PeerAddress

#: The largest byte offset a request can name (its bit address is 24 bits: byte * 8 + bit).
MAX_BYTE_OFFSET = 0x1FFFFF
#: The largest data block number (16 bits).
MAX_DB = 0xFFFF
#: The most elements an array address may name.
MAX_COUNT = 0xFFFF


class Type(enum.IntEnum):
    """InCore's S7Variable.Type: the area (Data, Input, Output, Memory) times the width."""

    DataBit = 1
    DataByte = 2
    DataWord = 3
    DataDWord = 4
    DataInt = 5
    DataDInt = 6
    DataReal = 7
    InputBit = 8
    InputByte = 9
    InputWord = 10
    InputDWord = 11
    InputInt = 12
    InputDInt = 13
    InputReal = 14
    OutputBit = 15
    OutputByte = 16
    OutputWord = 17
    OutputDWord = 18
    OutputInt = 19
    OutputDInt = 20
    OutputReal = 21
    MemoryBit = 22
    MemoryByte = 23
    MemoryWord = 24
    MemoryDWord = 25
    MemoryInt = 26
    MemoryDInt = 27
    MemoryReal = 28


AREAS = ("Data", "Input", "Output", "Memory")
WIDTHS = ("Bit", "Byte", "Word", "DWord", "Int", "DInt", "Real")
#: Bytes each width occupies in the PLC.
WIDTH_SIZE = {"Bit": 1, "Byte": 1, "Word": 2, "DWord": 4, "Int": 2, "DInt": 4, "Real": 4}
#: The element kinds beyond the widths of Type, and the width each is addressed by (the
#: letter of the same size; B for the ones no letter fits).
EXTRA_KINDS = {
    "Char": "Byte",
    "SInt": "Byte",
    "USInt": "Byte",
    "UInt": "Word",
    "UDInt": "DWord",
    "Time": "DWord",
    "LReal": "Byte",
    "DateAndTime": "Byte",
    "DTL": "Byte",
    "String": "Byte",
}
#: Every element kind a variable can hold: the widths, then the extra kinds.
KINDS = WIDTHS + tuple(EXTRA_KINDS)


def area_of(t: Type) -> str:
    return AREAS[(t - 1) // 7]


def width_of(t: Type) -> str:
    return WIDTHS[(t - 1) % 7]


def make_type(area: str, width: str) -> Type:
    return Type(AREAS.index(area) * 7 + WIDTHS.index(EXTRA_KINDS.get(width, width)) + 1)


class Address(NamedTuple):
    """A parsed address: `kind` is "" when the width of `type` says what the bytes hold."""

    db: int
    offset: int
    bit: int
    type: Type
    kind: str = ""
    count: int = 1
    length: int = STRING_MAX


class AddressError(ValueError):
    """An address string that does not follow the grammar."""


_AREA_LETTERS = {"I": "Input", "E": "Input", "Q": "Output", "A": "Output", "M": "Memory"}
_WIDTH_LETTERS = {"X": "Bit", "B": "Byte", "W": "Word", "D": "DWord", "": "Bit"}
_SUFFIX_KINDS = {
    "BOOL": "Bit",
    "BIT": "Bit",
    "BYTE": "Byte",
    "WORD": "Word",
    "DWORD": "DWord",
    "INT": "Int",
    "DINT": "DInt",
    "REAL": "Real",
    "CHAR": "Char",
    "SINT": "SInt",
    "USINT": "USInt",
    "UINT": "UInt",
    "UDINT": "UDInt",
    "LREAL": "LReal",
    "TIME": "Time",
    "DT": "DateAndTime",
    "DATE_AND_TIME": "DateAndTime",
    "DTL": "DTL",
    "STRING": "String",
}
#: The suffix each kind is written with (the inverse of _SUFFIX_KINDS).
_KIND_SUFFIX = {"Bit": "BOOL", "DateAndTime": "DT"}
_KIND_SUFFIX.update({k: n for n, k in _SUFFIX_KINDS.items() if k not in _KIND_SUFFIX})
_DB_RE = re.compile(r"DB(\d+)\.DB([XBWD])(\d+)(?:\.(\d+))?$")
_AREA_RE = re.compile(r"([IEQAM])([BWD]?)(\d+)(?:\.(\d+))?$")
_SUFFIX_RE = re.compile(r"([A-Z_]+)(?:\[(\d+)\])?(?:\[(\d+)\])?$")
_EXAMPLES = (
    "expected e.g. DB1.DBX0.3, DB1.DBW2, DB1.DBD4:REAL, DB1.DBB0:STRING[20], I0.1, IB2, QW4, "
    "M0.0, MD8, or Node-RED's DB1,REAL0, DB1,X0.1, DB1,S10.20, MR4"
)


def _check_range(text: str, db: int, offset: int, count: int) -> None:
    if offset > MAX_BYTE_OFFSET:
        raise AddressError(f"'{text}': byte offset must be 0..{MAX_BYTE_OFFSET}")
    if db > MAX_DB:
        raise AddressError(f"'{text}': DB number must be 0..{MAX_DB}")
    if not 1 <= count <= MAX_COUNT:
        raise AddressError(f"'{text}': an array holds 1..{MAX_COUNT} elements")


def _check_length(text: str, length: int) -> None:
    if not 1 <= length <= STRING_MAX:
        raise AddressError(f"'{text}': a STRING holds 1..{STRING_MAX} characters")


def _result(
    area: str, db: int, offset: int, bit: int, kind: str, count: int, length: int
) -> Address:
    """The Address of a kind: one of Type's widths is the type (kind ""), another kind the
    width it is addressed by."""
    if kind in WIDTHS:
        return Address(db, offset, bit, make_type(area, kind), "", count, STRING_MAX)
    return Address(db, offset, 0, make_type(area, kind), kind, count, length)


def parse_address(text: str) -> Address:
    """Parse an address string; AddressError says what is wrong and what was expected."""
    raw = text.strip().upper()
    if "," in raw or nodered_area_form(raw):
        return _parse_nodered(text)
    body, suffix = raw, ""
    for sep in (":", " "):
        if sep in raw:
            body, suffix = (part.strip() for part in raw.split(sep, 1))
            break
    m = _DB_RE.match(body)
    if m:
        db, letter, offset, bit = int(m[1]), m[2], int(m[3]), m[4]
        area = "Data"
    else:
        m = _AREA_RE.match(body)
        if not m:
            raise AddressError(f"'{text}' is not an S7 address ({_EXAMPLES})")
        area = _AREA_LETTERS[m[1]]
        db, letter, offset, bit = 0, m[2], int(m[3]), m[4]
    width = _WIDTH_LETTERS[letter]
    if width == "Bit":
        if bit is None:
            raise AddressError(f"'{text}': a bit address needs a bit number (e.g. .3)")
        if not 0 <= int(bit) <= 7:
            raise AddressError(f"'{text}': bit number must be 0..7")
    elif bit is not None:
        raise AddressError(
            f"'{text}': only bit addresses (X) take a bit number (an array: "
            f"{body.split('.')[0]}:{_KIND_SUFFIX[width]}[{bit}])"
        )
    kind, count, length = width, 1, STRING_MAX
    if suffix:
        kind, count, length = _parse_suffix(text, suffix, width)
    _check_range(text, db, int(offset), count)
    return _result(area, db, int(offset), int(bit or 0), kind, count, length)


def _parse_suffix(text: str, suffix: str, width: str) -> tuple[str, int, int]:
    """`TYPE`, `TYPE[count]`, `STRING[length]`, `STRING[length][count]` after an address."""
    m = _SUFFIX_RE.match(suffix)
    kind = _SUFFIX_KINDS.get(m[1]) if m else None
    if kind is None or m is None:
        raise AddressError(f"'{text}': unknown type {suffix} (e.g. INT, REAL, STRING[20], DTL)")
    first, second = m[2], m[3]
    length = STRING_MAX
    if kind == "String" and first is not None:
        length, first = int(first), second
        _check_length(text, length)
    elif second is not None:
        raise AddressError(f"'{text}': only a STRING takes a length and a count")
    count = int(first) if first is not None else 1
    addressed = EXTRA_KINDS.get(kind, kind)
    if kind in ("Int", "DInt", "Real"):
        addressed = {"Int": "Word", "DInt": "DWord", "Real": "DWord"}[kind]
    if addressed != width:
        raise AddressError(f"'{text}': type {m[1]} does not fit a {width} address")
    return kind, count, length


def _parse_nodered(text: str) -> Address:
    try:
        parsed = parse_nodered(text)
    except ValueError as exc:
        raise AddressError(str(exc)) from None
    area, db, offset, bit, kind, count, length = parsed
    if kind == "String":
        _check_length(text, length)
    _check_range(text, db, offset, count)
    return _result(area, db, offset, bit, kind, count, length)


def names_width_only(text: str) -> bool:
    """Whether an address string gives only a width (`DB1.DBD4`, `MW2`), which a variable's
    dataType may refine (Float: REAL), rather than a type (`:REAL`, Node-RED's forms)."""
    raw = text.strip()
    return not any(c in raw for c in ": ,") and not nodered_area_form(raw)


#: A name that was meant as an address (so a parse failure is an error, not a plain name).
_LOOKS_LIKE_ADDRESS = re.compile(r"\s*(DB\d|[IEQAM][XBWD]?\d)", re.IGNORECASE)


def address_in_name(text: str) -> Address | None:
    """The address a name stands for, None for a plain name ("level"); AddressError for a
    name meant as an address (DB1..., I0.1, MW4) that does not parse."""
    try:
        return parse_address(text)
    except AddressError:
        if _LOOKS_LIKE_ADDRESS.match(text):
            raise
        return None


def format_address(
    db: int,
    offset: int,
    bit: int,
    t: Type,
    kind: str = "",
    count: int = 1,
    length: int = STRING_MAX,
) -> str:
    """The canonical address string of a variable (inverse of parse_address)."""
    area, width = area_of(t), width_of(t)
    kind = kind or width
    letter = {"Bit": "X", "Byte": "B", "Word": "W", "Int": "W"}.get(width, "D")
    if area == "Data":
        head = f"DB{db}.DB{letter}{offset}"
    else:
        head = f"{area[0] if area != 'Output' else 'Q'}{'' if letter == 'X' else letter}{offset}"
    head += f".{bit}" if width == "Bit" else ""
    if kind == width and count == 1:
        return head + {"Int": ":INT", "DInt": ":DINT", "Real": ":REAL"}.get(width, "")
    suffix = _KIND_SUFFIX[kind]
    if kind == "String" and (length != STRING_MAX or count > 1):
        suffix += f"[{length}]"
    return f"{head}:{suffix}" + (f"[{count}]" if count > 1 else "")


#: The wire area code (what requests and a server's memory use) of each area of a Type.
AREA_CODES = {
    "Data": int(Area.DB),
    "Input": int(Area.PE),
    "Output": int(Area.PA),
    "Memory": int(Area.MK),
}
_AREA_OF_CODE = {code: area for area, code in AREA_CODES.items()}


@dataclass(frozen=True, slots=True)
class S7Address(PeerAddress):
    """Where an S7 value lives: wire area code (0x81 PE, 0x82 PA, 0x83 MK, 0x84 DB), data
    block, byte offset, bit (Bit kind only), the element kind in `width` ("Bit", "Byte", ...,
    "Real", or one of `EXTRA_KINDS`: "String", "LReal", "DTL", ...), the number of elements
    (`count` > 1: an array, its value a list) and a STRING's length (0 for other kinds)."""

    protocol: ClassVar[str] = "S7"

    area: int
    db: int
    offset: int
    bit: int
    width: str
    count: int = 1
    length: int = 0

    @property
    def size(self) -> int:
        """Bytes the value occupies (bits: the bytes that hold them)."""
        return span(self.width, self.count, self.length, self.bit)

    @property
    def type(self) -> Type:
        return make_type(_AREA_OF_CODE[self.area], self.width)

    def __str__(self) -> str:
        extra = self.width in EXTRA_KINDS or self.count > 1
        kind = self.width if extra else ""
        length = self.length or STRING_MAX
        return format_address(self.db, self.offset, self.bit, self.type, kind, self.count, length)


@functools.lru_cache(maxsize=65536)
def s7_address(
    t: Type,
    db: int,
    offset: int,
    bit: int,
    kind: str = "",
    count: int = 1,
    length: int = STRING_MAX,
) -> S7Address:
    """The S7Address of a variable's type, DB, offset and bit, and its element kind (""
    for the width of `t`), count and STRING length (one shared instance each: hosts ask for
    it on every poll)."""
    width = kind or width_of(t)
    return S7Address(
        AREA_CODES[area_of(t)],
        db,
        offset,
        bit if width == "Bit" else 0,
        width,
        count,
        length if width == "String" else 0,
    )
