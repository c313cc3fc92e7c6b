"""Shared fixtures of the IEC104Client / IEC104Connection tests (no tests here).

The peer is c104 2.2.1's Server (lib60870) on 127.0.0.1 with one station (CA 1) and a
few points of each kind. c104 reports port 0 after binding port 0, so the real port is
read from /proc (`listening_ports`, as tests/protocols/test_protocols_iec104_c104.py
does); a restart binds that port again. Every frame the server receives (what our client
sent) and sends is recorded by c104's raw callbacks and decoded with our codec, so tests
judge by the wire, not by c104's return values (its client side races, and its server's
callbacks run on its own thread).
"""

# no `from __future__ import annotations`: c104 checks callback annotations as real types

import datetime
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import c104
import pytest
import waiting

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

from foundation_helpers import WAIT, loop  # noqa: E402,F401  (fixture)

from incore.objects.iec104.connection import IEC104Connection  # noqa: E402
from incore.objects.iec104.point import IEC104Point  # noqa: E402
from incore.protocols.errors import ProtocolError  # noqa: E402
from incore.protocols.iec104 import (  # noqa: E402
    Asdu,
    AsduReceived,
    Cause,
    Iec104Link,
    Role,
    decode_asdu,
    decode_frame,
    encode_asdu,
    mirror,
)

needs_proc = pytest.mark.skipif(
    not os.path.exists("/proc/self/net/tcp"), reason="c104's port is read from /proc"
)


def listening_ports() -> set[int]:
    """The TCP ports this process listens on (IPv4)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    with open("/proc/self/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].split(":")[1], 16))
    return ports


def until(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll a c104-side `condition` (c104 offers nothing to wait on) up to `timeout`."""
    return waiting.until(condition, timeout, 0.005)


def asdus(frames: list[bytes]) -> list[Asdu]:
    """The ASDUs of the I-frames among `frames`, decoded by our codec."""
    out = []
    for data in list(frames):
        frame = decode_frame(data)
        if hasattr(frame, "asdu"):
            out.append(decode_asdu(frame.asdu))
    return out


