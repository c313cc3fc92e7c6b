"""S7Client's connection: autoConnect, reconnect with backoff, unreachable PLCs, shutdown."""

from __future__ import annotations

import re
import time

from test_s7_client_support import (
    WAIT,
    PySnap7Peer,
    c_peer,
    closed_port,
    harness,  # noqa: F401
    loop,
    make_client,
    record_errors,
    silent_listener,
    snap7c,
)

from incore.core import Object, Property
from incore.objects.foundation import Timer
from incore.objects.s7 import S7Client
from incore.protocols.errors import S7Error
from incore.protocols.s7.constants import ClientError


class Ticks(Object, register=False):
    """A Timer's ticks and a binding that follows them: proof the loop keeps running."""

    count = Property(int, 0)
    doubled = Property(int, 0)

    def __init__(self, interval: int = 10) -> None:
        super().__init__()
        self.stamps: list[float] = []
        self.timer = Timer(interval=interval)
        self.timer.triggered.connect(self._tick)
        self.bind("doubled", lambda: self.count * 2)
        self.timer.complete()

    def _tick(self) -> None:
        self.stamps.append(time.monotonic())
        self.count += 1

    def longest_gap(self) -> float:
        return max((b - a for a, b in zip(self.stamps, self.stamps[1:])), default=0.0)


def retry_delays(errors: list) -> list[float]:
    return [float(m[1]) for _, text in errors if (m := re.search(r"retry in ([\d.]+) s", text))]


def test_reconnects_with_backoff_after_the_server_goes_away_and_comes_back(
    c_peer, make_client, loop
):
    client = make_client(c_peer.port)
    connected: list[bool] = []
    client.connectedChanged.connect(connected.append)
    errors = record_errors(client)
    c_peer.stop()  # the idle connection is probed: the loss is noticed without any request
    assert loop.run_until(lambda: not client.connected, WAIT)
    assert errors[0][0] == S7Client.RecvPacket
    assert (
        errors[0][1]
        == f"ISO: An error occurred during recv. (127.0.0.1:{c_peer.port}: closed by the peer)"
    )
    assert loop.run_until(lambda: len(retry_delays(errors)) >= 3, WAIT)
    refused = errors[1:]
    assert {e for e, _ in refused} == {S7Client.ConnectError}
    assert all(text.startswith("ISO: Connection error. (127.0.0.1:") for _, text in refused)
    delays = retry_delays(errors)
    assert all(b > a * 1.5 for a, b in zip(delays, delays[1:4])), delays  # backing off
    c_peer.start()  # same port
    assert loop.run_until(lambda: client.connected, WAIT), client.errorString
    assert client.error == S7Client.NoError and client.errorString == ""
    assert connected == [False, True]
    assert client.dbRead(1, 0, 2).result(WAIT) == b"\x00\x00"


def test_unreachable_hosts_give_connect_errors_and_never_block_the_loop(make_client, loop):
    listener = silent_listener()  # accepts TCP, never answers the COTP request
    try:
        ticks = Ticks()
        silent = make_client(listener.getsockname()[1], connect=False, timeout=300)
        refused = make_client(closed_port(), connect=False)
        silent_errors, refused_errors = record_errors(silent), record_errors(refused)
        started = time.monotonic()
        assert loop.run_until(lambda: len(silent_errors) >= 2 and len(refused_errors) >= 3, WAIT)
        assert {e for e, _ in silent_errors + refused_errors} == {S7Client.ConnectError}
        assert "no connection confirm within 0.3 s" in silent_errors[0][1]
        assert "Connection refused" in refused_errors[0][1]
        assert ticks.count >= (time.monotonic() - started) / 0.010 * 0.5
        assert ticks.doubled == ticks.count * 2
        assert ticks.longest_gap() < 0.2
        future = silent.dbRead(1, 0, 4)  # operations fail at once, they do not wait
        exc = future.exception(WAIT)
        assert isinstance(exc, S7Error) and exc.code == ClientError.ConnectError
        assert "not connected" in str(exc)
        begun = time.monotonic()
        silent.shutdown()  # mid-connect: returns promptly
        assert time.monotonic() - begun < 1.0
    finally:
        listener.close()


def test_without_auto_connect_one_attempt_is_made(make_client, loop):
    client = make_client(closed_port(), connect=False, autoConnect=False)
    errors = record_errors(client)
    ticks = Ticks()
    assert loop.run_until(lambda: ticks.count >= 40, WAIT)  # no connect on completion
    assert errors == []
    client.connectToHost()
    assert loop.run_until(lambda: errors, WAIT)
    assert loop.run_until(lambda: ticks.count >= 80, WAIT)
    assert [e for e, _ in errors] == [S7Client.ConnectError]  # and no retry
    assert not client.connected


def test_connect_and_disconnect_by_method_and_by_property(harness, make_client, loop):
    client = make_client(harness.port, connect=False, autoConnect=False)
    client.connectToHost()
    assert loop.run_until(lambda: client.connected, WAIT)
    client.connectToHost()
    client.connected = True  # already connected: the connection stays as it is
    assert client.dbRead(1, 0, 1).result(WAIT) == b"\x00" and len(harness.sessions) == 1
    client.disconnectFromHost()
    assert not client.connected
    assert client.dbRead(1, 0, 1).exception(WAIT).code == ClientError.ConnectError
    client.connected = True
    assert loop.run_until(lambda: client.pdu_size == 480 and client.connected, WAIT)
    client.connected = False
    assert loop.run_until(lambda: client.pdu_size == 0, WAIT)
    client.autoConnect = True  # turning it on connects
    assert loop.run_until(lambda: client.connected, WAIT)


def test_changing_the_port_reconnects_to_the_new_server(make_client, loop):
    first, second = PySnap7Peer(), PySnap7Peer()
    try:
        second.areas[(0x84, 1)][0] = 0x42
        client = make_client(first.port)
        assert client.dbRead(1, 0, 1).result(WAIT) == b"\x00"
        client.port = second.port
        assert loop.run_until(lambda: not client.connected, WAIT)
        assert loop.run_until(lambda: client.connected, WAIT)
        assert client.dbRead(1, 0, 1).result(WAIT) == b"\x42"
    finally:
        first.stop()
        second.stop()


def test_an_empty_hostname_is_reported(make_client, loop):
    client = make_client(102, connect=False, hostname="")
    assert loop.run_until(lambda: client.error == S7Client.InvalidParams, WAIT)
    assert client.errorString == "CLI:invalid param(s) supplied. (hostname is empty)"
