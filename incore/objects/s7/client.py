"""S7Client: InCore's S7 client object (connection, errors, identity) over a worker thread.

All socket work runs on one ClientWorker thread per client, so a dead or unreachable PLC
can fail operations but never block the event loop; a Reconnector retries with backoff
while `autoConnect` is on. The Python operations (readArea, dbRead, plcStop, ...) live in
client_ops.S7Operations and return futures; S7Variable children are served by
client_host.VariableBatcher.
"""
from __future__ import annotations

import enum
import time
from concurrent.futures import Future
from typing import Any, Callable, TypeVar

from ...core import Object, Property, TimerHandle, get_loop, method
from ...protocols.errors import S7Error
from ...protocols.s7 import Operation, S7ClientProtocol
from ...protocols.s7.constants import ClientError, client_error_text
from ...transport.reconnect import Backoff, Reconnector
from ...transport.futures import CompletedFuture
from ...transport.tcp_client import BlockingStream, ClientWorker
from ..errors import ErrorReporting, error_property
from .client_host import VariableBatcher
from .client_link import MAX_RACK, MAX_SLOT, LinkSettings, S7Link, open_link, remote_tsap_for, \
    run_on
from .client_ops import S7Operations
from .isotcp_connection import S7NotConnectedError, not_connected

__all__ = ["S7Client", "error_of"]

T = TypeVar("T")

#: How often an idle connection is checked for a peer that went away (seconds).
PROBE_INTERVAL = 0.5


def error_of(exc: BaseException, host: str = "", port: int = 0) -> tuple[int, str, str]:
    """(snap7 error number, snap7 text, detail) for any failure of a client operation."""
    if isinstance(exc, S7Error):
        return exc.code, exc.text, exc.detail
    code = ClientError.ConnectError
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    where = f"{host}:{port}: " if host and str(port) not in str(exc) else ""
    return code, client_error_text(code), f"{where}{reason}"


def _error_enum() -> type[enum.IntEnum]:
    error = enum.IntEnum("Error", [(e.name, e.value) for e in ClientError], module=__name__,
                         qualname="S7Client.Error")
    error.__doc__ = "snap7's client error numbers (the most recent one is in `error`)."
    return error


