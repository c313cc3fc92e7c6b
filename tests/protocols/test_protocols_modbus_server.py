"""The Modbus server engine (incore/protocols/modbus/server.py): every function's answer, the
right exception for every bad request in the spec's check order, unit ids and broadcast,
FC 8 and FC 43/14, atomic FC 22/23, write events, MBLogic's overlaid table; and a loop that
knows only the contract serving it over a loopback socket while a peer sends bad headers."""

from __future__ import annotations

import socket
import struct
import threading
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_protocols_contract import drive

from incore.protocols.modbus import (
    DiagnosticCounters,
    MemoryStore,
    ModbusFramingError,
    ModbusServerProtocol,
    ModbusStoreError,
    ModbusWrite,
    Table,
    frame_adu,
)
from incore.protocols.modbus import pdu as P

H = bytes.fromhex


def ask(engine: ModbusServerProtocol, pdu: bytes, unit: int = 255, tid: int = 7) -> bytes | None:
    """The answer PDU to one request (None if the engine stays silent), its ids checked."""
    engine.receive_data(frame_adu(tid, unit, pdu))
    out = engine.data_to_send()
    if not out:
        return None
    got_tid, protocol, length, got_unit = struct.unpack_from(">HHHB", out)
    assert (got_tid, protocol, got_unit, length) == (tid, 0, unit, len(out) - 6)
    return out[7:]


def small_store(**kw) -> MemoryStore:
    return MemoryStore(
        coils=100, discrete_inputs=50, input_registers=20, holding_registers=30, **kw
    )


@pytest.fixture
def engine() -> ModbusServerProtocol:
    return ModbusServerProtocol(small_store(), identity={0: "Acme", 1: "PX-1", 2: "V1.0"})


def test_the_digests_worked_frames_byte_for_byte():
    store = MemoryStore()
    store.write_registers(Table.Holding, 107, H("022B 0000 0064"))
    store.write_registers(Table.Holding, 4, H("0012"))
    engine = ModbusServerProtocol(store, identity={0: "Acme", 1: "PX-1", 2: "V1.0"})
    cases = [
        ("0001 0000 0006 01 03 006B 0003", "0001 0000 0009 01 03 06 022B 0000 0064"),
        ("0002 0000 0006 01 05 00AC FF00", "0002 0000 0006 01 05 00AC FF00"),
        ("0002 0000 000B 01 10 0001 0002 04 000A 0102", "0002 0000 0006 01 10 0001 0002"),
        ("0002 0000 0009 01 0F 0013 000A 02 CD01", "0002 0000 0006 01 0F 0013 000A"),
        ("0003 0000 0008 01 16 0004 00F2 0025", "0003 0000 0008 01 16 0004 00F2 0025"),
        (
            "0005 0000 0005 01 2B 0E 01 00",
            "0005 0000 001A 01 2B 0E 01 81 00 00 03"
            + "0004"
            + b"Acme".hex()
            + "0104"
            + b"PX-1".hex()
            + "0204"
            + b"V1.0".hex(),
        ),
    ]
    for request, answer in cases:
        engine.receive_data(H(request))
        assert engine.data_to_send() == H(answer), request
    assert store.read_registers(Table.Holding, 4, 1) == H("0017")  # FC 22's result
    assert store.read_bits(Table.Coil, 0x13, 10) == H("CD01")
    assert store.read_bits(Table.Coil, 0xAC, 1) == b"\x01"
    # FC 23: write 3 x 0x00FF at 14, then read 6 from 3 (the write first)
    engine.receive_data(H("0004 0000 0011 01 17 0003 0006 000E 0003 06 00FF00FF00FF"))
    answer = engine.data_to_send()
    assert answer[:9] == H("0004 0000 000F 01 17 0C")
    assert answer[9:] == H("0000 0017") + bytes(8)  # registers 3..8 (4 is FC 22's)
    engine.receive_data(H("0004 0000 0011 01 17 000D 0003 000E 0003 06 00FF00FF00FF"))
    assert engine.data_to_send()[9:] == H("0000 00FF 00FF")  # 13..15 sees the new values


