"""Modbus codecs (incore/protocols/modbus): MBAP framing, request PDUs and the decoding of
their answers, bit packing, the in-memory store, and the client engine's matching of
answers to requests by transaction id."""

from __future__ import annotations

import pytest

from incore.protocols.contract import Framing, PduReceived, StreamEngine
from incore.protocols.errors import FramingError, ProtocolError
from incore.protocols.modbus import (
    MbapDecoder,
    MbapFrame,
    MbapFraming,
    MemoryStore,
    ModbusClientProtocol,
    ModbusException,
    ModbusFramingError,
    ModbusPduError,
    ModbusServerProtocol,
    Table,
    frame_adu,
    pack_bits,
    unpack_bits,
)
from incore.protocols.modbus import pdu as P
from incore.protocols.stack import Stack

H = bytes.fromhex


def test_engines_have_the_contract_shape():
    assert isinstance(MbapFraming(), Framing)
    for engine in (MbapFraming(), ModbusServerProtocol(MemoryStore()), ModbusClientProtocol()):
        assert isinstance(engine, StreamEngine)
        assert engine.next_deadline() is None and engine.handle_timer(1.0) == []
    assert issubclass(ModbusFramingError, FramingError)
    assert issubclass(ModbusPduError, ProtocolError) and issubclass(ModbusException, ProtocolError)


def test_mbap_decoder_splits_pipelined_frames_and_keeps_a_partial_one():
    decoder = MbapDecoder()
    one = H("0001 0000 0006 11 03 006B 0003")
    two = H("0002 0000 0003 FF 07 00")
    assert decoder.feed(one + two + one[:3]) == [(1, 0x11, one[7:]), (2, 0xFF, H("0700"))]
    assert not decoder.idle
    assert decoder.feed(one[3:]) == [(1, 0x11, one[7:])]
    assert decoder.idle


@pytest.mark.parametrize(
    "header",
    [
        "0001 0001 0006 01",
        "0001 FFFF 0006 01",
        "0001 0000 0000 01",
        "0001 0000 0001 01",
        "0001 0000 00FF 01",
        "0001 0000 FFFF 01",
    ],
)
def test_mbap_decoder_refuses_what_is_not_a_modbus_header(header):
    decoder = MbapDecoder()
    with pytest.raises(ModbusFramingError):
        decoder.feed(H(header) + bytes(3))
    with pytest.raises(ModbusFramingError):  # and stays failed
        decoder.feed(H("0001 0000 0002 01 03"))


def test_mbap_decoder_takes_the_longest_and_shortest_frames():
    decoder = MbapDecoder()
    longest = frame_adu(1, 1, bytes(253))
    assert len(longest) == 260
    assert decoder.feed(longest + frame_adu(2, 1, b"\x2b")) == [(1, 1, bytes(253)), (2, 1, b"\x2b")]


def test_mbap_framing_events_and_answers_in_order():
    framing = MbapFraming()
    events = framing.receive_data(frame_adu(5, 9, b"\x03\x00") + frame_adu(6, 8, b"\x04"))
    assert events == [MbapFrame(b"\x03\x00", 5, 9), MbapFrame(b"\x04", 6, 8)]
    assert isinstance(events[0], PduReceived)
    framing.send_pdu(b"\x83\x02")
    framing.send_pdu(b"\x84\x02")
    framing.send_pdu(b"\x01", tid=77, unit=3)
    assert framing.data_to_send() == frame_adu(5, 9, H("8302")) + frame_adu(6, 8, H("8402")) + (
        frame_adu(77, 3, b"\x01")
    )
    with pytest.raises(ModbusFramingError):
        framing.send_pdu(b"\x01")  # nothing left to answer
    with pytest.raises(ModbusFramingError):
        framing.send_pdu(bytes(254), tid=1)


class EchoEngine:
    """A PDU engine that answers each PDU with itself (to try `Stack` on MBAP)."""

    def __init__(self) -> None:
        self.out: list[bytes] = []

    def receive_pdu(self, pdu, now=None):
        self.out.append(pdu)
        return [pdu]

    def pdus_to_send(self):
        out, self.out = self.out, []
        return out

    def next_deadline(self):
        return None

    def handle_timer(self, now):
        return []


def test_mbap_framing_carries_a_pdu_engine_in_a_stack():
    stack = Stack(MbapFraming(), EchoEngine())
    data = frame_adu(1, 2, b"\x08\x00\x00") + frame_adu(2, 3, b"\x2b\x0e")
    assert stack.receive_data(data) == [b"\x08\x00\x00", b"\x2b\x0e"]
    assert stack.data_to_send() == data


def test_bits_pack_first_bit_into_bit_0_and_pad_with_zeros():
    assert pack_bits([1, 0, 1, 1, 0, 0, 1, 1, 1, 0]) == H("CD01")
    assert pack_bits([]) == b""
    assert unpack_bits(H("CD01"), 10) == [
        True,
        False,
        True,
        True,
        False,
        False,
        True,
        True,
        True,
        False,
    ]
    assert unpack_bits(H("FF"), 3) == [True] * 3


