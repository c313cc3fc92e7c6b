"""IEC104Connection: one link of a controlling station to a remote station (c104's Connection).

The connection life cycle (autoConnect, reconnect with backoff, connected/error reporting,
requests on a worker thread) is link.client.LinkClient's. What is IEC 104 here: STARTDT as
the handshake, a general interrogation (and, if asked, a clock sync) once data transfer is
on, a worker that listens between requests (`ListeningWorker`, so spontaneous data and the
link's t1-t3 timers are served while nothing is asked), c104's connection states, and the
IEC104Point children (client_points.py) that mirror the station. The Python procedures
(interrogation, read, clock sync, commands) are in client_ops.py.

Received frames travel worker -> `PointInbox` -> loop in batches; see client_inbox.py for
what happens when they come faster than the loop takes them (nothing is lost unannounced).
"""

from __future__ import annotations

import enum
from typing import Any

from ...core import Property, Signal, method
from ...protocols.iec104 import (
    LinkParameters,
)
from ...transport.link_stream import BlockingStream
from ...transport.trace import speaks
from ..errors import error_property
from ..foundation.data import now_ms
from ..link.client import LinkClient, host_alias_properties, port_property
from .client_errors import ClientError, Iec104NotConnectedError, error_text, failure_code
from .client_inbox import PointInbox
from .client_link import Iec104ClientLink, LinkSettings, open_link
from .client_ops import ConnectionOperations
from .client_points import ConnectionPoints
from .client_receive import StationListener
from .client_tls import TlsSettings, TlsWorker, context_of, describe_tls_error
from .point import IEC104Point

__all__ = ["IEC104Connection", "error_of"]


def error_of(exc: BaseException) -> tuple[int, str, str]:
    """(error number, its text, detail) for any failure of a connection."""
    code = failure_code(exc)
    if code == ClientError.TlsError:
        return int(code), error_text(code), describe_tls_error(exc)
    detail = getattr(exc, "detail", None)
    if detail is None:
        detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return int(code), error_text(code), detail


def _error_enum() -> type[enum.IntEnum]:
    error = enum.IntEnum(
        "Error",
        [(e.name, e.value) for e in ClientError],
        module=__name__,
        qualname="IEC104Connection.Error",
    )
    error.__doc__ = "What went wrong with the connection (the most recent one is in `error`)."
    return error


def _seconds(doc: str, default: int) -> Property:
    return Property(
        int, default, unit="s", minimum=1, maximum=255, on_write="_settings_written", doc=doc
    )


