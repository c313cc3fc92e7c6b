"""TcpServer with TLS: handshakes on the workers, refusals logged and closed, plaintext handlers.

Peers are python's own `ssl` sockets and our ClientWorker (a TlsStream) on 127.0.0.1; the
certificates are made at test time (see test_tls_contexts.py for why). Each refusal test
keeps a good client connected and served throughout.
"""

from __future__ import annotations

import queue
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from test_tls_contexts import Certs, certificates
from transport_helpers import WAIT, Echo, LogWatch, LoopThread, read_eof, recv_exactly
from waiting import until

from incore.transport.link_stream import BlockingStream
from incore.transport.sockets import SendTimeoutError
from incore.transport.tcp_client import ClientWorker
from incore.transport.tcp_server import Connection, TcpServer, TlsConnection
from incore.transport.tls import client_context, server_context

HANDSHAKE = 0.5  # seconds
SLACK = 0.6  # how late a timeout may act on a loaded 2-CPU machine


@pytest.fixture
def certs() -> Certs:
    return certificates()


def tls_server(certs: Certs, handler=Echo, *, mutual: bool = False, **kwargs) -> TcpServer:
    context = server_context(certs.server, certs.server_key, certs.ca, mutual=mutual)
    return TcpServer(handler, host="127.0.0.1", name="tls", ssl_context=context, **kwargs)


def tls_client(
    address: tuple[str, int], context: ssl.SSLContext, hostname: str = "127.0.0.1"
) -> ssl.SSLSocket:
    """Python's own TLS client, handshake done."""
    raw = socket.create_connection(address, timeout=WAIT)
    return context.wrap_socket(raw, server_hostname=hostname)


def echoes(sock: socket.socket, text: bytes) -> None:
    sock.sendall(text)
    assert recv_exactly(sock, len(text)) == text


class Recorder(Echo):
    """Echo, noting each connection's peer certificate as the handler factory saw it."""

    seen: queue.SimpleQueue = queue.SimpleQueue()

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        Recorder.seen.put((conn, conn.peer_certificate()))


class Greeted(Echo):
    """A protocol whose handshake is its first bytes: then established (with a handshake
    timeout of its own, the server leaves that to the protocol)."""

    def data_received(self, data: bytes) -> None:
        self.conn.mark_established()
        super().data_received(data)


def test_echo_over_tls_with_our_client_worker(certs: Certs, loop: LoopThread):
    payload = bytes(range(256)) * 800  # 200 KiB: many records, split across reads
    with tls_server(certs) as server:
        worker = ClientWorker("tls-client", loop.post, io_timeout=WAIT)
        try:
            peer = worker.connect(
                *server.address, timeout=WAIT, ssl_context=client_context(certs.ca)
            ).result(WAIT)
            assert peer == server.address

            def exchange(stream: BlockingStream) -> tuple[bytes, bytes]:
                stream.send(b"hello")
                small = stream.recv_exactly(5)
                stream.send(payload)
                return small, stream.recv_exactly(len(payload))

            small, big = worker.submit(exchange).result(WAIT)
            assert small == b"hello" and big == payload
            (conn,) = server.connections()
            assert isinstance(conn, TlsConnection)
            assert conn.tls_version() in ("TLSv1.2", "TLSv1.3")
            assert conn.peer_certificate() is None  # no client certificate was asked for
        finally:
            assert worker.shutdown(WAIT)


def test_python_ssl_client_and_a_handler_that_closes_says_goodbye(certs: Certs):
    class Closer(Echo):
        def data_received(self, data: bytes) -> None:
            if data == b"bye":
                self.conn.close()
            else:
                super().data_received(data)

    with tls_server(certs, Closer) as server:
        with tls_client(server.address, ssl.create_default_context(cafile=certs.ca)) as sock:
            echoes(sock, b"over TLS")
            sock.sendall(b"bye")
            assert sock.recv(10) == b""  # an orderly end
        with tls_client(server.address, client_context(certs.ca)) as sock:
            echoes(sock, b"the server still serves")


