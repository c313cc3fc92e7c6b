"""Interop with the Snap7 C library (python-snap7 2.1.0 in its own interpreter):
its client against our server engine, and our client engine against its server."""

from __future__ import annotations

from datetime import datetime

import pytest
from s7_harness import S7TestClient, free_port
from snap7c import PeerError

from incore.protocols.errors import S7Error
from incore.protocols.s7 import Area, ClientError, CpuStatus, Event, TransportSize, Var

WL_BIT, WL_BYTE, WL_WORD, WL_REAL, WL_COUNTER, WL_TIMER = 0x01, 0x02, 0x04, 0x08, 0x1C, 0x1D


@pytest.fixture
def c_client(s7_server, snap7c):
    assert snap7c.call("connect", host="127.0.0.1", port=s7_server.port, rack=0, slot=2) == 480
    try:
        yield snap7c
    finally:
        snap7c.call("disconnect")


@pytest.mark.parametrize(
    "conn_type, rack, slot, remote", [(1, 0, 2, 0x0102), (2, 0, 1, 0x0201), (3, 2, 4, 0x0344)]
)
def test_c_client_connects_with_rack_slot_and_each_connection_type(
    s7_server, snap7c, conn_type, rack, slot, remote
):
    assert (
        snap7c.call(
            "connect",
            host="127.0.0.1",
            port=s7_server.port,
            rack=rack,
            slot=slot,
            conn_type=conn_type,
        )
        == 480
    )
    assert snap7c.call("read_area", area=0x84, db=1, start=0, size=2) == "0001"
    request = s7_server.sessions[-1].request
    assert request.called_tsap == remote.to_bytes(2, "big") and request.calling_tsap == b"\x01\x00"
    snap7c.call("disconnect")


def test_c_client_connects_with_explicit_tsaps(s7_server, snap7c):
    snap7c.call(
        "connect", host="127.0.0.1", port=s7_server.port, local_tsap=0x1000, remote_tsap=0x2000
    )
    assert snap7c.call("read_area", area=0x84, db=1, start=2, size=2) == "0203"
    request = s7_server.sessions[-1].request
    assert (request.calling_tsap, request.called_tsap) == (b"\x10\x00", b"\x20\x00")
    snap7c.call("disconnect")


@pytest.mark.parametrize(
    "area, width", [(0x81, 1), (0x82, 1), (0x83, 1), (0x84, 1), (0x1D, 2), (0x1C, 2)]
)
def test_c_client_reads_and_writes_every_area(s7_server, c_client, area, width):
    db = 1 if area == 0x84 else 0
    data = bytes(range(200, 200 + 3 * width))
    if width == 2:  # python-snap7 2.x write_area passes a byte count as the timer/counter amount
        c_client.call("write_typed", area=area, start=5, amount=3, wordlen=area, data=data.hex())
    else:
        c_client.call("write_area", area=area, db=db, start=5, data=data.hex())
    assert c_client.call("read_area", area=area, db=db, start=5, size=3) == data.hex()
    offset = 10 if width == 2 else 5
    assert bytes(s7_server.store.areas[(area, db)][offset : offset + len(data)]) == data


def test_c_client_900_byte_read_and_typed_items(s7_server, c_client):
    before = len(s7_server.events)
    assert (
        c_client.call("read_area", area=0x84, db=1, start=50, size=900)
        == bytes(s7_server.store.areas[(0x84, 1)][50:950]).hex()
    )
    assert len([e for e in s7_server.events[before:] if e[0] == Event.DataRead]) == 2
    s7_server.store.areas[(0x83, 0)][7] = 0b0010_0000
    assert c_client.call("read_typed", area=0x83, start=7 * 8 + 5, amount=1, wordlen=WL_BIT) == "01"
    assert c_client.call("read_typed", area=0x83, start=7 * 8 + 4, amount=1, wordlen=WL_BIT) == "00"
    c_client.call("write_typed", area=0x83, start=7 * 8 + 0, amount=1, wordlen=WL_BIT, data="01")
    assert s7_server.store.areas[(0x83, 0)][7] == 0b0010_0001
    c_client.call(
        "write_typed", area=0x84, db=1, start=8, amount=2, wordlen=WL_REAL, data="3f80000040490fdb"
    )
    assert (
        c_client.call("read_typed", area=0x84, db=1, start=8, amount=2, wordlen=WL_REAL)
        == "3f80000040490fdb"
    )
    assert (
        c_client.call("read_typed", area=0x84, db=1, start=8, amount=2, wordlen=WL_WORD)
        == "3f800000"
    )


