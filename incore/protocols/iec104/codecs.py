"""The element codec of every type id: its size, how to pack one object, how to read one.

Each type is a base element (SIQ, NVA+QDS, SCO, ...) plus an optional time tag, so the
table is built from one pair of functions per base element and a time kind (0, 24, 56)
per type id. Packing checks the ranges a wrong value would otherwise smear into a
neighbouring bit field; reading never fails (sizes are checked by the ASDU decoder).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from .cp56 import pack_cp24, pack_cp56, unpack_cp24, unpack_cp56
from .elements import (
    Bitstring,
    BitstringCommand,
    ClockSync,
    CounterInterrogation,
    DelayAcquisition,
    DoubleCommand,
    DoublePoint,
    EndOfInitialization,
    FloatValue,
    IntegratedTotal,
    Interrogation,
    NormalizedValue,
    PackedSinglePoints,
    ReadCommand,
    ResetProcess,
    ScaledValue,
    SetpointFloat,
    SetpointNormalized,
    SetpointScaled,
    SingleCommand,
    SinglePoint,
    StepCommand,
    StepPosition,
    TestCommand,
)
from .errors import AsduError

__all__ = ["CODECS", "Codec", "normalized_raw"]

Encode = Callable[[Any], bytes]
Decode = Callable[[int, bytes, int], Any]


class Codec(NamedTuple):
    """How one type id's information element goes on the wire (`size` excludes the IOA)."""

    cls: type
    size: int
    encode: Encode
    decode: Decode
    time_kind: int  # 0, 24 or 56


_B = struct.Struct("<B")
_HB = struct.Struct("<hB")
_FB = struct.Struct("<fB")
_IB = struct.Struct("<IB")
_iB = struct.Struct("<iB")
_HHB = struct.Struct("<HHB")
_h = struct.Struct("<h")
_I = struct.Struct("<I")
_H = struct.Struct("<H")


def normalized_raw(value: float) -> int:
    """NVA's int16 for a normalised value (-1.0 .. +1.0; +1.0 is clamped to 32767)."""
    raw = round(value * 32768.0)
    if raw == 32768:
        return 32767
    if not -32768 <= raw <= 32767:
        raise AsduError(f"normalised value {value} is outside -1.0 .. +1.0")
    return raw


def _small(value: int, top: int, what: str) -> int:
    if not 0 <= value <= top:
        raise AsduError(f"{what} {value} is outside 0..{top}")
    return value


def _command_byte(value: int, select: bool, qualifier: int) -> int:
    return value | (_small(qualifier, 31, "qualifier (QU)") << 2) | (0x80 if select else 0)


# Base elements: (size, encode(obj) -> bytes, decode(ioa, buf, pos, time) -> obj)


def _sp_e(o: SinglePoint) -> bytes:
    return bytes(((1 if o.value else 0) | (o.quality & 0xF0),))


def _sp_d(ioa: int, b: bytes, p: int, t: Any) -> SinglePoint:
    v = b[p]
    return SinglePoint(ioa, bool(v & 1), v & 0xF0, t)


def _dp_e(o: DoublePoint) -> bytes:
    return bytes((_small(o.value, 3, "DPI") | (o.quality & 0xF0),))


def _dp_d(ioa: int, b: bytes, p: int, t: Any) -> DoublePoint:
    v = b[p]
    return DoublePoint(ioa, v & 3, v & 0xF0, t)


def _st_e(o: StepPosition) -> bytes:
    if not -64 <= o.value <= 63:
        raise AsduError(f"step position {o.value} is outside -64..63")
    return bytes(((o.value & 0x7F) | (0x80 if o.transient else 0), o.quality & 0xF1))


def _st_d(ioa: int, b: bytes, p: int, t: Any) -> StepPosition:
    v = b[p] & 0x7F
    return StepPosition(ioa, v - 128 if v >= 64 else v, bool(b[p] & 0x80), b[p + 1] & 0xF1, t)


def _bo_e(o: Bitstring) -> bytes:
    return _IB.pack(o.value, o.quality & 0xF1)


def _bo_d(ioa: int, b: bytes, p: int, t: Any) -> Bitstring:
    value, q = _IB.unpack_from(b, p)
    return Bitstring(ioa, value, q & 0xF1, t)


def _na_e(o: NormalizedValue) -> bytes:
    return _HB.pack(normalized_raw(o.value), o.quality & 0xF1)


def _na_d(ioa: int, b: bytes, p: int, t: Any) -> NormalizedValue:
    raw, q = _HB.unpack_from(b, p)
    return NormalizedValue(ioa, raw / 32768.0, q & 0xF1, t)


def _nd_e(o: NormalizedValue) -> bytes:
    return _h.pack(normalized_raw(o.value))


def _nd_d(ioa: int, b: bytes, p: int, t: Any) -> NormalizedValue:
    return NormalizedValue(ioa, _h.unpack_from(b, p)[0] / 32768.0)