class C104Station:
    """c104's Server with station CA 1: monitoring points 1001 (float), 1002 (single),
    1003 (double, time-tagged), 1004 (scaled), 1005 (counter), and command points 2001
    (single command, direct), 2002 (set-point float), 2003 (double command, select and
    execute). `received` lists the frames the server got (our client's), `sent` what it
    sent; `commands` the (ioa, value, select) its command callback saw; `refuse` holds the
    IOAs whose commands it refuses. `stop()`/`start()` restart it on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.received: list[bytes] = []
        self.sent: list[bytes] = []
        self.commands: list[tuple[int, Any, bool]] = []
        self.refuse: set[int] = set()
        self.clock: list[Any] = []
        self._lock = threading.Lock()
        self.server: Any = None
        self.start()

    def start(self) -> None:
        before = listening_ports()
        server = c104.Server(ip="127.0.0.1", port=self.port, select_timeout_ms=2000)

        def on_receive_raw(server: c104.Server, data: bytes) -> None:
            self.received.append(bytes(data))

        def on_send_raw(server: c104.Server, data: bytes) -> None:
            self.sent.append(bytes(data))

        def on_clock_sync(
            server: c104.Server, ip: str, date_time: datetime.datetime
        ) -> c104.ResponseState:
            self.clock.append(date_time)
            return c104.ResponseState.SUCCESS

        server.on_receive_raw(callable=on_receive_raw)
        server.on_send_raw(callable=on_send_raw)
        server.on_clock_sync(callable=on_clock_sync)
        station = server.add_station(common_address=1)
        self.points = {
            1001: station.add_point(io_address=1001, type=c104.Type.M_ME_NC_1),
            1002: station.add_point(io_address=1002, type=c104.Type.M_SP_NA_1),
            1003: station.add_point(io_address=1003, type=c104.Type.M_DP_TB_1),
            1004: station.add_point(io_address=1004, type=c104.Type.M_ME_NB_1),
            1005: station.add_point(io_address=1005, type=c104.Type.M_IT_NA_1),
        }
        self.points[1001].value = 23.5
        self.points[1002].value = True
        self.points[1003].value = c104.Double.ON
        self.points[1004].value = c104.Int16(-1234)
        self.points[1005].value = 4711
        commands = {
            2001: station.add_point(io_address=2001, type=c104.Type.C_SC_NA_1),
            2002: station.add_point(io_address=2002, type=c104.Type.C_SE_NC_1),
            2003: station.add_point(
                io_address=2003,
                type=c104.Type.C_DC_NA_1,
                command_mode=c104.CommandMode.SELECT_AND_EXECUTE,
            ),
        }

        def on_command(
            point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
        ) -> c104.ResponseState:
            with self._lock:
                self.commands.append((point.io_address, point.value, message.is_select_command))
            if point.io_address in self.refuse:
                return c104.ResponseState.FAILURE
            return c104.ResponseState.SUCCESS

        for point in commands.values():
            point.on_receive(callable=on_command)
        self.commands_points = commands
        server.start()
        if self.port == 0:
            (self.port,) = listening_ports() - before
        else:
            assert until(lambda: self.port in listening_ports()), "c104 did not listen again"
        self.server = server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def asdus_received(self) -> list[Asdu]:
        """What our client sent, as the server received it."""
        return asdus(self.received)

    def asdus_sent(self) -> list[Asdu]:
        return asdus(self.sent)

    def got(self, type_id: int, cause: int, timeout: float = WAIT) -> Asdu:
        """Wait until the server has received an ASDU of `type_id` with `cause`."""
        found: list[Asdu] = []

        def seen() -> bool:
            found[:] = [
                a for a in self.asdus_received() if (a.type_id, a.cause) == (type_id, cause)
            ]
            return bool(found)

        assert until(seen, timeout), [(a.type_id, a.cause) for a in self.asdus_received()]
        return found[0]


@pytest.fixture
def station() -> Iterator[C104Station]:
    server = C104Station()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_connection(loop: Any) -> Iterator[Callable[..., IEC104Connection]]:
    """make_connection(port, points=[point properties...], connect=True, **props): a
    completed IEC104Connection to 127.0.0.1 with IEC104Point children; shut down after."""
    made: list[IEC104Connection] = []

    def make(
        port: int,
        points: list[dict] | None = None,
        connect: bool = True,
        **properties: Any,
    ) -> IEC104Connection:
        properties.setdefault("ip", "127.0.0.1")
        properties.setdefault("timeout", 2000)
        connection = IEC104Connection(port=port, **properties)
        for props in points or []:
            IEC104Point(connection, **props)
        made.append(connection)
        connection.complete()
        if connect:
            assert loop.run_until(lambda: connection.connected, WAIT), connection.errorString
        return connection

    yield make
    for connection in made:
        connection.shutdown()


def record_errors(obj: Any) -> list[tuple[Any, str]]:
    """Every errorOccurred of `obj` as (error, errorString), in order."""
    seen: list[tuple[Any, str]] = []
    obj.errorOccurred.connect(lambda: seen.append((obj.error, obj.errorString)))
    return seen


class QuietStation(threading.Thread):
    """A station of our own link engine that confirms STARTDT, interrogations and clock
    syncs but never answers a command (what c104's Server cannot be made to do): for the
    command timeout. `commands` lists the command ASDUs it got."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.commands: list[Asdu] = []
        self._halt = False
        self.start()

    def run(self) -> None:
        self.listener.settimeout(0.1)
        while not self._halt:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                continue
            with sock:
                self._serve(sock)

    def _serve(self, sock: socket.socket) -> None:
        link = Iec104Link(Role.CONTROLLED, now=time.monotonic())
        sock.settimeout(0.05)
        while not self._halt:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                data = None
            except OSError:
                return
            if data == b"":
                return
            now = time.monotonic()
            try:
                events = link.receive_data(data, now) if data else link.handle_timer(now)
            except ProtocolError:
                return
            for event in events:
                if isinstance(event, AsduReceived):
                    asdu = decode_asdu(event.payload)
                    if asdu.type_id >= 100:
                        link.send_pdu(encode_asdu(mirror(asdu, Cause.ACTIVATION_CON)), now)
                    else:
                        self.commands.append(asdu)
            out = link.data_to_send()
            if out:
                sock.sendall(out)

    def stop(self) -> None:
        self._halt = True
        self.join(5)
        self.listener.close()


@pytest.fixture
def quiet_station() -> Iterator[QuietStation]:
    peer = QuietStation()
    try:
        yield peer
    finally:
        peer.stop()
