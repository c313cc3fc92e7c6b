"""One exception hierarchy for every sans-IO protocol engine.

Transports catch `ProtocolError` to decide "drop this connection" without
knowing which layer complained; the subclasses say where the bytes went wrong.
"""

from __future__ import annotations

__all__ = [
    "ProtocolError",
    "FramingError",
    "TpktError",
    "CotpError",
    "SessionError",
    "PduError",
    "S7Error",
    "AreaError",
]


class ProtocolError(Exception):
    """Base of all errors raised while encoding or decoding protocol bytes."""


class FramingError(ProtocolError):
    """Bytes that cannot be split into frames (the stream is unusable)."""


class TpktError(FramingError):
    """Bad RFC 1006 header: wrong version or impossible length."""


class CotpError(FramingError):
    """Malformed or unsupported ISO 8073 TPDU."""


class SessionError(ProtocolError):
    """A well-formed TPDU that is not allowed in the current session state."""


class PduError(ProtocolError):
    """Malformed S7 PDU (header, parameter or data part)."""


class S7Error(ProtocolError):
    """A failed S7 client operation, numbered like snap7's client errors.

    `code` is the snap7 client error number (see
    `incore.protocols.s7.constants.ClientError`), `text` its snap7 text
    and `detail` optional context such as the area and offset involved.
    """

    def __init__(self, code: int, text: str, detail: str = "") -> None:
        self.code = int(code)
        self.text = text
        self.detail = detail
        super().__init__(f"{text} ({detail})" if detail else text)


class AreaError(Exception):
    """Raised by an area store to refuse an access with an S7 item return code.

    Not a protocol error: the server engine turns it into a per-item return code
    (`0x0A` object does not exist, `0x05` address out of range, ...).
    """

    def __init__(self, return_code: int, message: str = "") -> None:
        self.return_code = int(return_code)
        super().__init__(message or f"S7 item return code 0x{self.return_code:02X}")