def _nb_e(o: ScaledValue) -> bytes:
    return _HB.pack(o.value, o.quality & 0xF1)


def _nb_d(ioa: int, b: bytes, p: int, t: Any) -> ScaledValue:
    value, q = _HB.unpack_from(b, p)
    return ScaledValue(ioa, value, q & 0xF1, t)


def _nc_e(o: FloatValue) -> bytes:
    return _FB.pack(o.value, o.quality & 0xF1)


def _nc_d(ioa: int, b: bytes, p: int, t: Any) -> FloatValue:
    value, q = _FB.unpack_from(b, p)
    return FloatValue(ioa, value, q & 0xF1, t)


def _it_e(o: IntegratedTotal) -> bytes:
    return _iB.pack(o.value, _small(o.sequence, 31, "counter sequence") | (o.quality & 0xE0))


def _it_d(ioa: int, b: bytes, p: int, t: Any) -> IntegratedTotal:
    value, q = _iB.unpack_from(b, p)
    return IntegratedTotal(ioa, value, q & 0x1F, q & 0xE0, t)


def _ps_e(o: PackedSinglePoints) -> bytes:
    return _HHB.pack(o.status, o.changed, o.quality & 0xF1)


def _ps_d(ioa: int, b: bytes, p: int, t: Any) -> PackedSinglePoints:
    status, changed, q = _HHB.unpack_from(b, p)
    return PackedSinglePoints(ioa, status, changed, q & 0xF1, t)


def _ei_e(o: EndOfInitialization) -> bytes:
    return bytes((_small(o.cause, 127, "COI cause") | (0x80 if o.parameters_changed else 0),))


def _ei_d(ioa: int, b: bytes, p: int, t: Any) -> EndOfInitialization:
    return EndOfInitialization(ioa, b[p] & 0x7F, bool(b[p] & 0x80))


def _sc_e(o: SingleCommand) -> bytes:
    return bytes((_command_byte(1 if o.value else 0, o.select, o.qualifier),))


def _sc_d(ioa: int, b: bytes, p: int, t: Any) -> SingleCommand:
    v = b[p]
    return SingleCommand(ioa, bool(v & 1), bool(v & 0x80), (v >> 2) & 0x1F, t)


def _dc_e(o: DoubleCommand | StepCommand) -> bytes:
    return bytes((_command_byte(_small(o.value, 3, "DCS/RCS"), o.select, o.qualifier),))


def _dc_d(ioa: int, b: bytes, p: int, t: Any) -> DoubleCommand:
    v = b[p]
    return DoubleCommand(ioa, v & 3, bool(v & 0x80), (v >> 2) & 0x1F, t)


def _rc_d(ioa: int, b: bytes, p: int, t: Any) -> StepCommand:
    v = b[p]
    return StepCommand(ioa, v & 3, bool(v & 0x80), (v >> 2) & 0x1F, t)


def _qos(o: Any) -> int:
    return _small(o.qualifier, 127, "qualifier (QL)") | (0x80 if o.select else 0)


def _sena_e(o: SetpointNormalized) -> bytes:
    return _HB.pack(normalized_raw(o.value), _qos(o))


def _sena_d(ioa: int, b: bytes, p: int, t: Any) -> SetpointNormalized:
    raw, q = _HB.unpack_from(b, p)
    return SetpointNormalized(ioa, raw / 32768.0, bool(q & 0x80), q & 0x7F, t)


def _senb_e(o: SetpointScaled) -> bytes:
    return _HB.pack(o.value, _qos(o))


def _senb_d(ioa: int, b: bytes, p: int, t: Any) -> SetpointScaled:
    value, q = _HB.unpack_from(b, p)
    return SetpointScaled(ioa, value, bool(q & 0x80), q & 0x7F, t)


def _senc_e(o: SetpointFloat) -> bytes:
    return _FB.pack(o.value, _qos(o))


def _senc_d(ioa: int, b: bytes, p: int, t: Any) -> SetpointFloat:
    value, q = _FB.unpack_from(b, p)
    return SetpointFloat(ioa, value, bool(q & 0x80), q & 0x7F, t)


def _bc_e(o: BitstringCommand) -> bytes:
    return _I.pack(o.value)


def _bc_d(ioa: int, b: bytes, p: int, t: Any) -> BitstringCommand:
    return BitstringCommand(ioa, _I.unpack_from(b, p)[0], t)


def _ic_e(o: Interrogation) -> bytes:
    return _B.pack(o.qoi)


def _ic_d(ioa: int, b: bytes, p: int, t: Any) -> Interrogation:
    return Interrogation(ioa, b[p])


def _ci_e(o: CounterInterrogation) -> bytes:
    return bytes((_small(o.request, 63, "RQT") | (_small(o.freeze, 3, "FRZ") << 6),))


def _ci_d(ioa: int, b: bytes, p: int, t: Any) -> CounterInterrogation:
    return CounterInterrogation(ioa, b[p] & 0x3F, b[p] >> 6)


