"""Shared fixtures and helpers of the ModbusTcpServer tests (imported by the test modules).

The server object runs under a real event loop driven by the test's main thread
(`loop.run_until`), while pymodbus 3.16.1's client talks to it from a thread over a real
socket on 127.0.0.1.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymodbus.client import ModbusTcpClient

import incore  # noqa: F401  (registers every type)
from incore.core import EventLoop, set_loop
from incore.objects.modbus import ModbusTcpServer

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

for _extra in (Path(__file__).resolve().parents[2] / "peers",):  # crowd.py
    if str(_extra) not in sys.path:
        sys.path.insert(0, str(_extra))

import crowd  # noqa: E402  (tests/peers: raw-socket crowds, re-exported to the test modules)

#: Upper bound of every wait; waits end as soon as their condition holds.
WAIT = 10.0

_made: list[ModbusTcpServer] = []


def server_threads() -> list[str]:
    """Names of the threads a ModbusTcpServer runs (its TcpServer's hub and workers)."""
    return [t.name for t in threading.enumerate() if t.name.startswith("modbusserver")]


@pytest.fixture
def loop() -> Iterator[EventLoop]:
    """A fresh loop; every server a test made is shut down after it, whatever happened."""
    lp = EventLoop()
    set_loop(lp)
    yield lp
    while _made:
        _made.pop().shutdown()
    set_loop(None)


def make_server(**props: Any) -> ModbusTcpServer:
    """A completed (so listening, unless autoStart is false) server on a free port of
    127.0.0.1."""
    props.setdefault("networkAddress", "127.0.0.1")
    props.setdefault("networkPort", 0)
    server = ModbusTcpServer(**props)
    _made.append(server)
    server.complete()
    if server.autoStart:
        assert server.status == ModbusTcpServer.Running, server.errorString
    return server


def in_thread(loop: EventLoop, fn: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Run `fn()` on a thread while this thread runs the loop; its result, or its exception."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the test below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    assert loop.run_until(lambda: not thread.is_alive(), timeout), "the peer did not finish"
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("result")


def client(server: ModbusTcpServer) -> ModbusTcpClient:
    """A connected pymodbus client of `server` (no retries: a wrong answer shows at once)."""
    c = ModbusTcpClient("127.0.0.1", port=server.networkPort, timeout=3, retries=0)
    assert c.connect()
    return c


def call(loop: EventLoop, server: ModbusTcpServer, fn: Callable[[ModbusTcpClient], Any]) -> Any:
    """`fn(client)` on a thread with a fresh client, while the loop runs; the result."""

    def run() -> Any:
        c = client(server)
        try:
            return fn(c)
        finally:
            c.close()

    return in_thread(loop, run)


def raw_exchange(port: int, adu: bytes, timeout: float = WAIT) -> bytes:
    """Send one ADU on a fresh socket and return the whole answer ADU (b"" if closed or
    reset before an answer)."""
    try:
        return _exchange(port, adu, timeout)
    except ConnectionResetError:
        return b""


def _exchange(port: int, adu: bytes, timeout: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(adu)
        head = b""
        while len(head) < 6:
            chunk = sock.recv(6 - len(head))
            if not chunk:
                return head
            head += chunk
        need = int.from_bytes(head[4:6], "big")
        body = b""
        while len(body) < need:
            chunk = sock.recv(need - len(body))
            if not chunk:
                break
            body += chunk
        return head + body
