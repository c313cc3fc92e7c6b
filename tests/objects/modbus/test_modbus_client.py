"""ModbusTcpClient with ModbusSlave and ModbusRegister children against pymodbus 3.16.1's
server: every table read and written from our side, polls grouped in blocks as the slave's
pollMode, maximumBlockGap and maximumBlockLength say, units told apart, a write per change,
refused writes, quality, and every function through the Python API. A proxy between the
two counts the requests that really went out."""

from __future__ import annotations

import pytest
from test_modbus_client_support import (  # noqa: F401  (fixtures)
    DISCRETE,
    INPUTS,
    WAIT,
    loop,
    make_client,
    proxy,
    pymodbus_server,
    record_errors,
    registers_of,
)

from incore.objects.foundation.data import Quality
from incore.objects.modbus.client import ModbusTcpClient
from incore.protocols.modbus import pdu as P
from incore.protocols.modbus.errors import ModbusException


def _poll(loop, client: ModbusTcpClient, unit: int | None = None) -> list:
    """Poll every slave once and wait until each register has answered (Good or not)."""
    registers = registers_of(client, unit)
    for slave in client.objects:
        if unit is None or slave.address == unit:
            slave.pollRegisters()
    busy = client._variables.busy  # asked and not answered yet
    assert all(r in busy for r in registers if r.enabled)
    assert loop.run_until(lambda: not any(r in busy for r in registers), WAIT), [
        (str(r.peer_address), r.errorString) for r in registers
    ]
    loop.process_events()
    return [r.data for r in registers]


def test_every_table_is_read_with_its_type(loop, make_client, pymodbus_server):
    client = make_client(
        pymodbus_server.port,
        {
            1: [
                dict(type="Holding", address=2),
                dict(type="Holding", address=3, dataType="SignedInteger"),
                dict(type="Input", address=5, count=3),
                dict(type="DiscreteInput", address=0, count=4),
                dict(type="DiscreteInput", address=3, dataType="Boolean"),
                dict(type="Coil", address=7),
            ],
            2: [dict(type="Holding", address=0, count=2)],
        },
    )
    pymodbus_server.set(1, 7, [True])
    assert _poll(loop, client) == [
        2,
        (3 << 16) | 4,
        INPUTS[5:8],
        DISCRETE[0:4],
        DISCRETE[3],
        True,
        [7, 7],  # unit 2: another device behind the same server
    ]
    assert all(r.quality == Quality.Good for r in registers_of(client))
    assert client.state == ModbusTcpClient.State.Connected
    assert client.error == ModbusTcpClient.Error.NoError


def test_registers_are_read_in_blocks(loop, make_client, proxy):
    holding = [dict(type="Holding", address=a) for a in (0, 1, 2, 5, 6, 40)]
    client = make_client(proxy.port, {1: holding + [dict(type="Coil", address=3)]})
    assert _poll(loop, client) == [0, 1, 2, 5, 6, 40, False]
    # gap 0: 0..2, 5..6 and 40 are three holding reads; the coil is a read of its own
    reads = sorted((f[7], int.from_bytes(f[8:10], "big"), f[11]) for f in proxy.requests)
    assert reads == [(1, 3, 1), (3, 0, 3), (3, 5, 2), (3, 40, 1)]

    slave = client.objects[0]
    proxy.requests.clear()
    slave.maximumBlockGap = 2
    _poll(loop, client)
    reads = sorted((f[7], int.from_bytes(f[8:10], "big"), f[11]) for f in proxy.requests)
    assert reads == [(1, 3, 1), (3, 0, 7), (3, 40, 1)]  # 3 and 4 read through

    proxy.requests.clear()
    slave.maximumBlockLength = 4
    _poll(loop, client)
    reads = sorted((f[7], int.from_bytes(f[8:10], "big"), f[11]) for f in proxy.requests)
    assert reads == [(1, 3, 1), (3, 0, 3), (3, 5, 2), (3, 40, 1)]

    proxy.requests.clear()
    slave.pollMode = "PollSingleRegisters"
    assert _poll(loop, client) == [0, 1, 2, 5, 6, 40, False]
    assert len(proxy.requests) == 7


