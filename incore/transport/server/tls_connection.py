"""A server connection that speaks TLS, with the TLS state kept apart from the socket.

Why memory BIOs (`SSLContext.wrap_bio`) rather than an `SSLSocket`: the serving loop reads
with a plain blocking `recv` bounded by the kernel's SO_RCVTIMEO (the linger), and an
SSLSocket in blocking mode retries a read the kernel timed out until data comes, so a
quiet client would hold its worker for good. And OpenSSL does not allow one SSL object to
be used by two threads at once, while the worker reads and the application sends from
its own thread. So the socket stays a plain socket, read and written by the server as
without TLS; the `ssl.SSLObject` turns ciphertext into plaintext and back in memory, under
`_tls_lock`, which is never held across a system call. What a read decrypts is all
handed on before the worker waits again, so no plaintext hides in the TLS layer where
epoll cannot see it.

Record order on the wire is what TLS needs: every flush of the outgoing BIO happens under
the send lock, which stays held until those bytes are sent.
"""

from __future__ import annotations

import socket
import ssl
import threading

from incore.transport.server.connection import Connection, Keeper
from incore.transport.sockets import Address, ConnectionClosedError, send_within

__all__ = ["TlsConnection", "TLS_READ_SIZE"]

#: Plaintext taken per `SSLObject.read`: one TLS record at most.
TLS_READ_SIZE = 16 * 1024

#: For the best-effort goodbyes and alerts (0 where the platform lacks it: they may wait).
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class TlsConnection(Connection):
    """A Connection whose bytes pass through TLS; the handler sees plaintext as without it.

    The worker that serves it calls `start_tls`, then `handshake_step` until it is done,
    then `decrypt` for every chunk read. `send`, `close` and `peer_certificate` may be
    called from any thread once the handshake is done.
    """

    __slots__ = ("_tls", "_incoming", "_outgoing", "_tls_lock", "_handshaken", "_said_goodbye")

    def __init__(
        self,
        sock: object,
        peer: Address,
        conn_id: int,
        hub: Keeper | None = None,
        accepted_at: float = 0.0,
    ) -> None:
        super().__init__(sock, peer, conn_id, hub, accepted_at)  # type: ignore[arg-type]
        self._tls: ssl.SSLObject | None = None
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls_lock = threading.Lock()
        self._handshaken = False
        self._said_goodbye = False

    @property
    def handshaken(self) -> bool:
        """The TLS handshake is complete (the handler exists from then on)."""
        return self._handshaken

    def start_tls(self, context: ssl.SSLContext) -> None:
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)

    def handshake_step(self, raw: bytes) -> bool:
        """Feed what was received (b"" at first) and advance the handshake; True once it
        is complete. Raises `ssl.SSLWantReadError` when it needs more from the peer and
        `ssl.SSLError` when it failed (what the handshake wrote is flushed either way)."""
        tls = self._tls
        assert tls is not None
        try:
            with self._tls_lock:
                if raw:
                    self._incoming.write(raw)
                tls.do_handshake()
                self._handshaken = True
        except ssl.SSLWantReadError:
            self.flush()
            raise
        except ssl.SSLError:
            self.flush_quietly()  # the alert tells the peer why
            raise
        self.flush()  # the last flight (and TLS 1.3's session tickets)
        return True

    def decrypt(self, raw: bytes) -> bytes | None:
        """The plaintext that `raw` (b"": only what is buffered) completes; None once the
        peer closed TLS (close_notify). Raises ssl.SSLError on a broken stream."""
        tls = self._tls
        assert tls is not None
        incoming = self._incoming
        chunks: list[bytes] = []
        ended = False
        with self._tls_lock:
            if raw:
                incoming.write(raw)
            try:
                while True:
                    chunk = tls.read(TLS_READ_SIZE)
                    if not chunk:
                        ended = True
                        break
                    chunks.append(chunk)
                    if not incoming.pending and not tls.pending():
                        break
            except ssl.SSLWantReadError:
                pass
            flush = self._outgoing.pending  # a read can have TLS things to answer
        if flush:
            self.flush()
        if ended and not chunks:
            return None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    encrypted = True

    def send(self, data: bytes) -> None:
        """As `Connection.send`, encrypted: all of it within `io_timeout`, or the
        connection ends."""
        self.send_frames([data])

    def send_frames(self, frames: list[bytes]) -> None:
        """Each frame a TLS record of its own, all in one socket send (see
        `Connection.send_frames`)."""
        if self._shut:
            raise ConnectionClosedError(f"connection #{self.id} is closed")
        tls = self._tls
        try:
            with self._send_lock:
                with self._tls_lock:
                    if tls is None or not self._handshaken:
                        raise ConnectionClosedError(f"connection #{self.id}: no TLS session")
                    for frame in frames:
                        tls.write(frame)
                    out = self._outgoing.read()
                if self._flow is not None:
                    for frame in frames:
                        self._flow.sent(frame)  # the plaintext
                send_within(self._sock, out, self._send_timeout, self.peer)
        except OSError as exc:  # ssl.SSLError is one
            self._send_failed(exc, sum(map(len, frames)))
            raise

    def flush(self) -> None:
        """Send what the TLS layer has written (under the send lock: records stay in
        order), within `io_timeout`."""
        with self._send_lock:
            with self._tls_lock:
                out = self._outgoing.read()
            if out:
                send_within(self._sock, out, self._send_timeout, self.peer)

    def flush_quietly(self) -> None:
        """Send what is pending if the socket takes it now; for alerts and goodbyes, which
        must never hold a closing thread."""
        if not self._send_lock.acquire(False):
            return
        try:
            with self._tls_lock:
                out = self._outgoing.read()
            if out:
                self._sock.send(out, _DONTWAIT)
        except OSError:
            pass
        finally:
            self._send_lock.release()

    def close(self) -> None:
        """Say goodbye in TLS (close_notify) when it is cheap, then close as ever."""
        if not self._shut and self._handshaken and not self._said_goodbye:
            self._said_goodbye = True
            self._goodbye()
        super().close()

    def peer_certificate(self, binary: bool = False) -> dict | bytes | None:
        tls = self._tls
        if tls is None or not self._handshaken:
            return None
        with self._tls_lock:
            return tls.getpeercert(binary)

    def tls_version(self) -> str | None:
        """The negotiated protocol ("TLSv1.3"), None before the handshake."""
        tls = self._tls
        return tls.version() if tls is not None and self._handshaken else None

    def _goodbye(self) -> None:
        tls = self._tls
        if tls is None or not self._tls_lock.acquire(False):
            return  # another thread is in the TLS layer: the peer sees a plain close
        try:
            tls.unwrap()
        except (ssl.SSLError, ValueError):
            pass  # the peer's close_notify is not awaited
        finally:
            self._tls_lock.release()
        self.flush_quietly()
