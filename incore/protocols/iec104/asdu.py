"""The ASDU: a 6-byte header (type, VSQ, COT, originator, common address) and its
information objects, in the fixed 104 sizes (COT 2, CA 2, IOA 3 bytes).

`decode_asdu` reads the bytes an `AsduReceived` event carries; `encode_asdu` writes what
`Iec104Link.send_pdu` sends. Both raise only `AsduError` (and its `UnknownTypeError`).
`mirror_bytes` answers an ASDU (an actcon, an actterm) without decoding and encoding it
again, and `negative_mirror` refuses one, which is exactly what an unknown type id needs.
`pack_objects` splits many objects into ASDUs that fit, in the sequence form where
addresses run on.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from .codecs import CODECS
from .errors import AsduError, UnknownTypeError

__all__ = [
    "MAX_ASDU_SIZE",
    "MAX_OBJECTS",
    "Asdu",
    "decode_asdu",
    "encode_asdu",
    "mirror",
    "mirror_bytes",
    "negative_mirror",
    "pack_objects",
]

#: 253 (the largest APDU length) minus the 4 control octets.
MAX_ASDU_SIZE = 249
#: VSQ's 7-bit count.
MAX_OBJECTS = 127
HEADER_SIZE = 6
_HEADER = struct.Struct("<BBBBH")
_MAX_IOA = 0xFFFFFF


class Asdu(NamedTuple):
    """One ASDU. `objects` are information objects (see `elements`) of the class the type
    id's codec names; `cause` is the COT's 6-bit cause (`Cause`), `negative` its P/N bit,
    `test` its T bit; `sequence` is VSQ's SQ (one IOA, then elements for IOA, IOA+1, ...)."""

    type_id: int
    cause: int
    common_address: int
    objects: Sequence[Any]
    originator: int = 0
    negative: bool = False
    test: bool = False
    sequence: bool = False


def _header(asdu: Asdu, count: int) -> bytes:
    cause = asdu.cause
    if not 0 <= cause <= 63:
        raise AsduError(f"cause of transmission {cause} is outside 0..63")
    cot = cause | (0x40 if asdu.negative else 0) | (0x80 if asdu.test else 0)
    try:
        return _HEADER.pack(
            asdu.type_id,
            count | (0x80 if asdu.sequence else 0),
            cot,
            asdu.originator,
            asdu.common_address,
        )
    except struct.error as exc:
        raise AsduError(f"ASDU header field out of range: {exc}") from None


def encode_asdu(asdu: Asdu) -> bytes:
    """The bytes of `asdu`; `AsduError` if a field does not fit or the ASDU is too big."""
    codec = CODECS.get(asdu.type_id)
    if codec is None:
        raise UnknownTypeError(asdu.type_id)
    objects = asdu.objects
    count = len(objects)
    if not 1 <= count <= MAX_OBJECTS:
        raise AsduError(f"an ASDU carries 1..{MAX_OBJECTS} objects, not {count}")
    encode = codec.encode
    try:
        if asdu.sequence:
            first = objects[0].ioa
            for offset, obj in enumerate(objects):
                if obj.ioa != first + offset:
                    raise AsduError("sequence form needs consecutive addresses")
            parts = [first.to_bytes(3, "little")]
            parts += [encode(obj) for obj in objects]
            if first + count - 1 > _MAX_IOA:
                raise AsduError("sequence runs past the largest address")
        else:
            parts = []
            for obj in objects:
                parts.append(obj.ioa.to_bytes(3, "little"))
                parts.append(encode(obj))
    except (struct.error, OverflowError, ValueError, TypeError, AttributeError) as exc:
        raise AsduError(f"cannot encode {type(objects[0]).__name__}: {exc}") from None
    body = b"".join(parts)
    if HEADER_SIZE + len(body) > MAX_ASDU_SIZE:
        raise AsduError(f"ASDU of {HEADER_SIZE + len(body)} bytes exceeds {MAX_ASDU_SIZE}")
    return _header(asdu, count) + body


