"""Block function codecs (incore/protocols/s7/blocks.py) and the engine's answers.

The reference bytes are what the Snap7 C server (python-snap7 2.1.0's libsnap7) answered on
this machine for DB1 of 100 bytes, DB7 of 3 and DB300 of 20; the live comparison is in
tests/objects/s7/test_s7_server_blocks_snap7c.py.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incore.protocols.errors import PduError
from incore.protocols.s7 import MemoryAreaStore, S7ServerProtocol, decode_pdu
from incore.protocols.s7 import blocks as b
from incore.protocols.s7.constants import Event, EventResult
from incore.protocols.s7.pdu import UserdataData, UserdataParams

SNAP7C_LIST_ALL = bytes.fromhex("30380000304500003043000030410003304200003044000030460000")
SNAP7C_DB1_INFO = (
    bytes.fromhex(
        "01 00 00 4a 22 00 70 70 01 01 05 0a 00 01 00 00 00 c0 00 00 00 00 00 00 00 00 16 a8"
        "00 00 00 00 16 a8 00 14 00 00 00 00 00 64"
    )
    + bytes(24)
    + bytes.fromhex("01 00 00 00")
    + bytes(8)
)


def userdata(sub: int, data: bytes, *, follow_up: bool = False, ref: int = 5) -> bytes:
    params = UserdataParams(0x12 if follow_up else 0x11, 4, 3, sub, 0, long_form=follow_up)
    p = params.encode()
    return (
        bytes((0x32, 7, 0, 0))
        + ref.to_bytes(2, "big")
        + len(p).to_bytes(2, "big")
        + (len(data).to_bytes(2, "big") + p + data)
    )


def engine(sizes: dict[int, int], pdu: int = 480) -> tuple[S7ServerProtocol, list]:
    store = MemoryAreaStore()
    for number, size in sizes.items():
        store.register(0x84, number, size)
    store.register(0x83, 0, 16)  # not a block
    events: list = []
    server = S7ServerProtocol(store, on_event=events.append)
    server.pdu_size = pdu
    return server, events


def answer(server: S7ServerProtocol, request: bytes) -> tuple[UserdataParams, UserdataData]:
    reply = decode_pdu(server.handle(request))
    assert reply.rosctr == 7 and reply.pdu_ref == 5
    return UserdataParams.decode(reply.params), UserdataData.decode(reply.data)


def test_reference_bytes_decode_to_what_snap7_c_meant():
    assert b.parse_list_all(SNAP7C_LIST_ALL) == {0x38: 0, 0x45: 0, 0x43: 0, 0x41: 3, 0x42: 0,
                                                 0x44: 0, 0x46: 0}  # fmt: skip
    info = b.parse_block_info(SNAP7C_DB1_INFO)
    assert (info.number, info.mc7_size, info.load_size, info.sbb_length) == (1, 100, 192, 20)
    assert (info.block_type, info.sub_block_type, info.language, info.flags) == (0, 0x0A, 5, 1)
    assert info.code_date == info.interface_date == datetime(1999, 11, 18)
    assert (info.version, info.checksum, info.author, info.family, info.header) == (1, 0, "", "",
                                                                                    "")  # fmt: skip


def test_encoders_make_snap7_c_bytes():
    assert b.encode_list_all({0x41: 3}) == SNAP7C_LIST_ALL
    assert b.encode_block_info(b.db_block_info(1, 100)) == SNAP7C_DB1_INFO
    assert b.encode_list_of_type([b.BlockEntry(1), b.BlockEntry(7), b.BlockEntry(300)]) == (
        bytes.fromhex("00012205 00072205 012c2205")
    )


def test_client_requests_are_the_peers_requests():
    assert b.list_all_request().encode() == bytes.fromhex("0a000000")
    assert b.list_of_type_request(b.BlockType.DB).encode() == bytes.fromhex("ff0900023041")
    assert b.block_info_request(b.BlockType.DB, 300).encode() == (
        bytes.fromhex("ff0900083041") + b"00300A"
    )
    with pytest.raises(ValueError):
        b.block_info_request(b.BlockType.DB, 65536)


@given(
    st.builds(
        b.BlockInfo,
        number=st.integers(0, 0xFFFF),
        mc7_size=st.integers(0, 0xFFFF),
        load_size=st.integers(0, 0xFFFFFFFF),
        block_type=st.integers(0, 255),
        sub_block_type=st.integers(0, 255),
        language=st.integers(0, 255),
        flags=st.integers(0, 255),
        local_data=st.integers(0, 0xFFFF),
        sbb_length=st.integers(0, 0xFFFF),
        add_length=st.integers(0, 0xFFFF),
        checksum=st.integers(0, 0xFFFF),
        version=st.integers(0, 255),
        code_date=st.datetimes(datetime(1984, 1, 1), datetime(2100, 1, 1)).map(
            lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
        ),
        author=st.text("ABCXYZ abc019_", max_size=8).map(str.rstrip),
        family=st.text("ABC019", max_size=8),
        header=st.text("ABC019", max_size=8),
        security=st.integers(0, 0xFFFFFFFF),
    )
)
def test_block_info_round_trips(info):
    raw = b.encode_block_info(info)
    assert len(raw) == b.BLOCK_INFO_SIZE
    assert b.parse_block_info(raw) == info


@given(st.lists(st.builds(b.BlockEntry, st.integers(0, 0xFFFF), st.integers(0, 255),
                          st.integers(0, 255))))  # fmt: skip
def test_lists_round_trip(entries):
    assert b.parse_list_of_type(b.encode_list_of_type(entries)) == entries


@given(st.dictionaries(st.sampled_from(list(b.LIST_ALL_ORDER)), st.integers(0, 0xFFFF)))
def test_counts_round_trip(counts):
    assert b.parse_list_all(b.encode_list_all(counts)) == {
        int(t): counts.get(t, 0) for t in b.LIST_ALL_ORDER
    }


@given(st.binary(max_size=100))
def test_parsers_raise_only_pdu_errors(raw):
    for parse in (
        b.parse_list_all,
        b.parse_list_of_type,
        b.parse_block_info,
        b.decode_list_of_type_request,
        b.decode_block_info_request,
    ):
        try:
            parse(raw)
        except PduError:
            pass


def test_block_info_request_numbers():
    assert b.decode_block_info_request(b"0A00042A") == (0x41, 42)
    assert b.decode_block_info_request(b"0A99999A") == (0x41, None)  # more than 65535
    assert b.decode_block_info_request(b"0A12x45A") == (0x41, None)
    with pytest.raises(PduError):
        b.decode_block_info_request(b"0A123")


def test_engine_lists_counts_and_describes_its_dbs():
    server, events = engine({300: 20, 1: 100, 7: 3})
    params, data = answer(server, userdata(1, b"\x0a\x00\x00\x00"))
    assert (params.error, data.payload) == (0, SNAP7C_LIST_ALL)
    params, data = answer(server, userdata(2, bytes.fromhex("ff0900023041")))
    assert (params.data_unit_ref, params.last_data_unit) == (0x23, 0)
    assert [e.number for e in b.parse_list_of_type(data.payload)] == [1, 7, 300]
    params, data = answer(server, userdata(3, bytes.fromhex("ff0900083041") + b"00001A"))
    assert data.payload == SNAP7C_DB1_INFO
    assert events == [
        (Event.Directory, 0, 1, 0, 0, 0),
        (Event.Directory, 0, 2, 0x41, 0, 0),
        (Event.Directory, 0, 4, 0x41, 1, 0),
    ]


def test_engine_refuses_what_it_does_not_have_as_snap7_c_does():
    server, events = engine({1: 4})
    params, data = answer(server, userdata(2, bytes.fromhex("ff0900023038")))  # OB
    assert (params.error, data.encode()) == (b.ERROR_NO_BLOCKS, b"\x0a\x00\x00\x00")
    for number in (b"00002", b"99999"):
        params, data = answer(server, userdata(3, bytes.fromhex("ff0900083041") + number + b"A"))
        assert (params.error, data.encode()) == (b.ERROR_BLOCK_NOT_FOUND, b"\x0a\x00\x00\x00")
    params, _ = answer(server, userdata(3, bytes.fromhex("ff0900083038") + b"00001A"))  # OB1
    assert params.error == b.ERROR_BLOCK_NOT_FOUND
    params, _ = answer(server, userdata(2, b"\x0a\x00\x00\x00", follow_up=True))  # nothing pending
    assert params.error == b.ERROR_NO_BLOCKS
    params, _ = answer(server, userdata(9, b"\x0a\x00\x00\x00"))  # no such subfunction
    assert params.error == 0x8104
    assert [e[1] for e in events[:4]] == [EventResult.ResNotFound] * 4
    assert events[2][3:5] == (0x41, 0xFFFF)  # an unreadable number is reported as 0xFFFF


def test_engine_sends_a_long_list_in_parts():
    server, _ = engine({n: 2 for n in range(1, 201)}, pdu=240)
    room = b.list_capacity(240)  # 52 entries per part at PDU 240
    params, data = answer(server, userdata(2, bytes.fromhex("ff0900023041")))
    numbers = [e.number for e in b.parse_list_of_type(data.payload)]
    parts = 1
    while params.last_data_unit:
        params, data = answer(server, userdata(2, b"\x0a\x00\x00\x00", follow_up=True))
        numbers += [e.number for e in b.parse_list_of_type(data.payload)]
        parts += 1
        assert len(server.handle(userdata(1, b"\x0a\x00\x00\x00"))) <= 240  # other requests
    assert numbers == list(range(1, 201)) and parts == -(-200 // room)
    params, _ = answer(server, userdata(2, b"\x0a\x00\x00\x00", follow_up=True))
    assert params.error == b.ERROR_NO_BLOCKS  # the list is done


def test_malformed_block_requests_are_pdu_errors():
    server, _ = engine({1: 4})
    for sub, data in ((2, bytes.fromhex("ff09000130")), (3, bytes.fromhex("ff0900033041"))):
        with pytest.raises(PduError):
            server.handle(userdata(sub, data))