def test_reads_and_writes_of_every_table(engine):
    store = engine.store
    store.write_bits(Table.DiscreteInput, 3, 3, b"\x05")
    store.write_registers(Table.Input, 19, H("BEEF"))
    assert ask(engine, P.read_discrete_inputs(0, 8).pdu) == H("02 01 28")
    assert ask(engine, P.read_input_registers(18, 2).pdu) == H("04 04 0000 BEEF")
    assert (
        ask(engine, P.write_single_register(29, 0x1234).pdu)
        == P.write_single_register(29, 0x1234).pdu
    )
    assert ask(engine, P.read_holding_registers(29, 1).pdu) == H("03 02 1234")
    coils = [i % 3 == 0 for i in range(100)]
    assert ask(engine, P.write_multiple_coils(0, coils).pdu) == H("0F 0000 0064")
    assert P.read_coils(0, 100).decode(ask(engine, P.read_coils(0, 100).pdu)) == coils
    assert ask(engine, P.write_single_coil(99, False).pdu) == H("05 0063 0000")
    assert ask(engine, P.write_single_coil(98, True).pdu) == H("05 0062 FF00")
    assert P.read_coils(97, 3).decode(ask(engine, P.read_coils(97, 3).pdu)) == [False, True, False]


BAD_REQUESTS = [
    # (what, request PDU, exception code) - the first failing check wins: 01, 03, 02
    ("unknown function", "07", 0x01),
    ("unknown function 0x80", "80 0000 0001", 0x01),
    ("FC 20 not served", "14 00", 0x01),
    ("FC 1 quantity 0", "01 0000 0000", 0x03),
    ("FC 1 quantity 2001", "01 0000 07D1", 0x03),
    ("FC 1 quantity 2001 beyond the table too", "01 FFFF 07D1", 0x03),
    ("FC 1 short", "01 0000 00", 0x03),
    ("FC 1 long", "01 0000 0001 00", 0x03),
    ("FC 1 past the end", "01 0060 0005", 0x02),
    ("FC 2 past the end", "02 0031 0002", 0x02),
    ("FC 3 quantity 126", "03 0000 007E", 0x03),
    ("FC 3 quantity 0", "03 0000 0000", 0x03),
    ("FC 3 past the end", "03 001E 0001", 0x02),
    ("FC 3 start + quantity wraps", "03 FFFF 0002", 0x02),
    ("FC 4 past the end", "04 0000 0015", 0x02),
    ("FC 4 quantity 126", "04 0000 007E", 0x03),
    ("FC 5 value 0x0001", "05 0000 0001", 0x03),
    ("FC 5 value 0xFFFF past the end", "05 FFFF FFFF", 0x03),
    ("FC 5 past the end", "05 0064 FF00", 0x02),
    ("FC 5 short", "05 0000 FF", 0x03),
    ("FC 6 past the end", "06 001E 0000", 0x02),
    ("FC 6 short", "06 0000", 0x03),
    ("FC 15 quantity 1969", "0F 0000 07B1 F7" + "FF" * 0xF7, 0x03),
    ("FC 15 quantity 0", "0F 0000 0000 00", 0x03),
    ("FC 15 byte count != ceil(q/8)", "0F 0000 0009 01 FF", 0x03),
    ("FC 15 fewer bytes than counted", "0F 0000 0009 02 FF", 0x03),
    ("FC 15 past the end", "0F 0063 0002 01 03", 0x02),
    ("FC 16 quantity 124", "10 0000 007C 02 0000", 0x03),
    ("FC 16 byte count != 2q", "10 0000 0001 03 000000", 0x03),
    ("FC 16 missing bytes", "10 0000 0002 04 0000", 0x03),
    ("FC 16 past the end", "10 001D 0002 04 00000000", 0x02),
    ("FC 16 short", "10 0000 00", 0x03),
    ("FC 22 past the end", "16 001E FFFF 0000", 0x02),
    ("FC 22 short", "16 0000 FFFF 00", 0x03),
    ("FC 23 read quantity 126", "17 0000 007E 0000 0001 02 0000", 0x03),
    ("FC 23 write quantity 122", "17 0000 0001 0000 007A 02 0000", 0x03),
    ("FC 23 write byte count wrong", "17 0000 0001 0000 0001 04 00000000", 0x03),
    ("FC 23 read past the end", "17 001E 0001 0000 0001 02 0000", 0x02),
    ("FC 23 write past the end", "17 0000 0001 001E 0001 02 0000", 0x02),
    ("FC 23 short", "17 0000 0001 0000", 0x03),
    ("FC 8 short", "08 00", 0x03),
    ("FC 8 restart communications", "08 0001 0000", 0x01),
    ("FC 8 force listen only", "08 0004 0000", 0x01),
    ("FC 8 communication error count", "08 000C 0000", 0x01),
    ("FC 8 unknown sub-function", "08 00FF 0000", 0x01),
    ("FC 8 counter with data", "08 000B 0001", 0x03),
    ("FC 43 without MEI type", "2B", 0x03),
    ("FC 43 MEI 13 (CANopen)", "2B 0D 00", 0x01),
    ("FC 43/14 short", "2B 0E 01", 0x03),
    ("FC 43/14 read code 0", "2B 0E 00 00", 0x03),
    ("FC 43/14 read code 5", "2B 0E 05 00", 0x03),
    ("FC 43/14 missing object", "2B 0E 04 05", 0x02),
]