class S7Client(S7Operations, ErrorReporting):
    """A connection to a Siemens S7 PLC (InCore's S7Client), with S7Variable children.

    Connects on completion while `autoConnect` is true and reconnects with a growing delay
    after errors; `connected` says whether the link is up and can be written to connect or
    disconnect. `moduleName`, `moduleTypeName` and `serialNumber` are read from the PLC
    (SZL 0x001C) on every connect. Errors carry snap7's numbers and texts plus details.
    Python code reads and writes the PLC with readArea/dbRead/... which return futures.
    """

    Error = _error_enum()

    class ByteOrder(enum.IntEnum):
        """How multi-byte values are stored in the PLC (S7 itself is big-endian)."""

        BigEndian = 0
        LittleEndian = 1

    class ConnectionType(enum.IntEnum):
        """The kind of connection, the high byte of the remote TSAP."""

        PG = 1
        OP = 2
        Basic = 3

    __slots__ = ("_worker", "_reconnector", "_link", "_epoch", "_want", "_post", "_loop", "_probe",
                 "_last_io", "_label", "_restart_posted", "_variables")

    accepts = ("S7Variable",)

    autoConnect = Property(bool, True, on_write="_auto_connect_written",
                           doc="Connect automatically on start, and reconnect after "
                               "connection errors.")
    byteOrder = Property(ByteOrder, ByteOrder.BigEndian,
                         doc="The byte order of multi-byte values read from or written to "
                             "the PLC.")
    connected = Property(bool, False, serializable=False, on_write="_connected_written",
                         doc="Whether the client is connected; write true/false to connect "
                             "or disconnect.")
    connectionType = Property(ConnectionType, ConnectionType.PG, on_write="_settings_written",
                              doc="The connection type used to compute the remote TSAP.")
    error = error_property(Error)
    hostname = Property(str, "", on_write="_settings_written",
                        doc="The hostname or IP address of the PLC.")
    localTsap = Property(int, 256, on_write="_settings_written", minimum=0, maximum=0xFFFF,
                         doc="The local TSAP (0x0100 by default).")
    moduleName = Property(str, "", readonly=True,
                          doc="The PLC's module name (read on connect).")
    moduleTypeName = Property(str, "", readonly=True,
                              doc="The PLC's module type name (read on connect).")
    port = Property(int, 102, on_write="_settings_written", minimum=1, maximum=65535,
                    doc="The TCP port the PLC listens at.")
    rack = Property(int, 0, on_write="_settings_written", minimum=0, maximum=MAX_RACK,
                    doc="The PLC's rack.")
    remoteTsap = Property(int, 0, on_write="_settings_written", minimum=0, maximum=0xFFFF,
                          doc="The remote TSAP; 0 computes it from connectionType, rack "
                              "and slot.")
    serialNumber = Property(str, "", readonly=True,
                            doc="The PLC's serial number (read on connect).")
    slot = Property(int, 0, on_write="_settings_written", minimum=0, maximum=MAX_SLOT,
                    doc="The PLC's slot.")
    timeout = Property(int, 3000, unit="ms", on_write="_settings_written", minimum=1,
                       doc="incore extension: how long to wait for a connection and for "
                           "each answer of the PLC.")

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._worker: ClientWorker | None = None
        self._reconnector: Reconnector | None = None
        self._link: S7Link | None = None
        self._epoch = 0
        self._want = False
        self._post: Callable[..., None] | None = None
        self._loop: Any = None
        self._probe: TimerHandle | None = None
        self._last_io = 0.0
        self._label = "S7Client"
        self._restart_posted = False
        self._variables = VariableBatcher(self)
        super().__init__(parent, **properties)

    # -- InCore methods --------------------------------------------------------------------
    @method
    def connectToHost(self) -> None:
        """Connect to the PLC (and keep reconnecting while autoConnect is true)."""
        self._want = True
        if self.isLive and not self.pdu_size:
            self._start()  # (a connection that is up stays as it is)

    @method
    def disconnectFromHost(self) -> None:
        """Close the connection and stop reconnecting until connectToHost()."""
        self._want = False
        self._stop_connecting()
        worker = self._worker
        if worker is not None:
            worker.call(self._release_link)
            worker.close()
        self._set_connected(False)

    # -- the VariableHost interface (see docs/dev/s7-objects-plan.md) ------------------------
    def attach_variable(self, var: Any) -> None:
        self._variables.attach(var)

    def detach_variable(self, var: Any) -> None:
        self._variables.detach(var)

    def read_variable(self, var: Any) -> None:
        self._variables.read(var)

    def write_variable(self, var: Any, raw: bytes) -> None:
        self._variables.write(var, raw)

    # -- life cycle ------------------------------------------------------------------------
    def _on_completed(self) -> None:
        self._loop = get_loop()
        self._post = self._loop.post
        self._want = self._want or self.autoConnect
        if self._want:
            self._start()

    def _on_shutdown(self) -> None:
        self._stop_connecting()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown()
        self._variables.clear()

    # -- connecting ------------------------------------------------------------------------
    def _settings(self) -> LinkSettings:
        remote = self.remoteTsap or remote_tsap_for(self.connectionType, self.rack, self.slot)
        return LinkSettings(self.hostname, self.port, self.localTsap, remote,
                            max(self.timeout, 1) / 1000.0)

    def _start(self) -> None:
        """(Re)start connecting with the current settings."""
        self._stop_connecting()
        if not self.hostname:
            self._report_error(ClientError.InvalidParams,
                               f"{client_error_text(ClientError.InvalidParams)} (hostname is empty)")
            return
        try:
            settings = self._settings()
        except S7Error as exc:
            self._report_failure(exc)
            return
        self._label = f"S7Client {settings.host}:{settings.port}"
        worker = self._ensure_worker()
        epoch = self._epoch

        def connect(then: Callable[[Future], None] | None = None) -> Future:
            return worker.connect(settings.host, settings.port, settings.timeout,
                                  setup=lambda stream: self._handshake(stream, settings),
                                  then=then)

        if self.autoConnect:
            rec: Reconnector = Reconnector(
                connect, self._loop_post,
                on_connected=lambda link: self._on_connected(epoch, link),
                on_failed=lambda exc, delay: self._on_failed(epoch, exc, delay),
                backoff=Backoff(initial=0.1, factor=2.0, maximum=5.0), name=self._label)
            self._reconnector = rec
            rec.start()
        else:
            connect(then=lambda fut: self._connect_done(epoch, fut))

    def _stop_connecting(self) -> None:
        self._epoch += 1
        rec, self._reconnector = self._reconnector, None
        if rec is not None:
            rec.stop()
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None

    def _ensure_worker(self) -> ClientWorker:
        if self._worker is None:
            self._worker = ClientWorker(self._label, self._loop_post, on_lost=self._on_lost,
                                        io_timeout=max(self.timeout, 1) / 1000.0)
        return self._worker

    def _loop_post(self, fn: Callable[..., Any], *args: Any) -> None:
        post = self._post or get_loop().post
        post(fn, *args)

    def _handshake(self, stream: BlockingStream, settings: LinkSettings) -> S7Link:
        """On the worker thread: ISO + S7 handshake; the link serves every later job."""
        link = open_link(stream, settings)
        self._link = link
        return link

    def _release_link(self) -> None:
        """On the worker thread: say goodbye with a DR before the stream is closed."""
        link, self._link = self._link, None
        if link is not None and not link.closed:
            link.iso.release()

    def _on_connected(self, epoch: int, link: S7Link) -> None:
        if epoch != self._epoch or self.isShutDown:
            return
        identity = link.identity
        if identity is not None:
            self._update("moduleName", identity.module_name)
            self._update("moduleTypeName", identity.module_type_name)
            self._update("serialNumber", identity.serial_number)
        self._set_connected(True)
        if self.error:
            self._clear_error()
        self._arm_probe()
        self._variables.resume()

    def _on_failed(self, epoch: int, exc: BaseException, retry_in: float) -> None:
        if epoch != self._epoch or self.isShutDown:
            return
        self._set_connected(False)
        self._report_failure(exc, f"retry in {retry_in:.2f} s")

    def _connect_done(self, epoch: int, fut: Future) -> None:
        if epoch != self._epoch or self.isShutDown or fut.cancelled():
            return
        exc = fut.exception()
        if exc is None:
            self._on_connected(epoch, fut.result())
        else:
            self._set_connected(False)
            self._report_failure(exc)

    def _on_lost(self, exc: BaseException) -> None:
        """The worker lost the connection (an I/O error): report, then reconnect if wanted."""
        if self.isShutDown:
            return
        self._set_connected(False)
        self._report_failure(exc)
        if self._reconnector is not None:
            self._reconnector.connection_lost()

    def _set_connected(self, value: bool) -> None:
        if not value and self._probe is not None:
            self._probe.cancel()
            self._probe = None
        self._update("connected", value)

    def _report_failure(self, exc: BaseException, more: str = "") -> None:
        code, text, detail = error_of(exc, self.hostname, self.port)
        detail = f"{detail}; {more}" if detail and more else detail or more
        self._report_error(code, f"{text} ({detail})" if detail else text)

    # -- liveness of an idle connection ------------------------------------------------------
    def _arm_probe(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        self._probe = get_loop().call_later(PROBE_INTERVAL, self._probe_tick)

    def _probe_tick(self) -> None:
        self._probe = None
        worker = self._worker
        if worker is None or not self.connected or self.isShutDown:
            return
        if time.monotonic() - self._last_io >= PROBE_INTERVAL:
            worker.call(self._probe_link)
        self._arm_probe()

    def _probe_link(self) -> None:
        link = self._link
        if link is not None and not link.closed:
            link.iso.probe()  # raises (an OSError) when the PLC has gone: the worker reports it

    # -- property hooks ----------------------------------------------------------------------
    def _connected_written(self, value: bool) -> None:
        if value:
            self.connectToHost()
        else:
            self.disconnectFromHost()

    def _auto_connect_written(self, value: bool) -> None:
        if not self.isLive:
            return
        if value and not self.connected:
            self.connectToHost()
        elif not value and self._reconnector is not None:
            rec, self._reconnector = self._reconnector, None
            rec.stop()

    def _settings_written(self, _value: Any) -> None:
        if not self.isLive or self._restart_posted:
            return
        if self._want:  # connected, or trying to: follow the new settings
            self._restart_posted = True
            self._loop_post(self._restart)

    def _restart(self) -> None:
        self._restart_posted = False
        if self.isShutDown or not self._want:
            return
        self._set_connected(False)
        self._start()

    # -- running operations (any thread) -----------------------------------------------------
    def _submit(self, make: Callable[[S7ClientProtocol], Operation[T]],
                then: Callable[[Future], None] | None = None) -> Future:
        """Run one engine operation; failures are reported on the client.

        A caller that may block (any thread but the one running the loop) runs the exchange
        itself when the worker is idle, sparing two thread hand-overs; otherwise, or when
        the worker is busy, the worker runs it in order with everything queued before.
        """
        worker = self._worker
        if worker is None:
            return self._failed(not_connected(self._label), then)
        self._last_io = time.monotonic()
        label = self._label
        job = lambda: run_on(self._link, label, make)  # noqa: E731  (the link of when it runs)
        future = worker.run_inline(job, then) if self._may_block() else None
        if future is None:
            future = worker.call(job, then)
            future.add_done_callback(self._operation_done)
        elif future.exception() is not None:  # finished here: report a failure now
            self._operation_done(future)
        return future

    def _may_block(self) -> bool:
        """False on the thread running the event loop's callbacks (in run, process_events or
        run_until), which must never wait for a PLC."""
        loop = self._loop
        return loop is None or not loop.dispatching_here()

    def _failed(self, exc: BaseException, then: Callable[[Future], None] | None = None) -> Future:
        """A future that already failed with ``exc`` (reported like any failure)."""
        future: Future = CompletedFuture(exception=exc)
        self._operation_done(future)
        if then is not None:
            self._loop_post(then, future)
        return future

    def _operation_done(self, future: Future) -> None:
        """Worker thread: report a failure on the loop (connection losses report themselves)."""
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            return
        if isinstance(exc, OSError) and not isinstance(exc, S7NotConnectedError):
            return  # the worker closed the connection and reports it through _on_lost
        self._loop_post(self._report_operation_error, exc)

    def _report_operation_error(self, exc: BaseException) -> None:
        if not self.isShutDown:
            self._report_failure(exc)

    @property
    def pdu_size(self) -> int:
        """The PDU size negotiated with the PLC (0 when not connected)."""
        link = self._link
        return link.pdu_size if link is not None and not link.closed else 0
