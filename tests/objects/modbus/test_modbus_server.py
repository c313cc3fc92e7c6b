"""ModbusTcpServer through pymodbus 3.16.1's client: every function code, the exceptions,
unit ids, device identification from properties, and ModbusRegisters bound both ways."""

from __future__ import annotations

import struct
import threading

import pytest
from pymodbus.pdu import ExceptionResponse
from test_modbus_server_support import (  # noqa: F401
    WAIT,
    call,
    client,
    in_thread,
    loop,
    make_server,
    raw_exchange,
)

from incore.objects.foundation import DataObject
from incore.objects.modbus import ModbusRegister, ModbusTcpServer


def exception_code(answer) -> int:
    assert isinstance(answer, ExceptionResponse), answer
    return answer.exception_code


def test_every_function_through_the_object(loop) -> None:
    server = make_server(holdingRegisterCount=100, coilCount=50)

    def session(c):
        out = {}
        assert not c.write_registers(0, [1, 2, 3, 4]).isError()
        out["hr"] = c.read_holding_registers(0, count=4).registers
        assert not c.write_register(10, 0xBEEF).isError()
        out["one"] = c.read_holding_registers(10, count=1).registers
        assert not c.write_coils(0, [True, False, True]).isError()
        assert not c.write_coil(5, True).isError()
        out["coils"] = c.read_coils(0, count=6).bits[:6]
        out["di"] = c.read_discrete_inputs(0, count=8).bits
        out["ir"] = c.read_input_registers(0, count=3).registers
        assert not c.mask_write_register(address=10, and_mask=0x00FF, or_mask=0x1200).isError()
        out["masked"] = c.read_holding_registers(10, count=1).registers
        rw = c.readwrite_registers(read_address=0, read_count=2, write_address=0, values=[7, 8])
        out["rw"] = rw.registers
        out["diag"] = c.diag_read_bus_message_count().message
        ident = c.read_device_information(read_code=1)
        out["ident"] = ident.information
        return out

    out = call(loop, server, session)
    assert out["hr"] == [1, 2, 3, 4]
    assert out["one"] == [0xBEEF]
    assert out["coils"] == [True, False, True, False, False, True]
    assert out["di"] == [False] * 8 and out["ir"] == [0, 0, 0]
    assert out["masked"] == [(0xBEEF & 0x00FF) | (0x1200 & 0xFF00)]
    assert out["rw"] == [7, 8]
    assert out["ident"] == {0: b"incore", 1: b"ModbusTcpServer", 2: b"1.0"}
    assert out["diag"]


def test_exceptions_through_the_object(loop) -> None:
    server = make_server(holdingRegisterCount=10, coilCount=16, address=3)

    def session(c):
        return [
            exception_code(c.read_holding_registers(9, count=2, device_id=3)),  # 02
            exception_code(c.read_coils(16, count=1, device_id=3)),  # 02
            exception_code(c.read_device_information(read_code=4, object_id=0x90, device_id=3)),
            exception_code(c.read_holding_registers(0, count=1, device_id=7)),  # 0B
            c.read_holding_registers(0, count=1, device_id=255).registers,
            c.read_holding_registers(0, count=1, device_id=0).registers,
        ]

    assert call(loop, server, session) == [2, 2, 2, 0x0B, [0], [0]]
    port = server.networkPort
    # what pymodbus's client refuses to send: quantity 126 (03), an unknown function (01),
    # FC 5 with a value other than 0/0xFF00 (03)
    too_many = in_thread(
        loop,
        lambda: raw_exchange(port, bytes.fromhex("000100000006030300000 07e".replace(" ", ""))),
    )
    assert too_many[7:] == bytes([0x83, 3])
    unknown = in_thread(loop, lambda: raw_exchange(port, bytes.fromhex("0002000000020364")))
    assert unknown[7:] == bytes([0xE4, 1])
    coil = in_thread(loop, lambda: raw_exchange(port, bytes.fromhex("000300000006030500001234")))
    assert coil[7:] == bytes([0x85, 3])