def test_registers_polled_one_by_one_in_a_turn_share_a_request(loop, make_client, proxy):
    client = make_client(proxy.port, {1: [dict(type="Input", address=a) for a in range(10)]})
    registers = registers_of(client)
    for register in registers:  # each one's own pollData, as Polling children would
        register.pollData()
    assert loop.run_until(lambda: all(r.data is not None for r in registers), WAIT)
    assert [r.data for r in registers] == INPUTS[:10]
    assert len(proxy.requests) == 1


def test_a_changed_value_writes_the_device_once(loop, make_client, proxy, pymodbus_server):
    client = make_client(
        proxy.port,
        {
            1: [
                dict(type="Holding", address=10),
                dict(type="Holding", address=20, dataType="Float"),
                dict(type="Holding", address=30, dataType="String", count=3),
                dict(type="Coil", address=1),
                dict(type="Coil", address=4, count=3),
            ]
        },
    )
    single, real, text, coil, coils = registers_of(client)
    single.data = 1234
    real.data = 2.5
    text.data = "abcd"
    coil.data = True
    coils.data = [True, False, True]

    def landed() -> bool:
        return (
            pymodbus_server.get(3, 10) == [1234]
            and pymodbus_server.get(3, 20, 2) == [0x4020, 0]
            and pymodbus_server.get(3, 30, 3) == [0x6162, 0x6364, 0]
            and pymodbus_server.get(1, 0, 8)
            == [False, True, False, False, True, False, True, False]
        )

    assert loop.run_until(landed, WAIT)
    assert sorted(proxy.functions()) == [5, 6, 15, 16, 16]  # one request per write
    single.data = 1234  # the device holds it already: nothing is sent
    single.write(1234)  # write() writes, also an unchanged value
    assert loop.run_until(lambda: len(proxy.requests) == 6, WAIT)
    pymodbus_server.set(3, 10, [1])
    assert _poll(loop, client)[0] == 1  # the device's value comes back by the next poll
    assert _poll(loop, client)[0] == 1
    writes = [f for f in proxy.functions() if f in (5, 6, 15, 16)]
    assert len(writes) == 6  # a value read is never written back
    assert all(r.error == 0 for r in (single, real, text, coil, coils))


def test_inputs_refuse_writes_without_a_request(loop, make_client, proxy):
    client = make_client(
        proxy.port,
        {1: [dict(type="Input", address=0), dict(type="DiscreteInput", address=0)]},
    )
    for register in registers_of(client):
        errors = record_errors(register)
        register.data = 1 if register.type == register.Type.Input else True
        loop.process_events()
        assert errors and "read-only" in errors[-1][1], errors
        assert register.error == register.WriteError
    assert proxy.requests == []


def test_an_exception_answer_makes_its_block_bad_and_the_next_good_read_good(
    loop, make_client, pymodbus_server
):
    client = make_client(
        pymodbus_server.port,
        {1: [dict(type="Holding", address=0), dict(type="Holding", address=5)], 3: []},
    )
    ok, moved = registers_of(client)
    _poll(loop, client)
    assert moved.quality == Quality.Good
    moved.address = 150  # beyond pymodbus's 100 registers: an exception answer
    _poll(loop, client)
    assert ok.quality == Quality.Good and ok.data == 0
    assert moved.quality == Quality.Bad and moved.error == moved.ReadError
    assert "unit 1 holding registers 150..150" in moved.errorString
    assert "exception 0" in moved.errorString, moved.errorString
    assert moved.data == 5  # the last value is kept
    assert client.connected and client.error == 0  # the connection is fine
    moved.address = 6
    _poll(loop, client)
    assert moved.quality == Quality.Good and moved.data == 6 and moved.error == 0


