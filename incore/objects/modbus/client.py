"""ModbusTcpClient: InCore's Modbus TCP client object, with ModbusSlave and ModbusRegister children.

The connection life cycle (autoConnect, reconnect with backoff, probing an idle link,
connected/error reporting, running requests on a worker thread) is link.client.LinkClient's;
this module adds what is Modbus: InCore's property names (`networkAddress`, `networkPort`,
`state`), `numberOfRetries` and `maxPendingRequests` for the link (client_link.py), and
error numbers as Qt's QModbusDevice has them. The registers are served by
client_host.ModbusRegisters; ModbusSlave (slave.py) gives them their unit id and poll plan.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from concurrent.futures import Future

from ...core import Property, method
from ...protocols.modbus.errors import ModbusException
from ...protocols.modbus.pdu import Request
from ...transport.link_stream import BlockingStream
from ...transport.trace import speaks
from ..errors import error_property
from ..link.client import LinkClient, host_alias_properties, port_property
from .client_host import ModbusRegisters, exception_text
from .client_link import (
    DEFAULT_UNIT,
    ClientError,
    LinkSettings,
    ModbusConnectionError,
    ModbusLink,
    ModbusNotConnectedError,
    ModbusTimeoutError,
    error_text,
    open_link,
)

__all__ = ["ModbusTcpClient", "error_of"]


def error_of(exc: BaseException, host: str = "", port: int = 0) -> tuple[int, str, str]:
    """(error number, its text, detail) for any failure of the client."""
    if isinstance(exc, (ModbusConnectionError, ModbusTimeoutError)):
        return exc.code, error_text(exc.code), exc.detail
    if isinstance(exc, ModbusException):
        code = ClientError.ProtocolError
        return code, error_text(code), f"{exception_text(exc)} to function {exc.function}"
    if isinstance(exc, ValueError):
        code = ClientError.ConfigurationError
        return code, error_text(code), str(exc)
    if isinstance(exc, OSError):
        code = ClientError.ConnectionError
        reason = exc.strerror or str(exc) or type(exc).__name__
        where = f"{host}:{port}: " if host and str(port) not in str(exc) else ""
        return code, error_text(code), f"{where}{reason}"
    code = ClientError.UnknownError
    return code, error_text(code), str(exc) or type(exc).__name__


def _error_enum() -> type[enum.IntEnum]:
    error = enum.IntEnum(
        "Error",
        [(e.name, e.value) for e in ClientError],
        module=__name__,
        qualname="ModbusTcpClient.Error",
    )
    error.__doc__ = "The client's error numbers, as Qt's QModbusDevice has them."
    return error


class ModbusTcpClient(LinkClient):
    """A connection to a Modbus TCP server (InCore's ModbusTcpClient), with ModbusSlave
    children whose ModbusRegisters are polled in blocks.

    Connects on completion while `autoConnect` is true and reconnects after errors (waiting
    `reconnectInterval`, doubling up to `maxReconnectInterval`); `state` follows Qt's
    QModbusDevice states. Each request waits `timeout` ms for its answer and is sent again
    up to `numberOfRetries` times; when every attempt went unanswered the connection is
    closed and made again. Answers are matched by transaction id: a late one is dropped and
    counted in `droppedReplies`, never taken for another request's.
    """

    Error = _error_enum()

    class State(enum.IntEnum):
        """The connection's state (QModbusDevice::State)."""

        Unconnected = 0
        Connecting = 1
        Connected = 2
        Closing = 3

    __slots__ = ()
    has_closing_state = True

    accepts = ("ModbusSlave", "ModbusRegister")
    invalid_settings = (ValueError,)
    not_connected_error = ModbusNotConnectedError

    error = error_property(Error)
    host_alias = "networkAddress"
    networkAddress, hostname = host_alias_properties(
        "networkAddress", "The host name or IP address of the Modbus TCP server."
    )
    networkPort = port_property(502, "The TCP port the server listens at.")
    timeout = Property(
        int,
        1000,
        unit="ms",
        on_write="_settings_written",
        minimum=1,
        doc="How long to wait for a connection, and for each answer before asking again.",
    )
    numberOfRetries = Property(
        int,
        3,
        on_write="_settings_written",
        minimum=0,
        maximum=100,
        doc="How many times an unanswered request is sent again before the connection is "
        "given up (and made again).",
    )
    maxPendingRequests = Property(
        int,
        1,
        on_write="_settings_written",
        minimum=1,
        maximum=256,
        doc="Requests sent before the first answer is in (more than 1 only for servers "
        "that answer pipelined requests; pymodbus's does not).",
    )
    state = Property(
        State, State.Unconnected, readonly=True, doc="The connection's state (Qt's names)."
    )

    # -- InCore methods --------------------------------------------------------------------
    @method
    def connectDevice(self) -> None:
        """Connect to the server (and keep reconnecting while autoConnect is true)."""
        self.connectToHost()

    @method
    def disconnectDevice(self) -> None:
        """Close the connection and stop reconnecting until connectDevice()."""
        self.disconnectFromHost()

    @method
    def disconnectFromHost(self) -> None:
        """Close the connection and stop reconnecting until connectToHost()."""
        super().disconnectFromHost()

    def _closed(self) -> None:
        if self.state is self.State.Closing:
            self._update("state", self.State.Unconnected)

    # -- Python API --------------------------------------------------------------------------
    def execute(
        self,
        request: Request,
        unit: int = DEFAULT_UNIT,
        then: Callable[[Future], None] | None = None,
    ) -> Future:
        """Send one request (see `incore.protocols.modbus.pdu`: `read_holding_registers`,
        `write_multiple_coils`, ...) to `unit`; the future holds its decoded result, or
        fails with the `ModbusException` the server answered."""
        return self._call(lambda link: link.exchange(unit, request)[0], then)

    # -- LinkClient's hooks --------------------------------------------------------------------
    def _make_variables(self) -> ModbusRegisters:
        return ModbusRegisters(self)

    def _link_settings(self) -> LinkSettings:
        speaks(self.networkPort, 502, "Modbus/TCP")  # a trace shows the server on Modbus's port
        settings = LinkSettings(
            self.hostname,
            self.networkPort,
            max(self.timeout, 1) / 1000.0,
            self.numberOfRetries,
            self.maxPendingRequests,
        )
        self._update("state", self.State.Connecting)
        return settings

    def _open_link(self, stream: BlockingStream, settings: LinkSettings) -> ModbusLink:
        return open_link(stream, settings)

    def _probe_link(self, link: ModbusLink) -> None:
        link.probe()

    def _describe_failure(self, exc: BaseException) -> tuple[int, str, str]:
        return error_of(exc, self.hostname, self.networkPort)

    def _not_connected(self) -> OSError:
        return ModbusNotConnectedError(f"{self._label}: not connected")

    def _set_connected(self, value: bool, reason: str = "") -> None:
        super()._set_connected(value, reason)
        if value:
            state = self.State.Connected
        elif self._closing:
            state = self.State.Closing  # until the worker has let the connection go
        elif self._want and self.autoConnect and self._reconnector is not None:
            state = self.State.Connecting  # it will try again
        else:
            state = self.State.Unconnected
        self._update("state", state)
