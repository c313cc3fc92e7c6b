"""ISO 8073 class 0 TPDUs as used by ISO-on-TCP (RFC 1006) and S7.

Only what S7 peers exchange is supported: CR, CC, DT, DR and DC.  Connection
parameters are TLVs; the known ones are decoded into fields and unknown ones
are skipped by their length, as the standard requires.
"""

from __future__ import annotations

import struct

import attrs

from ..errors import CotpError

__all__ = [
    "CR",
    "CC",
    "DT",
    "DR",
    "DC",
    "PARAM_TPDU_SIZE",
    "PARAM_CALLING_TSAP",
    "PARAM_CALLED_TSAP",
    "PARAM_SUBNET_ID",
    "PARAM_ROUTING_TSAP",
    "ConnectionRequest",
    "ConnectionConfirm",
    "DataTransfer",
    "DisconnectRequest",
    "DisconnectConfirm",
    "Tpdu",
    "decode_tpdu",
    "tsap",
    "tsap_to_int",
    "tpdu_size_code",
    "tpdu_size_bytes",
    "DtReassembler",
]

CR = 0xE0
CC = 0xD0
DT = 0xF0
DR = 0x80
DC = 0xC0
EOT = 0x80

PARAM_TPDU_SIZE = 0xC0
PARAM_CALLING_TSAP = 0xC1
PARAM_CALLED_TSAP = 0xC2
#: S7 routing extras, laid out as python-snap7's `set_routing` sends them.
PARAM_SUBNET_ID = 0xC6
PARAM_ROUTING_TSAP = 0xC7

_CONN_HEAD = struct.Struct(">BBHHB")  # LI, code, dst-ref, src-ref, class/option
_DISC_HEAD = struct.Struct(">BBHH")  # LI, code, dst-ref, src-ref
_WORD = struct.Struct(">H")
_DT_HEADER = bytes((2, DT, EOT))
_DT_HEADER_MORE = bytes((2, DT, 0))


def tsap(value: int | bytes | str) -> bytes:
    """Normalise a TSAP: ints become the usual 2 bytes, text is ASCII-encoded."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("ascii")
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"TSAP {value!r} does not fit 2 bytes")
    return _WORD.pack(value)


def tsap_to_int(value: bytes | None) -> int | None:
    """The numeric form of a 2-byte TSAP, `None` for text or absent TSAPs."""
    if value is None or len(value) != 2:
        return None
    return int(_WORD.unpack(value)[0])


def tpdu_size_code(size: int) -> int:
    """Exponent code (0x07..0x0D) for a TPDU size in bytes (128..8192)."""
    code = size.bit_length() - 1
    if size != 1 << code or not 7 <= code <= 13:
        raise ValueError(f"TPDU size {size} is not a power of two between 128 and 8192")
    return code


def tpdu_size_bytes(code: int) -> int:
    """TPDU size in bytes for an exponent code."""
    if not 7 <= code <= 13:
        raise CotpError(f"TPDU size code 0x{code:02X} outside 0x07..0x0D")
    return 1 << code


def _optional_bytes(value: int | bytes | str | None) -> bytes | None:
    return None if value is None else tsap(value)


@attrs.frozen
class _Connection:
    """Shared shape of CR and CC: references, class and known parameters."""

    src_ref: int = 0x0001
    dst_ref: int = 0x0000
    class_option: int = 0x00
    tpdu_size: int | None = None  # exponent code as on the wire (0x0A = 1024 bytes)
    calling_tsap: bytes | None = attrs.field(default=None, converter=_optional_bytes)
    called_tsap: bytes | None = attrs.field(default=None, converter=_optional_bytes)
    subnet_id: int | None = None
    routing_tsap: int | None = None

    CODE = 0

    def encode(self) -> bytes:
        params = bytearray()
        # python-snap7 order: C1, C2, C0, then routing extras (peers accept any order).
        for code, value in (
            (PARAM_CALLING_TSAP, self.calling_tsap),
            (PARAM_CALLED_TSAP, self.called_tsap),
        ):
            if value is not None:
                if len(value) > 0xFF:
                    raise CotpError("TSAP longer than 255 bytes")
                params += bytes((code, len(value))) + value
        if self.tpdu_size is not None:
            params += bytes((PARAM_TPDU_SIZE, 1, self.tpdu_size))
        if self.subnet_id is not None:
            params += bytes((PARAM_SUBNET_ID, 2)) + _WORD.pack(self.subnet_id)
        if self.routing_tsap is not None:
            params += bytes((PARAM_ROUTING_TSAP, 2)) + _WORD.pack(self.routing_tsap)
        li = 6 + len(params)
        if li > 0xFE:
            raise CotpError("connection TPDU header too long")
        return (
            _CONN_HEAD.pack(li, self.CODE, self.dst_ref, self.src_ref, self.class_option) + params
        )

    @property
    def tpdu_bytes(self) -> int | None:
        """Negotiated TPDU size in bytes, if the parameter was present."""
        return None if self.tpdu_size is None else tpdu_size_bytes(self.tpdu_size)


@attrs.frozen
class ConnectionRequest(_Connection):
    """CR: the client's first TPDU, naming both TSAPs and a TPDU size."""

    CODE = CR


