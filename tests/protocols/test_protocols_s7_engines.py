"""Client and server engines talking to each other in-process (no sockets)."""

from __future__ import annotations

from datetime import datetime

import pytest

from incore.protocols.errors import AreaError, PduError, S7Error
from incore.protocols.isotcp import IsoClientSession, IsoData, IsoServerSession
from incore.protocols.s7 import (
    Area,
    ClientError,
    CpuStatus,
    Event,
    MemoryAreaStore,
    PlcState,
    S7ClientProtocol,
    S7ServerProtocol,
    TransportSize,
    Var,
    run,
)
from incore.protocols.s7.constants import EventResult
from incore.protocols.s7.items import decode_data_items
from incore.protocols.s7.pdu import S7Pdu, UserdataData, UserdataParams, decode_pdu

H = bytes.fromhex


def make_pair(max_pdu=480, pdu_request=480, state=None):
    store = MemoryAreaStore()
    for area in (0x81, 0x82, 0x83, 0x1C, 0x1D):
        store.register(area, 0, 256)
    store.register(Area.DB, 1, bytearray(i & 0xFF for i in range(2048)))
    events: list[tuple] = []
    server = S7ServerProtocol(store, max_pdu=max_pdu, on_event=events.append, state=state)
    client = S7ClientProtocol(pdu_request=pdu_request)
    requests: list[bytes] = []

    def exchange(request: bytes) -> bytes:
        requests.append(request)
        return server.handle(request)

    assert run(client.setup_communication(), exchange) == min(max_pdu, pdu_request)
    return client, server, store, events, exchange, requests


def test_read_of_900_bytes_is_split_by_the_negotiated_pdu():
    client, _, store, _, ex, requests = make_pair()
    requests.clear()
    assert run(client.read_area(Area.DB, 1, 5, 900), ex) == bytes(store.areas[(Area.DB, 1)][5:905])
    assert len(requests) == 2  # 462 + 438 bytes at PDU 480


def test_large_write_is_split_and_lands_in_the_store():
    client, _, store, _, ex, requests = make_pair(max_pdu=240, pdu_request=240)
    requests.clear()
    payload = bytes(range(256)) * 3
    run(client.write_area(Area.DB, 1, 100, payload), ex)
    assert bytes(store.areas[(Area.DB, 1)][100:868]) == payload
    assert len(requests) == 4  # 212 bytes per request at PDU 240


@pytest.mark.parametrize("area", [Area.PE, Area.PA, Area.MK, Area.DB, Area.TM, Area.CT])
def test_every_area_round_trips(area):
    client, _, store, _, ex, _ = make_pair()
    db = 1 if area == Area.DB else 0
    amount = 3
    width = 2 if area in (Area.TM, Area.CT) else 1
    data = bytes(range(10, 10 + amount * width))
    run(client.write_area(area, db, 4, data), ex)
    assert run(client.read_area(area, db, 4, amount), ex) == data
    offset = 8 if area in (Area.TM, Area.CT) else 4  # timer/counter N sits at byte 2N
    assert bytes(store.areas[(area, db)][offset : offset + len(data)]) == data


def test_bits_and_typed_reads():
    client, _, store, _, ex, _ = make_pair()
    run(client.write_area(Area.MK, 0, 10 * 8 + 3, b"\x01", TransportSize.BIT), ex)
    assert store.areas[(Area.MK, 0)][10] == 0x08
    assert run(client.read_area(Area.MK, 0, 10 * 8 + 3, 1, TransportSize.BIT), ex) == b"\x01"
    assert run(client.read_area(Area.MK, 0, 10 * 8 + 2, 1, TransportSize.BIT), ex) == b"\x00"
    run(client.write_area(Area.DB, 1, 0, H("3F800000 40000000"), TransportSize.REAL), ex)
    assert run(client.read_area(Area.DB, 1, 0, 2, TransportSize.REAL), ex) == H("3F800000 40000000")
    assert run(client.read_area(Area.DB, 1, 0, 1, TransportSize.INT), ex) == H("3F80")