def test_request_pdus_byte_for_byte():
    assert P.read_coils(0x13, 0x25).pdu == H("01 0013 0025")
    assert P.read_discrete_inputs(0xC4, 0x16).pdu == H("02 00C4 0016")
    assert P.read_holding_registers(0x6B, 3).pdu == H("03 006B 0003")
    assert P.read_input_registers(8, 1).pdu == H("04 0008 0001")
    assert P.write_single_coil(0xAC, True).pdu == H("05 00AC FF00")
    assert P.write_single_coil(0xAC, False).pdu == H("05 00AC 0000")
    assert P.write_single_register(1, 3).pdu == H("06 0001 0003")
    assert P.write_multiple_coils(0x13, [1, 0, 1, 1, 0, 0, 1, 1, 1, 0]).pdu == H(
        "0F 0013 000A 02 CD01"
    )
    assert P.write_multiple_registers(1, [0x0A, 0x0102]).pdu == H("10 0001 0002 04 000A 0102")
    assert P.mask_write_register(4, 0xF2, 0x25).pdu == H("16 0004 00F2 0025")
    assert P.read_write_multiple_registers(3, 6, 14, [0xFF] * 3).pdu == H(
        "17 0003 0006 000E 0003 06 00FF 00FF 00FF"
    )
    assert P.diagnostics().pdu == H("08 0000 0000")
    assert P.read_device_identification(1, 0).pdu == H("2B 0E 01 00")


@pytest.mark.parametrize(
    "build",
    [
        lambda: P.read_coils(0, 0),
        lambda: P.read_coils(0, 2001),
        lambda: P.read_discrete_inputs(65535, 2),
        lambda: P.read_holding_registers(0, 126),
        lambda: P.read_input_registers(-1, 1),
        lambda: P.write_single_register(0, 0x10000),
        lambda: P.write_multiple_coils(0, [True] * 1969),
        lambda: P.write_multiple_registers(0, [0] * 124),
        lambda: P.write_multiple_registers(0, []),
        lambda: P.read_write_multiple_registers(0, 1, 0, [0] * 122),
        lambda: P.read_write_multiple_registers(0, 126, 0, [0]),
        lambda: P.mask_write_register(0, 0x10000, 0),
        lambda: P.read_device_identification(5, 0),
        lambda: P.diagnostics(0, bytes(251)),
    ],
)
def test_requests_outside_the_spec_limits_are_the_callers_mistake(build):
    with pytest.raises(ValueError):
        build()


def test_answers_decode_and_exceptions_carry_their_code():
    assert P.read_coils(0, 10).decode(H("01 02 CD01"))[:3] == [True, False, True]
    assert P.read_holding_registers(0, 3).decode(H("03 06 022B 0000 0064")) == [555, 0, 100]
    assert P.write_single_coil(1, True).decode(H("05 0001 FF00")) is None
    assert P.write_multiple_registers(1, [1, 2]).decode(H("10 0001 0002")) is None
    assert P.read_write_multiple_registers(0, 1, 0, [1]).decode(H("17 02 0001")) == [1]
    with pytest.raises(ModbusException) as caught:
        P.read_holding_registers(0, 3).decode(H("83 02"))
    assert (caught.value.code, caught.value.function) == (2, 3)


@pytest.mark.parametrize(
    ("request_", "answer"),
    [
        (P.read_holding_registers(0, 3), H("04 06 022B 0000 0064")),  # another function
        (P.read_holding_registers(0, 3), H("84 02")),  # another function's exception
        (P.read_holding_registers(0, 3), H("83 02 00")),  # exception too long
        (P.read_holding_registers(0, 3), H("03 04 022B 0000")),  # fewer registers
        (P.read_holding_registers(0, 3), H("03 06 022B 0000")),  # count says more
        (P.read_coils(0, 10), H("01 01 CD")),
        (P.read_coils(0, 10), H("01")),
        (P.read_coils(0, 10), b""),
        (P.write_single_coil(1, True), H("05 0001 0000")),  # not the echo
        (P.write_multiple_coils(0, [1, 1]), H("0F 0000 0003")),
        (P.diagnostics(0, H("1234")), H("08 0001 1234")),
        (P.read_device_identification(1, 0), H("2B 0E 02 81 00 00 00")),  # another code
        (P.read_device_identification(1, 0), H("2B 0E 01 81 00 00 01 00 05 41")),  # cut short
        (P.read_device_identification(1, 0), H("2B 0E 01 81 00 00 00 00")),  # trailing byte
        (P.read_device_identification(1, 0), H("2B 0E 01 81 01 00 00")),  # more follows 01
    ],
)
def test_answers_that_do_not_fit_their_request_are_protocol_errors(request_, answer):
    with pytest.raises(ModbusPduError):
        request_.decode(answer)


