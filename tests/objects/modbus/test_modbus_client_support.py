"""Shared fixtures of the ModbusTcpClient / ModbusSlave tests (no tests here).

The peer is pymodbus 3.16.1's asyncio `ModbusTcpServer` on a loop of its own thread (as in
tests/protocols/test_protocols_modbus_pymodbus.py), serving two units with different data,
and restartable on the same port, so a test can take the server away and bring it back.
Its memory is read and set through its own datastore on its loop (`get`/`set`), never
through our code.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

from foundation_helpers import WAIT, loop  # noqa: E402,F401  (fixture)

from incore.core import EventLoop  # noqa: E402
from incore.objects.modbus.client import ModbusTcpClient  # noqa: E402
from incore.objects.modbus.register import ModbusRegister  # noqa: E402
from incore.objects.modbus.slave import ModbusSlave  # noqa: E402

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

#: Unit 1's tables; unit 2 holds 7 in every holding register (told apart from unit 1).
HOLDING = list(range(100))
INPUTS = list(range(1000, 1100))
DISCRETE = [n % 3 == 0 for n in range(100)]


class PymodbusServer:
    """pymodbus's asyncio ModbusTcpServer on its own thread and loop; `stop()`/`start()`
    take it away and bring it back on the same port with the same data."""

    def __init__(self) -> None:
        from pymodbus.datastore import (
            ModbusDeviceContext,
            ModbusSequentialDataBlock,
            ModbusServerContext,
        )

        block = ModbusSequentialDataBlock  # its addresses start at 1 (0 on the wire)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            unit1 = ModbusDeviceContext(
                co=block(1, [False] * 100),
                di=block(1, DISCRETE),
                hr=block(1, HOLDING),
                ir=block(1, INPUTS),
            )
            unit2 = ModbusDeviceContext(hr=block(1, [7] * 100))
            self.context = ModbusServerContext(devices={1: unit1, 2: unit2}, single=False)
        self.port = 0
        self.server: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.start()

    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self._run(ready),), daemon=True
        )
        self.thread.start()
        assert ready.wait(10), "pymodbus's server did not start"

    async def _run(self, ready: threading.Event) -> None:
        from pymodbus.server import ModbusTcpServer

        self.stopping = asyncio.Event()
        server = ModbusTcpServer(self.context, address=("127.0.0.1", self.port))
        await server.listen()
        self.server = server
        self.port = server.transport.sockets[0].getsockname()[1]
        ready.set()
        await self.stopping.wait()
        await server.shutdown()

    def stop(self) -> None:
        loop, thread = self.loop, self.thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(self.stopping.set)
        thread.join(10)
        assert not thread.is_alive()
        loop.close()
        self.loop = self.thread = None

    def _on_loop(self, coro: Any) -> Any:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT)

    def get(self, function: int, address: int, count: int = 1, unit: int = 1) -> list:
        """`count` values of the table `function` reads, from wire `address`."""
        return list(
            self._on_loop(self.server.context.async_getValues(unit, function, address, count))
        )

    def set(self, function: int, address: int, values: list, unit: int = 1) -> None:
        """Store `values` at wire `address` of the table `function` writes."""
        self._on_loop(self.server.context.async_setValues(unit, function, address, values))


@pytest.fixture
def pymodbus_server() -> Iterator[PymodbusServer]:
    server = PymodbusServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_client(loop: EventLoop) -> Iterator[Callable[..., ModbusTcpClient]]:
    """make_client(port, slaves={unit: [register properties...]}, connect=True, **props):
    a completed ModbusTcpClient on 127.0.0.1 with ModbusSlave children and their
    ModbusRegisters; shut down after the test."""
    made: list[ModbusTcpClient] = []

    def make(
        port: int,
        slaves: dict[int, list[dict]] | None = None,
        connect: bool = True,
        slave_props: dict | None = None,
        **properties: Any,
    ) -> ModbusTcpClient:
        properties.setdefault("networkAddress", "127.0.0.1")
        client = ModbusTcpClient(networkPort=port, **properties)
        for unit, registers in (slaves or {}).items():
            slave = ModbusSlave(client, address=unit, **(slave_props or {}))
            for props in registers:
                ModbusRegister(slave, **props)
        made.append(client)
        client.complete()
        if connect:
            assert loop.run_until(lambda: client.connected, WAIT), client.errorString
        return client

    yield make
    for client in made:
        client.shutdown()


def registers_of(client: ModbusTcpClient, unit: int | None = None) -> list[ModbusRegister]:
    """The registers of the client's slaves (of `unit` only, if given), in order."""
    found = []
    for slave in client.objects:
        if isinstance(slave, ModbusSlave) and (unit is None or slave.address == unit):
            found.extend(slave.registers)
    return found


