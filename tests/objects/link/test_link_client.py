"""The link pieces on their own, with a protocol that is not S7 (tiny.py): LinkClient's life
cycle and reconnect backoff, PolledVariables' batching, LinkVariable's errors and quality."""

# ruff: noqa: I001  (tiny puts tests/objects, where foundation_helpers lives, on sys.path)
from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tiny import Doorman, TinyClient, TinyServer, TinyVariable, TinyVariables
from foundation_helpers import WAIT, loop  # noqa: F401  (fixture)

from incore.core import EventLoop
from incore.objects.foundation import DataObject, Polling
from incore.objects.link import VariableHost

GOOD, BAD = DataObject.Good, DataObject.Bad


@pytest.fixture
def server() -> Iterator[TinyServer]:
    srv = TinyServer()
    yield srv
    srv.stop()


@pytest.fixture
def make_client(loop: EventLoop) -> Iterator[Callable[..., TinyClient]]:
    """make_client(port, connect=True, **properties): a completed TinyClient on 127.0.0.1."""
    made: list[TinyClient] = []

    def make(port: int, connect: bool = True, **properties: Any) -> TinyClient:
        client = TinyClient(hostname="127.0.0.1", port=port, **properties)
        made.append(client)
        client.complete()
        if connect:
            assert loop.run_until(lambda: client.connected, WAIT), client.errorString
        return client

    yield make
    for client in made:
        client.shutdown()


def variable(client: TinyClient, key: str, **props: Any) -> TinyVariable:
    var = TinyVariable(key=key, **props)
    client.appendChild(var)
    var.complete()
    return var


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def retry_delays(texts: list[str]) -> list[float]:
    return [float(m[1]) for text in texts if (m := re.search(r"retry in ([\d.]+) s", text))]


# -- the client and its variables ----------------------------------------------------------------


def test_polls_are_batched_as_the_protocol_says_and_values_arrive_good(server, make_client, loop):
    server.values = {f"k{i}": bytes([10 + i]) for i in range(7)}
    client = make_client(server.port)
    assert client.peerName == "tiny"  # the protocol's _link_up ran before connected
    variables = [variable(client, f"k{i}") for i in range(7)]
    for var in variables:
        var.pollData()
        var.pollData()  # asked again before the answer: read once
    assert loop.run_until(lambda: all(v.data is not None for v in variables), WAIT)
    assert [v.data for v in variables] == [10 + i for i in range(7)]
    assert server.requests == [["k0", "k1", "k2"], ["k3", "k4", "k5"], ["k6"]]
    assert all(v.quality == GOOD and v.error == TinyVariable.NoError for v in variables)
    variables[0].data = 99
    assert loop.run_until(lambda: server.values["k0"] == b"\x63", WAIT)


def test_an_item_the_peer_lacks_is_a_read_error_and_bad_until_it_is_read(server, make_client, loop):
    client = make_client(server.port)
    var = variable(client, "later")
    changes: list = []
    var.qualityChanged.connect(lambda q: changes.append((q, var.qualityReason, var.errorString)))
    var.pollData()
    assert loop.run_until(lambda: var.error == TinyVariable.ReadError, WAIT)
    assert (var.quality, var.qualityReason, var.errorString) == (
        BAD,
        "no key later",
        "no key later",
    )
    assert changes == [(BAD, "no key later", "no key later")]  # one wave: error and quality
    server.values["later"] = b"\x05"
    var.pollData()
    assert loop.run_until(lambda: var.data == 5, WAIT)
    assert (var.quality, var.qualityReason, var.error) == (GOOD, "", TinyVariable.NoError)
    assert client.error == TinyClient.NoError  # an item's error is not the client's


def test_quality_follows_the_link_across_an_outage(server, make_client, loop):
    server.values = {"level": b"\x01"}
    client = make_client(server.port, reconnectInterval=20, maxReconnectInterval=80)
    var = variable(client, "level", objects=[Polling(on="data", interval=20)])
    writer = variable(client, "setpoint")  # written, never read: not the link's to judge
    writer.data = 7
    assert loop.run_until(lambda: var.data == 1 and server.values.get("setpoint") == b"\x07", WAIT)
    seen: list = []  # what a handler sees at each quality change of the polled variable
    var.qualityChanged.connect(
        lambda q: seen.append(
            (q, var.qualityReason, var.data, client.connected, client.errorString)
        )
    )
    server.stop()
    assert loop.run_until(lambda: var.quality == BAD, WAIT)
    quality, reason, data, connected, error = seen[0]
    assert data == 1 and not connected  # the last value is kept, marked Bad
    assert reason.startswith("no link (") and error == reason  # the client's error text
    server.values["level"] = b"\x02"
    server.start()  # the same port
    assert loop.run_until(lambda: var.quality == GOOD, WAIT), client.errorString
    assert seen[-1] == (GOOD, "", 2, True, "")  # the new value in the wave that made it Good
    assert all(entry[0] == BAD for entry in seen[:-1])
    assert writer.quality == GOOD and writer.qualityReason == ""


