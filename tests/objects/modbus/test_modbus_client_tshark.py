"""What ModbusTcpClient sends must dissect cleanly in Wireshark's mbtcp/modbus dissectors.

Our client talks to pymodbus 3.16.1's server through a relay that records every chunk each
way with its time; the S7 harness (tests/protocols/s7_harness.py) writes them as a pcap on
port 502 and `tshark -r` dissects it. The client polls registers of all four tables in
blocks, writes coils and registers through `data` (FC 5, 6, 15, 16), and sends the other
functions through `execute` (FC 8, 22, 23, 43/14), so every request it can build is seen.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_modbus_client_support import (  # noqa: F401  (fixtures)
    WAIT,
    loop,
    make_client,
    pymodbus_server,
    registers_of,
)
from test_modbus_server_tshark import tshark

from incore.protocols.modbus import pdu as P

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "protocols"))
from s7_harness import write_pcap  # noqa: E402


class RecordingRelay:
    """Accepts one connection and relays it to `upstream`, recording (time, from_client,
    bytes) for every chunk either way."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.records: list[tuple[float, bool, bytes]] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._socks: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            inner, _ = self._listener.accept()
        except OSError:
            return
        outer = socket.create_connection(("127.0.0.1", self.upstream))
        self._socks += [inner, outer]
        for src, dst, from_client in ((inner, outer, True), (outer, inner, False)):
            threading.Thread(target=self._pump, args=(src, dst, from_client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        while True:
            try:
                data = src.recv(65536)
                if not data:
                    return
                with self._lock:
                    self.records.append((time.time(), from_client, data))
                dst.sendall(data)
            except OSError:
                return

    def requests(self) -> int:
        with self._lock:
            return sum(1 for _, from_client, _ in self.records if from_client)

    def close(self) -> None:
        for sock in self._socks:
            sock.close()


@pytest.fixture
def relay(pymodbus_server) -> Iterator[RecordingRelay]:
    relay = RecordingRelay(pymodbus_server.port)
    yield relay
    relay.close()


def test_tshark_finds_nothing_malformed_in_our_requests(loop, make_client, relay, tmp_path):
    client = make_client(
        relay.port,
        {
            1: [
                dict(type="Holding", address=0, dataType="Float"),
                dict(type="Holding", address=4, count=3),
                dict(type="Input", address=1, dataType="SignedInteger"),
                dict(type="Coil", address=2, count=5),
                dict(type="DiscreteInput", address=0, count=9),
            ]
        },
    )
    real, words, _, coils, _ = registers_of(client)
    for slave in client.objects:
        slave.pollRegisters()  # FC 1, 2, 4 and two FC 3 (registers 0-1 and 4-6: gap 0)
    assert loop.run_until(lambda: all(r.data is not None for r in registers_of(client)), WAIT)
    real.data = 2.5  # FC 16
    words.data = [1, 2, 3]  # FC 16
    coils.data = [True, False, True, True, False]  # FC 15
    words.write([1, 2, 3])  # FC 16 again: write() always writes
    assert loop.run_until(lambda: relay.requests() == 9, WAIT), relay.requests()
    assert all(r.error == 0 for r in registers_of(client))

    def run(request: P.Request) -> object:
        return client.execute(request, 1).result(WAIT)

    run(P.write_single_register(9, 0x1234))
    run(P.write_single_coil(7, True))
    run(P.mask_write_register(9, 0xF0F0, 0x0101))
    run(P.read_write_multiple_registers(0, 4, 20, [9, 9]))
    run(P.diagnostics(0, b"\x12\x34"))
    try:  # pymodbus's server answers FC 43/14 from its identity (or refuses): either is fine
        run(P.read_device_identification(1, 0))
    except Exception:  # noqa: BLE001  (only what we sent is checked here)
        pass
    assert loop.run_until(lambda: relay.requests() == 15, WAIT)
    client.shutdown()

    with relay._lock:
        records = list(relay.records)
    pcap = str(tmp_path / "client.pcap")
    write_pcap(pcap, [records], server_port=502)
    sent = tshark(pcap, "mbtcp && tcp.dstport == 502", "modbus.func_code")
    functions = sorted({int(row[0]) for row in sent if row and row[0]})
    assert functions == [1, 2, 3, 4, 5, 6, 8, 15, 16, 22, 23, 43], functions
    assert tshark(pcap, "_ws.malformed || _ws.expert.severity >= warning") == []
    # the check can fail: the same capture with one request cut short is flagged
    at = next(i for i, (_, mine, _) in enumerate(records) if mine)
    stamp, mine, data = records[at]
    bad = list(records)
    bad[at] = (stamp, mine, data[:4] + b"\x00\x02" + data[6:8])  # unit and function only
    cut = str(tmp_path / "cut.pcap")
    write_pcap(cut, [bad], server_port=502)
    assert tshark(cut, "_ws.malformed || _ws.expert.severity >= warning") != []
