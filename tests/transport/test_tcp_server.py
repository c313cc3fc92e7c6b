"""TcpServer against real sockets on 127.0.0.1."""

from __future__ import annotations

import errno
import queue
import socket
import threading
import time

import pytest
from transport_helpers import WAIT, Echo, client, read_eof, recv_exactly
from waiting import until

from incore.transport.sockets import SendTimeoutError
from incore.transport.tcp_client import BlockingStream
from incore.transport.tcp_server import Connection, ConnectionClosedError, TcpServer


def server_threads(name: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(f"{name}-")]


class Recorder(Echo):
    """Echo that reports connection_lost(exc) to a queue and raises on b"boom"."""

    lost: queue.SimpleQueue

    def data_received(self, data: bytes) -> None:
        if data == b"boom":
            raise ValueError("handler bug")
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.put((self.conn.id, exc))


def recorder_server(lost: queue.SimpleQueue, **kwargs) -> TcpServer:
    handler = type("R", (Recorder,), {"lost": lost})
    return TcpServer(handler, host="127.0.0.1", **kwargs)


def test_start_returns_bound_address_and_reports_state(echo_server: TcpServer) -> None:
    host, port = echo_server.address
    assert host == "127.0.0.1" and port > 0
    assert echo_server.running
    assert echo_server.connection_count == 0


def test_port_in_use_is_a_clear_oserror(echo_server: TcpServer) -> None:
    port = echo_server.address[1]
    second = TcpServer(Echo, host="127.0.0.1", port=port, name="second")
    with pytest.raises(OSError) as info:
        second.start()
    assert info.value.errno == errno.EADDRINUSE
    assert f"127.0.0.1:{port}" in str(info.value) and "second" in str(info.value)
    assert not second.running


