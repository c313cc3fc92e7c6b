"""S7Variable: addresses, polling, writes, every type, byte order, batching, the host contract."""

from __future__ import annotations

import struct
import textwrap
from typing import Any

import pytest
from test_s7_client_support import (
    WAIT,
    c_peer,
    harness,
    loop,
    make_client,
    py_peer,  # noqa: F401
    record_errors,
    snap7c,
)

import incore
from incore.core import Object, Property
from incore.objects.foundation import DataType, Polling
from incore.objects.s7 import S7Client, S7Variable
from incore.objects.s7.address import Type, width_of
from incore.protocols.s7 import Area


def variable(client: S7Client | None = None, **props: Any) -> S7Variable:
    var = S7Variable(**props)
    if client is not None:
        client.appendChild(var)
    var.complete()
    return var


# -- the address --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, db, address, bit, t",
    [
        ("DB1.DBX0.3", 1, 0, 3, Type.DataBit),
        ("DB2.DBW6", 2, 6, 0, Type.DataWord),
        ("DB3.DBD8:REAL", 3, 8, 0, Type.DataReal),
        ("I1.7", 0, 1, 7, Type.InputBit),
        ("QW4", 0, 4, 0, Type.OutputWord),
        ("MD12:DINT", 0, 12, 0, Type.MemoryDInt),
    ],
)
def test_an_address_as_name_sets_db_address_bit_and_type(name, db, address, bit, t):
    var = S7Variable(name=name)
    assert (var.db, var.address, var.bit, var.type) == (db, address, bit, t)
    assert var.error == S7Variable.NoError and var.address_text.split(":")[0] == name.split(":")[0]


@pytest.mark.parametrize(
    "name, data_type, t",
    [
        ("DB1.DBD4", DataType.Float, Type.DataReal),
        ("DB1.DBD4", DataType.SignedInteger, Type.DataDInt),
        ("MW2", DataType.SignedSmallInteger, Type.MemoryInt),
        ("DB1.DBD4", DataType.UnsignedInteger, Type.DataDWord),
        ("DB1.DBD4:DWORD", DataType.Float, Type.DataDWord),
    ],
)  # an explicit suffix wins
def test_data_type_refines_a_width_only_address(name, data_type, t):
    assert S7Variable(name=name, dataType=data_type).type == t
    assert S7Variable(dataType=data_type, name=name).type == t  # in either order


def test_a_bad_address_is_a_name_parse_error_and_a_plain_name_is_not():
    var = S7Variable()
    errors = record_errors(var)
    var.name = "DB1.DBX0.9"
    assert var.error == S7Variable.NameParseError and "bit number must be 0..7" in var.errorString
    var.name = "DB1.DBX0.1"
    assert var.error == S7Variable.NoError and (var.bit, var.type) == (1, Type.DataBit)
    var.name = "Motor speed"  # a name, not an address: no error, the address stays
    assert var.error == S7Variable.NoError and var.bit == 1
    assert [e for e, _ in errors] == [S7Variable.NameParseError]


def test_without_a_client_the_variable_says_so(py_peer, make_client, loop):
    var = variable(name="DB1.DBW0")
    assert var.error == S7Variable.InvalidClientError
    assert "has no client" in var.errorString
    client = make_client(py_peer.port)
    py_peer.areas[(0x84, 1)][0:2] = b"\x01\x02"
    var.client = client
    assert var.error == S7Variable.NoError
    var.pollData()
    assert loop.run_until(lambda: var.data == 0x0102, WAIT)


def test_the_registry_lists_the_type_enum_and_accepts_polling():
    d = incore.registry.describe(S7Variable)
    enums = {e["name"]: {v["name"]: v["value"] for v in e["values"]} for e in d["enums"]}
    assert enums["Type"]["DataBit"] == 1 and enums["Type"]["MemoryReal"] == 28
    assert list(enums["Error"])[:3] == ["NoError", "InvalidClientError", "NameParseError"]
    assert "Polling" in d["accepts"]
    props = {p["name"]: p["default"] for p in d["properties"]}
    assert {k: props[k] for k in ("db", "address", "bit", "enabled", "client")} == {
        "db": 0,
        "address": 0,
        "bit": 0,
        "enabled": True,
        "client": None,
    }


# -- polling and writing ------------------------------------------------------------------


