"""A worker's turn with one connection: open it, read, call the handler, give it back.

While a client keeps sending, its worker stays in a blocking recv() on its socket and
answers from there: one recv and one send per request, the same two system calls (and no
more Python) than a thread of its own would cost, which is what a busy client needs. The
socket's SO_RCVTIMEO is the server's `linger`: a recv that stays empty that long means
the client went quiet, and the connection goes back to the hub, which waits on all idle
connections at once. A worker also gives its connection back after a request when other
connections wait for a worker, so a few busy clients cannot starve the rest. A client whose
last linger passed in silence (one that polls every 100 ms, say) is given back after each
request instead, sparing a worker wake-up at the end of every linger, until it speaks again
within a linger of being given back. A worker that lingers takes the socket out of the
hub's epoll set until it parks it again (`Hub.unwatch`): a registration, even a disarmed
one, costs a kernel callback per arriving segment: an S7 read cost 1.5-3.5 % less server
CPU without it (bench/s7.py's alternating turns). A connection parked after each request
keeps its registration (one epoll_ctl per request, not two).

Handlers with timers (`deadline()`/`timer_expired(now)`) are served the same way; their
recv timeout shrinks to the deadline when that is nearer than the linger, so a timer fires
on time on a busy connection too. The hub fires it for a parked one. Their worker waits with
poll() on the socket and its wake-up, and it may spin briefly first (transport/spin.py's
`RequestSpinner`, per connection): a controlling station that sends its next command as
soon as the last is confirmed finds the worker awake, which gave a quarter more IEC 104
command round trips here; while spins find no request the worker sleeps at once.
"""

from __future__ import annotations

import logging
import math
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from incore.transport.server.connection import Connection
from incore.transport.sockets import WakeUp, set_kernel_timeout, tune
from incore.transport.spin import RequestSpinner

__all__ = ["serve", "SERVER_RECV_SIZE", "READ", "START", "TIMER"]

log = logging.getLogger("incore.transport.tcp_server")

#: One recv() per request: larger than any frame of the protocols served here (an S7 PDU
#: is at most 960 bytes, Modbus and IEC 104 frames about 260), so a request is one read,
#: and small enough that the buffer CPython allocates and shrinks per read stays cheap
#: (a 64 KiB one costs a large malloc every time: 0.4 us of the ~3 us a request takes).
SERVER_RECV_SIZE = 4096

#: Why a worker gets a connection: it is readable, it is new, or its handler's deadline came.
READ, START, TIMER = 0, 1, 2

_PARKED = object()  # _read returns it when the connection went back to the hub


class _Pool(Protocol):
    queue: deque


class Hub(Protocol):
    """What a worker needs of the hub (hub.py)."""

    name: str
    linger: float
    io_timeout: float
    factory: Callable[[Connection], Any]
    pool: _Pool

    def park(self, conn: Connection) -> bool: ...

    def unwatch(self, conn: Connection) -> None: ...

    def release(self, conn: Connection, handler: Any, error: BaseException | None) -> None: ...


def serve(hub: Hub, conn: Connection, why: int) -> None:
    """Serve `conn` until it falls quiet, others wait, or it ends (a pool task)."""
    handler = conn._handler
    if handler is None:
        handler = _open(hub, conn)
        if handler is None:
            return
    error: BaseException | None = None
    try:
        if conn._timed:
            conn._due = handler.deadline()
            _fire_if_due(conn, handler)
        if why != READ and hub.pool.queue and not conn._shut and hub.park(conn):
            return  # nothing known to read, and others wait: do not linger on it
        outcome = _read(hub, conn, handler)
        if outcome is _PARKED:
            return
        error = outcome
    except Exception as exc:
        error = exc
        log.warning("%s: %r closed: its handler raised %r", hub.name, conn, exc, exc_info=True)
    hub.release(conn, handler, error)


def _open(hub: Hub, conn: Connection) -> Any:
    """Set the new socket up and make its handler (None if that failed: released)."""
    return _make_handler(hub, conn) if _prepare(hub, conn) else None


def _prepare(hub: Hub, conn: Connection) -> bool:
    """Set the new socket up: blocking, its waits bounded by the kernel (False if that
    failed, or it was closed before any worker got to it: released)."""
    if conn._shut:  # closed before any worker got to it (stop, handshake timeout)
        hub.release(conn, None, None)
        return False
    sock = conn._sock
    try:
        sock.settimeout(None)  # blocking, with the kernel bounding the waits:
        set_kernel_timeout(sock, socket.SO_RCVTIMEO, hub.linger)  # recv: the linger
        set_kernel_timeout(sock, socket.SO_SNDTIMEO, hub.io_timeout)  # send: io_timeout
        conn._recv_timeout = hub.linger
        tune(sock)
    except OSError as exc:
        hub.release(conn, None, exc)
        return False
    return True