class RecordingStore(MemoryAreaStore):
    """A memory store that logs each call: (method, start, size or bit, the request item)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def read(self, area, index, start, size, *, spec=None):
        self.calls.append(("read", start, size, spec))
        return super().read(area, index, start, size)

    def write(self, area, index, start, data, *, spec=None):
        self.calls.append(("write", start, len(data), spec))
        super().write(area, index, start, data)

    def write_bit(self, area, index, start, bit, value, *, spec=None):
        self.calls.append(("write_bit", start, bit, spec))
        super().write_bit(area, index, start, bit, value)


def test_a_bit_write_is_one_store_step_and_every_access_carries_its_item():
    """The store, not the engine, read-modify-writes a bit: one call it can make atomic (and
    one readWrite call in resourceless mode); each call carries the item as the client asked."""
    store = RecordingStore()
    store.register(Area.MK, 0, bytearray(b"\xff" * 16))
    store.register(Area.TM, 0, 16)
    server, client = S7ServerProtocol(store), S7ClientProtocol()
    run(client.setup_communication(), server.handle)
    run(client.write_area(Area.MK, 0, 10 * 8 + 3, b"\x00", TransportSize.BIT), server.handle)
    assert store.areas[(Area.MK, 0)][9:12] == b"\xff\xf7\xff"  # only that bit cleared
    run(client.write_area(Area.MK, 0, 2, H("0102 0304"), TransportSize.WORD), server.handle)
    assert run(client.read_area(Area.TM, 0, 3, 2), server.handle) == bytes(4)
    assert [call[:3] for call in store.calls] == [
        ("write_bit", 10, 3),
        ("write", 2, 4),
        ("read", 6, 4),
    ]
    assert [(s.address, s.count, s.transport_size) for *_, s in store.calls] == [
        (83, 1, TransportSize.BIT),
        (16, 2, TransportSize.WORD),
        (3, 2, TransportSize.TIMER),
    ]


def test_missing_db_is_item_not_available_with_context():
    client, _, _, events, ex, _ = make_pair()
    with pytest.raises(S7Error) as info:
        run(client.read_area(Area.DB, 42, 10, 4), ex)
    assert info.value.code == ClientError.ItemNotAvailable
    assert info.value.text == "CPU:Item not available." and "DB42 offset 10" in str(info.value)
    assert events[-1] == (Event.DataRead, EventResult.ErrAreaNotFound, Area.DB, 42, 10, 4)
    with pytest.raises(S7Error) as info:
        run(client.read_area(Area.DB, 1, 2040, 16), ex)
    assert info.value.code == ClientError.AddressOutOfRange


def test_multi_var_read_and_write_with_item_errors():
    client, _, store, _, ex, _ = make_pair()
    results = run(
        client.write_multi(
            [
                Var(Area.DB, 1, 0, 3, data=b"abc"),
                Var(Area.DB, 9, 0, 1, data=b"z"),
                Var(Area.MK, 0, 1, 1, TransportSize.WORD, data=b"\x12\x34"),
            ]
        ),
        ex,
    )
    assert [r.error for r in results] == [0, ClientError.ItemNotAvailable, 0]
    results = run(
        client.read_multi(
            [
                Var(Area.DB, 1, 0, 3),
                Var(Area.DB, 9, 0, 1),
                Var(Area.MK, 0, 1, 1, TransportSize.WORD),
            ]
        ),
        ex,
    )
    assert [(r.error, r.data) for r in results] == [
        (0, b"abc"),
        (ClientError.ItemNotAvailable, b""),
        (0, b"\x12\x34"),
    ]
    with pytest.raises(S7Error) as info:
        _ = client.read_multi([Var(Area.DB, 1, i) for i in range(21)]).request
    assert info.value.code == ClientError.TooManyItems
    with pytest.raises(S7Error) as info:
        run(client.read_multi([Var(Area.DB, 1, 0, 300), Var(Area.DB, 1, 300, 300)]), ex)
    assert info.value.code == ClientError.SizeOverPDU


def test_server_enforces_pdu_and_item_limits():
    _, server, _, events, _, _ = make_pair(max_pdu=240)
    spec = H("12 0A 10 02 01 00 00 01 84 00 00 00")  # 256 bytes of DB1 > PDU 240
    reply = decode_pdu(server.handle(S7Pdu(1, 7, H("04 01") + spec).encode()))
    assert (reply.rosctr, reply.pdu_ref, reply.error) == (2, 7, 0x8500)
    assert events[-1][1] == EventResult.ErrOverPDU
    many = bytes((0x04, 21)) + H("12 0A 10 02 00 01 00 01 84 00 00 00") * 21
    assert decode_pdu(server.handle(S7Pdu(1, 8, many).encode())).error == 0x8104


def test_unknown_job_and_python_snap7_cpu_state_probe():
    _, server, _, events, _, _ = make_pair()
    reply = decode_pdu(server.handle(S7Pdu(1, 9, H("99 00 00 00")).encode()))  # no such job
    assert (reply.rosctr, reply.error, reply.params, reply.data) == (2, 0x8104, b"", b"")
    assert events[-1][:2] == (Event.PDUincoming, EventResult.CannotHandlePDU)
    probe = decode_pdu(server.handle(H("32 01 00 00 00 0A 00 01 00 00 04")))
    assert (probe.rosctr, probe.pdu_ref, probe.error, probe.params) == (3, 10, 0, b"\x04\x00")


def test_server_refuses_non_requests_and_malformed_pdus():
    _, server, _, events, _, _ = make_pair()
    with pytest.raises(PduError):
        server.handle(H("32 03 00 00 00 01 00 00 00 00 00 00"))
    with pytest.raises(PduError):
        server.handle(H("32 01 00 00 00 01 00 0E 00 00 04 01 12"))
    assert events[-1][:2] == (Event.PDUincoming, EventResult.MalformedPDU)


def test_cpu_state_stop_and_starts_with_events():
    state = PlcState()
    client, server, _, events, ex, _ = make_pair(state=state)
    assert run(client.get_cpu_state(), ex) == CpuStatus.RUN
    run(client.plc_stop(), ex)
    assert state.cpu_status == server.cpu_status == CpuStatus.STOP
    assert run(client.get_cpu_state(), ex) == CpuStatus.STOP
    run(client.plc_hot_start(), ex)
    assert run(client.get_cpu_state(), ex) == CpuStatus.RUN
    run(client.plc_stop(), ex)
    run(client.plc_cold_start(), ex)
    assert state.cpu_status == CpuStatus.RUN
    controls = [e[2] for e in events if e[0] == Event.Control]
    assert controls == [3, 2, 3, 1]  # stop, warm start, stop, cold start


def test_clock_is_injectable_and_settable():
    fixed = datetime(2030, 6, 15, 12, 0, 0)
    state = PlcState(clock=lambda: fixed)
    client, _, _, events, ex, _ = make_pair(state=state)
    assert run(client.get_clock(), ex) == fixed
    run(client.set_clock(datetime(2031, 1, 1, 0, 0, 1, 250000)), ex)
    assert run(client.get_clock(), ex) == datetime(2031, 1, 1, 0, 0, 1, 250000)
    assert [e[2] for e in events if e[0] == Event.Clock] == [1, 2, 1]


def test_legacy_8_byte_clock_set_switches_the_connection_to_8_byte_reads():
    _, server, _, _, _, _ = make_pair()
    params = UserdataParams(0x11, 4, 7, 2).encode()
    data = UserdataData(0xFF, 0x09, H("00 29 02 03 04 05 06 01")).encode()
    reply = decode_pdu(server.handle(S7Pdu(7, 3, params, data).encode()))
    assert UserdataParams.decode(reply.params).error == 0 and reply.data == H("0A 00 00 00")
    reply = decode_pdu(
        server.handle(
            S7Pdu(7, 4, UserdataParams(0x11, 4, 7, 1).encode(), H("0A 00 00 00")).encode()
        )
    )
    assert UserdataData.decode(reply.data).payload[:7] == H("00 29 02 03 04 05 06")
    bad = UserdataData(0xFF, 0x09, H("00 19 29 13 03 04 05 06 00 01")).encode()
    reply = decode_pdu(server.handle(S7Pdu(7, 5, params, bad).encode()))
    assert UserdataParams.decode(reply.params).error == 0xDC01


def test_szl_answers_are_fragmented_at_small_pdu_and_reassembled():
    client, _, _, events, ex, requests = make_pair(max_pdu=240, pdu_request=240)
    requests.clear()
    info = run(client.get_cpu_info(), ex)  # 246-byte answer > 214 per fragment
    assert info.serial_number == "S C-INCORE000001" and info.module_type_name == "CPU 315-2 PN/DP"
    assert len(requests) == 2
    assert run(client.get_order_code(), ex).version == (3, 2, 6)
    assert run(client.get_cp_info(), ex).max_pdu == 240
    assert run(client.get_protection(), ex).sch_schal == 1
    assert 0x0424 in run(client.read_szl_ids(), ex)
    with pytest.raises(S7Error) as info_err:
        run(client.read_szl(0x0D91, 0), ex)
    assert info_err.value.code == ClientError.ItemNotAvailable
    assert events[-1][:4] == (Event.ReadSZL, EventResult.InvalidSZL, 0x0D91, 0)


def test_python_snap7_index_0_layouts():
    _, server, _, _, _, _ = make_pair()
    for szl_id, words in ((0x0131, 4), (0x0232, 5)):
        params = UserdataParams(0x11, 4, 4, 1).encode()
        data = UserdataData(0xFF, 0x09, szl_id.to_bytes(2, "big") + b"\x00\x00").encode()
        payload = UserdataData.decode(
            decode_pdu(server.handle(S7Pdu(7, 1, params, data).encode())).data
        ).payload
        assert len(payload) == 4 + 2 * words


def test_client_rejects_wrong_pdu_reference_and_garbage():
    client, server, _, _, _, _ = make_pair()
    op = client.read_area(Area.DB, 1, 0, 4)
    reply = bytearray(server.handle(op.request))
    reply[5] ^= 0xFF
    with pytest.raises(S7Error) as info:
        op.feed(bytes(reply))
    assert info.value.code == ClientError.InvalidPlcAnswer
    op = client.get_cpu_state()
    with pytest.raises(S7Error) as info:
        op.feed(b"\x32\x07garbage")
    assert info.value.code == ClientError.InvalidPlcAnswer
    with pytest.raises(S7Error):
        op.feed(b"")


def test_pipelined_requests_are_answered_in_order_through_the_iso_layer():
    store = MemoryAreaStore()
    store.register(Area.DB, 1, bytearray(range(256)))
    server_iso, client_iso = IsoServerSession(), IsoClientSession()
    engine = S7ServerProtocol(store)
    client_iso.connect()
    server_iso.receive_data(client_iso.data_to_send())
    client_iso.receive_data(server_iso.data_to_send())
    engine.handle(S7ClientProtocol().setup_communication().request)
    proto = S7ClientProtocol()
    proto.pdu_size = 480
    ops = [proto.read_area(Area.DB, 1, n * 10, 4) for n in range(4)]
    for op in ops:
        client_iso.send_pdu(op.request)
    for event in server_iso.receive_data(client_iso.data_to_send()):  # all four arrive in one chunk
        server_iso.send_pdu(engine.handle(event.payload))
    replies = [
        e.payload
        for e in client_iso.receive_data(server_iso.data_to_send())
        if isinstance(e, IsoData)
    ]
    for n, (op, reply) in enumerate(zip(ops, replies)):
        assert op.feed(reply) is None and op.result == bytes(range(n * 10, n * 10 + 4))


def test_store_errors_become_item_codes():
    class Faulty(MemoryAreaStore):
        def read(self, area, index, start, size, *, spec=None):
            if area == Area.PE:
                raise RuntimeError("bug in the store")
            if area == Area.PA:
                raise AreaError(0x03)
            return super().read(area, index, start, size)

    store = Faulty()
    engine = S7ServerProtocol(store)
    specs = H("12 0A 10 02 00 01 00 00 81 00 00 00") + H("12 0A 10 02 00 01 00 00 82 00 00 00")
    reply = decode_pdu(engine.handle(S7Pdu(1, 1, H("04 02") + specs).encode()))
    assert [i.return_code for i in decode_data_items(reply.data, 2, response=True)] == [0x01, 0x03]


def test_write_checks_size_and_transport_size():
    _, server, _, _, _, _ = make_pair()
    spec = H("12 0A 10 02 00 02 00 01 84 00 00 00")
    for data, code in (
        (H("00 04 00 08 AA"), 0x07),
        (H("00 0C 00 10 AA BB"), 0x06),
        (H("00 04 00 10 AA BB"), 0xFF),
    ):
        reply = decode_pdu(server.handle(S7Pdu(1, 2, H("05 01") + spec, data).encode()))
        assert reply.data == bytes((code,))
    timer_as_bytes = H("12 0A 10 02 00 02 00 00 1D 00 00 00")
    reply = decode_pdu(
        server.handle(S7Pdu(1, 3, H("05 01") + timer_as_bytes, H("00 04 00 10 AA BB")).encode())
    )
    assert reply.data == b"\x05"


def test_szl_follow_up_in_the_short_4_byte_form_is_accepted():
    _, server, _, _, _, _ = make_pair(max_pdu=240, pdu_request=240)
    first = UserdataParams(0x11, 4, 4, 1).encode()
    reply = decode_pdu(
        server.handle(S7Pdu(7, 1, first, UserdataData(0x0A, 0, H("001C 0000")).encode()).encode())
    )
    params = UserdataParams.decode(reply.params)
    assert params.last_data_unit == 1 and params.sequence != 0
    part1 = UserdataData.decode(reply.data).payload
    follow = UserdataParams(0x11, 4, 4, 1, params.sequence).encode()  # older python-snap7 style
    reply = decode_pdu(server.handle(S7Pdu(7, 2, follow, H("0A 00 00 00")).encode()))
    assert UserdataParams.decode(reply.params).last_data_unit == 0
    whole = part1 + UserdataData.decode(reply.data).payload
    assert whole[:8] == H("001C 0000 0022 0007") and len(whole) == 8 + 7 * 34
    stale = decode_pdu(server.handle(S7Pdu(7, 3, follow, H("0A 00 00 00")).encode()))
    assert UserdataParams.decode(stale.params).error == 0xD402
