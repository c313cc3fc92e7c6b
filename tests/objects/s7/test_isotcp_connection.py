"""ISOTCPConnection (python-snap7's connection API) against both peer servers and our engine."""

from __future__ import annotations

import time

import pytest
from test_s7_client_support import (
    WAIT,
    c_peer,
    closed_port,
    harness,
    peer,
    py_peer,  # noqa: F401
    silent_listener,
    snap7c,
)

from incore.objects.s7 import ISOTCPConnection, S7ConnectionError, S7TimeoutError, TPDUSize
from incore.protocols.isotcp import ConnectionRequest, decode_tpdu
from incore.protocols.s7 import Area, S7ClientProtocol, run
from incore.protocols.s7.constants import ClientError


def s7_call(conn: ISOTCPConnection, protocol: S7ClientProtocol, operation):
    """Drive an engine operation with the connection's send_data/receive_data."""

    def exchange(request: bytes) -> bytes:
        conn.send_data(request)
        assert conn.data_available(timeout=WAIT)
        return conn.receive_data()

    return run(operation, exchange)


def test_connect_exchange_pdus_and_disconnect(peer):
    protocol = S7ClientProtocol()
    with ISOTCPConnection("127.0.0.1", peer.port, local_tsap=0x0100, remote_tsap=0x0102) as conn:
        assert not conn.connected and not conn.check_connection()
        conn.connect(timeout=WAIT)
        assert conn.connected and conn.check_connection()
        assert conn.negotiated_tpdu_size == 1024
        assert not conn.data_available()  # nothing asked, nothing there
        assert s7_call(conn, protocol, protocol.setup_communication()) == 480
        s7_call(conn, protocol, protocol.write_area(Area.DB, 1, 8, b"\xca\xfe"))
        assert s7_call(conn, protocol, protocol.read_area(Area.DB, 1, 8, 2)) == b"\xca\xfe"
        assert peer.memory(Area.DB, 1)[8:10] == b"\xca\xfe"
    assert not conn.connected and not conn.check_connection()
    with pytest.raises(S7ConnectionError) as info:
        conn.send_data(b"\x32")
    assert info.value.code == ClientError.ConnectError and "not connected" in str(info.value)


def test_text_remote_tsap_routing_and_small_tpdus_are_reassembled(harness):
    conn = ISOTCPConnection(
        "127.0.0.1",
        harness.port,
        local_tsap=0x1000,
        remote_tsap=b"SIMATIC-ROOT-HMI",
        tpdu_size=TPDUSize.S_256,
    )
    conn.set_routing(0x0011, 0, 3)
    conn.connect(timeout=WAIT)
    try:
        protocol = S7ClientProtocol()
        s7_call(conn, protocol, protocol.setup_communication())
        data = s7_call(conn, protocol, protocol.read_area(Area.DB, 1, 0, 400))  # answer > 256
        assert data == bytes(i & 0xFF for i in range(400))
        assert conn.negotiated_tpdu_size == 256
    finally:
        conn.disconnect()
    request = harness.sessions[-1].request
    assert (request.calling_tsap, request.called_tsap) == (b"\x10\x00", b"SIMATIC-ROOT-HMI")
    assert (request.subnet_id, request.routing_tsap, request.tpdu_size) == (0x0011, 0x0103, 0x08)
    first = harness.conversations[-1][0][2]
    assert isinstance(decode_tpdu(first[4:]), ConnectionRequest)  # the CR went out as one frame
    with pytest.raises(ValueError):
        conn.set_routing(1, 8, 0)


def test_refused_and_silent_peers_fail_within_the_timeout():
    with pytest.raises(S7ConnectionError) as info:
        ISOTCPConnection("127.0.0.1", closed_port()).connect(timeout=WAIT)
    assert info.value.code == ClientError.ConnectError
    assert str(info.value).startswith("ISO: Connection error. (127.0.0.1:")
    listener = silent_listener()
    try:
        conn = ISOTCPConnection("127.0.0.1", listener.getsockname()[1])
        started = time.monotonic()
        with pytest.raises(S7TimeoutError) as info:
            conn.connect(timeout=0.3)
        assert 0.25 < time.monotonic() - started < WAIT
        assert info.value.code == ClientError.ConnectError
        assert "no connection confirm within 0.3 s" in str(info.value)
        assert not conn.connected
    finally:
        listener.close()


def test_a_peer_that_goes_away_is_noticed(py_peer):
    conn = ISOTCPConnection("127.0.0.1", py_peer.port)
    conn.connect(timeout=WAIT)
    py_peer.stop()
    deadline = time.monotonic() + WAIT
    while conn.check_connection() and time.monotonic() < deadline:
        conn.data_available(timeout=0.05)  # waits for the FIN, no sleeping
    assert not conn.connected
    with pytest.raises(S7ConnectionError):
        conn.receive_data()


def test_receive_data_times_out_and_reports_it(harness):
    conn = ISOTCPConnection("127.0.0.1", harness.port)
    conn.connect(timeout=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(S7TimeoutError) as info:
            conn.receive_data()  # nothing was asked
        assert info.value.code == ClientError.JobTimeout
        assert time.monotonic() - started < WAIT
        assert not conn.connected  # the stream's state is unknown after a timeout
    finally:
        conn.disconnect()
