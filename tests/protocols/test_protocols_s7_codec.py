"""S7 PDU, item, clock and SZL codecs against the worked bytes of s7comm.md."""

from __future__ import annotations

from datetime import datetime

import pytest

from incore.protocols.errors import PduError
from incore.protocols.s7 import (
    Area,
    ClientError,
    Event,
    ReturnCode,
    Rosctr,
    TransportSize,
    client_error_text,
    cpu_error,
    event_text,
    szl,
)
from incore.protocols.s7.clock import (
    decode_clock,
    encode_clock,
    encode_date_and_time,
    encode_legacy_clock,
    s7_weekday,
)
from incore.protocols.s7.constants import EventResult
from incore.protocols.s7.items import (
    DataItem,
    ItemSpec,
    decode_data_items,
    decode_item_specs,
    encode_data_items,
    encode_item_specs,
)
from incore.protocols.s7.pdu import (
    S7Pdu,
    SetupCommunication,
    UserdataData,
    UserdataParams,
    decode_pdu,
    decode_setup,
    encode_setup,
)

H = bytes.fromhex
SETUP_JOB = H("32 01 00 00 00 00 00 08 00 00 F0 00 00 01 00 01 01 E0")
SETUP_ACK = H("32 03 00 00 00 00 00 08 00 00 00 00 F0 00 00 01 00 01 01 E0")
READ_JOB = H("32 01 00 00 01 00 00 0E 00 00 04 01 12 0A 10 02 00 04 00 01 84 00 00 50")
READ_ACK = H("32 03 00 00 01 00 00 02 00 08 00 00 04 01 FF 04 00 20 12 34 56 78")
READ_MISSING = H("32 03 00 00 01 00 00 02 00 04 00 00 04 01 0A 00 00 00")


def test_setup_communication_job_and_reply():
    job = decode_pdu(SETUP_JOB)
    assert (job.rosctr, job.pdu_ref, job.data) == (Rosctr.JOB, 0, b"")
    assert decode_setup(job.params) == SetupCommunication(1, 1, 480)
    reply = S7Pdu(Rosctr.ACK_DATA, 0, encode_setup(SetupCommunication(1, 1, 480)))
    assert reply.encode() == SETUP_ACK and len(reply) == len(SETUP_ACK)


def test_read_request_worked_example():
    job = decode_pdu(READ_JOB)
    assert job.pdu_ref == 0x0100
    [spec] = decode_item_specs(job.params)
    assert spec == ItemSpec(Area.DB, 1, 0x50, 4, TransportSize.BYTE)
    assert (spec.byte_offset, spec.bit, spec.byte_length) == (10, 0, 4)
    assert spec == ItemSpec.for_access(Area.DB, 1, 10, 4, TransportSize.BYTE)
    assert encode_item_specs(0x04, [spec]) == job.params
    assert S7Pdu(Rosctr.JOB, 0x0100, job.params).encode() == READ_JOB


def test_read_response_worked_example_and_missing_db():
    ack = decode_pdu(READ_ACK)
    assert (ack.rosctr, ack.error, ack.params) == (Rosctr.ACK_DATA, 0, b"\x04\x01")
    assert decode_data_items(ack.data, 1, response=True) == [DataItem(0xFF, 0x04, H("12 34 56 78"))]
    assert (
        S7Pdu(
            Rosctr.ACK_DATA,
            0x0100,
            b"\x04\x01",
            encode_data_items([DataItem(0xFF, 4, H("12345678"))]),
        ).encode()
        == READ_ACK
    )
    missing = S7Pdu(
        Rosctr.ACK_DATA, 0x0100, b"\x04\x01", encode_data_items([DataItem(0x0A, 0, b"")])
    ).encode()
    assert missing == READ_MISSING and len(missing) + 7 == 0x19


def test_db1_dbx10_3_address():
    assert ItemSpec.for_access(Area.DB, 1, 10 * 8 + 3, 1, TransportSize.BIT).encode()[-3:] == H(
        "00 00 53"
    )


@pytest.mark.parametrize(
    "raw",
    [
        H("32 01 00 00"),
        H("33 01 00 00 00 00 00 00 00 00"),
        H("32 05 00 00 00 00 00 00 00 00"),
        SETUP_JOB + b"\x00",
        SETUP_JOB[:-1],
        H("32 03 00 00 00 00 00 00 00 00 00"),
    ],
)
def test_decode_pdu_rejects_malformed(raw):
    with pytest.raises(PduError):
        decode_pdu(raw)


