"""ModbusTcpServer's life cycle: a port in use fails the start (or is retried), the remote
shutdown command, connection signals and count, maxConnections and idleTimeout."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from test_modbus_server_support import (  # noqa: F401
    WAIT,
    call,
    crowd,
    in_thread,
    loop,
    make_server,
    raw_exchange,
    server_threads,
)

from incore.objects.errors import StartError
from incore.objects.modbus import ModbusTcpServer


@pytest.fixture
def taken():
    """A listening socket on a free port of 127.0.0.1 (the port is taken while it is open)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def test_a_port_in_use_fails_the_start_of_the_app(loop, taken) -> None:
    port = taken.getsockname()[1]
    server = ModbusTcpServer(networkAddress="127.0.0.1", networkPort=port)
    with pytest.raises(StartError, match=rf"cannot listen on 127\.0\.0\.1:{port}: Address already"):
        server.complete()
    assert server.status == ModbusTcpServer.Error and server.error == ModbusTcpServer.ListenError
    server.shutdown()


def test_retry_listen_keeps_trying_until_the_port_is_free(loop, taken) -> None:
    port = taken.getsockname()[1]
    server = make_server(networkPort=port, retryListen=True, autoStart=False)
    errors: list[str] = []
    server.errorOccurred.connect(lambda: errors.append(server.errorString))
    assert server.start() is False and server.status == ModbusTcpServer.Error
    assert loop.run_until(lambda: len(errors) >= 2, WAIT)
    assert "trying again in" in errors[-1]
    taken.close()
    assert loop.run_until(lambda: server.status == ModbusTcpServer.Running, WAIT)
    assert call(loop, server, lambda c: c.read_holding_registers(0, count=1).registers) == [0]


def test_the_shutdown_command_stops_the_server_only_when_set(loop) -> None:
    quiet = make_server()
    with socket.create_connection(("127.0.0.1", quiet.networkPort)) as sock:
        sock.sendall(b"quit\n")  # four bytes of a header that never completes
        assert call(loop, quiet, lambda c: c.read_coils(0, count=1).bits[0]) is False
    assert quiet.status == ModbusTcpServer.Running
    server = make_server(shutdownCommand="quit")
    seen: list[str] = []
    server.shutdownReceived.connect(seen.append)
    assert call(loop, server, lambda c: c.read_coils(0, count=1).bits[0]) is False
    in_thread(loop, lambda: raw_exchange(server.networkPort, b"quit\n"))
    assert loop.run_until(lambda: server.status == ModbusTcpServer.Stopped, WAIT)
    assert seen == ["127.0.0.1"]
    quiet.shutdown()
    assert server_threads() == []


def test_connection_signals_and_count(loop) -> None:
    server = make_server()
    events: list[tuple[str, str]] = []
    server.clientConnected.connect(lambda a: events.append(("in", a)))
    server.clientDisconnected.connect(lambda a: events.append(("out", a)))
    socks = in_thread(loop, lambda: crowd.burst_connect(("127.0.0.1", server.networkPort), 3, WAIT))
    assert loop.run_until(lambda: server.connectionCount == 3, WAIT)
    crowd.close_all(socks)
    assert loop.run_until(lambda: server.connectionCount == 0, WAIT)
    assert sorted(events) == [("in", "127.0.0.1")] * 3 + [("out", "127.0.0.1")] * 3


def test_max_connections_refuses_newcomers_until_a_client_leaves(loop, caplog) -> None:
    """At maxConnections newcomers are closed unanswered (Modbus has no handshake, so no
    connection is evicted for them), the refusals are logged once for the whole run of
    them, and a client that leaves makes room for the next."""
    caplog.set_level(logging.INFO, logger="incore.transport.tcp_server")
    server = make_server(maxConnections=2)
    read = bytes.fromhex("000100000006010300000001")
    socks = in_thread(loop, lambda: crowd.burst_connect(("127.0.0.1", server.networkPort), 2, WAIT))
    try:
        for sock in socks:
            sock.setblocking(True)
            sock.sendall(read)
            assert len(sock.recv(64)) == 11
        assert loop.run_until(lambda: server.connectionCount == 2, WAIT)

        def newcomers() -> list[bytes]:
            return [raw_exchange(server.networkPort, read, 3) for _ in range(3)]

        assert in_thread(loop, newcomers) == [b""] * 3  # each closed without an answer

        def refusals() -> list[str]:
            return [r.getMessage() for r in caplog.records if "refusing new" in r.getMessage()]

        assert loop.run_until(lambda: refusals(), WAIT)
        assert len(refusals()) == 1, refusals()

        socks.pop().close()  # one client leaves: the next newcomer is served
        assert loop.run_until(lambda: server.connectionCount == 1, WAIT)
        answer = in_thread(loop, lambda: raw_exchange(server.networkPort, read, 3))
        assert answer == bytes.fromhex("0001000000050103020000")
    finally:
        crowd.close_all(socks)


def test_idle_timeout_closes_silent_connections(loop) -> None:
    server = make_server(idleTimeout=300)
    started = time.monotonic()
    socks = in_thread(
        loop, lambda: crowd.burst_connect(("127.0.0.1", server.networkPort), 20, WAIT)
    )
    try:
        first, last = in_thread(loop, lambda: crowd.closed_by_peer(socks, WAIT))
        assert 0.25 <= first - started and last - started < 3.0
        assert loop.run_until(lambda: server.connectionCount == 0, WAIT)
    finally:
        crowd.close_all(socks)

    # a client that keeps asking is not idle
    def busy() -> list[int]:
        from test_modbus_server_support import client

        c = client(server)
        try:
            for _ in range(8):
                c.read_holding_registers(0, count=1)
                time.sleep(0.1)  # a client polling every 100 ms, under the 300 ms timeout
            return c.read_holding_registers(0, count=1).registers
        finally:
            c.close()

    assert in_thread(loop, busy) == [0]
