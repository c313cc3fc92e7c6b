"""Socket helpers and error types shared by the server and client sides.

The error classes subclass the builtin `ConnectionError`/`TimeoutError` so code that
already catches `OSError` keeps working, while callers that care can tell a peer that
went away from one that went silent.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

#: recv() size: large enough that a bulk transfer costs few syscalls and few Python
#: round trips, small enough not to matter per connection.
RECV_SIZE = 64 * 1024

Address = tuple[str, int]


class ConnectionClosedError(ConnectionError):
    """The peer closed the stream (EOF) or the stream was closed locally."""


class NotConnectedError(ConnectionError):
    """An operation needed a connection and there is none."""


class ReceiveTimeoutError(TimeoutError):
    """The peer did not send the expected bytes within the timeout."""


class SendTimeoutError(TimeoutError):
    """The peer did not drain its receive window within the timeout."""


def tune(sock: socket.socket) -> None:
    """Set the options every incore TCP socket wants.

    TCP_NODELAY because industrial protocols are small request/response frames where
    Nagle's delay would dominate latency; SO_KEEPALIVE so an idle connection to a
    vanished peer is eventually noticed by the kernel.
    """
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def peer_of(sock: socket.socket) -> Address:
    """The remote (host, port), or ("?", 0) when the socket is no longer connected."""
    try:
        addr = sock.getpeername()
    except OSError:
        return ("?", 0)
    if not isinstance(addr, tuple):  # AF_UNIX: a path, or "" for an unnamed socket
        return (addr or "local", 0)
    return (addr[0], addr[1])


def shutdown_quietly(sock: socket.socket | None) -> None:
    """Wake any thread blocked on `sock` without closing its file descriptor.

    Closing a descriptor another thread is blocked on is unsafe (the number can be
    reused); shutdown() wakes recv/accept/connect on Linux and leaves the close to the
    owning thread.
    """
    if sock is None:
        return
    try:
        # The plain socket's shutdown, also for an SSLSocket: its own drops the TLS state
        # under the thread still using it, whose next read would bypass TLS.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # not connected (yet / any more): nothing to wake


def sendall(sock: socket.socket, data: bytes, peer: Address) -> None:
    """`sock.sendall` with a send timeout (Python's or the kernel's SO_SNDTIMEO, which
    surfaces as EAGAIN) reported as SendTimeoutError."""
    try:
        sock.sendall(data)
    except (TimeoutError, BlockingIOError):
        raise SendTimeoutError(f"{peer[0]}:{peer[1]}: send timed out ({len(data)} bytes)") from None


def send_within(sock: socket.socket, data: bytes, timeout: float, peer: Address) -> None:
    """Send all of `data` within `timeout` seconds in total, or raise SendTimeoutError.

    `sock` is blocking with SO_SNDTIMEO set to `timeout`. The kernel's timeout restarts
    with every send() that moves a byte, so `sendall` lets a peer that drains a little now
    and then hold a sender for many timeouts; here the clock starts when a send first has to
    wait, and each later send gets only what is left. The common case, a frame that fits the
    send buffer, is one non-blocking send() and no clock read.
    """
    try:
        sent = sock.send(data, _DONTWAIT)
    except BlockingIOError:
        sent = 0
    if sent != len(data):
        _send_rest(sock, memoryview(data)[sent:], timeout, peer, len(data))


def _send_rest(
    sock: socket.socket, rest: memoryview, timeout: float, peer: Address, size: int
) -> None:
    deadline = time.monotonic() + timeout
    try:
        try:
            while rest:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BlockingIOError
                set_kernel_timeout(sock, socket.SO_SNDTIMEO, left)
                rest = rest[sock.send(rest) :]
        finally:
            set_kernel_timeout(sock, socket.SO_SNDTIMEO, timeout)
    except (TimeoutError, BlockingIOError):
        raise SendTimeoutError(
            f"{peer[0]}:{peer[1]}: send timed out after {timeout:g} s ({size} bytes)"
        ) from None


#: Where the platform has no MSG_DONTWAIT (Windows) the first send blocks too, so a
#: stalled peer is dropped after up to twice the timeout there.
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


def listen_backlog(most: int = 4096) -> int:
    """The deepest listen queue the kernel grants, up to `most`.

    A burst of connects beyond the queue is lost (SYNs dropped, clients retry after a second
    or give up), and listen() silently caps the number at net.core.somaxconn anyway.
    """
    try:
        with open("/proc/sys/net/core/somaxconn", encoding="ascii") as f:
            return max(1, min(most, int(f.read())))
    except (OSError, ValueError):
        return min(most, socket.SOMAXCONN)


_TIMEVAL = struct.Struct("@ll")
_DWORD = struct.Struct("<I")


def set_kernel_timeout(sock: socket.socket, option: int, seconds: float) -> None:
    """Bound blocking sends (SO_SNDTIMEO) or receives (SO_RCVTIMEO) in the kernel."""
    micros = max(int(seconds * 1_000_000), 1)  # 0 would mean "wait forever"
    if sys.platform == "win32":  # Windows takes milliseconds as a DWORD
        value = _DWORD.pack(max(micros // 1000, 1))
    else:
        value = _TIMEVAL.pack(micros // 1_000_000, micros % 1_000_000)
    sock.setsockopt(socket.SOL_SOCKET, option, value)


def use_kernel_timeouts(sock: socket.socket) -> bool:
    """Switch `sock` to blocking mode whose waits the kernel bounds, where it can.

    Python's own socket timeouts cost a poll() before every send and recv, which doubles
    the syscalls of a small request/response exchange; SO_RCVTIMEO/SO_SNDTIMEO cost
    nothing per call. Returns False (the socket unchanged) where the platform does not
    take a struct timeval; the caller then keeps Python's timeouts. Receives start unbounded.
    """
    if sys.platform == "win32":
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _TIMEVAL.pack(0, 0))  # no bound
        sock.settimeout(None)
    except OSError:
        return False
    return True


class WakeUp:
    """A socket pair that ends a thread's wait on sockets from another thread: the waiting
    thread includes `fileno` in its wait, any thread calls `wake`."""

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)

    def fileno(self) -> int:
        return self._r.fileno()

    def wake(self) -> None:
        """Never blocks nor raises: a full pair has a wake-up pending, a closed one has no
        waiter left."""
        try:
            self._w.send(b"\0")
        except OSError:
            pass

    def drain(self) -> None:
        """Take the wake-ups that came (the waiting thread, after its wait)."""
        try:
            while self._r.recv(4096):
                pass
        except OSError:
            pass  # empty (BlockingIOError): all taken

    def close(self) -> None:
        self._r.close()
        self._w.close()