@pytest.mark.parametrize(
    ("what", "request_pdu", "code"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS]
)
def test_every_bad_request_gets_its_exception(engine, what, request_pdu, code):
    before = bytes(engine.store.registers[Table.Holding])
    pdu = H(request_pdu)
    events = engine.receive_data(frame_adu(9, 1, pdu))
    out = engine.data_to_send()
    assert out == frame_adu(9, 1, bytes(((pdu[0] | 0x80), code))), what
    assert events == []
    assert bytes(engine.store.registers[Table.Holding]) == before  # nothing written


def test_a_refusing_store_answers_04_or_its_own_code():
    class Refusing(MemoryStore):
        code = 4

        def write_registers(self, table, start, data):
            raise ModbusStoreError(self.code, "the application said no")

    store = Refusing(holding_registers=10)
    engine = ModbusServerProtocol(store)
    assert ask(engine, P.write_single_register(0, 1).pdu) == H("86 04")
    assert ask(engine, P.read_write_multiple_registers(0, 1, 0, [1]).pdu) == H("97 04")
    store.code = 6
    assert ask(engine, P.write_multiple_registers(0, [1]).pdu) == H("90 06")
    assert ask(engine, P.read_holding_registers(0, 1).pdu) == H("03 02 0000")  # reads still fine


def test_unit_ids_address_zero_answers_all():
    engine = ModbusServerProtocol(small_store())
    for unit in (0, 1, 17, 247, 255):
        assert ask(engine, P.read_holding_registers(0, 1).pdu, unit=unit) == H("03 02 0000")


def test_unit_ids_with_an_address_answer_it_0_and_255_and_0B_to_others():
    engine = ModbusServerProtocol(small_store(), address=17)
    for unit in (0, 17, 255):
        assert ask(engine, P.read_holding_registers(0, 1).pdu, unit=unit) == H("03 02 0000")
    for unit in (1, 16, 18, 254):
        assert ask(engine, P.read_holding_registers(0, 1).pdu, unit=unit) == H("83 0B")
        assert ask(engine, P.write_single_register(0, 5).pdu, unit=unit) == H("86 0B")
    assert engine.store.read_registers(Table.Holding, 0, 1) == H("0000")


def test_broadcast_only_when_turned_on():
    engine = ModbusServerProtocol(small_store(), address=17, broadcast=True)
    events = engine.receive_data(frame_adu(1, 0, P.write_single_register(3, 0xABCD).pdu))
    events += engine.receive_data(frame_adu(2, 0, P.read_holding_registers(3, 1).pdu))
    assert engine.data_to_send() == b""  # no answer to either
    assert events == [ModbusWrite(Table.Holding, 3, 1, 6, 0, 1)]
    assert ask(engine, P.read_holding_registers(3, 1).pdu, unit=17) == H("03 02 ABCD")
    assert engine.counters.no_response == 2
    engine.broadcast = False
    assert (
        ask(engine, P.write_single_register(3, 1).pdu, unit=0) == P.write_single_register(3, 1).pdu
    )


