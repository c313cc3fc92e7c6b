"""A worker's turn with a TLS connection: the handshake first, then serving as without TLS.

The handshake runs on the workers, a step at a time, never on the hub: a step feeds what
was received to the TLS layer (tls_connection.py) and sends what it answers. When it
needs more from the client, the worker waits for it at most the linger, as it waits for
a quiet client's next request, and then parks the connection: the hub reports it readable
and any worker takes the next step. So a client that stalls in its handshake costs an
epoll entry, not a worker, until the handshake timeout closes it. A handshake that fails
(a refused certificate, a client that does not speak TLS) is logged once per episode,
answered with TLS's alert, and closed; the handler factory runs only after a successful
handshake, so a handler always sees an authenticated peer and only plaintext.

Why a copy of serving.py's loop instead of a flag in it: the loop without TLS stays
exactly as it was, with no test per request.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from typing import Any, Protocol

from incore.transport.handover import call_quietly
from incore.transport.server.episodes import SharedEpisode
from incore.transport.server.serving import (
    _PARKED,
    READ,
    SERVER_RECV_SIZE,
    Hub,
    _bound_recv,
    _fire_if_due,
    _make_handler,
    _prepare,
)
from incore.transport.server.tls_connection import TlsConnection
from incore.transport.sockets import Address, ConnectionClosedError
from incore.transport.tls import describe_tls_error, is_certificate_refusal

__all__ = ["serve_tls", "TlsRefusals", "TLS_HANDSHAKE_TIMEOUT"]

log = logging.getLogger("incore.transport.tcp_server")

#: Seconds a TLS handshake may take when the server has no handshake timeout of its own.
TLS_HANDSHAKE_TIMEOUT = 10.0

_DONE = object()  # _handshake's outcome when the handshake is complete


class TlsRefusals:
    """The log of failed TLS handshakes, once per episode, in two kinds: certificates
    refused (the client's by us, or ours by the client) and the rest (a client that does
    not speak TLS, no common protocol version or cipher). Workers add, the hub ticks."""

    def __init__(
        self,
        name: str,
        wake: Callable[[], None],
        on_error: Callable[[Address, ssl.SSLError], None] | None,
    ) -> None:
        self.refused = SharedEpisode(
            name,
            "TLS handshake refused: a certificate was not accepted",
            "refused {count} TLS handshake(s) for their certificate in {seconds} s",
            wake=wake,
        )
        self.failed = SharedEpisode(
            name,
            "TLS handshake failed",
            "{count} TLS handshake(s) failed in {seconds} s",
            wake=wake,
        )
        self.episodes = (self.refused, self.failed)
        self._on_error = on_error
        self._name = name

    def add(self, conn: TlsConnection, exc: ssl.SSLError) -> None:
        """A handshake failed with `exc` (on the worker that ran it)."""
        episode = self.refused if is_certificate_refusal(exc) else self.failed
        episode.add(time.monotonic(), f"{conn.peer[0]}:{conn.peer[1]}: {describe_tls_error(exc)}")
        if self._on_error is not None:
            call_quietly(f"{self._name}: on_tls_error", self._on_error, conn.peer, exc)


class TlsHub(Hub, Protocol):
    """What a TLS worker needs of the hub besides serving.py's."""

    ssl_context: ssl.SSLContext
    tls: TlsRefusals
    tls_establishes: bool


def serve_tls(hub: TlsHub, conn: TlsConnection, why: int) -> None:
    """Serve `conn`: its handshake, then like serving.serve (a pool task)."""
    handler = conn._handler
    error: BaseException | None = None
    try:
        if handler is None:
            opened = _open_tls(hub, conn)
            if opened is None:
                return  # parked mid-handshake, or released
            handler, early = opened
            if early:
                if conn._flow is not None:
                    conn._flow.received(early)
                handler.data_received(early)
            why = READ
        if conn._timed:
            conn._due = handler.deadline()
            _fire_if_due(conn, handler)
        if why != READ and hub.pool.queue and not conn._shut and hub.park(conn):
            return
        outcome = _read_tls(hub, conn, handler)
        if outcome is _PARKED:
            return
        error = outcome
    except Exception as exc:
        error = exc
        log.warning("%s: %r closed: its handler raised %r", hub.name, conn, exc, exc_info=True)
    hub.release(conn, handler, error)