def test_mutual_tls_accepts_a_client_certificate_from_the_ca(certs: Certs):
    Recorder.seen = queue.SimpleQueue()
    with tls_server(certs, Recorder, mutual=True) as server:
        context = client_context(certs.ca, certs.client, certs.client_key)
        with tls_client(server.address, context) as sock:
            echoes(sock, b"mutual")
            conn, cert = Recorder.seen.get(timeout=WAIT)
            assert dict(x[0] for x in cert["subject"])["commonName"] == "incore test client"
            assert conn.established  # no handshake timeout of its own: TLS's counts


def test_a_client_certificate_from_another_ca_is_refused_and_logged_while_others_are_served(
    certs: Certs,
):
    errors: queue.SimpleQueue = queue.SimpleQueue()
    good_context = client_context(certs.ca, certs.client, certs.client_key)
    stranger_context = client_context(certs.ca, certs.stranger, certs.stranger_key)
    anonymous_context = client_context(certs.ca)
    with (
        LogWatch() as logs,
        tls_server(
            certs, mutual=True, on_tls_error=lambda peer, exc: errors.put((peer, exc))
        ) as server,
        tls_client(server.address, good_context) as good,
    ):
        echoes(good, b"before")
        for context in (stranger_context, stranger_context, anonymous_context):
            with pytest.raises((ssl.SSLError, ConnectionError)):
                # TLS 1.3: the client's handshake ends before the server checked its
                # certificate, so the refusal (an alert, then the close) comes on the read
                with tls_client(server.address, context) as refused:
                    refused.sendall(b"let me in")
                    assert refused.recv(10) == b""
                    raise ConnectionError("closed")
            echoes(good, b"still served")
        for _ in range(3):
            peer, exc = errors.get(timeout=WAIT)
            assert peer[0] == "127.0.0.1" and isinstance(exc, ssl.SSLError)
        first = logs.wait_for("TLS handshake refused")
        assert len(first) == 1 and "certificate" in first[0], logs.messages  # once: an episode
        assert server.connection_count == 1
    assert logs.having("refused 3 TLS handshake(s) for their certificate")


def test_a_plaintext_client_is_refused_at_once_and_a_silent_one_at_the_handshake_timeout(
    certs: Certs,
):
    with (
        LogWatch() as logs,
        tls_server(certs, Greeted, handshake_timeout=HANDSHAKE) as server,
        tls_client(server.address, client_context(certs.ca)) as good,
    ):
        echoes(good, b"hello")
        started = time.monotonic()
        with socket.create_connection(server.address, timeout=WAIT) as plain:
            plain.sendall(b"\x68\x04\x07\x00\x00\x00")  # IEC 104 STARTDT act, in the clear
            assert read_eof(plain)
            assert time.monotonic() - started < HANDSHAKE  # refused, not timed out
        assert "TLS handshake failed" in logs.wait_for("TLS handshake failed")[0]
        with socket.create_connection(server.address, timeout=WAIT) as silent:
            started = time.monotonic()
            echoes(good, b"served meanwhile")
            assert read_eof(silent)
            assert HANDSHAKE - 0.05 <= time.monotonic() - started < HANDSHAKE + SLACK
        logs.wait_for("do not complete their handshake within 0.5 s")
        echoes(good, b"still served")  # established long ago: not timed out