def test_polling_follows_the_plc_and_writes_reach_it(py_peer, make_client, loop):
    memory = py_peer.areas[(0x84, 1)]
    memory[4:8] = struct.pack(">f", 1.5)
    client = make_client(py_peer.port, connect=False)
    var = S7Variable(name="DB1.DBD4:REAL", objects=[Polling(on="data", interval=20)])
    client.appendChild(var)
    var.complete()  # polled before the connection is up: the read waits for it
    changes: list = []
    var.dataChanged.connect(changes.append)
    assert loop.run_until(lambda: var.data == 1.5, WAIT)
    assert var.client is client and var.timestamp > 0
    memory[4:8] = struct.pack(">f", -2.25)
    assert loop.run_until(lambda: var.data == -2.25, WAIT)
    var.data = 100.0
    assert loop.run_until(lambda: memory[4:8] == struct.pack(">f", 100.0), WAIT)
    stamp = var.timestamp
    assert loop.run_until(lambda: var.timestamp > stamp, WAIT)  # polled again
    assert changes == [1.5, -2.25, 100.0]  # no echo, no flicker back to the old value
    assert var.error == S7Variable.NoError


def test_a_yaml_app_polls_and_binds_variables(py_peer, loop):
    py_peer.areas[(0x83, 0)][10:12] = b"\x00\x2a"
    app = incore.load_string(
        textwrap.dedent(f"""
        Application:
          objects:
            - S7Client:
                id: plc
                hostname: 127.0.0.1
                port: {py_peer.port}
                objects:
                  - S7Variable:
                      id: level
                      name: MW10
                      objects:
                        - Polling: {{on: data, interval: 20}}
                  - S7Variable:
                      id: copy
                      name: DB1.DBW0
                      data: !bind "level.data + 1 if level.data is not None else None"
        """)
    )
    app.root.complete()
    try:
        copy = app.ids["copy"]
        assert loop.run_until(lambda: py_peer.areas[(0x84, 1)][0:2] == b"\x00\x2b", WAIT)
        assert copy.data == 43 and app.ids["plc"].connected
    finally:
        app.root.shutdown()


def test_errors_of_reads_and_writes_are_the_variables(py_peer, make_client, loop):
    client = make_client(py_peer.port)
    missing = variable(client, name="DB9.DBW0")
    missing.pollData()
    assert loop.run_until(lambda: missing.error == S7Variable.ReadError, WAIT)
    assert missing.errorString == "CPU:Item not available. (DB9.DBW0, item code 0x0A)"
    assert client.error == S7Client.NoError  # an item error is not the client's
    word = variable(client, name="DB1.DBW0")
    word.data = 70000
    assert word.error == S7Variable.WriteError and "does not fit a Word" in word.errorString
    missing.data = 5
    assert loop.run_until(lambda: missing.error == S7Variable.WriteError, WAIT)
    # python-snap7's server refuses the whole request (header error 0x8404): the client's error
    assert loop.run_until(lambda: client.error == S7Client.FunctionRefused, WAIT)
    assert missing.errorString == client.errorString
    client.disconnectFromHost()
    word.data = 1
    assert word.error == S7Variable.WriteError and word.errorString.endswith("not connected")


def test_a_disabled_variable_neither_reads_nor_writes(py_peer, make_client, loop):
    client = make_client(py_peer.port)
    var = variable(client, name="DB1.DBB0", enabled=False)
    py_peer.areas[(0x84, 1)][0] = 9
    var.pollData()
    var.data = 5
    probe = variable(client, name="DB1.DBB1")
    probe.pollData()  # answered after anything the disabled variable could have sent
    assert loop.run_until(lambda: probe.data == 0, WAIT)
    assert var.data == 5 and py_peer.areas[(0x84, 1)][0] == 9


# -- types and byte order -------------------------------------------------------------------

SAMPLES = {
    "Bit": True,
    "Byte": 0xA5,
    "Word": 0xBEEF,
    "DWord": 0xDEADBEEF,
    "Int": -12345,
    "DInt": -123456789,
    "Real": -3.5,
}


