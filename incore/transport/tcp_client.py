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

from incore.transport.handover import Courier, Post
from incore.transport.sockets import (RECV_SIZE, Address, ConnectionClosedError,
                                      NotConnectedError, ReceiveTimeoutError,
                                      SendTimeoutError, peer_of, sendall,
                                      shutdown_quietly, tune)

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

    Used from one thread at a time (the worker's). Surplus bytes of a recv() are kept
    for the next read, so frames can be read header-then-body with two calls.
    """

    def __init__(self, sock: socket.socket, io_timeout: float = 5.0) -> None:
        if io_timeout <= 0:
            raise ValueError("io_timeout must be > 0")
        self._sock = sock
        self._buf = bytearray()
        self._closed = False
        self.io_timeout = io_timeout
        self.peer: Address = peer_of(sock)

    def __repr__(self) -> str:
        return f"<BlockingStream {self.peer[0]}:{self.peer[1]}{' closed' if self._closed else ''}>"

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, data: bytes, timeout: float | None = None) -> None:
        """Send all of ``data`` within ``timeout`` (default ``io_timeout``)."""
        self._check_open()
        self._sock.settimeout(timeout or self.io_timeout)
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

    def recv_some(self, timeout: float | None = None) -> bytes:
        """Return whatever is available (at least one byte), for stream-shaped protocols."""
        if not self._buf:
            self._fill(1, timeout or self.io_timeout)
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def close(self) -> None:
        self._closed = True
        self._sock.close()

    def abort(self) -> None:
        """Wake a blocked send/recv from another thread; the owner still calls close()."""
        shutdown_quietly(self._sock)

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionClosedError(f"{self.peer[0]}:{self.peer[1]}: stream is closed")

    def _fill(self, n: int, timeout: float) -> None:
        self._check_open()
        buf = self._buf
        deadline = time.monotonic() + timeout
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReceiveTimeoutError(f"{self.peer[0]}:{self.peer[1]}: got {len(buf)} "
                                          f"of {n} bytes within {timeout}s")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(max(RECV_SIZE, n - len(buf)))
            except TimeoutError:
                continue  # the deadline check above raises with a clear message
            if not chunk:
                raise ConnectionClosedError(f"{self.peer[0]}:{self.peer[1]}: closed by peer")
            buf += chunk


class ClientWorker:
    """One thread and at most one connection, running submitted work in order.

    Jobs run on the worker thread; results come back as ``concurrent.futures.Future``
    and, when a ``then`` callback is given, ``then(future)`` is posted to the loop.
    A job that raises OSError (timeout, reset, EOF) leaves the stream in an unknown
    state, so the worker closes it and posts ``on_lost(exc)``; other exceptions leave
    the connection open. After ``shutdown()`` no callback is delivered any more.
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
        self._lock = threading.Lock()  # guards _closing vs the queue, and the sockets for abort()
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
                if self._closing:
                    future.cancel()
                    continue
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    result = job()
                except BaseException as exc:
                    if isinstance(exc, OSError):
                        self._drop_stream(exc)  # before the future: callers see it closed
                    future.set_exception(exc)
                else:
                    future.set_result(result)
        finally:
            self._drop_stream(None)

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

