"""Interop with python-snap7 3.x (in-process): its client against our server
engine, and our client engine against its server."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
import snap7
from s7_harness import S7TestClient, free_port
from snap7.error import S7Error as PySnap7Error
from snap7.server import Server as PyServer
from snap7.type import Area as PyArea
from snap7.type import SrvArea

from incore.protocols.errors import S7Error
from incore.protocols.s7 import Area, ClientError, CpuStatus, Event, TransportSize, Var

logging.getLogger("snap7").setLevel(logging.WARNING)


@pytest.fixture
def py_client(s7_server):
    client = snap7.client.Client()
    client.connect("127.0.0.1", 0, 2, s7_server.port)
    try:
        yield client
    finally:
        client.disconnect()


@pytest.mark.parametrize(
    "conn_type, rack, slot, local, remote",
    [
        (1, 0, 2, 0x0100, 0x0102),
        (2, 0, 1, 0x0100, 0x0201),
        (3, 1, 3, 0x0100, 0x0323),
        (None, 0, 0, 0x1000, 0x2000),
    ],
)
def test_pysnap7_connects_with_rack_slot_tsaps_and_connection_types(
    s7_server, conn_type, rack, slot, local, remote
):
    client = snap7.client.Client()
    if conn_type is None:
        client.set_connection_params("127.0.0.1", local, remote)
        client._connect("127.0.0.1", rack, slot, s7_server.port)  # explicit TSAPs, as LOGO users do
    else:
        client.set_connection_type(conn_type)
        client.connect("127.0.0.1", rack, slot, s7_server.port)
    try:
        assert client.get_pdu_length() == 480
        assert client.db_read(1, 0, 4) == bytearray(b"\x00\x01\x02\x03")
        request = s7_server.sessions[-1].request
        assert (request.calling_tsap, request.called_tsap) == (
            local.to_bytes(2, "big"),
            remote.to_bytes(2, "big"),
        )
    finally:
        client.disconnect()


def test_pysnap7_routed_connection_is_accepted(s7_server):
    client = snap7.client.Client()
    client.connect_routed("127.0.0.1", 0, 2, 0x0011, 0, 3, port=s7_server.port)
    try:
        assert client.db_read(1, 10, 2) == bytearray(b"\x0a\x0b")
        request = s7_server.sessions[-1].request
        assert (request.subnet_id, request.routing_tsap, request.called_tsap) == (
            0x0011,
            0x0103,
            b"\x01\x02",
        )
    finally:
        client.disconnect()


@pytest.mark.parametrize(
    "area, width",
    [
        (PyArea.PE, 1),
        (PyArea.PA, 1),
        (PyArea.MK, 1),
        (PyArea.DB, 1),
        (PyArea.TM, 2),
        (PyArea.CT, 2),
    ],
)
def test_pysnap7_read_and_write_every_area(s7_server, py_client, area, width):
    db = 1 if area == PyArea.DB else 0
    data = bytearray(range(100, 100 + 4 * width))
    py_client.write_area(area, db, 6, data)
    assert py_client.read_area(area, db, 6, 4) == data
    offset = 12 if width == 2 else 6
    assert s7_server.store.areas[(int(area), db)][offset : offset + len(data)] == data


def test_pysnap7_db_read_write_and_900_byte_read_split_by_pdu(s7_server, py_client):
    py_client.db_write(1, 3, bytearray(b"\xde\xad\xbe\xef"))
    assert s7_server.store.areas[(0x84, 1)][3:7] == b"\xde\xad\xbe\xef"
    before = len([e for e in s7_server.events if e[0] == Event.DataRead])
    data = py_client.db_read(1, 100, 900)
    assert data == s7_server.store.areas[(0x84, 1)][100:1000]
    reads = [e for e in s7_server.events if e[0] == Event.DataRead][before:]
    assert len(reads) == 2 and sum(e[5] for e in reads) == 900


def test_pysnap7_multi_vars_are_pipelined_and_answered_in_order(s7_server, py_client):
    assert py_client.max_parallel > 1
    items = [dict(area=PyArea.DB, db_number=1, start=i * 50, size=40) for i in range(18)]
    code, results = py_client.read_multi_vars(items)
    assert code == 0
    store = s7_server.store.areas[(0x84, 1)]
    assert [bytes(r) for r in results] == [bytes(store[i * 50 : i * 50 + 40]) for i in range(18)]
    py_client.write_multi_vars(
        [
            dict(area=PyArea.DB, db_number=1, start=0, data=bytearray(b"xy")),
            dict(area=PyArea.MK, start=5, data=bytearray(b"z")),
        ]
    )
    assert store[0:2] == b"xy" and s7_server.store.areas[(0x83, 0)][5:6] == b"z"


def test_pysnap7_cpu_state_probe_and_control(s7_server, py_client):
    assert py_client.get_cpu_state() == "S7CpuStatusRun"  # non-standard request, answered
    py_client.plc_stop()
    assert s7_server.state.cpu_status == CpuStatus.STOP
    py_client.plc_hot_start()
    assert s7_server.state.cpu_status == CpuStatus.RUN
    py_client.plc_stop()
    py_client.plc_cold_start()
    assert s7_server.state.cpu_status == CpuStatus.RUN
    assert [e[2] for e in s7_server.events if e[0] == Event.Control] == [3, 2, 3, 1]


def test_pysnap7_identity_szl_and_index_0_layouts(s7_server, py_client):
    info = py_client.get_cpu_info()
    assert (info.ModuleTypeName, info.SerialNumber, info.ASName) == (
        b"CPU 315-2 PN/DP",
        b"S C-INCORE000001",
        b"INCORE",
    )
    assert info.Copyright == b"Original Siemens Equipment"
    order = py_client.get_order_code()
    assert (order.OrderCode, order.V1, order.V2, order.V3) == (b"6ES7 315-2EH14-0AB0", 3, 2, 6)
    cp = py_client.get_cp_info()
    assert (cp.MaxPduLength, cp.MaxConnections) == (480, 32)
    prot = py_client.get_protection()
    assert (prot.sch_schal, prot.sch_rel, prot.bart_sch) == (1, 1, 2)
    szl = py_client.read_szl(0x0011, 0)
    assert szl.Header.LengthDR == 4 + 3 * 28
    assert py_client.read_szl_list()[:4] == b"\x00\x02\x00\x08"


def test_pysnap7_clock(s7_server, py_client):
    s7_server.state.clock = lambda: datetime(2029, 3, 4, 5, 6, 7, 8000)
    assert py_client.get_plc_datetime() == datetime(2029, 3, 4, 5, 6, 7, 8000)
    py_client.set_plc_datetime(datetime(2030, 12, 24, 18, 0, 1, 500000))
    assert py_client.get_plc_datetime() == datetime(2030, 12, 24, 18, 0, 1, 500000)


def test_pysnap7_missing_db_gets_object_does_not_exist(py_client):
    with pytest.raises(PySnap7Error, match=r"Object does not exist \(0x0a\)"):
        py_client.db_read(77, 0, 4)
    with pytest.raises(PySnap7Error, match=r"0x0a"):
        py_client.db_write(77, 0, bytearray(b"\x01"))


# ---------------------------------------------------------------------------
# our client engine against python-snap7's server


@pytest.fixture
def py_server():
    port = free_port()
    server = PyServer(log=False)
    areas = {a: bytearray(64) for a in (SrvArea.PE, SrvArea.PA, SrvArea.MK, SrvArea.CT, SrvArea.TM)}
    areas[SrvArea.DB] = bytearray(1200)
    for area, buf in areas.items():
        server.register_area(area, 1 if area == SrvArea.DB else 0, buf)
    server.start_to("127.0.0.1", port)
    try:
        yield server, port, areas
    finally:
        server.stop()
        server.destroy()


def test_our_client_against_pysnap7_server(py_server):
    server, port, areas = py_server
    with S7TestClient("127.0.0.1", port) as client:
        assert client.connect() == 480
        p = client.protocol
        payload = bytes(range(256)) * 4
        client.call(p.write_area(Area.DB, 1, 0, payload))
        assert areas[SrvArea.DB][:1024] == payload
        assert client.call(p.read_area(Area.DB, 1, 0, 1024)) == payload
        for area, srv_area in ((Area.PE, SrvArea.PE), (Area.PA, SrvArea.PA), (Area.MK, SrvArea.MK)):
            client.call(p.write_area(area, 0, 4, b"\x01\x02\x03"))
            assert (
                client.call(p.read_area(area, 0, 4, 3)) == b"\x01\x02\x03" == areas[srv_area][4:7]
            )
        for area, srv_area in ((Area.TM, SrvArea.TM), (Area.CT, SrvArea.CT)):
            client.call(p.write_area(area, 0, 1, b"\x00\x07\x00\x09"))
            assert (
                client.call(p.read_area(area, 0, 1, 2))
                == b"\x00\x07\x00\x09"
                == areas[srv_area][2:6]
            )
        with pytest.raises(S7Error) as info:
            client.call(p.read_area(Area.DB, 9, 0, 4))
        assert info.value.code == ClientError.ItemNotAvailable
        results = client.call(
            p.read_multi([Var(Area.DB, 1, 0, 3), Var(Area.DB, 9, 0, 2), Var(Area.MK, 0, 4, 3)])
        )
        assert [(r.error, r.data) for r in results] == [
            (0, b"\x00\x01\x02"),
            (ClientError.ItemNotAvailable, b""),
            (0, b"\x01\x02\x03"),
        ]
        assert client.call(p.write_multi([Var(Area.DB, 1, 10, 2, data=b"ok")]))[0].ok
        assert areas[SrvArea.DB][10:12] == b"ok"
        with pytest.raises(S7Error) as info:  # its server answers N items with one return code
            client.call(
                p.write_multi(
                    [Var(Area.DB, 1, 10, 2, data=b"ok"), Var(Area.MK, 0, 0, 1, data=b"x")]
                )
            )
        assert info.value.code == ClientError.InvalidPlcAnswer
        assert client.call(p.get_cpu_info()).module_type_name == "CPU 315-2 PN/DP"
        assert client.call(p.get_order_code()).code == "6ES7 315-2EH14-0AB0"
        assert client.call(p.get_cp_info()).max_pdu == 480
        assert client.call(p.get_protection()).sch_schal == 1
        assert 0x001C in client.call(p.read_szl_ids())
        assert isinstance(client.call(p.get_clock()), datetime)
        client.call(
            p.set_clock(datetime(2030, 1, 2, 3, 4, 5))
        )  # accepted (this server does not keep it)
        with pytest.raises(S7Error) as info:  # it has no SZL 0x0424
            client.call(p.get_cpu_state())
        assert info.value.code == ClientError.FunctionRefused
        client.call(p.plc_stop())
        assert server.get_status()[1] == "Stop"
        client.call(p.plc_hot_start())
        assert server.get_status()[1] == "Run"
        client.call(p.plc_stop())
        client.call(p.plc_cold_start())
        assert server.get_status()[1] == "Run"


def test_our_client_routing_params_and_text_tsap_to_our_server(s7_server):
    with S7TestClient(
        "127.0.0.1",
        s7_server.port,
        remote_tsap=b"SIMATIC-ROOT-HMI",
        local_tsap=0x0100,
        subnet_id=0x0011,
        routing_tsap=0x0103,
    ) as client:
        assert client.connect() == 480
        assert client.call(client.protocol.read_area(Area.DB, 1, 1, 2)) == b"\x01\x02"
        assert (
            client.call(client.protocol.read_area(Area.MK, 0, 0, 1, TransportSize.BIT)) == b"\x00"
        )
    request = s7_server.sessions[-1].request
    assert (request.called_tsap, request.subnet_id, request.routing_tsap) == (
        b"SIMATIC-ROOT-HMI",
        0x0011,
        0x0103,
    )
