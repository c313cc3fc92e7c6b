"""TPKT, COTP and the ISO sessions, from the worked bytes of s7comm.md §8 on."""

from __future__ import annotations

import pytest

from incore.protocols.errors import CotpError, ProtocolError, SessionError, TpktError
from incore.protocols.isotcp import (
    ConnectionConfirm,
    ConnectionRequest,
    DataTransfer,
    DisconnectConfirm,
    DisconnectRequest,
    DtReassembler,
    IsoClientSession,
    IsoConnected,
    IsoData,
    IsoDisconnected,
    IsoServerSession,
    IsoState,
    TpktDecoder,
    decode_tpdu,
    encode_tpkt,
    tsap,
    tsap_to_int,
)

H = bytes.fromhex
CR_FRAME = H("03 00 00 16 11 E0 00 00 00 01 00 C1 02 01 00 C2 02 01 02 C0 01 0A")
CC_MINIMAL = H("03 00 00 0E 09 D0 00 01 00 01 00 C0 01 0A")
SETUP_JOB = H("03 00 00 19 02 F0 80 32 01 00 00 00 00 00 08 00 00 F0 00 00 01 00 01 01 E0")


def test_tpkt_encode_and_decode_worked_example():
    decoder = TpktDecoder()
    assert decoder.feed(CR_FRAME) == [CR_FRAME[4:]]
    assert encode_tpkt(CR_FRAME[4:]) == CR_FRAME


def test_tpkt_decoder_is_incremental():
    decoder = TpktDecoder()
    stream = CR_FRAME + SETUP_JOB + CC_MINIMAL
    frames = []
    for byte in stream:
        frames += decoder.feed(bytes((byte,)))
    assert frames == [CR_FRAME[4:], SETUP_JOB[4:], CC_MINIMAL[4:]]
    assert decoder.buffered == 0
    assert decoder.feed(SETUP_JOB[:5]) == [] and decoder.buffered == 5


@pytest.mark.parametrize(
    "bad", [H("04 00 00 07 02 F0 80"), H("03 00 00 06 02 F0"), H("03 00 00 00")]
)
def test_tpkt_rejects_bad_version_and_short_length_for_good(bad):
    decoder = TpktDecoder()
    with pytest.raises(TpktError):
        decoder.feed(bad)
    with pytest.raises(TpktError):  # framing is lost: the decoder stays failed
        decoder.feed(SETUP_JOB)


def test_tpkt_encode_refuses_oversize():
    with pytest.raises(TpktError):
        encode_tpkt(bytes(70000))


def test_cr_decodes_worked_example_and_reencodes_identically():
    cr = decode_tpdu(CR_FRAME[4:])
    assert cr == ConnectionRequest(
        src_ref=1, dst_ref=0, tpdu_size=0x0A, calling_tsap=b"\x01\x00", called_tsap=b"\x01\x02"
    )
    assert tsap_to_int(cr.called_tsap) == (1 << 8) | (0 << 5) | 2
    assert cr.tpdu_bytes == 1024
    assert cr.encode() == CR_FRAME[4:]


def test_minimal_cc_without_tsaps():
    cc = decode_tpdu(CC_MINIMAL[4:])
    assert isinstance(cc, ConnectionConfirm)
    assert (cc.dst_ref, cc.src_ref, cc.tpdu_size, cc.calling_tsap) == (1, 1, 0x0A, None)
    assert encode_tpkt(cc.encode()) == CC_MINIMAL


def test_text_tsap_and_routing_params_as_python_snap7_sends_them():
    # python-snap7 set_routing(subnet 0x0011, rack 0, slot 3) to a gateway at rack 0 slot 2
    raw = (
        H("1B E0 00 00 00 01 00 C1 02 01 00 C2 10")
        + b"SIMATIC-ROOT-HMI"
        + H("C0 01 0A C6 02 00 11 C7 02 01 03")
    )
    raw = bytes((len(raw) - 1,)) + raw[1:]
    cr = decode_tpdu(raw)
    assert cr.called_tsap == b"SIMATIC-ROOT-HMI" and tsap_to_int(cr.called_tsap) is None
    assert (cr.subnet_id, cr.routing_tsap) == (0x0011, 0x0103)
    assert decode_tpdu(cr.encode()) == cr


def test_unknown_params_are_skipped_by_length():
    raw = H("0F E0 00 00 00 07 00 C9 03 AA BB CC C2 02 01 02 C0 01 09")
    raw = bytes((len(raw) - 1,)) + raw[1:]
    cr = decode_tpdu(raw)
    assert (cr.src_ref, cr.called_tsap, cr.tpdu_size) == (7, b"\x01\x02", 0x09)


@pytest.mark.parametrize(
    "raw",
    [
        H("08 E0 00 00 00 01 00 C1 05 01"),  # parameter runs past LI
        H("06 E0 00 00"),  # LI beyond the TPDU
        H("05 E0 00 00 00 01"),  # LI too small for CR
        H("02 70 00"),  # ER TPDU: not supported
        H("01 F0"),  # DT LI too small
        H("05 80 00 01 00 01"),  # DR LI too small
        H("F0"),
    ],
)
def test_malformed_tpdus_raise_cotp_error(raw):
    with pytest.raises(CotpError):
        decode_tpdu(raw)


