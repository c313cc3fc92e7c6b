"""Hypothesis over the Modbus codecs: any chunking of a stream gives the same events and
answers, random bytes raise nothing but the protocol's errors, and requests, answers and
stores round-trip against a plain model."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incore.protocols.errors import ProtocolError
from incore.protocols.modbus import (
    MbapDecoder,
    MemoryStore,
    ModbusClientProtocol,
    ModbusFramingError,
    ModbusServerProtocol,
    Table,
    frame_adu,
    pack_bits,
    unpack_bits,
)
from incore.protocols.modbus import pdu as P

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

addresses = st.integers(0, 99)
requests = st.one_of(
    st.builds(P.read_coils, addresses, st.integers(1, 100)),
    st.builds(P.read_discrete_inputs, addresses, st.integers(1, 100)),
    st.builds(P.read_holding_registers, addresses, st.integers(1, 125)),
    st.builds(P.read_input_registers, addresses, st.integers(1, 125)),
    st.builds(P.write_single_coil, addresses, st.booleans()),
    st.builds(P.write_single_register, addresses, st.integers(0, 0xFFFF)),
    st.builds(P.write_multiple_coils, addresses, st.lists(st.booleans(), min_size=1, max_size=60)),
    st.builds(
        P.write_multiple_registers,
        addresses,
        st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=40),
    ),
    st.builds(P.mask_write_register, addresses, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
    st.builds(
        P.read_write_multiple_registers,
        addresses,
        st.integers(1, 30),
        addresses,
        st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=30),
    ),
    st.builds(P.diagnostics, st.just(0), st.binary(max_size=40)),
    st.builds(P.read_device_identification, st.integers(1, 4), st.integers(0, 3)),
    st.binary(min_size=1, max_size=40).map(lambda pdu: P.Request(pdu, 0, lambda r, a: a)),
)


def server() -> ModbusServerProtocol:
    store = MemoryStore(coils=120, discrete_inputs=120, input_registers=120, holding_registers=120)
    return ModbusServerProtocol(store, identity={0: "a", 1: "b", 2: "c", 3: "d"})


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])]


@FAST
@given(st.lists(requests, min_size=1, max_size=8), st.lists(st.integers(0, 10_000), max_size=12))
def test_any_chunking_gives_the_same_events_and_answers(reqs, cuts):
    stream = b"".join(frame_adu(i, 255, r.pdu) for i, r in enumerate(reqs))
    whole, chunked = server(), server()
    events = whole.receive_data(stream)
    answers = whole.data_to_send()
    got_events, got_answers = [], b""
    for piece in cut(stream, cuts):
        got_events += chunked.receive_data(piece)
        got_answers += chunked.data_to_send()
    assert (got_events, got_answers) == (events, answers)
    assert whole.store.registers == chunked.store.registers
    # one answer per request, in order
    tids, pos = [], 0
    while pos < len(answers):
        tid, _, length = struct.unpack_from(">HHH", answers, pos)
        tids.append(tid)
        pos += 6 + length
    assert tids == list(range(len(reqs)))


@FAST
@given(st.binary(max_size=600), st.lists(st.integers(0, 1000), max_size=6))
def test_random_bytes_raise_only_framing_errors(data, cuts):
    engine = server()
    try:
        for piece in cut(data, cuts):
            engine.receive_data(piece)
            engine.data_to_send()
    except ModbusFramingError:
        pass


@FAST
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 255), st.binary(max_size=60))))
def test_random_frames_with_good_headers_are_always_answered(frames):
    engine = server()
    stream = b"".join(frame_adu(tid, unit, b"\x00" + pdu) for tid, unit, pdu in frames)
    engine.receive_data(stream)
    answers = engine.data_to_send()
    seen, pos = [], 0
    while pos < len(answers):
        tid, protocol, length, unit = struct.unpack_from(">HHHB", answers, pos)
        assert protocol == 0 and 2 < length <= 254
        seen.append((tid, unit))
        pos += 6 + length
    assert seen == [(tid, unit) for tid, unit, _ in frames]


@FAST
@given(st.binary(max_size=300), st.lists(st.integers(0, 400), max_size=5))
def test_random_answers_to_a_client_raise_only_protocol_errors(data, cuts):
    client = ModbusClientProtocol(max_pending=4)
    for request in (P.read_coils(0, 9), P.read_holding_registers(0, 2), P.write_single_coil(1, 1)):
        client.send(request)
    client.send(P.read_device_identification(3, 0))
    try:
        for piece in cut(data, cuts):
            client.receive_data(piece)
    except ProtocolError:
        pass


@FAST
@given(st.lists(requests, min_size=1, max_size=6), st.lists(st.integers(0, 2000), max_size=8))
def test_client_and_server_round_trip_in_any_chunking(reqs, cuts):
    engine, client = server(), ModbusClientProtocol(max_pending=len(reqs))
    for request in reqs:
        client.send(request)
    for piece in cut(client.data_to_send(), cuts):
        engine.receive_data(piece)
    replies = []
    for piece in cut(engine.data_to_send(), cuts):
        replies += client.receive_data(piece)
    assert [r.request for r in replies] == reqs
    for reply in replies:
        if reply.error is None and reply.request.function in (3, 23):
            assert len(reply.result) == reply.request.count


@FAST
@given(st.lists(st.booleans(), max_size=300))
def test_bits_round_trip(bits):
    packed = pack_bits(bits)
    assert len(packed) == (len(bits) + 7) // 8
    assert unpack_bits(packed, len(bits)) == bits


@FAST
@given(
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 200), st.lists(st.booleans(), min_size=1, max_size=40))),
)
def test_store_bits_match_a_list_model_in_both_layouts(overlaid, writes):
    store = MemoryStore(coils=256, holding_registers=16, overlaid=overlaid)
    model = [False] * 256
    for start, bits in writes:
        bits = bits[: 256 - start]
        store.write_bits(Table.Coil, start, len(bits), pack_bits(bits))
        model[start : start + len(bits)] = bits
    assert unpack_bits(store.read_bits(Table.Coil, 0, 256), 256) == model
    for start in range(0, 250, 37):
        assert unpack_bits(store.read_bits(Table.Coil, start, 6), 6) == model[start : start + 6]
    if overlaid:  # coil n is bit n % 16 of register n // 16
        registers = struct.unpack(">16H", store.read_registers(Table.Holding, 0, 16))
        assert [bool(registers[n // 16] >> (n % 16) & 1) for n in range(256)] == model


def test_mbap_decoder_fails_on_a_bad_header_after_good_frames():
    decoder = MbapDecoder()
    good = frame_adu(1, 1, b"\x03\x00\x00\x00\x01")
    assert len(decoder.feed(good)) == 1
    try:
        decoder.feed(good + b"\x00\x01\x00\x01\x00\x06\x01")
    except ModbusFramingError as exc:
        assert "protocol id 1" in str(exc)
    else:
        raise AssertionError("a bad protocol id was taken")
