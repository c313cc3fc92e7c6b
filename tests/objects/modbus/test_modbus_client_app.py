"""End to end: an app file with a ModbusTcpClient, a ModbusSlave polled by a Polling child and
ModbusRegisters of each table, run by `incore run` as a subprocess against pymodbus's server:
values the device holds reach the app, and values the app computes reach the device."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import app_process
from test_modbus_client_support import DISCRETE, pymodbus_server  # noqa: F401

REPO = Path(__file__).resolve().parents[3]
WAIT = 20.0

APP = """\
Application:
  name: Modbus client end to end
  objects:
    - ModbusTcpClient:
        id: mb
        networkAddress: 127.0.0.1
        networkPort: 502
        timeout: 500
        onErrorOccurred: print("CLIENT", errorString)
        onStateChanged: print("STATE", state.name)
        objects:
          - ModbusSlave:
              address: 1
              maximumBlockGap: 8
              objects:
                - Polling: {on: registers, interval: 50}
                - ModbusRegister:
                    id: setpoint
                    type: Holding
                    address: 0
                    onDataChanged: |
                      print("VALUE setpoint", repr(value))
                      if value is not None:
                          echo.data = value * 2
                          lamp.data = value > 100
                - ModbusRegister:
                    id: level
                    type: Input
                    address: 4
                    dataType: Float
                    count: 2
                    onDataChanged: print("VALUE level", repr(value))
                - ModbusRegister:
                    type: DiscreteInput
                    address: 0
                    count: 4
                    onDataChanged: print("VALUE inputs", repr(value))
                - ModbusRegister: {id: echo, type: Holding, address: 50}
                - ModbusRegister: {id: lamp, type: Coil, address: 3}
"""


class Lines:
    """The subprocess's stdout, line by line, on a reader thread."""

    def __init__(self, stream) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)  # the process closed its output: nothing more will come

    def wait_for(self, predicate, timeout: float = WAIT) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate(self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                line = self.queue.get(timeout=left)
            except queue.Empty:
                return False
            if line is None:
                self.queue.put(None)
                return False
            self.seen.append(line)
        return True


def last(lines: list[str], name: str) -> str | None:
    found = None
    for line in lines:
        m = re.match(rf"VALUE {name} (.+)$", line)
        if m:
            found = m[1]
    return found


def test_incore_run_polls_a_pymodbus_server_and_writes_it(tmp_path, pymodbus_server):
    server = pymodbus_server
    server.set(4, 4, [0x4020, 0x0000])  # input registers 4..5: the float 2.5
    app = tmp_path / "modbus_client_e2e.yaml"
    app.write_text(APP)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "incore",
            "run",
            str(app),
            "--set",
            f"mb.networkPort={server.port}",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    out = Lines(proc.stdout)
    try:
        if not out.wait_for(lambda seen: "STATE Connected" in seen):
            proc.wait(WAIT)
            raise AssertionError(f"{out.seen}\n{proc.stderr.read()}")
        # device -> app: every table read
        assert out.wait_for(lambda seen: last(seen, "setpoint") == "0"), out.seen
        assert out.wait_for(lambda seen: last(seen, "level") == "2.5"), out.seen
        assert out.wait_for(lambda seen: last(seen, "inputs") == repr(DISCRETE[:4])), out.seen
        # device -> app -> device: the app doubles what it reads and switches the lamp
        server.set(3, 0, [21])
        assert out.wait_for(lambda seen: last(seen, "setpoint") == "21"), out.seen
        deadline = time.monotonic() + WAIT
        while server.get(3, 50) != [42] and time.monotonic() < deadline:
            out.wait_for(lambda seen: False, 0.05)
        assert server.get(3, 50) == [42]
        assert server.get(1, 3) == [False]
        server.set(3, 0, [150])
        while server.get(1, 3) != [True] and time.monotonic() < deadline + WAIT:
            out.wait_for(lambda seen: False, 0.05)
        assert server.get(3, 50) == [300] and server.get(1, 3) == [True]
        assert not any(line.startswith("CLIENT") for line in out.seen), out.seen
    finally:
        code, stderr = app_process.stop(proc, WAIT)
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0, stderr
