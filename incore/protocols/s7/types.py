"""S7 data types as bytes: one element, or an array of them, to a Python value and back.

A PLC keeps each type in a fixed layout, and python-snap7's `snap7.util` getters and setters
are what most Python code compares against, so every type here gives the same bytes:

| kind | bytes | value |
|---|---|---|
| Bit | the byte that holds it | bool |
| Byte, Word, DWord / USInt, UInt, UDInt | 1, 2, 4 | unsigned int |
| SInt, Int, DInt | 1, 2, 4 | signed int |
| Real, LReal | 4, 8 | float (IEEE 754) |
| Char | 1 | a one-character str (Latin-1) |
| String | 2 + length: max length, actual length, chars padded with spaces | str |
| Time | 4, signed milliseconds | int (ms) |
| DateAndTime | 8, BCD (1990-2089, ms) | datetime |
| DTL | 12: year, month, day, weekday, hour, minute, second, nanoseconds | datetime |

TIME stays in milliseconds (an int binds, compares and stores as JSON, and is what the PLC
holds); a `timedelta` is accepted when writing. `big_endian=False` swaps the numeric scalars
only (a gateway that stores numbers the other way round); strings and dates keep their S7
layout. Bytes that can not be a value (a string longer than its buffer, a BCD digit above
9, a month 13) raise `S7ValueError`, which is both the protocol's error and a ValueError.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Sequence
from typing import Any

from ..errors import ProtocolError

__all__ = [
    "KINDS",
    "STRING_MAX",
    "S7ValueError",
    "element_size",
    "span",
    "decode",
    "encode",
    "decode_array",
    "encode_array",
]

#: The longest S7 STRING (its length bytes are one byte each; 255 is not allowed).
STRING_MAX = 254

_FIXED = {
    "Bit": 1,
    "Byte": 1,
    "Char": 1,
    "SInt": 1,
    "USInt": 1,
    "Word": 2,
    "Int": 2,
    "UInt": 2,
    "DWord": 4,
    "DInt": 4,
    "UDInt": 4,
    "Real": 4,
    "Time": 4,
    "LReal": 8,
    "DateAndTime": 8,
    "DTL": 12,
}
#: Every element kind this module knows.
KINDS = (*_FIXED, "String")

_NUMBERS = {
    "Byte": "B",
    "USInt": "B",
    "SInt": "b",
    "Word": "H",
    "UInt": "H",
    "Int": "h",
    "DWord": "I",
    "UDInt": "I",
    "DInt": "i",
    "Time": "i",
    "Real": "f",
    "LReal": "d",
}
_STRUCTS = {
    (kind, big): struct.Struct((">" if big else "<") + fmt)
    for kind, fmt in _NUMBERS.items()
    for big in (True, False)
}
_FLOATS = frozenset(("Real", "LReal"))
_DTL = struct.Struct(">HBBBBBBI")
#: DATE_AND_TIME's range (two BCD digits of year: 90-99 are 1990-1999, 00-89 2000-2089).
_DT_FIRST, _DT_LAST = dt.datetime(1990, 1, 1), dt.datetime(2089, 12, 31, 23, 59, 59, 999000)
#: DTL's range, as Siemens documents it (nanoseconds since 1970 in 64 bits).
_DTL_FIRST, _DTL_LAST = dt.datetime(1970, 1, 1), dt.datetime(2262, 4, 11, 23, 47, 16, 854775)


class S7ValueError(ProtocolError, ValueError):
    """Bytes from a peer that do not hold a value of the type (a ValueError as well, so a
    variable reports it as a read error)."""


def element_size(kind: str, length: int = STRING_MAX) -> int:
    """Bytes one element occupies (a STRING of `length` characters: `length` + 2)."""
    if kind == "String":
        return length + 2
    try:
        return _FIXED[kind]
    except KeyError:
        raise ValueError(f"unknown S7 type {kind!r}") from None


def span(kind: str, count: int = 1, length: int = STRING_MAX, bit: int = 0) -> int:
    """Bytes `count` elements occupy; bits are packed, from bit `bit` of the first byte."""
    if kind == "Bit":
        return (bit + count + 7) // 8
    return element_size(kind, length) * count


# -- one element ---------------------------------------------------------------------------
def decode(
    kind: str, data: bytes, big_endian: bool = True, bit: int = 0, length: int = STRING_MAX
) -> Any:
    """The value of one element whose bytes start `data` (for Bit: the byte holding `bit`)."""
    if kind == "Bit":
        return bool(data[0] >> bit & 1)
    size = element_size(kind, length)
    if len(data) < size:
        raise S7ValueError(f"{len(data)} bytes for a {kind} of {size}")
    codec = _STRUCTS.get((kind, big_endian))
    if codec is not None:
        return codec.unpack_from(data)[0]
    if kind == "Char":
        return chr(data[0])
    if kind == "String":
        return _decode_string(data, length)
    if kind == "DateAndTime":
        return _decode_dt(data)
    return _decode_dtl(data)


def encode(kind: str, value: Any, big_endian: bool = True, length: int = STRING_MAX) -> bytes:
    """The bytes of one element; TypeError/ValueError say why `value` does not fit. A Bit
    is one byte, 0x00 or 0x01 (stored into its bit by whoever writes it)."""
    if kind == "Bit":
        if not isinstance(value, (bool, int)) or isinstance(value, int) and value not in (0, 1):
            raise TypeError(f"a Bit takes true/false, got {value!r}")
        return b"\x01" if value else b"\x00"
    codec = _STRUCTS.get((kind, big_endian))
    if codec is not None:
        return _pack_number(kind, codec, value)
    if kind == "Char":
        if not isinstance(value, str) or len(value) != 1:
            raise TypeError(f"a Char takes one character, got {value!r}")
        return value.encode("latin-1")
    if kind == "String":
        return _encode_string(value, length)
    if kind == "DateAndTime":
        return _encode_dt(value)
    if kind == "DTL":
        return _encode_dtl(value)
    raise ValueError(f"unknown S7 type {kind!r}")


def _pack_number(kind: str, codec: struct.Struct, value: Any) -> bytes:
    if kind in _FLOATS:
        if isinstance(value, str):
            raise TypeError(f"a {kind} takes a number, got {value!r}")
        try:
            return codec.pack(float(value))
        except (TypeError, OverflowError):
            raise TypeError(f"a {kind} takes a number, got {value!r}") from None
    if kind == "Time" and isinstance(value, dt.timedelta):
        value = _milliseconds(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a {kind} takes an integer, got {value!r}")
    try:
        return codec.pack(value)
    except struct.error:
        low, high = _range(codec)
        raise ValueError(f"{value!r} does not fit a {kind} ({low}..{high})") from None


def _range(codec: struct.Struct) -> tuple[int, int]:
    bits = codec.size * 8
    if codec.format[-1].islower():
        return -(1 << bits - 1), (1 << bits - 1) - 1
    return 0, (1 << bits) - 1


def _milliseconds(value: dt.timedelta) -> int:
    micro = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    if micro % 1000:
        raise ValueError(f"a Time holds whole milliseconds, got {value!r}")
    return micro // 1000


# -- STRING --------------------------------------------------------------------------------
def _decode_string(data: bytes, length: int) -> str:
    declared, actual = data[0], data[1]
    if declared > STRING_MAX or actual > declared or actual > length:
        raise S7ValueError(
            f"a STRING header of max {declared}, actual {actual} does not fit {length} characters"
        )
    return data[2 : 2 + actual].decode("latin-1")


def _encode_string(value: Any, length: int) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"a String takes a str, got {value!r}")
    try:
        chars = value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{value!r} has characters a STRING can not hold (Latin-1)") from None
    if len(chars) > length:
        raise ValueError(f"{len(chars)} characters do not fit a STRING[{length}]")
    return bytes((length, len(chars))) + chars.ljust(length, b" ")


# -- DATE_AND_TIME (BCD) --------------------------------------------------------------------
def _bcd(byte: int) -> int:
    high, low = byte >> 4, byte & 0x0F
    if high > 9 or low > 9:
        raise S7ValueError(f"0x{byte:02X} is not a BCD number")
    return high * 10 + low


def _to_bcd(n: int) -> int:
    return (n // 10) << 4 | n % 10


def _decode_dt(data: bytes) -> dt.datetime:
    year = _bcd(data[0])
    fields = [_bcd(b) for b in data[1:7]]
    ms_last = data[7] >> 4
    if ms_last > 9:
        raise S7ValueError(f"0x{data[7]:02X} is not a BCD digit and a weekday")
    try:
        return dt.datetime(
            year + (1900 if year >= 90 else 2000),
            *fields[:5],
            (fields[5] * 10 + ms_last) * 1000,
        )
    except ValueError as exc:
        raise S7ValueError(f"DATE_AND_TIME {data[:8].hex(' ')}: {exc}") from None


def _datetime(value: Any, kind: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"a {kind} takes a datetime or an ISO text, got {value!r}") from None
    if not isinstance(value, dt.datetime):
        raise TypeError(f"a {kind} takes a datetime, got {value!r}")
    return value


def _weekday(value: dt.datetime) -> int:
    """S7's weekday: 1 = Sunday ... 7 = Saturday."""
    return value.isoweekday() % 7 + 1


