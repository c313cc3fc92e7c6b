"""IEC104Server's life cycle is every server's (link/listener.py): a port in use fails the
app's start, or is retried with `retryListen` until it is free; `stop()` ends the retries
and closes every client; `status` and c104's `isRunning` say the same. A setting that cannot
work is a ConfigurationError, before any attempt to listen, and is not retried."""

from __future__ import annotations

import socket

import pytest
from test_iec104_server_support import (  # noqa: F401  (fixtures)
    WAIT,
    connect,
    loop,
    make_server,
)

from incore.objects.errors import StartError
from incore.objects.iec104 import IEC104Server
from incore.protocols.iec104 import Asdu, Cause, Interrogation, TypeId


@pytest.fixture
def taken():
    """A listening socket on a free port of 127.0.0.1 (the port is taken while it is open)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def _states(server: IEC104Server) -> tuple:
    return server.status, server.isRunning


def test_a_port_in_use_fails_the_start_of_the_app(loop, taken):
    port = taken.getsockname()[1]
    server = IEC104Server(ip="127.0.0.1", port=port)
    with pytest.raises(StartError, match=rf"cannot listen on 127\.0\.0\.1:{port}: Address already"):
        server.complete()
    assert _states(server) == (IEC104Server.Error, False)
    assert server.error == IEC104Server.ListenError
    server.shutdown()


def test_retry_listen_keeps_trying_until_the_port_is_free(loop, taken):
    port = taken.getsockname()[1]
    server = make_server(port=port, retryListen=True, autoStart=False)
    errors: list[str] = []
    server.errorOccurred.connect(lambda: errors.append(server.errorString))
    assert server.start() is False and _states(server) == (IEC104Server.Error, False)
    assert loop.run_until(lambda: len(errors) >= 2, WAIT)
    assert "trying again in" in errors[-1]
    taken.close()
    assert loop.run_until(lambda: server.status == IEC104Server.Running, WAIT)
    assert server.isRunning and server.error == IEC104Server.NoError
    master = connect(loop, server)  # it serves: an interrogation is answered
    master.send(Asdu(TypeId.C_IC_NA_1, Cause.ACTIVATION, 1, (Interrogation(0, 20),)))
    assert loop.run_until(lambda: master.find(100, Cause.ACTIVATION_TERMINATION), WAIT)


def test_stop_ends_the_retries(loop, taken):
    server = make_server(port=taken.getsockname()[1], retryListen=True, autoStart=False)
    assert server.start() is False and server.status == IEC104Server.Error
    assert server.stop() and _states(server) == (IEC104Server.Stopped, False)
    taken.close()
    assert not loop.run_until(lambda: server.status != IEC104Server.Stopped, 0.5)


def test_start_and_stop_follow_in_status_and_is_running(loop):
    server = make_server(autoStart=False)
    seen: list[tuple] = []
    server.isRunningChanged.connect(lambda running: seen.append((running, server.port)))
    assert _states(server) == (IEC104Server.Stopped, False)
    assert server.start() and server.start()  # true when running already
    assert _states(server) == (IEC104Server.Running, True) and server.port > 0
    assert seen == [(True, server.port)]  # the port picked is known when it runs
    connect(loop, server)
    assert server.stop() and _states(server) == (IEC104Server.Stopped, False)
    assert server.openConnectionCount == 0 and not server.hasActiveConnections
    assert server.start() and _states(server) == (IEC104Server.Running, True)


def test_a_setting_that_cannot_work_is_a_configuration_error(loop, tmp_path):
    missing = str(tmp_path / "missing.pem")
    server = make_server(autoStart=False, retryListen=True, tlsCertificate=missing)
    errors: list[str] = []
    server.errorOccurred.connect(lambda: errors.append(server.errorString))
    assert server.start() is False
    assert server.error == IEC104Server.ConfigurationError and server.status == IEC104Server.Error
    assert not loop.run_until(lambda: len(errors) > 1, 0.3)  # not retried
    failing = IEC104Server(ip="127.0.0.1", port=0, tlsCertificate=missing)
    with pytest.raises(StartError):  # at the app's start: the app does not start
        failing.complete()
    assert failing.error == IEC104Server.ConfigurationError and not failing.isRunning
    failing.shutdown()
