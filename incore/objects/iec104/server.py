"""IEC104Server: c104's Server as an object, an IEC 60870-5-104 controlled station.

Threads: a TcpServer (incore/transport/tcp_server.py: a hub thread for idle clients, a
bounded worker pool for busy ones) runs one `StationSession` per client (server_session.py:
the link engine with its t1/t2/t3, through the transport's TimedHandler deadlines). The
workers answer interrogation, read and test themselves from the points' table
(server_requests.py); commands and clock sync come to the loop, where handlers may refuse
them (server_handlers.py). Value changes go from the loop to each client's bounded event
buffer (server_buffer.py; the bounds are in docs/dev/iec104.md, "The station objects").

Starting, stopping and retrying are every server's (link/listener.py `ServerLifeCycle`): a
server that cannot listen when the app starts fails the start (StartError: `incore run`
exits non-zero) unless `retryListen` asks it to keep trying. Before each attempt the
settings the workers copy are checked: one that cannot work (a TLS file, the protocol
parameters) is a ConfigurationError, not retried.
"""

from __future__ import annotations

import enum
import functools
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from ...core import Property, Signal, engine, method, registry
from ...protocols.iec104 import LinkParameters
from ...transport.reconnect import Backoff
from ...transport.tcp_server import TcpServer
from ...transport.trace import speaks
from ..errors import ErrorReporting, StartError, about, error_property
from ..link.listener import ServerLifeCycle, auto_start_property, retry_listen_property
from .server_core import ServerCore
from .server_explain import explain
from .server_handlers import ServerHandlers
from .server_points import PointTable
from .server_session import StationSession
from .server_settings import PARAMETERS, check_clients, check_parameters, tls_context
from .station import IEC104Station

__all__ = ["IEC104Server"]


