"""Our IEC 104 link engine against c104 2.2.1 (lib60870) on 127.0.0.1: as the controlling
station against c104's Server, and as the controlled station (with a tiny station written
here) against c104's Client. STARTDT, general interrogation, commands, test frames,
spontaneous data, and the raw bytes c104 sends decoded by our codec.

The engine runs behind `EngineLoop`, a socket loop that knows only the contract (like
`drive()` in test_protocols_contract.py) plus a way to post calls into its thread. c104's
Server has no way to say which port 0 gave it, so `listening_ports` reads it from
/proc (the process's own listening sockets before and after `start`).
"""

# no `from __future__ import annotations`: c104 checks callback annotations as real types

import os
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import c104
import pytest
import waiting

from incore.protocols.errors import ProtocolError
from incore.protocols.iec104 import (
    Asdu,
    AsduReceived,
    Cause,
    ClockSync,
    DoublePoint,
    FloatValue,
    Iec104Link,
    Interrogation,
    Quality,
    Role,
    ScaledValue,
    SingleCommand,
    SinglePoint,
    Started,
    TestCommand,
    TestConfirmed,
    TypeId,
    decode_asdu,
    decode_frame,
    encode_asdu,
    i_frame,
    mirror,
    pack_objects,
)

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/net/tcp"), reason="needs /proc")

Responder = Callable[[Iec104Link, Any, float], None]


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


class EngineLoop(threading.Thread):
    """Drive one `Iec104Link` over a connected socket; events go to `events` (and to
    `responder`, in the loop's thread), calls posted with `call` run in the loop."""

    def __init__(self, sock: socket.socket, link: Iec104Link, responder: Responder | None = None):
        super().__init__(daemon=True)
        self.sock, self.link, self.responder = sock, link, responder
        self.events: queue.Queue = queue.Queue()
        self.seen: list = []
        self._calls: queue.Queue = queue.Queue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._halt = False

    def call(self, fn: Callable[[Iec104Link, float], None]) -> None:
        self._calls.put(fn)
        self._wake_w.send(b"x")

    def close(self) -> None:
        self._halt = True
        self._wake_w.send(b"x")
        self.join(5)
        self.sock.close()

    def wait_for(self, match: Callable[[Any], bool], timeout: float = 5.0) -> Any:
        """The first event from now on that `match`es (decoded ASDUs for AsduReceived)."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching event in {timeout} s; seen {self.seen}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if match(event):
                return event

    def run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        link = self.link
        try:
            while not self._halt:
                deadline = link.next_deadline()
                wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                ready = sel.select(wait)
                now = time.monotonic()
                events: list = []
                for key, _ in ready:
                    if key.fileobj is self.sock:
                        data = self.sock.recv(65536)
                        if not data:
                            self._emit("peer closed", now)
                            return
                        events += link.receive_data(data, now)
                    else:
                        self._wake_r.recv(4096)
                        while not self._calls.empty():
                            self._calls.get_nowait()(link, now)
                deadline = link.next_deadline()
                if deadline is not None and deadline <= now:
                    events += link.handle_timer(now)
                for event in events:
                    self._emit(event, now)
                out = link.data_to_send()
                if out:
                    self.sock.sendall(out)
        except (ProtocolError, OSError) as exc:
            self._emit(exc, time.monotonic())

    def _emit(self, event: Any, now: float) -> None:
        if isinstance(event, AsduReceived):
            event = decode_asdu(event.payload)
        self.seen.append(event)
        if self.responder is not None and isinstance(event, Asdu):
            self.responder(self.link, event, now)
        self.events.put(event)


def until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll a c104-side `condition` (c104 offers no event to wait on) up to `timeout`."""
    return waiting.until(condition, timeout)


def send(link: Iec104Link, asdu: Asdu, now: float) -> None:
    link.send_pdu(encode_asdu(asdu), now)


def is_asdu(type_id: int, cause: int, negative: bool = False) -> Callable[[Any], bool]:
    return lambda e: (
        isinstance(e, Asdu) and e.type_id == type_id and (e.cause, e.negative) == (cause, negative)
    )


# --- our controlling station against c104's Server ---------------------------------------