def _make_handler(hub: Hub, conn: Connection) -> Any:
    """Run the handler factory (None if it raised: released)."""
    try:
        handler = hub.factory(conn)
    except Exception as exc:
        if not isinstance(exc, OSError):
            log.warning(
                "%s: %r closed: the handler factory raised %r", hub.name, conn, exc, exc_info=True
            )
        hub.release(conn, None, exc)
        return None
    conn._handler = handler
    conn._timed = callable(getattr(handler, "deadline", None)) and callable(
        getattr(handler, "timer_expired", None)
    )
    return handler


def _read(hub: Hub, conn: Connection, handler: Any) -> Any:
    """The busy loop: _PARKED, or the error that ended the connection (None: orderly)."""
    if conn._timed:
        return _read_timed(hub, conn, handler)
    recv = conn._sock.recv
    received = handler.data_received
    waiting = hub.pool.queue
    flow = conn._flow  # None unless a trace runs
    while not conn._shut:
        try:
            data = recv(SERVER_RECV_SIZE)
        except (BlockingIOError, TimeoutError):  # the linger passed in silence
            conn._quiet = True
            if hub.park(conn):
                return _PARKED
            continue  # the server stops: the connection is closed, the loop ends
        except OSError as exc:
            return None if conn._shut else exc  # our own close() is not news
        if not data:
            return None
        if flow is not None:
            flow.received(data)
        received(data)
        if (waiting or conn._quiet) and hub.park(conn):
            return _PARKED
        if conn._registered:  # lingering: from here on only this recv waits on the socket
            hub.unwatch(conn)
    return None


def _read_timed(hub: Hub, conn: Connection, handler: Any) -> Any:
    """`_read` for a handler with timers, which another thread can give work at any time
    (`Connection.reschedule`: an IEC 104 station's loop queues an answer): the worker waits
    on the socket and on its own wake-up, so that work goes out at once, not after the
    linger. One poll() per wait more than `_read`; handlers without timers never pay it."""
    sock = conn._sock
    recv = sock.recv
    received = handler.data_received
    waiting = hub.pool.queue
    flow = conn._flow
    waker = _worker_waker()
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    poller.register(waker.fileno(), select.POLLIN)
    sock_fd = sock.fileno()
    spinner = RequestSpinner()
    buf = memoryview(bytearray(SERVER_RECV_SIZE)) if spinner.budget else None
    conn._waker = waker
    try:
        while not conn._shut:
            conn._due = handler.deadline()  # read after _waker is set: no wake is missed
            if _fire_if_due(conn, handler):
                continue
            wait = hub.linger
            due = conn._due
            if due is not None:
                wait = min(wait, max(due - time.monotonic(), 0.0))
            data = None
            if wait > 0 and buf is not None:
                try:
                    size = spinner.poll(sock, buf)
                except OSError as exc:
                    return None if conn._shut else exc
                if size is not None:
                    data = bytes(buf[:size])
            if data is None:
                ready = poller.poll(math.ceil(wait * 1000))
                if not ready:  # the linger passed in silence
                    if _fire_if_due(conn, handler):
                        continue
                    conn._waker = None  # before parking: the hub reads the deadline itself
                    if hub.park(conn):
                        return _PARKED
                    conn._waker = waker
                    continue
                if any(fd != sock_fd for fd, _ in ready):
                    waker.drain()
                if not any(fd == sock_fd for fd, _ in ready):
                    continue
                try:
                    data = recv(SERVER_RECV_SIZE)
                except (BlockingIOError, TimeoutError):
                    continue
                except OSError as exc:
                    return None if conn._shut else exc
            if not data:
                return None
            if flow is not None:
                flow.received(data)
            received(data)
            if waiting:
                conn._waker = None
                if hub.park(conn):
                    return _PARKED
                conn._waker = waker
        return None
    finally:
        conn._waker = None


_local = threading.local()


def _worker_waker() -> WakeUp:
    """The wake-up of the worker thread calling (made on its first timed connection)."""
    waker = getattr(_local, "waker", None)
    if waker is None:
        waker = _local.waker = WakeUp()
    return waker


def _fire_if_due(conn: Connection, handler: Any) -> bool:
    """Call timer_expired if the handler's deadline has come; True if it was called."""
    due = conn._due
    if due is None:
        return False
    now = time.monotonic()
    if now < due:
        return False
    handler.timer_expired(now)
    conn._due = handler.deadline()
    return True


def _bound_recv(hub: Hub, conn: Connection) -> None:
    """Recv waits at most the linger, or until the handler's deadline if that is nearer."""
    wait = hub.linger
    due = conn._due
    if due is not None:
        wait = min(wait, max(due - time.monotonic(), 0.001))
    if wait != conn._recv_timeout:
        set_kernel_timeout(conn._sock, socket.SO_RCVTIMEO, wait)
        conn._recv_timeout = wait
