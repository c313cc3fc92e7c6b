"""TcpServer against bad peers: silent, hoarding, idle and stalled clients, refusals.

Each test has a well-behaved client as well, which must be served throughout.
"""

from __future__ import annotations

import queue
import select
import socket
import threading
import time

import pytest
from crowd import burst_connect, close_all, closed_by_peer
from transport_helpers import WAIT, Echo, LogWatch, client, read_eof, recv_exactly

from incore.transport.server.hub import EVICT_AGE
from incore.transport.sockets import SendTimeoutError
from incore.transport.tcp_server import Connection, TcpServer

HANDSHAKE = 0.5  # seconds
SLACK = 0.6  # how late a timeout may act on a loaded 2-CPU machine


class Greeter(Echo):
    """A protocol whose handshake is a b"hello": then established; echoes everything."""

    def data_received(self, data: bytes) -> None:
        if data.startswith(b"hello"):
            self.conn.mark_established()
        super().data_received(data)


def greet(sock: socket.socket, text: bytes = b"hello") -> None:
    sock.sendall(text)
    assert recv_exactly(sock, len(text)) == text


def test_silent_connections_are_closed_at_the_handshake_timeout_while_a_client_is_served():
    with (
        LogWatch() as logs,
        TcpServer(Greeter, host="127.0.0.1", name="shy", handshake_timeout=HANDSHAKE) as server,
    ):
        with client(server.address) as good:
            greet(good)
            started = time.monotonic()
            silent = burst_connect(server.address, 100, WAIT)
            try:
                greet(good, b"hello again")
                first, last = closed_by_peer(silent, WAIT)
            finally:
                close_all(silent)
            assert HANDSHAKE <= first - started and last - started < HANDSHAKE + SLACK
            greet(good, b"still here")  # established: the handshake timeout is not for it
            assert server.connection_count == 1
    assert logs.having("do not complete their handshake within 0.5 s") == [
        m for m in logs.messages if "handshake within" in m
    ]  # one line for all hundred
    (summary,) = logs.having("at the handshake timeout")
    assert "closed 100 connection(s)" in summary


def test_at_max_connections_a_newcomer_takes_the_place_of_a_silent_connection():
    with (
        LogWatch() as logs,
        TcpServer(
            Greeter, host="127.0.0.1", name="full", max_connections=20, handshake_timeout=30
        ) as server,
    ):
        started = time.monotonic()
        silent = burst_connect(server.address, 20, WAIT)
        try:
            deadline = started + WAIT
            while True:  # refused until the silent ones are EVICT_AGE old, then admitted
                with client(server.address) as newcomer:
                    try:
                        greet(newcomer)
                    except (ConnectionError, AssertionError):
                        assert time.monotonic() < deadline, "never admitted"
                        continue
                    admitted = time.monotonic()
                    greet(newcomer, b"served")
                    assert server.connection_count == 20
                    break
            assert EVICT_AGE <= admitted - started < EVICT_AGE + SLACK
            readable, _, _ = select.select(silent, [], [], WAIT)  # the FIN came first
            readable, _, _ = select.select(silent, [], [], 0)
            assert len(readable) == 1 and readable[0].recv(1) == b""
        finally:
            close_all(silent)
    assert len(logs.having("closing connections that have not completed")) == 1


def test_refusals_are_logged_once_per_episode_with_a_count():
    rejected: queue.SimpleQueue = queue.SimpleQueue()
    with (
        LogWatch() as logs,
        TcpServer(
            Echo, host="127.0.0.1", name="busy", max_connections=2, on_rejected=rejected.put
        ) as server,
    ):
        held = [client(server.address) for _ in range(2)]
        for sock in held:
            greet(sock, b"x")
        for _ in range(30):
            with client(server.address) as extra:
                assert read_eof(extra)
        summary = logs.wait_for("refused 30 connection(s)")  # after a quiet spell
        assert len(logs.having("max_connections=2 reached")) == 1 and len(summary) == 1
        for _ in range(5):  # a second episode
            with client(server.address) as extra:
                assert read_eof(extra)
        # on_rejected runs after the close a client sees, so wait for each call
        peers = [rejected.get(timeout=5.0) for _ in range(35)]
        assert len(peers) == 35 and rejected.empty()
        for sock in held:
            greet(sock, b"served throughout")
            sock.close()
    assert len(logs.having("max_connections=2 reached")) == 2
    assert len(logs.having("refused 5 connection(s)")) == 1  # logged by stop()


