"""End to end: an app file whose ModbusRegister refuses clients' writes above 100
(`onWriteRequested`), run by `incore run` as a subprocess, with pymodbus's client writing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import app_process
from pymodbus.client import ModbusTcpClient
from pymodbus.pdu import ExceptionResponse
from test_modbus_server_app import REPO, WAIT, Lines, free_port
from waiting import until

APP = """\
Application:
  name: Modbus veto
  objects:
    - ModbusTcpServer:
        id: mb
        networkAddress: 127.0.0.1
        networkPort: 15020
        onClientConnected: print("CONNECTED", address)
        objects:
          - ModbusRegister:
              address: 0
              data: 10
              onWriteRequested: |
                if value > 100:
                    message.refuse("too high")
                print("ASKED", value, message.accepted, message.reason)
              onDataChanged: print("DATA", value)
"""


def test_an_app_file_refuses_writes_above_100(tmp_path) -> None:
    app = tmp_path / "modbus_veto.yaml"
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
        refused = client.write_register(0, 150)
        assert isinstance(refused, ExceptionResponse) and refused.exception_code == 4
        assert out.wait_for("ASKED 150 False too high")
        assert client.read_holding_registers(0, count=1).registers == [10]
        assert not client.write_register(0, 42).isError()
        assert out.wait_for("ASKED 42 True ") and out.wait_for("DATA 42")
        assert client.read_holding_registers(0, count=1).registers == [42]
    finally:
        client.close()
        code, stderr = app_process.stop(proc, WAIT)
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0, stderr
    assert "DATA 150" not in out.seen