@pytest.fixture
def c104_server():
    before = listening_ports()
    server = c104.Server(ip="127.0.0.1", port=0)
    raw: list[bytes] = []

    def on_send_raw(server: c104.Server, data: bytes) -> None:
        raw.append(bytes(data))

    server.on_send_raw(callable=on_send_raw)
    station = server.add_station(common_address=1)
    points = {
        1001: station.add_point(io_address=1001, type=c104.Type.M_ME_NC_1),
        1002: station.add_point(io_address=1002, type=c104.Type.M_SP_NA_1),
        1003: station.add_point(io_address=1003, type=c104.Type.M_DP_TB_1),
        1004: station.add_point(io_address=1004, type=c104.Type.M_ME_NB_1),
    }
    points[1001].value = 23.5
    points[1002].value = True
    points[1003].value = c104.Double.ON
    points[1004].value = c104.Int16(-1234)
    commands: list = []
    command = station.add_point(io_address=2001, type=c104.Type.C_SC_NA_1)

    def on_command(
        point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
    ) -> c104.ResponseState:
        commands.append(point.value)
        return c104.ResponseState.SUCCESS

    command.on_receive(callable=on_command)
    server.start()
    try:
        (port,) = listening_ports() - before
        yield server, port, points, commands, raw
    finally:
        server.stop()


def test_our_client_against_the_c104_server(c104_server):
    server, port, points, commands, raw = c104_server
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    loop = EngineLoop(sock, Iec104Link(Role.CONTROLLING, now=time.monotonic()))
    loop.start()
    try:
        loop.call(lambda link, now: link.start(now))
        loop.wait_for(lambda e: e == Started())

        gi = Asdu(TypeId.C_IC_NA_1, Cause.ACTIVATION, 1, (Interrogation(0, 20),))
        loop.call(lambda link, now: send(link, gi, now))
        loop.wait_for(is_asdu(100, Cause.ACTIVATION_CON))
        loop.wait_for(is_asdu(100, Cause.ACTIVATION_TERMINATION))
        answers = [e for e in loop.seen if isinstance(e, Asdu) and e.cause == 20]
        got = {o.ioa: o for a in answers for o in a.objects}
        assert got[1001] == FloatValue(1001, 23.5)
        assert got[1002] == SinglePoint(1002, True)
        assert (got[1003].value, got[1003].quality) == (2, 0) and got[1003].time is not None
        assert got[1004] == ScaledValue(1004, -1234)

        on = Asdu(TypeId.C_SC_NA_1, Cause.ACTIVATION, 1, (SingleCommand(2001, True),))
        loop.call(lambda link, now: send(link, on, now))
        con = loop.wait_for(is_asdu(45, Cause.ACTIVATION_CON))
        assert con.objects == on.objects and commands == [True]

        unknown = Asdu(TypeId.C_SC_NA_1, Cause.ACTIVATION, 1, (SingleCommand(7777, True),))
        loop.call(lambda link, now: send(link, unknown, now))
        # c104's quirk: two answers to an unknown IOA, a negative actcon and then COT 47
        # without P/N (the standard wants one negative frame with COT 47)
        refused = loop.wait_for(is_asdu(45, Cause.ACTIVATION_CON, negative=True))
        assert refused.objects == unknown.objects
        loop.wait_for(is_asdu(45, Cause.UNKNOWN_IOA, negative=False))

        for n in range(30):  # more than k and w: both sides must keep acknowledging
            points[1001].value = float(n)
            assert points[1001].transmit(cause=c104.Cot.SPONTANEOUS)
        last = loop.wait_for(
            lambda e: is_asdu(13, Cause.SPONTANEOUS)(e) and e.objects[0].value == 29.0
        )
        assert last.objects[0].ioa == 1001
        spont = [e.objects[0].value for e in loop.seen if is_asdu(13, Cause.SPONTANEOUS)(e)]
        assert spont == [float(n) for n in range(30)]

        loop.call(lambda link, now: link.test(now))
        loop.wait_for(lambda e: e == TestConfirmed())
        assert not [e for e in loop.seen if isinstance(e, Exception)]
    finally:
        loop.close()
    # every frame c104 sent reads the same with our decoder as with lib60870's own
    for data in raw:
        frame = decode_frame(data)
        told = c104.explain_bytes_dict(apdu=data)
        if told["format"] == "I":
            asdu = decode_asdu(frame.asdu)
            assert (asdu.type_id, asdu.cause) == (int(told["type"]), int(told["cot"]))
            assert asdu.objects[0].ioa == told["firstInformationObjectAddress"]