class IEC104Connection(ConnectionOperations, StationListener, LinkClient):
    """A controlling station's connection to one remote IEC 104 station (c104's Connection),
    with IEC104Point children that mirror the station's information objects.

    Connects on completion while `autoConnect` is true: TCP, STARTDT, then a general
    interrogation (`interrogateOnConnect`); after a loss it reconnects, waiting
    `reconnectInterval` at first and twice as long each time up to `maxReconnectInterval`.
    Values the station sends update the points at their address (and make new points for
    addresses none was declared at); while the link is down the points are Bad. Writing a
    command point's value sends the command, and the point's `error` says if the station
    refused it or did not confirm it within `timeout`.
    """

    Error = _error_enum()

    class State(enum.IntEnum):
        """The connection's state (c104's ConnectionState)."""

        Closed = 0
        ClosedAwaitOpen = 1
        ClosedAwaitReconnect = 2
        Open = 3
        OpenMuted = 4
        OpenAwaitClosed = 5

    __slots__ = ("_inbox", "_muted", "_tls")
    has_closing_state = True

    accepts = ("IEC104Point",)
    invalid_settings = (ValueError,)
    not_connected_error = Iec104NotConnectedError
    #: The listening worker notices a peer that went away; t3 tests an idle link.
    probe_interval = None

    error = error_property(Error)
    host_alias = "ip"
    ip, hostname = host_alias_properties("ip", "The IP address or host name of the remote station.")
    port = port_property(2404, "The TCP port the station listens at (2404; TLS: often 19998).")
    commonAddress = Property(
        int,
        1,
        minimum=1,
        maximum=65534,
        on_write="_common_address_written",
        doc="The common address (ASDU address) of the station: where commands, reads and "
        "interrogations go, and whose values the points mirror.",
    )
    originatorAddress = Property(
        int,
        0,
        minimum=0,
        maximum=255,
        on_write="_settings_written",
        doc="The originator address sent in every ASDU (0: none).",
    )
    timeout = Property(
        int,
        10000,
        unit="ms",
        minimum=1,
        on_write="_settings_written",
        doc="How long to wait for the station to confirm a command, read or interrogation "
        "(c104's command_timeout_ms).",
    )
    interrogateOnConnect = Property(
        bool, True, doc="Send a general interrogation each time data transfer starts."
    )
    clockSyncOnConnect = Property(
        bool, False, doc="Send a clock synchronisation (the local UTC time) on each connect."
    )
    k = Property(
        int, 12, minimum=1, maximum=32767, on_write="_settings_written",
        doc="At most this many I-frames sent and not yet acknowledged.",
    )  # fmt: skip
    w = Property(
        int, 8, minimum=1, maximum=32767, on_write="_settings_written",
        doc="Acknowledge received I-frames at the latest after this many.",
    )  # fmt: skip
    t0 = _seconds("Connection establishment timeout.", 30)
    t1 = _seconds("Close the link when a frame sent is not acknowledged within t1.", 15)
    t2 = _seconds("Acknowledge received I-frames within t2 (less than t1).", 10)
    t3 = _seconds("Send a test frame after t3 without a frame received.", 20)
    state = Property(State, State.Closed, readonly=True, doc="The connection's state (c104's).")
    connectedAt = Property(
        int, 0, unit="ms", readonly=True, doc="When data transfer last started (0: never)."
    )
    disconnectedAt = Property(
        int, 0, unit="ms", readonly=True, doc="When the link was last lost or closed (0: never)."
    )
    points = Property(
        list,
        [],
        readonly=True,
        serializable=False,
        doc="Every IEC104Point of the connection: the declared ones and those the station "
        "sent values for without one being declared.",
    )
    mergedValues = Property(
        int,
        0,
        readonly=True,
        doc="Measured values replaced by a newer value of the same point while they waited "
        "for the loop (keepLatest, or more than 10,000 values waiting).",
    )
    droppedValues = Property(
        int,
        0,
        readonly=True,
        doc="Received values dropped because the loop stopped taking them (200,000 waiting); "
        "each run of drops is logged.",
    )
    tls = Property(bool, False, on_write="_settings_written", doc="Connect with TLS.")
    certificate = Property(
        str, "", on_write="_settings_written", doc="TLS: this client's certificate (PEM file)."
    )
    privateKey = Property(
        str, "", on_write="_settings_written", doc="TLS: the private key of the certificate."
    )
    caCertificate = Property(
        str,
        "",
        on_write="_settings_written",
        doc="TLS: the CA certificate(s) (PEM file) the station's certificate must chain to "
        "(empty: the system's).",
    )
    verifyPeer = Property(
        bool,
        True,
        on_write="_settings_written",
        doc="TLS: refuse a station whose certificate does not verify (and whose name does "
        "not match serverName or ip).",
    )
    checkHostname = Property(
        bool,
        True,
        on_write="_settings_written",
        doc="TLS: the station's certificate must name the address connected to (or "
        "serverName); field devices often have certificates without one.",
    )
    serverName = Property(
        str,
        "",
        on_write="_settings_written",
        doc="TLS: the name the station's certificate must carry (empty: ip).",
    )

    newPoint = Signal(
        "point", doc="The station sent a value for an address no point was declared at."
    )
    stationInitialized = Signal(
        "commonAddress", "cause", doc="The station sent end of initialisation (M_EI_NA_1)."
    )
    unexpectedMessage = Signal(
        "message", "cause", doc="A frame the connection could not use, and why."
    )
    commandFinished = Signal(
        "point", "ok", "reason", doc="A command point's command was confirmed, or not (why)."
    )
    valuesDropped = Signal("count", doc="Received values were dropped (see droppedValues).")

    def __init__(self, parent: Any = None, **properties: Any) -> None:
        self._muted = False
        self._inbox: PointInbox | None = None
        self._tls: tuple[Any, str] | None = None
        super().__init__(parent, **properties)

    # -- LinkClient's hooks ---------------------------------------------------------------
    def _make_variables(self) -> ConnectionPoints:
        return ConnectionPoints(self, self._points_changed)

    def _link_settings(self) -> LinkSettings:
        speaks(self.port, 2404, "IEC 104")  # a trace shows the station on IEC 104's port
        parameters = LinkParameters(self.k, self.w, self.t0, self.t1, self.t2, self.t3)
        self._tls = None
        if self.tls:
            context = context_of(
                TlsSettings(
                    self.certificate,
                    self.privateKey,
                    self.caCertificate,
                    self.verifyPeer,
                    self.checkHostname,
                )
            )
            self._tls = (context, self.serverName or self.hostname)
        settings = LinkSettings(
            self.hostname,
            self.port,
            float(self.t0),
            max(self.timeout, 1) / 1000.0,
            parameters,
            self.commonAddress,
            self.originatorAddress,
        )
        self._set_state(self.State.ClosedAwaitOpen)
        return settings

    def _open_link(self, stream: BlockingStream, settings: LinkSettings) -> Iec104ClientLink:
        return open_link(stream, settings)

    def _close_link(self, link: Iec104ClientLink) -> None:
        link.flush_quietly()

    def _describe_failure(self, exc: BaseException) -> tuple[int, str, str]:
        return error_of(exc)

    def _not_connected(self) -> OSError:
        return Iec104NotConnectedError(f"{self._label}: not connected")

    def _make_worker(self, io_timeout: float) -> TlsWorker:
        inbox = PointInbox(self._loop_post, self._receive, self._label)
        inbox.latest_only = self._variables.latest_only()  # type: ignore[attr-defined]
        self._inbox = inbox
        return TlsWorker(
            self._label,
            self._loop_post,
            on_event=self._heard,
            on_lost=self._on_lost,
            io_timeout=io_timeout,
        )

    def _ensure_worker(self) -> TlsWorker:  # type: ignore[override]
        worker: TlsWorker = super()._ensure_worker()  # type: ignore[assignment]
        worker.tls = self._tls
        return worker

    def _set_connected(self, value: bool, reason: str = "") -> None:
        was = self.connected
        super()._set_connected(value, reason)
        if value:
            self._muted = False
            self._update("connectedAt", now_ms())
            state = self.State.Open
        elif self._closing:
            state = self.State.OpenAwaitClosed
        elif self._want and self.autoConnect and self._reconnector is not None:
            state = self.State.ClosedAwaitReconnect
        else:
            state = self.State.Closed
        if was and not value:
            self._update("disconnectedAt", now_ms())
        self._set_state(state)
        if value and not was:
            self._on_data_transfer()

    def _on_data_transfer(self) -> None:
        """Data transfer is on: what c104's Init asks for, in its order."""
        if self.interrogateOnConnect:
            self.interrogation()
        if self.clockSyncOnConnect:
            self.clockSync()

    # -- c104's names -------------------------------------------------------------------------
    @method
    def connect(self) -> None:
        """Connect (c104's name for connectToHost)."""
        self.connectToHost()

    @method
    def disconnect(self) -> None:
        """Disconnect and stop reconnecting (c104's name for disconnectFromHost)."""
        self.disconnectFromHost()

    def _closed(self) -> None:
        if self.state is self.State.OpenAwaitClosed:
            self._set_state(self.State.Closed)

    def _set_state(self, state: IEC104Connection.State) -> None:
        if self._update("state", state):
            tell = getattr(self.parent, "_connection_changed", None)
            if tell is not None:
                tell(self)

    @property
    def is_muted(self) -> bool:
        return self._muted

    @method
    def getPoint(self, ioa: int) -> IEC104Point | None:
        """The point at `ioa` (c104's get_point), or None."""
        return self._variables.find(self.commonAddress, ioa)  # type: ignore[attr-defined]

    def _points_changed(self) -> None:
        self._update("points", list(self._variables.points))  # type: ignore[attr-defined]
        inbox = self._inbox
        if inbox is not None:
            inbox.latest_only = self._variables.latest_only()  # type: ignore[attr-defined]

    def _common_address_written(self, _value: int) -> None:
        self._variables.addresses_changed()  # type: ignore[attr-defined]

    def point_changed(self, point: IEC104Point) -> None:
        """A point's address, type or keepLatest changed: look points up afresh, and tell
        the inbox which values keep only the latest."""
        self._variables.addresses_changed()  # type: ignore[attr-defined]
