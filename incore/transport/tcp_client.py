"""Client side: one worker thread per connection runs blocking socket work in order.

A request/response protocol (S7, Modbus) is simplest written as blocking code:
send a request, read exactly the reply. `ClientWorker` runs that code on its own
thread so the single-threaded event loop never blocks, and hands results back to the
loop through `post`. Every blocking call has a timeout, so a dead peer can fail a
request but never hang a thread. A protocol whose peer also speaks unasked (IEC 104) uses
`ListeningWorker`, which listens between jobs.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from incore.transport.futures import CompletedFuture
from incore.transport.handover import Courier, Post
from incore.transport.link_stream import BlockingStream, open_connection
from incore.transport.sockets import (
    Address,
    ConnectionClosedError,
    NotConnectedError,
    ReceiveTimeoutError,
    SendTimeoutError,
    shutdown_quietly,
)
from incore.transport.tls_stream import TlsStream

#: BlockingStream and open_connection live in link_stream; the names stay importable here.
__all__ = [
    "BlockingStream",
    "ClientWorker",
    "open_connection",
    "ConnectionClosedError",
    "NotConnectedError",
    "ReceiveTimeoutError",
    "SendTimeoutError",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
#: A queued job: the work, and the future of its outcome.
Job = tuple[Callable[[], object], Future]


class ClientWorker:
    """One thread and at most one connection, running submitted work in order.

    Jobs run on the worker thread; results come back as `concurrent.futures.Future`
    and, when a `then` callback is given, `then(future)` is posted to the loop.
    A job that raises OSError (timeout, reset, EOF) leaves the stream in an unknown
    state, so the worker closes it and posts `on_lost(exc)`; other exceptions leave
    the connection open. After `shutdown()` no callback is delivered any more.

    Every job runs under the job lock, and so does `run_inline`, the caller-thread
    shortcut: whoever holds the lock owns the stream, so jobs and inline calls never
    interleave on it.
    """

    def __init__(
        self,
        name: str,
        post: Post,
        *,
        on_lost: Callable[[BaseException], None] | None = None,
        io_timeout: float = 5.0,
    ) -> None:
        self.name = name
        self._courier = Courier(post, name)
        self._on_lost = on_lost
        self._io_timeout = io_timeout
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = (
            threading.Lock()
        )  # guards _closing/_pending vs the queue, and the sockets for abort()
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

    def submit(
        self, fn: Callable[[BlockingStream], T], then: Callable[[Future[T]], None] | None = None
    ) -> Future[T]:
        """Run `fn(stream)` on the worker after every job submitted before it.

        Fails with NotConnectedError (`fn` not called) when there is no connection.
        """
        return self.call(lambda: fn(self._require_stream()), then)

    def call(
        self, fn: Callable[[], T], then: Callable[[Future[T]], None] | None = None
    ) -> Future[T]:
        """Run `fn()` on the worker, in order with the socket jobs, connected or not."""
        return self._enqueue(fn, then)

    def run_inline(
        self, fn: Callable[..., T], *args: Any, then: Callable[[Future[T]], None] | None = None
    ) -> Future[T] | None:
        """Run `fn(*args)` on the calling thread now if the worker is idle; None otherwise.

        Idle means no job queued or running: then the caller takes the job lock and runs
        `fn` itself (a job submitted meanwhile waits for it), which saves two thread
        hand-overs per request. The future comes back done and failures are handled as
        on the worker (an OSError closes the stream and reports `on_lost`). None (the
        worker is busy, shut down, or this is its own thread): use `call`. Never
        call it from a thread that must not block, such as the event loop's.
        """
        lock = self._job_lock
        if not lock.acquire(False) and not self._lend_job_lock(lock):  # (positional: hot)
            return None
        try:
            # Read without _lock: a job queued after this check waits for the job lock, and a
            # shutdown() racing with it aborts the stream under the call, which then fails.
            if self._pending or self._closing:
                return None
            try:  # _outcome's work, written out: this is every inline request
                future: Future[T] = CompletedFuture(fn(*args))
            except Exception as exc:
                if isinstance(exc, OSError):
                    self._drop_stream(exc)
                future = CompletedFuture(exception=exc)
            except BaseException as exc:  # KeyboardInterrupt mid-exchange: the stream is unusable
                self._drop_stream(ConnectionAbortedError(f"{self.name}: interrupted ({exc!r})"))
                raise
        finally:
            lock.release()
        if then is not None:
            self._courier.deliver(then, future)
        return future

    def _lend_job_lock(self, lock: Any) -> bool:
        """The job lock is held (a job runs): whether to wait for it and run inline anyway
        (then holding it). A plain worker holds it only for jobs, which go in order: no."""
        return False

    def connect(
        self,
        host: str,
        port: int,
        timeout: float = 3.0,
        setup: Callable[[BlockingStream], T] | None = None,
        then: Callable[[Future], None] | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> Future:
        """(Re)connect; the future's result is `setup(stream)` or the peer address.

        `setup` runs the protocol handshake (e.g. COTP + S7 negotiation) before the
        connection counts as established, so a refused handshake fails the connect.
        With `ssl_context` (see incore.transport.tls) the TLS handshake comes first, within
        the same `timeout` as the connect, and the stream is a `TlsStream`; a refused
        certificate fails the connect with `ssl.SSLCertVerificationError`.
        `server_hostname` (default `host`) is the name the server's certificate must bear.
        """

        def job() -> object:
            self._drop_stream(None)
            try:
                deadline = time.monotonic() + timeout
                sock = open_connection(host, port, timeout, self._set_connecting)
                if ssl_context is None:
                    stream = BlockingStream(sock, self._io_timeout)
                else:
                    stream = self._start_tls(sock, ssl_context, server_hostname or host, deadline)
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
        """Close the connection after the jobs already queued; no `on_lost` for this."""
        return self._enqueue(lambda: self._drop_stream(None), then)

    def abort(self) -> None:
        """From any thread: make the running job's blocking I/O fail now."""
        with self._lock:
            if self._stream is not None:
                self._stream.abort()
            shutdown_quietly(self._connecting)  # a connect or setup in progress

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Cancel queued jobs, abort the running one, close, and join the thread.

        Returns True if the thread ended within `timeout`. Idempotent.
        """
        with self._lock:  # no job can be queued behind the end marker
            self._closing = True
            self._put(None)
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
                self._put((job, future))
                return future
        future.set_exception(RuntimeError(f"{self.name}: worker is shut down"))
        return future

    def _put(self, item: Job | None) -> None:
        """Queue a job (None: the end marker) for the worker thread (under `_lock`)."""
        self._queue.put(item)

    def _next(self) -> Job | None:
        """The worker thread's next job, waiting for one (a subclass may listen meanwhile)."""
        return self._queue.get()

    def _run(self) -> None:
        try:
            while True:
                item = self._next()
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
        """Run `job` into `future` (on the worker, where nothing may escape)."""
        result, error = self._outcome(job, BaseException)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def _outcome(
        self, job: Callable[[], T], catch: type[BaseException] = Exception
    ) -> tuple[T | None, BaseException | None]:
        """Run `job`: (result, None) or (None, exception). An OSError leaves the stream
        unusable, so it is dropped here, before any caller sees the outcome."""
        try:
            return job(), None
        except catch as exc:
            if isinstance(exc, OSError):
                self._drop_stream(exc)
            return None, exc

    def _start_tls(
        self, sock: socket.socket, context: ssl.SSLContext, hostname: str, deadline: float
    ) -> TlsStream:
        """The TLS handshake on a fresh connection, abortable like the connect."""
        peer: Address = sock.getpeername()[:2]
        left = deadline - time.monotonic()
        if left <= 0:
            sock.close()
            raise TimeoutError(f"{self.name}: connect to {peer[0]}:{peer[1]} timed out")
        tls = context.wrap_socket(sock, server_hostname=hostname, do_handshake_on_connect=False)
        self._set_connecting(tls)  # abort() and shutdown() now wake the handshake
        try:
            tls.settimeout(left)
            tls.do_handshake()
        except BaseException:
            tls.close()
            raise
        return TlsStream(tls, self._io_timeout)

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
        """Close the current stream; report it as lost when `exc` says why."""
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is None:
            return
        stream.close()
        if exc is not None:
            log.info("%s: connection to %s:%d lost: %s", self.name, *stream.peer, exc)
            if self._on_lost is not None:
                self._courier.deliver(self._on_lost, exc)
