"""`incore modbus-server` as a subprocess: the start line, a pymodbus client served, Ctrl-C
(`Operator terminated server at ...`, exit 0), the remote shutdown command, the overlaid
table, and a port in use (exit 1)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pymodbus.client import ModbusTcpClient

REPO = Path(__file__).resolve().parents[3]
WAIT = 20.0
START = re.compile(r"Starting server on port (\d+)\. \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$")


def start(*args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "incore", "modbus-server", "-h", "127.0.0.1", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(3):
        line = proc.stdout.readline().rstrip("\n")
        match = START.search(line)
        if match:
            assert proc.stdout.readline().strip() == "Server running..."
            return proc, int(match.group(1))
    proc.kill()
    raise AssertionError(f"no start line; stderr: {proc.communicate(timeout=WAIT)[1]}")


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=WAIT)
    return proc.returncode, out, err


def test_serves_until_ctrl_c() -> None:
    proc, port = start("-p", "0")
    try:
        c = ModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
        assert c.connect()
        assert not c.write_registers(100, [5, 6]).isError()
        assert c.read_holding_registers(100, count=2).registers == [5, 6]
        c.close()
    finally:
        proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc)
    assert code == 0, err
    assert re.fullmatch(r"Operator terminated server at \w{3} \w{3} [ \d]\d [\d:]{8} \d{4}\n", out)


def test_remote_shutdown_command_and_overlaid_table() -> None:
    proc, port = start("-p", "0", "-d", "o", "-q", "stopnow")
    try:
        c = ModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
        assert c.connect()
        assert not c.write_coil(18, True).isError()
        assert c.read_holding_registers(1, count=1).registers == [0x0004]
        c.close()
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            sock.sendall(b"stopnow")
        code, out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err
    assert "Remote shutdown command from 127.0.0.1" in out


def test_a_port_in_use_exits_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "incore", "modbus-server", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


@pytest.mark.parametrize("argv", [["--help"]])
def test_help_is_long_only_since_h_is_the_host(argv) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "incore", "modbus-server", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert proc.returncode == 0 and "-q WORD" in proc.stdout and "-h HOST" in proc.stdout
