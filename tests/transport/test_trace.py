"""The transport's traffic tap (incore/transport/trace.py) read back by tshark.

Peers are real sockets on 127.0.0.1: our TcpServer and ClientWorker, over TLS too, against
python's own `ssl` where only our end should be traced. The frames are Modbus TCP, so
tshark's dissector says whether what the capture holds is the plaintext, whole and in order.
"""

from __future__ import annotations

import logging
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from pathlib import Path

import pytest
from test_tls_contexts import Certs, certificates
from transport_helpers import WAIT, LoopThread, recv_exactly

from incore.transport import trace
from incore.transport.link_stream import BlockingStream, open_connection
from incore.transport.tcp_client import ClientWorker
from incore.transport.tcp_server import Connection, TcpServer
from incore.transport.tls import client_context, server_context


def request(tid: int) -> bytes:
    """Modbus TCP: read two holding registers from address `tid`."""
    return struct.pack(">HHHBBHH", tid, 0, 6, 1, 3, tid, 2)


def reply(tid: int) -> bytes:
    return struct.pack(">HHHBBBHH", tid, 0, 7, 1, 3, 4, tid, tid + 1)


class Modbus:
    """A server handler that answers `request` with `reply`, whatever the chunks."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 12:
            frame, self.buf = self.buf[:12], self.buf[12:]
            self.conn.send(reply(struct.unpack(">H", frame[:2])[0]))

    def connection_lost(self, exc: BaseException | None) -> None:
        pass


def tshark(capture: Path, display_filter: str, *fields: str) -> list[list[str]]:
    """Rows of `fields` of the frames that match, TCP and IP checksums checked."""
    exe = shutil.which("tshark")
    assert exe, "tshark is required for this test (Debian package 'tshark')"
    args = [exe, "-r", str(capture), "-o", "tcp.check_checksum:TRUE"]
    args += ["-o", "ip.check_checksum:TRUE", "-Y", display_filter, "-T", "fields"]
    for field in fields or ("frame.number",):
        args += ["-e", field]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t") for line in done.stdout.splitlines() if line.strip()]


def assert_clean_modbus(capture: Path, exchanges: int) -> None:
    """Every segment with bytes is Modbus/TCP, nothing is flagged, requests meet replies."""
    assert tshark(capture, "tcp.len > 0 && !mbtcp && !tcp.reassembled_in") == []
    assert tshark(capture, "tls") == []  # plaintext, never the TLS records
    assert tshark(capture, "_ws.malformed || _ws.expert.severity >= warning") == []
    assert len(tshark(capture, "mbtcp && tcp.dstport == 502")) == exchanges
    values = tshark(capture, "mbtcp && tcp.srcport == 502", "modbus.regval_uint16")
    assert [row[0] for row in values] == [f"{t},{t + 1}" for t in range(1, exchanges + 1)]


@pytest.fixture
def certs() -> Certs:
    return certificates()


def test_a_tls_server_connection_is_traced_in_plaintext_with_its_port_replaced(
    tmp_path: Path, certs: Certs
):
    capture = tmp_path / "server.pcapng"
    context = server_context(certs.server, certs.server_key, certs.ca)
    with trace.trace_to(str(capture)) as tracer:
        with TcpServer(Modbus, host="127.0.0.1", name="tls", ssl_context=context) as server:
            port = server.address[1]
            trace.speaks(port, 502, "Modbus/TCP")
            raw = socket.create_connection(server.address, timeout=WAIT)
            with client_context(certs.ca).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                for tid in range(1, 6):  # python's client: only our server end is traced
                    tls.sendall(request(tid))
                    assert recv_exactly(tls, 13) == reply(tid)
    assert tracer.flows == 1 and tracer.dropped_frames == 0
    assert_clean_modbus(capture, 5)
    (comment,) = tshark(capture, "frame.comment", "frame.comment")
    assert f"server port {port} shown as 502, Modbus/TCP" in comment[0]
    assert comment[0].startswith("incore server: 127.0.0.1:")


def serve_python_tls(listener: socket.socket, context: ssl.SSLContext, count: int) -> None:
    """An untraced TLS peer: python's ssl server answering `count` requests."""
    raw, _ = listener.accept()
    with context.wrap_socket(raw, server_side=True) as tls:
        for _ in range(count):
            tid = struct.unpack(">H", recv_exactly(tls, 12)[:2])[0]
            tls.sendall(reply(tid))


