"""Information objects: one small immutable tuple per object of an ASDU, address first.

One class serves a type with and without time tag (`SinglePoint` is M_SP_NA_1, M_SP_TA_1
and M_SP_TB_1); the ASDU's type id says which form goes on the wire, and `time` is
ignored by a form without one. Values are plain Python values (`bool`, `int`, `float`);
`quality` is the byte's flag bits as an int (`Quality`, or `CounterQuality` for
counters). These are `NamedTuple`s because a server may build thousands a second.
"""

from __future__ import annotations

from typing import NamedTuple

from .cp56 import Cp24Time, Cp56Time

__all__ = [
    "Bitstring",
    "BitstringCommand",
    "ClockSync",
    "CounterInterrogation",
    "DelayAcquisition",
    "DoubleCommand",
    "DoublePoint",
    "EndOfInitialization",
    "FloatValue",
    "InformationObject",
    "IntegratedTotal",
    "Interrogation",
    "NormalizedValue",
    "PackedSinglePoints",
    "ReadCommand",
    "ResetProcess",
    "ScaledValue",
    "SetpointFloat",
    "SetpointNormalized",
    "SetpointScaled",
    "SingleCommand",
    "SinglePoint",
    "StepCommand",
    "StepPosition",
    "TestCommand",
    "TimeTag",
]

TimeTag = Cp56Time | Cp24Time | None


# --- monitoring direction -------------------------------------------------------------


class SinglePoint(NamedTuple):
    """M_SP_NA_1 / TA / TB: a single point (SIQ) with its quality flags."""

    ioa: int
    value: bool
    quality: int = 0
    time: TimeTag = None


class DoublePoint(NamedTuple):
    """M_DP_NA_1 / TA / TB: a double point, `value` a DPI 0..3 (`DoublePointValue`)."""

    ioa: int
    value: int
    quality: int = 0
    time: TimeTag = None


class StepPosition(NamedTuple):
    """M_ST_NA_1 / TA / TB: a step position -64..63 (VTI), `transient` while moving."""

    ioa: int
    value: int
    transient: bool = False
    quality: int = 0
    time: TimeTag = None


class Bitstring(NamedTuple):
    """M_BO_NA_1 / TA / TB: 32 bits (BSI) as an unsigned int."""

    ioa: int
    value: int
    quality: int = 0
    time: TimeTag = None


class NormalizedValue(NamedTuple):
    """M_ME_NA_1 / TA / TD and M_ME_ND_1 (no quality): a normalised value -1.0 .. 1-2^-15."""

    ioa: int
    value: float
    quality: int = 0
    time: TimeTag = None


class ScaledValue(NamedTuple):
    """M_ME_NB_1 / TB / TE: a scaled value, int16."""

    ioa: int
    value: int
    quality: int = 0
    time: TimeTag = None


class FloatValue(NamedTuple):
    """M_ME_NC_1 / TC / TF: a short floating-point value (IEEE single)."""

    ioa: int
    value: float
    quality: int = 0
    time: TimeTag = None


class IntegratedTotal(NamedTuple):
    """M_IT_NA_1 / TA / TB: a counter reading (BCR): int32, sequence number 0..31 and
    `CounterQuality` flags (CY, CA, IV)."""

    ioa: int
    value: int
    sequence: int = 0
    quality: int = 0
    time: TimeTag = None


class PackedSinglePoints(NamedTuple):
    """M_PS_NA_1: 16 single points (`status`) with their change bits (`changed`)."""

    ioa: int
    status: int
    changed: int = 0
    quality: int = 0
    time: TimeTag = None


class EndOfInitialization(NamedTuple):
    """M_EI_NA_1: the station (re)started; `cause` 0 power on, 1 manual reset, 2 remote
    reset; `parameters_changed` is COI's bit 7."""

    ioa: int = 0
    cause: int = 0
    parameters_changed: bool = False


