"""Round trips and fuzzing: random or mutated bytes may only raise ProtocolError, and the
engines of the sans-IO contract give the same events whatever the chunking."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incore.protocols.contract import StreamEngine
from incore.protocols.errors import ProtocolError, S7Error
from incore.protocols.isotcp import (
    ConnectionConfirm,
    ConnectionRequest,
    DataTransfer,
    DisconnectRequest,
    IsoClientSession,
    IsoDisconnected,
    IsoServerSession,
    TpktDecoder,
    decode_tpdu,
    encode_tpkt,
)
from incore.protocols.s7 import (
    Area,
    MemoryAreaStore,
    PlcState,
    S7ClientProtocol,
    S7ServerProtocol,
    TransportSize,
    Var,
)
from incore.protocols.s7.clock import decode_clock, encode_clock
from incore.protocols.s7.items import (
    DataItem,
    ItemSpec,
    decode_data_items,
    decode_item_specs,
    encode_data_items,
    encode_item_specs,
)
from incore.protocols.s7.pdu import UserdataData, UserdataParams, decode_pdu
from incore.protocols.stack import Stack

FUZZ = settings(
    max_examples=int(__import__("os").environ.get("INCORE_FUZZ_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
H = bytes.fromhex

tsaps = st.one_of(
    st.none(),
    st.integers(0, 0xFFFF).map(lambda v: v.to_bytes(2, "big")),
    st.binary(min_size=1, max_size=24),
)
words = st.integers(0, 0xFFFF)


@FUZZ
@given(
    st.builds(
        ConnectionRequest,
        src_ref=words,
        dst_ref=words,
        class_option=st.integers(0, 255),
        tpdu_size=st.one_of(st.none(), st.integers(0, 255)),
        calling_tsap=tsaps,
        called_tsap=tsaps,
        subnet_id=st.one_of(st.none(), words),
        routing_tsap=st.one_of(st.none(), words),
    ),
    st.booleans(),
)
def test_connection_tpdus_round_trip(cr, confirm):
    tpdu = (
        ConnectionConfirm(**{f.name: getattr(cr, f.name) for f in cr.__attrs_attrs__})
        if confirm
        else cr
    )
    assert decode_tpdu(tpdu.encode()) == tpdu


@FUZZ
@given(st.binary(max_size=2000), st.booleans(), words, words, st.integers(0, 255))
def test_dt_and_dr_round_trip(data, eot, dst, src, reason):
    assert decode_tpdu(DataTransfer(data, eot).encode()) == DataTransfer(data, eot)
    assert decode_tpdu(DisconnectRequest(dst, src, reason).encode()) == DisconnectRequest(
        dst, src, reason
    )


@FUZZ
@given(
    st.lists(st.binary(min_size=3, max_size=300), max_size=6),
    st.lists(st.integers(1, 50), max_size=20),
)
def test_tpkt_framing_survives_any_split(payloads, cuts):
    stream = b"".join(encode_tpkt(p) for p in payloads)
    decoder, frames, pos = TpktDecoder(), [], 0
    for cut in cuts + [len(stream)]:
        frames += decoder.feed(stream[pos : pos + cut])
        pos += cut
    frames += decoder.feed(stream[pos:])
    assert frames == payloads


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_protocol_errors(raw):
    for action in (
        lambda: TpktDecoder().feed(raw),
        lambda: decode_tpdu(raw),
        lambda: decode_pdu(raw),
        lambda: decode_item_specs(raw),
        lambda: decode_data_items(raw, 3, response=True),
        lambda: UserdataParams.decode(raw),
        lambda: UserdataData.decode(raw),
        lambda: decode_clock(raw),
        lambda: IsoServerSession().receive_data(raw),
    ):
        try:
            action()
        except ProtocolError:
            pass


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0x81, 0x82, 0x83, 0x84, 0x1C, 0x1D]),
            words,
            st.integers(0, 0xFFFFFF),
            words,
            st.sampled_from(list(TransportSize)),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_item_specs_round_trip(items):
    specs = [ItemSpec(a, db, addr, n, ts) for a, db, addr, n, ts in items]
    assert decode_item_specs(encode_item_specs(0x04, specs)) == specs


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0x03, 0x04, 0x05, 0x07, 0x09]), st.binary(min_size=1, max_size=40)
        ),
        min_size=1,
        max_size=10,
    )
)
def test_data_items_round_trip(raw_items):
    items = [DataItem(0xFF, ts, data) for ts, data in raw_items]
    assert decode_data_items(encode_data_items(items), len(items), response=True) == items


@FUZZ
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2089, 12, 31)))
def test_clock_round_trip(moment):
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert decode_clock(encode_clock(moment)) == moment


def _server():
    store = MemoryAreaStore()
    for area in (0x81, 0x82, 0x83, 0x1C, 0x1D):
        store.register(area, 0, 64)
    store.register(0x84, 1, 64)
    return S7ServerProtocol(store, max_pdu=240)


def _valid_requests() -> list[bytes]:
    client = S7ClientProtocol()
    client.pdu_size = 480
    ops = [
        client.setup_communication(),
        client.read_area(Area.DB, 1, 0, 8),
        client.write_area(Area.MK, 0, 2, b"ab"),
        client.read_multi([Var(Area.DB, 1, 0, 2), Var(Area.TM, 0, 1, 1)]),
        client.write_multi(
            [
                Var(Area.PE, 0, 0, 1, data=b"x"),
                Var(Area.DB, 1, 3, 1, TransportSize.BIT, data=b"\x01"),
            ]
        ),
        client.read_szl(0x001C, 0),
        client.get_clock(),
        client.set_clock(datetime(2024, 2, 29, 1, 2, 3)),
        client.plc_stop(),
        client.plc_cold_start(),
    ]
    return [op.request for op in ops]


REQUESTS = _valid_requests()


@FUZZ
@given(
    st.sampled_from(REQUESTS),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    st.integers(0, 8),
    st.binary(max_size=4),
)
def test_server_answers_or_raises_protocol_error_on_mutated_requests(request, flips, cut, tail):
    raw = bytearray(request)
    for pos, value in flips:
        if raw:
            raw[pos % len(raw)] = value
    raw = bytes(raw[: len(raw) - cut]) + tail
    server = _server()
    try:
        reply = server.handle(raw)
    except ProtocolError:
        return
    decoded = decode_pdu(reply)  # whatever it answered must itself be a valid PDU
    assert decoded.pdu_ref == int.from_bytes(raw[4:6], "big")
    assert len(reply) <= server.effective_pdu or decoded.rosctr == 7


@FUZZ
@given(st.binary(max_size=200))
def test_server_survives_random_pdus(raw):
    try:
        reply = _server().handle(b"\x32" + raw)
    except ProtocolError:
        return
    decode_pdu(reply)


@FUZZ
@given(
    st.integers(0, len(REQUESTS) - 1),
    st.binary(max_size=120),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
)
def test_client_operations_only_raise_s7_errors_on_bad_replies(which, garbage, flips):
    client = S7ClientProtocol()
    client.pdu_size = 480
    op = [
        client.setup_communication,
        lambda: client.read_area(Area.DB, 1, 0, 8),
        client.get_cpu_info,
        lambda: client.read_multi([Var(Area.DB, 1, 0, 2), Var(Area.MK, 0, 0, 3)]),
        client.get_clock,
        client.plc_stop,
    ][which % 6]()
    good = _server().handle(op.request) if which % 2 else None
    reply = bytearray(good or (b"\x32" + garbage))
    for pos, value in flips:
        reply[pos % len(reply)] = value
    try:
        op.feed(bytes(reply))
    except S7Error:
        pass


@FUZZ
@given(st.binary(max_size=600))
def test_iso_sessions_only_raise_protocol_errors(raw):
    server = IsoServerSession()
    client = IsoClientSession()
    client.connect()
    for session in (server, client):
        try:
            session.receive_data(encode_tpkt(ConnectionRequest(tpdu_size=0x0A).encode()) + raw)
        except ProtocolError:
            pass


# -- the sans-IO contract: chunking never matters, garbage only raises the protocol's error --------
FIXED_TIME = datetime(2024, 5, 6, 7, 8, 9)


def _still_server() -> S7ServerProtocol:
    """A server engine on a clock that stands still: the same requests, the same replies."""
    server = _server()
    server.state = PlcState(clock=lambda: FIXED_TIME, status_changed=FIXED_TIME)
    return server


def _stack() -> Stack:
    """TPKT/COTP carrying the S7 server engine."""
    return Stack(IsoServerSession(), _still_server())


def _client_stream(pdus: list[bytes], tpdu_size: int, release: bool) -> bytes:
    """What a client sends: its CR, the PDUs in DTs (split at ``tpdu_size``), maybe a DR."""
    client, server = IsoClientSession(tpdu_size=tpdu_size), IsoServerSession()
    client.connect()
    request = client.data_to_send()
    server.receive_data(request)
    client.receive_data(server.data_to_send())
    for pdu in pdus:
        client.send_pdu(pdu)
    if release:
        client.disconnect()
    return request + client.data_to_send()


def _connected_client() -> IsoClientSession:
    client = IsoClientSession()
    client.connect()
    client.data_to_send()
    return client


def _feed(
    engine: StreamEngine, stream: bytes, cuts: list[int]
) -> tuple[list, bytes, ProtocolError | None]:
    """Feed ``stream`` in chunks of the sizes in ``cuts`` (the rest in one): the events, the
    bytes to send and the ProtocolError that stopped it. Any other exception fails the test."""
    events: list = []
    sent, pos = b"", 0
    try:
        for size in [*cuts, len(stream)]:
            if pos < len(stream):
                events += engine.receive_data(stream[pos : pos + size], 0.0)
                sent += engine.data_to_send()
                pos += size
    except ProtocolError as exc:
        return events, sent, exc
    return events, sent, None


def _mutate(stream: bytes, flips: list[tuple[int, int]], cut: int, tail: bytes) -> bytes:
    raw = bytearray(stream)
    for pos, value in flips:
        if raw:
            raw[pos % len(raw)] = value
    return bytes(raw[: max(len(raw) - cut, 0)]) + tail


client_streams = st.builds(
    _client_stream,
    st.lists(st.sampled_from(REQUESTS), max_size=5),
    st.sampled_from([128, 256, 1024]),
    st.booleans(),
)
chunkings = st.lists(st.integers(1, 60), max_size=30)
mutations = st.tuples(
    st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 255)), max_size=4),
    st.integers(0, 8),
    st.binary(max_size=12),
)


def _server_stream(stream: bytes) -> bytes:
    """What the S7 server stack sends back to ``stream``: its CC and replies, in DTs."""
    return _feed(_stack(), stream, [])[1]


@FUZZ
@given(client_streams, chunkings)
def test_server_stack_events_and_replies_do_not_depend_on_chunking(stream, cuts):
    """The same events, and the same bytes out; except that answers to requests that come in
    one chunk with the client's release are not sent (see Stack), so with a release the
    bytes out may lack those."""
    whole = _feed(_stack(), stream, [])
    assert whole[2] is None
    for other in (_feed(_stack(), stream, cuts), _feed(_stack(), stream, [1] * len(stream))):
        assert other[0] == whole[0] and other[2] is None
        if not isinstance(whole[0][-1], IsoDisconnected):
            assert other[1] == whole[1]
    iso_whole = _feed(IsoServerSession(), stream, [])
    assert _feed(IsoServerSession(), stream, cuts) == iso_whole


@FUZZ
@given(client_streams, chunkings)
def test_client_session_events_do_not_depend_on_chunking(stream, cuts):
    replies = _server_stream(stream)
    whole = _feed(_connected_client(), replies, [])
    assert whole[2] is None
    assert _feed(_connected_client(), replies, cuts) == whole
    assert _feed(_connected_client(), replies, [1] * len(replies)) == whole


@FUZZ
@given(client_streams, mutations, chunkings)
def test_mutated_streams_in_any_chunking_only_raise_protocol_errors_at_the_same_frames(
    stream, mutation, cuts
):
    """Bytewise feeding sees every frame as soon as it is whole; coarser chunks may lose the
    events of the chunk that fails, never invent others, and fail exactly when it does."""
    broken = _mutate(stream, *mutation)
    for make, data in (
        (_stack, broken),
        (IsoServerSession, broken),
        (_connected_client, _mutate(_server_stream(stream), *mutation)),
    ):
        finest = _feed(make(), data, [1] * len(data))
        chunked = _feed(make(), data, cuts)
        assert (chunked[2] is None) == (finest[2] is None), (chunked[2], finest[2])
        assert finest[0][: len(chunked[0])] == chunked[0]
        if chunked[2] is None:
            assert chunked[0] == finest[0]


@FUZZ
@given(st.binary(max_size=600), chunkings)
def test_random_streams_only_raise_protocol_errors(raw, cuts):
    for engine in (_stack(), IsoServerSession(), _connected_client()):
        _feed(engine, raw, cuts)
    _feed(_stack(), _client_stream([], 1024, False) + raw, cuts)


@FUZZ
@given(
    st.sampled_from(REQUESTS),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
)
def test_receive_pdu_events_and_reply_are_those_of_handle(request, flips):
    raw = _mutate(request, flips, 0, b"")
    seen: list = []
    pushed, pulled = _still_server(), _still_server()
    pushed.on_event = seen.append
    try:
        reply = pushed.handle(raw)
    except ProtocolError as exc:
        with pytest.raises(type(exc)):
            pulled.receive_pdu(raw)
        return
    assert pulled.receive_pdu(raw) == seen
    assert pulled.pdus_to_send() == [reply]
    assert pulled.pdus_to_send() == []
