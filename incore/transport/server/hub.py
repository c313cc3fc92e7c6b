"""The hub: one thread that holds the listener and every idle connection of a TcpServer run.

Why a hub and a pool instead of a thread per connection: a thousand mostly idle clients
would be a thousand threads (memory, scheduler load, and a server whose listener thread
starts a thread per accept falls behind a burst of connects). Here an idle connection costs
a dictionary entry and an epoll registration. The hub waits on all of them, on the listener
and on a wake-up socket at once; a connection that becomes readable goes to a worker (pool.py),
which serves it with plain blocking reads as long as it stays busy (serving.py) and parks
it here again when it falls silent.

The hub also keeps time for every connection: the handshake timeout (accept order is
deadline order, so a FIFO suffices), the idle timeout (park order, again a FIFO), the
handlers' own deadlines (a heap), the end of log episodes and the check that the workers
are not all stuck. Accepts are batched until the listen queue is empty.

Ownership, which is what makes this safe without a lock per request: a parked connection
belongs to the hub, which flips `_parked` off and hands it to exactly one worker; that
worker alone reads and calls the handler until it parks the connection again (under the
hub's lock, arming the poller last) or releases it. Readiness reported for a connection
that is not parked is ignored: arming is level-triggered, so nothing is lost. Any thread
may close a connection (shutdown), which wakes whoever holds it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import socket
import ssl
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from incore.transport.handover import call_quietly
from incore.transport.server.connection import Connection
from incore.transport.server.episodes import Episode
from incore.transport.server.poller import make_poller
from incore.transport.server.pool import WorkerPool
from incore.transport.server.serving import READ, START, TIMER, serve
from incore.transport.server.tls_connection import TlsConnection
from incore.transport.server.tls_serving import TlsRefusals, serve_tls
from incore.transport.sockets import Address, WakeUp

__all__ = ["Hub", "ServerConfig"]

log = logging.getLogger("incore.transport.tcp_server")

#: Seconds without a task taken, while tasks wait, after which the pool grows past `workers`.
STALL = 0.05
#: The same below `workers`, beyond twice the linger (a lingering worker takes the next task
#: when its linger ends, and its linger may have begun just before the tasks came): the
#: worker is busy or blocked, start the next one.
SOFT_STALL = 0.002
#: At max_connections, an un-established connection at least this old (seconds) makes room.
EVICT_AGE = 0.5
#: Seconds the listener rests after accept() failed for want of descriptors (EMFILE).
ACCEPT_PAUSE = 0.1


@dataclass(frozen=True)
class ServerConfig:
    """What a TcpServer run needs to know (see TcpServer for the meaning of each)."""

    name: str
    factory: Callable[[Connection], Any]
    max_connections: int
    on_rejected: Callable[[Address], None] | None
    io_timeout: float
    linger: float
    handshake_timeout: float | None
    idle_timeout: float | None
    workers: int
    max_workers: int
    backlog: int
    portable: bool
    ssl_context: ssl.SSLContext | None = None
    on_tls_error: Callable[[Address, ssl.SSLError], None] | None = None
    tls_establishes: bool = False  # the TLS handshake is the handshake timeout's end


class Hub:
    """The selector thread of one run of a TcpServer (a new one for every start)."""

    def __init__(self, cfg: ServerConfig, listener: socket.socket) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.io_timeout = cfg.io_timeout
        self.linger = cfg.linger
        self.factory = cfg.factory
        self._listener: socket.socket | None = listener
        self._listen_fd = listener.fileno()
        self._wake_up = WakeUp()
        self._poller = make_poller(self._wake, cfg.portable)
        self._poller.watch(self._listen_fd)
        self._poller.watch(self._wake_up.fileno())
        # With TLS, other connections and another serving loop (tls_serving.py); the
        # choice is made here once, so the loop without TLS has no test per request.
        self.ssl_context = cfg.ssl_context
        self.tls_establishes = cfg.tls_establishes
        self.tls = TlsRefusals(cfg.name, self._wake, cfg.on_tls_error) if self.ssl_context else None
        self._conn_type = TlsConnection if self.ssl_context else Connection
        run = serve_tls if self.ssl_context else serve
        self.pool = WorkerPool(
            cfg.name, lambda conn, why: run(self, conn, why), cfg.workers, cfg.max_workers
        )
        self._lock = threading.Lock()
        self.conns: dict[int, Connection] = {}  # admitted and counted against max
        self._by_fd: dict[int, Connection] = {}  # every open socket, evicted ones too
        self._pending: OrderedDict[int, Connection] = OrderedDict()  # un-established
        self._idle: deque[tuple[float, Connection]] = deque()  # (parked at, connection)
        self._timers: list[tuple[float, int, Connection]] = []  # handlers' deadlines
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._wake_at = 0.0  # when the hub wakes anyway; earlier deadlines must wake it
        self._stall_at: float | None = None
        self._taken = 0
        self._resume_at: float | None = None
        self._stopping = False
        self._stop_deadline = math.inf
        limit = cfg.max_connections
        self.refused = Episode(
            cfg.name,
            f"max_connections={limit} reached: refusing new connections",
            f"refused {{count}} connection(s) in {{seconds}} s (max_connections={limit})",
        )
        self.evicted = Episode(
            cfg.name,
            "max_connections reached: closing connections "
            "that have not completed their handshake to make room",
            "closed {count} un-established connection(s) in {seconds} s to make room",
        )
        self.expired = Episode(
            cfg.name,
            f"closing connections that do not complete their "
            f"handshake within {cfg.handshake_timeout:g} s"
            if cfg.handshake_timeout
            else "",
            "closed {count} connection(s) at the handshake timeout in {seconds} s",
        )
        self.idled = Episode(
            cfg.name,
            f"closing connections idle for {cfg.idle_timeout:g} s" if cfg.idle_timeout else "",
            "closed {count} idle connection(s) in {seconds} s",
            level=logging.INFO,
        )
        self.accept_failed = Episode(
            cfg.name,
            "accept() failed, pausing the listener",
            "accept() failed {count} time(s) in {seconds} s",
            level=logging.ERROR,
        )
        self._episodes = (
            self.refused,
            self.evicted,
            self.expired,
            self.idled,
            self.accept_failed,
            *(self.tls.episodes if self.tls else ()),
        )
        self.thread = threading.Thread(target=self._run, name=f"{cfg.name}-hub", daemon=True)

    # -- any thread ---------------------------------------------------------------------
    def connections(self) -> list[Connection]:
        with self._lock:
            return list(self.conns.values())

    def stop(self, deadline: float) -> None:
        """Close the listener and every connection; the hub ends once no connection is
        left parked (workers end the others) or at `deadline`."""
        with self._lock:
            self._stopping = True
            self._stop_deadline = deadline
        self._wake()

    def established(self, conn: Connection) -> None:
        with self._lock:
            self._pending.pop(conn.id, None)

    def reschedule(self, conn: Connection) -> None:
        """Read a parked connection's deadline again (a busy one's worker reads it after
        its current callback, or within the linger)."""
        if not conn._timed:
            return
        with self._lock:
            if not conn._parked:
                waker = conn._waker  # a worker waits on it: it reads the deadline again
                if waker is not None:
                    waker.wake()
                return
            due = conn._due = conn._handler.deadline()
            if due is None:
                return
            heapq.heappush(self._timers, (due, next(self._seq), conn))
            wake = due < self._wake_at
        if wake:
            self._wake()

    def _wake(self) -> None:
        self._wake_up.wake()

    # -- the worker that holds a connection -----------------------------------------------
    def park(self, conn: Connection) -> bool:
        """Hand an idle connection back: the hub reports it when readable. False while
        the server stops (the worker then ends the connection itself)."""
        now = time.monotonic() if self.cfg.idle_timeout else 0.0
        with self._lock:
            if self._stopping:
                return False
            if len(self._timers) + len(self._idle) > 4 * len(self._by_fd) + 64:
                self._compact()
            wake = False
            if self.cfg.idle_timeout:
                conn._parked_at = now
                self._idle.append((now, conn))
                wake = now + self.cfg.idle_timeout < self._wake_at
            if conn._timed:  # read under the lock: a reschedule() now waits for the park
                conn._due = conn._handler.deadline()
            due = conn._due
            if due is not None:
                heapq.heappush(self._timers, (due, next(self._seq), conn))
                wake = wake or due < self._wake_at
            conn._parked_since = time.monotonic() if conn._quiet else 0.0
            # Both before arming: the hub may see it readable at once and hand it to a
            # worker, which may take it out of the set again (unwatch) before this returns.
            conn._parked = True
            first = not conn._registered
            conn._registered = True
            try:
                self._poller.arm(conn._fd, first)
            except BaseException:
                conn._parked = False
                conn._registered = not first
                raise
        if wake:
            self._wake()
        return True

    def unwatch(self, conn: Connection) -> None:
        """The worker lingers on `conn`: take its socket out of the poller until it is
        parked again. A disarmed registration still costs a callback in the kernel for
        every segment that arrives (the socket's wait queue holds the epoll entry); a
        busy client's requests should wake only the worker."""
        self._poller.forget(conn._fd)
        conn._registered = False

    def _compact(self) -> None:
        """Drop the timer and idle entries that no longer count (a connection parked again,
        or its deadline moved), so they do not pile up; called with the lock held."""
        self._timers = [e for e in self._timers if e[2]._parked and e[2]._due == e[0]]
        heapq.heapify(self._timers)
        self._idle = deque(e for e in self._idle if e[1]._parked and e[1]._parked_at == e[0])

    def release(self, conn: Connection, handler: Any, error: BaseException | None) -> None:
        """The end of a connection: forget it, close its socket, tell its handler."""
        conn.close()
        with self._lock:
            self.conns.pop(conn.id, None)
            self._pending.pop(conn.id, None)
            if self._by_fd.get(conn._fd) is conn:
                del self._by_fd[conn._fd]
            conn._parked = False
        if conn._registered:
            self._poller.forget(conn._fd)
        with conn._send_lock:  # never free the descriptor under a concurrent send
            conn._sock.close()
        if handler is not None:
            call_quietly(
                f"{self.name}: connection_lost of {conn!r}", handler.connection_lost, error
            )

    # -- the hub thread -------------------------------------------------------------------
    def _run(self) -> None:
        poller, by_fd, submit, linger = self._poller, self._by_fd, self.pool.submit, self.linger
        waiting = self.pool.queue
        wake_fd = self._wake_up.fileno()
        stopping = False
        try:
            while True:
                ready = poller.poll(self._plan())
                woke = time.monotonic()
                for fd in ready:
                    if fd == self._listen_fd:
                        self._accept_batch()
                    elif fd == wake_fd:
                        self._wake_up.drain()
                    else:
                        conn = by_fd.get(fd)
                        if conn is not None and conn._parked:
                            conn._parked = False
                            if conn._quiet and woke - conn._parked_since < linger:
                                conn._quiet = False  # it spoke within a linger: linger again
                            submit(conn, READ)
                now = time.monotonic()
                # Under load the hub wakes for every few readable connections: the deadlines
                # are looked at only when one is due (_plan noted the earliest), or when tasks
                # start waiting (the stall watch begins), not at every wake-up.
                if now >= self._wake_at or self._stopping or (waiting and self._stall_at is None):
                    self._expire(now)
                if self._stopping:
                    if not stopping:
                        stopping = True
                        self._close_all()
                    if self._stopped(now):
                        return
        except BaseException:
            log.exception("%s: the hub failed; closing every connection", self.name)
            self._close_all()
        finally:
            self.pool.close()
            self._close_listener()
            self._poller.close()
            self._wake_up.close()

    def _plan(self) -> float | None:
        """Seconds until the next deadline of any kind (None: none), noted in _wake_at."""
        now = time.monotonic()
        cfg = self.cfg
        with self._lock:
            due = math.inf
            if self._pending and cfg.handshake_timeout:
                due = next(iter(self._pending.values()))._accepted_at + cfg.handshake_timeout
            if self._idle and cfg.idle_timeout:
                due = min(due, self._idle[0][0] + cfg.idle_timeout)
            if self._timers:
                due = min(due, self._timers[0][0])
            for episode in self._episodes:
                end = episode.due()
                if end is not None:
                    due = min(due, end)
            if self._stall_at is not None:
                due = min(due, self._stall_at)
            if self._resume_at is not None:
                due = min(due, self._resume_at)
            if self._stopping:
                due = min(due, self._stop_deadline)
            self._wake_at = due
        return None if due == math.inf else max(0.0, due - now)

    def _accept_batch(self) -> None:
        """Accept until the listen queue is empty (bounded by its depth, so timers keep
        their time under an endless flood)."""
        listener = self._listener
        if listener is None:
            return
        now = time.monotonic()
        for _ in range(self.cfg.backlog):
            try:
                sock, addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up before we got to it
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS: rest instead of spinning
                self.accept_failed.add(now, str(exc))
                self._poller.forget(self._listen_fd)
                self._resume_at = now + ACCEPT_PAUSE
                return
            self._admit(sock, (addr[0], addr[1]), now)

    def _admit(self, sock: socket.socket, peer: Address, now: float) -> None:
        limit = self.cfg.max_connections
        if self._stopping:
            sock.close()
            return
        if limit and len(self.conns) >= limit and not self._evict(now):
            sock.close()
            self.refused.add(now, f"{peer[0]}:{peer[1]}")
            if self.cfg.on_rejected is not None:
                call_quietly(f"{self.name}: on_rejected", self.cfg.on_rejected, peer)
            return
        conn = self._conn_type(sock, peer, next(self._ids), self, now)
        with self._lock:
            self.conns[conn.id] = conn
            self._by_fd[conn._fd] = conn
            if self.cfg.handshake_timeout:
                self._pending[conn.id] = conn
        log.debug("%s: accepted %r", self.name, conn)
        self.pool.submit(conn, START)

    def _evict(self, now: float) -> bool:
        """Make room by closing the oldest un-established connection, if it is old enough
        not to be a client in the middle of its handshake."""
        with self._lock:
            if not self._pending:
                return False
            victim = next(iter(self._pending.values()))
            if now - victim._accepted_at < EVICT_AGE:
                return False
            del self._pending[victim.id]
            self.conns.pop(victim.id, None)
        victim.close()
        self.evicted.add(now, f"{victim.peer[0]}:{victim.peer[1]}")
        return True

    def _expire(self, now: float) -> None:
        """Everything whose time has come: timeouts, handler deadlines, episodes, stalls."""
        cfg = self.cfg
        expired: list[Connection] = []
        idle: list[Connection] = []
        due: list[Connection] = []
        with self._lock:
            if cfg.handshake_timeout:
                limit = now - cfg.handshake_timeout
                while self._pending:
                    conn = next(iter(self._pending.values()))
                    if conn._accepted_at > limit:
                        break
                    del self._pending[conn.id]
                    expired.append(conn)
            if cfg.idle_timeout:
                limit = now - cfg.idle_timeout
                while self._idle and self._idle[0][0] <= limit:
                    at, conn = self._idle.popleft()
                    if conn._parked and conn._parked_at == at:  # still parked since then
                        idle.append(conn)
            while self._timers and self._timers[0][0] <= now:
                at, _, conn = heapq.heappop(self._timers)
                if conn._parked and conn._due == at:
                    conn._parked = False  # the hub takes it from the poller for its worker
                    due.append(conn)
        for episode, conns in ((self.expired, expired), (self.idled, idle)):
            for conn in conns:
                episode.add(now, f"{conn.peer[0]}:{conn.peer[1]}")
                conn.close()  # its worker (or the hub's report of it) ends it
        for conn in due:
            self._poller.disarm(conn._fd)
            self.pool.submit(conn, TIMER)
        for episode in self._episodes:
            episode.tick(now)
        self._check_stall(now)
        if self._resume_at is not None and now >= self._resume_at and self._listener:
            self._resume_at = None
            self._poller.watch(self._listen_fd)

    def _check_stall(self, now: float) -> None:
        """While tasks wait and no worker took one for a while, start more workers: one
        after SOFT_STALL up to `workers`, past that one per waiting task after STALL."""
        pool = self.pool
        if not pool.queue:
            self._stall_at = None
            return
        soft = pool.below_size
        if self._stall_at is None or pool.taken != self._taken:
            self._stall_at, self._taken = now + self._stall_after(soft), pool.taken
        elif now >= self._stall_at:
            if soft:
                pool.add_worker()
            else:
                started = pool.grow()
                if started:
                    log.info(
                        "%s: every worker is busy or blocked; %d more started", self.name, started
                    )
            self._stall_at = now + self._stall_after(pool.below_size)

    def _stall_after(self, below_size: bool) -> float:
        return 2 * self.linger + SOFT_STALL if below_size else STALL

    # -- stopping ---------------------------------------------------------------------------
    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            self._poller.forget(self._listen_fd)
            listener.close()
            self._listen_fd = -1

    def _close_all(self) -> None:
        self._close_listener()
        for episode in self._episodes:
            episode.end()
        with self._lock:
            conns = list(self._by_fd.values())
        for conn in conns:
            conn.close()

    def _stopped(self, now: float) -> bool:
        """Stop is done once no connection is parked (workers end the rest), or at the
        deadline."""
        if now >= self._stop_deadline:
            return True
        with self._lock:
            return not any(conn._parked for conn in self._by_fd.values())