def _encode_dt(value: Any) -> bytes:
    moment = _datetime(value, "DateAndTime")
    if not _DT_FIRST <= moment.replace(tzinfo=None) <= _DT_LAST:
        raise ValueError(f"{moment} is outside DATE_AND_TIME's years 1990..2089")
    ms = moment.microsecond // 1000
    head = (moment.year % 100, moment.month, moment.day, moment.hour, moment.minute)
    return bytes(
        (
            *(_to_bcd(n) for n in head),
            _to_bcd(moment.second),
            _to_bcd(ms // 10),
            (ms % 10) << 4 | _weekday(moment),
        )
    )


# -- DTL ---------------------------------------------------------------------------------------
def _decode_dtl(data: bytes) -> dt.datetime:
    year, month, day, _weekday_, hour, minute, second, nanos = _DTL.unpack_from(data)
    if nanos > 999_999_999:
        raise S7ValueError(f"DTL nanoseconds {nanos} are over a second")
    try:
        return dt.datetime(year, month, day, hour, minute, second, nanos // 1000)
    except ValueError as exc:
        raise S7ValueError(f"DTL {data[:12].hex(' ')}: {exc}") from None


def _encode_dtl(value: Any) -> bytes:
    moment = _datetime(value, "DTL")
    if not _DTL_FIRST <= moment.replace(tzinfo=None) <= _DTL_LAST:
        raise ValueError(f"{moment} is outside DTL's range {_DTL_FIRST}..{_DTL_LAST}")
    return _DTL.pack(
        moment.year,
        moment.month,
        moment.day,
        _weekday(moment),
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond * 1000,
    )


# -- arrays ------------------------------------------------------------------------------------
def decode_array(
    kind: str,
    data: bytes,
    count: int,
    big_endian: bool = True,
    bit: int = 0,
    length: int = STRING_MAX,
) -> list:
    """`count` elements laid out one after the other (bits: packed from `bit` on)."""
    if kind == "Bit":
        if len(data) < span("Bit", count, bit=bit):
            raise S7ValueError(f"{len(data)} bytes for {count} bits from bit {bit}")
        return [bool(data[(bit + i) >> 3] >> ((bit + i) & 7) & 1) for i in range(count)]
    size = element_size(kind, length)
    if len(data) < size * count:
        raise S7ValueError(f"{len(data)} bytes for {count} elements of {size}")
    return [
        decode(kind, data[i * size : (i + 1) * size], big_endian, 0, length) for i in range(count)
    ]


def encode_array(
    kind: str, values: Any, count: int, big_endian: bool = True, length: int = STRING_MAX
) -> bytes:
    """The bytes of `count` elements (a Bit array: one byte, 0 or 1, per bit); `values` is
    any sequence of exactly `count` values (a str for an array of Char)."""
    if (
        isinstance(values, (str, bytes, bytearray))
        and kind != "Char"
        or not isinstance(values, Sequence)
    ):
        raise TypeError(f"an array of {count} {kind} takes a list, got {values!r}")
    if len(values) != count:
        raise ValueError(f"an array of {count} {kind} takes {count} values, got {len(values)}")
    return b"".join(encode(kind, v, big_endian, length) for v in values)
