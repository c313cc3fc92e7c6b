"""S7 clock encodings: the 10-byte clock record and its 8-byte variants.

The CPU clock travels as `00, century, DATE_AND_TIME` where DATE_AND_TIME is
the 8-byte BCD type (year, month, day, hour, minute, second, ms, weekday).
python-snap7 before 3.3 used an 8-byte `00 YY MM DD hh mm ss dow` record
instead; `decode_clock` reads both, `encode_clock` writes either.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import PduError

__all__ = [
    "encode_date_and_time",
    "decode_date_and_time",
    "encode_clock",
    "decode_clock",
    "encode_legacy_clock",
    "decode_legacy_clock",
    "s7_weekday",
    "CLOCK_SIZE",
    "LEGACY_CLOCK_SIZE",
]

CLOCK_SIZE = 10
LEGACY_CLOCK_SIZE = 8


def _bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


def _unbcd(byte: int) -> int:
    hi, lo = byte >> 4, byte & 0x0F
    if hi > 9 or lo > 9:
        raise PduError(f"0x{byte:02X} is not a BCD byte")
    return hi * 10 + lo


def s7_weekday(moment: datetime) -> int:
    """Siemens weekday numbering: 1 = Sunday ... 7 = Saturday."""
    return moment.isoweekday() % 7 + 1


def _year(two_digits: int) -> int:
    return 2000 + two_digits if two_digits < 90 else 1900 + two_digits


def _check_year(moment: datetime) -> None:
    if not 1990 <= moment.year <= 2089:
        raise ValueError(f"S7 clocks cover 1990..2089, not {moment.year}")


def _bcd_fields(moment: datetime) -> bytes:
    """Year (two digits), month, day, hour, minute and second as six BCD bytes."""
    fields = (moment.year % 100, moment.month, moment.day, moment.hour, moment.minute)
    return bytes(_bcd(v) for v in (*fields, moment.second))


def _from_bcd_fields(raw: bytes, first: int, microsecond: int = 0) -> datetime:
    """The moment whose six BCD fields (as `_bcd_fields` writes them) start at `raw[first]`."""
    year, month, day, hour, minute, second = (_unbcd(b) for b in raw[first : first + 6])
    try:
        return datetime(_year(year), month, day, hour, minute, second, microsecond)
    except ValueError as exc:
        raise PduError(f"invalid S7 timestamp: {exc}") from None


def encode_date_and_time(moment: datetime) -> bytes:
    """8-byte BCD DATE_AND_TIME (as in SZL records and inside the clock record)."""
    _check_year(moment)
    ms = moment.microsecond // 1000
    return _bcd_fields(moment) + bytes((_bcd(ms // 10), ((ms % 10) << 4) | s7_weekday(moment)))


def decode_date_and_time(raw: bytes) -> datetime:
    """Inverse of `encode_date_and_time`; the weekday nibble is ignored."""
    if len(raw) < 8:
        raise PduError("DATE_AND_TIME needs 8 bytes")
    ms_units = raw[7] >> 4
    if ms_units > 9:
        raise PduError("DATE_AND_TIME milliseconds are not BCD")
    return _from_bcd_fields(raw, 0, (_unbcd(raw[6]) * 10 + ms_units) * 1000)


def encode_clock(moment: datetime, *, century: int | None = None) -> bytes:
    """10-byte clock record.  `century` overrides byte 1: snap7 clients send
    0x19 when setting the clock, CPUs answer with the real century (0x19/0x20)."""
    _check_year(moment)
    high = century if century is not None else _bcd(moment.year // 100)
    return bytes((0x00, high)) + encode_date_and_time(moment)


def decode_clock(raw: bytes) -> datetime:
    """Read a 10-byte clock record, or python-snap7's legacy 8-byte one."""
    if len(raw) == CLOCK_SIZE:
        return decode_date_and_time(raw[2:])
    if len(raw) == LEGACY_CLOCK_SIZE:
        return decode_legacy_clock(raw)
    raise PduError(f"clock record of {len(raw)} bytes (expected 10, or 8 for the legacy layout)")


def encode_legacy_clock(moment: datetime) -> bytes:
    """python-snap7 < 3.3 layout: `00 YY MM DD hh mm ss dow` with dow 1 = Monday."""
    _check_year(moment)
    return b"\x00" + _bcd_fields(moment) + bytes((moment.isoweekday(),))


def decode_legacy_clock(raw: bytes) -> datetime:
    if len(raw) != LEGACY_CLOCK_SIZE:
        raise PduError("legacy clock record needs 8 bytes")
    return _from_bcd_fields(raw, 1)