def test_write_events_name_the_table_range_and_request(engine):
    requests = [
        (P.write_single_coil(4, True), ModbusWrite(Table.Coil, 4, 1, 5, 1, 7)),
        (P.write_single_register(4, 1), ModbusWrite(Table.Holding, 4, 1, 6, 1, 7)),
        (P.write_multiple_coils(10, [1] * 9), ModbusWrite(Table.Coil, 10, 9, 15, 1, 7)),
        (
            P.write_multiple_registers(2, [1, 2]),
            ModbusWrite(Table.Holding, 2, 2, 16, 1, 7),
        ),
        (P.mask_write_register(5, 0, 1), ModbusWrite(Table.Holding, 5, 1, 22, 1, 7)),
        (
            P.read_write_multiple_registers(0, 2, 8, [1, 2, 3]),
            ModbusWrite(Table.Holding, 8, 3, 23, 1, 7),
        ),
    ]
    for request, event in requests:
        assert engine.receive_data(frame_adu(7, 1, request.pdu)) == [event]
    assert engine.receive_data(frame_adu(7, 1, P.read_coils(0, 5).pdu)) == []


def test_mask_write_follows_the_spec_formula(engine):
    store = engine.store
    for current, and_mask, or_mask in [
        (0x12, 0xF2, 0x25),
        (0xFFFF, 0, 0),
        (0x1234, 0xFFFF, 0xFFFF),
    ]:
        store.write_registers(Table.Holding, 0, current.to_bytes(2, "big"))
        ask(engine, P.mask_write_register(0, and_mask, or_mask).pdu)
        expected = (current & and_mask) | (or_mask & ~and_mask & 0xFFFF)
        assert store.read_registers(Table.Holding, 0, 1) == expected.to_bytes(2, "big")


class RecordingLock:
    """A re-entrant stand-in lock that records what happens while it is held."""

    def __init__(self, log: list) -> None:
        self.depth = 0
        self.log = log

    def __enter__(self):
        self.depth += 1
        if self.depth == 1:
            self.log.append("lock")

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0:
            self.log.append("unlock")


def test_fc22_and_fc23_read_and_write_inside_one_atomic_section():
    log: list = []

    class Logging(MemoryStore):
        def read_registers(self, table, start, count):
            log.append("read")
            return super().read_registers(table, start, count)

        def write_registers(self, table, start, data):
            log.append("write")
            super().write_registers(table, start, data)

    engine = ModbusServerProtocol(Logging(holding_registers=10, lock=RecordingLock(log)))
    ask(engine, P.mask_write_register(1, 0, 5).pdu)
    assert log == ["lock", "read", "write", "unlock"]
    log.clear()
    ask(engine, P.read_write_multiple_registers(0, 3, 1, [9]).pdu)
    # the reads outside the write (registers 0 and 2), then the write, all in one section
    assert log == ["lock", "read", "read", "write", "unlock"]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 29),
    st.integers(1, 30),
    st.integers(0, 29),
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=30),
)
def test_fc23_answers_as_write_then_read(read_start, read_count, write_start, values):
    """However the two ranges lie (apart, touching, overlapping, one inside the other), FC 23
    answers what a write followed by a read gives, and the table holds the write."""
    model = [3 * i + 1 for i in range(30)]
    store = small_store()
    store.write_registers(Table.Holding, 0, b"".join(v.to_bytes(2, "big") for v in model))
    answer = ask(
        ModbusServerProtocol(store),
        P.read_write_multiple_registers(read_start, read_count, write_start, values).pdu,
    )
    if read_start + read_count > 30 or write_start + len(values) > 30:
        assert answer == bytes([0x97, 2])
        return
    model[write_start : write_start + len(values)] = values
    expected = model[read_start : read_start + read_count]
    assert answer == bytes([23, 2 * read_count]) + struct.pack(f">{read_count}H", *expected)
    assert store.read_registers(Table.Holding, 0, 30) == struct.pack(">30H", *model)


def test_fc23_refused_by_the_store_outside_its_write_writes_nothing():
    """A store that refuses the read part (a Bad register, in ModbusTcpServer) gets FC 23
    answered with its code and nothing written: an exception answer means nothing happened."""

    class Refusing(MemoryStore):
        def read_registers(self, table, start, count):
            if start <= 4 < start + count:
                raise ModbusStoreError(4, "register 4 is Bad")
            return super().read_registers(table, start, count)

    store = Refusing(holding_registers=10)
    engine = ModbusServerProtocol(store)
    events = engine.receive_data(
        frame_adu(1, 255, P.read_write_multiple_registers(3, 3, 8, [1, 2]).pdu)
    )
    assert engine.data_to_send()[7:] == bytes([0x97, 4]) and events == []
    assert store.read_registers(Table.Holding, 8, 2) == bytes(4)
    # writing register 4 itself reads back the written value without asking the store
    assert ask(engine, P.read_write_multiple_registers(4, 1, 4, [0xABCD]).pdu) == H("1702ABCD")


