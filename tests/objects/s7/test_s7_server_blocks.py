"""Block functions of the S7Server object, asked by python-snap7 3.x: list blocks, list the
blocks of a type (in parts when long), block info; each registered DB is a DB block."""

from __future__ import annotations

from datetime import datetime

import pytest
from snap7.error import S7ProtocolError
from snap7.type import Block
from test_s7_server_support import DB1, WAIT, in_thread, loop, make_server, pysnap7  # noqa: F401

from incore.objects.s7 import S7Server, S7ServerArea
from incore.protocols.s7.constants import Event


def test_python_snap7_lists_counts_and_describes_the_registered_dbs(loop):
    server = make_server()  # DB1 of 1024 bytes, DB2 of 16, and the other areas
    assert server.registerArea(S7Server.srvAreaDB, 300, 20)
    client = pysnap7(server)
    try:
        counts = in_thread(loop, client.list_blocks)
        assert (counts.DBCount, counts.OBCount, counts.FBCount, counts.FCCount) == (3, 0, 0, 0)
        assert (counts.SDBCount, counts.SFCCount, counts.SFBCount) == (0, 0, 0)
        assert in_thread(loop, lambda: client.list_blocks_of_type(Block.DB, 100)) == [1, 2, 300]
        info = in_thread(loop, lambda: client.get_block_info(Block.DB, 300))
        assert (info.BlkNumber, info.MC7Size, info.LoadSize, info.SBBLength) == (300, 20, 112, 20)
        assert (info.BlkLang, info.BlkFlags, info.Version, info.CheckSum) == (5, 1, 1, 0)
        # db_get sizes its read by the block info's MC7 size: the whole DB comes back
        assert in_thread(loop, lambda: client.db_get(1)) == bytearray(DB1)
        with pytest.raises(S7ProtocolError, match="0xd209"):
            in_thread(loop, lambda: client.get_block_info(Block.DB, 3))
        with pytest.raises(S7ProtocolError, match="0xd20e"):
            in_thread(loop, lambda: client.list_blocks_of_type(Block.OB, 10))
        assert server.unregisterArea(S7Server.srvAreaDB, 2)
        assert in_thread(loop, lambda: client.list_blocks_of_type(Block.DB, 100)) == [1, 300]
    finally:
        client.disconnect()


def test_a_long_list_comes_in_parts_and_the_client_joins_them(loop):
    areas = [S7ServerArea(area="DB", index=n, size=2) for n in range(1000, 1250)]
    server = make_server(objects=areas, pduRequest=240)
    client = pysnap7(server)
    try:
        assert client.get_pdu_length() == 240  # 52 entries per part: 5 parts
        numbers = in_thread(loop, lambda: client.list_blocks_of_type(Block.DB, 1000))
        assert numbers == list(range(1000, 1250))
        assert in_thread(loop, client.list_blocks).DBCount == 250
    finally:
        client.disconnect()


def test_directory_requests_are_events_the_mask_can_filter(loop):
    server = make_server(eventMask=int(Event.Directory))
    seen: list = []
    server.event.connect(seen.append)
    client = pysnap7(server)
    try:
        in_thread(loop, client.list_blocks)
        in_thread(loop, lambda: client.list_blocks_of_type(Block.DB, 10))
        in_thread(loop, lambda: client.get_block_info(Block.DB, 1))
        with pytest.raises(S7ProtocolError):
            in_thread(loop, lambda: client.get_block_info(Block.DB, 9))
        assert loop.run_until(lambda: len(seen) == 4, WAIT)
    finally:
        client.disconnect()
    assert {e.EvtCode for e in seen} == {S7Server.evcDirectory}  # the mask let only these in
    texts = [server.eventText(e) for e in seen]
    for text, expected in zip(
        texts,
        (
            "Block list requested: OK",
            "List of DB blocks requested: OK",
            "Block info of DB1 requested: OK",
            "Block info of DB9 requested: resource not found",
        ),
    ):
        assert text.endswith(expected), texts
    assert all(isinstance(e.EvtTime, datetime) for e in seen)
