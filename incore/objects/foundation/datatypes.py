"""InCore's DataType enum and the value check each type implies for `DataObject.data`.

A declared data type makes `data` hold values of one Python type (an integer type also
checks its range), so a value from a PLC, a binding or a restored file compares equal to the
same value written by hand and `dataChanged` fires only on real change. `None` (no value) is
accepted by every type; Invalid accepts anything.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import Any


class DataType(enum.IntEnum):
    """The type of a DataObject's data (InCore's DataObject.DataType)."""

    Invalid = 0
    Boolean = 1
    Date = 2
    Time = 3
    DateTime = 4
    Float = 5
    Double = 6
    SignedInteger = 7
    UnsignedInteger = 8
    SignedBigInteger = 9
    UnsignedBigInteger = 10
    String = 11
    StringList = 12
    SignedSmallInteger = 13
    UnsignedSmallInteger = 14


#: (minimum, maximum) of the integer types: Small = 16 bit, Integer = 32 bit, Big = 64 bit.
INTEGER_RANGES = {
    DataType.SignedSmallInteger: (-(1 << 15), (1 << 15) - 1),
    DataType.UnsignedSmallInteger: (0, (1 << 16) - 1),
    DataType.SignedInteger: (-(1 << 31), (1 << 31) - 1),
    DataType.UnsignedInteger: (0, (1 << 32) - 1),
    DataType.SignedBigInteger: (-(1 << 63), (1 << 63) - 1),
    DataType.UnsignedBigInteger: (0, (1 << 64) - 1),
}


class _Fail(Exception):
    """Internal: the value does not fit; `expected` says what would."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _boolean(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise _Fail("a bool (true or false)")


def _number(v: Any) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    raise _Fail("a number")


def _string(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return str(v).lower() if isinstance(v, bool) else str(v)
    raise _Fail("a string")


def _string_list(v: Any) -> list:
    if isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v):
        return list(v)
    raise _Fail("a list of strings")


def _date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            pass
    raise _Fail("a date (YYYY-MM-DD)")


def _time(v: Any) -> dt.time:
    if isinstance(v, dt.time):
        return v
    if isinstance(v, str):
        try:
            return dt.time.fromisoformat(v)
        except ValueError:
            pass
    raise _Fail("a time (HH:MM:SS)")


def _datetime(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, str):
        try:
            return dt.datetime.fromisoformat(v)
        except ValueError:
            pass
    raise _Fail("a date and time (YYYY-MM-DDTHH:MM:SS)")


def _integer(data_type: DataType) -> Callable[[Any], int]:
    low, high = INTEGER_RANGES[data_type]

    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _Fail("an integer")
        if isinstance(v, float):
            if not v.is_integer():
                raise _Fail("an integer")
            v = int(v)
        if not low <= v <= high:
            raise _Fail(f"an integer in {low}..{high}")
        return int(v)

    return check


_CHECKS: dict[DataType, Callable[[Any], Any]] = {
    DataType.Boolean: _boolean,
    DataType.Float: _number,
    DataType.Double: _number,
    DataType.String: _string,
    DataType.StringList: _string_list,
    DataType.Date: _date,
    DataType.Time: _time,
    DataType.DateTime: _datetime,
    **{t: _integer(t) for t in INTEGER_RANGES},
}


def coerce(data_type: DataType, value: Any, qualname: str = "data") -> Any:
    """`value` as data of `data_type`; TypeError/ValueError naming `qualname` if it does not fit."""
    check = _CHECKS.get(data_type)
    if check is None or value is None:
        return value
    try:
        return check(value)
    except _Fail as exc:
        got = f"{type(value).__name__} {value!r}"
        error = ValueError if "integer in" in exc.expected else TypeError
        raise error(
            f"{qualname} expects {exc.expected} (dataType {data_type.name}), got {got}"
        ) from None
