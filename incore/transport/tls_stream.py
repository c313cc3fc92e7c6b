"""A `BlockingStream` over TLS: the same bounded reads and sends on an `ssl.SSLSocket`.

`BlockingStream`'s fast paths do not carry over to TLS, so this subclass replaces them:
- the kernel's SO_RCVTIMEO cannot bound a read: a blocking SSLSocket retries a read the
  kernel timed out until data comes (measured: a 0.2 s bound held for 3 s);
- an SSLSocket takes no recv/send flags, so neither the spin (MSG_DONTWAIT polling) nor
  `recv_now`'s and `send_within`'s non-blocking first tries work;
- TLS may hold decrypted bytes that `select`/`poll` on the descriptor cannot see
  (`SSLSocket.pending()`).
So the socket is non-blocking, every operation is tried first and waits with `poll` only
when TLS says it must (SSLWantRead/SSLWantWrite), within the same deadlines as without TLS.
Spinning is off. A TLS exchange costs a handshake and a few microseconds of crypto per
frame more than a plain one; the plain stream is untouched.
"""

from __future__ import annotations

import math
import select
import ssl
import time

from incore.transport.link_stream import BlockingStream
from incore.transport.sockets import (
    ConnectionClosedError,
    ReceiveTimeoutError,
    SendTimeoutError,
)

__all__ = ["TlsStream"]

_WANT = (ssl.SSLWantReadError, ssl.SSLWantWriteError)


class TlsStream(BlockingStream):
    """A connected `ssl.SSLSocket` (handshake done) with BlockingStream's contract."""

    def __init__(self, sock: ssl.SSLSocket, io_timeout: float = 5.0) -> None:
        super().__init__(sock, io_timeout, spin=0.0)
        self._kernel_timeouts = False
        sock.settimeout(0.0)
        self._tls: ssl.SSLSocket = sock
        self._poll = select.poll() if hasattr(select, "poll") else None

    def __repr__(self) -> str:
        return f"<TlsStream {self.peer[0]}:{self.peer[1]}{' closed' if self.closed else ''}>"

    def send(self, data: bytes, timeout: float | None = None) -> None:
        """Send all of `data` within `timeout` (default `io_timeout`) in total."""
        if self.closed:
            self._check_open()
        if self._flow is not None:
            self._flow.sent(data)  # the plaintext
        bound = timeout or self.io_timeout
        deadline = 0.0
        view = memoryview(data)
        while view:
            try:
                view = view[self._tls.send(view) :]
                continue
            except _WANT as exc:
                want_write = isinstance(exc, ssl.SSLWantWriteError)
            if not deadline:
                deadline = time.monotonic() + bound
            if not self._wait(want_write, deadline - time.monotonic()):
                raise SendTimeoutError(
                    f"{self.peer[0]}:{self.peer[1]}: send timed out after {bound:g} s "
                    f"({len(data)} bytes)"
                )

    def recv_now(self) -> bytes:
        """What has arrived already (b"" if nothing), without waiting; ConnectionClosedError
        at EOF. Takes what TLS holds decrypted too, so a wait on `fileno` after it is right."""
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            return data
        if self.closed:
            self._check_open()
        try:
            got = self._tls.recv_into(self._rx)
        except _WANT:
            return b""
        if not got:
            raise ConnectionClosedError(f"{self.peer[0]}:{self.peer[1]}: closed by peer")
        data = bytes(self._rx[:got])
        if self._flow is not None:
            self._flow.received(data)
        return data

    def readable(self, timeout: float = 0.0) -> bool:
        if self._buf or (not self.closed and self._tls.pending()):
            return True
        if self.closed:
            return False
        return self._wait(False, timeout)

    def peer_closed(self) -> bool:
        """True once the peer has closed or reset the connection. TLS cannot peek: what a
        read finds is kept for the next read."""
        if self._buf:
            return False
        if self.closed:
            return True
        try:
            got = self._tls.recv_into(self._rx)
        except _WANT:
            return False
        except OSError:
            return True
        if not got:
            return True
        self._buf += self._rx[:got]
        if self._flow is not None:
            self._flow.received(bytes(self._rx[:got]))
        return False

    def pending(self) -> int:
        """Bytes readable without waiting for the socket: kept, or decrypted by TLS."""
        return len(self._buf) + (0 if self.closed else self._tls.pending())

    def close(self) -> None:
        """Close, telling the peer in TLS (close_notify) if the socket takes it now."""
        if not self.closed:
            try:
                self._tls.unwrap()
            except (OSError, ValueError):
                pass  # the peer's answer is not awaited; a dead peer needs no goodbye
        super().close()

    def _recv_blocking(self, wait: float, timeout: float) -> int:
        """One read of what TLS can decrypt, waiting at most `wait` seconds."""
        deadline = 0.0
        while True:
            try:
                return self._tls.recv_into(self._rx)
            except _WANT as exc:
                want_write = isinstance(exc, ssl.SSLWantWriteError)
            if not deadline:
                deadline = time.monotonic() + wait
            if not self._wait(want_write, deadline - time.monotonic()):
                raise ReceiveTimeoutError(
                    f"{self.peer[0]}:{self.peer[1]}: got {len(self._buf)} bytes within {timeout}s"
                )

    def _wait(self, write: bool, seconds: float) -> bool:
        """Wait until the socket is writable (or readable) within `seconds`: False if not."""
        if seconds <= 0:
            seconds = 0.0
        poller = self._poll
        if poller is None:
            r, w, _ = select.select(
                [] if write else [self._sock], [self._sock] if write else [], [], seconds
            )
            return bool(r or w)
        poller.register(self._sock, select.POLLOUT if write else select.POLLIN)
        return bool(poller.poll(math.ceil(seconds * 1000)))
