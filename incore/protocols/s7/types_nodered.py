"""Node-RED's S7 address strings (node-red-contrib-s7, after nodes7): `DB1,REAL0`, `MR4`.

A flow's addresses can be pasted into an app as they are. The grammar is
`DB<n>,<TYPE><offset>` with, after the offset, `.<bit>` for X, `.<length>` for S (STRING)
and `.<count>` for an array (`DB1,REAL0.10`: ten REALs; `DB1,X0.1.8`: eight bits from bit
0.1; `DB1,S10.20.3`: three STRING[20]). Outside data blocks the area letter comes first
(`MR4`, `II2`, `QDI8.3`); the forms that are STEP 7's too (`I0.1`, `MW10`, `IB2`) are read
by the STEP 7 grammar. DTZ and DTLZ (the same bytes, read as UTC by Node-RED) read as DT and
DTL. Besides Node-RED's types, SINT, USINT, UINT, UDINT and TIME are accepted by name.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .types import STRING_MAX

__all__ = ["NodeRedAddress", "parse_nodered", "nodered_area_form", "NODERED_KINDS"]

#: Node-RED's type names and the element kind each is (types.py's kinds).
NODERED_KINDS = {
    **dict.fromkeys(("X",), "Bit"),
    **dict.fromkeys(("B", "BYTE"), "Byte"),
    **dict.fromkeys(("C", "CHAR"), "Char"),
    **dict.fromkeys(("S", "STRING"), "String"),
    **dict.fromkeys(("I", "INT"), "Int"),
    **dict.fromkeys(("DI", "DINT"), "DInt"),
    **dict.fromkeys(("W", "WORD"), "Word"),
    **dict.fromkeys(("D", "DW", "DWORD"), "DWord"),
    **dict.fromkeys(("R", "REAL"), "Real"),
    **dict.fromkeys(("LR", "DOUBLE", "LREAL"), "LReal"),
    **dict.fromkeys(("DT", "DTZ"), "DateAndTime"),
    **dict.fromkeys(("DTL", "DTLZ"), "DTL"),
    "SINT": "SInt",
    "USINT": "USInt",
    "UINT": "UInt",
    "UDINT": "UDInt",
    "TIME": "Time",
}
_AREAS = {"I": "Input", "E": "Input", "Q": "Output", "A": "Output", "M": "Memory"}
_DB_RE = re.compile(r"DB(\d+),([A-Z]+)(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
# Only I, Q and M: "AI1" or "ER2" are far more often names (analog input 1) than addresses.
_AREA_RE = re.compile(r"([IQM])(DI|DW|LR|[CIR])(\d+)(?:\.(\d+))?$")


class NodeRedAddress(NamedTuple):
    """A parsed Node-RED address (`area` is "Data", "Input", "Output" or "Memory")."""

    area: str
    db: int
    offset: int
    bit: int
    kind: str
    count: int
    length: int


def nodered_area_form(text: str) -> bool:
    """Whether `text` is one of Node-RED's area forms that STEP 7 does not have (`MR4`)."""
    return _AREA_RE.match(text.strip().upper()) is not None


def parse_nodered(text: str) -> NodeRedAddress:
    """Parse a Node-RED address; ValueError says what is wrong."""
    raw = text.strip().upper().replace(" ", "")
    m = _DB_RE.match(raw)
    if m:
        kind = NODERED_KINDS.get(m[2])
        if kind is None:
            raise ValueError(
                f"'{text}': unknown Node-RED type {m[2]} (X, B, C, S, I, DI, W, DW, R, LR, DT, "
                f"DTL, or SINT, USINT, UINT, UDINT, TIME)"
            )
        return _address(text, "Data", int(m[1]), kind, int(m[3]), m[4], m[5])
    m = _AREA_RE.match(raw)
    if m:
        return _address(text, _AREAS[m[1]], 0, NODERED_KINDS[m[2]], int(m[3]), m[4], None)
    raise ValueError(f"'{text}' is not a Node-RED address (e.g. DB1,REAL0, DB1,S10.20, MR4)")


def _address(
    text: str, area: str, db: int, kind: str, offset: int, first: str | None, second: str | None
) -> NodeRedAddress:
    bit, count, length = 0, 1, STRING_MAX
    if kind == "Bit":
        if first is None or int(first) > 7:
            raise ValueError(f"'{text}': a bit address needs a bit number 0..7 (e.g. X0.3)")
        bit = int(first)
        count = int(second) if second is not None else 1
    elif kind == "String":
        if first is None:
            raise ValueError(f"'{text}': a STRING needs its length (e.g. S10.20)")
        length = int(first)
        count = int(second) if second is not None else 1
    elif second is not None:
        raise ValueError(f"'{text}': only X and S take two numbers after the offset")
    elif first is not None:
        count = int(first)
    return NodeRedAddress(area, db, offset, bit, kind, count, length)
