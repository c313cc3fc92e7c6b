"""Helpers shared by the transport tests (imported by name: conftest is not a module to import)."""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

from incore.transport.tcp_server import Connection

WAIT = 5.0  # generous upper bound for any event a test waits on


class LoopThread:
    """A minimal event loop: one thread running posted callables in order.

    Mirrors the contract of the real loop's `post(fn, *args)` so the tests can check
    that transport callbacks arrive on the loop thread and nowhere else.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple] | None] = (
            queue.SimpleQueue()
        )
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name="test-loop", daemon=True)
        self.thread.start()

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        self._queue.put((fn, args))

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn` on the loop thread and return its result (for stop-from-loop tests)."""
        done: queue.SimpleQueue = queue.SimpleQueue()
        self.post(lambda: done.put(fn(*args)))
        return done.get(timeout=WAIT)

    def stop(self) -> None:
        self._queue.put(None)
        self.thread.join(WAIT)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, args = item
            try:
                fn(*args)
            except BaseException as exc:  # a test assertion failing inside a callback
                self.errors.append(exc)


class Echo:
    """Echoes every chunk back; records how the connection ended."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def data_received(self, data: bytes) -> None:
        self.conn.send(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        pass


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    """Read n bytes from a plain client socket (which has a timeout set)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def client(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=WAIT)
    sock.settimeout(WAIT)
    return sock


def read_eof(sock: socket.socket) -> bool:
    """True if the server closed the socket (EOF or reset) within WAIT."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def closed_port() -> int:
    """A localhost port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LogWatch(logging.Handler):
    """Collects the messages of a logger, and lets a test wait for one (from any thread)."""

    def __init__(self, logger: str = "incore.transport.tcp_server") -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []
        self._cond = threading.Condition()
        self._logger = logging.getLogger(logger)

    def __enter__(self) -> LogWatch:
        self._logger.addHandler(self)
        self._level = self._logger.level
        self._logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)

    def emit(self, record: logging.LogRecord) -> None:
        with self._cond:
            self.messages.append(record.getMessage())
            self._cond.notify_all()

    def having(self, text: str) -> list[str]:
        with self._cond:
            return [m for m in self.messages if text in m]

    def wait_for(self, text: str, timeout: float = WAIT, count: int = 1) -> list[str]:
        """The messages containing `text` once there are `count` of them (or raise)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.having(text)) >= count, timeout):
                raise AssertionError(
                    f"no log message with {text!r} within {timeout} s; got {self.messages}"
                )
            return self.having(text)