# --- control direction ----------------------------------------------------------------


class SingleCommand(NamedTuple):
    """C_SC_NA_1 / TA: switch ON (`value` True) or OFF; `select` is S/E (True = select),
    `qualifier` the QU (0 none, 1 short pulse, 2 long pulse, 3 persistent)."""

    ioa: int
    value: bool
    select: bool = False
    qualifier: int = 0
    time: TimeTag = None


class DoubleCommand(NamedTuple):
    """C_DC_NA_1 / TA: `value` a DCS (1 OFF, 2 ON); `select` and `qualifier` as SCO."""

    ioa: int
    value: int
    select: bool = False
    qualifier: int = 0
    time: TimeTag = None


class StepCommand(NamedTuple):
    """C_RC_NA_1 / TA: `value` an RCS (1 lower, 2 higher); `select` and `qualifier` as SCO."""

    ioa: int
    value: int
    select: bool = False
    qualifier: int = 0
    time: TimeTag = None


class SetpointNormalized(NamedTuple):
    """C_SE_NA_1 / TA: a normalised set-point; `select` is QOS's S/E, `qualifier` its QL."""

    ioa: int
    value: float
    select: bool = False
    qualifier: int = 0
    time: TimeTag = None


class SetpointScaled(NamedTuple):
    """C_SE_NB_1 / TB: a scaled (int16) set-point."""

    ioa: int
    value: int
    select: bool = False
    qualifier: int = 0
    time: TimeTag = None


class SetpointFloat(NamedTuple):
    """C_SE_NC_1 / TC: a short floating-point set-point."""

    ioa: int
    value: float
    select: bool = False
    qualifier: int = 0
    time: TimeTag = None


class BitstringCommand(NamedTuple):
    """C_BO_NA_1 / TA: 32 bits to write (no select, no qualifier)."""

    ioa: int
    value: int
    time: TimeTag = None


class Interrogation(NamedTuple):
    """C_IC_NA_1: `qoi` 20 for the station, 21..36 for groups 1..16 (see `qoi_group`)."""

    ioa: int = 0
    qoi: int = 20


class CounterInterrogation(NamedTuple):
    """C_CI_NA_1: `request` (RQT) 1..4 a group, 5 general; `freeze` (FRZ) 0 read,
    1 freeze, 2 freeze and reset, 3 reset."""

    ioa: int = 0
    request: int = 5
    freeze: int = 0


class ReadCommand(NamedTuple):
    """C_RD_NA_1: read the object at `ioa` (no element)."""

    ioa: int


class ClockSync(NamedTuple):
    """C_CS_NA_1: set the clock to `time`."""

    ioa: int
    time: Cp56Time


class ResetProcess(NamedTuple):
    """C_RP_NA_1: reset the process; `qrp` 1 general reset, 2 reset pending time-tagged
    events."""

    ioa: int = 0
    qrp: int = 1


class DelayAcquisition(NamedTuple):
    """C_CD_NA_1: the delay `milliseconds` (CP16Time2a) for clock synchronisation in 101."""

    ioa: int
    milliseconds: int


class TestCommand(NamedTuple):
    """C_TS_TA_1: test with a test sequence `counter` (TSC) and a time tag."""

    __test__ = False  # not a pytest class, whatever its name

    ioa: int
    counter: int
    time: Cp56Time


InformationObject = (
    SinglePoint
    | DoublePoint
    | StepPosition
    | Bitstring
    | NormalizedValue
    | ScaledValue
    | FloatValue
    | IntegratedTotal
    | PackedSinglePoints
    | EndOfInitialization
    | SingleCommand
    | DoubleCommand
    | StepCommand
    | SetpointNormalized
    | SetpointScaled
    | SetpointFloat
    | BitstringCommand
    | Interrogation
    | CounterInterrogation
    | ReadCommand
    | ClockSync
    | ResetProcess
    | DelayAcquisition
    | TestCommand
)
