"""A threaded TCP server: one listener thread, one worker thread per connection.

Per-connection threads are deliberate: a protocol handler may block its own connection
(S7's lockArea, a read that waits for the application) without stalling other clients,
and a slow or dead client only ever costs its own thread. The server knows nothing of
any protocol's bytes: it hands raw chunks to a ``ConnectionHandler`` created per
connection by the caller's factory.
"""

from __future__ import annotations

import itertools
import logging
import selectors
import socket
import threading
import time
from typing import Callable, Protocol

from incore.transport.handover import call_quietly
from incore.transport.sockets import (Address, ConnectionClosedError, sendall,
                                      set_kernel_timeout, shutdown_quietly, tune,
                                      use_kernel_timeouts)

__all__ = ["Connection", "ConnectionHandler", "TcpServer", "ConnectionClosedError"]

log = logging.getLogger(__name__)

#: One recv() per request: larger than any frame of the protocols served here (an S7 PDU
#: is at most 960 bytes, Modbus and IEC 104 frames about 260), so a request is one read,
#: and small enough that the buffer CPython allocates and shrinks per read stays cheap
#: (a 64 KiB one costs a large malloc every time: 0.4 us of the ~3 us a request takes).
SERVER_RECV_SIZE = 4096


class ConnectionHandler(Protocol):
    """What the server drives for one connection; both methods run on its thread."""

    def data_received(self, data: bytes) -> None:
        """Consume a chunk of the stream (chunk boundaries carry no meaning)."""

    def connection_lost(self, exc: BaseException | None) -> None:
        """Called exactly once at the end; ``exc`` is None for an orderly close."""


class Connection:
    """One accepted connection. ``send`` and ``close`` may be called from any thread."""

    def __init__(self, sock: socket.socket, peer: Address, conn_id: int) -> None:
        self.peer: Address = peer
        self.id: int = conn_id
        self._sock = sock
        self._send_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._closed = threading.Event()
        self._close_callbacks: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Connection #{self.id} {self.peer[0]}:{self.peer[1]} {state}>"

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def send(self, data: bytes) -> None:
        """Send all of ``data`` or raise; a failed send closes the connection.

        Sends from several threads are serialised so frames never interleave. A peer
        that does not drain its window within the server's ``io_timeout`` gets
        SendTimeoutError and is dropped: after a partial send the stream is corrupt.
        """
        if self._closed.is_set():
            raise ConnectionClosedError(f"connection #{self.id} is closed")
        try:
            with self._send_lock:
                sendall(self._sock, data, self.peer)
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        """Close the connection; idempotent. Its thread ends and calls connection_lost."""
        with self._state_lock:
            if self._closed.is_set():
                return
            self._closed.set()
            callbacks, self._close_callbacks = self._close_callbacks, []
        shutdown_quietly(self._sock)  # wakes the connection's thread blocked in recv
        for fn in callbacks:
            call_quietly(f"close callback of {self!r}", fn)

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block until the connection is closed; True if it is.

        A handler that must block (waiting for a lock or for the application) should
        wait on this, or on something a close callback signals, so ``stop()`` can end
        its thread: Python threads cannot be interrupted from outside.
        """
        return self._closed.wait(timeout)

    def add_close_callback(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` once, on the closing thread, when the connection closes.

        Meant to wake a handler blocked on a Condition of its own; runs immediately if
        the connection is already closed.
        """
        with self._state_lock:
            if not self._closed.is_set():
                self._close_callbacks.append(fn)
                return
        call_quietly(f"close callback of {self!r}", fn)

    def _release(self) -> None:
        """Close and free the socket; only the connection's own thread calls this."""
        self.close()
        with self._send_lock:  # never free the descriptor under a concurrent sendall
            self._sock.close()


