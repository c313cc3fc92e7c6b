"""S7Client operations against python-snap7 3.x's server and the Snap7 C server."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from test_s7_client_support import (
    WAIT,
    c_peer,
    harness,
    loop,
    make_client,
    peer,  # noqa: F401
    py_peer,
    record_errors,
    snap7c,
)

from incore.core import registry
from incore.objects.s7 import S7Client
from incore.protocols.errors import S7Error
from incore.protocols.s7 import Area, CpuStatus, Event, TransportSize, Var
from incore.protocols.s7.constants import CLIENT_ERROR_TEXT, ClientError


def result(future):
    return future.result(WAIT)


def failure(future) -> S7Error:
    with pytest.raises(S7Error) as info:
        future.result(WAIT)
    return info.value


def test_the_registry_has_every_seed_property_default_and_error():
    d = registry.describe(S7Client)
    props = {p["name"]: p for p in d["properties"]}
    expected = {
        "autoConnect": True,
        "byteOrder": "BigEndian",
        "connected": False,
        "connectionType": "PG",
        "error": "NoError",
        "errorString": "",
        "hostname": "",
        "localTsap": 256,
        "moduleName": "",
        "moduleTypeName": "",
        "port": 102,
        "rack": 0,
        "remoteTsap": 0,
        "serialNumber": "",
        "slot": 0,
    }
    assert {k: props[k]["default"] for k in expected} == expected
    assert {k for k, p in props.items() if not p["writable"]} == {
        "parent",
        "droppedReplies",  # incore's: replies to earlier requests, dropped
        "errorString",
        "error",
        "moduleName",
        "moduleTypeName",
        "serialNumber",
    }
    enums = {e["name"]: {v["name"]: v["value"] for v in e["values"]} for e in d["enums"]}
    assert enums["ByteOrder"] == {"BigEndian": 0, "LittleEndian": 1}
    assert enums["ConnectionType"] == {"PG": 1, "OP": 2, "Basic": 3}
    assert enums["Error"] == {e.name: e.value for e in ClientError}
    assert enums["Error"]["CannotChangeParam"] == 39845888 and enums["Error"]["InvalidObject"] == -2
    assert {m["name"] for m in d["methods"]} >= {"connectToHost", "disconnectFromHost"}
    assert "errorOccurred" in {s["name"] for s in d["signals"]}
    assert "S7Variable" in d["accepts"]
    assert S7Client.BigEndian == 0 and S7Client.Basic == 3 and S7Client.JobTimeout == 0x02000000


def test_connect_reads_the_identity_and_negotiates_the_pdu(peer, make_client):
    client = make_client(peer.port)
    assert (client.moduleName, client.moduleTypeName) == ("CPU 315-2 PN/DP", "CPU 315-2 PN/DP")
    assert client.serialNumber.startswith("S C-")
    assert client.error == S7Client.NoError and client.errorString == ""
    assert client.getPduLength() == 480


@pytest.mark.parametrize("area", [Area.PE, Area.PA, Area.MK, Area.DB])
def test_read_and_write_every_byte_area(peer, make_client, area):
    client = make_client(peer.port)
    db = 1 if area == Area.DB else 0
    assert result(client.writeArea(area, db, 10, b"\x01\x02\x03\x04")) is None
    assert result(client.readArea(area, db, 10, 4)) == b"\x01\x02\x03\x04"
    assert peer.memory(area, db)[10:14] == b"\x01\x02\x03\x04"
    name = {Area.PE: "I", Area.PA: "Q", Area.MK: "M", Area.DB: "DB"}[area]
    assert result(client.readArea(name, db, 11, 2)) == b"\x02\x03"  # areas by name too


@pytest.mark.parametrize("area", ["TM", "CT"])
def test_timers_and_counters_are_read_and_written_as_elements(peer, make_client, area):
    client = make_client(peer.port)
    result(client.writeArea(area, 0, 0, b"\x00\x07\x00\x09"))
    assert result(client.readArea(area, 0, 0, 2)) == b"\x00\x07\x00\x09"  # 2 elements, 4 bytes
    code = Area.TM if area == "TM" else Area.CT
    assert peer.memory(code)[0:4] == b"\x00\x07\x00\x09"


def test_large_reads_and_writes_are_split_by_the_pdu(peer, make_client):
    client = make_client(peer.port)
    payload = bytes((i * 7) & 0xFF for i in range(1900))
    result(client.dbWrite(1, 100, payload))
    assert peer.memory(Area.DB, 1)[100:2000] == payload
    assert result(client.dbRead(1, 100, 1900)) == payload
    assert (
        result(client.readArea(Area.DB, 1, 0, 300, TransportSize.WORD))
        == peer.memory(Area.DB, 1)[:600]
    )  # typed elements are split too


def test_a_split_read_sends_as_many_requests_as_the_pdu_needs(harness, make_client):
    client = make_client(harness.port)
    before = len([e for e in harness.events if e[0] == Event.DataRead])
    assert result(client.dbRead(1, 0, 1000)) == bytes(i & 0xFF for i in range(1000))
    reads = [e for e in harness.events if e[0] == Event.DataRead][before:]
    assert [e[5] for e in reads] == [462, 462, 76]  # 480-byte PDU: 462 data bytes a request


def test_multi_variable_read_and_write(peer, make_client):
    client = make_client(peer.port)
    result(client.dbWrite(1, 0, b"abcdef"))
    results = result(
        client.readMultiVars(
            [
                Var(Area.DB, 1, 0, 3),
                dict(area="DB", dbNumber=9, start=0, amount=2),
                dict(area="MK", start=4, size=1),
            ]
        )
    )
    assert [(r.error, r.data) for r in results] == [
        (0, b"abc"),
        (ClientError.ItemNotAvailable, b""),
        (0, b"\x00"),
    ]
    assert client.error == S7Client.NoError  # item errors belong to the items
    written = result(client.writeMultiVars([dict(area="DB", dbNumber=1, start=20, data=b"xy")]))
    assert [r.error for r in written] == [0] and peer.memory(Area.DB, 1)[20:22] == b"xy"
    if peer.name == "snap7-c":  # python-snap7's server answers N items with one return code
        written = result(
            client.writeMultiVars(
                [
                    Var(Area.DB, 1, 30, 2, data=b"ok"),
                    Var(Area.DB, 9, 0, 1, data=b"x"),
                    dict(area="PA", start=3, data=b"\x05"),
                ]
            )
        )
        assert [r.error for r in written] == [0, ClientError.ItemNotAvailable, 0]
        assert peer.memory(Area.DB, 1)[30:32] == b"ok" and peer.memory(Area.PA)[3] == 5


def test_more_than_20_items_is_too_many(py_peer, make_client, loop):
    client = make_client(py_peer.port)
    errors = record_errors(client)
    exc = failure(client.readMultiVars([Var(Area.DB, 1, i, 1) for i in range(21)]))
    assert exc.code == ClientError.TooManyItems
    assert loop.run_until(lambda: errors, WAIT)
    assert errors == [
        (S7Client.TooManyItems, "CLI:too may items (>20) in multi read/write. (21 items)")
    ]


def test_system_status_lists_and_identity(peer, make_client):
    client = make_client(peer.port)
    szl = result(client.readSzl(0x0011, 0))
    assert szl.szl_id == 0x0011 and szl.records
    assert result(client.getOrderCode()).code == "6ES7 315-2EH14-0AB0"
    info = result(client.getCpuInfo())
    assert (info.module_type_name, info.serial_number) == (
        client.moduleTypeName,
        client.serialNumber,
    )
    assert result(client.getCpInfo()).max_pdu > 0
    assert 0x001C in result(client.readSzlList())


def test_cpu_state_stop_and_start(peer, make_client):
    client = make_client(peer.port)
    for control, running in (
        (client.plcStop, False),
        (client.plcHotStart, True),
        (client.plcStop, False),
        (client.plcColdStart, True),
    ):
        assert result(control()) is None
        assert peer.cpu_becomes(running)
        if peer.name == "snap7-c":
            assert result(client.getCpuState()) == (CpuStatus.RUN if running else CpuStatus.STOP)
    if peer.name == "python-snap7":  # it serves no SZL 0x0424: the PLC refuses the question
        assert failure(client.getCpuState()).code == ClientError.FunctionRefused


def test_clock_get_and_set(peer, make_client):
    client = make_client(peer.port)
    assert isinstance(result(client.getPlcDateTime()), datetime)
    assert result(client.setPlcDateTime(datetime(2031, 2, 3, 4, 5, 6))) is None
    assert result(client.setPlcDateTime()) is None  # now


def test_clock_set_then_get_round_trips(harness, make_client):
    client = make_client(harness.port)
    result(client.setPlcDateTime(datetime(2031, 2, 3, 4, 5, 6)))
    read = result(client.getPlcDateTime())
    assert timedelta(0) <= read - datetime(2031, 2, 3, 4, 5, 6) < timedelta(seconds=WAIT)


def test_failures_set_error_string_and_occur_each_time(py_peer, make_client, loop):
    client = make_client(py_peer.port)
    errors = record_errors(client)
    changes: list = []
    client.errorChanged.connect(changes.append)
    for _ in range(2):
        exc = failure(client.dbRead(9, 4, 2))
        assert exc.code == ClientError.ItemNotAvailable
    assert loop.run_until(lambda: len(errors) == 2, WAIT)
    text = "CPU:Item not available. (DB9 offset 4 size 2, item code 0x0A)"
    assert errors == [(S7Client.ItemNotAvailable, text)] * 2
    assert changes == [S7Client.ItemNotAvailable]  # error changes once, occurs twice
    assert CLIENT_ERROR_TEXT[client.error] == "CPU:Item not available."
    assert client.connected  # an item error keeps the connection


def test_bad_arguments_fail_the_future_with_invalid_params(py_peer, make_client, loop):
    client = make_client(py_peer.port)
    assert failure(client.readArea("XX", 0, 0, 1)).code == ClientError.InvalidParams
    assert failure(client.readArea(Area.DB, 1, 0, 1, "LWORD")).code == ClientError.InvalidWordLen
    assert failure(client.dbRead(1, -1, 4)).code == ClientError.InvalidParams
    assert failure(client.setPlcDateTime("tomorrow")).code == ClientError.InvalidParams
    assert loop.run_until(lambda: client.error == S7Client.InvalidParams, WAIT)
    assert result(client.dbRead(1, 0, 1)) == b"\x00"  # and the connection is fine


@pytest.mark.parametrize(
    "props, remote",
    [
        ({}, 0x0100),
        ({"connectionType": "OP", "rack": 0, "slot": 1}, 0x0201),
        ({"connectionType": "Basic", "rack": 2, "slot": 4}, 0x0344),
        ({"remoteTsap": 0x2000, "localTsap": 0x1000, "rack": 5}, 0x2000),
    ],
)
def test_remote_tsap_comes_from_connection_type_rack_and_slot(harness, make_client, props, remote):
    make_client(harness.port, **props)
    request = harness.sessions[-1].request
    assert request.called_tsap == remote.to_bytes(2, "big")
    assert request.calling_tsap == props.get("localTsap", 0x0100).to_bytes(2, "big")


def test_an_impossible_rack_is_an_invalid_param(harness, make_client, loop):
    with pytest.raises(ValueError, match=r"S7Client.rack expects 0..7, got 8"):
        S7Client(rack=8)  # the declared range holds for Python as for app files
    client = make_client(harness.port, connect=False)
    client.rack = 8  # a write at run time reaches the connect, which refuses it as snap7 does
    client.disconnectFromHost()
    client.connectToHost()
    assert loop.run_until(lambda: client.error == S7Client.InvalidParams, WAIT)
    assert "rack 8 / slot 0" in client.errorString and not client.connected


def test_typed_values_are_read_and_written_by_address(peer, make_client):
    client = make_client(peer.port)
    assert client.writeValue("DB1.DBD4:REAL", 1.5).result(WAIT) is None
    assert client.readValue("DB1,REAL4").result(WAIT) == 1.5  # Node-RED's form of the same
    client.writeValue("DB1.DBB10:STRING[8]", "abc").result(WAIT)
    assert client.readValue("DB1.DBB10:STRING[8]").result(WAIT) == "abc"
    assert peer.memory(Area.DB, 1)[10:15] == b"\x08\x03abc"
