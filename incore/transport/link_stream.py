"""The byte stream a link runs over: a connected socket with bounded waits.

Request/response code wants blocking reads that can never hang ("the reply, or an error
within the timeout"); a connection that also listens for unsolicited data wants to ask
"is anything there?" without waiting. `BlockingStream` serves both on one socket, owned
by one thread at a time, and `open_connection` makes the socket, bounded too.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

from incore.transport.sockets import (
    RECV_SIZE,
    Address,
    ConnectionClosedError,
    ReceiveTimeoutError,
    peer_of,
    send_within,
    sendall,
    set_kernel_timeout,
    shutdown_quietly,
    tune,
    use_kernel_timeouts,
)
from incore.transport.spin import DEFAULT_BUDGET, DONTWAIT, SPIN, TIMED, Spinner
from incore.transport.trace import open_flow

__all__ = ["BlockingStream", "open_connection"]


def open_connection(
    host: str, port: int, timeout: float, on_socket: Callable[[socket.socket], None] | None = None
) -> socket.socket:
    """Connect within `timeout` seconds in total, trying each resolved address.

    `on_socket` is told about each socket before its blocking connect(), so another
    thread can abort the attempt with shutdown(). Name resolution itself is not bounded
    by `timeout`; pass IP addresses where that matters.
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
    and poll for up to `spin` seconds before sleeping (see incore.transport.spin).
    """

    def __init__(
        self, sock: socket.socket, io_timeout: float = 5.0, spin: float = DEFAULT_BUDGET
    ) -> None:
        if io_timeout <= 0:
            raise ValueError("io_timeout must be > 0")
        self._sock = sock
        self._buf = bytearray()
        self._rx = memoryview(bytearray(RECV_SIZE))
        self.closed = False  # an attribute, not a property: read on every request
        self._armed = {socket.SO_RCVTIMEO: 0.0, socket.SO_SNDTIMEO: 0.0}
        self._asked = dict(self._armed)  # the last bound asked for, armed or close enough
        self._kernel_timeouts = use_kernel_timeouts(sock)
        self._spinner = Spinner(spin)
        self.io_timeout = io_timeout
        self.peer: Address = peer_of(sock)
        self._flow = open_flow(sock, client=True)  # None unless a trace runs (trace.py)

    def __repr__(self) -> str:
        return f"<BlockingStream {self.peer[0]}:{self.peer[1]}{' closed' if self.closed else ''}>"

    def send(self, data: bytes, timeout: float | None = None) -> None:
        """Send all of `data` within `timeout` (default `io_timeout`) in total.

        A peer that takes a little now and then does not stretch the bound: with the
        kernel's timeouts that is `send_within` (SO_SNDTIMEO alone restarts with every
        partial send), with Python's it is `sendall`, whose timeout covers the whole call.
        """
        if self.closed:
            self._check_open()
        if self._flow is not None:
            self._flow.sent(data)
        bound = timeout or self.io_timeout
        if self._kernel_timeouts:
            send_within(self._sock, data, bound, self.peer)
            return
        if bound != self._asked[socket.SO_SNDTIMEO]:
            self._arm(socket.SO_SNDTIMEO, bound)
        sendall(self._sock, data, self.peer)

    def recv_exactly(self, n: int, timeout: float | None = None) -> bytes:
        """Return exactly `n` bytes, waiting at most `timeout` in total.

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

        `spin=False` sleeps at once: for a wait that expects nothing (a liveness probe),
        which would only teach the spinner that the peer is slow.
        """
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            return data
        wait = timeout or self.io_timeout
        got = self._recv_once(wait, wait, spin)
        return bytes(self._rx[:got])

    def recv_now(self) -> bytes:
        """What has arrived already (b"" if nothing), without waiting: for a connection that
        listens between requests, after `fileno` was reported readable.

        Raises ConnectionClosedError at EOF.
        """
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            return data
        if self.closed:
            self._check_open()
        sock = self._sock
        try:
            if DONTWAIT:
                got = sock.recv_into(self._rx, 0, DONTWAIT)
            elif select.select([sock], [], [], 0)[0]:
                got = sock.recv_into(self._rx)
            else:
                return b""
        except BlockingIOError:
            return b""
        if not got:
            raise ConnectionClosedError(f"{self.peer[0]}:{self.peer[1]}: closed by peer")
        data = bytes(self._rx[:got])
        if self._flow is not None:
            self._flow.received(data)
        return data

    def readable(self, timeout: float = 0.0) -> bool:
        """Whether bytes (or the peer's EOF) can be read now, waiting up to `timeout`."""
        if self._buf:
            return True
        if self.closed:
            return False
        return bool(select.select([self._sock], [], [], max(0.0, timeout))[0])

    def peer_closed(self) -> bool:
        """True once the peer has closed or reset the connection (a peek; consumes nothing)."""
        if self._buf:
            return False
        if self.closed:
            return True
        sock = self._sock
        try:
            if DONTWAIT:
                return not sock.recv(1, socket.MSG_PEEK | DONTWAIT)
            if not select.select([sock], [], [], 0)[0]:
                return False
            return not sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True

    def pending(self) -> int:
        """Bytes readable without waiting for the socket (kept from an earlier recv): a
        wait on `fileno` is only right when this is 0 (TlsStream adds TLS's own)."""
        return len(self._buf)

    def fileno(self) -> int:
        """The socket's descriptor, to wait on it together with others (-1 once closed)."""
        return self._sock.fileno()

    def close(self) -> None:
        self.closed = True
        self._sock.close()
        if self._flow is not None:
            self._flow.close()

    def abort(self) -> None:
        """Wake a blocked send/recv from another thread; the owner still calls close()."""
        shutdown_quietly(self._sock)

    def _check_open(self) -> None:
        if self.closed:
            raise ConnectionClosedError(f"{self.peer[0]}:{self.peer[1]}: stream is closed")

    def _arm(self, option: int, timeout: float) -> None:
        """Bound the next blocking send/recv by `timeout` (a syscall only when it changed
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
        """One recv into the reusable buffer, waiting at most `wait`; returns its length."""
        if self.closed:
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
        if self._flow is not None:
            self._flow.received(bytes(self._rx[:got]))
        return got

    def _recv_blocking(self, wait: float, timeout: float) -> int:
        if wait != self._asked[socket.SO_RCVTIMEO]:
            self._arm(socket.SO_RCVTIMEO, wait)
        try:
            return self._sock.recv_into(self._rx)
        except (BlockingIOError, TimeoutError):
            raise ReceiveTimeoutError(
                f"{self.peer[0]}:{self.peer[1]}: got {len(self._buf)} bytes within {timeout}s"
            ) from None

    def _fill(self, n: int, timeout: float) -> None:
        buf = self._buf
        deadline = time.monotonic() + timeout
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReceiveTimeoutError(
                    f"{self.peer[0]}:{self.peer[1]}: got {len(buf)} of {n} bytes within {timeout}s"
                )
            try:
                got = self._recv_once(remaining, timeout)
            except ReceiveTimeoutError:
                continue  # the deadline check above raises with a clear message
            buf += self._rx[:got]
