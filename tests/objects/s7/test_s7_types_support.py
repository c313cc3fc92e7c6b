"""The S7 types the client and server tests share: an address, a value, and the bytes
python-snap7's `snap7.util` setters write for that value (what every test compares to)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, NamedTuple

from snap7 import util


class Case(NamedTuple):
    address: str  # in DB1 (the server tests move it to DB2 for the other direction)
    value: Any
    offset: int
    size: int
    write: Callable[[bytearray, int], Any]  # snap7.util's setter(s), at a byte offset


def _each(setter: Callable, values: list, size: int) -> Callable[[bytearray, int], None]:
    def write(buf: bytearray, at: int) -> None:
        for i, v in enumerate(values):
            setter(buf, at + i * size, v)

    return write


MOMENT = dt.datetime(2024, 2, 29, 13, 14, 15, 678000)
MOMENT_1999 = dt.datetime(1999, 12, 31, 23, 59, 59, 999000)
DTLS = [dt.datetime(2262, 4, 11, 23, 47, 16, 854775), dt.datetime(1970, 1, 1, 0, 0, 0, 1)]

CASES = [
    Case("DB1.DBB0:STRING[10]", "héllo", 0, 12, lambda b, i: util.set_string(b, i, "héllo", 10)),
    Case("DB1,S20.8", "abc", 20, 10, lambda b, i: util.set_string(b, i, "abc", 8)),
    Case("DB1.DBB40:CHAR", "Z", 40, 1, lambda b, i: util.set_char(b, i, "Z")),
    Case("DB1,C42.3", ["a", "b", "ÿ"], 42, 3, _each(util.set_char, ["a", "b", "ÿ"], 1)),
    Case("DB1.DBB46:LREAL", -1.25e300, 46, 8, lambda b, i: util.set_lreal(b, i, -1.25e300)),
    Case("DB1,LR54", 2.5, 54, 8, lambda b, i: util.set_lreal(b, i, 2.5)),
    Case("DB1.DBB62:SINT", -100, 62, 1, lambda b, i: util.set_sint(b, i, -100)),
    Case("DB1.DBB63:USINT", 250, 63, 1, lambda b, i: util.set_usint(b, i, 250)),
    Case("DB1.DBW64:UINT", 65000, 64, 2, lambda b, i: util.set_uint(b, i, 65000)),
    Case("DB1.DBD66:UDINT", 4_000_000_000, 66, 4, lambda b, i: util.set_udint(b, i, 4000000000)),
    Case("DB1.DBD70:TIME", -90061001, 70, 4, lambda b, i: util.set_time(b, i, "-1:1:1:1.001")),
    Case("DB1.DBB74:DT", MOMENT, 74, 8, lambda b, i: util.set_dt(b, i, MOMENT)),
    Case("DB1,DT82", MOMENT_1999, 82, 8, lambda b, i: util.set_dt(b, i, MOMENT_1999)),
    Case("DB1.DBB90:DTL", DTLS[0], 90, 12, lambda b, i: util.set_dtl(b, i, DTLS[0])),
    Case("DB1.DBW102:INT[4]", [-1, 2, -3, 4], 102, 8, _each(util.set_int, [-1, 2, -3, 4], 2)),
    Case("DB1,REAL110.3", [1.5, -2.0, 0.25], 110, 12, _each(util.set_real, [1.5, -2.0, 0.25], 4)),
    Case(
        "DB1.DBB122:STRING[4][2]",
        ["ab", "wxyz"],
        122,
        12,
        lambda b, i: (util.set_string(b, i, "ab", 4), util.set_string(b, i + 6, "wxyz", 4)),
    ),
    Case("DB1.DBB134:DTL[2]", DTLS, 134, 24, _each(util.set_dtl, DTLS, 12)),
]


def expected_bytes(case: Case) -> bytes:
    buf = bytearray(case.offset + case.size)
    case.write(buf, case.offset)
    return bytes(buf[case.offset :])
