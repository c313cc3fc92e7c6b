"""Shared fixtures of the S7Client, S7Variable and ISOTCPConnection tests (no tests here).

Two real peer servers on 127.0.0.1: python-snap7 3.x's server in this process (its memory
is our bytearrays) and the Snap7 C server in the tests/peers driver subprocess. Plus our
own engine's test server (tests/protocols/s7_harness.py) where a peer can not show what a
test needs (routing parameters, text TSAPs, request counts, a clock that keeps its time).
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
for _extra in (_HERE.parent, _HERE.parents[1] / "protocols", _HERE.parents[1] / "peers"):
    if str(_extra) not in sys.path:
        sys.path.insert(0, str(_extra))

from foundation_helpers import WAIT, loop  # noqa: E402,F401  (fixture)
from s7_harness import S7TestServer, fill_store, free_port  # noqa: E402,F401
from snap7.server import Server as PyServer  # noqa: E402
from snap7.type import SrvArea  # noqa: E402
from snap7c import Snap7CPeer  # noqa: E402

from incore.core import EventLoop  # noqa: E402
from incore.objects.s7 import S7Client  # noqa: E402

logging.getLogger("snap7").setLevel(logging.ERROR)

AREA_SIZE = 256
DB1_SIZE = 2048
#: wire area code -> snap7 server area number (register_area)
SRV_AREA = {0x81: 0, 0x82: 1, 0x83: 2, 0x1C: 3, 0x1D: 4, 0x84: 5}


class PySnap7Peer:
    """python-snap7 3.x's server; `areas[(wire code, db)]` is the memory it serves."""

    name = "python-snap7"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.areas = {(code, 0): bytearray(AREA_SIZE) for code in (0x81, 0x82, 0x83, 0x1C, 0x1D)}
        self.areas[(0x84, 1)] = bytearray(DB1_SIZE)
        self.areas[(0x84, 2)] = bytearray(64)
        self.server: PyServer | None = None
        self.start()

    def start(self) -> None:
        server = PyServer(log=False)
        for (code, db), buf in self.areas.items():
            server.register_area(SrvArea(SRV_AREA[code]), db, buf)
        server.start_to("127.0.0.1", self.port)
        self.server = server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server.destroy()
            self.server = None

    def memory(self, area: int, db: int = 0) -> bytes:
        return bytes(self.areas[(area, db)])

    def cpu_running(self) -> bool:
        return self.server.get_status()[1] == "Run"

    def cpu_becomes(self, running: bool, timeout: float = 2.0) -> bool:
        return self.cpu_running() == running  # answered before the reply: no wait needed


class CPeer:
    """The Snap7 C server in the driver subprocess (a fresh one per test)."""

    name = "snap7-c"

    AREAS = [dict(area=SRV_AREA[c], size=AREA_SIZE) for c in (0x81, 0x82, 0x83, 0x1C, 0x1D)] + [
        dict(area=5, index=1, size=DB1_SIZE),
        dict(area=5, index=2, size=64),
    ]

    def __init__(self, driver: Snap7CPeer) -> None:
        self.driver = driver
        self.port = free_port()
        self.start()

    def start(self) -> None:
        """(Re)start on `port` with fresh memory."""
        self.driver.call("server_start", port=self.port, areas=self.AREAS)

    def stop(self) -> None:
        """The driver keeps one server: moving it to another port closes this one."""
        self.driver.call("server_start", port=free_port(), areas=[])

    def memory(self, area: int, db: int = 0) -> bytes:
        return bytes.fromhex(self.driver.call("server_area", area=SRV_AREA[area], index=db))

    def cpu_running(self) -> bool:
        return "Run" in str(self.driver.call("server_cpu_status"))

    def cpu_becomes(self, running: bool, timeout: float = 2.0) -> bool:
        """The C server sets its CPU status after it has replied: wait for it, bounded."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while self.cpu_running() != running:
            if time.monotonic() > deadline:
                return False
            pause.wait(0.005)
        return True


@pytest.fixture(scope="module")
def snap7c() -> Iterator[Snap7CPeer]:
    driver = Snap7CPeer()
    try:
        yield driver
    finally:
        driver.close()


@pytest.fixture
def py_peer() -> Iterator[PySnap7Peer]:
    peer = PySnap7Peer()
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def c_peer(snap7c: Snap7CPeer) -> CPeer:
    return CPeer(snap7c)


@pytest.fixture(params=["python-snap7", "snap7-c"])
def peer(request: pytest.FixtureRequest) -> Any:
    """Each test runs against both peer servers."""
    return request.getfixturevalue("py_peer" if request.param == "python-snap7" else "c_peer")


@pytest.fixture
def harness() -> Iterator[S7TestServer]:
    server = S7TestServer()
    fill_store(server)
    try:
        yield server
    finally:
        server.close()
    assert server.errors == [], "our server engine refused the client's bytes"


@pytest.fixture
def make_client(loop: EventLoop) -> Iterator[Callable[..., S7Client]]:
    """make_client(port, connect=True, **properties): a completed S7Client on 127.0.0.1,
    connected when `connect` (the default); every one is shut down after the test."""
    made: list[S7Client] = []

    def make(port: int, connect: bool = True, **properties: Any) -> S7Client:
        properties.setdefault("hostname", "127.0.0.1")
        client = S7Client(port=port, **properties)
        made.append(client)
        client.complete()
        if connect:
            assert loop.run_until(lambda: client.connected, WAIT), client.errorString
        return client

    yield make
    for client in made:
        client.shutdown()


def silent_listener() -> socket.socket:
    """A port that accepts TCP connections (in the kernel's backlog) but never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def closed_port() -> int:
    """A port nobody listens on (connecting is refused at once)."""
    return free_port()


def record_errors(obj: Any) -> list[tuple[Any, str]]:
    """Every errorOccurred of `obj` as (error, errorString), in order."""
    seen: list[tuple[Any, str]] = []
    obj.errorOccurred.connect(lambda: seen.append((obj.error, obj.errorString)))
    return seen
