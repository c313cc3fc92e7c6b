"""S7 PDU header, Setup Communication and Userdata framing.

A PDU is header + parameter part + data part; the header carries both part
lengths, so decoding checks that they add up to exactly the bytes received.
"""

from __future__ import annotations

import struct

import attrs

from ..errors import PduError
from .constants import PROTOCOL_ID, Function, Rosctr

__all__ = [
    "S7Pdu",
    "decode_pdu",
    "peek_pdu_ref",
    "SetupCommunication",
    "encode_setup",
    "decode_setup",
    "UserdataParams",
    "UserdataData",
    "USERDATA_REQUEST_TYPE",
    "USERDATA_RESPONSE_TYPE",
]

_HEADER10 = struct.Struct(">BBHHHH")
_HEADER12 = struct.Struct(">BBHHHHH")
_SETUP = struct.Struct(">BBHHH")
_UD_HEAD = struct.Struct(">BBBBBBBB")
_UD_TAIL = struct.Struct(">BBH")
_UD_DATA = struct.Struct(">BBH")

USERDATA_REQUEST_TYPE = 0x4
USERDATA_RESPONSE_TYPE = 0x8


@attrs.frozen
class S7Pdu:
    """One S7 PDU; `error` (class << 8 | code) exists only for Ack and Ack_Data."""

    rosctr: int
    pdu_ref: int
    params: bytes = b""
    data: bytes = b""
    error: int = 0

    @property
    def has_error_field(self) -> bool:
        return self.rosctr in (Rosctr.ACK, Rosctr.ACK_DATA)

    @property
    def function(self) -> int | None:
        """First parameter byte, or `None` without parameters."""
        return self.params[0] if self.params else None

    def encode(self) -> bytes:
        if len(self.params) > 0xFFFF or len(self.data) > 0xFFFF:
            raise PduError("S7 parameter or data part longer than 65535 bytes")
        if self.has_error_field:
            head = _HEADER12.pack(
                PROTOCOL_ID,
                self.rosctr,
                0,
                self.pdu_ref,
                len(self.params),
                len(self.data),
                self.error,
            )
        else:
            head = _HEADER10.pack(
                PROTOCOL_ID, self.rosctr, 0, self.pdu_ref, len(self.params), len(self.data)
            )
        return head + self.params + self.data

    def __len__(self) -> int:
        return (12 if self.has_error_field else 10) + len(self.params) + len(self.data)


def peek_pdu_ref(raw: bytes) -> int | None:
    """PDU reference of a raw PDU without validating the rest."""
    return int.from_bytes(raw[4:6], "big") if len(raw) >= 6 else None


def decode_pdu(raw: bytes) -> S7Pdu:
    """Decode and length-check one PDU."""
    if len(raw) < 10:
        raise PduError(f"S7 PDU of {len(raw)} bytes is shorter than a header")
    proto, rosctr, _redundancy, ref, plen, dlen = _HEADER10.unpack_from(raw)
    if proto != PROTOCOL_ID:
        raise PduError(f"protocol id 0x{proto:02X} is not S7 (0x32)")
    if rosctr in (Rosctr.ACK, Rosctr.ACK_DATA):
        if len(raw) < 12:
            raise PduError("Ack header shorter than 12 bytes")
        error = int.from_bytes(raw[10:12], "big")
        head = 12
    elif rosctr in (Rosctr.JOB, Rosctr.USERDATA):
        error, head = 0, 10
    else:
        raise PduError(f"unknown ROSCTR 0x{rosctr:02X}")
    if head + plen + dlen != len(raw):
        raise PduError(f"header announces {head + plen + dlen} bytes, PDU has {len(raw)}")
    return S7Pdu(rosctr, ref, bytes(raw[head : head + plen]), bytes(raw[head + plen :]), error)


@attrs.frozen
class SetupCommunication:
    """Parameters of function 0xF0, identical in job and reply."""

    max_amq_calling: int = 1
    max_amq_called: int = 1
    pdu_length: int = 480


def encode_setup(setup: SetupCommunication) -> bytes:
    return _SETUP.pack(
        Function.SETUP_COMMUNICATION,
        0,
        setup.max_amq_calling,
        setup.max_amq_called,
        setup.pdu_length,
    )


def decode_setup(params: bytes) -> SetupCommunication:
    if len(params) < 8 or params[0] != Function.SETUP_COMMUNICATION:
        raise PduError("malformed Setup Communication parameters")
    _, _, calling, called, length = _SETUP.unpack_from(params)
    return SetupCommunication(calling, called, length)


@attrs.frozen
class UserdataParams:
    """Userdata parameter part: 8 bytes in requests, 12 in responses/follow-ups.

    `last_data_unit` is 0 for the last (or only) fragment and 1 when more
    follow; `error` is the response's error word (e.g. 0xD402).
    """

    method: int
    kind: int  # high nibble: 4 request, 8 response, 0 push
    group: int
    subfunction: int
    sequence: int = 0
    data_unit_ref: int = 0
    last_data_unit: int = 0
    error: int = 0
    long_form: bool = False

    def encode(self) -> bytes:
        plen = 8 if self.long_form else 4
        head = _UD_HEAD.pack(
            0x00,
            0x01,
            0x12,
            plen,
            self.method,
            (self.kind << 4) | (self.group & 0x0F),
            self.subfunction,
            self.sequence,
        )
        if not self.long_form:
            return head
        return head + _UD_TAIL.pack(self.data_unit_ref, self.last_data_unit, self.error)

    @classmethod
    def decode(cls, params: bytes) -> UserdataParams:
        if len(params) < 8 or params[0:3] != b"\x00\x01\x12":
            raise PduError("malformed userdata parameter head")
        plen = params[3]
        if plen + 4 != len(params) or plen not in (4, 8):
            raise PduError(f"userdata parameter length {plen} does not match {len(params) - 4}")
        method, type_group, sub, seq = params[4], params[5], params[6], params[7]
        if plen == 4:
            return cls(method, type_group >> 4, type_group & 0x0F, sub, seq)
        ref, last, err = _UD_TAIL.unpack_from(params, 8)
        return cls(method, type_group >> 4, type_group & 0x0F, sub, seq, ref, last, err, True)


@attrs.frozen
class UserdataData:
    """Userdata data part: return code, transport size, byte length, payload."""

    return_code: int = 0xFF
    transport_size: int = 0x09
    payload: bytes = b""

    def encode(self) -> bytes:
        return (
            _UD_DATA.pack(self.return_code, self.transport_size, len(self.payload)) + self.payload
        )

    @classmethod
    def decode(cls, data: bytes) -> UserdataData:
        if len(data) < 4:
            raise PduError("userdata data part shorter than 4 bytes")
        ret, ts, length = _UD_DATA.unpack_from(data)
        if 4 + length > len(data):
            raise PduError(f"userdata data claims {length} bytes, has {len(data) - 4}")
        return cls(ret, ts, bytes(data[4 : 4 + length]))

    @classmethod
    def null_ack(cls) -> UserdataData:
        """The `0A 00 00 00` answer of services that return nothing."""
        return cls(0x0A, 0x00, b"")