def test_a_poll_while_the_link_is_down_is_bad_at_once_and_read_once_it_is_up(
    server, make_client, loop
):
    client = make_client(server.port, reconnectInterval=20, maxReconnectInterval=40)
    server.stop()
    client.disconnectFromHost()
    var = variable(client, "x")
    server.values["x"] = b"\x09"
    var.pollData()
    assert (var.quality, var.qualityReason) == (BAD, f"{client.link_label}: disconnected")
    server.start()
    client.connectToHost()
    assert loop.run_until(lambda: var.data == 9, WAIT), client.errorString
    assert var.quality == GOOD


def test_a_write_without_a_link_fails_at_once(make_client, loop):
    client = make_client(closed_port(), connect=False, autoConnect=False)
    var = variable(client, "x")
    var.data = 3
    assert var.error == TinyVariable.WriteError
    assert var.errorString == "TinyClient: not connected"
    assert var.quality == GOOD  # a write that failed says nothing about the value


def test_a_variable_without_a_client_says_so(loop):
    var = TinyVariable(key="x")
    var.complete()
    assert var.error == TinyVariable.InvalidClientError
    assert var.errorString == "TinyVariable x has no client"
    assert [p.message for p in var._check()] == ["TinyVariable x has no client"]


def test_clients_are_variable_hosts():
    assert isinstance(TinyClient(), VariableHost) and isinstance(
        TinyVariables(TinyClient()), VariableHost
    )
    assert not isinstance(DataObject(), VariableHost)


# -- reconnecting ---------------------------------------------------------------------------------


def wait_for_arrivals(door: Doorman, count: int) -> list[float]:
    with door.arrived:
        assert door.arrived.wait_for(lambda: len(door.arrivals) >= count, WAIT)
        return list(door.arrivals)


def test_the_first_retry_waits_reconnect_interval_and_no_wait_is_longer_than_the_longest(
    make_client, loop
):
    door = Doorman()  # takes each connection and closes it: every handshake fails
    try:
        client = make_client(
            door.port, connect=False, reconnectInterval=150, maxReconnectInterval=400
        )
        errors: list[str] = []
        client.errorOccurred.connect(lambda: errors.append(client.errorString))
        assert loop.run_until(lambda: len(retry_delays(errors)) >= 5, WAIT)
        arrivals = wait_for_arrivals(door, 5)
    finally:
        door.close()
    delays = retry_delays(errors)
    assert 0.13 <= delays[0] <= 0.15 and 0.27 <= delays[1] <= 0.30  # jitter only shortens
    assert all(d <= 0.40 for d in delays) and all(d >= 0.36 for d in delays[2:5])
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]  # measured where attempts arrive
    assert all(gap >= 0.9 * wait for gap, wait in zip(gaps, (0.15, 0.3, 0.4, 0.4))), gaps


def test_new_intervals_apply_from_the_next_wait(make_client, loop):
    client = make_client(
        closed_port(), connect=False, reconnectInterval=200, maxReconnectInterval=200
    )
    errors: list[str] = []
    client.errorOccurred.connect(lambda: errors.append(client.errorString))
    assert loop.run_until(lambda: len(errors) >= 1, WAIT)
    client.reconnectInterval = 20
    client.maxReconnectInterval = 40
    assert loop.run_until(lambda: len(retry_delays(errors)) >= 5, WAIT)
    assert retry_delays(errors)[0] >= 0.18
    assert all(d <= 0.04 for d in retry_delays(errors)[2:])


def test_backoff_rules_are_declared_and_name_the_type():
    with pytest.raises(ValueError, match=r"TinyClient\.reconnectInterval expects 10 or more"):
        TinyClient(reconnectInterval=5)
    client = TinyClient(reconnectInterval=500, maxReconnectInterval=100)
    assert [(p.prop, p.message) for p in client._check()] == [
        (
            "maxReconnectInterval",
            "TinyClient.maxReconnectInterval (100 ms) is less than reconnectInterval (500 ms)",
        )
    ]
    assert client._backoff().maximum == client._backoff().initial == 0.5  # run anyway: capped


def test_an_empty_hostname_is_reported_and_nothing_is_tried(loop):
    client = TinyClient(hostname="", port=1)
    client.complete()
    try:
        assert (client.error, client.errorString) == (
            TinyClient.SettingsError,
            "bad settings (hostname is empty)",
        )
        assert not client.connected and client._worker is None  # no thread was started
    finally:
        client.shutdown()
