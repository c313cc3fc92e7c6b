"""Quality end to end, as a user of a gateway sees it.

`incore run` serves an S7 PLC's value (python-snap7's server, in this process) to Modbus TCP
and IEC 104 clients. While the PLC is up, pymodbus reads the value and c104's client gets it
with clean quality bits. When the PLC stops, the Modbus register answers exception 04
(server device failure) and the IEC 104 point goes out with IV; when it is back, both clear.
In between no stale value is served as good: every Modbus answer is the exception and every
IEC 104 frame carries IV.
"""

# no `from __future__ import annotations`: c104 checks callback annotations as real types

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import c104
import pytest
from pymodbus.client import ModbusTcpClient
from snap7.server import Server as PyServer
from snap7.type import SrvArea

from incore.protocols.iec104 import Quality, decode_asdu, decode_frame

REPO = Path(__file__).resolve().parents[2]
WAIT = 20.0

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/net/tcp"), reason="needs /proc")

APP = """\
Application:
  name: quality end to end
  objects:
    - S7Client:
        hostname: 127.0.0.1
        port: {s7}
        slot: 2
        timeout: 500
        reconnectInterval: 50
        maxReconnectInterval: 200
        objects:
          - S7Variable:
              id: level
              name: DB1.DBD0:REAL
              objects:
                - Polling: {{on: data, interval: 50}}
    - ModbusTcpServer:
        networkAddress: 127.0.0.1
        networkPort: {modbus}
        objects:
          - ModbusRegister: {{type: Holding, address: 0, dataType: Float, data: !bind level.data}}
    - IEC104Server:
        ip: 127.0.0.1
        port: {iec104}
        objects:
          - IEC104Station:
              commonAddress: 1
              objects:
                - IEC104Point: {{ioa: 1, type: M_ME_NC_1, data: !bind level.data}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(condition, timeout: float = WAIT) -> bool:
    end = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < end:
        if condition():
            return True
        pause.wait(0.05)
    return condition()


class Plc:
    """python-snap7's server with DB1 holding a REAL at offset 0; stop() and start() again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.db = bytearray(8)
        self.server = None

    def start(self, level: float) -> None:
        self.db[:4] = struct.pack(">f", level)
        server = PyServer(log=False)
        server.register_area(SrvArea.DB, 1, self.db)
        server.start_to("127.0.0.1", self.port)
        self.server = server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server.destroy()
            self.server = None


class Master:
    """c104's client; every M_ME_NC_1 object on the wire as (value, IV set), in order."""

    def __init__(self, port: int) -> None:
        self.seen = []
        self.client = c104.Client(tick_rate_ms=50, command_timeout_ms=3000)
        self.connection = self.client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.ALL)
        station = self.connection.add_station(common_address=1)
        station.add_point(io_address=1, type=c104.Type.M_ME_NC_1)

        def on_raw(connection: c104.Connection, data: bytes) -> None:
            asdu = getattr(decode_frame(bytes(data)), "asdu", None)
            if asdu and asdu[0] == 13:
                for obj in decode_asdu(asdu).objects:
                    self.seen.append((obj.value, bool(obj.quality & Quality.IV)))

        self.connection.on_receive_raw(callable=on_raw)
        self.client.start()

    def started(self) -> bool:
        state = self.connection.state
        if state == c104.ConnectionState.OPEN_MUTED:
            self.connection.unmute()  # c104's client does not always send STARTDT itself
        return state == c104.ConnectionState.OPEN

    def close(self) -> None:
        self.client.stop()


def modbus_answer(client: ModbusTcpClient):
    """The register's value, or the exception code it answered."""
    answer = client.read_holding_registers(0, count=2)
    if answer.isError():
        return ("exception", getattr(answer, "exception_code", None))
    return round(struct.unpack(">f", struct.pack(">HH", *answer.registers))[0], 3)


def test_a_stopped_source_is_bad_on_every_protocol_and_clears_when_it_is_back(tmp_path):
    ports = {"s7": free_port(), "modbus": free_port(), "iec104": free_port()}
    app = tmp_path / "gateway.yaml"
    app.write_text(APP.format(**ports))
    plc = Plc(ports["s7"])
    plc.start(42.5)
    proc = subprocess.Popen(
        [sys.executable, "-m", "incore", "run", str(app)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    modbus = master = None
    try:
        modbus = ModbusTcpClient("127.0.0.1", port=ports["modbus"], timeout=2, retries=0)
        assert until(lambda: modbus.connect() and modbus_answer(modbus) == 42.5)
        master = Master(ports["iec104"])
        assert until(master.started)
        assert until(lambda: (42.5, False) in master.seen), master.seen

        mark = len(master.seen)
        plc.stop()
        assert until(lambda: modbus_answer(modbus) == ("exception", 4))
        assert until(lambda: any(iv for _, iv in master.seen[mark:])), master.seen[mark:]
        bad_from = len(master.seen)
        answers = [modbus_answer(modbus) for _ in range(10)]  # the source is still away
        assert all(a == ("exception", 4) for a in answers), answers

        plc.start(17.25)
        assert until(lambda: modbus_answer(modbus) == 17.25)
        assert until(lambda: (17.25, False) in master.seen[bad_from:]), master.seen[bad_from:]
        # between the stop and the return, nothing went out as good
        first_good = master.seen.index((17.25, False), bad_from)
        between = master.seen[mark:first_good]
        assert between and all(iv for _, iv in between), between
    finally:
        if master is not None:
            master.close()
        if modbus is not None:
            modbus.close()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=WAIT)
        plc.stop()
    assert proc.returncode == 0, out
