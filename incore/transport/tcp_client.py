"""Client side: one worker thread per connection runs blocking socket work in order.

A request/response protocol (S7, Modbus) is simplest written as blocking code:
send a request, read exactly the reply. ``ClientWorker`` runs that code on its own
thread so the single-threaded event loop never blocks, and hands results back to the
loop through ``post``. Every blocking call has a timeout, so a dead peer can fail a
request but never hang a thread.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from concurrent.futures import Future
from typing import Callable, TypeVar

from incore.transport.futures import CompletedFuture
from incore.transport.handover import Courier, Post
from incore.transport.spin import DEFAULT_BUDGET, SPIN, TIMED, Spinner
from incore.transport.sockets import (RECV_SIZE, Address, ConnectionClosedError,
                                      NotConnectedError, ReceiveTimeoutError,
                                      SendTimeoutError, peer_of, sendall,
                                      set_kernel_timeout, shutdown_quietly, tune,
                                      use_kernel_timeouts)

__all__ = ["BlockingStream", "ClientWorker", "open_connection", "ConnectionClosedError",
           "NotConnectedError", "ReceiveTimeoutError", "SendTimeoutError"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def open_connection(host: str, port: int, timeout: float,
                    on_socket: Callable[[socket.socket], None] | None = None
                    ) -> socket.socket:
    """Connect within ``timeout`` seconds in total, trying each resolved address.

    ``on_socket`` is told about each socket before its blocking connect(), so another
    thread can abort the attempt with shutdown(). Name resolution itself is not bounded
    by ``timeout``; pass IP addresses where that matters.
    """
    if timeout <= 0:
        raise ValueError("timeout must be > 0")
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    for family, kind, proto, _, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        if on_socket is not None:
            on_socket(sock)
        try:
            sock.settimeout(remaining)
            sock.connect(addr)
            tune(sock)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    if isinstance(last, TimeoutError) or last is None:
        raise TimeoutError(f"connect to {host}:{port} timed out after {timeout}s")
    raise last


class BlockingStream:
    """A connected socket with timeout-bounded, exact-length reads.

    Used from one thread at a time (whichever holds the worker's job lock). Surplus bytes
    of a recv() are kept for the next read, so frames can be read header-then-body with two
    calls. The socket stays in blocking mode and waits are bounded by the kernel
    (SO_RCVTIMEO/SO_SNDTIMEO, re-armed only when the bound changes): Python's own socket
    timeouts cost a poll() before every send and recv. Receives land in one reusable buffer,
    and poll for up to ``spin`` seconds before sleeping (see incore.transport.spin).
    """

    def __init__(self, sock: socket.socket, io_timeout: float = 5.0,
                 spin: float = DEFAULT_BUDGET) -> None:
        if io_timeout <= 0:
            raise ValueError("io_timeout must be > 0")
        self._sock = sock
        self._buf = bytearray()
        self._rx = memoryview(bytearray(RECV_SIZE))
        self._closed = False
        self._armed = {socket.SO_RCVTIMEO: 0.0, socket.SO_SNDTIMEO: 0.0}
        self._asked = dict(self._armed)  # the last bound asked for, armed or close enough
        self._kernel_timeouts = use_kernel_timeouts(sock)
        self._spinner = Spinner(spin)
        self.io_timeout = io_timeout
        self.peer: Address = peer_of(sock)

    def __repr__(self) -> str:
        return f"<BlockingStream {self.peer[0]}:{self.peer[1]}{' closed' if self._closed else ''}>"

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, data: bytes, timeout: float | None = None) -> None:
        """Send all of ``data`` (one sendall) within ``timeout`` (default ``io_timeout``)."""
        if self._closed:
            self._check_open()
        bound = timeout or self.io_timeout
        if bound != self._asked[socket.SO_SNDTIMEO]:
            self._arm(socket.SO_SNDTIMEO, bound)
        sendall(self._sock, data, self.peer)

    def recv_exactly(self, n: int, timeout: float | None = None) -> bytes:
        """Return exactly ``n`` bytes, waiting at most ``timeout`` in total.

        Raises ReceiveTimeoutError (bytes received so far stay buffered) or
        ConnectionClosedError when the peer closes first.
        """
        buf = self._buf
        if len(buf) < n:
            self._fill(n, timeout or self.io_timeout)
        data = bytes(buf[:n])
        del buf[:n]
        return data

    def recv_some(self, timeout: float | None = None, spin: bool = True) -> bytes:
        """Return whatever is available (at least one byte), for stream-shaped protocols.

        ``spin=False`` sleeps at once: for a wait that expects nothing (a liveness probe),
        which would only teach the spinner that the peer is slow.
        """
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            return data
        wait = timeout or self.io_timeout
        got = self._recv_once(wait, wait, spin)
        return bytes(self._rx[:got])

    def close(self) -> None:
        self._closed = True
        self._sock.close()

    def abort(self) -> None:
        """Wake a blocked send/recv from another thread; the owner still calls close()."""
        shutdown_quietly(self._sock)

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionClosedError(f"{self.peer[0]}:{self.peer[1]}: stream is closed")

    def _arm(self, option: int, timeout: float) -> None:
        """Bound the next blocking send/recv by ``timeout`` (a syscall only when it changed
        by more than 1 ms or 1 %, so a deadline's shrinking remainder is not re-armed)."""
        if self._kernel_timeouts:
            self._asked[option] = timeout  # the callers skip asking again for the same bound
        else:
            option = socket.SO_RCVTIMEO  # one Python timeout serves both directions
        armed = self._armed[option]
        if abs(timeout - armed) <= 0.001 + 0.01 * armed:
            return
        self._armed[option] = timeout
        if self._kernel_timeouts:
            set_kernel_timeout(self._sock, option, timeout)
        else:
            self._sock.settimeout(timeout)

    def _recv_once(self, wait: float, timeout: float, spin: bool = True) -> int:
        """One recv into the reusable buffer, waiting at most ``wait``; returns its length."""
        if self._closed:
            self._check_open()
        spinner = self._spinner
        way = spinner.choose() if spin else 0
        if way:
            started = time.perf_counter() if way & TIMED else 0.0
            got = spinner.poll(self._sock, self._rx) if way & SPIN else None
            if got is None:
                got = self._recv_blocking(wait, timeout)
            if way & TIMED:
                spinner.record(way & SPIN, time.perf_counter() - started)
        else:
            got = self._recv_blocking(wait, timeout)
        if not got:
            raise ConnectionClosedError(f"{self.peer[0]}:{self.peer[1]}: closed by peer")
        return got

    def _recv_blocking(self, wait: float, timeout: float) -> int:
        if wait != self._asked[socket.SO_RCVTIMEO]:
            self._arm(socket.SO_RCVTIMEO, wait)
        try:
            return self._sock.recv_into(self._rx)
        except (BlockingIOError, TimeoutError):
            raise ReceiveTimeoutError(f"{self.peer[0]}:{self.peer[1]}: got {len(self._buf)} "
                                      f"bytes within {timeout}s") from None

    def _fill(self, n: int, timeout: float) -> None:
        buf = self._buf
        deadline = time.monotonic() + timeout
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReceiveTimeoutError(f"{self.peer[0]}:{self.peer[1]}: got {len(buf)} "
                                          f"of {n} bytes within {timeout}s")
            try:
                got = self._recv_once(remaining, timeout)
            except ReceiveTimeoutError:
                continue  # the deadline check above raises with a clear message
            buf += self._rx[:got]


class ClientWorker:
    """One thread and at most one connection, running submitted work in order.

    Jobs run on the worker thread; results come back as ``concurrent.futures.Future``
    and, when a ``then`` callback is given, ``then(future)`` is posted to the loop.
    A job that raises OSError (timeout, reset, EOF) leaves the stream in an unknown
    state, so the worker closes it and posts ``on_lost(exc)``; other exceptions leave
    the connection open. After ``shutdown()`` no callback is delivered any more.

    Every job runs under the job lock, and so does :meth:`run_inline`, the caller-thread
    shortcut: whoever holds the lock owns the stream, so jobs and inline calls never
    interleave on it.
    """

    def __init__(self, name: str, post: Post, *,
                 on_lost: Callable[[BaseException], None] | None = None,
                 io_timeout: float = 5.0) -> None:
        self.name = name
        self._courier = Courier(post, name)
        self._on_lost = on_lost
        self._io_timeout = io_timeout
        self._queue: queue.SimpleQueue[tuple[Callable[[], object], Future] | None] = \
            queue.SimpleQueue()
        self._lock = threading.Lock()  # guards _closing/_pending vs the queue, and the sockets for abort()
        self._job_lock = threading.Lock()  # held while a job or an inline call uses the stream
        self._pending = 0  # jobs queued or running
        self._stream: BlockingStream | None = None
        self._connecting: socket.socket | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"{name}-worker", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"<ClientWorker {self.name} {'connected' if self.connected else 'idle'}>"

    @property
    def connected(self) -> bool:
        stream = self._stream
        return stream is not None and not stream.closed

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, fn: Callable[[BlockingStream], T],
               then: Callable[[Future[T]], None] | None = None) -> Future[T]:
        """Run ``fn(stream)`` on the worker after every job submitted before it.

        Fails with NotConnectedError (``fn`` not called) when there is no connection.
        """
        return self.call(lambda: fn(self._require_stream()), then)

    def call(self, fn: Callable[[], T],
             then: Callable[[Future[T]], None] | None = None) -> Future[T]:
        """Run ``fn()`` on the worker, in order with the socket jobs, connected or not."""
        return self._enqueue(fn, then)

    def run_inline(self, fn: Callable[[], T],
                   then: Callable[[Future[T]], None] | None = None) -> Future[T] | None:
        """Run ``fn()`` on the calling thread now if the worker is idle; None otherwise.

        Idle means no job queued or running: then the caller takes the job lock and runs
        ``fn`` itself (a job submitted meanwhile waits for it), which saves two thread
        hand-overs per request. The future comes back done and failures are handled as
        on the worker (an OSError closes the stream and reports ``on_lost``). None (the
        worker is busy, shut down, or this is its own thread): use :meth:`call`. Never
        call it from a thread that must not block, such as the event loop's.
        """
        if not self._job_lock.acquire(False):  # (positional: this is every inline request)
            return None
        try:
            # Read without _lock: a job queued after this check waits for the job lock, and a
            # shutdown() racing with it aborts the stream under the call, which then fails.
            if self._pending or self._closing:
                return None
            try:
                result, error = self._outcome(fn)
            except BaseException as exc:  # KeyboardInterrupt mid-exchange: the stream is unusable
                self._drop_stream(ConnectionAbortedError(f"{self.name}: interrupted ({exc!r})"))
                raise
        finally:
            self._job_lock.release()
        future: Future[T] = CompletedFuture(result, error)
        if then is not None:
            self._courier.deliver(then, future)
        return future

    def connect(self, host: str, port: int, timeout: float = 3.0,
                setup: Callable[[BlockingStream], T] | None = None,
                then: Callable[[Future], None] | None = None) -> Future:
        """(Re)connect; the future's result is ``setup(stream)`` or the peer address.

        ``setup`` runs the protocol handshake (e.g. COTP + S7 negotiation) before the
        connection counts as established, so a refused handshake fails the connect.
        """
        def job() -> object:
            self._drop_stream(None)
            try:
                sock = open_connection(host, port, timeout, self._set_connecting)
                stream = BlockingStream(sock, self._io_timeout)
                try:
                    result = setup(stream) if setup is not None else stream.peer
                    if self._closing:
                        raise ConnectionAbortedError(f"{self.name}: shut down while connecting")
                except BaseException:
                    stream.close()
                    raise
                with self._lock:
                    self._stream = stream
            finally:
                self._set_connecting(None)
            log.info("%s: connected to %s:%d", self.name, *stream.peer)
            return result
        return self._enqueue(job, then)

    def close(self, then: Callable[[Future[None]], None] | None = None) -> Future[None]:
        """Close the connection after the jobs already queued; no ``on_lost`` for this."""
        return self._enqueue(lambda: self._drop_stream(None), then)

    def abort(self) -> None:
        """From any thread: make the running job's blocking I/O fail now."""
        with self._lock:
            if self._stream is not None:
                self._stream.abort()
            shutdown_quietly(self._connecting)  # a connect or setup in progress

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Cancel queued jobs, abort the running one, close, and join the thread.

        Returns True if the thread ended within ``timeout``. Idempotent.
        """
        with self._lock:  # no job can be queued behind the end marker
            self._closing = True
            self._queue.put(None)
        self._courier.close()
        self.abort()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- internals -------------------------------------------------------------------

    def _enqueue(self, job: Callable[[], T], then: Callable[[Future[T]], None] | None) -> Future[T]:
        future: Future[T] = Future()
        if then is not None:
            future.add_done_callback(lambda f: self._courier.deliver(then, f))
        with self._lock:
            if not self._closing:
                self._pending += 1
                self._queue.put((job, future))
                return future
        future.set_exception(RuntimeError(f"{self.name}: worker is shut down"))
        return future

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                job, future = item
                with self._job_lock:
                    try:
                        if self._closing:
                            future.cancel()
                        elif future.set_running_or_notify_cancel():
                            self._execute(job, future)
                    finally:
                        with self._lock:
                            self._pending -= 1
        finally:
            with self._job_lock:  # an inline call still using the stream finishes first
                self._drop_stream(None)

    def _execute(self, job: Callable[[], T], future: Future[T]) -> None:
        """Run ``job`` into ``future`` (on the worker, where nothing may escape)."""
        result, error = self._outcome(job, BaseException)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def _outcome(self, job: Callable[[], T], catch: type[BaseException] = Exception
                 ) -> tuple[T | None, BaseException | None]:
        """Run ``job``: (result, None) or (None, exception). An OSError leaves the stream
        unusable, so it is dropped here, before any caller sees the outcome."""
        try:
            return job(), None
        except catch as exc:
            if isinstance(exc, OSError):
                self._drop_stream(exc)
            return None, exc

    def _require_stream(self) -> BlockingStream:
        stream = self._stream
        if stream is None or stream.closed:
            raise NotConnectedError(f"{self.name}: not connected")
        return stream

    def _set_connecting(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._connecting = sock
        if sock is not None and self._closing:
            shutdown_quietly(sock)  # shutdown() raced with the start of connect()

    def _drop_stream(self, exc: BaseException | None) -> None:
        """Close the current stream; report it as lost when ``exc`` says why."""
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is None:
            return
        stream.close()
        if exc is not None:
            log.info("%s: connection to %s:%d lost: %s", self.name, *stream.peer, exc)
            if self._on_lost is not None:
                self._courier.deliver(self._on_lost, exc)

