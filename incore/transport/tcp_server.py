"""A TCP server for many connections and bad peers: one hub thread, a bounded worker pool.

The server knows nothing of any protocol's bytes: it hands raw chunks to a
`ConnectionHandler` created per connection by the caller's factory. How it is built
(docs/dev/transport.md has the measurements):

- the hub (server/hub.py) holds the listener and every idle connection in one epoll set,
  accepts in batches from a deep listen queue, and keeps every timeout;
- a readable connection goes to a worker of a bounded pool (server/pool.py), which serves
  it with blocking reads while it stays busy (server/serving.py): a busy client costs what
  a thread of its own would, an idle one a dictionary entry, and the thread count is
  bounded whatever the number of clients. Handlers may block their worker (S7's lockArea);
  the pool grows, to a bound, when every worker is stuck;
- bad peers are bounded: a handshake timeout (the handler calls
  `Connection.mark_established()` when its protocol's handshake is done), an optional
  idle timeout, a total deadline per send (a peer that stops reading is dropped, and
  logged), and at max_connections a newcomer first takes the place of a connection that
  never completed its handshake. Refusals and timeouts are logged once per episode;
- TLS (`ssl_context`): each connection's handshake runs on the workers a step at a time
  (server/tls_serving.py), and the handler sees plaintext exactly as without TLS.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable

from incore.transport.server.connection import Connection, ConnectionHandler, TimedHandler
from incore.transport.server.hub import Hub, ServerConfig
from incore.transport.server.serving import SERVER_RECV_SIZE
from incore.transport.server.tls_connection import TlsConnection
from incore.transport.server.tls_serving import TLS_HANDSHAKE_TIMEOUT
from incore.transport.sockets import Address, ConnectionClosedError, listen_backlog

__all__ = [
    "Connection",
    "ConnectionHandler",
    "TimedHandler",
    "TcpServer",
    "TlsConnection",
    "TLS_HANDSHAKE_TIMEOUT",
    "ConnectionClosedError",
    "ListenError",
    "SERVER_RECV_SIZE",
]

log = logging.getLogger(__name__)


class ListenError(OSError):
    """The server could not bind or listen (errno kept: EADDRINUSE, EACCES, ...); `reason`
    is the system's words for it, without the address."""

    reason: str = ""