class BigSender(Echo):
    """On b"flood", sends one frame of FRAME bytes and reports how that ended."""

    FRAME = 32 * 1024 * 1024
    outcome: queue.SimpleQueue

    def data_received(self, data: bytes) -> None:
        if data != b"flood":
            return super().data_received(data)
        started = time.monotonic()
        try:
            self.conn.send(bytes(self.FRAME))
            self.outcome.put((None, time.monotonic() - started))
        except OSError as exc:
            self.outcome.put((exc, time.monotonic() - started))


def test_a_reader_that_trickles_is_dropped_at_the_send_deadline_with_one_log_line():
    """A peer that takes a kilobyte now and then restarts the kernel's send timeout with
    every byte; the deadline is for the whole send."""
    outcome: queue.SimpleQueue = queue.SimpleQueue()
    handler = type("B", (BigSender,), {"outcome": outcome})
    io_timeout = 0.5
    with (
        LogWatch() as logs,
        TcpServer(handler, host="127.0.0.1", name="stall", io_timeout=io_timeout) as server,
    ):
        with client(server.address) as slow, client(server.address) as good:
            port = slow.getsockname()[1]
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stop = threading.Event()
            trickle = threading.Thread(target=read_slowly, args=(slow, stop))
            slow.sendall(b"flood")
            trickle.start()
            try:
                error, took = outcome.get(timeout=WAIT)
            finally:
                stop.set()
                trickle.join(WAIT)
            assert isinstance(error, SendTimeoutError), error
            assert io_timeout <= took < io_timeout + SLACK
            greet(good, b"alive")
    (line,) = logs.having("dropped")
    assert f"127.0.0.1:{port}" in line and "within 0.5 s" in line, line


def read_slowly(sock: socket.socket, stop: threading.Event) -> None:
    """Take a kilobyte every 20 ms until told to stop or the server closes."""
    sock.settimeout(WAIT)
    while not stop.wait(0.02):
        try:
            if not sock.recv(1024):
                return
        except OSError:
            return


def test_an_idle_connection_is_closed_at_the_idle_timeout():
    idle = 0.3
    with (
        LogWatch() as logs,
        TcpServer(Echo, host="127.0.0.1", name="idle", idle_timeout=idle) as server,
    ):
        quiet = burst_connect(server.address, 1, WAIT)
        try:
            quiet[0].setblocking(True)
            quiet[0].settimeout(WAIT)
            greet(quiet[0], b"once")
            spoke = time.monotonic()
            quiet[0].setblocking(False)
            _, closed = closed_by_peer(quiet, WAIT)
        finally:
            close_all(quiet)
        assert idle <= closed - spoke < idle + SLACK
    assert len(logs.having("idle for 0.3 s")) == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"io_timeout": 0},
        {"handshake_timeout": -1},
        {"workers": 0},
        {"workers": 9, "max_workers": 8},
        {"linger": float("inf")},
    ],
)
def test_bad_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        TcpServer(Echo, **bad)


def test_connection_send_from_outside_a_server_has_no_deadline_trouble() -> None:
    """A Connection made by hand (as tests of handlers do) sends like any other."""
    a, b = socket.socketpair()
    with a, b:
        conn = Connection(a, ("local", 0), 1)
        conn.send(b"ping")
        assert b.recv(4) == b"ping"
        conn.close()
        assert conn.closed
