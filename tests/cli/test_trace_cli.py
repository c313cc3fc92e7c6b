"""`incore run APP --trace FILE`: every frame of an app's S7 and Modbus connections, read
back by tshark with its S7comm and Modbus/TCP dissectors.

The app serves S7 and Modbus TCP on free non-privileged ports and reads and writes both
with its own clients, so the capture holds both ends of each protocol (each connection
once: both of its ends are in the process). tshark must dissect every segment that carries
bytes, flag nothing (checksums checked too), and find as many replies as requests.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

WAIT = 30.0

APP = """\
Application:
  id: app
  objects:
    - S7Server:
        id: plc
        networkAddress: 127.0.0.1
        localPort: {s7}
        objects:
          - S7ServerArea: {{area: DB, index: 1, size: 8}}
    - S7Client:
        id: line
        hostname: 127.0.0.1
        port: {s7}
        slot: 2
        objects:
          - S7Variable:
              id: level
              name: DB1.DBD0:REAL
              objects:
                - Polling: {{on: data, interval: 50}}
          - S7Variable: {{id: pump, name: DB1.DBX4.0}}
    - ModbusTcpServer:
        id: device
        networkAddress: 127.0.0.1
        networkPort: {mb}
        objects:
          - ModbusRegister: {{id: tank, type: Holding, address: 0, data: 7}}
          - ModbusRegister: {{id: coil, type: Coil, address: 0, data: false}}
    - ModbusTcpClient:
        id: controller
        networkAddress: 127.0.0.1
        networkPort: {mb}
        objects:
          - ModbusSlave:
              address: 1
              objects:
                - Polling: {{on: registers, interval: 50}}
                - ModbusRegister: {{id: remoteTank, type: Holding, address: 0}}
                - ModbusRegister: {{id: remoteCoil, type: Coil, address: 0, data: false}}
    - Timer:
        interval: 100
        properties: {{ticks: int}}
        onTriggered: |
          ticks = ticks + 1
          pump.data = ticks % 2 == 0
          remoteCoil.data = ticks % 2 == 1
          if ticks == 15:
              print("reads", level.data, remoteTank.data)
              app.quit()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tshark(capture: Path, display_filter: str, *fields: str) -> list[list[str]]:
    """Rows of `fields` of the frames that match, TCP and IP checksums checked."""
    exe = shutil.which("tshark")
    assert exe, "tshark is required for this test (Debian package 'tshark')"
    args = [exe, "-r", str(capture), "-o", "tcp.check_checksum:TRUE"]
    args += ["-o", "ip.check_checksum:TRUE", "-Y", display_filter, "-T", "fields"]
    for field in fields or ("frame.number",):
        args += ["-e", field]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t") for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def traced(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, int, int]:
    """One traced run of the app, shared by the tests below."""
    folder = tmp_path_factory.mktemp("trace")
    s7, mb = free_port(), free_port()
    app = folder / "app.yaml"
    app.write_text(APP.format(s7=s7, mb=mb))
    capture = folder / "app.pcap"
    done = subprocess.run(
        [sys.executable, "-m", "incore", "run", str(app), "--trace", str(capture)],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 0, done.stderr
    assert "reads 0.0 7" in done.stdout, done.stdout + done.stderr
    return capture, done, s7, mb


def test_every_segment_with_bytes_is_dissected_as_s7comm_or_modbus(traced):
    capture = traced[0]
    assert tshark(capture, "tcp.len > 0")  # the capture holds traffic at all
    undissected = tshark(
        capture, "tcp.len > 0 && !(cotp || s7comm || mbtcp) && !tcp.reassembled_in"
    )
    assert undissected == []
    # the check can fail: a segment on no known port is not dissected
    assert tshark(capture, "tcp.port == 102 && tcp.len > 0")


def test_tshark_flags_nothing_not_even_a_checksum_or_a_sequence_gap(traced):
    capture = traced[0]
    problems = tshark(
        capture,
        "_ws.malformed || _ws.expert.severity >= warning",
        "frame.number",
        "_ws.expert.message",
    )
    assert problems == []


def test_requests_and_replies_pair_up_on_both_protocols(traced):
    capture = traced[0]
    # every reply answers a request; only the last requests may be unanswered (the app quit)
    jobs = tshark(capture, "s7comm.header.rosctr == 1", "s7comm.header.pduref")
    acks = tshark(capture, "s7comm.header.rosctr == 3", "s7comm.header.pduref")
    assert len(jobs) >= 10  # polls every 50 ms for 1.5 s, and pump writes
    assert acks == jobs[: len(acks)] and len(jobs) - len(acks) <= 1
    writes = tshark(capture, "s7comm.param.func == 0x05 && s7comm.header.rosctr == 1")
    assert writes  # the pump, written by the Timer
    queries = tshark(capture, "mbtcp && tcp.dstport == 502", "mbtcp.trans_id")
    answers = tshark(capture, "mbtcp && tcp.srcport == 502", "mbtcp.trans_id")
    asked, answered = {int(row[0]) for row in queries}, {int(row[0]) for row in answers}
    assert len(asked) == len(queries) >= 10
    assert answered <= asked and len(asked - answered) <= 2
    assert tshark(capture, "modbus.func_code == 5 || modbus.func_code == 15")  # the coil


def test_each_connection_appears_once_with_its_handshake_and_its_end(traced):
    capture = traced[0]
    syns = tshark(capture, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "tcp.dstport")
    assert sorted(row[0] for row in syns) == ["102", "502"]  # one client each, not twice
    fins = tshark(capture, "tcp.flags.fin == 1")
    assert len(fins) == 4  # both ends of both connections said goodbye


def test_the_replaced_ports_are_logged(traced):
    _, done, s7, mb = traced
    assert f"port {s7} is written as 102 (S7comm)" in done.stderr
    assert f"port {mb} is written as 502 (Modbus/TCP)" in done.stderr


def test_a_trace_file_that_cannot_be_made_is_one_line_and_exit_2(tmp_path):
    app = tmp_path / "app.yaml"
    app.write_text("Application:\n  id: app\n")
    done = subprocess.run(
        [sys.executable, "-m", "incore", "run", str(app), "--trace", str(tmp_path / "no/x.pcap")],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("incore: No such file or directory")