@attrs.frozen
class ConnectionConfirm(_Connection):
    """CC: the server's acceptance; `dst_ref` echoes the client's `src_ref`."""

    CODE = CC


@attrs.frozen
class DataTransfer:
    """DT: one fragment of an S7 PDU; `eot` marks the last fragment."""

    data: bytes
    eot: bool = True

    def encode(self) -> bytes:
        return (_DT_HEADER if self.eot else _DT_HEADER_MORE) + self.data


@attrs.frozen
class DisconnectRequest:
    """DR: orderly release (reason 0x00 normal, 0x80 normal, others are errors)."""

    dst_ref: int = 0
    src_ref: int = 0
    reason: int = 0

    def encode(self) -> bytes:
        return _DISC_HEAD.pack(6, DR, self.dst_ref, self.src_ref) + bytes((self.reason,))


@attrs.frozen
class DisconnectConfirm:
    """DC: answer to a DR."""

    dst_ref: int = 0
    src_ref: int = 0

    def encode(self) -> bytes:
        return _DISC_HEAD.pack(5, DC, self.dst_ref, self.src_ref)


Tpdu = ConnectionRequest | ConnectionConfirm | DataTransfer | DisconnectRequest | DisconnectConfirm


def _decode_connection(data: bytes, li: int, cls: type[_Connection]) -> _Connection:
    if li < 6:
        raise CotpError(f"connection TPDU LI {li} is below 6")
    _, _, dst_ref, src_ref, class_option = _CONN_HEAD.unpack_from(data)
    fields: dict[str, object] = {}
    pos, end = 7, li + 1
    while pos < end:
        if pos + 2 > end:
            raise CotpError("truncated COTP parameter header")
        code, length = data[pos], data[pos + 1]
        value = data[pos + 2 : pos + 2 + length]
        if pos + 2 + length > end:
            raise CotpError(f"COTP parameter 0x{code:02X} runs past the header")
        if code == PARAM_TPDU_SIZE and length == 1:
            fields["tpdu_size"] = value[0]
        elif code == PARAM_CALLING_TSAP:
            fields["calling_tsap"] = bytes(value)
        elif code == PARAM_CALLED_TSAP:
            fields["called_tsap"] = bytes(value)
        elif code == PARAM_SUBNET_ID and length == 2:
            fields["subnet_id"] = _WORD.unpack(value)[0]
        elif code == PARAM_ROUTING_TSAP and length == 2:
            fields["routing_tsap"] = _WORD.unpack(value)[0]
        pos += 2 + length  # unknown parameters are skipped by length
    return cls(src_ref=src_ref, dst_ref=dst_ref, class_option=class_option, **fields)  # type: ignore[arg-type]


def decode_tpdu(data: bytes) -> Tpdu:
    """Decode one TPDU (a TPKT payload)."""
    if len(data) < 2:
        raise CotpError("COTP TPDU shorter than 2 bytes")
    li = data[0]
    if li == 0xFF or li + 1 > len(data):
        raise CotpError(f"COTP length indicator {li} exceeds the {len(data)}-byte TPDU")
    code = data[1] & 0xF0 if data[1] & 0xF0 in (CR, CC) else data[1]
    if code == DT:
        if li < 2:
            raise CotpError(f"DT length indicator {li} is below 2")
        return DataTransfer(bytes(data[li + 1 :]), bool(data[2] & EOT))
    if code == CR:
        return _decode_connection(data, li, ConnectionRequest)  # type: ignore[return-value]
    if code == CC:
        return _decode_connection(data, li, ConnectionConfirm)  # type: ignore[return-value]
    if code == DR:
        if li < 6:
            raise CotpError(f"DR length indicator {li} is below 6")
        _, _, dst_ref, src_ref = _DISC_HEAD.unpack_from(data)
        return DisconnectRequest(dst_ref, src_ref, data[6])
    if code == DC:
        if li < 5:
            raise CotpError(f"DC length indicator {li} is below 5")
        _, _, dst_ref, src_ref = _DISC_HEAD.unpack_from(data)
        return DisconnectConfirm(dst_ref, src_ref)
    raise CotpError(f"unsupported COTP TPDU code 0x{data[1]:02X}")


class DtReassembler:
    """Joins DT fragments until EOT, refusing to grow past `max_size` bytes."""

    __slots__ = ("_parts", "_size", "max_size")

    def __init__(self, max_size: int = 1 << 16) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self.max_size = max_size

    @property
    def pending(self) -> int:
        """Bytes held from fragments without EOT."""
        return self._size

    def feed(self, tpdu: DataTransfer) -> bytes | None:
        """Add one fragment; return the whole PDU once EOT arrives."""
        self._size += len(tpdu.data)
        if self._size > self.max_size:
            self._parts.clear()
            self._size = 0
            raise CotpError(f"reassembled DT data exceeds {self.max_size} bytes")
        if not tpdu.eot:
            self._parts.append(tpdu.data)
            return None
        if not self._parts:
            self._size = 0
            return tpdu.data
        self._parts.append(tpdu.data)
        whole = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        return whole