def test_c_client_multi_vars(s7_server, c_client):
    items = [
        dict(area=0x84, db=1, start=0, amount=3),
        dict(area=0x84, db=9, start=0, amount=2),
        dict(area=0x83, start=0, amount=5),
        dict(area=0x1D, start=1, amount=2, wordlen=WL_TIMER, width=2),
    ]
    s7_server.store.areas[(0x1D, 0)][2:6] = b"\x11\x22\x33\x44"
    result = c_client.call("read_multi", items=items)
    assert [r["result"] for r in result] == [0, ClientError.ItemNotAvailable, 0, 0]
    assert [result[0]["data"], result[2]["data"], result[3]["data"]] == [
        "000102",
        "0000000000",
        "11223344",
    ]
    codes = c_client.call(
        "write_multi",
        items=[
            dict(area=0x84, db=1, start=20, amount=3, data="414243"),
            dict(area=0x84, db=9, start=0, amount=1, data="00"),
            dict(area=0x82, start=1, amount=2, data="0102"),
        ],
    )
    assert codes == [0, ClientError.ItemNotAvailable, 0]
    assert (
        s7_server.store.areas[(0x84, 1)][20:23] == b"ABC"
        and s7_server.store.areas[(0x82, 0)][1:3] == b"\x01\x02"
    )


def test_c_client_missing_db_is_item_not_available(c_client):
    with pytest.raises(PeerError) as info:
        c_client.call("read_area", area=0x84, db=77, start=0, size=4)
    assert info.value.code == ClientError.ItemNotAvailable
    with pytest.raises(PeerError) as info:
        c_client.call("write_area", area=0x84, db=77, start=0, data="01")
    assert info.value.code == ClientError.ItemNotAvailable


def test_c_client_identity_szl_and_protection(s7_server, c_client):
    assert c_client.call("cpu_info") == {
        "ModuleTypeName": "CPU 315-2 PN/DP",
        "SerialNumber": "S C-INCORE000001",
        "ASName": "INCORE",
        "Copyright": "Original Siemens Equipment",
        "ModuleName": "CPU 315-2 PN/DP",
    }
    assert c_client.call("order_code") == {"code": "6ES7 315-2EH14-0AB0", "version": [3, 2, 6]}
    assert c_client.call("cp_info") == [480, 32, 187500, 12000000]
    assert c_client.call("protection") == [1, 0, 1, 2, 0]
    records = bytes.fromhex(
        c_client.call("read_szl", id=0x0011, index=0)
    )  # the C library strips the list header
    assert (
        len(records) == 3 * 28
        and records[:22] == b"\x00\x016ES7 315-2EH14-0AB0 "
        and records[-3:] == b"\x03\x02\x06"
    )
    reads = [e[2:4] for e in s7_server.events if e[0] == Event.ReadSZL]
    assert (0x0131, 1) in reads and (0x0232, 4) in reads


def test_c_client_cpu_state_clock_and_control(s7_server, c_client):
    assert c_client.call("cpu_state") == "S7CpuStatusRun"
    assert c_client.call("plc_stop") == 0
    assert (
        s7_server.state.cpu_status == CpuStatus.STOP
        and c_client.call("cpu_state") == "S7CpuStatusStop"
    )
    c_client.call("plc_hot_start")
    assert c_client.call("cpu_state") == "S7CpuStatusRun"
    c_client.call("plc_stop")
    c_client.call("plc_cold_start")
    assert s7_server.state.cpu_status == CpuStatus.RUN
    s7_server.state.clock = lambda: datetime(2027, 8, 9, 10, 11, 12)
    assert c_client.call("get_clock") == "2027-08-09T10:11:12"
    c_client.call("set_clock", iso="2031-02-03T04:05:06")
    assert c_client.call("get_clock") == "2031-02-03T04:05:06"
    assert [e[2] for e in s7_server.events if e[0] == Event.Control] == [3, 2, 3, 1]


# ---------------------------------------------------------------------------
# our client engine against the Snap7 C server


