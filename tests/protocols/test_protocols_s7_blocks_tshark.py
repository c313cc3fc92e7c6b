"""Wireshark dissects our block function replies cleanly: list blocks, a list of DBs in
parts, block info, and the refusals, as python-snap7 3.x and the Snap7 C client ask them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import snap7
from s7_harness import S7TestServer, write_pcap
from snap7.type import Block
from snap7c import snap7c_python
from test_protocols_tshark import _tshark

_CLIENT_TESTS = Path(__file__).resolve().parents[1] / "objects" / "s7"
if str(_CLIENT_TESTS) not in sys.path:
    sys.path.insert(0, str(_CLIENT_TESTS))

from test_s7_server_blocks_snap7c import CLIENT  # noqa: E402  (the Snap7 C client's script)


def _pysnap7_session(port: int) -> None:
    client = snap7.client.Client()
    client.connect("127.0.0.1", 0, 2, port)
    client.list_blocks()
    assert len(client.list_blocks_of_type(Block.DB, 1000)) == 251
    client.get_block_info(Block.DB, 1)
    client.db_get(1)
    for refused in (
        lambda: client.get_block_info(Block.DB, 2),
        lambda: client.list_blocks_of_type(Block.OB, 10),
    ):
        try:
            refused()
        except Exception:  # noqa: BLE001 - the refusal on the wire is what we want
            pass
    client.disconnect()


def test_tshark_finds_nothing_wrong_in_block_function_replies(tmp_path):
    server = S7TestServer()
    server.store.register(0x84, 1, bytearray(range(100)))
    for number in range(1000, 1250):
        server.store.register(0x84, number, 2)
    try:
        _pysnap7_session(server.port)
        done = subprocess.run(
            [snap7c_python(), "-c", CLIENT, str(server.port), "[1, 1249]"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    finally:
        server.close()
    assert server.errors == []
    pcap = str(tmp_path / "s7-blocks.pcap")
    write_pcap(pcap, server.conversations)
    replies = _tshark(
        pcap,
        "tcp.srcport == 102 && s7comm.param.userdata.funcgroup == 3",
        "s7comm.param.userdata.subfunc",
        "s7comm.param.userdata.lastdataunit",
    )
    subfunctions = [row[0] for row in replies]
    # python-snap7: 1, 2 x3 parts, 3, 3 (db_get), 3 refused, 2 refused; Snap7 C the same again
    assert subfunctions.count("1") == 2 and subfunctions.count("3") >= 5
    assert subfunctions.count("2") >= 7
    assert any(row[1] == "0x01" for row in replies)  # "more data units follow" was sent
    problems = _tshark(
        pcap,
        "tcp.srcport == 102 && (_ws.malformed || _ws.expert.severity >= warning)",
        "frame.number",
        "_ws.expert.message",
    )
    assert problems == []