def test_diagnostics_echo_and_counters():
    counters = DiagnosticCounters()
    engine = ModbusServerProtocol(small_store(), address=5, counters=counters)
    other = ModbusServerProtocol(small_store(), address=5, counters=counters)  # same server
    assert ask(engine, H("08 0000 A537")) == H("08 0000 A537")
    assert ask(engine, H("08 0000") + bytes(range(200))) == H("08 0000") + bytes(range(200))
    ask(engine, H("08 000A 0000"))  # clear
    ask(engine, P.read_coils(0, 1).pdu)
    ask(other, H("63"), unit=5)  # an exception
    ask(other, P.read_coils(0, 1).pdu, unit=9)  # not ours: exception 0B
    assert ask(engine, H("08 000B 0000")) == H("08 000B 0004")  # since the clear, this one too
    assert ask(engine, H("08 000E 0000")) == H("08 000E 0004")  # addressed to this server
    assert ask(engine, H("08 000D 0000")) == H("08 000D 0002")
    assert ask(engine, H("08 000F 0000")) == H("08 000F 0000")
    assert P.diagnostics(0, b"\x12\x34").decode(ask(engine, H("08 0000 1234"))) == H("1234")


def test_device_identification_streams_individual_access_and_more_follows():
    objects = {0: "Acme", 1: "PX-1", 2: "V1.0", 3: "http://acme", 4: "Pump", 6: "App"}
    engine = ModbusServerProtocol(small_store(), identity=objects)
    read = P.read_device_identification
    basic = read(1, 0).decode(ask(engine, read(1, 0).pdu))
    assert (basic.conformity, basic.more_follows, basic.next_object_id) == (0x82, False, 0)
    assert basic.objects == {0: b"Acme", 1: b"PX-1", 2: b"V1.0"}
    regular = read(2, 0).decode(ask(engine, read(2, 0).pdu))
    assert list(regular.objects) == [0, 1, 2, 3, 4, 6]
    assert read(2, 3).decode(ask(engine, read(2, 3).pdu)).objects == {
        3: b"http://acme",
        4: b"Pump",
        6: b"App",
    }
    assert list(read(2, 5).decode(ask(engine, read(2, 5).pdu)).objects) == [
        0,
        1,
        2,
        3,
        4,
        6,
    ]  # restart
    assert list(read(1, 4).decode(ask(engine, read(1, 4).pdu)).objects) == [0, 1, 2]  # not basic
    one = read(4, 4).decode(ask(engine, read(4, 4).pdu))
    assert (one.objects, one.more_follows, one.code) == ({4: b"Pump"}, False, 4)

    big = {0: "A" * 100, 1: "B" * 100, 2: "C" * 100, 0x80: "x" * 244, 0x81: "y"}
    engine = ModbusServerProtocol(small_store(), identity=big)
    seen: dict[int, bytes] = {}
    next_id, answers = 0, 0
    while True:
        answer = ask(engine, read(3, next_id).pdu)
        assert len(answer) <= 253
        got = read(3, next_id).decode(answer)
        assert got.conformity == 0x83
        seen.update(got.objects)
        answers += 1
        if not got.more_follows:
            break
        next_id = got.next_object_id
    assert seen == {key: value.encode() for key, value in big.items()} and answers == 4
    assert ask(engine, read(4, 0x80).pdu)[7:9] == H("80F4")  # the biggest object, alone


