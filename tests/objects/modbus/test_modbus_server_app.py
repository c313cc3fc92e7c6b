"""End to end: an app file with a ModbusTcpServer whose ModbusRegisters are bound to other
objects' properties, run by `incore run` as a subprocess, with pymodbus's client as the
outside world reading and writing both ways."""

from __future__ import annotations

import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import app_process
from pymodbus.client import ModbusTcpClient
from waiting import until

REPO = Path(__file__).resolve().parents[3]
WAIT = 20.0

APP = """\
Application:
  name: Modbus end to end
  objects:
    - DataObject: {id: level, dataType: Float, data: 42.5}
    - DataObject:
        id: setpoint
        dataType: Float
        data: 20.0
        onDataChanged: print("SETPOINT", value)
    - ModbusTcpServer:
        id: mb
        networkAddress: 127.0.0.1
        networkPort: 15020
        vendorName: Acme
        onClientConnected: print("CONNECTED", address)
        onRegistersDataChanged: print("CHANGED", index)
        objects:
          - ModbusRegister:
              type: Input
              address: 0
              dataType: Float
              data: !bind level.data * 2
          - ModbusRegister:
              type: Holding
              address: 10
              dataType: Float
              data: !bind setpoint.data
              onDataChanged: setpoint.data = value
          - ModbusRegister:
              type: Coil
              address: 3
              onDataChanged: |
                if value:
                    level.data = 99.0
          - ModbusRegister:
              type: Holding
              address: 20
              dataType: String
              count: 4
              data: tank one
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """The subprocess's stdout, line by line, on a reader thread."""

    def __init__(self, stream) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = WAIT) -> bool:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self.seen.append(self.queue.get(timeout=left))
            except queue.Empty:
                return False
        return True


def floats(regs: list[int]) -> float:
    return struct.unpack(">f", struct.pack(">HH", *regs))[0]


def test_incore_run_serves_registers_bound_to_properties_both_ways(tmp_path) -> None:
    app = tmp_path / "modbus_e2e.yaml"
    app.write_text(APP)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "incore", "run", str(app), "--set", f"mb.networkPort={port}"]
        + ["--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    out = Lines(proc.stdout)
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
    try:
        assert until(lambda: client.connect() or proc.poll() is not None, WAIT, 0.05)
        assert proc.poll() is None, proc.stderr.read()
        assert out.wait_for("CONNECTED 127.0.0.1")
        # property -> table: the bound values and the literal are what the client reads
        assert floats(client.read_input_registers(0, count=2).registers) == 85.0
        assert floats(client.read_holding_registers(10, count=2).registers) == 20.0
        text = client.read_holding_registers(20, count=4).registers
        assert struct.pack(">4H", *text) == b"tank one"
        info = client.read_device_information(read_code=1).information
        assert info[0] == b"Acme"
        # table -> property: a client's write reaches the register and what follows it
        assert not client.write_registers(
            10, list(struct.unpack(">HH", struct.pack(">f", 37.5)))
        ).isError()
        assert out.wait_for("SETPOINT 37.5") and out.wait_for("CHANGED 1")
        assert not client.write_coil(3, True).isError()
        assert out.wait_for("CHANGED 2")
        doubled = lambda: floats(client.read_input_registers(0, count=2).registers) == 198.0  # noqa: E731
        assert until(doubled, WAIT, 0.02), "level.data * 2 never reached the table"
    finally:
        client.close()
        code, stderr = app_process.stop(proc, WAIT)
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0, stderr
