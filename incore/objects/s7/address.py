"""S7 address strings (`DB1.DBD4`, `I0.1`, `MW10:INT`) to area, DB, offset, bit and type.

The grammar is the one of STEP 7's absolute addresses, with both the English (I/Q) and the
German (E/A) mnemonics, and a `:TYPE` (or ` TYPE`) suffix choosing INT, DINT or REAL where
the width alone does not say it (a DBD may hold a DWORD, a DINT or a REAL). `S7Address` is
what an S7Variable's hosts see of it: the wire area code, DB, byte offset, bit and width.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from ...protocols.s7 import Area
from ..link.address import PeerAddress

#: The largest byte offset a request can name (its bit address is 24 bits: byte * 8 + bit).
MAX_BYTE_OFFSET = 0x1FFFFF
#: The largest data block number (16 bits).
MAX_DB = 0xFFFF


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


def area_of(t: Type) -> str:
    return AREAS[(t - 1) // 7]


def width_of(t: Type) -> str:
    return WIDTHS[(t - 1) % 7]


def make_type(area: str, width: str) -> Type:
    return Type(AREAS.index(area) * 7 + WIDTHS.index(width) + 1)


class Address(NamedTuple):
    db: int
    offset: int
    bit: int
    type: Type


class AddressError(ValueError):
    """An address string that does not follow the grammar."""


_AREA_LETTERS = {"I": "Input", "E": "Input", "Q": "Output", "A": "Output", "M": "Memory"}
_WIDTH_LETTERS = {"X": "Bit", "B": "Byte", "W": "Word", "D": "DWord", "": "Bit"}
_SUFFIX_WIDTHS = {  # (width from the letter, suffix) -> width
    ("Word", "INT"): "Int",
    ("DWord", "DINT"): "DInt",
    ("DWord", "REAL"): "Real",
    ("Word", "WORD"): "Word",
    ("DWord", "DWORD"): "DWord",
    ("Byte", "BYTE"): "Byte",
    ("Bit", "BOOL"): "Bit",
    ("Bit", "BIT"): "Bit",
}

_DB_RE = re.compile(r"DB(\d+)\.DB([XBWD])(\d+)(?:\.(\d+))?$")
_AREA_RE = re.compile(r"([IEQAM])([BWD]?)(\d+)(?:\.(\d+))?$")


def parse_address(text: str) -> Address:
    """Parse an address string; AddressError says what is wrong and what was expected."""
    raw = text.strip().upper()
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
            raise AddressError(
                f"'{text}' is not an S7 address (expected e.g. DB1.DBX0.3, DB1.DBW2, DB1.DBD4:REAL,"
                " I0.1, IB2, QW4, M0.0, MD8)"
            )
        area = _AREA_LETTERS[m[1]]
        db, letter, offset, bit = 0, m[2], int(m[3]), m[4]
    if offset > MAX_BYTE_OFFSET:
        raise AddressError(f"'{text}': byte offset must be 0..{MAX_BYTE_OFFSET}")
    if db > MAX_DB:
        raise AddressError(f"'{text}': DB number must be 0..{MAX_DB}")
    width = _WIDTH_LETTERS[letter]
    if width == "Bit":
        if bit is None:
            raise AddressError(f"'{text}': a bit address needs a bit number (e.g. .3)")
        if not 0 <= int(bit) <= 7:
            raise AddressError(f"'{text}': bit number must be 0..7")
    elif bit is not None:
        raise AddressError(f"'{text}': only bit addresses (X) take a bit number")
    if suffix:
        chosen = _SUFFIX_WIDTHS.get((width, suffix))
        if chosen is None:
            raise AddressError(f"'{text}': type {suffix} does not fit a {width} address")
        width = chosen
    return Address(db, offset, int(bit or 0), make_type(area, width))


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


def format_address(db: int, offset: int, bit: int, t: Type) -> str:
    """The canonical address string of a variable (inverse of parse_address)."""
    area, width = area_of(t), width_of(t)
    letter = {"Bit": "X", "Byte": "B", "Word": "W", "Int": "W"}.get(width, "D")
    suffix = {"Int": ":INT", "DInt": ":DINT", "Real": ":REAL"}.get(width, "")
    if area == "Data":
        head = f"DB{db}.DB{letter}{offset}"
    else:
        head = f"{area[0] if area != 'Output' else 'Q'}{'' if letter == 'X' else letter}{offset}"
    return head + (f".{bit}" if width == "Bit" else "") + suffix


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
    block, byte offset, bit (Bit width only) and width ("Bit", "Byte", ..., "Real")."""

    protocol: ClassVar[str] = "S7"

    area: int
    db: int
    offset: int
    bit: int
    width: str

    @property
    def size(self) -> int:
        """Bytes the value occupies (a Bit: the byte that holds it)."""
        return WIDTH_SIZE[self.width]

    @property
    def type(self) -> Type:
        return make_type(_AREA_OF_CODE[self.area], self.width)

    def __str__(self) -> str:
        return format_address(self.db, self.offset, self.bit, self.type)


@functools.lru_cache(maxsize=65536)
def s7_address(t: Type, db: int, offset: int, bit: int) -> S7Address:
    """The S7Address of a variable's type, DB, offset and bit (one shared instance each:
    hosts ask for it on every poll)."""
    width = width_of(t)
    return S7Address(AREA_CODES[area_of(t)], db, offset, bit if width == "Bit" else 0, width)
