"""S7Server: node-snap7's S7 server as an object (a soft PLC that S7 clients read and write).

Threads: a TcpServer (incore/transport/tcp_server.py: a hub thread that holds every idle
client, and a bounded pool of workers that serve the busy ones) runs the ISO-on-TCP session
and the S7 engine (server_connection.py) and answers reads and writes straight from the
memory (server_memory.py), each area behind its own lock. Those threads never touch this
object: client writes, status changes and events reach it through a loop inbox, batched per
loop turn and fanned out in one change wave to S7ServerArea children, mapped S7Variables
(server_host.py) and `event` handlers. In resourceless mode each client access waits for the
loop instead, where `readWrite` handlers fill or consume the buffer. A server that cannot
listen when the app starts fails the start (StartError: `incore run` exits non-zero) unless
`retryListen` asks it to keep trying.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ...core import Property, Signal, engine, method, registry
from ...protocols.s7.constants import Event, ReturnCode
from ...transport.reconnect import Backoff
from ...transport.tcp_server import TcpServer
from ...transport.trace import speaks
from ..errors import ErrorReporting, error_property
from ..link.listener import ServerLifeCycle, auto_start_property, retry_listen_property
from .server_area import duplicate_areas
from .server_areas import AreaMethods
from .server_connection import S7Connection, ServerCore
from .server_events import EventCode, EventMaskProperty, ServerError, error_text, event_line
from .server_host import MemoryHost
from .server_initial import done as initial_values_done
from .server_memory import Job
from .server_params import ParamMethods

log = logging.getLogger("incore.s7server")

#: PDU sizes a server may grant: Snap7's least, and the largest an S7 CPU uses (S7-1500).
MIN_PDU, MAX_PDU = 240, 960


class S7Server(ErrorReporting, ServerLifeCycle, MemoryHost, AreaMethods, ParamMethods):
    """A soft S7 PLC that python-snap7, Snap7 C and other S7 clients connect to.

    Its memory is declared with S7ServerArea children (or registerArea); S7Variable children
    map parts of it to typed values. With `autoStart` (default) it listens as soon as the app
    is complete. Clients can read and write every area, read SZL lists, get and set the
    clock and stop or start the CPU (`cpuStatus` follows). `event` reports what happens,
    filtered by `eventMask`; `lockArea` holds clients off an area until `unlockArea`.

    Initial values: at the start each area holds its S7ServerArea's `data` (zeros past it),
    then each S7Variable with a literal `data` writes that value at its address, in document
    order (a later literal wins where two overlap; when they disagree a warning names both).
    A bound `data` writes the memory through its binding instead.

    `eventMask` is a number or event names: `[evcClientAdded, evcDataRead]`, or
    `evcDataRead | evcDataWrite` (the evc* constants are also `S7Server.evcDataRead` ... in
    expressions); an unknown name is an error.

    Block functions: clients can list the blocks and ask for block info (python-snap7's
    `list_blocks`, `list_blocks_of_type`, `get_block_info`, `db_get`); each registered DB is a
    DB block whose MC7 size is its size, described as the Snap7 C server describes its DBs.
    """

    class Status(enum.IntEnum):
        """Server status (node-snap7's SrvStopped, SrvRunning, SrvError)."""

        Stopped = 0
        Running = 1
        Error = 2

    class CpuStatus(enum.IntEnum):
        """The virtual CPU's mode (node-snap7's S7CpuStatus*)."""

        Unknown = 0
        Stop = 4
        Run = 8

    class Area(enum.IntEnum):
        """Area numbers of registerArea and friends."""

        srvAreaPE = 0
        srvAreaPA = 1
        srvAreaMK = 2
        srvAreaCT = 3
        srvAreaTM = 4
        srvAreaDB = 5

    class Param(enum.IntEnum):
        """Parameter numbers of getParam/setParam."""

        LocalPort = 1
        WorkInterval = 6
        PDURequest = 10
        MaxClients = 11

    class Operation(enum.IntEnum):
        """`operation` of readWrite."""

        operationRead = 0
        operationWrite = 1

    EventCode = EventCode
    ServerError = ServerError

    __slots__ = (
        "_core",
        "_tcp",
        "_variables",
        "_mapped",
        "_area_blocks",
        "_rw_callback",
        "_retry",
        "_backoff",
    )

    accepts = ("S7ServerArea", "S7Variable")

    networkAddress = Property(
        str,
        "0.0.0.0",
        doc="The IPv4 address to listen on (startTo's ip); takes effect at the next start.",
    )
    localPort = Property(
        int,
        102,
        minimum=0,
        maximum=65535,
        doc="The TCP port (0 picks a free one and then holds it); takes effect at the next start.",
    )
    workInterval = Property(
        int,
        100,
        unit="ms",
        minimum=0,
        doc="snap7's socket worker interval (kept for compatibility; "
        "workers here wake on data, not on a timer).",
    )
    pduRequest = Property(
        int,
        480,
        unit="bytes",
        on_write="_settings_written",
        minimum=MIN_PDU,
        maximum=MAX_PDU,
        doc="The largest PDU granted to clients (new connections).",
    )
    maxClients = Property(
        int,
        1024,
        minimum=0,
        doc="Clients served at once (0: no limit); one more is "
        "refused with a ClientRejected event. Takes effect "
        "at the next start.",
    )
    resourceless = Property(
        bool,
        False,
        on_write="_settings_written",
        doc="Answer clients through readWrite handlers instead of registered memory.",
    )
    readWriteTimeout = Property(
        int,
        5000,
        unit="ms",
        on_write="_settings_written",
        minimum=0,
        doc="How long a client waits for a readWrite handler.",
    )
    handshakeTimeout = Property(
        int,
        5000,
        unit="ms",
        minimum=0,
        doc="A client that has not "
        "completed its handshake (ISO connection and S7 setup) this "
        "long after connecting is dropped, and at maxClients it makes "
        "room for a newcomer (0: no timeout); from the next start.",
    )
    idleTimeout = Property(
        int,
        0,
        unit="ms",
        minimum=0,
        doc="A client that sends nothing this long is dropped (0: never); from the next start.",
    )
    autoStart = auto_start_property()
    retryListen = retry_listen_property()
    status = Property(
        Status, Status.Stopped, readonly=True, doc="Stopped, Running, or Error (could not listen)."
    )
    clientsCount = Property(int, 0, readonly=True, doc="Clients connected now.")
    droppedEvents = Property(
        int,
        0,
        readonly=True,
        doc="Events dropped because the `event` handlers fell behind the "
        "clients by more than 1,000 events (each run of drops is also "
        "logged).",
    )
    cpuStatus = Property(
        CpuStatus,
        CpuStatus.Run,
        on_write="_cpu_status_written",
        doc="The virtual CPU's mode; clients can stop and start it.",
    )
    eventMask = EventMaskProperty(
        int,
        0xFFFFFFFF,
        on_write="_settings_written",
        minimum=0,
        maximum=0xFFFFFFFF,
        schema={  # the forms event_mask() takes; a misspelt name is the loader's error
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 0xFFFFFFFF},
                {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"type": "integer", "minimum": 0, "maximum": 0xFFFFFFFF},
                            {"enum": [*EventCode.__members__]},
                            {"type": "string", "pattern": r"^[A-Za-z_][\w.]*$"},
                        ]
                    },
                },
                {"enum": [*EventCode.__members__]},
                {"type": "string", "pattern": r"^[\w.|,\s]*$"},
            ]
        },
        doc="Which event codes (EventCode bits) reach the event signal: a number, or event "
        "names in a list (`[evcClientAdded, evcDataRead]`) or joined by `|`.",
    )
    lastError = Property(
        int,
        0,
        readonly=True,
        doc="The result of the last operation (snap7's error number, 0 = OK).",
    )
    error = error_property(ServerError)

    event = Signal(
        "event",
        doc="A server event (EvtTime, EvtSender, EvtCode, EvtRetCode, "
        "EvtParam1..4), filtered by eventMask; eventText(event) "
        "describes it.",
    )
    readWrite = Signal(
        "sender",
        "operation",
        "tag",
        "buffer",
        doc="Resourceless mode: a client reads (fill `buffer` in place, e.g. "
        "buffer[:] = ...) or writes (`buffer` holds its bytes); one call "
        "per item. `tag` (Area, DBNumber, Start, Size, WordLen) is the item "
        "as the client asked it, as in Snap7 C: Size elements of WordLen "
        "from byte Start (BIT: bit address byte*8+bit, buffer one byte; "
        "timers, counters: element number).",
    )

    def __init__(self, parent: Any = None, **properties: Any) -> None:
        self._core = ServerCore(self._deliver, self._answer, self._has_event_listeners, self)
        self._tcp: TcpServer | None = None
        self._variables: list = []
        self._mapped: dict = {}
        self._area_blocks: dict = {}
        self._rw_callback: Callable[..., Any] | None = None
        self._retry: Any = None  # the loop timer of the next listen attempt
        self._backoff = Backoff()
        super().__init__(parent, **properties)

    # -- life cycle ----------------------------------------------------------------------------
    def _on_completed(self) -> None:
        for var in list(self._variables):
            if var not in self._mapped:
                self._map(var, initial=True)
        initial_values_done(self._core.memory.blocks.values())
        self._start_at_completion()

    def _on_shutdown(self) -> None:
        self.stop()

    def _check(self) -> Iterator[registry.Problem]:
        """No two S7ServerArea children declare the same area (the second would be refused)."""
        return duplicate_areas(self)

    @method
    def startTo(self, ip: str) -> bool:
        """Set networkAddress to `ip` and start."""
        self.networkAddress = ip
        return self._start()

    # -- listening (link/listener.py's hooks) ----------------------------------------------------
    def _listen_address(self) -> tuple[str, int]:
        return self.networkAddress, self.localPort

    def _make_tcp(self, host: str, port: int) -> TcpServer:
        core = self._core
        core.stopping = threading.Event()
        return TcpServer(
            functools.partial(S7Connection, core),
            host,
            port,
            max_connections=self.maxClients,
            name="s7server",
            on_rejected=core.rejected,
            handshake_timeout=self.handshakeTimeout / 1000.0 or None,
            idle_timeout=self.idleTimeout / 1000.0 or None,
        )

    def _started(self, host: str, bound: int) -> None:
        speaks(bound, 102, "S7comm")  # a trace shows this server on S7's port
        if self.localPort == 0:
            self._update("localPort", bound)
        self._job()
        self._core.emit(host, Event.ServerStarted, 0, bound)

    def _stopped(self) -> None:
        self._update("droppedEvents", self._core.inbox.dropped)  # what end_drops just logged
        self._update("clientsCount", 0)
        self._core.emit(self.networkAddress, Event.ServerStopped)

    def _listen_failed_report(self, host: str, errno: int, text: str, fatal: bool) -> None:
        self._core.emit(host, Event.ListenerCannotStart, errno)
        if fatal:
            self._update("lastError", int(ServerError.CannotStart) | errno)
            self._apply_error(ServerError.CannotStart, text, False)
        else:
            self._job(ServerError.CannotStart, text, errno)

    # -- parameters (getParam, setParam, setResourceless: server_params.py) ---------------------
    def _settings_written(self, _value: Any) -> None:
        """Copy what the connection threads need into the shared core (they never read
        properties)."""
        core = self._core
        core.pdu_request = self.pduRequest
        core.resourceless = self.resourceless
        core.rw_timeout = max(0.0, self.readWriteTimeout / 1000.0)
        core.event_mask = self.eventMask & 0xFFFFFFFF

    def _cpu_status_written(self, value: Any) -> None:
        self._core.state.set_status(int(value))

    # -- texts -----------------------------------------------------------------------------------
    @method
    def eventText(self, event: Any) -> str:
        """One line describing an event (time, sender, what happened)."""
        return event_line(event)

    @method
    def errorText(self, code: int) -> str:
        """snap7's text for an error number such as lastError."""
        return error_text(code)

    # -- resourceless mode -------------------------------------------------------------------
    def setReadWriteCallback(self, fn: Callable[..., Any] | None) -> None:
        """Python API: answer resourceless accesses with `fn(sender, operation, tag, buffer)`,
        which may return the bytes of a read instead of filling `buffer`."""
        self._rw_callback = fn

    def _answer(self, job: Job) -> None:
        """A client waits for this resourceless access (loop thread)."""
        fn = self._rw_callback
        operation = self.Operation(job.operation)
        if fn is not None:
            try:
                result = fn(job.sender, operation, job.tag, job.buffer)
                if result is not None and job.operation == 0:
                    job.buffer[:] = result
            except Exception:
                log.exception("%r: the readWrite callback failed", self)
                job.finish(ReturnCode.HARDWARE_FAULT)
                return
            self._finish(job)
        elif not self.has_receivers("readWrite"):
            job.finish(ReturnCode.OBJECT_DOES_NOT_EXIST)
        else:
            self.readWrite.emit(job.sender, operation, job.tag, job.buffer)
            engine.schedule_call(self._finish, (job,))  # after the handlers of this wave

    def _finish(self, job: Job) -> None:
        if len(job.buffer) != job.size:
            log.warning(
                "%r: a readWrite handler left %d bytes in a %d-byte buffer",
                self,
                len(job.buffer),
                job.size,
            )
            job.finish(ReturnCode.ADDRESS_OUT_OF_RANGE)
        else:
            job.finish(ReturnCode.SUCCESS)

    # -- from the connection threads, via the inbox (loop thread) ----------------------------
    def _has_event_listeners(self) -> bool:
        """(has_receivers("event"), written out: a connection asks on every read)"""
        obs = self._obs
        return bool(obs and obs.get("event"))

    def _deliver(self, changes: list, status: bool, events: list) -> None:
        # One change wave for the whole batch: handlers see a settled state.
        engine.run_on_owner(self._deliver_now, changes, status, events)

    def _deliver_now(self, changes: list, status: bool, events: list) -> None:
        if changes:
            self._apply_client_writes(changes)
        self._update("droppedEvents", self._core.inbox.dropped)
        if status:
            tcp = self._tcp
            self._update("clientsCount", tcp.connection_count if tcp is not None else 0)
            try:
                self._update("cpuStatus", self.CpuStatus(self._core.state.cpu_status))
            except ValueError:
                self._update("cpuStatus", self.Unknown)
        mask = self.eventMask
        for ev in events:
            if ev.EvtCode & mask:
                self.event.emit(ev)

    def _job(self, error: int = 0, text: str = "", detail: int = 0) -> bool:
        """Record an operation's result in lastError (and error/errorString if it failed)."""
        self._update("lastError", int(error) | detail)
        if error:
            self._report_error(ServerError(error), text)
            return False
        return True
