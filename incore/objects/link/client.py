"""LinkClient: the connection life cycle of every client object, whatever its protocol.

An S7Client, a ModbusTcpClient and an IEC104Client all keep one TCP link to a peer: they
connect on completion while `autoConnect` is on, retry with a growing delay
(`reconnectInterval` doubling up to `maxReconnectInterval`), notice an idle link that died,
report every failure in `error`/`errorString`/`errorOccurred`, run requests on one worker
thread (or inline, on a thread that may block), and tell their variables when the link
comes and goes, so those turn Bad while it is down. Only the protocol differs, and a
subclass supplies it through a handful of hooks:

- `_link_settings()` (loop thread): what to connect to, with `host`, `port` and `timeout`
  (seconds); raises one of `invalid_settings` for settings that can not work;
- `_open_link(stream, settings)` (worker): the handshake; returns the link, an object with
  a `closed` attribute that serves every later request;
- `_close_link(link)`, `_probe_link(link)` (worker): say goodbye; check an idle link (raise
  an OSError when the peer is gone);
- `_link_up(link)` (loop): take what the handshake learnt (e.g. the PLC's identity);
- `_describe_failure(exc)`: the error number, text and detail of any failure;
- `_invalid_settings(detail)`, `_not_connected()` (of class `not_connected_error`): the
  protocol's own exceptions for bad settings and for a request without a link;
- `_make_variables()`: the host of the client's variables (link.polled.PolledVariables for
  request/response protocols).

A subclass declares its `Error` enum, `error = error_property(Error)` and
`port = port_property(default)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, ClassVar, TypeVar

from ...core import Object, Property, TimerHandle, engine, get_loop, method, registry
from ...transport.link_stream import BlockingStream
from ...transport.reconnect import Backoff, Reconnector
from ...transport.sockets import NotConnectedError
from ...transport.tcp_client import ClientWorker
from ..errors import ErrorReporting
from .host import ClientVariables, HostedVariable
from .host_alias import HostAlias, host_alias_properties
from .operations import OperationRunner, RequestStats
from .shared import SharedBase

__all__ = ["LinkClient", "host_alias_properties", "port_property", "PROBE_INTERVAL"]

T = TypeVar("T")

#: How often an idle connection is checked for a peer that went away (seconds).
PROBE_INTERVAL = 0.5
#: The smallest reconnect interval (ms): a dead peer is not hammered.
MIN_RECONNECT_INTERVAL = 10


def port_property(default: int, doc: str = "The TCP port the peer listens at.") -> Property:
    """The `port` of a client whose protocol listens at `default` (S7 102, Modbus 502)."""
    return Property(int, default, on_write="_settings_written", minimum=1, maximum=65535, doc=doc)


class LinkClient(
    ErrorReporting, OperationRunner, HostAlias, metaclass=SharedBase, register=False, shared=True
):
    """Base of client objects: one link to a peer, kept up while wanted (see the module)."""

    __slots__ = (
        "_worker",
        "_reconnector",
        "_link",
        "_epoch",
        "_want",
        "_post",
        "_loop",
        "_probe",
        "_last_io",
        "_stale_seen",
        "_syncing",
        "_stats",
        "_label",
        "_restart_posted",
        "_variables",
        "_closing",
    )

    #: The spec's other name of `hostname`, if the protocol has one (`host_alias_properties`).
    host_alias: ClassVar[str] = ""
    #: Seconds between checks of an idle link; None for a protocol that has no probe.
    probe_interval: ClassVar[float | None] = PROBE_INTERVAL
    #: What `_link_settings()` raises for settings that can not work (reported, no connect).
    invalid_settings: ClassVar[tuple[type[Exception], ...]] = (ValueError,)
    #: What `_not_connected()` returns: a failure the worker did not report as a loss.
    not_connected_error: ClassVar[type[OSError]] = NotConnectedError
    #: True for a type whose `state` has a closing step (Qt's Closing, c104's
    #: OpenAwaitClosed): `_closing` is true while disconnectFromHost lets an open link go,
    #: and `_closed()` runs once the worker has let go of it.
    has_closing_state: ClassVar[bool] = False

    autoConnect = Property(
        bool,
        True,
        on_write="_auto_connect_written",
        doc="Connect automatically on start, and reconnect after connection errors.",
    )
    connected = Property(
        bool,
        False,
        serializable=False,
        on_write="_connected_written",
        doc="Whether the client is connected; write true/false to connect or disconnect.",
    )
    hostname = Property(
        str, "", on_write="_settings_written", doc="The hostname or IP address of the peer."
    )
    timeout = Property(
        int,
        3000,
        unit="ms",
        on_write="_settings_written",
        minimum=1,
        doc="incore extension: how long to wait for a connection and for each answer of the peer.",
    )
    reconnectInterval = Property(
        int,
        100,
        unit="ms",
        minimum=MIN_RECONNECT_INTERVAL,
        on_write="_backoff_written",
        doc="incore extension: the wait before the first reconnect "
        "after a connection error; each further attempt waits "
        "twice as long, up to maxReconnectInterval.",
    )
    maxReconnectInterval = Property(
        int,
        5000,
        unit="ms",
        minimum=MIN_RECONNECT_INTERVAL,
        on_write="_backoff_written",
        doc="incore extension: the longest wait between reconnect "
        "attempts (not less than reconnectInterval), so a "
        "peer that is back is found within about this "
        "long.",
    )

    droppedReplies = Property(
        int,
        0,
        readonly=True,
        doc="incore extension: replies dropped as answers to earlier requests (a duplicate, "
        "or one that came after its request gave up), since the client was made.",
    )

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._worker: ClientWorker | None = None
        self._reconnector: Reconnector | None = None
        self._closing = False
        self._link: Any = None
        self._epoch = 0
        self._want = False
        self._post: Callable[..., None] | None = None
        self._loop: Any = None
        self._probe: TimerHandle | None = None
        self._last_io = 0.0
        self._stale_seen = 0  # the current link's `stale` count, as far as it was reported
        self._syncing = False  # while hostname and its alias are made equal
        self._stats = RequestStats()  # what its requests did (operations.py; metrics read it)
        self._label = type(self).__name__
        self._restart_posted = False
        self._variables: ClientVariables = self._make_variables()
        super().__init__(parent, **properties)

    # -- the protocol's hooks ----------------------------------------------------------------
    def _make_variables(self) -> ClientVariables:
        """The host of this client's variables (made before any property is written)."""
        raise NotImplementedError

    def _link_settings(self) -> Any:
        """Loop thread: what to connect to (`host`, `port`, `timeout` in seconds, and what
        the handshake needs), captured when connecting starts: the worker never reads a
        property."""
        raise NotImplementedError

    def _open_link(self, stream: BlockingStream, settings: Any) -> Any:
        """Worker thread: the handshake on a fresh stream; the link it returns (with a
        `closed` attribute) carries every later request. Raising fails the attempt."""
        raise NotImplementedError

    def _close_link(self, link: Any) -> None:
        """Worker thread: say goodbye before the stream is closed (default: nothing)."""

    def _probe_link(self, link: Any) -> None:
        """Worker thread: raise an OSError if the idle link is dead (default: nothing)."""

    def _link_up(self, link: Any) -> None:
        """Loop thread: the link is up, `connected` is about to turn true."""

    def _describe_failure(self, exc: BaseException) -> tuple[int, str, str]:
        """(error number, its text, details) of any failure."""
        raise NotImplementedError

    def _invalid_settings(self, detail: str) -> BaseException:
        return ValueError(detail)

    def _not_connected(self) -> OSError:
        """What an operation fails with when there is no link (nothing was sent)."""
        return self.not_connected_error(f"{self._label}: not connected")

    # -- InCore methods --------------------------------------------------------------------
    @method
    def connectToHost(self) -> None:
        """Connect to the peer (and keep reconnecting while autoConnect is true)."""
        self._want = True
        # A connection that is up stays as it is. `connected` is the loop's word for it: right
        # after disconnectFromHost the worker may not have released the old link yet.
        if self.isLive and not (self.connected and self._has_link()):
            self._start()

    @method
    def disconnectFromHost(self) -> None:
        """Close the connection and stop reconnecting until connectToHost()."""
        worker = self._worker
        closing = self.has_closing_state and self.connected and worker is not None
        self._closing = closing = closing and self.isLive
        try:
            self._want = False
            self._stop_connecting()
            if worker is not None:
                worker.call(self._release_link)
                worker.close()
            self._set_connected(False, f"{self._label}: disconnected" if self.isLive else "")
        finally:
            self._closing = False
        if closing and worker is not None:
            worker.call(lambda: None, then=lambda _f: self._closed())

    def _closed(self) -> None:
        """The worker has let go of a link that disconnectFromHost closed while it was
        open: a type with a closing state leaves it here."""

    # -- the VariableHost interface (link/host.py) ---------------------------------------------
    def attach_variable(self, var: HostedVariable) -> None:
        self._variables.attach_variable(var)

    def detach_variable(self, var: HostedVariable) -> None:
        self._variables.detach_variable(var)

    def read_variable(self, var: HostedVariable) -> None:
        self._variables.read_variable(var)

    def write_variable(self, var: HostedVariable, raw: bytes) -> None:
        self._variables.write_variable(var, raw)

    # -- what the variable host reads (link/host.py PollingClient) -----------------------------
    @property
    def online(self) -> bool:
        """Connected, with a link that can carry a request now."""
        return bool(type(self).connected.peek(self) and self._has_link())

    def _has_link(self) -> bool:
        """The handshake made a link and it is open (`connected` may not say so yet)."""
        link = self._link
        return link is not None and not link.closed

    @property
    def link_label(self) -> str:
        return self._label

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

    def _check(self) -> Iterator[registry.Problem]:
        """MaxReconnectInterval is not less than reconnectInterval."""
        if self.maxReconnectInterval < self.reconnectInterval:
            yield registry.Problem(
                self,
                "maxReconnectInterval",
                f"{type(self).__name__}.maxReconnectInterval ({self.maxReconnectInterval} ms) "
                f"is less than reconnectInterval ({self.reconnectInterval} ms)",
            )

    # -- connecting ------------------------------------------------------------------------
    def _start(self) -> None:
        """(Re)start connecting with the current settings."""
        self._stop_connecting()
        try:
            if not self.hostname:
                raise self._invalid_settings("hostname is empty")
            settings = self._link_settings()
        except self.invalid_settings as exc:
            self._report_failure(exc)
            return
        self._label = f"{type(self).__name__} {settings.host}:{settings.port}"
        worker = self._ensure_worker()
        epoch = self._epoch

        def connect(then: Callable[[Future], None] | None = None) -> Future:
            return worker.connect(
                settings.host,
                settings.port,
                settings.timeout,
                setup=lambda stream: self._handshake(stream, settings),
                then=then,
            )

        if self.autoConnect:
            rec: Reconnector = Reconnector(
                connect,
                self._loop_post,
                on_connected=lambda link: self._on_connected(epoch, link),
                on_failed=lambda exc, delay: self._on_failed(epoch, exc, delay),
                backoff=self._backoff(),
                name=self._label,
            )
            self._reconnector = rec
            rec.start()
        else:
            connect(then=lambda fut: self._connect_done(epoch, fut))

    def _backoff(self) -> Backoff:
        """The delays between attempts: reconnectInterval, doubling, maxReconnectInterval."""
        first = self.reconnectInterval / 1000.0
        return Backoff(
            initial=first, factor=2.0, maximum=max(first, self.maxReconnectInterval / 1000.0)
        )

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
            self._worker = self._make_worker(max(self.timeout, 1) / 1000.0)
        return self._worker

    def _make_worker(self, io_timeout: float) -> ClientWorker:
        """The worker thread that owns the link. A protocol whose peer speaks unprompted
        (IEC 104's spontaneous frames) returns a `ListeningWorker` with its `on_event`."""
        return ClientWorker(
            self._label, self._loop_post, on_lost=self._on_lost, io_timeout=io_timeout
        )

    def _loop_post(self, fn: Callable[..., Any], *args: Any) -> None:
        post = self._post or get_loop().post
        post(fn, *args)

    def _handshake(self, stream: BlockingStream, settings: Any) -> Any:
        """On the worker thread: the protocol's handshake; the link serves every later job."""
        link = self._open_link(stream, settings)
        self._link = link
        self._stale_seen = 0
        return link

    def _release_link(self) -> None:
        """On the worker thread: say goodbye before the stream is closed."""
        link, self._link = self._link, None
        if link is not None and not link.closed:
            self._close_link(link)

    def _on_connected(self, epoch: int, link: Any) -> None:
        if epoch != self._epoch or self.isShutDown:
            return
        engine.run_on_owner(self._link_is_up, link)

    def _link_is_up(self, link: Any) -> None:
        """One wave: what the handshake learnt, connected, the error cleared."""
        self._link_up(link)
        self._set_connected(True)
        if self.error:
            self._clear_error()
        self._arm_probe()
        self._variables.resume()

    def _on_failed(self, epoch: int, exc: BaseException, retry_in: float) -> None:
        if epoch != self._epoch or self.isShutDown:
            return
        self._link_failed(exc, f"retry in {retry_in:.2f} s")

    def _connect_done(self, epoch: int, fut: Future) -> None:
        if epoch != self._epoch or self.isShutDown or fut.cancelled():
            return
        exc = fut.exception()
        if exc is None:
            self._on_connected(epoch, fut.result())
        else:
            self._link_failed(exc)

    def _on_lost(self, exc: BaseException) -> None:
        """The worker lost the connection (an I/O error): report, then reconnect if wanted."""
        if self.isShutDown:
            return
        self._link_failed(exc)
        if self._reconnector is not None:
            self._reconnector.connection_lost()

    def _link_failed(self, exc: BaseException, more: str = "") -> None:
        """The link is down because of `exc`. One wave: `connected` false, the error, and
        the variables Bad with the error text (without `more`, which changes on every
        retry), so a handler of any of them sees all of them."""
        engine.run_on_owner(self._apply_link_failure, exc, more)

    def _apply_link_failure(self, exc: BaseException, more: str) -> None:
        self._set_connected(False, self._failure_text(exc))
        self._report_failure(exc, more)

    def _set_connected(self, value: bool, reason: str = "") -> None:
        if not value:
            if self._probe is not None:
                self._probe.cancel()
                self._probe = None
            if reason:
                self._variables.link_down(reason)
        self._update("connected", value)

    def _failure_text(self, exc: BaseException, more: str = "") -> str:
        """The errorString of a failure, "text (detail; more)", as every client words it."""
        _, text, detail = self._describe_failure(exc)
        detail = f"{detail}; {more}" if detail and more else detail or more
        return f"{text} ({detail})" if detail else text

    def _report_failure(self, exc: BaseException, more: str = "") -> None:
        self._report_error(self._describe_failure(exc)[0], self._failure_text(exc, more))

    # -- liveness of an idle connection ------------------------------------------------------
    def _arm_probe(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        if self.probe_interval is not None:
            self._probe = get_loop().call_later(self.probe_interval, self._probe_tick)

    def _probe_tick(self) -> None:
        self._probe = None
        worker = self._worker
        if worker is None or not self.connected or self.isShutDown:
            return
        if time.monotonic() - self._last_io >= (self.probe_interval or 0.0):
            worker.call(self._probe_now)
        self._arm_probe()

    def _probe_now(self) -> None:
        link = self._link
        if link is not None and not link.closed:
            self._probe_link(link)  # raises (an OSError) when the peer has gone: reported

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

    def _backoff_written(self, _value: int) -> None:
        """New intervals count from the next wait on (a wait under way runs out)."""
        rec = self._reconnector
        if rec is not None:
            rec.backoff = self._backoff()

    def _restart(self) -> None:
        self._restart_posted = False
        if self.isShutDown or not self._want:
            return
        self._set_connected(False, f"{self._label}: reconnecting with new settings")
        self._start()