def test_echo_with_20_concurrent_clients(echo_server: TcpServer) -> None:
    n_clients, rounds = 20, 30
    counts: list[int] = []  # sampled while every client is surely connected
    all_connected = threading.Barrier(
        n_clients, timeout=WAIT, action=lambda: counts.append(echo_server.connection_count)
    )
    errors: list[BaseException] = []

    def run_client(i: int) -> None:
        try:
            with client(echo_server.address) as sock:
                sock.sendall(b"hello")  # round trip so the server has surely accepted us
                assert recv_exactly(sock, 5) == b"hello"
                all_connected.wait()
                for r in range(rounds):
                    payload = bytes([i]) * (1 + (r * 997) % 20000)
                    sock.sendall(payload)
                    assert recv_exactly(sock, len(payload)) == payload
        except BaseException as exc:
            errors.append(exc)
            all_connected.abort()

    threads = [threading.Thread(target=run_client, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    assert not errors, errors
    assert counts == [n_clients]


def test_handler_error_closes_only_its_connection() -> None:
    lost: queue.SimpleQueue = queue.SimpleQueue()
    server = recorder_server(lost, name="boom")
    server.start()
    try:
        with client(server.address) as good, client(server.address) as bad:
            good.sendall(b"ping")
            assert recv_exactly(good, 4) == b"ping"
            bad.sendall(b"boom")
            assert read_eof(bad)
            _, exc = lost.get(timeout=WAIT)
            assert isinstance(exc, ValueError) and str(exc) == "handler bug"
            assert server.connection_count == 1
            for _ in range(3):
                good.sendall(b"still")
                assert recv_exactly(good, 5) == b"still"
            with client(server.address) as newcomer:  # the server keeps accepting
                newcomer.sendall(b"hi")
                assert recv_exactly(newcomer, 2) == b"hi"
    finally:
        assert server.stop()


def test_failing_handler_factory_closes_that_connection_only() -> None:
    calls = iter([RuntimeError("factory bug")])

    def factory(conn: Connection) -> Echo:
        exc = next(calls, None)
        if exc is not None:
            raise exc
        return Echo(conn)

    with TcpServer(factory, host="127.0.0.1", name="factory") as server:
        with client(server.address) as first:
            assert read_eof(first)
        with client(server.address) as second:
            second.sendall(b"ok")
            assert recv_exactly(second, 2) == b"ok"


def test_max_connections_rejects_and_reports_the_peer() -> None:
    rejected: queue.SimpleQueue = queue.SimpleQueue()
    lost: queue.SimpleQueue = queue.SimpleQueue()
    server = recorder_server(lost, name="max", max_connections=2, on_rejected=rejected.put)
    server.start()
    try:
        a, b = client(server.address), client(server.address)
        for sock in (a, b):
            sock.sendall(b"x")
            assert recv_exactly(sock, 1) == b"x"
        with client(server.address) as extra:
            assert rejected.get(timeout=WAIT) == extra.getsockname()
            assert read_eof(extra)
        assert server.connection_count == 2
        a.close()  # frees a slot
        lost.get(timeout=WAIT)
        with client(server.address) as c:
            c.sendall(b"y")
            assert recv_exactly(c, 1) == b"y"
        assert rejected.empty()
        b.close()
    finally:
        assert server.stop()


def test_server_side_send_and_close_from_another_thread() -> None:
    lost: queue.SimpleQueue = queue.SimpleQueue()
    server = recorder_server(lost, name="push")
    server.start()
    try:
        with client(server.address) as sock:
            sock.sendall(b"x")
            assert recv_exactly(sock, 1) == b"x"
            (conn,) = server.connections()
            assert conn.peer == sock.getsockname() and not conn.closed
            conn.send(b"pushed")
            assert recv_exactly(sock, 6) == b"pushed"
            woken = threading.Event()
            conn.add_close_callback(woken.set)
            conn.close()
            assert woken.is_set() and conn.wait_closed(0)
            assert read_eof(sock)
            assert lost.get(timeout=WAIT) == (conn.id, None)
            with pytest.raises(ConnectionClosedError):
                conn.send(b"late")
    finally:
        assert server.stop()


def test_stop_with_idle_clients_is_prompt_and_joins_everything() -> None:
    lost: queue.SimpleQueue = queue.SimpleQueue()
    server = recorder_server(lost, name="idle")
    server.start()
    socks = [client(server.address) for _ in range(5)]
    for sock in socks:
        sock.sendall(b"x")
        assert recv_exactly(sock, 1) == b"x"
    threads = server_threads("idle")  # the hub and the workers, not one per connection
    assert "idle-hub" in threads and len(threads) <= 1 + 4, threads
    started = time.monotonic()
    assert server.stop(timeout=2.0)
    assert time.monotonic() - started < 1.0
    assert server_threads("idle") == []
    assert not server.running and server.address is None
    assert [lost.get(timeout=WAIT)[1] for _ in socks] == [None] * 5
    for sock in socks:
        assert read_eof(sock)
        sock.close()


def test_stop_wakes_a_handler_blocked_on_its_connection() -> None:
    entered = threading.Event()

    class Blocking(Echo):
        def data_received(self, data: bytes) -> None:
            entered.set()
            self.conn.wait_closed(30)  # e.g. waiting for a lock held by another client

    server = TcpServer(Blocking, host="127.0.0.1", name="blocked")
    server.start()
    with client(server.address) as sock:
        sock.sendall(b"x")
        assert entered.wait(WAIT)
        started = time.monotonic()
        assert server.stop(timeout=2.0)
        assert time.monotonic() - started < 1.0
    assert server_threads("blocked") == []


def test_stop_is_bounded_even_when_a_handler_ignores_it() -> None:
    entered, release = threading.Event(), threading.Event()

    class Stubborn(Echo):
        def data_received(self, data: bytes) -> None:
            entered.set()
            release.wait(WAIT)  # does not watch its connection: cannot be interrupted

    server = TcpServer(Stubborn, host="127.0.0.1", name="stubborn")
    server.start()
    with client(server.address) as sock:
        sock.sendall(b"x")
        assert entered.wait(WAIT)
        started = time.monotonic()
        assert server.stop(timeout=0.3) is False
        assert 0.25 < time.monotonic() - started < 1.0
        assert server_threads("stubborn") == ["stubborn-worker-1"]
        release.set()


def test_restart_on_the_same_port() -> None:
    server = TcpServer(Echo, host="127.0.0.1", name="restart")
    port = server.start()[1]
    with client(server.address) as sock:
        sock.sendall(b"1")
        assert recv_exactly(sock, 1) == b"1"
        assert server.stop()  # the server closes first: its side lingers in TIME_WAIT
    again = TcpServer(Echo, host="127.0.0.1", port=port, name="restart")
    assert again.start() == ("127.0.0.1", port)
    try:
        with client(again.address) as sock:
            sock.sendall(b"2")
            assert recv_exactly(sock, 1) == b"2"
    finally:
        assert again.stop()
    assert server.start()[1] > 0  # a stopped server object can be started again
    assert server.stop()


def test_sockets_have_nodelay() -> None:
    seen: queue.SimpleQueue = queue.SimpleQueue()

    def factory(conn: Connection) -> Echo:
        seen.put(conn._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return Echo(conn)

    with TcpServer(factory, host="127.0.0.1", name="nodelay") as server:
        with client(server.address):
            assert seen.get(timeout=WAIT) != 0


def test_server_connection_send_is_thread_safe() -> None:
    """Many threads pushing frames through one server Connection never interleave them."""
    pushed: queue.SimpleQueue = queue.SimpleQueue()

    def factory(conn: Connection) -> Echo:
        pushed.put(conn)
        return Echo(conn)  # never written to by the client

    with TcpServer(factory, host="127.0.0.1", name="fanout") as server:
        sock = socket.create_connection(server.address, timeout=WAIT)
        stream = BlockingStream(sock, io_timeout=WAIT)
        conn = pushed.get(timeout=WAIT)
        frame_len, per_thread = 1000, 50

        def push(tag: int) -> None:
            for _ in range(per_thread):
                conn.send(bytes([tag]) * frame_len)

        threads = [threading.Thread(target=push, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for _ in range(8 * per_thread):
            frame = stream.recv_exactly(frame_len)
            assert frame == frame[:1] * frame_len
        for t in threads:
            t.join(WAIT)
        stream.close()


class Flooder(Recorder):
    """On b"flood", sends until the send fails; reports the failure to `failures`."""

    failures: queue.SimpleQueue

    def data_received(self, data: bytes) -> None:
        if data != b"flood":
            return super().data_received(data)
        chunk = bytes(64 * 1024)
        try:
            while True:
                self.conn.send(chunk)
        except OSError as exc:
            self.failures.put(exc)


def test_a_peer_that_stops_reading_is_dropped_after_io_timeout_and_others_are_served() -> None:
    lost: queue.SimpleQueue = queue.SimpleQueue()
    failures: queue.SimpleQueue = queue.SimpleQueue()
    handler = type("F", (Flooder,), {"lost": lost, "failures": failures})
    with TcpServer(handler, host="127.0.0.1", name="flood", io_timeout=0.3) as server:
        with client(server.address) as stuck, client(server.address) as good:
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.sendall(b"flood")  # ... and never reads
            exc = failures.get(timeout=WAIT)
            assert isinstance(exc, SendTimeoutError), exc
            assert "send timed out" in str(exc)
            lost.get(timeout=WAIT)
            good.sendall(b"alive")
            assert recv_exactly(good, 5) == b"alive"


def test_an_idle_connection_outlives_io_timeout() -> None:
    """io_timeout bounds sends only: a quiet client is not dropped (nor woken by a poll)."""
    lost: queue.SimpleQueue = queue.SimpleQueue()
    with recorder_server(lost, name="idle", io_timeout=0.05) as server:
        with client(server.address) as quiet:
            quiet.sendall(b"hi")
            assert recv_exactly(quiet, 2) == b"hi"  # served: the connection is registered
            conn = server.connections()[0]
            assert not conn.wait_closed(0.3)  # six io_timeouts of silence
            quiet.sendall(b"still here")
            assert recv_exactly(quiet, 10) == b"still here"


def _ask(sock: socket.socket, payload: bytes) -> float:
    """Send `payload`, wait for its echo; the seconds it took."""
    started = time.monotonic()
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        got += sock.recv(100)
    return time.monotonic() - started


def test_a_client_that_fell_quiet_is_given_back_after_each_request() -> None:
    """With one worker: after its linger passed in silence, a client's next request (a
    poll a while later) does not hold the worker for another linger, so another client is
    answered at once; a client that speaks again within a linger is lingered on again."""
    linger = 0.3
    with TcpServer(
        Echo, host="127.0.0.1", name="quiet", workers=1, max_workers=1, linger=linger
    ) as server:
        a = socket.create_connection(server.address, timeout=WAIT)
        b = None
        try:
            _ask(a, b"a1")
            conn_a = next(c for c in server.connections() if c.peer[1] == a.getsockname()[1])
            assert until(lambda: conn_a._quiet, WAIT)  # a's linger is ending (no event says so)
            b = socket.create_connection(server.address, timeout=WAIT)
            _ask(b, b"b0")  # (b's linger ends too)
            time.sleep(linger)  # a polls again a while later
            _ask(a, b"a2")
            assert _ask(b, b"b1") < linger / 2  # a was given back at once, not lingered on
            assert conn_a._quiet
            _ask(a, b"a3")  # within a linger of a2 (once b's linger ended): a speaks again...
            assert not conn_a._quiet  # ...so the worker lingers on it again
        finally:
            a.close()
            if b is not None:
                b.close()


def test_a_lingering_worker_takes_the_socket_out_of_the_epoll_set_until_it_parks() -> None:
    """While a worker lingers on a busy client, only its recv waits on the socket: an epoll
    registration, even disarmed, would cost a kernel callback per request. Once the client
    falls quiet the connection is parked, watched again, and its next request answered."""
    with TcpServer(Echo, host="127.0.0.1", name="unwatch", linger=0.5) as server:
        a = socket.create_connection(server.address, timeout=WAIT)
        try:
            _ask(a, b"0")
            conn = next(c for c in server.connections() if c.peer[1] == a.getsockname()[1])
            _wait_parked(conn)
            assert conn._registered
            _ask(a, b"1")  # (within a linger of being parked: lingered on again)
            _ask(a, b"2")  # the worker took the socket out of the set before this recv
            assert not conn._registered and not conn._parked
            _wait_parked(conn)
            assert conn._registered
            _ask(a, b"3")
        finally:
            a.close()


def _wait_parked(conn) -> None:
    """Until the connection's linger has passed and it is back with the hub."""
    assert until(lambda: conn._parked, WAIT)  # no event says so


def test_a_connection_taken_out_of_the_set_the_moment_it_is_armed_stays_out() -> None:
    """Hub.park arms the socket, and the hub may hand it to another worker at once, which may
    unwatch it before park has returned. The registration flag must then say "not in the
    set": a flag set after arming would say "in the set", the next park would re-arm a
    socket epoll does not know (ENOENT), and the connection would be dropped."""
    with TcpServer(Echo, host="127.0.0.1", name="armrace", linger=0.5) as server:
        a = socket.create_connection(server.address, timeout=WAIT)
        try:
            _ask(a, b"0")
            conn = next(c for c in server.connections() if c.peer[1] == a.getsockname()[1])
            _wait_parked(conn)
            hub = server._hub
            poller = hub._poller
            arm = poller.arm

            def arm_then_another_worker_unwatches(fd: int, first: bool) -> None:
                arm(fd, first)
                hub.unwatch(conn)  # (what a worker serving it at once would do)

            _ask(a, b"1")  # a worker holds the connection again; park it as it would
            poller.arm = arm_then_another_worker_unwatches
            try:
                assert hub.park(conn)
            finally:
                poller.arm = arm
            assert not conn._registered
            assert hub.park(conn)  # a first arming again, not a re-arming: no ENOENT
            assert conn._registered
            _ask(a, b"2")
        finally:
            a.close()