def test_memory_store_bits_at_any_offset_and_registers_big_endian():
    store = MemoryStore(coils=40)
    store.write_bits(Table.Coil, 3, 11, H("FF07"))
    assert store.read_bits(Table.Coil, 0, 16) == H("F83F")
    store.write_bits(Table.Coil, 5, 3, H("02"))
    assert unpack_bits(store.read_bits(Table.Coil, 0, 16), 16) == [
        i in (3, 4, 6, 8, 9, 10, 11, 12, 13) for i in range(16)
    ]
    assert store.read_bits(Table.Coil, 39, 1) == b"\x00"
    store.write_registers(Table.Holding, 65535, H("1234"))
    assert store.read_registers(Table.Holding, 65534, 2) == H("0000 1234")
    assert [store.size(t) for t in Table] == [65536, 40, 65536, 65536]
    with pytest.raises(ValueError):
        MemoryStore(coils=65537)
    with pytest.raises(ValueError):
        MemoryStore(holding_registers=100, overlaid=True)  # 65536 coils need 4096


def answer_adu(tid: int, unit: int, pdu: bytes) -> bytes:
    return frame_adu(tid, unit, pdu)


def test_client_matches_answers_by_transaction_id_in_any_order():
    client = ModbusClientProtocol(max_pending=3, first_tid=0xFFFE)
    first = client.send(P.read_holding_registers(0, 1), unit=1)
    second = client.send(P.read_coils(0, 3), unit=1)
    third = client.send(P.write_single_register(0, 5))
    assert (first, second, third) == (0xFFFE, 0xFFFF, 0)  # wraps
    assert not client.can_send
    with pytest.raises(RuntimeError):
        client.send(P.read_coils(0, 1))
    sent = client.data_to_send()
    assert sent[:12] == H("FFFE 0000 0006 01 03 0000 0001")
    replies = client.receive_data(
        answer_adu(0, 255, H("06 0000 0005"))
        + answer_adu(0xFFFE, 1, H("03 02 ABCD"))
        + answer_adu(0xFFFF, 1, H("81 02"))
    )
    assert [(r.tid, r.result) for r in replies] == [(0, None), (0xFFFE, [0xABCD]), (0xFFFF, None)]
    assert replies[2].error.code == 2 and not replies[2].ok and replies[1].ok
    assert replies[1].pdu == H("03 02 ABCD")
    assert client.pending == [] and client.can_send


def test_client_drops_and_counts_answers_to_unknown_or_cancelled_requests():
    client = ModbusClientProtocol()
    tid = client.send(P.read_holding_registers(0, 1))
    assert client.cancel(tid) and not client.cancel(tid)  # timed out
    late = answer_adu(tid, 255, H("03 02 0001"))
    fresh = client.send(P.read_holding_registers(5, 1))
    assert fresh != tid
    assert client.receive_data(late + answer_adu(999, 255, H("03 02 0002"))) == []
    assert client.stale == 2
    (reply,) = client.receive_data(answer_adu(fresh, 255, H("03 02 0003")))
    assert reply.result == [3]


def test_client_refuses_a_mismatched_function_or_unit():
    client = ModbusClientProtocol()
    tid = client.send(P.read_holding_registers(0, 1))
    with pytest.raises(ModbusPduError):
        client.receive_data(answer_adu(tid, 255, H("04 02 0001")))
    client = ModbusClientProtocol()
    tid = client.send(P.read_holding_registers(0, 1), unit=3)
    with pytest.raises(ModbusPduError):
        client.receive_data(answer_adu(tid, 4, H("03 02 0001")))
    with pytest.raises(ValueError):
        ModbusClientProtocol(max_pending=0)


def test_client_and_server_engines_talk_in_one_process():
    store = MemoryStore(holding_registers=100)
    server = ModbusServerProtocol(store, identity={0: "incore", 1: "t", 2: "1"})
    client = ModbusClientProtocol(max_pending=8)
    requests = [
        P.write_multiple_registers(10, [1, 2, 3]),
        P.read_holding_registers(10, 3),
        P.write_multiple_coils(0, [True, False, True]),
        P.read_coils(0, 3),
        P.read_device_identification(1, 0),
        P.read_holding_registers(99, 2),
    ]
    for request in requests:
        client.send(request)
    replies = client.receive_data(_through(server, client.data_to_send()))
    assert [r.result for r in replies[:4]] == [None, [1, 2, 3], None, [True, False, True]]
    assert replies[4].result.objects == {0: b"incore", 1: b"t", 2: b"1"}
    assert replies[5].error.code == 2


def _through(server: ModbusServerProtocol, data: bytes) -> bytes:
    server.receive_data(data)
    return server.data_to_send()