def decode_asdu(data: bytes | bytearray | memoryview) -> Asdu:
    """The ASDU in `data` (exactly one, as an I-frame carries it)."""
    size = len(data)
    if size < HEADER_SIZE + 3:
        raise AsduError(f"an ASDU of {size} bytes is shorter than header and address")
    type_id, vsq, cot, originator, ca = _HEADER.unpack_from(data)
    codec = CODECS.get(type_id)
    if codec is None:
        raise UnknownTypeError(type_id)
    count = vsq & 0x7F
    sequence = bool(vsq & 0x80)
    if count == 0:
        raise AsduError("ASDU with no information object")
    element = codec.size
    expected = HEADER_SIZE + (3 + element * count if sequence else (3 + element) * count)
    if size != expected:
        raise AsduError(f"type {type_id} with {count} objects needs {expected} bytes, got {size}")
    decode = codec.decode
    if sequence:
        first = data[6] | (data[7] << 8) | (data[8] << 16)
        if first + count - 1 > _MAX_IOA:
            raise AsduError("sequence runs past the largest address")
        objects = [decode(first + i, data, 9 + i * element) for i in range(count)]
    else:
        objects = []
        pos = HEADER_SIZE
        step = 3 + element
        for _ in range(count):
            ioa = data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16)
            objects.append(decode(ioa, data, pos + 3))
            pos += step
    return Asdu(
        type_id,
        cot & 0x3F,
        ca,
        tuple(objects),
        originator,
        bool(cot & 0x40),
        bool(cot & 0x80),
        sequence,
    )


def mirror(asdu: Asdu, cause: int, negative: bool = False) -> Asdu:
    """The answer that repeats `asdu` with another cause (actcon, actterm, deactcon...)."""
    return asdu._replace(cause=cause, negative=negative)


def mirror_bytes(data: bytes | bytearray | memoryview, cause: int, negative: bool = False) -> bytes:
    """`encode_asdu(mirror(decode_asdu(data), cause, negative))` without decoding: the
    received ASDU bytes sent back with `cause` and P/N as given, the T bit kept (an actcon
    or actterm of a command, once per command, or an answer to a type this codec does not
    know)."""
    if len(data) < HEADER_SIZE:
        raise AsduError(f"an ASDU of {len(data)} bytes has no whole header")
    out = bytearray(data)
    out[2] = (cause & 0x3F) | (0x40 if negative else 0) | (out[2] & 0x80)
    return bytes(out)


def negative_mirror(data: bytes | bytearray | memoryview, cause: int) -> bytes:
    """The received ASDU bytes sent back with `cause` and P/N set (COT 44..47, or a
    refused actcon), the T bit kept; works for type ids this codec does not know."""
    return mirror_bytes(data, cause, negative=True)


def pack_objects(
    type_id: int,
    cause: int,
    common_address: int,
    objects: Iterable[Any],
    *,
    originator: int = 0,
    test: bool = False,
) -> list[Asdu]:
    """`objects` in as few ASDUs as fit, each in the sequence form where its addresses are
    consecutive (and the type is a monitoring type), in the order given."""
    codec = CODECS.get(type_id)
    if codec is None:
        raise UnknownTypeError(type_id)
    element = codec.size
    may_sequence = type_id < 45
    room = MAX_ASDU_SIZE - HEADER_SIZE
    out: list[Asdu] = []
    batch: list[Any] = []
    contiguous = True

    def flush() -> None:
        if batch:
            seq = may_sequence and contiguous and len(batch) > 1
            out.append(
                Asdu(type_id, cause, common_address, tuple(batch), originator, False, test, seq)
            )

    for obj in objects:
        if batch:
            run_on = contiguous and obj.ioa == batch[-1].ioa + 1
            used_seq = 3 + element * (len(batch) + 1)
            used_list = (3 + element) * (len(batch) + 1)
            fits = (used_seq if may_sequence and run_on else used_list) <= room
            if not fits or len(batch) == MAX_OBJECTS:
                flush()
                batch, contiguous = [obj], True
                continue
            contiguous = run_on
        batch.append(obj)
    flush()
    return out