def test_identity_from_properties_and_device_objects(loop) -> None:
    server = make_server(
        vendorName="Acme",
        productName="Pump",
        userApplicationName="tests",
        deviceObjects={0x80: "serial 42", "0x81": "x"},
    )
    info = call(loop, server, lambda c: c.read_device_information(read_code=3).information)
    assert info[0] == b"Acme" and info[4] == b"Pump" and info[6] == b"tests"
    assert info[0x80] == b"serial 42" and info[0x81] == b"x"
    server.vendorName = "Other"  # open connections and new ones take it
    info = call(loop, server, lambda c: c.read_device_information(read_code=4).information)
    assert info == {0: b"Other"}


def test_registers_bound_both_ways(loop) -> None:
    source = DataObject(dataType="Float", data=12.5)
    level = ModbusRegister(dataType="Float", address=0)
    level.bind("data", lambda: source.data * 2)
    counter = ModbusRegister(dataType="SignedInteger", address=2, data=-5)
    word = ModbusRegister(address=4, dataType="UnsignedSmallInteger")
    coil = ModbusRegister(type="Coil", address=3)
    text = ModbusRegister(dataType="String", count=3, address=10, data="abc")
    server = make_server(objects=[level, counter, word, coil, text])
    changed: list[int] = []
    server.registersDataChanged.connect(changed.append)

    regs = call(loop, server, lambda c: c.read_holding_registers(0, count=13).registers)
    assert struct.unpack(">f", struct.pack(">HH", *regs[0:2]))[0] == 25.0
    assert struct.unpack(">i", struct.pack(">HH", *regs[2:4]))[0] == -5
    assert regs[4] == 0 and word.data == 0
    assert bytes(b for r in regs[10:13] for b in r.to_bytes(2, "big")) == b"abc\0\0\0"

    source.data = 1.25  # a property change updates the table
    regs = call(loop, server, lambda c: c.read_holding_registers(0, count=2).registers)
    assert struct.unpack(">f", struct.pack(">HH", *regs))[0] == 2.5

    def writes(c):
        assert not c.write_register(4, 777).isError()
        assert not c.write_registers(
            2, list(struct.unpack(">HH", struct.pack(">i", 123456)))
        ).isError()
        assert not c.write_coil(3, True).isError()

    call(loop, server, writes)
    assert loop.run_until(lambda: coil.data is True and counter.data == 123456, WAIT)
    assert word.data == 777
    assert sorted(set(changed)) == [1, 2, 3]  # the document-order indexes of the written three
    assert level.data == 2.5  # untouched by the clients' writes


def test_bad_value_answers_exception_04_or_the_last_value(loop) -> None:
    strict = ModbusRegister(address=0, data=11)
    lenient = ModbusRegister(address=1, data=22, badValue="LastValue")
    server = make_server(objects=[strict, lenient])
    assert call(loop, server, lambda c: c.read_holding_registers(0, count=2).registers) == [11, 22]
    strict.quality = DataObject.Bad
    lenient.quality = DataObject.Bad

    def reads(c):
        return (
            exception_code(c.read_holding_registers(0, count=2)),
            c.read_holding_registers(1, count=1).registers,
        )

    assert call(loop, server, reads) == (4, [22])
    strict.quality = DataObject.Good
    assert call(loop, server, lambda c: c.read_holding_registers(0, count=2).registers) == [11, 22]


def test_a_register_bound_to_a_source_with_no_value_yet_answers_exception_04(loop) -> None:
    """A gateway's register bound to a client variable that has not been read yet: a client
    gets exception 04, not the table's 0 as if it were a reading; then the value."""
    source = DataObject()
    reg = ModbusRegister(address=0)
    reg.bind("data", lambda: source.data)
    server = make_server(objects=[reg])
    assert call(loop, server, lambda c: exception_code(c.read_holding_registers(0, count=1))) == 4
    source.data = 42
    assert loop.run_until(lambda: reg.data == 42, WAIT)
    assert call(loop, server, lambda c: c.read_holding_registers(0, count=1).registers) == [42]


