"""The application refuses clients' writes: ModbusRegister's `writeRequested(message, value)`
and `setWriteRequestedCallback`, with pymodbus 3.16.1's client as the peer. A refused write
is exception 04 and leaves the whole request unwritten; an accepted one lands with the usual
events; a loop that does not answer within `writeTimeout` is exception 04 too."""

from __future__ import annotations

import struct
import threading
import time

from pymodbus.pdu import ExceptionResponse
from test_modbus_server_support import WAIT, call, client, in_thread, loop, make_server  # noqa: F401

from incore.objects.modbus import ModbusRegister, ModbusTcpServer


def code(answer) -> int:
    """The exception code of an answer (0 for a normal answer)."""
    return answer.exception_code if isinstance(answer, ExceptionResponse) else 0


def limited(reg: ModbusRegister, high: float, seen: list | None = None) -> None:
    """A handler on `reg` that refuses values above `high` (and records what it saw)."""

    def vet(message) -> None:
        if seen is not None:
            seen.append(message)
        if message.value > high:
            message.refuse("too high")

    reg.writeRequested.connect(vet)


def test_a_refused_write_is_exception_04_and_the_table_keeps_its_value(loop) -> None:
    reg = ModbusRegister(address=1, data=5)
    server = make_server(holdingRegisterCount=10, objects=[reg])
    seen: list = []
    limited(reg, 100, seen)
    changed: list[int] = []
    server.registersDataChanged.connect(changed.append)

    def session(c):
        return [
            code(c.write_register(1, 150)),
            c.read_holding_registers(1, count=1).registers,
            code(c.write_register(1, 60)),
            c.read_holding_registers(1, count=1).registers,
        ]

    assert call(loop, server, session) == [4, [5], 0, [60]]
    assert loop.run_until(lambda: reg.data == 60, WAIT)
    assert changed == [0]  # one change: the accepted write's
    refused, accepted = seen
    assert (refused.value, refused.accepted, refused.reason) == (150, False, "too high")
    assert refused.registers == [150] and refused.function == 6 and refused.peer == "127.0.0.1"
    assert accepted.accepted and accepted.raw == b"\x00\x3c"


def test_every_write_function_goes_through_the_veto(loop) -> None:
    reg = ModbusRegister(address=2, data=7)
    coil = ModbusRegister(type=ModbusRegister.Coil, address=4, data=False)
    server = make_server(holdingRegisterCount=20, coilCount=20, objects=[reg, coil])
    limited(reg, 100)
    coil.writeRequested.connect(lambda m: m.refuse("locked") if m.value else None)

    def session(c):
        return [
            code(c.write_registers(0, [1, 2, 300])),  # FC 16
            code(c.mask_write_register(address=2, and_mask=0x0000, or_mask=0x0200)),  # FC 22
            code(
                c.readwrite_registers(read_address=0, read_count=3, write_address=2, values=[999])
            ),
            code(c.write_coil(4, True)),  # FC 5
            code(c.write_coils(3, [True, True, False])),  # FC 15
            c.read_holding_registers(0, count=3).registers,
            c.read_coils(0, count=8).bits[:8],
            code(c.mask_write_register(address=2, and_mask=0x00F0, or_mask=0x0003)),
            code(c.write_coils(3, [True, False, True])),
            c.read_holding_registers(2, count=1).registers,
            c.read_coils(0, count=8).bits[:8],
        ]

    out = call(loop, server, session)
    assert out[:5] == [4, 4, 4, 4, 4]
    assert out[5] == [0, 0, 7] and out[6] == [False] * 8  # nothing of any request landed
    assert out[7:9] == [0, 0]
    assert out[9] == [(7 & 0x00F0) | (0x0003 & 0xFF0F)]
    assert out[10] == [False, False, False, True, False, True, False, False]
    assert loop.run_until(lambda: reg.data == 3, WAIT)


def test_fc16_over_a_vetoed_and_a_free_register_is_all_or_nothing(loop) -> None:
    free = ModbusRegister(address=0, data=1)
    vetted = ModbusRegister(address=1, dataType="Float", data=2.5)  # registers 1..2
    server = make_server(holdingRegisterCount=10, objects=[free, vetted])
    limited(vetted, 10.0)
    hi, lo = struct.unpack(">HH", struct.pack(">f", 12.0))
    ok_hi, ok_lo = struct.unpack(">HH", struct.pack(">f", 7.25))

    def session(c):
        return [
            code(c.write_registers(0, [11, hi, lo, 44])),
            c.read_holding_registers(0, count=4).registers,
            code(c.write_registers(0, [11, ok_hi, ok_lo, 44])),
            c.read_holding_registers(0, count=4).registers,
        ]

    before = list(struct.unpack(">HH", struct.pack(">f", 2.5)))
    out = call(loop, server, session)
    assert out[0] == 4 and out[1] == [1, *before, 0]
    assert out[2] == 0 and out[3] == [11, ok_hi, ok_lo, 44]
    assert loop.run_until(lambda: free.data == 11 and vetted.data == 7.25, WAIT)


