"""Block functions against Snap7 C (python-snap7 2.1.0 in its own interpreter).

The Snap7 C client asks our S7Server and a Snap7 C server holding the same DBs, and must
get the same answers from both; then the raw replies of both servers to the same requests are
compared byte for byte. The one difference is a Snap7 C defect we do not copy: its refusal
of block info for a missing block announces 4 data bytes but puts the whole 78-byte
(zeroed) block info record on the wire after them (python-snap7 3.x then reports "S7
response contains trailing bytes" instead of the refusal).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parents[2]
for _extra in (_TESTS / "peers", _TESTS / "protocols"):
    if str(_extra) not in sys.path:
        sys.path.insert(0, str(_extra))

from s7_harness import S7TestClient, free_port  # noqa: E402
from snap7c import Snap7CPeer, snap7c_python  # noqa: E402
from test_s7_server_support import WAIT, in_thread, loop, make_server  # noqa: E402, F401

from incore.objects.s7 import S7ServerArea  # noqa: E402

#: DB number -> size: enough DBs for a list in three parts, registered in ascending order (Snap7
#: C lists them in the order they were registered, ours in ascending order).
DBS = {1: 100, 7: 3, 300: 20, **{n: 2 for n in range(1000, 1250)}, 65535: 4}

#: The Snap7 C client's side, run once per server: every block function and db_get.
CLIENT = r"""
import json, sys
from snap7.client import Client
from snap7.type import Block

port, numbers = int(sys.argv[1]), json.loads(sys.argv[2])
client = Client()
client.connect("127.0.0.1", 0, 2, port)
out = {}
counts = client.list_blocks()
out["counts"] = [counts.OBCount, counts.FBCount, counts.FCCount, counts.SFBCount,
                 counts.SFCCount, counts.DBCount, counts.SDBCount]
out["dbs"] = list(client.list_blocks_of_type(Block.DB, 2000))[: out["counts"][5]]
out["info"] = {}
for number in numbers:
    i = client.get_block_info(Block.DB, number)
    out["info"][number] = [i.BlkType, i.BlkNumber, i.BlkLang, i.BlkFlags, i.MC7Size, i.LoadSize,
                           i.LocalData, i.SBBLength, i.CheckSum, i.Version,
                           bytes(i.CodeDate).split(b"\0")[0].decode(),
                           bytes(i.IntfDate).split(b"\0")[0].decode(),
                           bytes(i.Author).split(b"\0")[0].decode(),
                           bytes(i.Family).split(b"\0")[0].decode(),
                           bytes(i.Header).split(b"\0")[0].decode()]
out["db_get"] = bytes(client.db_get(1)).hex()
for key, call in (("missing", lambda: client.get_block_info(Block.DB, 2)),
                  ("no_ob", lambda: client.list_blocks_of_type(Block.OB, 10))):
    try:
        call()
        out[key] = "no error"
    except Exception as exc:
        out[key] = str(exc)
client.disconnect()
print(json.dumps(out))
"""


def c_client(port: int, numbers: list[int]) -> dict:
    done = subprocess.run(
        [snap7c_python(), "-c", CLIENT, str(port), json.dumps(numbers)],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def c_server() -> Iterator[int]:
    """A Snap7 C server with the DBs of `DBS` (DB1 holding 0, 1, 2 ...); its port."""
    port = free_port()
    with Snap7CPeer() as peer:
        areas = [
            dict(area=5, index=n, size=size, data=bytes(i & 0xFF for i in range(size)).hex())
            for n, size in DBS.items()
        ]
        peer.call("server_start", port=port, areas=areas)
        yield port


@pytest.fixture
def our_server(loop):
    areas = [
        S7ServerArea(area="DB", index=n, data=bytes(i & 0xFF for i in range(size)))
        for n, size in DBS.items()
    ]
    return make_server(objects=areas)


def test_c_client_gets_the_same_answers_from_both_servers(loop, our_server, c_server):
    numbers = [1, 300, 65535]
    ours = in_thread(loop, lambda: c_client(our_server.localPort, numbers))
    theirs = c_client(c_server, numbers)
    assert ours == theirs
    assert ours["counts"] == [0, 0, 0, 0, 0, len(DBS), 0]
    assert ours["dbs"] == sorted(DBS)  # three parts at PDU 480 (112 entries each)
    assert ours["info"]["300"][:10] == [10, 300, 5, 1, 20, 112, 0, 20, 0, 1]
    assert ours["db_get"].startswith(bytes(range(100)).hex())  # 2.x returns its whole buffer
    assert "not available" in ours["missing"].lower() and ours["no_ob"] == ours["missing"]


def _request(sub: int, data: bytes, *, follow_up: bool = False) -> bytes:
    params = bytes((0, 1, 0x12, 8 if follow_up else 4, 0x12 if follow_up else 0x11, 0x43, sub, 0))
    params += bytes(4) if follow_up else b""
    head = bytes((0x32, 7, 0, 0, 0, 9)) + len(params).to_bytes(2, "big")
    return head + len(data).to_bytes(2, "big") + params + data


REQUESTS = {
    "list blocks": _request(1, bytes.fromhex("0a000000")),
    "list DBs": _request(2, bytes.fromhex("ff0900023041")),
    "list DBs, part 2": _request(2, bytes.fromhex("0a000000"), follow_up=True),
    "list DBs, part 3": _request(2, bytes.fromhex("0a000000"), follow_up=True),
    "list OBs": _request(2, bytes.fromhex("ff0900023038")),
    "DB1 info": _request(3, bytes.fromhex("ff0900083041") + b"00001A"),
    "DB65535 info": _request(3, bytes.fromhex("ff0900083041") + b"65535A"),
    "OB1 info": _request(3, bytes.fromhex("ff0900083038") + b"00001A"),
    "DB2 info": _request(3, bytes.fromhex("ff0900083041") + b"00002A"),
}


def _replies(port: int) -> dict[str, bytes]:
    with S7TestClient("127.0.0.1", port) as client:
        assert client.connect() == 480
        return {name: client.exchange(raw) for name, raw in REQUESTS.items()}


def test_our_replies_are_the_snap7_c_servers_byte_for_byte(loop, our_server, c_server):
    ours = in_thread(loop, lambda: _replies(our_server.localPort))
    theirs = _replies(c_server)
    for name in REQUESTS:
        mine, reference = ours[name], theirs[name]
        if name in ("OB1 info", "DB2 info"):  # Snap7 C's stray record after the refusal
            assert reference[: len(mine)] == mine and reference[len(mine) :] == bytes(78), name
        else:
            assert mine == reference, name
    assert ours["list DBs, part 3"][19] == 0x00  # the last part says so
    assert ours["list DBs"][19] == ours["list DBs, part 2"][19] == 0x01