@pytest.mark.parametrize("byte_order", ["BigEndian", "LittleEndian"])
def test_every_type_round_trips(c_peer, make_client, loop, byte_order):
    """All 28 types write a value and read it back through the Snap7 C server."""
    client = make_client(c_peer.port, byteOrder=byte_order)
    variables = []
    for t in Type:
        offset = 8 * (t - 1)  # every variable in its own 8 bytes
        var = variable(client, type=t, db=1, address=offset, bit=5)
        var.data = SAMPLES[width_of(t)]
        variables.append(var)
    assert loop.run_until(lambda: all(v.timestamp for v in variables), WAIT)
    readers = [variable(client, type=v.type, db=1, address=v.address, bit=5) for v in variables]
    for reader in readers:
        reader.pollData()
    assert loop.run_until(lambda: all(r.data is not None for r in readers), WAIT), [
        (r.type.name, r.errorString) for r in readers if r.data is None
    ]
    assert [r.data for r in readers] == [SAMPLES[width_of(t)] for t in Type]
    assert all(v.error == S7Variable.NoError for v in variables + readers)
    memory = {
        Area.DB: c_peer.memory(Area.DB, 1),
        Area.PE: c_peer.memory(Area.PE),
        Area.PA: c_peer.memory(Area.PA),
        Area.MK: c_peer.memory(Area.MK),
    }
    for v in variables:
        stored = memory[v.area_code][v.address : v.address + v.size]
        if v.width == "Bit":
            assert stored == b"\x20"  # bit 5 alone: the bit write touched no other bit
        elif v.width == "Word":
            assert stored == (b"\xbe\xef" if byte_order == "BigEndian" else b"\xef\xbe")
        elif v.width == "Real":
            assert stored == struct.pack(">f" if byte_order == "BigEndian" else "<f", -3.5)


# -- batching -------------------------------------------------------------------------------


def test_variables_polled_together_are_read_in_as_few_requests_as_fit(harness, make_client, loop):
    client = make_client(harness.port)
    variables = [variable(client, name=f"DB1.DBW{2 * i}") for i in range(25)]
    requests_before = len([r for r in harness.conversations[-1] if r[1]])
    for var in variables:
        var.pollData()
        var.pollData()  # asked twice before the answer: read once
    assert loop.run_until(lambda: all(v.data is not None for v in variables), WAIT)
    requests = len([r for r in harness.conversations[-1] if r[1]]) - requests_before
    assert requests == 2  # 20 items, then 5
    assert [v.data for v in variables] == [(2 * i) << 8 | (2 * i + 1) for i in range(25)]


# -- the VariableHost contract (what an S7Server implements too) ------------------------------


class RecordingHost(Object, register=False):
    """A minimal VariableHost: records what the variable asks of it."""

    byteOrder = Property(int, 0)

    def __init__(self, **kw: Any) -> None:
        self.calls: list = []
        super().__init__(**kw)

    def attach_variable(self, var):
        self.calls.append(("attach", var))

    def detach_variable(self, var):
        self.calls.append(("detach", var))

    def read_variable(self, var):
        self.calls.append(("read", var))

    def write_variable(self, var, raw):
        self.calls.append(("write", var, raw))


def test_the_host_contract(loop):
    host = RecordingHost()
    bit = S7Variable(name="M3.6")
    word = S7Variable(name="DB4.DBW2:INT")
    host.objects = [bit, word]
    host.complete()
    assert host.calls == [("attach", bit), ("attach", word)]
    assert bit.client is None and bit.host is host  # under a non-client host: no client
    assert (
        bit.area_code,
        bit.db,
        bit.address,
        bit.bit,
        bit.width,
        bit.size,
        bit.transport_size,
    ) == (0x83, 0, 3, 6, "Bit", 1, 0x01)
    assert (word.area_code, word.db, word.width, word.size, word.transport_size) == (
        0x84,
        4,
        "Int",
        2,
        0x05,
    )
    bit.pollData()
    bit._deliver(b"\x40")  # the byte that holds the bit
    assert bit.data is True
    bit._deliver(b"\xbf")
    assert bit.data is False
    bit.data = True
    word.data = -2
    assert host.calls[2:] == [("read", bit), ("write", bit, b"\x01"), ("write", word, b"\xff\xfe")]
    host.byteOrder = 1
    word._deliver(b"\xfe\xff")
    assert word.data == -2 and len(host.calls) == 5  # delivered data is not written back
    word._fail("WriteError", "area DB4 is write protected")
    assert (word.error, word.errorString) == (S7Variable.WriteError, "area DB4 is write protected")
    host.shutdown()
    assert host.calls[-2:] == [("detach", word), ("detach", bit)]