def _open_tls(hub: TlsHub, conn: TlsConnection) -> tuple[Any, bytes] | None:
    """Advance the handshake; once done, make the handler: (handler, plaintext that came
    with the handshake), or None (parked, or released)."""
    if conn._tls is None:
        if not _prepare(hub, conn):
            return None
        try:
            conn.start_tls(hub.ssl_context)
        except (ssl.SSLError, ValueError) as exc:
            log.error("%s: cannot start TLS on %r: %s", hub.name, conn, exc)
            hub.release(conn, None, exc)
            return None
    outcome = _handshake(hub, conn)
    if outcome is _PARKED:
        return None
    if outcome is not _DONE:
        hub.release(conn, None, outcome)
        return None
    if hub.tls_establishes:
        conn.mark_established()
    handler = _make_handler(hub, conn)
    if handler is None:
        return None
    try:
        early = conn.decrypt(b"")
    except OSError as exc:
        hub.release(conn, handler, exc)
        return None
    if early is None:  # closed right after the handshake
        hub.release(conn, handler, None)
        return None
    return handler, early


def _handshake(hub: TlsHub, conn: TlsConnection) -> Any:
    """_DONE, _PARKED, or the error that ended the connection (None: closed here)."""
    recv = conn._sock.recv
    raw = b""
    while not conn._shut:
        try:
            conn.handshake_step(raw)
            return _DONE
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as exc:
            if not conn._shut:
                hub.tls.add(conn, exc)
            return exc
        except OSError as exc:  # sending our flight failed: the peer is gone
            return None if conn._shut else exc
        if hub.pool.queue and hub.park(conn):
            return _PARKED  # others wait for a worker: the hub calls us back
        try:
            raw = recv(SERVER_RECV_SIZE)
        except (BlockingIOError, TimeoutError):  # no answer within the linger
            if hub.park(conn):
                return _PARKED
            raw = b""
            continue  # the server stops: the connection is closed, the loop ends
        except OSError as exc:
            return None if conn._shut else exc
        if not raw:
            log.debug("%s: %r closed by the peer during the TLS handshake", hub.name, conn)
            return ConnectionClosedError(f"{conn.peer[0]}:{conn.peer[1]}: closed in handshake")
    return None


def _read_tls(hub: TlsHub, conn: TlsConnection, handler: Any) -> Any:
    """serving._read with a decrypt after each recv: _PARKED or the ending error."""
    recv = conn._sock.recv
    decrypt = conn.decrypt
    received = handler.data_received
    waiting = hub.pool.queue
    timed = conn._timed
    flow = conn._flow  # None unless a trace runs
    while not conn._shut:
        if timed:
            _bound_recv(hub, conn)
        try:
            raw = recv(SERVER_RECV_SIZE)
        except (BlockingIOError, TimeoutError):
            if timed:
                conn._due = handler.deadline()
                if _fire_if_due(conn, handler):
                    continue
            if hub.park(conn):
                return _PARKED
            continue
        except OSError as exc:
            return None if conn._shut else exc
        if not raw:
            return None
        try:
            data = decrypt(raw)
        except OSError as exc:  # a broken record (ssl.SSLError), or the answer to it failed
            return None if conn._shut else exc
        if data is None:
            return None  # the peer's close_notify
        if not data:
            continue  # part of a record: read the rest
        if flow is not None:
            flow.received(data)  # the plaintext
        received(data)
        if timed:
            conn._due = handler.deadline()
            _fire_if_due(conn, handler)
        if waiting and hub.park(conn):
            return _PARKED
    return None