def test_data_item_length_rules_and_fill_bytes():
    items = [
        DataItem(0xFF, 0x03, b"\x01", 1),  # BIT: length in bits, 1
        DataItem(0xFF, 0x04, b"\xaa\xbb\xcc"),  # BYTE: 24 bits, odd -> fill byte
        DataItem(0xFF, 0x07, b"\x00\x00\x80\x3f"),  # REAL: length in bytes
        DataItem(0xFF, 0x09, b"\x01\x02\x03"),  # octet string: bytes, last item -> no fill
    ]
    wire = encode_data_items(items)
    assert wire == H(
        "FF 03 00 01 01 00  FF 04 00 18 AA BB CC 00  FF 07 00 04 00 00 80 3F  FF 09 00 03 01 02 03"
    )
    assert decode_data_items(wire, 4, response=True) == items
    # snap7-C: a failed item claims 4 bytes but carries none
    assert decode_data_items(H("0A 00 00 04 FF 04 00 08 07"), 2, response=True) == [
        DataItem(0x0A, 0, b""),
        DataItem(0xFF, 4, b"\x07"),
    ]
    with pytest.raises(PduError):
        decode_data_items(H("FF 04 00 20 01 02"), 1, response=True)
    with pytest.raises(PduError):
        decode_data_items(wire + b"\x00\x00", 4, response=True)


def test_item_spec_errors():
    with pytest.raises(PduError):
        decode_item_specs(H("04 02") + H("12 0A 10 02 00 04 00 01 84 00 00 50"))
    with pytest.raises(PduError):
        decode_item_specs(H("04 01 11 0A 10 02 00 04 00 01 84 00 00 50"))
    with pytest.raises(PduError):
        ItemSpec(Area.DB, 1, 1 << 24).encode()


def test_userdata_params_request_and_response():
    req = H("00 01 12 04 11 47 01 00")
    p = UserdataParams.decode(req)
    assert (p.method, p.kind, p.group, p.subfunction, p.sequence, p.long_form) == (
        0x11,
        4,
        7,
        1,
        0,
        False,
    )
    assert p.encode() == req
    resp = H("00 01 12 08 12 87 01 05 05 01 D4 02")
    r = UserdataParams.decode(resp)
    assert (r.sequence, r.data_unit_ref, r.last_data_unit, r.error, r.long_form) == (
        5,
        5,
        1,
        0xD402,
        True,
    )
    assert r.encode() == resp
    with pytest.raises(PduError):
        UserdataParams.decode(H("00 01 12 08 12 87 01 00"))
    assert UserdataData.decode(H("FF 09 00 02 AB CD")) == UserdataData(0xFF, 0x09, H("AB CD"))
    assert UserdataData.null_ack().encode() == H("0A 00 00 00")
    with pytest.raises(PduError):
        UserdataData.decode(H("FF 09 00 05 AB"))


def test_clock_records():
    moment = datetime(2026, 11, 22, 13, 45, 59, 123000)  # a Sunday
    assert s7_weekday(moment) == 1
    assert encode_clock(moment) == H("00 20 26 11 22 13 45 59 12 31")
    assert encode_clock(moment, century=0x19)[:2] == H("00 19")
    assert decode_clock(encode_clock(moment)) == moment
    assert decode_clock(H("00 19 99 12 31 23 59 58 00 07")) == datetime(1999, 12, 31, 23, 59, 58)
    assert encode_legacy_clock(moment) == H("00 26 11 22 13 45 59 07")
    assert decode_clock(encode_legacy_clock(moment)) == moment.replace(microsecond=0)
    assert encode_date_and_time(moment) == H("26 11 22 13 45 59 12 31")
    for bad in (
        H("00 20 26 13 22 13 45 59 12 31"),
        H("00 20 2A 11 22 13 45 59 12 31"),
        H("00 20"),
        H("00 20 26 11 22 13 45 59 12 F1"),
    ):
        with pytest.raises(PduError):
            decode_clock(bad)
    with pytest.raises(ValueError):
        encode_clock(datetime(2100, 1, 1))


def test_szl_builders_have_the_layouts_clients_read():
    ident = szl.Identity(as_name="PLANT-7", serial_number="S X-123", firmware_version=(4, 5, 6))
    data = szl.szl_0011(ident)
    assert data[:4] == H("00 1C 00 03") and len(data) == 4 + 3 * 28
    assert data[6:26] == b"6ES7 315-2EH14-0AB0 " and data[-3:] == bytes((4, 5, 6))
    cpu = szl.szl_001c(ident)
    assert cpu[:4] == H("00 22 00 07")
    assert (
        cpu[6:13] == b"PLANT-7"
        and cpu[142:149] == b"S X-123"
        and cpu[176:191] == b"CPU 315-2 PN/DP"
    )
    assert cpu[108:134].rstrip(b"\x00") == b"Original Siemens Equipment"
    cp = szl.szl_0131(ident, 1, 480)
    assert cp[:4] == H("00 28 00 01") and cp[6:8] == H("01 E0") and cp[8:10] == H("00 20")
    assert szl.szl_0131(ident, 0, 480) is None and szl.szl_0232(ident, 1) is None
    assert szl.szl_0232(ident, 4)[4:16] == H("00 04 00 01 00 00 00 01 00 02 00 00")
    state = szl.szl_0424(0x04, datetime(2026, 1, 2, 3, 4, 5))
    assert (
        state[:4] == H("00 14 00 01")
        and state[7] == 0x04
        and state[16:22] == H("26 01 02 03 04 05")
    )
    assert szl.szl_0000()[:4] == H("00 02 00 08")


