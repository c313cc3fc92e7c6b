"""ModbusTcpServer: InCore's Modbus TCP server with MBLogic MBAsyncServer's options.

Threads: a TcpServer (incore/transport/tcp_server.py: a hub thread for every idle client, a
bounded worker pool for the busy ones) runs the sans-IO engine (incore.protocols.modbus)
per connection and answers straight from the tables (server_store.py), without a trip
through the loop: the per-request path is a recv, the engine, a send. Those threads never
touch this object: the writes clients make to mapped tables, the connection count and
connect/disconnect events reach it through a loop inbox, batched per loop turn, and fan out
to ModbusRegister children in one change wave (server_host.py). The one exception: a write
to a register with a `writeRequested` handler waits for the loop's verdict, at most
`writeTimeout` (server_veto.py).

A server that cannot listen when the app starts fails the start (StartError: `incore run`
exits non-zero) unless `retryListen` asks it to keep trying.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
from collections.abc import Iterator
from typing import Any

from ...core import Property, Signal, engine, registry
from ...protocols.modbus import DeviceIdentity
from ...transport.reconnect import Backoff
from ...transport.tcp_server import TcpServer
from ...transport.trace import speaks
from ..errors import ErrorReporting, error_property
from ..link.listener import ServerLifeCycle, auto_start_property, retry_listen_property
from .server_connection import ModbusConnection, ServerCore
from .server_host import TableHost
from .server_store import ServedStore
from .server_veto import VetoHost

log = logging.getLogger("incore.modbusserver")

_TABLE = 0x10000
#: FC 43/14 object ids of the identity properties.
_IDENTITY = {
    0: "vendorName",
    1: "productCode",
    2: "majorMinorRevision",
    3: "vendorUrl",
    4: "productName",
    5: "modelName",
    6: "userApplicationName",
}


def _table_size(doc: str) -> Property:
    return Property(int, _TABLE, minimum=0, maximum=_TABLE, doc=doc + " (from the next start).")


def _identity(object_id: int, doc: str, default: str = "") -> Property:
    return Property(
        str, default, on_write="_identity_written", doc=f"FC 43/14 object {object_id}: {doc}."
    )


class ModbusTcpServer(TableHost, VetoHost, ErrorReporting, ServerLifeCycle):
    """A Modbus TCP server (slave) that Modbus clients read and write.

    Serves function codes 1-6, 8 (diagnostics), 15, 16, 22, 23 and 43/14 (device
    identification), with the spec's exception for every bad request. ModbusRegister
    children map values into its tables: a client's write updates the register's `data` and
    fires `registersDataChanged(index)`; a change of `data` is what clients read next.

    Unit ids: `address` 0 answers every unit id; a server with its own address answers it,
    0 and 255, and any other unit id with exception 0B. `broadcast` makes unit 0 a broadcast
    (writes carried out, nothing answered). `dataTable` Overlaid is MBAsyncServer's: coils and
    discrete inputs packed 16 per register into holding and input registers 0..4095.
    `shutdownCommand` (off when empty) stops the server when a client sends that text on
    the Modbus port (MBAsyncServer's `-q`); `shutdownReceived` then fires.

    A register's `writeRequested(message, value)` handler may refuse a client's write
    (`message.refuse()`): the client gets exception 04 and nothing of the request lands. Such
    writes wait for the loop, at most `writeTimeout`; all others are answered at once.
    """

    class Status(enum.IntEnum):
        """Whether the server listens."""

        Stopped = 0
        Running = 1
        Error = 2

    class DataTable(enum.IntEnum):
        """Separate tables, or MBAsyncServer's overlaid table."""

        Separate = 0
        Overlaid = 1

    class ServerError(enum.IntEnum):
        """What went wrong with the server."""

        NoError = 0
        ListenError = 1
        ConfigurationError = 2

    __slots__ = ("_core", "_tcp", "_registers", "_mapped", "_watching", "_retry", "_backoff")

    accepts = ("ModbusRegister",)

    networkAddress = Property(
        str, "0.0.0.0", doc="The address to listen on; takes effect at the next start."
    )
    networkPort = Property(
        int,
        502,
        minimum=0,
        maximum=65535,
        doc="The TCP port (0 picks a free one and then holds it); from the next start.",
    )
    address = Property(
        int,
        0,
        minimum=0,
        maximum=255,
        on_write="_unit_written",
        doc="The unit id served: 0 answers every unit id; otherwise this one, 0 and 255, "
        "and exception 0B for the others.",
    )
    broadcast = Property(
        bool,
        False,
        on_write="_unit_written",
        doc="Treat unit id 0 as a broadcast: writes are carried out and not answered.",
    )
    dataTable = Property(
        DataTable,
        DataTable.Separate,
        doc="Separate tables, or Overlaid: coils and discrete inputs packed 16 per register "
        "into holding and input registers 0..4095 (from the next start).",
    )
    coilCount = _table_size("Coils served (addresses 0..coilCount-1)")
    discreteInputCount = _table_size("Discrete inputs served")
    inputRegisterCount = _table_size("Input registers served")
    holdingRegisterCount = _table_size("Holding registers served")
    maxConnections = Property(
        int, 0, minimum=0, doc="Clients served at once (0: no limit); from the next start."
    )
    idleTimeout = Property(
        int,
        0,
        unit="ms",
        minimum=0,
        doc="A client that sends nothing this long is disconnected (0: never); from the next "
        "start.",
    )
    shutdownCommand = Property(
        str,
        "",
        doc="MBAsyncServer's remote shutdown: a client sending this text on the Modbus port "
        "stops the server (empty: off, the default).",
    )
    writeTimeout = Property(
        int,
        1000,
        unit="ms",
        minimum=1,
        on_write="_write_timeout_written",
        doc="How long a client's write to a register with a writeRequested handler waits "
        "for the app's verdict; past it the client gets exception 04 and nothing is written.",
    )
    autoStart = auto_start_property()
    retryListen = retry_listen_property()
    status = Property(Status, Status.Stopped, readonly=True, doc="Stopped, Running or Error.")
    connectionCount = Property(int, 0, readonly=True, doc="Clients connected now.")
    vendorName = _identity(0, "VendorName", "incore")
    productCode = _identity(1, "ProductCode", "ModbusTcpServer")
    majorMinorRevision = _identity(2, "MajorMinorRevision", "1.0")
    vendorUrl = _identity(3, "VendorUrl")
    productName = _identity(4, "ProductName")
    modelName = _identity(5, "ModelName")
    userApplicationName = _identity(6, "UserApplicationName")
    deviceObjects = Property(
        dict,
        {},
        on_write="_identity_written",
        doc="More FC 43/14 objects by id (e.g. {0x80: text}, extended 0x80..0xFF); an id "
        "here wins over the properties above.",
    )
    error = error_property(ServerError)

    mapErrorOccurred = Signal(doc="A ModbusRegister could not be mapped into its table.")
    dataErrorOccurred = Signal(
        doc="A register's value could not be written to or read from the table."
    )
    registersDataChanged = Signal(
        "index", doc="A client's write changed the register at `index` (document order)."
    )
    clientConnected = Signal("address", doc="A client connected (its IP address).")
    clientDisconnected = Signal("address", doc="A client disconnected (its IP address).")
    shutdownReceived = Signal(
        "address", doc="A client sent shutdownCommand; the server has stopped."
    )

    def __init__(self, parent: Any = None, **properties: Any) -> None:
        self._core = ServerCore(self._deliver, self._decide_write, self)
        self._tcp: TcpServer | None = None
        self._registers: list = []
        self._mapped: dict = {}
        self._watching: set = set()
        self._retry: Any = None
        self._backoff = Backoff()
        super().__init__(parent, **properties)

    # -- life cycle ------------------------------------------------------------------------------
    def _on_completed(self) -> None:
        self._build_tables()
        self._start_at_completion()

    def _on_shutdown(self) -> None:
        self.stop()

    def _check(self) -> Iterator[registry.Problem]:
        """An overlaid table has room for its bits in registers 0..4095."""
        if self.dataTable == self.Overlaid:
            for bits, regs, name in (
                (self.coilCount, self.holdingRegisterCount, "coilCount"),
                (self.discreteInputCount, self.inputRegisterCount, "discreteInputCount"),
            ):
                if bits > 16 * min(regs, 4096):
                    yield registry.Problem(
                        self, name, f"{bits} overlaid bits need {(bits + 15) >> 4} registers"
                    )

    def _build_tables(self) -> None:
        """New tables of the configured sizes, with the registers' initial values."""
        sizes = (
            self.coilCount,
            self.discreteInputCount,
            self.inputRegisterCount,
            self.holdingRegisterCount,
        )
        try:
            store = ServedStore(sizes, self.dataTable == self.Overlaid)
        except ValueError as exc:
            self._report_error(self.ConfigurationError, str(exc))
            store = ServedStore(sizes, False)
        self._core.store = store
        self._mapped.clear()
        self._identity_written(None)
        for reg in list(self._registers):
            self._map(reg)

    # -- listening (link/listener.py's hooks) ----------------------------------------------------
    def _listen_address(self) -> tuple[str, int]:
        return self.networkAddress, self.networkPort

    def _make_tcp(self, host: str, port: int) -> TcpServer:
        core = self._core
        core.stopping = threading.Event()
        core.shutdown = self.shutdownCommand.strip().encode() or None
        return TcpServer(
            functools.partial(ModbusConnection, core),
            host,
            port,
            max_connections=self.maxConnections,
            name="modbusserver",
            idle_timeout=self.idleTimeout / 1000.0 or None,
        )

    def _started(self, host: str, bound: int) -> None:
        speaks(bound, 502, "Modbus/TCP")  # a trace shows this server on Modbus's port
        if self.networkPort == 0:
            self._update("networkPort", bound)

    def _stopped(self) -> None:
        self._update("connectionCount", 0)

    # -- settings the workers copy -----------------------------------------------------------
    def _write_timeout_written(self, value: int) -> None:
        self._core.write_timeout = value / 1000.0

    def _unit_written(self, _value: Any) -> None:
        self._core.configure(self.address, self.broadcast, self._core.identity)

    def _identity_written(self, _value: Any) -> None:
        objects: dict[int, Any] = {}
        for object_id, name in _IDENTITY.items():
            text = getattr(self, name)
            if text:
                objects[object_id] = text
        try:
            for key, value in (self.deviceObjects or {}).items():
                objects[int(key, 0) if isinstance(key, str) else int(key)] = value
            identity = DeviceIdentity(objects)
        except (TypeError, ValueError) as exc:
            self._report_error(self.ConfigurationError, f"device identification: {exc}")
            return
        self._core.configure(self.address, self.broadcast, identity)

    # -- from the workers, via the inbox (loop thread) ------------------------------------------
    def _deliver(self, changes: list, status: bool, events: list) -> None:
        engine.run_on_owner(self._deliver_now, changes, status, events)

    def _deliver_now(self, changes: list, status: bool, events: list) -> None:
        if changes:
            self._apply_client_writes(changes)
        if status:
            self._update("connectionCount", self._core.connections if self._tcp else 0)
        for kind, host in events:
            if kind == "connected":
                self.clientConnected.emit(host)
            elif kind == "disconnected":
                self.clientDisconnected.emit(host)
            elif kind == "shutdown":
                self.stop()
                self.shutdownReceived.emit(host)
