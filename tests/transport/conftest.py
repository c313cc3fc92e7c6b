"""Fixtures for transport tests: a stand-in event loop, an echo server, a thread-leak check."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from transport_helpers import WAIT, Echo, LoopThread

from incore.transport.tcp_server import TcpServer

_PEERS = str(Path(__file__).resolve().parents[1] / "peers")  # crowd.py: many raw clients
if _PEERS not in sys.path:
    sys.path.insert(0, _PEERS)


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    lp = LoopThread()
    yield lp
    lp.stop()
    assert not lp.errors, lp.errors


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every test must leave no thread of its own behind (after its fixtures' teardown)."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before]
    for t in leaked:
        t.join(WAIT)
    alive = [t.name for t in leaked if t.is_alive()]
    assert not alive, f"threads left running: {alive}"


@pytest.fixture
def echo_server() -> Iterator[TcpServer]:
    server = TcpServer(Echo, host="127.0.0.1", name="echo")
    server.start()
    yield server
    assert server.stop(), "echo server did not stop within its bound"
