"""IEC104Client: a controlling station (c104's Client) holding its IEC104Connection children.

Each IEC104Connection is one link to one remote station and does its own connecting,
reconnecting and error reporting (connection.py). The client is what c104's Client is
around them: the list of connections, counts of open and active ones, starting and stopping
them all, finding one by address, and the signals of every connection in one place
(`newPoint`, `stationInitialized`), so an app can watch a whole plant from one object.
"""

from __future__ import annotations

import enum
from typing import Any

from ...core import Property, Signal, method
from ..errors import ErrorReporting, error_property
from .connection import IEC104Connection

__all__ = ["IEC104Client"]


class IEC104Client(ErrorReporting):
    """A controlling station with IEC104Connection children (c104's Client).

    Connections connect on their own (`autoConnect`); `start()` and `stop()` connect and
    disconnect them all. `openConnectionCount` counts connections whose link is up and
    `activeConnectionCount` those with data transfer on (open and not muted).
    """

    class Error(enum.IntEnum):
        """What went wrong (the connections report their own errors)."""

        NoError = 0
        ConfigurationError = 1

    accepts = ("IEC104Connection",)

    error = error_property(Error)
    connections = Property(
        list, [], readonly=True, serializable=False, doc="The IEC104Connection children."
    )
    openConnectionCount = Property(
        int, 0, readonly=True, doc="Connections whose link is up (muted or not)."
    )
    activeConnectionCount = Property(
        int, 0, readonly=True, doc="Connections with data transfer on (open and not muted)."
    )
    hasConnections = Property(bool, False, readonly=True, doc="There is at least one connection.")
    hasOpenConnections = Property(
        bool, False, readonly=True, doc="At least one connection's link is up."
    )
    hasActiveConnections = Property(
        bool, False, readonly=True, doc="At least one connection has data transfer on."
    )
    isRunning = Property(
        bool, False, readonly=True, doc="The connections are (being) connected: start() ran or "
        "they connect on their own, and stop() did not run since.",
    )  # fmt: skip

    newPoint = Signal(
        "connection", "point", doc="A connection made a point for an undeclared address."
    )
    stationInitialized = Signal(
        "connection", "commonAddress", "cause", doc="A station sent end of initialisation."
    )

    # -- c104's Client API ----------------------------------------------------------------------
    @method
    def start(self) -> None:
        """Connect every connection (and keep them connected while autoConnect is true)."""
        for connection in self._connections():
            connection.connectToHost()
        self._update("isRunning", True)

    @method
    def stop(self) -> None:
        """Disconnect every connection; they stay down until start() or connect()."""
        for connection in self._connections():
            connection.disconnectFromHost()
        self._update("isRunning", False)

    @method
    def disconnectAll(self) -> None:
        """Close every connection (c104's disconnect_all)."""
        self.stop()

    @method
    def reconnectAll(self) -> None:
        """Close every connection and open it again (c104's reconnect_all)."""
        for connection in self._connections():
            connection.disconnectFromHost()
            connection.connectToHost()
        self._update("isRunning", True)

    @method
    def getConnection(
        self, ip: str = "", port: int = 0, commonAddress: int = 0
    ) -> IEC104Connection | None:
        """The connection to `ip` (and `port`, if given), or the one to the station at
        `commonAddress` (c104's get_connection); None if there is none."""
        for connection in self._connections():
            if ip and (connection.ip != ip or (port and connection.port != port)):
                continue
            if commonAddress and connection.commonAddress != commonAddress:
                continue
            if ip or commonAddress:
                return connection
        return None

    def addConnection(
        self, ip: str, port: int = 2404, commonAddress: int = 1, **properties: Any
    ) -> IEC104Connection:
        """Python API (c104's add_connection): a new connection child; it connects at once
        when the client is running and `autoConnect` is true."""
        connection = IEC104Connection(
            self, ip=ip, port=port, commonAddress=commonAddress, **properties
        )
        self._objects_changed()
        if self.isCompleted:
            connection.complete()
        return connection

    # -- children and their states -------------------------------------------------------------
    def _connections(self) -> list[IEC104Connection]:
        return [c for c in self.children() if isinstance(c, IEC104Connection)]

    def _objects_changed(self) -> None:
        connections = self._connections()
        self._update("connections", connections)
        self._update("hasConnections", bool(connections))
        self._connection_changed()

    def _connection_changed(self, _connection: Any = None) -> None:
        """A connection's state changed (the connections call this on their parent)."""
        states = [c.state for c in self._connections()]
        opened = sum(
            s in (IEC104Connection.State.Open, IEC104Connection.State.OpenMuted) for s in states
        )
        active = sum(s == IEC104Connection.State.Open for s in states)
        self._update("openConnectionCount", opened)
        self._update("activeConnectionCount", active)
        self._update("hasOpenConnections", opened > 0)
        self._update("hasActiveConnections", active > 0)

    def _new_point(self, connection: IEC104Connection, point: Any) -> None:
        if self.has_receivers("newPoint"):
            self.newPoint.emit(connection, point)

    def _station_initialized(self, connection: IEC104Connection, ca: int, cause: int) -> None:
        if self.has_receivers("stationInitialized"):
            self.stationInitialized.emit(connection, ca, cause)

    def _on_completed(self) -> None:
        self._objects_changed()
        if any(c.autoConnect for c in self._connections()):
            self._update("isRunning", True)

    def _on_shutdown(self) -> None:
        self._update("isRunning", False)