def partial_client_hello(certs: Certs) -> bytes:
    """The first bytes of a real ClientHello: a client that stalls mid-handshake."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_context(certs.ca).wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    return hello[: len(hello) // 2]


def test_stalled_handshakes_hold_no_worker_and_are_closed_at_the_handshake_timeout(certs: Certs):
    stalled: list[socket.socket] = []
    with (
        LogWatch() as logs,
        tls_server(certs, Greeted, handshake_timeout=HANDSHAKE, workers=2, max_workers=2) as server,
    ):
        try:
            for _ in range(20):  # ten times the workers there are
                sock = socket.create_connection(server.address, timeout=WAIT)
                sock.sendall(partial_client_hello(certs))
                stalled.append(sock)
            started = time.monotonic()
            with tls_client(server.address, client_context(certs.ca)) as good:
                echoes(good, b"served past 20 stalled handshakes")
                assert time.monotonic() - started < HANDSHAKE  # not after they timed out
                assert len(server.threads()) <= 3
                for sock in stalled:
                    assert read_eof(sock)
                echoes(good, b"and after")
        finally:
            for sock in stalled:
                sock.close()
    (summary,) = logs.having("at the handshake timeout")
    assert "closed 20 connection(s)" in summary


def test_two_hundred_tls_clients_at_once_with_a_bounded_thread_count(certs: Certs):
    context = client_context(certs.ca)
    count = 200
    with tls_server(certs, max_workers=8) as server:
        with ThreadPoolExecutor(8) as pool:
            socks = list(pool.map(lambda _: tls_client(server.address, context), range(count)))
        try:
            # the last handshakes' handlers are made on the workers
            assert until(lambda: server.connection_count >= count, WAIT)
            assert server.connection_count == count
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda s: echoes(s, b"ping %d" % s.fileno()), socks))
            assert len(server.threads()) <= 1 + 8
        finally:
            for sock in socks:
                sock.close()


def test_a_client_that_stops_reading_is_dropped_at_the_send_deadline(certs: Certs):
    conns: queue.SimpleQueue[Connection] = queue.SimpleQueue()

    class Keep(Echo):
        def __init__(self, conn: Connection) -> None:
            super().__init__(conn)
            conns.put(conn)

    with LogWatch() as logs, tls_server(certs, Keep, io_timeout=0.5) as server:
        with tls_client(server.address, client_context(certs.ca)) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            conn = conns.get(timeout=WAIT)
            chunk = b"x" * 65536
            started = time.monotonic()
            with pytest.raises(SendTimeoutError):
                while time.monotonic() - started < WAIT:
                    conn.send(chunk)  # from this thread, as an application would
            assert time.monotonic() - started < 0.5 + SLACK + 0.5
            assert conn.closed
        logs.wait_for("it did not take a 65536-byte send within 0.5 s")


def test_pushes_from_another_thread_interleave_with_echoes_record_by_record(certs: Certs):
    conns: queue.SimpleQueue[Connection] = queue.SimpleQueue()

    class Keep(Echo):
        def __init__(self, conn: Connection) -> None:
            super().__init__(conn)
            conns.put(conn)

    rounds = 300
    with tls_server(certs, Keep) as server:
        with tls_client(server.address, client_context(certs.ca)) as sock:
            conn = conns.get(timeout=WAIT)
            pusher = threading.Thread(target=lambda: [conn.send(b"P") for _ in range(rounds)])
            pusher.start()
            got = bytearray()
            for _ in range(rounds):
                sock.sendall(b"e")
                got += sock.recv(4096)
            pusher.join(WAIT)
            while len(got) < 2 * rounds:
                got += sock.recv(4096)
            assert sorted(got) == sorted(b"P" * rounds + b"e" * rounds)


def test_idle_timeout_and_handler_timers_work_over_tls(certs: Certs):
    class Ticker(Echo):
        """Sends b"tick" at its deadline, once."""

        def __init__(self, conn: Connection) -> None:
            super().__init__(conn)
            self.due: float | None = time.monotonic() + 0.2

        def deadline(self) -> float | None:
            return self.due

        def timer_expired(self, now: float) -> None:
            self.due = None
            self.conn.send(b"tick")

    with tls_server(certs, Ticker, idle_timeout=0.8) as server:
        with tls_client(server.address, client_context(certs.ca)) as sock:
            started = time.monotonic()
            assert recv_exactly(sock, 4) == b"tick"
            assert 0.15 <= time.monotonic() - started < 0.2 + SLACK
            assert read_eof(sock)  # then silence until the idle timeout
            assert time.monotonic() - started < 0.8 + 0.2 + SLACK
