"""explainBytes: one APDU in words (c104's explain_bytes), for logs and receiveRaw handlers."""

from __future__ import annotations

from ...protocols.errors import ProtocolError
from ...protocols.iec104 import Cause, IFrame, SFrame, TypeId, decode_asdu, decode_frame

__all__ = ["explain"]


def _name(enum_type: type, number: int) -> str:
    try:
        return enum_type(number).name
    except ValueError:
        return str(number)


def explain(apdu: bytes) -> str:
    """`apdu` (one whole frame) described, or why it cannot be read."""
    try:
        frame = decode_frame(apdu)
    except ProtocolError as exc:
        return f"not an APDU: {exc}"
    if isinstance(frame, SFrame):
        return f"S-frame N(R) {frame.nr}"
    if not isinstance(frame, IFrame):
        return f"U-frame {frame.function.name}"
    head = f"I-frame N(S) {frame.ns} N(R) {frame.nr}"
    try:
        asdu = decode_asdu(frame.asdu)
    except ProtocolError as exc:
        return f"{head}: {exc}"
    cause = _name(Cause, asdu.cause)
    if 21 <= asdu.cause <= 36:
        cause = f"INTERROGATED_BY_GROUP_{asdu.cause - 20}"
    flags = "".join(
        f" {flag}" for flag, on in (("negative", asdu.negative), ("test", asdu.test)) if on
    )
    objects = ", ".join(_object(o) for o in asdu.objects[:8])
    more = f" (+{len(asdu.objects) - 8} more)" if len(asdu.objects) > 8 else ""
    return (
        f"{head}: {_name(TypeId, asdu.type_id)} cause {cause}{flags} CA {asdu.common_address} "
        f"OA {asdu.originator}{' SQ' if asdu.sequence else ''}: {objects}{more}"
    )


def _object(obj: object) -> str:
    fields = obj._asdict()  # type: ignore[attr-defined]
    ioa = fields.pop("ioa")
    parts = [f"{k}={v!r}" for k, v in fields.items() if v not in (None, 0, False) or k == "value"]
    return f"IOA {ioa} " + " ".join(parts)
