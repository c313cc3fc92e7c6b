"""The IEC 104 facts a point is built from: its address, its type ids and what each holds.

Kept apart from `IEC104Point` (point.py) so the tables that say which information object
and which range belong to a type id, and the command message handlers see, can be read
(and imported by the server and client modules) without the point's life cycle.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar

from ...protocols.iec104 import elements as el
from ...protocols.iec104.cp56 import Cp56Time
from ...protocols.iec104.types import TypeId
from ..link.address import PeerAddress

__all__ = [
    "COMMANDS",
    "KIND",
    "MAX_IOA",
    "MONITORING",
    "STATUS",
    "TIMED",
    "UNTIMED",
    "Iec104Address",
    "Iec104Message",
    "PointType",
    "check_groups",
    "cp56_of",
    "ms_of",
    "value_of",
]

#: Information object addresses are 3 bytes.
MAX_IOA = 0xFFFFFF


@dataclass(frozen=True, slots=True)
class Iec104Address(PeerAddress):
    """An information object of a station: common address and information object address."""

    protocol: ClassVar[str] = "IEC 104"
    common_address: int
    ioa: int

    def __str__(self) -> str:
        return f"CA {self.common_address} IOA {self.ioa}"


#: Per type id: the information object class and the kind of value (see `_VALUE`).
KIND: dict[int, tuple[type, str]] = {
    1: (el.SinglePoint, "bool"),
    30: (el.SinglePoint, "bool"),
    3: (el.DoublePoint, "double"),
    31: (el.DoublePoint, "double"),
    5: (el.StepPosition, "step"),
    32: (el.StepPosition, "step"),
    7: (el.Bitstring, "bits"),
    33: (el.Bitstring, "bits"),
    9: (el.NormalizedValue, "normalized"),
    34: (el.NormalizedValue, "normalized"),
    11: (el.ScaledValue, "scaled"),
    35: (el.ScaledValue, "scaled"),
    13: (el.FloatValue, "float"),
    36: (el.FloatValue, "float"),
    15: (el.IntegratedTotal, "counter"),
    37: (el.IntegratedTotal, "counter"),
    45: (el.SingleCommand, "bool"),
    58: (el.SingleCommand, "bool"),
    46: (el.DoubleCommand, "dcs"),
    59: (el.DoubleCommand, "dcs"),
    47: (el.StepCommand, "rcs"),
    60: (el.StepCommand, "rcs"),
    48: (el.SetpointNormalized, "normalized"),
    61: (el.SetpointNormalized, "normalized"),
    49: (el.SetpointScaled, "scaled"),
    62: (el.SetpointScaled, "scaled"),
    50: (el.SetpointFloat, "float"),
    63: (el.SetpointFloat, "float"),
    51: (el.BitstringCommand, "bits"),
    64: (el.BitstringCommand, "bits"),
}


#: The type ids a point may have (iec104.md's table: CP56 forms, no CP24 forms), named as
#: the protocol names them: the keys of KIND.
PointType = enum.IntEnum(  # type: ignore[misc]
    "PointType", [(TypeId(t).name, t) for t in sorted(KIND)], module=__name__
)
PointType.__doc__ = "The type ids a point may have (iec104.md's table: CP56 forms, no CP24 forms)."
#: Monitoring type ids of points, and command type ids.
MONITORING = frozenset(t for t in KIND if t < 45)
COMMANDS = frozenset(t for t in KIND if t >= 45)
#: Types whose events a station never lets measured values push out (status points).
STATUS = frozenset((1, 3, 5, 7, 30, 31, 32, 33))
#: Types that carry a CP56 time tag.
TIMED = frozenset((30, 31, 32, 33, 34, 35, 36, 37, 58, 59, 60, 61, 62, 63, 64))
#: A timed type's form without the tag (interrogation answers), and the command forms.
UNTIMED = {30: 1, 31: 3, 32: 5, 33: 7, 34: 9, 35: 11, 36: 13, 37: 15}
UNTIMED.update({58: 45, 59: 46, 60: 47, 61: 48, 62: 49, 63: 50, 64: 51})


def value_of(kind: str, value: Any) -> Any:
    """`value` as the element of `kind` holds it; ValueError/TypeError say why not."""
    if value is None:
        raise ValueError("no value")
    if kind == "bool":
        if isinstance(value, bool) or (type(value) is int and value in (0, 1)):
            return bool(value)
        raise TypeError(f"expects true or false, got {value!r}")
    if isinstance(value, bool):
        value = int(value)
    if kind in ("normalized", "float"):
        if not isinstance(value, (int, float)):
            raise TypeError(f"expects a number, got {value!r}")
        value = float(value)
        if kind == "normalized" and not (math.isfinite(value) and -1.0 <= value <= 1.0):
            raise ValueError(f"a normalised value is -1.0 .. +1.0, not {value}")
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise TypeError(f"expects an integer, got {value!r}")
    low, high = _RANGE[kind]
    if not low <= value <= high:
        raise ValueError(f"expects {low}..{high}, got {value}")
    return value


_RANGE = {
    "double": (0, 3),
    "dcs": (0, 3),
    "rcs": (0, 3),
    "step": (-64, 63),
    "bits": (0, 0xFFFFFFFF),
    "scaled": (-32768, 32767),
    "counter": (-(2**31), 2**31 - 1),
}


def cp56_of(ms: int) -> Cp56Time:
    """The CP56Time2a tag (UTC, as lib60870 writes it) of a time in ms since the epoch."""
    return Cp56Time.from_datetime(datetime.fromtimestamp(ms / 1000.0, timezone.utc))


def ms_of(tag: Any) -> int:
    """A time tag as ms since the epoch (0 if it is no real date)."""
    try:
        return int(tag.to_datetime(timezone.utc).timestamp() * 1000)
    except Exception:  # an impossible date on the wire is not a reason to drop the value
        return 0


class Iec104Message:
    """A command (or an unexpected ASDU) as handlers see it: `received(message)` on a point,
    `unexpectedMessage(message, cause)` on a server. A `received` handler refuses the command
    with `message.refuse("why")`; a command nobody refuses is confirmed."""

    __slots__ = (
        "typeId",
        "cause",
        "commonAddress",
        "originatorAddress",
        "ioa",
        "value",
        "isSelect",
        "qualifier",
        "time",
        "isTest",
        "isNegative",
        "peer",
        "raw",
        "accepted",
        "reason",
        "info",
    )

    def __init__(
        self,
        *,
        typeId: int | None = None,
        cause: int | None = None,
        commonAddress: int | None = None,
        originatorAddress: int | None = None,
        ioa: int | None = None,
        value: Any = None,
        isSelect: bool | None = None,
        qualifier: int | None = None,
        time: Any = None,
        isTest: bool | None = None,
        isNegative: bool | None = None,
        peer: str | None = None,
        raw: bytes | None = None,
        accepted: bool = True,
        reason: str = "",
        info: Any = None,
    ) -> None:
        # written out, not a loop over the slots: one message per command a station takes
        self.typeId, self.cause, self.commonAddress = typeId, cause, commonAddress
        self.originatorAddress, self.ioa, self.value = originatorAddress, ioa, value
        self.isSelect, self.qualifier, self.time = isSelect, qualifier, time
        self.isTest, self.isNegative, self.peer, self.raw = isTest, isNegative, peer, raw
        self.accepted, self.reason, self.info = accepted, reason, info

    def refuse(self, reason: str = "") -> None:
        """Answer the command with a negative confirmation (P/N set)."""
        self.accepted = False
        self.reason = reason or "refused by a handler"

    def __repr__(self) -> str:
        kind = "select" if self.isSelect else "execute"
        return (
            f"<Iec104Message type {self.typeId} cause {self.cause} CA {self.commonAddress} "
            f"IOA {self.ioa} {kind} value {self.value!r} from {self.peer}>"
        )


def check_groups(groups: Any) -> None:
    """A list of interrogation groups 1..16"""
    for g in groups:
        if isinstance(g, bool) or not isinstance(g, int) or not 1 <= g <= 16:
            raise ValueError(f"interrogation groups are 1..16, got {g!r}")
