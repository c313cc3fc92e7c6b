"""What the shared link pieces give S7 users: quality across an outage, configurable reconnect
backoff, and quality under an S7Server."""

from __future__ import annotations

import re
import textwrap

import pytest
from test_s7_client_support import (
    WAIT,
    closed_port,
    loop,
    make_client,
    py_peer,  # noqa: F401
    record_errors,
)

import incore
from incore.app.errors import AppError
from incore.objects.foundation import DataObject, Polling
from incore.objects.s7 import S7Client, S7Server, S7ServerArea, S7Variable

GOOD, BAD = DataObject.Good, DataObject.Bad


def retry_delays(errors: list) -> list[float]:
    return [float(m[1]) for _, text in errors if (m := re.search(r"retry in ([\d.]+) s", text))]


def test_variables_are_bad_while_the_plc_is_away_and_good_with_the_next_read(
    py_peer, make_client, loop
):
    db1 = py_peer.areas[(0x84, 1)]
    db1[0:2] = b"\x00\x2a"
    client = make_client(py_peer.port, reconnectInterval=20, maxReconnectInterval=100)
    level = S7Variable(name="DB1.DBW0", objects=[Polling(on="data", interval=20)])
    client.appendChild(level)
    level.complete()
    assert loop.run_until(lambda: level.data == 42, WAIT)
    seen: list = []  # what a handler sees at each change of quality
    level.qualityChanged.connect(
        lambda q: seen.append(
            (q, level.qualityReason, level.data, client.connected, client.errorString)
        )
    )
    errors = record_errors(client)
    py_peer.stop()
    assert loop.run_until(lambda: level.quality == BAD, WAIT)
    quality, reason, data, connected, error = seen[0]
    assert data == 42 and not connected  # the last value, marked Bad, in the wave of the loss
    assert reason == error and reason.startswith("ISO: ")  # the client's error text
    assert loop.run_until(lambda: retry_delays(errors), WAIT)  # a reconnect was refused
    assert level.quality == BAD and "Connection error" in level.qualityReason
    db1[0:2] = b"\x00\x2b"
    py_peer.start()  # the same port
    assert loop.run_until(lambda: level.quality == GOOD, WAIT), client.errorString
    assert seen[-1] == (GOOD, "", 43, True, "")  # Good with the new value, connected, no error
    assert all(entry[0] == BAD for entry in seen[:-1])


def test_reconnect_interval_and_its_longest_wait_are_properties(make_client, loop):
    client = make_client(
        closed_port(), connect=False, reconnectInterval=100, maxReconnectInterval=250
    )
    errors = record_errors(client)
    assert loop.run_until(lambda: len(retry_delays(errors)) >= 4, WAIT)
    delays = retry_delays(errors)
    assert 0.09 <= delays[0] <= 0.10 and 0.18 <= delays[1] <= 0.20
    assert all(0.225 <= d <= 0.25 for d in delays[2:4])
    assert all(text.startswith("ISO: Connection error. (127.0.0.1:") for _, text in errors)


def test_the_backoff_properties_in_an_app_file_and_their_rules(loop):
    app = incore.load_string(
        textwrap.dedent("""
        Application:
          objects:
            - S7Client: {id: plc, hostname: 127.0.0.1, reconnectInterval: 50,
                         maxReconnectInterval: 1000, autoConnect: false}
        """)
    )
    plc = app.ids["plc"]
    assert (plc.reconnectInterval, plc.maxReconnectInterval) == (50, 1000)
    assert (plc._backoff().initial, plc._backoff().maximum) == (0.05, 1.0)
    with pytest.raises(AppError, match=r"S7Client\.reconnectInterval expects 10 or more, got 5"):
        incore.load_string("S7Client: {reconnectInterval: 5}\n")
    with pytest.raises(
        AppError,
        match=r"S7Client\.maxReconnectInterval \(100 ms\) is less than "
        r"reconnectInterval \(500 ms\)",
    ):
        incore.load_string("S7Client: {reconnectInterval: 500, maxReconnectInterval: 100}\n")


def test_a_variable_under_a_server_is_good_and_bad_while_its_area_is_gone(loop):
    var = S7Variable(name="DB3.DBW0")
    server = S7Server(
        networkAddress="127.0.0.1",
        localPort=0,
        autoStart=False,
        objects=[S7ServerArea(area="DB", index=3, data=b"\x01\x02"), var],
    )
    server.complete()
    try:
        assert (var.data, var.quality) == (0x0102, GOOD)
        server.unregisterArea("srvAreaDB", 3)
        assert (var.quality, var.qualityReason) == (BAD, "area DB3 was unregistered")
        assert var.data == 0x0102  # the last value stays, marked Bad
        server.registerArea("srvAreaDB", 3, b"\x00\x07")
        assert (var.data, var.quality, var.qualityReason) == (7, GOOD, "")
    finally:
        server.shutdown()


def test_hosts_find_a_variable_by_its_s7_address(loop):
    var = S7Variable(name="M3.6")
    assert str(var.peer_address) == "M3.6" and var.peer_address.protocol == "S7"
    assert (
        var.peer_address.area,
        var.peer_address.offset,
        var.peer_address.bit,
        var.peer_address.size,
    ) == (0x83, 3, 6, 1)
    assert S7Variable(type=S7Variable.MemoryBit, address=3, bit=6).peer_address == var.peer_address
    assert S7Client.timeout.qualname == "S7Client.timeout"  # shared, yet named after the type