def _rd_e(o: ReadCommand) -> bytes:
    return b""


def _rd_d(ioa: int, b: bytes, p: int, t: Any) -> ReadCommand:
    return ReadCommand(ioa)


def _cs_e(o: ClockSync) -> bytes:
    return b""  # the time tag is the whole element


def _cs_d(ioa: int, b: bytes, p: int, t: Any) -> ClockSync:
    return ClockSync(ioa, t)


def _rp_e(o: ResetProcess) -> bytes:
    return _B.pack(o.qrp)


def _rp_d(ioa: int, b: bytes, p: int, t: Any) -> ResetProcess:
    return ResetProcess(ioa, b[p])


def _cd_e(o: DelayAcquisition) -> bytes:
    return _H.pack(o.milliseconds)


def _cd_d(ioa: int, b: bytes, p: int, t: Any) -> DelayAcquisition:
    return DelayAcquisition(ioa, _H.unpack_from(b, p)[0])


def _ts_e(o: TestCommand) -> bytes:
    return _H.pack(o.counter)


def _ts_d(ioa: int, b: bytes, p: int, t: Any) -> TestCommand:
    return TestCommand(ioa, _H.unpack_from(b, p)[0], t)


def _codec(cls: type, size: int, enc: Callable, dec: Callable, time_kind: int) -> Codec:
    """Join a base element and a time kind into one type's codec."""
    if time_kind == 0:
        return Codec(cls, size, enc, lambda ioa, b, p: dec(ioa, b, p, None), 0)
    if time_kind == 56:

        def encode(o: Any) -> bytes:
            if o.time is None:
                raise AsduError(f"{cls.__name__} needs a CP56Time2a time tag for this type")
            return enc(o) + pack_cp56(o.time)

        def decode(ioa: int, b: bytes, p: int) -> Any:
            return dec(ioa, b, p, unpack_cp56(b, p + size))

        return Codec(cls, size + 7, encode, decode, 56)

    def encode24(o: Any) -> bytes:
        if o.time is None:
            raise AsduError(f"{cls.__name__} needs a CP24Time2a time tag for this type")
        return enc(o) + pack_cp24(o.time)

    def decode24(ioa: int, b: bytes, p: int) -> Any:
        return dec(ioa, b, p, unpack_cp24(b, p + size))

    return Codec(cls, size + 3, encode24, decode24, 24)


_BASE: dict[int, tuple[type, int, Callable, Callable, int]] = {}
for _ids, _base in (
    ((1, 2, 30), (SinglePoint, 1, _sp_e, _sp_d)),
    ((3, 4, 31), (DoublePoint, 1, _dp_e, _dp_d)),
    ((5, 6, 32), (StepPosition, 2, _st_e, _st_d)),
    ((7, 8, 33), (Bitstring, 5, _bo_e, _bo_d)),
    ((9, 10, 34), (NormalizedValue, 3, _na_e, _na_d)),
    ((11, 12, 35), (ScaledValue, 3, _nb_e, _nb_d)),
    ((13, 14, 36), (FloatValue, 5, _nc_e, _nc_d)),
    ((15, 16, 37), (IntegratedTotal, 5, _it_e, _it_d)),
    ((45, 0, 58), (SingleCommand, 1, _sc_e, _sc_d)),
    ((46, 0, 59), (DoubleCommand, 1, _dc_e, _dc_d)),
    ((47, 0, 60), (StepCommand, 1, _dc_e, _rc_d)),
    ((48, 0, 61), (SetpointNormalized, 3, _sena_e, _sena_d)),
    ((49, 0, 62), (SetpointScaled, 3, _senb_e, _senb_d)),
    ((50, 0, 63), (SetpointFloat, 5, _senc_e, _senc_d)),
    ((51, 0, 64), (BitstringCommand, 4, _bc_e, _bc_d)),
):
    for _id, _kind in zip(_ids, (0, 24, 56)):
        if _id:
            _BASE[_id] = (*_base, _kind)
_BASE.update(
    {
        20: (PackedSinglePoints, 5, _ps_e, _ps_d, 0),
        21: (NormalizedValue, 2, _nd_e, _nd_d, 0),
        70: (EndOfInitialization, 1, _ei_e, _ei_d, 0),
        100: (Interrogation, 1, _ic_e, _ic_d, 0),
        101: (CounterInterrogation, 1, _ci_e, _ci_d, 0),
        102: (ReadCommand, 0, _rd_e, _rd_d, 0),
        103: (ClockSync, 0, _cs_e, _cs_d, 56),
        105: (ResetProcess, 1, _rp_e, _rp_d, 0),
        106: (DelayAcquisition, 2, _cd_e, _cd_d, 0),
        107: (TestCommand, 2, _ts_e, _ts_d, 56),
    }
)

#: Type id -> its codec, for every type this package reads and writes.
CODECS: dict[int, Codec] = {tid: _codec(*base) for tid, base in sorted(_BASE.items())}
