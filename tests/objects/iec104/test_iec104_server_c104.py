"""c104 2.2.1's Client (lib60870) against our IEC104Server on 127.0.0.1: start-up with a
general interrogation and clock sync, group and counter interrogation, read, test,
spontaneous values, commands direct and select-before-operate, a refused command, and an
unknown IOA answered with one frame. c104's Client reports verdicts from its own threads
and races (see docs/dev/iec104.md), so the frames it received (its raw callback) decide.

c104's Client with `Init.ALL` sometimes (about one run in three, against any listener)
opens the connection and never sends STARTDT, and with `Init.NONE` it sometimes sends it
anyway. So the peer connects with `Init.NONE`, sends STARTDT unless c104 did, then the
interrogation and the clock sync, as `Init.ALL` would."""

# no `from __future__ import annotations`: c104 checks callback annotations as real types

import threading
from typing import Any

import c104
from test_iec104_server_support import (  # noqa: F401  (fixtures)
    WAIT,
    _close_masters,
    loop,
    make_server,
    point,
    wait,
)

from incore.protocols.iec104 import Asdu, Cause, decode_asdu, decode_frame

CON, TERM = Cause.ACTIVATION_CON, Cause.ACTIVATION_TERMINATION


class Peer:
    """A c104 Client with one connection to `port`, its station 1, and every frame it got."""

    def __init__(self, port: int, init: Any = c104.Init.NONE) -> None:
        self.client = c104.Client(tick_rate_ms=50, command_timeout_ms=3000)
        self.connection = self.client.add_connection(ip="127.0.0.1", port=port, init=init)
        self.station = self.connection.add_station(common_address=1)
        self.received: list[bytes] = []
        self.connection.on_receive_raw(callable=self._on_raw)

    def _on_raw(self, connection: c104.Connection, data: bytes) -> None:
        self.received.append(bytes(data))

    def asdus(self) -> list[Asdu]:
        out = []
        for data in list(self.received):
            frame = decode_frame(data)
            if hasattr(frame, "asdu"):
                out.append(decode_asdu(frame.asdu))
        return out

    def find(self, type_id: int, cause: int, negative: bool = False) -> list[Asdu]:
        return [
            a
            for a in self.asdus()
            if (a.type_id, a.cause, a.negative) == (type_id, cause, negative)
        ]

    def start(self, loop: Any) -> None:
        """Connect, STARTDT, general interrogation and clock sync (c104's Init.ALL)."""
        self.client.start()
        states = (c104.ConnectionState.OPEN_MUTED, c104.ConnectionState.OPEN)
        connection = self.connection
        assert loop.run_until(lambda: connection.state in states, WAIT), connection.state
        if connection.state == states[0]:  # it may also have sent STARTDT on its own
            self.run(loop, connection.unmute)
        self.run(loop, lambda: self.connection.interrogation(1))
        self.run(loop, lambda: self.connection.clock_sync(1))

    def run(self, loop: Any, fn: Any) -> Any:
        """Call a blocking c104 method on a thread while the loop runs."""
        box: dict = {}
        thread = threading.Thread(target=lambda: box.setdefault("r", fn()), daemon=True)
        thread.start()
        assert loop.run_until(lambda: not thread.is_alive(), WAIT)
        return box.get("r")


def test_the_c104_client_against_our_server(loop):
    server = make_server()
    synced = []
    server.clockSync.connect(lambda ip, dateTime: synced.append(dateTime))
    point(server, 500).received.connect(
        lambda message: message.refuse() if message.value is False else None
    )
    peer = Peer(server.port)
    try:
        peer.start(loop)
        wait(loop, lambda: peer.find(100, TERM))
        wait(loop, lambda: peer.find(103, CON))
        assert synced and synced[0].tzinfo is not None
        station = peer.station
        wait(loop, lambda: station.get_point(io_address=203) is not None)
        assert station.get_point(io_address=202).value == 23.5
        assert station.get_point(io_address=100).value is True
        assert station.get_point(io_address=101).value == c104.Double.ON
        assert int(station.get_point(io_address=201).value) == -1234

        # a spontaneous value
        point(server, 202).data = 99.25
        wait(loop, lambda: station.get_point(io_address=202).value == 99.25)

        # group 2 and counter interrogation, read, test
        conn = peer.connection
        peer.run(loop, lambda: conn.interrogation(1, qualifier=c104.Qoi.GROUP_2))
        wait(loop, lambda: peer.find(100, TERM) and [a for a in peer.asdus() if a.cause == 22])
        group = {o.ioa for a in peer.asdus() if a.cause == 22 for o in a.objects}
        assert group == {101, 200}
        peer.run(loop, lambda: conn.counter_interrogation(1))
        wait(loop, lambda: peer.find(101, TERM))
        counted = {o.ioa: o.value for a in peer.asdus() if a.cause == 37 for o in a.objects}
        assert counted == {300: 1000, 301: 2000}
        peer.run(loop, lambda: station.get_point(io_address=201).read())
        wait(loop, lambda: peer.find(11, Cause.REQUEST))
        peer.run(loop, lambda: conn.test(common_address=1))
        wait(loop, lambda: peer.find(107, CON))

        # a direct command, accepted then refused by a handler
        command = station.add_point(io_address=500, type=c104.Type.C_SC_NA_1)
        command.value = True
        peer.run(loop, lambda: command.transmit(cause=c104.Cot.ACTIVATION))
        wait(loop, lambda: peer.find(45, TERM))
        assert point(server, 500).data is True
        command.value = False
        peer.run(loop, lambda: command.transmit(cause=c104.Cot.ACTIVATION))
        wait(loop, lambda: peer.find(45, CON, negative=True))
        assert point(server, 500).data is True

        # select-before-operate, as c104 does it
        sbo = station.add_point(io_address=504, type=c104.Type.C_SE_NB_1)
        sbo.command_mode = c104.CommandMode.SELECT_AND_EXECUTE
        sbo.value = c104.Int16(321)
        peer.run(loop, lambda: sbo.transmit(cause=c104.Cot.ACTIVATION))
        wait(loop, lambda: peer.find(49, TERM))
        assert point(server, 504).data == 321
        assert [a.objects[0].select for a in peer.find(49, CON)] == [True, False]

        # an unknown IOA: one negative frame with COT 47 (c104's own server sends two)
        stray = station.add_point(io_address=7777, type=c104.Type.C_SC_NA_1)
        stray.value = True
        peer.run(loop, lambda: stray.transmit(cause=c104.Cot.ACTIVATION))
        wait(loop, lambda: peer.find(45, Cause.UNKNOWN_IOA, negative=True))
        loop.run_until(lambda: False, 0.2)
        about_7777 = [a for a in peer.asdus() if a.objects and a.objects[0].ioa == 7777]
        assert len(about_7777) == 1
    finally:
        peer.client.stop()