def test_overlaid_table_packs_coils_16_per_holding_register_bit_0_first():
    store = MemoryStore(overlaid=True)
    engine = ModbusServerProtocol(store)
    ask(engine, P.write_single_coil(0, True).pdu)
    ask(engine, P.write_single_coil(15, True).pdu)
    ask(engine, P.write_single_coil(17, True).pdu)
    assert ask(engine, P.read_holding_registers(0, 2).pdu) == H("03 04 8001 0002")
    ask(engine, P.write_multiple_registers(4095, [0x00FF]).pdu)
    assert (
        P.read_coils(65520, 16).decode(ask(engine, P.read_coils(65520, 16).pdu))
        == [True] * 8 + [False] * 8
    )
    ask(engine, P.write_multiple_coils(30, [True, True, False, True]).pdu)  # across 1 and 2
    assert ask(engine, P.read_holding_registers(1, 2).pdu) == H("03 04 C002 0002")
    ask(engine, P.write_single_register(4096, 0xFFFF).pdu)  # beyond the overlay: plain
    assert ask(engine, P.read_coils(0, 16).pdu) == H("01 02 0180")
    # discrete inputs and input registers are the other pair
    store.write_registers(Table.Input, 1, H("0003"))
    assert ask(engine, P.read_discrete_inputs(15, 4).pdu) == H("02 01 06")
    store.write_bits(Table.DiscreteInput, 0, 1, b"\x01")
    assert ask(engine, P.read_input_registers(0, 1).pdu) == H("04 02 0001")


def test_pipelined_requests_in_one_segment_are_all_answered_in_order(engine):
    frames = b"".join(frame_adu(tid, 1, P.read_holding_registers(tid, 1).pdu) for tid in range(10))
    frames += frame_adu(10, 1, H("07"))  # an exception among them
    frames += frame_adu(11, 1, P.write_single_register(0, 1).pdu)
    events = engine.receive_data(frames)
    out = engine.data_to_send()
    tids = []
    while out:
        tid, _, length, _ = struct.unpack_from(">HHHB", out)
        tids.append(tid)
        out = out[6 + length :]
    assert tids == list(range(12)) and len(events) == 1


def test_a_bad_header_raises_the_framing_error_and_the_engine_stays_failed(engine):
    for header in ("0001 0001 0006 01", "0001 0000 0001 01", "0001 0000 00FF 01"):
        fresh = ModbusServerProtocol(small_store())
        with pytest.raises(ModbusFramingError):
            fresh.receive_data(H(header) + bytes(5))
        with pytest.raises(ModbusFramingError):
            fresh.receive_data(frame_adu(1, 1, P.read_coils(0, 1).pdu))


def _serve_one(listener: socket.socket, store: MemoryStore, seen: list) -> None:
    conn, _ = listener.accept()
    drive(conn, ModbusServerProtocol(store), seen)


def _exchange(sock: socket.socket, adu: bytes) -> bytes:
    sock.sendall(adu)
    head = _recv_exactly(sock, 6)
    return head + _recv_exactly(sock, struct.unpack(">H", head[4:])[0])


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


@contextmanager
def _server(store: MemoryStore, connections: int):
    seen: list = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        threads = [
            threading.Thread(target=_serve_one, args=(listener, store, seen), daemon=True)
            for _ in range(connections)
        ]
        for thread in threads:
            thread.start()
        yield listener.getsockname()[1], seen
        for thread in threads:
            thread.join(10)
            assert not thread.is_alive()


def test_over_a_socket_bad_headers_drop_only_their_connection():
    store = MemoryStore(lock=threading.RLock())
    store.write_registers(Table.Holding, 0, H("CAFE"))
    bad_streams = [
        H("0001 0001 0006 01 03 0000 0001"),  # protocol id 1
        H("0001 0000 0106 01") + bytes(300),  # longer than 260
        H("0001 0000 0001 01"),  # length 1: no function code
    ]
    with _server(store, 1 + len(bad_streams)) as (port, seen):
        good = socket.create_connection(("127.0.0.1", port), timeout=10)
        read = frame_adu(1, 1, P.read_holding_registers(0, 1).pdu)
        for stream in bad_streams:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as bad:
                bad.sendall(stream)
                assert bad.recv(100) == b""  # closed by the server
            assert _exchange(good, read) == H("0001 0000 0005 01 03 02 CAFE")
        # a truncated frame is simply waited for; the rest of it completes it
        good.sendall(read[:5])
        assert _exchange(good, read[5:]) == H("0001 0000 0005 01 03 02 CAFE")
        good.close()
    assert sum(isinstance(e, ModbusFramingError) for e in seen) == len(bad_streams)
