"""ModbusTcpClient's link: timeouts and retries, a server that goes away and comes back,
quality while the link is down, and replies mangled on the way (a proxy): a reply to an
earlier request is dropped and counted, one that answers nothing closes the link, and no
answer ever lands in another request's register. Pipelined requests (maxPendingRequests)
against our own server engine, which answers every frame of a segment."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable

import pytest
from test_modbus_client_support import (  # noqa: F401  (fixtures)
    HOLDING,
    INPUTS,
    WAIT,
    Fault,
    SilentServer,
    loop,
    make_client,
    proxy,
    pymodbus_server,
    record_errors,
    registers_of,
)

from incore.objects.foundation.data import Quality
from incore.objects.modbus.client import ModbusTcpClient

TIMEOUT_MS = 300


def _read(loop, client: ModbusTcpClient) -> list | None:
    """Poll every slave once; the registers' data once each has answered, or None if any
    failed (Bad) or the answer did not come."""
    registers = registers_of(client)
    for slave in client.objects:
        slave.pollRegisters()
    busy = client._variables.busy
    if not loop.run_until(lambda: not any(r in busy for r in registers), WAIT):
        return None
    loop.process_events()
    if any(r.quality != Quality.Good for r in registers):
        return None
    return [r.data for r in registers]


def test_an_unanswered_request_is_retried_then_the_link_is_made_again(loop, make_client):
    silent = SilentServer()
    try:
        client = make_client(
            silent.port,
            {1: [dict(type="Holding", address=0)]},
            timeout=TIMEOUT_MS,
            numberOfRetries=2,
            maxReconnectInterval=50,
            reconnectInterval=50,
        )
        (register,) = registers_of(client)
        errors = record_errors(client)
        started = time.monotonic()
        register.pollData()
        assert loop.run_until(lambda: register.quality == Quality.Bad, WAIT)
        took = time.monotonic() - started
        assert silent.closed.wait(WAIT)  # the client hung up on it
        assert silent.frames[0] == 3  # the request, then two retries
        assert 3 * TIMEOUT_MS / 1000 * 0.9 < took < 3 * TIMEOUT_MS / 1000 + 1.0
        assert errors and errors[0][0] == ModbusTcpClient.Error.TimeoutError, errors
        assert "2 retries" in errors[0][1]
        assert "no answer" in register.errorString or "Timeout" in register.errorString
        assert loop.run_until(lambda: len(silent.frames) >= 2, WAIT)  # and connects again
    finally:
        silent.close()


def test_a_server_that_goes_away_and_comes_back(loop, make_client, pymodbus_server):
    client = make_client(
        pymodbus_server.port,
        {1: [dict(type="Input", address=3), dict(type="Holding", address=4)]},
        timeout=TIMEOUT_MS,
        reconnectInterval=20,
        maxReconnectInterval=100,
    )
    assert _read(loop, client) == [INPUTS[3], HOLDING[4]]
    states: list = []
    client.stateChanged.connect(lambda: states.append(client.state.name))
    pymodbus_server.stop()
    assert loop.run_until(lambda: not client.connected, WAIT)
    registers = registers_of(client)
    assert loop.run_until(lambda: all(r.quality == Quality.Bad for r in registers), WAIT)
    assert all(r.data is not None for r in registers)  # the last value is kept
    assert registers[0].qualityReason.startswith("Connection error"), registers[0].qualityReason
    assert client.error == ModbusTcpClient.Error.ConnectionError
    assert client.state == ModbusTcpClient.State.Connecting  # trying again
    registers[0].pollData()  # polled while down: Bad at once, read once connected
    pymodbus_server.start()
    assert loop.run_until(lambda: client.connected, WAIT), client.errorString
    assert loop.run_until(lambda: registers[0].quality == Quality.Good, WAIT)
    assert _read(loop, client) == [INPUTS[3], HOLDING[4]]
    assert client.error == 0 and "Connected" in states


def test_a_write_without_a_link_fails_at_once(loop, make_client, pymodbus_server):
    client = make_client(
        pymodbus_server.port,
        {1: [dict(type="Holding", address=1)]},
        reconnectInterval=1000,
        maxReconnectInterval=1000,
    )
    (register,) = registers_of(client)
    assert _read(loop, client) == [HOLDING[1]]  # pymodbus has taken the connection
    pymodbus_server.stop()
    assert loop.run_until(lambda: not client.connected, WAIT)
    register.data = 9
    loop.process_events()
    assert register.error == register.WriteError and "not connected" in register.errorString
    pymodbus_server.start()
    assert loop.run_until(lambda: client.connected, WAIT), client.errorString
    register.data = 9  # the same value again: it never reached the device, so it is sent
    assert loop.run_until(lambda: pymodbus_server.get(3, 1) == [9], WAIT)
    assert loop.run_until(lambda: register.error == 0, WAIT)


def _with_tid(frame: bytes, tid: int) -> bytes:
    return struct.pack(">H", tid & 0xFFFF) + frame[2:]


FAULTS: dict[str, Fault] = {
    # the reply twice: the second one meets the next request
    "duplicate": lambda previous, frame: frame + frame,
    # the previous reply again, late, before this one
    "stale": lambda previous, frame: previous + frame,
    # a transaction id nothing was sent with
    "foreign tid": lambda previous, frame: _with_tid(
        frame, struct.unpack(">H", frame[:2])[0] + 30000
    ),
    # the right id from another unit
    "other unit": lambda previous, frame: frame[:6] + bytes([frame[6] ^ 0x40]) + frame[7:],
    # not Modbus at all (protocol id 0x4142)
    "garbage": lambda previous, frame: b"\x00\x01AB" + frame[4:],
    # half a reply, then nothing of it
    "truncated": lambda previous, frame: frame[: len(frame) // 2],
}

#: How long after the fault the client must read right again: retries, a reconnect and
#: slack for a loaded machine.
RECOVERY = 4 * TIMEOUT_MS / 1000 + 2.0


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_mangled_reply_never_lands_in_another_register(name, loop, make_client, proxy):
    # two registers in two requests: a reply taken for the wrong request would swap them
    client = make_client(
        proxy.port,
        {1: [dict(type="Input", address=10), dict(type="Input", address=60)]},
        timeout=TIMEOUT_MS,
        numberOfRetries=1,
        reconnectInterval=10,
    )
    expected = [INPUTS[10], INPUTS[60]]
    assert _read(loop, client) == expected
    proxy.arm(FAULTS[name])
    armed = time.monotonic()
    outcomes: list = []
    while time.monotonic() - armed < RECOVERY and outcomes[-3:] != [expected] * 3:
        outcomes.append(_read(loop, client))
        if outcomes[-1] is None:
            loop.run_until(lambda: client.connected, RECOVERY)
    assert proxy.applied.is_set()
    assert all(o in (None, expected) for o in outcomes), outcomes  # never a wrong value
    assert outcomes[-3:] == [expected] * 3, f"{name}: {outcomes}, {client.errorString}"
    if name in ("duplicate", "stale"):  # dropped and counted; no read failed for it
        assert all(o == expected for o in outcomes), outcomes
        assert loop.run_until(lambda: client.droppedReplies == 1, WAIT), client.droppedReplies
    elif name == "truncated":  # retried on the same link: the rest of the frame is awaited
        assert client.droppedReplies <= 1
    else:  # out of step: the link was closed and made again
        assert client.droppedReplies == 0
        assert outcomes.count(None) <= 2, outcomes


def test_a_late_answer_is_dropped_and_the_retry_answers(loop, make_client, proxy):
    client = make_client(
        proxy.port,
        {1: [dict(type="Holding", address=7)]},
        timeout=TIMEOUT_MS,
        numberOfRetries=2,
    )
    assert _read(loop, client) == [HOLDING[7]]
    proxy.hold(TIMEOUT_MS / 1000 * 1.5)  # the next reply comes after its request gave up
    assert _read(loop, client) == [HOLDING[7]]
    assert proxy.applied.is_set()
    assert loop.run_until(lambda: client.droppedReplies == 1, WAIT)
    retried = [struct.unpack(">H", f[:2])[0] for f in proxy.requests[-2:]]
    assert retried[1] == retried[0] + 1  # the retry went out with a fresh transaction id
    assert client.connected and client.error == 0


# -- pipelining, against our own server engine (pymodbus answers one frame a segment) -------


class EngineServer:
    """incore's Modbus server engine behind a thread per connection on 127.0.0.1:0."""

    def __init__(self) -> None:
        import socket

        from incore.protocols.modbus import MemoryStore, ModbusServerProtocol, Table

        self.store = MemoryStore(lock=threading.RLock())
        self.store.write_registers(Table(4), 0, b"".join(struct.pack(">H", n) for n in range(200)))
        self.make: Callable = lambda: ModbusServerProtocol(self.store)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        engine = self.make()
        try:
            while data := conn.recv(65536):
                engine.receive_data(data)
                conn.sendall(engine.data_to_send())
        except OSError:
            pass

    def close(self) -> None:
        import socket

        for sock in (self.listener, *self.conns):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


@pytest.fixture
def engine_server():
    server = EngineServer()
    yield server
    server.close()


def test_pipelined_polls_are_matched_by_transaction_id(loop, make_client, engine_server):
    from test_modbus_client_support import ModbusProxy

    relay = ModbusProxy(engine_server.port)
    try:
        addresses = [0, 20, 40, 60, 80, 100, 120, 140]
        client = make_client(
            relay.port,
            {1: [dict(type="Holding", address=a) for a in addresses]},
            maxPendingRequests=4,
        )
        relay.hold(0.1)  # the first answer waits: every request pipelined is seen first
        assert _read(loop, client) == addresses
        assert len(relay.requests) == len(addresses)  # one read each (gap 0)
        assert relay.in_flight_max > 1  # several were out before the first answer came
        assert relay.in_flight_max <= 4
    finally:
        relay.close()
