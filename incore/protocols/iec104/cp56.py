"""Time tags: CP56Time2a (7 bytes, a full date), CP24Time2a (3 bytes, within the hour) and
CP16Time2a (2 bytes, a delay in milliseconds).

A time tag is kept as its fields, not as a `datetime`: a peer may send a date that does
not exist (day 0, month 13), and decoding must not fail on it; `Cp56Time.to_datetime`
is where such a tag is refused. Years are two digits on the wire, read as 2000..2099.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from .errors import AsduError

__all__ = ["Cp24Time", "Cp56Time", "pack_cp24", "pack_cp56", "unpack_cp24", "unpack_cp56"]


class Cp56Time(NamedTuple):
    """A CP56Time2a time tag, field by field as on the wire.

    `milliseconds` counts within the minute (0..59999); `weekday` is 1 = Monday .. 7 =
    Sunday or 0 (not used); `year` is 0..99. `invalid` (IV), `summer` (SU) and
    `substituted` (the bit lib60870 uses in the minute byte) are the flags.
    """

    milliseconds: int
    minute: int
    hour: int
    day: int
    month: int
    year: int
    weekday: int = 0
    summer: bool = False
    invalid: bool = False
    substituted: bool = False

    @classmethod
    def from_datetime(
        cls, moment: datetime, *, invalid: bool = False, summer: bool = False
    ) -> Cp56Time:
        """The tag of `moment` as it reads (an aware `moment` is not converted: pass it in
        the zone the project agreed on, usually UTC)."""
        return cls(
            moment.second * 1000 + moment.microsecond // 1000,
            moment.minute,
            moment.hour,
            moment.day,
            moment.month,
            moment.year % 100,
            moment.isoweekday(),
            summer,
            invalid,
        )

    def to_datetime(self, tz: timezone | None = timezone.utc) -> datetime:
        """The tag as a `datetime` in `tz` (None: naive); `AsduError` if no such date."""
        try:
            base = datetime(
                2000 + self.year, self.month, self.day, self.hour, self.minute, tzinfo=tz
            )
        except ValueError as exc:
            raise AsduError(f"CP56Time2a {tuple(self)} is no date: {exc}") from None
        if self.milliseconds > 59999:
            raise AsduError(f"CP56Time2a milliseconds {self.milliseconds} exceed 59999")
        return base + timedelta(milliseconds=self.milliseconds)


class Cp24Time(NamedTuple):
    """A CP24Time2a time tag: milliseconds within the minute and the minute of the hour."""

    milliseconds: int
    minute: int
    invalid: bool = False
    substituted: bool = False


def pack_cp56(t: Cp56Time) -> bytes:
    """The 7 bytes of a CP56Time2a tag; `AsduError` for a field out of its bits."""
    ms, minute, hour, day, month, year, weekday, summer, invalid, substituted = t
    if (
        not 0 <= ms <= 0xFFFF
        or not 0 <= minute <= 59
        or not 0 <= hour <= 23
        or not 0 <= day <= 31
        or not 0 <= month <= 12
        or not 0 <= year <= 99
        or not 0 <= weekday <= 7
    ):
        raise AsduError(f"CP56Time2a fields out of range: {tuple(t)}")
    return bytes(
        (
            ms & 0xFF,
            ms >> 8,
            minute | (0x80 if invalid else 0) | (0x40 if substituted else 0),
            hour | (0x80 if summer else 0),
            day | (weekday << 5),
            month,
            year,
        )
    )


def unpack_cp56(data: bytes | bytearray | memoryview, pos: int = 0) -> Cp56Time:
    """The tag in the 7 bytes at `pos` (reserved bits ignored; never raises on values)."""
    b2, b3, b4 = data[pos + 2], data[pos + 3], data[pos + 4]
    return Cp56Time(
        data[pos] | (data[pos + 1] << 8),
        b2 & 0x3F,
        b3 & 0x1F,
        b4 & 0x1F,
        data[pos + 5] & 0x0F,
        data[pos + 6] & 0x7F,
        b4 >> 5,
        bool(b3 & 0x80),
        bool(b2 & 0x80),
        bool(b2 & 0x40),
    )


def pack_cp24(t: Cp24Time) -> bytes:
    """The 3 bytes of a CP24Time2a tag."""
    ms, minute, invalid, substituted = t
    if not 0 <= ms <= 0xFFFF or not 0 <= minute <= 59:
        raise AsduError(f"CP24Time2a fields out of range: {tuple(t)}")
    return bytes(
        (ms & 0xFF, ms >> 8, minute | (0x80 if invalid else 0) | (0x40 if substituted else 0))
    )


def unpack_cp24(data: bytes | bytearray | memoryview, pos: int = 0) -> Cp24Time:
    """The tag in the 3 bytes at `pos`."""
    b2 = data[pos + 2]
    return Cp24Time(data[pos] | (data[pos + 1] << 8), b2 & 0x3F, bool(b2 & 0x80), bool(b2 & 0x40))
