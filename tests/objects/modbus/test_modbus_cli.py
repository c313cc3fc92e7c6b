"""`incore modbus-server` as a subprocess: the start line, a pymodbus client served, Ctrl-C
(`Operator terminated server at ...`, exit 0), the remote shutdown command, the overlaid
table, and a port in use (exit 1)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymodbus.client import ModbusTcpClient

REPO = Path(__file__).resolve().parents[3]
WAIT = 20.0
#: MBAsyncServer's time, as its help shows it: `Fri Jan 02 18:53:36 2009` (day zero-padded).
TIME = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \d{4}"
VERSION = re.compile(r"incore modbus-server version \S+")
START = re.compile(rf"Starting server on port (\d+)\. {TIME}")


def start(*args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "incore", "modbus-server", "-h", "127.0.0.1", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = [proc.stdout.readline().rstrip("\n") for _ in range(3)]
    match = START.fullmatch(lines[1])
    if not (VERSION.fullmatch(lines[0]) and match and lines[2] == "Server running..."):
        proc.kill()
        raise AssertionError(f"not MBAsyncServer's start lines: {lines}; {proc.communicate()[1]}")
    return proc, int(match.group(1))


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
    assert re.fullmatch(rf"Operator terminated server at {TIME}\n", out), out


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


def test_the_time_is_written_as_mbasyncservers_help_shows_it() -> None:
    from incore.cli_modbus import now_text

    when = time.struct_time((2009, 1, 2, 18, 53, 36, 4, 2, 0))
    assert now_text(when) == "Fri Jan 02 18:53:36 2009"  # the seed's own example
    assert re.fullmatch(TIME, now_text())


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