def test_a_write_refused_by_the_device_is_a_write_error(loop, make_client, pymodbus_server):
    client = make_client(pymodbus_server.port, {1: [dict(type="Holding", address=500)]})
    (register,) = registers_of(client)
    errors = record_errors(register)
    register.data = 3
    assert loop.run_until(lambda: errors, WAIT)
    assert register.error == register.WriteError
    assert "write refused, exception" in register.errorString
    assert client.error == 0 and client.connected


def test_every_function_through_the_python_api(loop, make_client, pymodbus_server):
    client = make_client(pymodbus_server.port)

    def run(request: P.Request, unit: int = 1) -> object:
        return client.execute(request, unit).result(WAIT)

    assert run(P.read_input_registers(0, 3)) == INPUTS[:3]
    assert run(P.read_discrete_inputs(0, 5)) == DISCRETE[:5]
    assert run(P.write_single_register(0, 77)) is None
    assert run(P.write_multiple_registers(10, [1, 2, 3])) is None
    assert run(P.read_holding_registers(9, 5)) == [9, 1, 2, 3, 13]
    assert run(P.read_holding_registers(0, 2), unit=2) == [7, 7]
    assert run(P.mask_write_register(0, 0x00FF, 0x0100)) is None
    assert run(P.read_holding_registers(0, 1)) == [77 | 0x100]
    assert run(P.read_write_multiple_registers(1, 3, 2, [5, 6])) == [1, 5, 6]
    assert run(P.write_single_coil(3, True)) is None
    assert run(P.write_multiple_coils(0, [True, False, True])) is None
    assert run(P.read_coils(0, 5)) == [True, False, True, True, False]
    assert run(P.diagnostics(0, b"\x12\x34")) == b"\x12\x34"
    with pytest.raises(ModbusException) as refused:
        run(P.read_holding_registers(99, 2))
    assert refused.value.code == 2
    assert run(P.read_holding_registers(0, 1)) == [77 | 0x100]  # the link is still fine
    assert client.connected


def test_state_follows_connect_and_disconnect(loop, make_client, pymodbus_server):
    client = make_client(pymodbus_server.port, connect=False, autoConnect=False)
    states: list = []
    client.stateChanged.connect(lambda: states.append(client.state))
    assert client.state == ModbusTcpClient.State.Unconnected
    client.connectDevice()
    assert loop.run_until(lambda: client.connected, WAIT)
    client.disconnectDevice()
    assert loop.run_until(lambda: client.state == ModbusTcpClient.State.Unconnected, WAIT)
    names = [s.name for s in states]
    assert names == ["Connecting", "Connected", "Closing", "Unconnected"], names
    assert client.networkAddress == client.hostname == "127.0.0.1"


def test_the_slave_lists_its_registers_and_says_which_changed(loop, make_client, pymodbus_server):
    client = make_client(
        pymodbus_server.port,
        {1: [dict(type="Holding", address=a) for a in (0, 1, 2)]},
    )
    slave = client.objects[0]
    assert slave.registers == list(slave.objects)
    changed: list[int] = []
    slave.registersDataChanged.connect(changed.append)
    _poll(loop, client)
    assert sorted(changed) == [0, 1, 2]  # None -> the device's values
    changed.clear()
    pymodbus_server.set(3, 1, [99])
    _poll(loop, client)
    assert changed == [1]


def test_a_disabled_slave_is_left_alone(loop, make_client, proxy):
    client = make_client(proxy.port, {1: [dict(type="Holding", address=0)]})
    slave = client.objects[0]
    (register,) = registers_of(client)
    slave.enabled = False
    slave.pollRegisters()
    register.pollData()
    register.data = 5
    loop.process_events()
    assert proxy.requests == []
    assert register.error == register.WriteError and "disabled" in register.errorString


def test_a_slave_outside_a_client_says_so(loop):
    from incore.objects.modbus.register import ModbusRegister
    from incore.objects.modbus.slave import ModbusSlave

    slave = ModbusSlave()
    register = ModbusRegister(slave, type="Holding", address=0)
    slave.complete()
    register.pollData()
    loop.process_events()
    assert slave.error == slave.Error.InvalidClientError
    assert "child of a ModbusTcpClient" in slave.errorString
    assert register.error == register.ReadError