def test_our_client_against_snap7c_server(snap7c):
    port = free_port()
    snap7c.call(
        "server_start",
        port=port,
        areas=[dict(area=a, size=64) for a in (0, 1, 2, 3, 4)] + [dict(area=5, index=1, size=1200)],
    )
    with S7TestClient("127.0.0.1", port) as client:
        assert client.connect() == 480
        p = client.protocol
        payload = bytes(range(256)) * 4
        client.call(p.write_area(Area.DB, 1, 0, payload))
        assert snap7c.call("server_area", area=5, index=1)[: 2 * 1024] == payload.hex()
        assert client.call(p.read_area(Area.DB, 1, 0, 1024)) == payload
        for area, srv in ((Area.PE, 0), (Area.PA, 1), (Area.MK, 2)):
            client.call(p.write_area(area, 0, 4, b"\x01\x02\x03"))
            assert client.call(p.read_area(area, 0, 4, 3)) == b"\x01\x02\x03"
            assert snap7c.call("server_area", area=srv)[8:14] == "010203"
        for area in (Area.TM, Area.CT):  # element 0 is unaffected by Snap7 C's N/2 indexing
            client.call(p.write_area(area, 0, 0, b"\x00\x07\x00\x09"))
            assert client.call(p.read_area(area, 0, 0, 2)) == b"\x00\x07\x00\x09"
        assert (
            client.call(p.read_area(Area.MK, 0, 5 * 8 + 1, 1, TransportSize.BIT)) == b"\x01"
        )  # MB5 = 0x02
        assert client.call(p.read_area(Area.MK, 0, 5 * 8 + 0, 1, TransportSize.BIT)) == b"\x00"
        client.call(p.write_area(Area.DB, 1, 16, b"\x40\x49\x0f\xdb", TransportSize.REAL))
        assert (
            client.call(p.read_area(Area.DB, 1, 16, 1, TransportSize.REAL)) == b"\x40\x49\x0f\xdb"
        )
        with pytest.raises(S7Error) as info:
            client.call(p.read_area(Area.DB, 9, 0, 4))
        assert info.value.code == ClientError.ItemNotAvailable and "DB9 offset 0" in str(info.value)
        results = client.call(
            p.read_multi([Var(Area.DB, 1, 0, 3), Var(Area.DB, 9, 0, 2), Var(Area.MK, 0, 4, 3)])
        )
        assert [(r.error, r.data) for r in results] == [
            (0, b"\x00\x01\x02"),
            (ClientError.ItemNotAvailable, b""),
            (0, b"\x01\x02\x03"),
        ]
        results = client.call(
            p.write_multi(
                [
                    Var(Area.DB, 1, 10, 2, data=b"ok"),
                    Var(Area.DB, 9, 0, 1, data=b"x"),
                    Var(Area.PA, 0, 0, 1, data=b"y"),
                ]
            )
        )
        assert [r.error for r in results] == [0, ClientError.ItemNotAvailable, 0]
        assert client.call(p.get_cpu_state()) == CpuStatus.RUN
        client.call(p.plc_stop())
        assert client.call(p.get_cpu_state()) == CpuStatus.STOP
        client.call(p.plc_hot_start())
        assert client.call(p.get_cpu_state()) == CpuStatus.RUN
        client.call(p.plc_stop())
        client.call(p.plc_cold_start())
        assert client.call(p.get_cpu_state()) == CpuStatus.RUN
        info = client.call(p.get_cpu_info())
        assert (info.as_name, info.module_type_name) == ("SNAP7-SERVER", "CPU 315-2 PN/DP")
        assert client.call(p.get_order_code()).code == "6ES7 315-2EH14-0AB0"
        assert client.call(p.get_cp_info()).max_pdu > 0
        assert client.call(p.get_protection()).sch_schal == 1
        ids = client.call(p.read_szl_ids())
        assert {0x0011, 0x001C, 0x0424} <= set(ids)
        assert isinstance(client.call(p.get_clock()), datetime)
        client.call(p.set_clock(datetime(2030, 1, 2, 3, 4, 5)))
        with pytest.raises(S7Error) as info:
            client.call(p.read_szl(0x0D91, 0x0099))
        assert info.value.code == ClientError.ItemNotAvailable
