"""One accepted connection, and what a protocol hands the server to drive it.

A `Connection` is shared by three kinds of thread: the worker that serves it (reads, the
handler's callbacks), the hub (timeouts, eviction, stop) and any thread that sends or closes
(the application pushing a frame). So `send` and `close` are safe anywhere, and
everything else the server keeps here is either written by the one thread that owns the
connection at that moment (see hub.py) or a flag whose stale value only costs a wake-up.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any, Protocol

from incore.transport.handover import call_quietly
from incore.transport.sockets import (
    Address,
    ConnectionClosedError,
    SendTimeoutError,
    WakeUp,
    send_within,
    shutdown_quietly,
)
from incore.transport.trace import open_flow

_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)

__all__ = ["Connection", "ConnectionHandler", "TimedHandler"]

log = logging.getLogger("incore.transport.tcp_server")


class ConnectionHandler(Protocol):
    """What the server drives for one connection; one callback at a time, on a worker.

    A handler that keeps timers (IEC 104's t1, t2, t3) also has `deadline()` and
    `timer_expired(now)`: see TimedHandler.
    """

    def data_received(self, data: bytes) -> None:
        """Consume a chunk of the stream (chunk boundaries carry no meaning)."""

    def connection_lost(self, exc: BaseException | None) -> None:
        """Called exactly once at the end; `exc` is None for an orderly close."""


class TimedHandler(ConnectionHandler, Protocol):
    """A handler with timers: the server calls `timer_expired` when its deadline comes.

    `deadline()` is read after every callback (and when `Connection.reschedule()` says
    it changed), also while the connection is idle, so it must be a cheap read that any
    thread may do. `timer_expired(now)` runs like data_received (never at the same time)
    once `time.monotonic()` has reached the deadline; the handler checks which of its
    timers that is.
    """

    def deadline(self) -> float | None:
        """The next time.monotonic() at which `timer_expired` is due, or None."""

    def timer_expired(self, now: float) -> None:
        """A deadline has come; `now` is the time.monotonic() it was seen at."""


class Keeper(Protocol):
    """What a Connection needs of the server that holds it (the hub)."""

    name: str
    io_timeout: float

    def established(self, conn: Connection) -> None: ...

    def reschedule(self, conn: Connection) -> None: ...


class Connection:
    """One accepted connection. `send`, `close`, `mark_established` and
    `reschedule` may be called from any thread."""

    __slots__ = (
        "peer",
        "id",
        "_sock",
        "_fd",
        "_hub",
        "_send_lock",
        "_state_lock",
        "_closed",
        "_close_callbacks",
        "_shut",
        "_handler",
        "_timed",
        "_due",
        "_parked",
        "_parked_at",
        "_quiet",
        "_parked_since",
        "_registered",
        "_established",
        "_accepted_at",
        "_recv_timeout",
        "_send_timeout",
        "_flow",
        "_waker",
    )

    def __init__(
        self,
        sock: socket.socket,
        peer: Address,
        conn_id: int,
        hub: Keeper | None = None,
        accepted_at: float = 0.0,
    ) -> None:
        self.peer: Address = peer
        self.id: int = conn_id
        self._sock = sock
        self._fd = sock.fileno()
        self._hub = hub
        self._send_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._closed = threading.Event()
        self._close_callbacks: list[Callable[[], None]] = []
        self._shut = False  # close() was called: the serving loop stops reading
        self._handler: Any = None
        self._timed = False  # the handler has deadline() and timer_expired()
        self._due: float | None = None  # the handler's deadline as last read
        self._parked = False  # idle in the hub, armed for readiness
        self._parked_at = 0.0
        self._quiet = False  # its last linger passed in silence: park it after each request
        self._parked_since = 0.0
        self._registered = False  # known to the poller
        self._established = False
        self._accepted_at = accepted_at
        self._recv_timeout = 0.0  # the SO_RCVTIMEO the socket has now
        self._send_timeout = hub.io_timeout if hub is not None else 10.0
        self._flow = open_flow(sock, client=False)  # None unless a trace runs (trace.py)
        self._waker: WakeUp | None = None  # while a worker waits on it: how to wake that worker

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Connection #{self.id} {self.peer[0]}:{self.peer[1]} {state}>"

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def established(self) -> bool:
        """The protocol said its handshake is complete (`mark_established`)."""
        return self._established

    #: Whether the bytes pass through TLS (`TlsConnection`), where record boundaries matter.
    encrypted = False

    def send_frames(self, frames: list[bytes]) -> None:
        """Send several whole frames at once, as `send` (one write). Over TLS each frame is
        a record of its own: some peers (lib60870) read one frame per wake-up, and frames
        left over in their TLS buffer would wait for the next bytes to arrive."""
        self.send(b"".join(frames))

    def send(self, data: bytes) -> None:
        """Send all of `data` or raise; a failed send closes the connection.

        Sends from several threads are serialised so frames never interleave. A peer that
        does not take the bytes within the server's `io_timeout` (in total, however it
        trickles) gets SendTimeoutError and is dropped, with a log line: after a partial
        send the stream is corrupt.
        """
        if self._shut:
            raise ConnectionClosedError(f"connection #{self.id} is closed")
        try:
            with self._send_lock:
                if self._flow is not None:
                    self._flow.sent(data)
                send_within(self._sock, data, self._send_timeout, self.peer)
        except OSError as exc:
            self._send_failed(exc, len(data))
            raise

    def send_now(self, data: bytes) -> int:
        """Send what the socket takes of `data` at once, without waiting: the byte count
        (0 also when another thread is sending). For a thread that must never block, such
        as the application's loop: it hands the rest to the connection's worker, which
        sends it before anything else. Not for an encrypted connection (records must not
        be cut). An error closes the connection and raises, as `send` does."""
        if self._shut:
            raise ConnectionClosedError(f"connection #{self.id} is closed")
        lock = self._send_lock
        if not _DONTWAIT or not lock.acquire(False):
            return 0
        try:
            try:
                sent = self._sock.send(data, _DONTWAIT)
            except BlockingIOError:
                sent = 0
            if self._flow is not None and sent:
                self._flow.sent(data[:sent])
            return sent
        except OSError as exc:
            self._send_failed(exc, len(data))
            raise
        finally:
            lock.release()

    def _send_failed(self, exc: OSError, size: int) -> None:
        """A send failed: the stream may hold part of a frame, so the connection ends."""
        if isinstance(exc, SendTimeoutError) and not self._shut:
            log.warning(
                "%s: dropped %s:%d: it did not take a %d-byte send within %g s "
                "(it stopped reading)",
                self._name(),
                *self.peer,
                size,
                self._send_timeout,
            )
        self.close()

    def close(self) -> None:
        """Close the connection; idempotent. Its worker ends it and calls connection_lost."""
        with self._state_lock:
            if self._closed.is_set():
                return
            self._shut = True
            self._closed.set()
            callbacks, self._close_callbacks = self._close_callbacks, []
        if self._flow is not None:
            self._flow.close()
        shutdown_quietly(self._sock)  # wakes a worker blocked in recv, or the hub
        for fn in callbacks:
            call_quietly(f"close callback of {self!r}", fn)

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block until the connection is closed; True if it is.

        A handler that must block (waiting for a lock or for the application) should wait
        on this, or on something a close callback signals, so `stop()` can end its
        worker: Python threads cannot be interrupted from outside.
        """
        return self._closed.wait(timeout)

    def add_close_callback(self, fn: Callable[[], None]) -> None:
        """Call `fn()` once, on the closing thread, when the connection closes.

        Meant to wake a handler blocked on a Condition of its own; runs immediately if the
        connection is already closed.
        """
        with self._state_lock:
            if not self._closed.is_set():
                self._close_callbacks.append(fn)
                return
        call_quietly(f"close callback of {self!r}", fn)

    def mark_established(self) -> None:
        """The protocol's handshake is complete (S7: setup communication answered).

        Until then the server's handshake timeout applies, and at max_connections an
        un-established connection is the first to make room for a newcomer.
        """
        if not self._established:
            self._established = True
            if self._hub is not None:
                self._hub.established(self)

    def peer_certificate(self, binary: bool = False) -> dict | bytes | None:
        """The certificate the peer presented over TLS (`ssl.SSLSocket.getpeercert`'s
        forms), None without TLS or when it sent none."""
        return None

    def reschedule(self) -> None:
        """The handler's `deadline()` changed outside its callbacks (e.g. after a send
        from another thread): the server reads it again."""
        if self._hub is not None:
            self._hub.reschedule(self)

    def _name(self) -> str:
        return self._hub.name if self._hub is not None else "tcp"
