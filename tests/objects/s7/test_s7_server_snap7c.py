"""The S7Server object against the Snap7 C client (python-snap7 2.1.0 in a subprocess)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from snap7c import PeerError, Snap7CPeer
from test_s7_server_support import DB1, WAIT, area, codes, in_thread, loop, server  # noqa: F401

from incore.objects.s7 import S7Server
from incore.protocols.s7.constants import ClientError, Event

WL_BIT, WL_BYTE, WL_REAL, WL_COUNTER, WL_TIMER = 0x01, 0x02, 0x08, 0x1C, 0x1D


@pytest.fixture(scope="module")
def snap7c() -> Iterator[Snap7CPeer]:
    peer = Snap7CPeer()
    try:
        yield peer
    finally:
        peer.close()


class CClient:
    """The Snap7 C client, each call made while the test's thread runs the loop."""

    def __init__(self, peer: Snap7CPeer, loop: Any) -> None:
        self.peer = peer
        self.loop = loop

    def __call__(self, op: str, **args: Any) -> Any:
        return in_thread(self.loop, lambda: self.peer.call(op, **args))


@pytest.fixture
def c_client(loop, server, snap7c) -> Iterator[CClient]:
    client = CClient(snap7c, loop)
    assert client("connect", host="127.0.0.1", port=server.localPort, rack=0, slot=2) == 480
    try:
        yield client
    finally:
        client("disconnect")


@pytest.mark.parametrize(
    "area_code, name",
    [(0x81, "PE"), (0x82, "PA"), (0x83, "MK"), (0x84, "DB"), (WL_TIMER, "TM"), (WL_COUNTER, "CT")],
)
def test_c_client_reads_and_writes_every_area(loop, server, c_client, area_code, name):
    db = 1 if name == "DB" else 0
    if area_code in (WL_TIMER, WL_COUNTER):
        data = bytes(range(200, 206))
        c_client(
            "write_typed", area=area_code, start=5, amount=3, wordlen=area_code, data=data.hex()
        )
        assert (
            c_client("read_typed", area=area_code, start=5, amount=3, wordlen=area_code)
            == data.hex()
        )
        offset = 10
    else:
        data = bytes(range(200, 203))
        c_client("write_area", area=area_code, db=db, start=5, data=data.hex())
        assert c_client("read_area", area=area_code, db=db, start=5, size=3) == data.hex()
        offset = 5
    obj = area(server, name, db)
    assert loop.run_until(lambda: obj.data[offset : offset + len(data)] == data, WAIT)


def test_c_client_bits_reals_and_a_900_byte_read(loop, server, c_client):
    assert c_client("read_area", area=0x84, db=1, start=50, size=900) == DB1[50:950].hex()
    server.setArea(S7Server.srvAreaMK, 0, b"\x20", 7)
    assert c_client("read_typed", area=0x83, start=7 * 8 + 5, amount=1, wordlen=WL_BIT) == "01"
    c_client("write_typed", area=0x83, start=7 * 8, amount=1, wordlen=WL_BIT, data="01")
    assert server.getArea(S7Server.srvAreaMK, 0)[7] == 0x21
    c_client(
        "write_typed", area=0x84, db=2, start=8, amount=2, wordlen=WL_REAL, data="3f80000040490fdb"
    )
    assert (
        c_client("read_typed", area=0x84, db=2, start=8, amount=2, wordlen=WL_REAL)
        == "3f80000040490fdb"
    )


def test_c_client_multi_vars_with_a_missing_db(loop, server, c_client):
    items = [
        dict(area=0x84, db=1, start=0, amount=3),
        dict(area=0x84, db=9, start=0, amount=2),
        dict(area=0x83, start=0, amount=5),
    ]
    result = c_client("read_multi", items=items)
    assert [r["result"] for r in result] == [0, ClientError.ItemNotAvailable, 0]
    assert result[0]["data"] == "000102"
    codes_ = c_client(
        "write_multi",
        items=[
            dict(area=0x84, db=2, start=0, amount=3, data="414243"),
            dict(area=0x84, db=9, start=0, amount=1, data="00"),
        ],
    )
    assert codes_ == [0, ClientError.ItemNotAvailable]
    assert server.getArea(S7Server.srvAreaDB, 2)[:3] == b"ABC"


def test_c_client_missing_db_is_item_not_available(loop, server, c_client):
    with pytest.raises(PeerError) as info:
        c_client("read_area", area=0x84, db=77, start=0, size=4)
    assert info.value.code == ClientError.ItemNotAvailable


def test_c_client_identity_from_szl(loop, server, c_client):
    events: list = []
    server.event.connect(events.append)
    info = c_client("cpu_info")
    assert info["ModuleTypeName"] == "CPU 315-2 PN/DP" and info["ASName"] == "INCORE"
    assert c_client("order_code")["code"] == "6ES7 315-2EH14-0AB0"
    assert c_client("cp_info")[0] == 480
    assert loop.run_until(lambda: codes(events).count(Event.ReadSZL) >= 3, WAIT)
    ids = {e.EvtParam1 for e in events if e.EvtCode == Event.ReadSZL}
    assert {0x001C, 0x0011, 0x0131} <= ids


def test_c_client_sees_cpu_status_and_changes_it(loop, server, c_client):
    assert c_client("cpu_state") == "S7CpuStatusRun"
    server.cpuStatus = S7Server.Stop  # the application stops the virtual CPU
    assert c_client("cpu_state") == "S7CpuStatusStop"
    c_client("plc_hot_start")  # a client starts it again: the property follows on the loop
    assert loop.run_until(lambda: server.cpuStatus == S7Server.Run, WAIT)
    c_client("plc_stop")
    assert loop.run_until(lambda: server.cpuStatus == S7Server.Stop, WAIT)
    c_client("plc_cold_start")
    assert loop.run_until(lambda: server.cpuStatus == S7Server.Run, WAIT)


def test_c_client_clock(loop, server, c_client):
    c_client("set_clock", iso="2031-02-03T04:05:06")
    assert c_client("get_clock").startswith("2031-02-03T04:05")