class TcpServer:
    """Accepts TCP connections and serves each on its own thread.

    ``handler_factory(connection)`` is called on the connection's thread before any
    data is read; if it raises, that connection is closed. ``on_rejected(peer)`` runs
    on the listener thread when ``max_connections`` is exceeded and must not block.
    """

    def __init__(self, handler_factory: Callable[[Connection], ConnectionHandler],
                 host: str = "0.0.0.0", port: int = 0, max_connections: int = 0,
                 name: str = "tcp", on_rejected: Callable[[Address], None] | None = None,
                 *, backlog: int = 128, io_timeout: float = 10.0) -> None:
        if max_connections < 0:
            raise ValueError("max_connections must be >= 0 (0 means unlimited)")
        if io_timeout <= 0:
            raise ValueError("io_timeout must be > 0")
        self.name = name
        self._factory = handler_factory
        self._host = host
        self._port = port
        self._max = max_connections
        self._on_rejected = on_rejected
        self._backlog = backlog
        self._io_timeout = io_timeout
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._conns: dict[int, Connection] = {}
        self._threads: set[threading.Thread] = set()
        self._listener: threading.Thread | None = None
        self._wake_w: socket.socket | None = None
        self._stopping = threading.Event()
        self._address: Address | None = None

    def __repr__(self) -> str:
        where = f"{self._address[0]}:{self._address[1]}" if self._address else "stopped"
        return f"<TcpServer {self.name} {where} connections={self.connection_count}>"

    def __enter__(self) -> TcpServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- public state --------------------------------------------------------------

    @property
    def address(self) -> Address | None:
        """The bound (host, port) while running, so ``port=0`` users learn the port."""
        return self._address

    @property
    def running(self) -> bool:
        return self._listener is not None and not self._stopping.is_set()

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._conns)

    def connections(self) -> list[Connection]:
        """A snapshot of the open connections."""
        with self._lock:
            return list(self._conns.values())

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Address:
        """Bind and listen, then start accepting; returns the bound address.

        Binding happens on the caller's thread so a port in use is an immediate OSError
        (errno preserved) rather than a log line from a thread.
        """
        if self._listener is not None:
            raise RuntimeError(f"{self.name}: server already started")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        try:
            listener = socket.create_server((self._host, self._port), family=family,
                                            backlog=self._backlog)
        except OSError as exc:
            raise OSError(exc.errno, f"{self.name}: cannot listen on "
                          f"{self._host}:{self._port}: {exc.strerror or exc}") from exc
        listener.setblocking(False)
        wake_r, self._wake_w = socket.socketpair()
        bound = listener.getsockname()
        self._address = (bound[0], bound[1])
        self._stopping.clear()
        self._listener = threading.Thread(target=self._accept_loop, args=(listener, wake_r),
                                          name=f"{self.name}-listener", daemon=True)
        self._listener.start()
        log.info("%s: listening on %s:%d", self.name, *self._address)
        return self._address

    def stop(self, timeout: float = 2.0) -> bool:
        """Close the listener and every connection, then join every thread.

        Returns within about ``timeout`` seconds; True if every thread ended. A handler
        blocked without watching its connection (see ``Connection.wait_closed``) keeps
        its (daemon) thread alive past the bound: that is logged and reported as False.
        Safe to call from a handler; the calling thread is not joined.
        """
        listener = self._listener
        if listener is None:
            return True
        deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"\0")
            except OSError:
                pass  # listener already gone
        for conn in self.connections():
            conn.close()
        with self._lock:
            threads = [listener, *self._threads]
        me = threading.current_thread()
        for thread in threads:
            if thread is not me:
                thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive() and t is not me]
        if self._wake_w is not None:
            self._wake_w.close()
            self._wake_w = None
        self._listener = None
        self._address = None
        if stuck:
            log.warning("%s: threads still running after stop(%.1fs): %s",
                        self.name, timeout, ", ".join(stuck))
            return False
        return True

    # -- threads ---------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket, wake_r: socket.socket) -> None:
        """Wait on the listener and a wake-up socket, so stop() never needs a timeout poll."""
        sel = selectors.DefaultSelector()
        sel.register(listener, selectors.EVENT_READ)
        sel.register(wake_r, selectors.EVENT_READ)
        try:
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.fileobj is wake_r:
                        return
                    self._accept_one(listener)
        finally:
            sel.close()
            listener.close()
            wake_r.close()

    def _accept_one(self, listener: socket.socket) -> None:
        try:
            sock, addr = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # the client gave up before we got to it
        except OSError as exc:
            # e.g. EMFILE: out of descriptors. Pause instead of spinning at 100% CPU.
            log.error("%s: accept failed: %s", self.name, exc)
            self._stopping.wait(0.1)
            return
        peer: Address = (addr[0], addr[1])
        with self._lock:
            rejected = self._stopping.is_set() or (0 < self._max <= len(self._conns))
            if not rejected:
                conn = self._admit(sock, peer)
        if rejected:
            sock.close()
            if not self._stopping.is_set():
                log.warning("%s: rejected %s:%d (max_connections=%d)",
                            self.name, peer[0], peer[1], self._max)
                if self._on_rejected is not None:
                    call_quietly(f"{self.name}: on_rejected", self._on_rejected, peer)
            return
        log.debug("%s: accepted %r", self.name, conn)

    def _admit(self, sock: socket.socket, peer: Address) -> Connection:
        """Register a connection and start its thread; called with ``_lock`` held."""
        sock.setblocking(True)
        if use_kernel_timeouts(sock):  # no poll() before every recv and send
            set_kernel_timeout(sock, socket.SO_SNDTIMEO, self._io_timeout)
        else:
            sock.settimeout(self._io_timeout)
        tune(sock)
        conn = Connection(sock, peer, next(self._ids))
        thread = threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                  name=f"{self.name}-conn-{conn.id}")
        self._conns[conn.id] = conn
        self._threads.add(thread)
        thread.start()
        return conn

    def _serve(self, conn: Connection) -> None:
        """The connection's thread: read, hand chunks to the handler, clean up once."""
        handler: ConnectionHandler | None = None
        error: BaseException | None = None
        recv = conn._sock.recv
        closed = conn._closed.is_set
        try:
            handler = self._factory(conn)
            received = handler.data_received
            while not closed():
                try:
                    data = recv(SERVER_RECV_SIZE)
                except (TimeoutError, BlockingIOError):
                    continue  # idle peer: fine, the timeout only bounds sends
                except OSError as exc:
                    if not conn.closed:  # errors caused by our own close() are not news
                        error = exc
                    break
                if not data:
                    break
                received(data)
        except Exception as exc:
            error = exc
            log.warning("%s: %r closed: %s raised %r", self.name, conn,
                        "handler factory" if handler is None else "handler", exc,
                        exc_info=True)
        finally:
            conn._release()
            with self._lock:
                self._conns.pop(conn.id, None)
            if handler is not None:
                call_quietly(f"{self.name}: connection_lost of {conn!r}",
                             handler.connection_lost, error)
            with self._lock:
                self._threads.discard(threading.current_thread())