def test_dr_with_trailing_byte_and_dc():
    dr = decode_tpdu(H("06 80 00 01 00 01 00 00"))  # python-snap7 adds one byte after the reason
    assert dr == DisconnectRequest(1, 1, 0)
    assert decode_tpdu(DisconnectConfirm(2, 3).encode()) == DisconnectConfirm(2, 3)
    assert decode_tpdu(H("05 C0 00 01 00 01")) == DisconnectConfirm(1, 1)


def test_dt_eot_flag_and_reassembly_cap():
    assert decode_tpdu(H("02 F0 00 AA")) == DataTransfer(b"\xaa", eot=False)
    assert decode_tpdu(H("02 F0 80 BB")) == DataTransfer(b"\xbb", eot=True)
    joiner = DtReassembler(max_size=8)
    assert joiner.feed(DataTransfer(b"abc", eot=False)) is None
    assert joiner.feed(DataTransfer(b"def", eot=True)) == b"abcdef"
    joiner.feed(DataTransfer(b"12345", eot=False))
    with pytest.raises(CotpError):
        joiner.feed(DataTransfer(b"6789", eot=False))
    assert joiner.pending == 0


def test_tsap_helpers():
    assert tsap(0x0102) == b"\x01\x02" and tsap("SIMATIC-ROOT-HMI") == b"SIMATIC-ROOT-HMI"
    with pytest.raises(ValueError):
        tsap(0x10000)


def _connected_pair(**client_kwargs):
    client = IsoClientSession(**client_kwargs)
    server = IsoServerSession()
    client.connect()
    events = server.receive_data(client.data_to_send())
    assert isinstance(events[0], IsoConnected)
    events = client.receive_data(server.data_to_send())
    assert isinstance(events[0], IsoConnected)
    return client, server


def test_client_cr_matches_worked_example_and_server_echoes_tsaps():
    client = IsoClientSession(local_tsap=0x0100, remote_tsap=0x0102, tpdu_size=1024)
    client.connect()
    assert client.data_to_send() == CR_FRAME
    server = IsoServerSession()
    server.receive_data(CR_FRAME)
    cc = decode_tpdu(server.data_to_send()[4:])
    assert isinstance(cc, ConnectionConfirm)
    assert (cc.dst_ref, cc.tpdu_size, cc.calling_tsap, cc.called_tsap) == (
        1,
        0x0A,
        b"\x01\x00",
        b"\x01\x02",
    )
    assert server.state is IsoState.CONNECTED and server.tpdu_size == 1024


def test_server_caps_tpdu_size_and_client_adopts_cc_value():
    client = IsoClientSession(tpdu_size=8192)
    server = IsoServerSession(max_tpdu_size=512)
    client.connect()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    assert server.tpdu_size == client.tpdu_size == 512


def test_data_round_trip_with_fragmentation_both_ways():
    client, server = _connected_pair(tpdu_size=128)
    pdu = bytes(range(256)) * 2
    client.send_pdu(pdu)
    wire = client.data_to_send()
    assert wire.count(b"\x02\xf0\x00") >= 4  # several DTs without EOT
    assert server.receive_data(wire) == [IsoData(pdu)]
    server.send_pdu(pdu[:100])
    server.send_pdu(pdu[:7])
    assert client.receive_data(server.data_to_send()) == [IsoData(pdu[:100]), IsoData(pdu[:7])]


def test_disconnect_request_is_confirmed_and_closes():
    client, server = _connected_pair()
    client.disconnect()
    assert server.receive_data(client.data_to_send()) == [IsoDisconnected(0)]
    assert isinstance(decode_tpdu(server.data_to_send()[4:]), DisconnectConfirm)
    assert server.state is IsoState.CLOSED
    with pytest.raises(SessionError):
        server.send_pdu(b"\x32")


@pytest.mark.parametrize("first", [DataTransfer(b"\x32"), DisconnectConfirm(), ConnectionConfirm()])
def test_server_requires_cr_first(first):
    with pytest.raises(SessionError):
        IsoServerSession().receive_data(encode_tpkt(first.encode()))


def test_client_reports_refusal_and_unexpected_tpdus():
    client = IsoClientSession()
    client.connect()
    with pytest.raises(SessionError):
        client.receive_data(encode_tpkt(DisconnectRequest(1, 1, 0x03).encode()))
    client = IsoClientSession()
    client.connect()
    with pytest.raises(SessionError):
        client.receive_data(encode_tpkt(DataTransfer(b"x").encode()))
    with pytest.raises(SessionError):
        IsoClientSession().send_pdu(b"x")


def test_server_tsap_filter_refuses_with_dr():
    server = IsoServerSession(accept=lambda cr: cr.called_tsap == b"\x01\x02")
    with pytest.raises(SessionError):
        server.receive_data(
            encode_tpkt(ConnectionRequest(called_tsap=0x0103, tpdu_size=0x0A).encode())
        )
    assert isinstance(decode_tpdu(server.data_to_send()[4:]), DisconnectRequest)
    assert issubclass(SessionError, ProtocolError)


def test_second_cr_is_an_error():
    client, server = _connected_pair()
    with pytest.raises(SessionError):
        server.receive_data(encode_tpkt(ConnectionRequest().encode()))