def test_overlaid_table_each_view_sees_the_others_writes(loop) -> None:
    coil = ModbusRegister(type="Coil", address=17)
    word = ModbusRegister(address=1)
    server = make_server(dataTable="Overlaid", objects=[coil, word])

    def session(c):
        assert not c.write_coil(17, True).isError()
        first = c.read_holding_registers(1, count=1).registers
        assert not c.write_register(1, 0x0004).isError()
        return first, c.read_coils(16, count=3).bits[:3]

    first, bits = call(loop, server, session)
    assert first == [0x0002] and bits == [False, False, True]
    assert loop.run_until(lambda: word.data == 4 and coil.data is False, WAIT)


def test_a_register_outside_its_table_is_a_map_error(loop) -> None:
    reg = ModbusRegister(address=9, dataType="Float")
    server = ModbusTcpServer(
        networkAddress="127.0.0.1", networkPort=0, holdingRegisterCount=10, objects=[reg]
    )
    errors: list[int] = []
    server.mapErrorOccurred.connect(lambda: errors.append(1))
    try:
        server.complete()
        assert errors and reg.error == ModbusRegister.ReadError
        assert "does not fit" in reg.errorString
    finally:
        server.shutdown()


@pytest.mark.parametrize("unit", [0, 9])
def test_broadcast_only_when_turned_on(loop, unit) -> None:
    server = make_server(broadcast=True)

    def session(c):
        answer = c.write_register(0, 5, device_id=unit, no_response_expected=unit == 0)
        return answer, c.read_holding_registers(0, count=1, device_id=1).registers

    answer, regs = call(loop, server, session)
    assert regs == [5]
    assert (answer is None) == (unit == 0)


def test_mask_writes_of_two_clients_are_atomic(loop) -> None:
    """FC 22 is a read-modify-write inside the store's lock: two clients setting different
    bits of one register, many times each, never lose each other's bits."""
    reg = ModbusRegister(address=7)
    server = make_server(objects=[reg])
    errors: list = []

    def worker(bit: int) -> None:
        c = client(server)
        try:
            for _ in range(150):  # set our bit, then clear it, keeping every other bit
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
    assert call(loop, server, lambda c: c.read_holding_registers(7, count=1).registers) == [0x0201]
    assert loop.run_until(lambda: reg.data == 0x0201, WAIT)


def test_fc23_is_all_or_nothing_around_a_bad_register(loop) -> None:
    """FC 23 whose read touches a Bad register it does not write answers 04 and writes
    nothing (the table, the bound property and registersDataChanged stay as they were);
    one that writes the Bad register itself reads back what it wrote, since a client's
    write makes a register Good."""
    bad = ModbusRegister(address=0, data=11)
    target = ModbusRegister(address=5, data=55)
    marker = ModbusRegister(address=9, data=0)
    server = make_server(objects=[bad, target, marker])
    changed: list[int] = []
    server.registersDataChanged.connect(changed.append)
    bad.quality = DataObject.Bad

    def refused(c):
        answer = c.readwrite_registers(read_address=0, read_count=2, write_address=5, values=[99])
        refusal = exception_code(answer), c.read_holding_registers(5, count=1).registers
        assert not c.write_register(9, 1).isError()  # its event comes after any of FC 23's
        return refusal

    assert call(loop, server, refused) == (4, [55])
    assert loop.run_until(lambda: marker.data == 1, WAIT)
    assert target.data == 55 and changed == [2]

    def covered(c):
        answer = c.readwrite_registers(read_address=0, read_count=2, write_address=0, values=[7])
        return answer.registers

    assert call(loop, server, covered) == [7, 0]
    assert loop.run_until(lambda: bad.data == 7 and bad.quality == DataObject.Good, WAIT)
    assert changed == [2, 0]