class IEC104Server(PointTable, ServerHandlers, ErrorReporting, ServerLifeCycle):
    """An IEC 104 controlled station (outstation) that IEC 104 clients connect to.

    IEC104Station children (one per common address) hold IEC104Point children. A changed
    monitoring point is sent spontaneously; interrogation (general and groups 1-16),
    counter interrogation, read, clock sync, test and commands (direct and
    select-before-operate) are answered as the standard says, with one negative frame for
    an unknown type, cause, common address or address. Every client has a bounded event
    buffer whose losses are counted (`lostEventCount`, `eventsLost`), never silent.
    """

    class Status(enum.IntEnum):
        """Whether the server listens."""

        Stopped = 0
        Running = 1
        Error = 2

    class ServerError(enum.IntEnum):
        """What went wrong with the server."""

        NoError = 0
        ListenError = 1
        ConfigurationError = 2

    __slots__ = (
        "_core",
        "_tcp",
        "_entries",
        "_timers",
        "_watching",
        "_retry",
        "_backoff",
        "_connect_fn",
        "_clock_fn",
        "_lost_pending",
        "_episodes",
        "_offline_episode",
        "_context",
    )

    accepts = ("IEC104Station",)

    ip = Property(str, "0.0.0.0", doc="The address to listen on; from the next start.")
    port = Property(
        int,
        2404,
        minimum=0,
        maximum=65535,
        doc="The TCP port (0 picks a free one and then holds it); from the next start.",
    )
    tickRate = Property(
        int, 100, unit="ms", minimum=1, doc="The shortest cyclic report period (reportMs)."
    )
    selectTimeout = Property(
        int,
        100,
        unit="ms",
        minimum=1,
        doc="A selected command must be executed within this time (select-before-operate).",
    )
    maxConnections = Property(
        int, 0, minimum=0, doc="Clients served at once (0: no limit); from the next start."
    )
    protocolParameters = Property(
        dict,
        dict(PARAMETERS),
        check=check_parameters,
        doc="k, w and the timers t0..t3 in seconds (standard defaults); for new connections.",
    )
    allowedClients = Property(
        list,
        [],
        check=check_clients,
        doc="The IP addresses that may connect (empty: every one; c104's on_connect, declared).",
    )
    eventBufferSize = Property(
        int,
        1000,
        minimum=1,
        doc="Events (status and measured) waiting per client at most; at the bound the oldest "
        "measured one is dropped, and counted.",
    )
    keepEventsOffline = Property(
        bool,
        False,
        doc="Keep events raised while no client has data transfer on (up to eventBufferSize) "
        "for the next client that starts it.",
    )
    tlsCertificate = Property(
        str, "", doc="TLS: the server's certificate file (PEM); empty: no TLS. From the next start."
    )
    tlsPrivateKey = Property(str, "", doc="TLS: the key file of tlsCertificate (PEM).")
    tlsCaCertificate = Property(
        str, "", doc="TLS: the CA file (PEM) that client certificates must be signed by."
    )
    tlsVerifyPeer = Property(
        bool, True, doc="TLS: require a client certificate signed by tlsCaCertificate (mutual)."
    )
    autoStart = auto_start_property()
    retryListen = retry_listen_property()
    status = Property(
        Status, Status.Stopped, readonly=True, doc="Stopped, Running or Error (see error)."
    )
    isRunning = Property(
        bool, False, readonly=True, doc="Whether the server listens (status is Running)."
    )
    openConnectionCount = Property(int, 0, readonly=True, doc="Clients connected now.")
    activeConnectionCount = Property(
        int, 0, readonly=True, doc="Clients with data transfer on (STARTDT) now."
    )
    hasOpenConnections = Property(bool, False, readonly=True, doc="Any client connected.")
    hasActiveConnections = Property(
        bool, False, readonly=True, doc="Any client with data transfer on."
    )
    hasStations = Property(bool, False, readonly=True, doc="The server has a station.")
    stations = Property(list, [], readonly=True, doc="The IEC104Station children.")
    lostEventCount = Property(
        int, 0, readonly=True, doc="Events no client buffer could keep, since the start."
    )
    error = error_property(ServerError)

    clockSync = Signal(
        "ip",
        "dateTime",
        "request",
        doc="A client sets the clock (dateTime, UTC); request.refuse() answers negatively.",
    )
    connectRequest = Signal(
        "ip", "request", doc="A client connects; request.refuse() closes its connection."
    )
    receiveRaw = Signal("data", doc="An APDU received (bytes; only while someone listens).")
    sendRaw = Signal("data", doc="An APDU sent (bytes; only while someone listens).")
    unexpectedMessage = Signal(
        "message",
        "cause",
        doc="A message refused or not understood; cause: UnknownTypeId, UnknownCause, "
        "UnknownCommonAddress, UnknownIoa, InvalidTypeId, MismatchedTypeId, "
        "UnimplementedGroup, NotSelected.",
    )
    eventsLost = Signal(
        "ip", "count", doc="`count` events for client `ip` could not be kept (ip '' = offline)."
    )

    def __init__(self, parent: Any = None, **properties: Any) -> None:
        self._core = ServerCore(self._deliver, self)
        self._tcp: TcpServer | None = None
        self._entries: dict = {}
        self._timers: dict = {}
        self._watching: set = set()
        self._retry: Any = None
        self._backoff = Backoff()
        self._connect_fn: Callable[..., Any] | None = None
        self._clock_fn: Callable[..., Any] | None = None
        self._lost_pending: Counter = Counter()
        self._episodes: set = set()
        self._offline_episode = False
        self._context: ssl.SSLContext | None = None
        super().__init__(parent, **properties)
        core = self._core
        core.on_command, core.on_clock_sync, core.on_lost = (
            self._command,
            self._clock_sync,
            self._lost,
        )
        core.on_confirmed, core.decided_on_loop = self._command_confirmed, self._decided_on_loop
        core.connect_check = self._connect_check

    # -- life cycle ----------------------------------------------------------------------------
    def _on_completed(self) -> None:
        self._stations_changed()
        self._start_at_completion()

    def _on_shutdown(self) -> None:
        self.stop()

    def _check(self) -> Iterator[registry.Problem]:
        """No two stations share a common address."""
        seen: set[int] = set()
        for child in self.objects:
            if isinstance(child, IEC104Station):
                if child.commonAddress in seen:
                    yield registry.Problem(
                        child, "commonAddress", f"common address {child.commonAddress} twice"
                    )
                seen.add(child.commonAddress)

    def _stations_changed(self) -> None:
        stations = [c for c in self.objects if isinstance(c, IEC104Station)]
        self._update("stations", stations)
        self._update("hasStations", bool(stations))
        self._rebuild()

    # -- listening (link/listener.py's hooks) ----------------------------------------------------
    def _start(self, fatal: bool = False) -> bool:
        """The shared start, after the settings the workers copy (`_configure`)."""
        if self._tcp is None and not self.isShutDown and not self._configure(fatal):
            return False
        return super()._start(fatal)

    def _configure(self, fatal: bool) -> bool:
        """Copy the settings into the core; false (and ConfigurationError, or StartError
        when `fatal`) if one cannot work. Not retried: it fails the same way until changed."""
        core = self._core
        try:
            core.parameters = LinkParameters(**{**PARAMETERS, **self.protocolParameters})
            self._context = tls_context(self)
        except (OSError, ValueError, TypeError, ssl.SSLError) as exc:
            self._update("status", self.Status.Error)
            self._update("isRunning", False)
            self._apply_error(self.ConfigurationError, str(exc), not fatal)
            if fatal:
                raise StartError(f"{about(self)}: {exc}") from None
            return False
        core.buffer_limit = self.eventBufferSize
        core.offline.limit = self.eventBufferSize
        core.keep_offline = self.keepEventsOffline
        core.select_timeout = self.selectTimeout / 1000.0
        core.allowed = frozenset(self.allowedClients)
        self._listen_flags()
        return True

    def _listen_address(self) -> tuple[str, int]:
        return self.ip, self.port

    def _make_tcp(self, host: str, port: int) -> TcpServer:
        self._core.stopping = threading.Event()
        extra = {"ssl_context": self._context} if self._context is not None else {}
        return TcpServer(
            functools.partial(StationSession, self._core),
            host,
            port,
            max_connections=self.maxConnections,
            name="iec104server",
            **extra,
        )

    def _started(self, host: str, bound: int) -> None:
        speaks(bound, 2404, "IEC 104")  # a trace shows this server on IEC 104's port
        if self.port == 0:
            self._update("port", bound)
        self._update("isRunning", True)

    def _stopped(self) -> None:
        for session in list(self._episodes):
            self._end_episode(session)
        self._update("isRunning", False)
        self._counts()

    def _listen_failed_report(self, host: str, errno: int, text: str, fatal: bool) -> None:
        self._update("isRunning", False)
        super()._listen_failed_report(host, errno, text, fatal)

    def _listen_flags(self) -> None:
        """Tell the workers which reports someone listens to (read at start and with every
        delivery from the workers)."""
        core = self._core
        core.raw_in = self.has_receivers("receiveRaw")
        core.raw_out = self.has_receivers("sendRaw")
        core.unexpected = self.has_receivers("unexpectedMessage")

    # -- stations (c104's Server API) --------------------------------------------------------------
    @method
    def addStation(self, commonAddress: int) -> Any:
        """A new station with `commonAddress` (1..65534); None if it exists."""
        if self.getStation(commonAddress) is not None:
            return None
        station = IEC104Station(commonAddress=commonAddress)
        self.appendChild(station)
        if self.isCompleted:
            station.complete()
        self._stations_changed()
        return station

    @method
    def getStation(self, commonAddress: int) -> Any:
        """The station with `commonAddress` (None if there is none)."""
        for child in self.objects:
            if isinstance(child, IEC104Station) and child.commonAddress == commonAddress:
                return child
        return None

    @method
    def removeStation(self, commonAddress: int) -> bool:
        """Remove the station with `commonAddress`; false if there is none."""
        station = self.getStation(commonAddress)
        if station is None:
            return False
        station.shutdown()
        self.objects = tuple(c for c in self.objects if c is not station)
        self._stations_changed()
        return True

    @method
    def transmitBatch(self, points: list, cause: int = 3) -> bool:
        """Send `points` now in as few ASDUs as fit (per station and type, sequence form
        where addresses run on); false if a point is not this server's or no client has
        data transfer on."""
        return self._batch(list(points), int(cause))

    @method
    def explainBytes(self, apdu: bytes) -> str:
        """One line describing an APDU (c104's explain_bytes)."""
        return explain(bytes(apdu))

    def setConnectRequestCallback(self, fn: Callable[[Any, str], bool] | None) -> None:
        """Python API (c104's on_connect): `fn(server, ip)` returns false to refuse."""
        self._connect_fn = fn

    def setClockSyncCallback(self, fn: Callable[[Any, str, Any], bool] | None) -> None:
        """Python API (c104's on_clock_sync): `fn(server, ip, dateTime)` returns false to
        refuse the clock sync."""
        self._clock_fn = fn

    # -- from the workers, via the inbox (loop thread) ---------------------------------------
    def _deliver(self, changes: list, status: bool, events: list) -> None:
        engine.run_on_owner(self._deliver_now, status, events)

    def _deliver_now(self, status: bool, events: list) -> None:
        self._listen_flags()
        if status:
            self._counts()
        for event in events:
            kind = event[0]
            if kind == "receiveRaw":
                self.receiveRaw.emit(event[1])
            elif kind == "sendRaw":
                self.sendRaw.emit(event[1])
            elif kind == "unexpected":
                self.unexpectedMessage.emit(event[1], event[2])
            elif kind == "closed":
                self._end_episode(event[1])

    def _counts(self) -> None:
        opened, active = self._core.counts() if self._tcp is not None else (0, 0)
        self._update("openConnectionCount", opened)
        self._update("activeConnectionCount", active)
        self._update("hasOpenConnections", opened > 0)
        self._update("hasActiveConnections", active > 0)