def record_errors(obj: Any) -> list[tuple[Any, str]]:
    """Every errorOccurred of `obj` as (error, errorString), in order."""
    seen: list[tuple[Any, str]] = []
    obj.errorOccurred.connect(lambda: seen.append((obj.error, obj.errorString)))
    return seen


# -- a proxy that sees every request and can mangle one reply --------------------------------

Fault = Callable[[bytes, bytes], bytes]  # (previous reply frame, this one) -> what to send


def _read_frame(stream: Any) -> bytes:
    """One whole MBAP frame from a file-like socket stream (b"" at the end)."""
    header = stream.read(6)
    if len(header) < 6:
        return b""
    return header + stream.read(struct.unpack_from(">H", header, 4)[0])


class ModbusProxy:
    """Forwards Modbus TCP clients to `upstream` a frame at a time. `requests` lists every
    request frame a client sent (whole ADUs, in order); `arm(fault)` mangles the next reply,
    `hold(seconds)` delays it; `in_flight_max` is the most requests seen unanswered at once."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.requests: list[bytes] = []
        self.replies = 0
        self.in_flight_max = 0
        self._fault: Fault | None = None
        self._hold = 0.0
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.applied = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def functions(self) -> list[int]:
        """The function code of every request so far."""
        with self._lock:
            return [frame[7] for frame in self.requests]

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._fault = fault

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._hold = seconds

    def close(self) -> None:
        with self._lock:
            socks, self._socks = [self._listener, *self._socks], []
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                server = socket.create_connection(("127.0.0.1", self.upstream), WAIT)
            except OSError:
                return
            with self._lock:
                self._socks += [client, server]
            threading.Thread(target=self._forward, args=(client, server), daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client), daemon=True).start()

    def _forward(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            with src.makefile("rb") as stream:
                while frame := _read_frame(stream):
                    with self._lock:
                        self.requests.append(frame)
                        flying = len(self.requests) - self.replies
                        self.in_flight_max = max(self.in_flight_max, flying)
                    dst.sendall(frame)
        except (OSError, ValueError):
            pass
        _shut(src, dst)

    def _replies(self, src: socket.socket, dst: socket.socket) -> None:
        previous = b""
        try:
            with src.makefile("rb") as stream:
                while frame := _read_frame(stream):
                    with self._lock:
                        fault, self._fault = self._fault, None
                        hold, self._hold = self._hold, 0.0
                        self.replies += 1
                    if hold:
                        threading.Event().wait(hold)
                    dst.sendall(frame if fault is None else fault(previous, frame))
                    if fault is not None or hold:
                        self.applied.set()
                    previous = frame
        except (OSError, ValueError):
            pass
        _shut(src, dst)


def _shut(*socks: socket.socket) -> None:
    for sock in socks:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class SilentServer:
    """Accepts connections and reads requests but never answers; `frames` counts the
    requests of each connection, `closed` is set when a client hangs up."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frames: list[int] = []
        self.closed = threading.Event()
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self._socks.append(conn)
            self.frames.append(0)
            threading.Thread(
                target=self._serve, args=(conn, len(self.frames) - 1), daemon=True
            ).start()

    def _serve(self, conn: socket.socket, index: int) -> None:
        try:
            with conn.makefile("rb") as stream:
                while _read_frame(stream):
                    self.frames[index] += 1
        except (OSError, ValueError):
            pass
        self.closed.set()

    def close(self) -> None:
        _shut(self.listener, *self._socks)
        for sock in (self.listener, *self._socks):
            sock.close()


@pytest.fixture
def proxy(pymodbus_server: PymodbusServer) -> Iterator[ModbusProxy]:
    running = ModbusProxy(pymodbus_server.port)
    try:
        yield running
    finally:
        running.close()