def test_szl_parsers_accept_standard_and_python_snap7_layouts():
    ident = szl.Identity()
    full = szl.SzlList(0x0011, 0, szl.szl_0011(ident))
    assert szl.parse_order_code(full) == szl.OrderCode("6ES7 315-2EH14-0AB0", (3, 2, 6))
    py_0011 = H("00 1A 00 01 00 01") + b"6ES7 315-2EH14-0AB0\x00" + H("00 03 03 00")
    assert szl.parse_order_code(szl.SzlList(0x11, 0, py_0011)).version == (3, 3, 0)
    info = szl.parse_cpu_info(szl.SzlList(0x1C, 0, szl.szl_001c(ident)))
    assert (info.as_name, info.module_type_name, info.copyright) == (
        "INCORE",
        "CPU 315-2 PN/DP",
        "Original Siemens Equipment",
    )
    flat = bytearray(210)
    flat[6:10], flat[176:180] = b"NAME", b"TYPE"
    assert szl.parse_cpu_info(szl.SzlList(0x1C, 0, bytes(flat))).module_type_name == "TYPE"
    assert szl.parse_cp_info(szl.SzlList(0x131, 1, szl.szl_0131(ident, 1, 240))) == szl.CpInfo(
        240, 32, 187500, 12000000
    )
    assert szl.parse_cp_info(szl.SzlList(0x131, 0, szl.flat_cp_info(ident, 480))).max_pdu == 480
    assert szl.parse_protection(szl.SzlList(0x232, 4, szl.szl_0232(ident, 4))) == szl.Protection(
        1, 0, 1, 2, 0
    )
    assert szl.parse_protection(szl.SzlList(0x232, 0, szl.flat_protection(ident))).sch_schal == 1
    for status, expected in ((0x08, 0x08), (0x04, 0x04), (0x03, 0x04), (0x00, 0x00)):
        assert (
            szl.parse_cpu_state(szl.SzlList(0x424, 0, szl.szl_0424(status, datetime(2026, 1, 1))))
            == expected
        )
    assert szl.parse_szl_ids(szl.SzlList(0, 0, szl.szl_0000())) == list(szl.SERVED_SZL_IDS)
    assert szl.parse_szl_ids(szl.SzlList(0, 0, H("00 00 00 11 00 1C"))) == [0, 0x11, 0x1C]
    with pytest.raises(PduError):
        szl.parse_cpu_state(szl.SzlList(0x424, 0, b""))


def test_error_numbers_texts_and_cpu_error_mapping():
    assert ClientError.ItemNotAvailable == 0x00C00000
    assert client_error_text(ClientError.ItemNotAvailable) == "CPU:Item not available."
    assert client_error_text(ClientError.TooManyItems).startswith("CLI:too may items (>20)")
    assert cpu_error(ReturnCode.OBJECT_DOES_NOT_EXIST) == ClientError.ItemNotAvailable
    assert cpu_error(ReturnCode.ADDRESS_OUT_OF_RANGE) == ClientError.AddressOutOfRange
    assert (
        cpu_error(0x8104) == ClientError.FunNotAvailable
        and cpu_error(0x8500) == ClientError.SizeOverPDU
    )
    assert cpu_error(0x1234) == ClientError.FunctionRefused


def test_event_codes_and_texts():
    assert (
        Event.PDUincoming == 0x00010000
        and Event.Control == 0x04000000
        and Event.ReadSZL == 0x00100000
    )
    assert event_text((Event.DataRead, 0, Area.DB, 1, 10, 4)) == "Read DB1, start 10, size 4: OK"
    assert "area not found" in event_text(
        (Event.DataWrite, EventResult.ErrAreaNotFound, Area.MK, 0, 0, 2)
    )
    assert "0x0424" in event_text((Event.ReadSZL, 0, 0x0424, 0, 0, 0))
    assert "stop" in event_text((Event.Control, 0, 3, 0, 0, 0))
    assert "ClientAdded" in event_text((Event.ClientAdded, 0, 0, 0, 0, 0))
