"""S7Server when it cannot listen: a failed start by default, retries with retryListen."""

from __future__ import annotations

import errno
import socket

import pytest
from test_s7_server_support import WAIT, loop, make_server, pysnap7  # noqa: F401

from incore.objects.errors import StartError
from incore.objects.s7 import S7Server


@pytest.fixture
def taken():
    """A listening socket on a free port of 127.0.0.1 (the port is taken while it is open)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def test_a_port_in_use_fails_the_start_of_the_app(loop, taken):
    port = taken.getsockname()[1]
    server = S7Server(networkAddress="127.0.0.1", localPort=port)
    with pytest.raises(
        StartError,
        match=rf"cannot listen on 127\.0\.0\.1:{port}: Address "
        r"already in use \(set retryListen",
    ):
        server.complete()
    assert server.status == S7Server.Error and server.error == S7Server.CannotStart
    assert server.lastError == S7Server.CannotStart | errno.EADDRINUSE
    server.shutdown()


def test_retry_listen_keeps_trying_until_the_port_is_free(loop, taken):
    port = taken.getsockname()[1]
    server = make_server(localPort=port, retryListen=True, autoStart=False)
    errors: list = []
    server.errorOccurred.connect(lambda: errors.append(server.errorString))
    assert server.start() is False
    assert server.status == S7Server.Error and server.error == S7Server.CannotStart
    assert loop.run_until(lambda: len(errors) >= 3, WAIT)  # 0.1 s, 0.2 s, 0.4 s later
    assert "trying again in" in errors[-1]
    taken.close()
    assert loop.run_until(lambda: server.status == S7Server.Running, WAIT)
    assert server.error == S7Server.NoError and server.localPort == port
    client = pysnap7(server)
    assert client.db_read(1, 0, 2) == bytes([0, 1])
    client.disconnect()
    server.shutdown()


def test_stop_ends_the_retries(loop, taken):
    server = make_server(localPort=taken.getsockname()[1], retryListen=True, autoStart=False)
    assert server.start() is False
    assert server.stop() and server.status == S7Server.Stopped
    taken.close()
    assert not loop.run_until(lambda: server.status != S7Server.Stopped, 1.0)
