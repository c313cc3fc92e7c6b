"""What can go wrong in Modbus TCP, as exception types a transport and a client can tell apart.

`ModbusFramingError` and `ModbusPduError` are `ProtocolError`s: the peer sent bytes we cannot
trust, so the transport drops that one connection. `ModbusException` is an answer, not a
fault: the server said no (exception code 01..0B) and the connection stays up.
`ModbusStoreError` is how a data store refuses an access; the server engine turns it into an
exception answer (04 unless the store says otherwise).
"""

from __future__ import annotations

from ..errors import FramingError, ProtocolError

__all__ = [
    "ModbusException",
    "ModbusFramingError",
    "ModbusPduError",
    "ModbusStoreError",
    "RequestRefused",
]


class ModbusFramingError(FramingError):
    """An MBAP header we cannot frame: protocol id not 0, or a length outside 2..254."""


class ModbusPduError(ProtocolError):
    """A malformed or mismatched Modbus answer (wrong function, unit, length or echo)."""


class ModbusException(ProtocolError):
    """The server answered a request with a Modbus exception.

    `code` is the exception code (see `ExceptionCode`), `function` the request's function
    code. The connection is fine; only this request failed.
    """

    def __init__(self, code: int, function: int) -> None:
        self.code = int(code)
        self.function = int(function)
        super().__init__(f"Modbus exception {self.code:02X} to function {self.function}")


class RequestRefused(Exception):
    """A request the server answers with exception `code` (not a protocol error: the
    connection stays up). The engine's own checks raise it; stores raise the subclass."""

    def __init__(self, code: int, message: str = "") -> None:
        self.code = int(code)
        super().__init__(message or f"request refused with Modbus exception {self.code:02X}")


class ModbusStoreError(RequestRefused):
    """Raised by a data store to refuse an access; answered as exception `code`.

    04 (server device failure) unless the store says otherwise (02 for an address it does
    not serve, 06 when busy).
    """

    def __init__(self, code: int = 4, message: str = "") -> None:
        super().__init__(code, message)
