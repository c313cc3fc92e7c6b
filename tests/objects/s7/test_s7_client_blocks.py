"""S7Client's block functions against both peer servers, and against the answers python-snap7's
own client reads from the same server: the DBs a server holds, listed and described."""

from __future__ import annotations

import pytest
import snap7
from test_s7_client_support import (  # noqa: F401  (fixtures)
    DB1_SIZE,
    WAIT,
    c_peer,
    loop,
    make_client,
    peer,
    py_peer,
    snap7c,
)

from incore.protocols.errors import S7Error
from incore.protocols.s7.constants import BlockType, ClientError


def test_blocks_are_listed_by_type_and_described(peer, make_client):
    client = make_client(peer.port)
    counts = client.listBlocks().result(WAIT)
    assert counts[BlockType.DB] == 2 and counts[BlockType.OB] == 0
    assert set(counts) == set(BlockType)
    assert [e.number for e in client.listBlocksOfType("DB").result(WAIT)] == [1, 2]
    info = client.blockInfo("DB", 1).result(WAIT)
    assert (info.number, info.mc7_size) == (1, DB1_SIZE)
    assert client.blockInfo(BlockType.DB, 2).result(WAIT).mc7_size == 64


def test_what_is_not_there_is_an_error_and_reading_goes_on(peer, make_client, loop):
    client = make_client(peer.port)
    # Neither peer answers this well: python-snap7 with an SZL reply, Snap7 C with a corrupt
    # frame (its previous answer's header), which closes the link; either way an S7Error.
    with pytest.raises(S7Error) as info:
        client.blockInfo("DB", 99).result(WAIT)
    assert info.value.code != ClientError.FunNotAvailable
    assert loop.run_until(lambda: _reads(client), WAIT), client.errorString
    try:  # python-snap7 lists no OBs; Snap7 C says there are none, as a CPU does
        assert client.listBlocksOfType("OB").result(WAIT) == []
    except S7Error as exc:
        assert exc.code == ClientError.ItemNotAvailable, exc
    assert client.dbRead(1, 0, 2).result(WAIT) is not None


def _reads(client) -> bool:
    try:
        return client.dbRead(1, 0, 2).result(WAIT) is not None
    except S7Error:
        return False


def test_an_unknown_block_type_is_refused_before_anything_is_sent(py_peer, make_client):
    client = make_client(py_peer.port)
    with pytest.raises(S7Error, match="block type 'XY'") as info:
        client.listBlocksOfType("XY").result(WAIT)
    assert info.value.code == ClientError.InvalidParams


def test_the_answers_agree_with_python_snap7s_client(py_peer, make_client):
    client = make_client(py_peer.port)
    theirs = snap7.client.Client()
    theirs.connect("127.0.0.1", 0, 2, py_peer.port)
    try:
        listed = theirs.list_blocks()
        info = theirs.get_block_info(snap7.type.Block.DB, 1)
    finally:
        theirs.disconnect()
    ours = client.listBlocks().result(WAIT)
    assert (ours[BlockType.DB], ours[BlockType.OB], ours[BlockType.FC]) == (
        listed.DBCount,
        listed.OBCount,
        listed.FCCount,
    )
    mine = client.blockInfo("DB", 1).result(WAIT)
    assert (mine.number, mine.mc7_size, mine.load_size) == (
        info.BlkNumber,
        info.MC7Size,
        info.LoadSize,
    )