class TcpServer:
    """Accepts TCP connections and serves them from a hub thread and a worker pool.

    `handler_factory(connection)` runs on a worker before any data is read; if it raises,
    that connection is closed. `on_rejected(peer)` runs on the hub thread for every client
    refused at `max_connections` and must not block.

    Timeouts (seconds): `io_timeout` bounds each send in total; `handshake_timeout`
    (None: none) closes a connection whose handler has not called `mark_established()`
    by then; `idle_timeout` (None: none) closes one that sent nothing for that long.
    Up to `workers` threads serve connections (one at first, another whenever connections
    wait with no worker free), up to `max_workers` while handlers block;
    `linger` is how long a worker waits on a quiet connection before parking it.

    `ssl_context` (a server-side `ssl.SSLContext`, see incore.transport.tls) serves TLS:
    the handler factory runs once the TLS handshake is done, and the connections are
    `TlsConnection`s (`peer_certificate()`). The handshake timeout then covers the TLS
    handshake too; without one, TLS handshakes get `TLS_HANDSHAKE_TIMEOUT` and a
    connection counts as established when its TLS handshake is done. A failed handshake
    (a refused certificate, a client not speaking TLS) is logged once per episode, reported
    to `on_tls_error(peer, error)` (on a worker; it must not block), and closed.
    """

    def __init__(
        self,
        handler_factory: Callable[[Connection], ConnectionHandler],
        host: str = "0.0.0.0",
        port: int = 0,
        max_connections: int = 0,
        name: str = "tcp",
        on_rejected: Callable[[Address], None] | None = None,
        *,
        backlog: int | None = None,
        io_timeout: float = 10.0,
        handshake_timeout: float | None = None,
        idle_timeout: float | None = None,
        workers: int = 4,
        max_workers: int = 64,
        linger: float = 0.01,
        portable_poller: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        on_tls_error: Callable[[Address, ssl.SSLError], None] | None = None,
    ) -> None:
        if max_connections < 0:
            raise ValueError("max_connections must be >= 0 (0 means unlimited)")
        for what, value in (
            ("io_timeout", io_timeout),
            ("linger", linger),
            ("handshake_timeout", handshake_timeout or 1),
            ("idle_timeout", idle_timeout or 1),
        ):
            if not 0 < value < math.inf:
                raise ValueError(f"{what} must be > 0 seconds")
        if not 1 <= workers <= max_workers:
            raise ValueError("need 1 <= workers <= max_workers")
        tls_establishes = False
        if ssl_context is not None:
            if ssl_context.protocol == ssl.PROTOCOL_TLS_CLIENT:
                raise ValueError("ssl_context is a client context; a server needs a server one")
            if not handshake_timeout:
                handshake_timeout, tls_establishes = TLS_HANDSHAKE_TIMEOUT, True
        self.name = name
        self._host = host
        self._port = port
        self._config = ServerConfig(
            name=name,
            factory=handler_factory,
            max_connections=max_connections,
            on_rejected=on_rejected,
            io_timeout=io_timeout,
            linger=linger,
            handshake_timeout=handshake_timeout or None,
            idle_timeout=idle_timeout or None,
            workers=workers,
            max_workers=max_workers,
            backlog=backlog if backlog is not None else listen_backlog(),
            portable=portable_poller,
            ssl_context=ssl_context,
            on_tls_error=on_tls_error,
            tls_establishes=tls_establishes,
        )
        self._hub: Hub | None = None
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
        """The bound (host, port) while running, so `port=0` users learn the port."""
        return self._address

    @property
    def running(self) -> bool:
        return self._hub is not None

    @property
    def connection_count(self) -> int:
        hub = self._hub
        return len(hub.conns) if hub is not None else 0

    def connections(self) -> list[Connection]:
        """A snapshot of the open connections."""
        hub = self._hub
        return hub.connections() if hub is not None else []

    def threads(self) -> list[threading.Thread]:
        """The server's threads now: the hub and the workers."""
        hub = self._hub
        return [hub.thread, *hub.pool.threads()] if hub is not None else []

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Address:
        """Bind and listen, then start serving; returns the bound address.

        Binding happens on the caller's thread so a port in use is an immediate ListenError
        (an OSError, errno preserved) rather than a log line from a thread.
        """
        if self._hub is not None:
            raise RuntimeError(f"{self.name}: server already started")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        try:
            listener = socket.create_server(
                (self._host, self._port), family=family, backlog=self._config.backlog
            )
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            error = ListenError(
                exc.errno, f"{self.name}: cannot listen on {self._host}:{self._port}: {reason}"
            )
            error.reason = reason
            raise error from exc
        try:
            listener.setblocking(False)
            bound = listener.getsockname()
            hub = Hub(self._config, listener)
        except BaseException:  # e.g. no descriptor left for the hub's wake-up sockets
            listener.close()
            raise
        self._hub = hub
        self._address = (bound[0], bound[1])
        self._hub.thread.start()
        log.info("%s: listening on %s:%d", self.name, *self._address)
        return self._address

    def stop(self, timeout: float = 2.0) -> bool:
        """Close the listener and every connection, then join every thread.

        Returns within about `timeout` seconds; True if every thread ended. A handler
        blocked without watching its connection (see `Connection.wait_closed`) keeps its
        (daemon) worker alive past the bound: that is logged and reported as False. Safe
        to call from a handler; the calling thread is not joined.
        """
        hub = self._hub
        if hub is None:
            return True
        deadline = time.monotonic() + timeout
        hub.stop(deadline)
        if hub.thread is not threading.current_thread():
            hub.thread.join(max(0.0, deadline - time.monotonic()))
        stuck = hub.pool.join(deadline)
        if hub.thread.is_alive() and hub.thread is not threading.current_thread():
            stuck.insert(0, hub.thread.name)
        self._hub = None
        self._address = None
        if stuck:
            log.warning(
                "%s: threads still running after stop(%.1fs): %s",
                self.name,
                timeout,
                ", ".join(stuck),
            )
            return False
        return True