# --- c104's Client against our controlled station ----------------------------------------


def station(link: Iec104Link, asdu: Asdu, now: float) -> None:
    """A tiny controlled station: GI, clock sync, test and commands answered positively."""
    if asdu.cause != Cause.ACTIVATION:
        return
    if asdu.type_id == TypeId.C_IC_NA_1:
        send(link, mirror(asdu, Cause.ACTIVATION_CON), now)
        values = [FloatValue(1001, 23.5), FloatValue(1002, -7.25)]
        for answer in pack_objects(TypeId.M_ME_NC_1, 20, 1, values):
            send(link, answer, now)
        send(link, Asdu(1, 20, 1, (SinglePoint(1010, True, Quality.NT),)), now)
        send(link, Asdu(3, 20, 1, (DoublePoint(1011, 1),)), now)
        send(link, mirror(asdu, Cause.ACTIVATION_TERMINATION), now)
    else:
        send(link, mirror(asdu, Cause.ACTIVATION_CON), now)


def test_the_c104_client_against_our_station():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        client = c104.Client(tick_rate_ms=50, command_timeout_ms=3000)
        connection = client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.ALL)
        remote = connection.add_station(common_address=1)
        command = remote.add_point(io_address=2001, type=c104.Type.C_SC_NA_1)
        sent_by_c104: list[bytes] = []

        def on_send_raw(connection: c104.Connection, data: bytes) -> None:
            sent_by_c104.append(bytes(data))

        connection.on_send_raw(callable=on_send_raw)
        received_by_c104: list[bytes] = []

        def on_receive_raw(connection: c104.Connection, data: bytes) -> None:
            received_by_c104.append(bytes(data))

        connection.on_receive_raw(callable=on_receive_raw)
        client.start()
        listener.settimeout(5)
        sock, _ = listener.accept()
        loop = EngineLoop(sock, Iec104Link(Role.CONTROLLED, now=time.monotonic()), station)
        loop.start()
        try:
            try:
                loop.wait_for(lambda e: e == Started(), 1.0)
            except AssertionError:  # c104 2.2.1 now and then connects muted and stays so
                assert connection.state == c104.ConnectionState.OPEN_MUTED, connection.state
                threading.Thread(target=connection.unmute, daemon=True).start()
                loop.wait_for(lambda e: e == Started())
            gi = loop.wait_for(is_asdu(100, Cause.ACTIVATION))
            assert gi.objects == (Interrogation(0, 20),) and gi.common_address == 0xFFFF
            sync = loop.wait_for(is_asdu(103, Cause.ACTIVATION))
            assert isinstance(sync.objects[0], ClockSync)
            sync.objects[0].time.to_datetime()  # a real date

            # c104 files GI answers on its own thread
            assert until(lambda: remote.get_point(io_address=1011) is not None)
            assert remote.get_point(io_address=1001).value == pytest.approx(23.5)
            assert remote.get_point(io_address=1002).value == pytest.approx(-7.25)
            assert remote.get_point(io_address=1010).value is True
            assert remote.get_point(io_address=1011).value == c104.Double.OFF

            command.value = True
            command.transmit(cause=c104.Cot.ACTIVATION)  # its verdict races: judge the wire
            got = loop.wait_for(is_asdu(45, Cause.ACTIVATION))
            assert got.objects == (SingleCommand(2001, True),)
            actcon = i_frame(0, 0, encode_asdu(mirror(got, Cause.ACTIVATION_CON)))[6:]
            assert until(lambda: any(d[6:] == actcon for d in received_by_c104))

            assert connection.test(common_address=1)
            test = loop.wait_for(is_asdu(107, Cause.ACTIVATION))
            assert isinstance(test.objects[0], TestCommand)

            loop.call(lambda link, now: link.test(now))
            loop.wait_for(lambda e: e == TestConfirmed())
            # c104 answered our TESTFR; its send callback may run just after the bytes went
            assert until(lambda: bytes.fromhex("680483000000") in sent_by_c104)
            assert not [e for e in loop.seen if isinstance(e, Exception)]
        finally:
            client.stop()
            loop.close()
    for data in sent_by_c104:
        frame = decode_frame(data)
        if hasattr(frame, "asdu"):
            decode_asdu(frame.asdu)
