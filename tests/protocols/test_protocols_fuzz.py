"""Round trips and fuzzing: random or mutated bytes may only raise ProtocolError."""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incore.protocols.errors import ProtocolError, S7Error
from incore.protocols.isotcp import (
    ConnectionConfirm,
    ConnectionRequest,
    DataTransfer,
    DisconnectRequest,
    IsoClientSession,
    IsoServerSession,
    TpktDecoder,
    decode_tpdu,
    encode_tpkt,
)
from incore.protocols.s7 import Area, MemoryAreaStore, S7ClientProtocol, S7ServerProtocol, TransportSize, Var
from incore.protocols.s7.clock import decode_clock, encode_clock
from incore.protocols.s7.items import DataItem, ItemSpec, decode_data_items, decode_item_specs, encode_data_items, \
    encode_item_specs
from incore.protocols.s7.pdu import UserdataData, UserdataParams, decode_pdu

FUZZ = settings(max_examples=int(__import__("os").environ.get("INCORE_FUZZ_EXAMPLES", "250")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
H = bytes.fromhex

tsaps = st.one_of(st.none(), st.integers(0, 0xFFFF).map(lambda v: v.to_bytes(2, "big")), st.binary(min_size=1, max_size=24))
words = st.integers(0, 0xFFFF)


@FUZZ
@given(st.builds(ConnectionRequest, src_ref=words, dst_ref=words, class_option=st.integers(0, 255),
                 tpdu_size=st.one_of(st.none(), st.integers(0, 255)), calling_tsap=tsaps, called_tsap=tsaps,
                 subnet_id=st.one_of(st.none(), words), routing_tsap=st.one_of(st.none(), words)),
       st.booleans())
def test_connection_tpdus_round_trip(cr, confirm):
    tpdu = ConnectionConfirm(**{f.name: getattr(cr, f.name) for f in cr.__attrs_attrs__}) if confirm else cr
    assert decode_tpdu(tpdu.encode()) == tpdu


@FUZZ
@given(st.binary(max_size=2000), st.booleans(), words, words, st.integers(0, 255))
def test_dt_and_dr_round_trip(data, eot, dst, src, reason):
    assert decode_tpdu(DataTransfer(data, eot).encode()) == DataTransfer(data, eot)
    assert decode_tpdu(DisconnectRequest(dst, src, reason).encode()) == DisconnectRequest(dst, src, reason)


@FUZZ
@given(st.lists(st.binary(min_size=3, max_size=300), max_size=6), st.lists(st.integers(1, 50), max_size=20))
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
    for action in (lambda: TpktDecoder().feed(raw), lambda: decode_tpdu(raw), lambda: decode_pdu(raw),
                   lambda: decode_item_specs(raw), lambda: decode_data_items(raw, 3, response=True),
                   lambda: UserdataParams.decode(raw), lambda: UserdataData.decode(raw), lambda: decode_clock(raw),
                   lambda: IsoServerSession().receive_data(raw)):
        try:
            action()
        except ProtocolError:
            pass


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([0x81, 0x82, 0x83, 0x84, 0x1C, 0x1D]), words, st.integers(0, 0xFFFFFF),
                          words, st.sampled_from(list(TransportSize))), min_size=1, max_size=20))
def test_item_specs_round_trip(items):
    specs = [ItemSpec(a, db, addr, n, ts) for a, db, addr, n, ts in items]
    assert decode_item_specs(encode_item_specs(0x04, specs)) == specs


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([0x03, 0x04, 0x05, 0x07, 0x09]), st.binary(min_size=1, max_size=40)),
                min_size=1, max_size=10))
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
        client.setup_communication(), client.read_area(Area.DB, 1, 0, 8), client.write_area(Area.MK, 0, 2, b"ab"),
        client.read_multi([Var(Area.DB, 1, 0, 2), Var(Area.TM, 0, 1, 1)]),
        client.write_multi([Var(Area.PE, 0, 0, 1, data=b"x"), Var(Area.DB, 1, 3, 1, TransportSize.BIT, data=b"\x01")]),
        client.read_szl(0x001C, 0), client.get_clock(), client.set_clock(datetime(2024, 2, 29, 1, 2, 3)),
        client.plc_stop(), client.plc_cold_start(),
    ]
    return [op.request for op in ops]


REQUESTS = _valid_requests()


@FUZZ
@given(st.sampled_from(REQUESTS), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
       st.integers(0, 8), st.binary(max_size=4))
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
@given(st.integers(0, len(REQUESTS) - 1), st.binary(max_size=120), st.lists(st.tuples(st.integers(0, 200),
                                                                                       st.integers(0, 255)), max_size=4))
def test_client_operations_only_raise_s7_errors_on_bad_replies(which, garbage, flips):
    client = S7ClientProtocol()
    client.pdu_size = 480
    op = [client.setup_communication, lambda: client.read_area(Area.DB, 1, 0, 8), client.get_cpu_info,
          lambda: client.read_multi([Var(Area.DB, 1, 0, 2), Var(Area.MK, 0, 0, 3)]), client.get_clock,
          client.plc_stop][which % 6]()
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