def test_half_of_a_float_is_vetted_as_the_value_it_makes(loop) -> None:
    reg = ModbusRegister(address=4, dataType="Float", data=1.0)
    server = make_server(holdingRegisterCount=10, objects=[reg])
    seen: list = []
    limited(reg, 1e6, seen)
    big = struct.unpack(">HH", struct.pack(">f", 1e9))[0]  # high word of 1e9

    def session(c):
        return code(c.write_register(4, big))

    assert call(loop, server, session) == 4
    low = struct.unpack(">HH", struct.pack(">f", 1.0))[1]
    assert seen[0].value == struct.unpack(">f", struct.pack(">HH", big, low))[0]


def test_a_python_callback_vets_too(loop) -> None:
    reg = ModbusRegister(address=0, data=0)
    server = make_server(holdingRegisterCount=10, objects=[reg])
    reg.setWriteRequestedCallback(lambda r, m: m.value < 10)

    def session(c):
        return [code(c.write_register(0, 12)), code(c.write_register(0, 9))]

    assert call(loop, server, session) == [4, 0]
    reg.setWriteRequestedCallback(None)
    assert call(loop, server, lambda c: code(c.write_register(0, 12))) == 0
    assert server._core.vetoed == [()] * 5  # no vetting left: the fast path again


def test_without_a_handler_writes_are_not_asked_about(loop) -> None:
    reg = ModbusRegister(address=3, data=0)
    server = make_server(holdingRegisterCount=10, objects=[reg])

    def vet(message) -> None:
        message.refuse("no")

    assert server._core.vetoed == [()] * 5
    reg.writeRequested.connect(vet)
    assert server._core.vetoed[4] == ((3, 4),)
    assert call(loop, server, lambda c: code(c.write_registers(0, [1, 2, 3, 4]))) == 4
    reg.writeRequested.disconnect(vet)
    assert server._core.vetoed == [()] * 5
    assert call(loop, server, lambda c: code(c.write_registers(0, [1, 2, 3, 4]))) == 0


def test_a_busy_loop_gives_04_after_write_timeout_and_nothing_lands(loop) -> None:
    reg = ModbusRegister(address=0, data=1)
    server = make_server(holdingRegisterCount=10, writeTimeout=200, objects=[reg])
    seen: list = []
    limited(reg, 100, seen)
    release = threading.Event()
    loop.post(release.wait, WAIT)  # the loop is busy until the client has its answer

    def session(c):
        t0 = time.monotonic()
        try:
            answer = c.write_register(0, 2)
            return code(answer), time.monotonic() - t0
        finally:
            release.set()

    answer, took = call(loop, server, session)
    assert answer == 4
    assert 0.15 <= took < 0.9  # writeTimeout's 200 ms, not the default 1000
    assert call(loop, server, lambda c: c.read_holding_registers(0, count=1).registers) == [1]
    assert seen == []  # the late job was dropped, not shown to the handler
    assert reg.data == 1


def test_vetted_mask_writes_of_two_clients_stay_atomic(loop) -> None:
    """FC 22 on a vetted register asks outside the store's lock, then writes only if the
    register still holds what its value came from: two clients setting different bits of
    one register never lose each other's bits."""
    reg = ModbusRegister(address=7)
    server = make_server(objects=[reg])
    seen: list = []
    reg.writeRequested.connect(seen.append)
    errors: list = []

    def worker(bit: int) -> None:
        c = client(server)
        try:
            for _ in range(60):  # set our bit, then clear it, keeping every other bit
                for value in (1 << bit, 0):
                    answer = c.mask_write_register(
                        address=7, and_mask=0xFFFF & ~(1 << bit), or_mask=value
                    )
                    if answer.isError():
                        errors.append(answer)
            c.mask_write_register(address=7, and_mask=0xFFFF & ~(1 << bit), or_mask=1 << bit)
        finally:
            c.close()

    def both() -> None:
        threads = [threading.Thread(target=worker, args=(bit,)) for bit in (0, 9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    in_thread(loop, both, 3 * WAIT)
    assert errors == []
    assert len(seen) >= 242  # every request was asked about (some twice, after a race)
    assert call(loop, server, lambda c: c.read_holding_registers(7, count=1).registers) == [0x0201]
    assert loop.run_until(lambda: reg.data == 0x0201, WAIT)


def test_in_an_overlaid_table_a_coil_write_is_vetted_by_the_register_it_lands_in(loop) -> None:
    word = ModbusRegister(address=0, data=0)  # holds coils 0..15
    server = make_server(dataTable="Overlaid", coilCount=64, objects=[word])
    seen: list = []
    limited(word, 0x00FF, seen)

    def session(c):
        return [
            code(c.write_coil(3, True)),  # word becomes 0x0008: accepted
            code(c.write_coil(12, True)),  # word would be 0x1008: refused
            c.read_holding_registers(0, count=1).registers,
        ]

    assert call(loop, server, session) == [0, 4, [0x0008]]
    assert [m.value for m in seen] == [0x0008, 0x1008]
    assert seen[1].function == 5 and seen[1].type == ModbusRegister.Coil