def test_a_tls_client_stream_is_traced_in_plaintext(tmp_path: Path, certs: Certs, loop: LoopThread):
    capture = tmp_path / "client.pcap"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    context = server_context(certs.server, certs.server_key, certs.ca)
    peer = threading.Thread(target=serve_python_tls, args=(listener, context, 4))
    peer.start()
    trace.speaks(port, 502)
    worker = ClientWorker("traced", loop.post, io_timeout=WAIT)
    try:
        with trace.trace_to(str(capture)):
            worker.connect("127.0.0.1", port, WAIT, ssl_context=client_context(certs.ca)).result(
                WAIT
            )

            def exchange(stream: BlockingStream) -> None:
                for tid in range(1, 5):
                    stream.send(request(tid))
                    assert stream.recv_exactly(13) == reply(tid)

            worker.submit(exchange).result(WAIT)
            worker.close().result(WAIT)
    finally:
        assert worker.shutdown(WAIT)
        peer.join(WAIT)
        listener.close()
    assert_clean_modbus(capture, 4)
    assert len(tshark(capture, "tcp.flags.fin == 1")) == 2  # the stream's close ends the flow


def test_both_ends_in_this_process_are_recorded_once(tmp_path: Path):
    capture = tmp_path / "echo.pcap"

    class Echo(Modbus):
        def data_received(self, data: bytes) -> None:
            self.conn.send(data)

    with trace.trace_to(str(capture)) as tracer:
        with TcpServer(Echo, host="127.0.0.1", name="echo") as server:
            stream = BlockingStream(open_connection(*server.address, WAIT), WAIT)
            try:
                for n in range(1, 11):
                    stream.send(b"x" * n)
                    assert stream.recv_exactly(n) == b"x" * n
            finally:
                stream.close()
    assert tracer.flows == 1  # the server's end and the client's are one connection
    sizes = [int(row[0]) for row in tshark(capture, "tcp.len > 0", "tcp.len")]
    assert sum(sizes) == 2 * sum(range(1, 11))  # not twice that
    assert len(tshark(capture, "tcp.flags.syn == 1 && tcp.flags.ack == 0")) == 1
    assert tshark(capture, "_ws.malformed || _ws.expert.severity >= warning") == []


def test_a_send_bigger_than_an_ip_packet_is_split_into_segments_in_sequence(tmp_path: Path):
    capture = tmp_path / "big.pcap"
    payload = bytes(range(256)) * 600  # 150 KiB in one send
    with socket.create_server(("127.0.0.1", 0)) as listener:
        with trace.trace_to(str(capture)):
            stream = BlockingStream(open_connection(*listener.getsockname(), WAIT), WAIT)
            accepted, _ = listener.accept()
            reader = threading.Thread(target=recv_exactly, args=(accepted, len(payload)))
            reader.start()
            try:
                stream.send(payload)
                reader.join(WAIT)
            finally:
                stream.close()
                accepted.close()
    sizes = [int(row[0]) for row in tshark(capture, "tcp.len > 0", "tcp.len")]
    assert sizes == [65_000, 65_000, len(payload) - 130_000]
    assert tshark(capture, "_ws.malformed || _ws.expert.severity >= warning") == []


def test_a_full_buffer_drops_records_counts_them_logs_them_and_leaves_a_visible_gap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    capture = tmp_path / "full.pcap"
    caplog.set_level(logging.WARNING, "incore.trace")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        with trace.trace_to(str(capture), buffer_bytes=500) as tracer:
            trace.speaks(listener.getsockname()[1], 502)
            sock = open_connection(*listener.getsockname(), WAIT)
            accepted, _ = listener.accept()
            stream = BlockingStream(sock, WAIT)
            try:
                stream.send(request(1) * 50)  # 600 bytes: more than the buffer holds
                stream.send(request(51))
                recv_exactly(accepted, 612)
            finally:
                stream.close()
                accepted.close()
    assert (tracer.dropped_frames, tracer.dropped_bytes) == (1, 600)
    warnings = [r.getMessage() for r in caplog.records]
    assert any("records are dropped" in text for text in warnings), warnings
    assert any("1 records were not written" in text for text in warnings), warnings
    assert tshark(capture, "tcp.analysis.lost_segment")  # Wireshark shows where bytes are missing
    assert tshark(capture, "modbus.reference_num == 51")  # what followed the gap is intact


def test_off_costs_a_none_per_connection_and_only_one_trace_runs_at_a_time(tmp_path: Path):
    assert trace.active() is None
    with socket.create_server(("127.0.0.1", 0)) as listener:
        stream = BlockingStream(open_connection(*listener.getsockname(), WAIT), WAIT)
        assert stream._flow is None
        stream.close()
    with trace.trace_to(str(tmp_path / "a.pcap")):
        with pytest.raises(RuntimeError, match="already runs"):
            trace.start(str(tmp_path / "b.pcap"))
    assert trace.active() is None
    with pytest.raises(OSError):
        trace.start(str(tmp_path / "missing" / "c.pcap"))
    assert trace.active() is None
