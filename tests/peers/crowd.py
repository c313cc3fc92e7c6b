"""A crowd of raw TCP clients driven from one thread: for the tests of servers under load.

A thousand clients as a thousand threads would measure the test's threads as much as the
server; here every socket is non-blocking and one selector drives them all, so "connect at
once" really is a burst of SYNs, and a round of requests is in flight together.
"""

from __future__ import annotations

import errno
import os
import resource
import selectors
import socket
import time
from collections.abc import Callable, Sequence

#: How a reply ends: given the bytes so far, its full length once that is known, else None.
Framing = Callable[[bytes], "int | None"]


def raise_fd_limit(need: int) -> int:
    """Raise this process's soft descriptor limit to ``need`` (within the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def open_fds() -> int:
    """Descriptors this process has open now."""
    return len(os.listdir("/proc/self/fd"))


def tpkt_length(buf: bytes) -> int | None:
    """Framing of ISO-on-TCP: a TPKT header carries the frame's length."""
    return buf[2] << 8 | buf[3] if len(buf) >= 4 else None


def fixed_length(size: int) -> Framing:
    return lambda _buf: size


def burst_connect(address: tuple[str, int], count: int, timeout: float) -> list[socket.socket]:
    """Start ``count`` connects at once, then wait until every one is established.

    Raises TimeoutError naming how many did not make it (the server lost them) and
    closes them all then.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            socks.append(sock)
            code = sock.connect_ex(address)
            if code not in (0, errno.EINPROGRESS):
                raise OSError(code, os.strerror(code))
        _wait_all(socks, selectors.EVENT_WRITE, timeout, "connected")
        for sock in socks:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, f"a connect failed: {os.strerror(code)}")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return socks
    except BaseException:
        close_all(socks)
        raise


def exchange_all(
    socks: Sequence[socket.socket], requests: Sequence[bytes], framing: Framing, timeout: float
) -> list[bytes]:
    """Send ``requests[i]`` on ``socks[i]`` (all of them first), then collect one reply per
    socket; raise TimeoutError naming how many are missing, or ConnectionError on an EOF."""
    for sock, request in zip(socks, requests):
        sock.sendall(request)  # small: fits the empty send buffer of a non-blocking socket
    replies = [b""] * len(socks)
    index = {sock.fileno(): i for i, sock in enumerate(socks)}
    waiting = set(index)
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        for sock in socks:
            sel.register(sock, selectors.EVENT_READ)
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(waiting)} of {len(socks)} replies missing")
            for key, _ in sel.select(left):
                i = index[key.fd]
                chunk = socks[i].recv(65536)
                if not chunk:
                    raise ConnectionError(f"client {i}: EOF after {len(replies[i])} bytes")
                replies[i] += chunk
                size = framing(replies[i])
                if size is not None and len(replies[i]) >= size:
                    waiting.discard(key.fd)
                    sel.unregister(key.fileobj)
    return replies


def closed_by_peer(socks: Sequence[socket.socket], timeout: float) -> tuple[float, float]:
    """Wait until the server has closed every socket (EOF or reset); returns when the first
    and the last closure were seen (time.monotonic()). TimeoutError if some stay open."""
    return _wait_all(socks, selectors.EVENT_READ, timeout, "closed by the server", _at_eof)


def close_all(socks: Sequence[socket.socket]) -> None:
    for sock in socks:
        sock.close()


def _at_eof(sock: socket.socket) -> bool:
    try:
        return sock.recv(65536) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


def _wait_all(
    socks: Sequence[socket.socket],
    event: int,
    timeout: float,
    what: str,
    done: Callable[[socket.socket], bool] = lambda _s: True,
) -> tuple[float, float]:
    """Wait until ``done`` holds for every socket; (first, last) time one did."""
    deadline = time.monotonic() + timeout
    first = last = 0.0
    pending = {sock.fileno(): sock for sock in socks}
    with selectors.DefaultSelector() as sel:
        for sock in socks:
            sel.register(sock, event)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{len(pending)} of {len(socks)} sockets not {what} within {timeout:g} s"
                )
            for key, _ in sel.select(left):
                sock = pending.get(key.fd)
                if sock is not None and done(sock):
                    last = time.monotonic()
                    first = first or last
                    del pending[key.fd]
                    sel.unregister(sock)
    return first, last
