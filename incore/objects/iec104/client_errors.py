"""What can go wrong on an IEC104Connection: its error numbers and exception types.

A failure either leaves the link as it is (`Iec104TimeoutError`: the station did not
confirm in time; `Iec104Refused`: it answered with a negative confirmation) or ends it
(`Iec104ConnectionError`, an `OSError`, so the worker drops the connection and the
connection reconnects). `failure_code` numbers any failure for `error`.
"""

from __future__ import annotations

import enum
import ssl
from typing import Any

from ...protocols.iec104 import TimeoutExpired
from ...transport.link import Failure

__all__ = [
    "ClientError",
    "Iec104ClientError",
    "Iec104ConnectionError",
    "Iec104NotConnectedError",
    "Iec104Refused",
    "Iec104TimeoutError",
    "error_text",
    "failure_code",
    "iec104_failure",
]


class ClientError(enum.IntEnum):
    """The error numbers of an IEC104Connection."""

    NoError = 0
    ConnectionError = 1
    TimeoutError = 2
    ProtocolError = 3
    ConfigurationError = 4
    NotConnectedError = 5
    RefusedError = 6
    TlsError = 7


_TEXTS = {
    ClientError.NoError: "No error",
    ClientError.ConnectionError: "Connection error",
    ClientError.TimeoutError: "Timeout",
    ClientError.ProtocolError: "Protocol error",
    ClientError.ConfigurationError: "Configuration error",
    ClientError.NotConnectedError: "Not connected",
    ClientError.RefusedError: "Refused by the station",
    ClientError.TlsError: "TLS error",
}


def error_text(code: int) -> str:
    """The human text of error number `code`."""
    return _TEXTS.get(ClientError(code), "Unknown error")


class Iec104ClientError(Exception):
    """A failed operation of an IEC 104 connection, numbered by `ClientError`."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = ClientError(code)
        self.detail = detail
        text = error_text(code)
        super().__init__(f"{text} ({detail})" if detail else text)


class Iec104ConnectionError(Iec104ClientError, ConnectionError):
    """The link failed or is gone (refused, reset, closed, t1, bad frames): it is closed."""

    def __init__(self, code: int, detail: str = "") -> None:
        Iec104ClientError.__init__(self, code, detail)


class Iec104NotConnectedError(Iec104ConnectionError):
    """An operation needed a connection and there is none (nothing was sent)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(ClientError.NotConnectedError, detail)


class Iec104TimeoutError(Iec104ClientError):
    """The station did not answer within the timeout; the link stays open."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(ClientError.TimeoutError, detail)


class Iec104Refused(Iec104ClientError):
    """The station answered with a negative confirmation; `answer` is that ASDU."""

    def __init__(self, detail: str, answer: Any = None) -> None:
        super().__init__(ClientError.RefusedError, detail)
        self.answer = answer


def iec104_failure(failure: Failure, detail: str) -> Exception:
    """The link's error policy: a missing answer leaves the link, the rest closes it."""
    if failure is Failure.TIMEOUT:
        return Iec104TimeoutError(detail)
    if failure is Failure.SEND_TIMEOUT:
        return Iec104ConnectionError(ClientError.TimeoutError, detail)
    if failure is Failure.PROTOCOL:
        return Iec104ConnectionError(ClientError.ProtocolError, detail)
    return Iec104ConnectionError(ClientError.ConnectionError, detail)


def failure_code(exc: BaseException) -> ClientError:
    """The error number of any failure of a connection."""
    if isinstance(exc, Iec104ClientError):
        cause = exc.__cause__
        if isinstance(cause, TimeoutExpired):
            return ClientError.TimeoutError
        return exc.code
    if isinstance(exc, ssl.SSLError):  # before ValueError: a refused certificate is both
        return ClientError.TlsError
    if isinstance(exc, ValueError):
        return ClientError.ConfigurationError
    if isinstance(exc, TimeoutError):
        return ClientError.TimeoutError
    if isinstance(exc, OSError):
        return ClientError.ConnectionError
    return ClientError.ProtocolError
