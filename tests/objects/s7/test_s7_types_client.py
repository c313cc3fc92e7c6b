"""S7Client's variables of every S7 type, against both peer servers: what a variable writes is
what python-snap7's `snap7.util` setters write, and a variable reads back the same value."""

from __future__ import annotations

import datetime as dt
import struct
from typing import Any

import pytest
from test_s7_client_support import (  # noqa: F401
    WAIT,
    c_peer,
    loop,
    make_client,
    peer,
    py_peer,
    snap7c,
)
from test_s7_types_support import CASES, expected_bytes

from incore.objects.foundation import DataType
from incore.objects.foundation.data import Quality
from incore.objects.s7 import S7Client, S7Variable
from incore.objects.s7.address import Type
from incore.objects.s7.values import read_value, write_value
from incore.protocols.s7 import Area


def variable(client: S7Client, **props: Any) -> S7Variable:
    var = S7Variable(**props)
    client.appendChild(var)
    var.complete()
    return var


def test_every_type_writes_snap7s_bytes_and_reads_its_value_back(peer, make_client, loop):
    client = make_client(peer.port)
    writers = [variable(client, name=case.address) for case in CASES]
    for var, case in zip(writers, CASES):
        assert var.error == S7Variable.NoError, (case.address, var.errorString)
        var.data = case.value
    readers = [variable(client, name=case.address) for case in CASES]
    for reader in readers:
        reader.pollData()  # after the writes, on the same link
    assert loop.run_until(lambda: all(r.data is not None for r in readers), WAIT), [
        (r.name, r.errorString) for r in readers if r.data is None
    ]
    assert [r.data for r in readers] == [case.value for case in CASES]
    assert all(v.error == S7Variable.NoError for v in writers + readers)
    memory = peer.memory(Area.DB, 1)
    for case in CASES:
        stored = memory[case.offset : case.offset + case.size]
        assert stored == expected_bytes(case), case.address


def test_names_set_plc_type_count_and_length():
    var = S7Variable(name="DB3,S10.20.2")
    assert (var.db, var.address, var.plcType, var.count, var.length) == (
        3,
        10,
        S7Variable.PlcType.STRING,
        2,
        20,
    )
    assert (
        var.size == 44 and var.width == "String" and var.address_text == "DB3.DBB10:STRING[20][2]"
    )
    var.name = "DB1.DBW2"  # back to a plain width: the type enum alone says it
    assert (var.plcType, var.count, var.type) == (S7Variable.PlcType.Auto, 1, Type.DataWord)
    node_red = S7Variable(name="DB1,D0", dataType=DataType.Float)
    assert node_red.type == Type.DataDWord  # Node-RED's D is a DWORD, whatever dataType says
    step7 = S7Variable(name="DB1.DBD0", dataType=DataType.Float)
    assert step7.type == Type.DataReal  # a width-only address is refined, as before
    by_props = S7Variable(type=Type.MemoryDWord, address=8, plcType="TIME")
    assert str(by_props.peer_address) == "MD8:TIME" and by_props.size == 4


def test_bit_arrays_are_written_bit_by_bit(c_peer, make_client, loop):
    """Against the Snap7 C server: python-snap7 3.3.0's server stores a BIT write into the
    whole byte (it drops the bit number), so only Snap7 C shows the neighbours kept."""
    peer = c_peer
    client = make_client(peer.port)
    for offset in (160, 161):
        variable(client, name=f"DB1.DBB{offset}").data = 0xFF
    bits = variable(client, name="DB1,X160.6.4")
    bits.data = [False, True, False, True]
    reader = variable(client, name="DB1.DBX160.6:BOOL[4]")
    reader.pollData()
    assert loop.run_until(lambda: reader.data is not None, WAIT), reader.errorString
    assert reader.data == [False, True, False, True]
    # bits 6, 7 of byte 160 and 0, 1 of byte 161 changed; their neighbours kept their 1s
    assert peer.memory(Area.DB, 1)[160:162] == bytes((0b10111111, 0b11111110))


def test_a_variable_larger_than_one_answer_is_read_in_parts(py_peer, make_client, loop):
    values = [float(i) / 4 for i in range(300)]  # 1200 bytes: three answers at PDU 480
    buf = py_peer.areas[(Area.DB, 1)]
    for i, v in enumerate(values):
        buf[400 + 4 * i : 404 + 4 * i] = struct.pack(">f", v)
    client = make_client(py_peer.port)
    big = variable(client, name="DB1,REAL400.300")
    small = variable(client, name="DB1.DBW0")
    big.pollData()
    small.pollData()
    assert loop.run_until(lambda: big.data is not None and small.data is not None, WAIT), (
        big.errorString
    )
    assert big.data == values and big.quality == Quality.Good


def test_bytes_that_are_no_value_make_a_read_error(py_peer, make_client, loop):
    py_peer.areas[(Area.DB, 1)][0:2] = bytes((10, 11))  # 11 characters in a STRING[10]
    py_peer.areas[(Area.DB, 1)][20:28] = bytes.fromhex("2413010000000000")  # month 13
    client = make_client(py_peer.port)
    text = variable(client, name="DB1.DBB0:STRING[10]")
    moment = variable(client, name="DB1,DT20")
    text.pollData()
    moment.pollData()
    assert loop.run_until(lambda: text.error and moment.error, WAIT)
    assert text.error == S7Variable.ReadError and text.quality == Quality.Bad
    assert "STRING" in text.errorString and "DB1.DBB0:STRING[10]" in text.errorString
    assert moment.error == S7Variable.ReadError and "month" in moment.errorString


def test_a_value_that_does_not_fit_is_a_write_error(py_peer, make_client, loop):
    client = make_client(py_peer.port)
    text = variable(client, name="DB1.DBB0:STRING[3]")
    text.data = "four"
    assert text.error == S7Variable.WriteError and "STRING[3]" in text.errorString
    array = variable(client, name="DB1.DBW10:INT[2]")
    array.data = [1, 2, 3]
    assert array.error == S7Variable.WriteError and "takes 2 values" in array.errorString
    assert py_peer.memory(Area.DB, 1)[:16] == bytes(16)


def test_read_value_and_write_value_are_the_typed_python_api(py_peer, make_client, loop):
    client = make_client(py_peer.port)
    moment = dt.datetime(2030, 1, 2, 3, 4, 5, 6000)
    writes = [write_value(client, case.address, case.value) for case in CASES] + [
        write_value(client, "DB1.DBB200:DT", moment),
    ]
    for future in writes:
        assert future.result(WAIT) is None
    for case in CASES:
        assert read_value(client, case.address).result(WAIT) == case.value, case.address
        stored = py_peer.memory(Area.DB, 1)[case.offset : case.offset + case.size]
        assert stored == expected_bytes(case), case.address
    assert read_value(client, "DB1.DBB200:DT").result(WAIT) == moment
    with pytest.raises(ValueError):
        write_value(client, "DB1.DBB0:USINT", 256)


def test_write_value_writes_bits_one_by_one(c_peer, make_client, loop):
    client = make_client(c_peer.port)
    assert write_value(client, "DB1.DBB210", 0x81).result(WAIT) is None
    assert write_value(client, "DB1,X210.3.3", [1, 0, 1]).result(WAIT) is None
    assert read_value(client, "DB1,X210.3.3").result(WAIT) == [True, False, True]
    assert c_peer.memory(Area.DB, 1)[210] == 0b10101001
