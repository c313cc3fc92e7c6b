"""End to end: an app file with an S7Server, an S7Client and S7Variables of every Type, run by
`incore run` as a subprocess, with python-snap7 as the outside world."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import snap7
from snap7.type import Area as PyArea

from incore.objects.s7.address import Type, area_of, width_of

REPO = Path(__file__).resolve().parents[3]
WAIT = 20.0

#: width -> (offset, address letter, suffix, value the outside client writes, struct format)
LAYOUT = {
    "Bit": (0, "X", "", True, None),
    "Byte": (1, "B", "", 201, ">B"),
    "Word": (2, "W", "", 0xBEEF, ">H"),
    "DWord": (4, "D", "", 0xDEADBEEF, ">I"),
    "Int": (8, "W", ":INT", -1234, ">h"),
    "DInt": (12, "D", ":DINT", -123456789, ">i"),
    "Real": (16, "D", ":REAL", 1.5, ">f"),
}
PREFIX = {"Data": "DB1.DB", "Input": "I", "Output": "Q", "Memory": "M"}
PY_AREA = {
    "Data": (PyArea.DB, 1),
    "Input": (PyArea.PE, 0),
    "Output": (PyArea.PA, 0),
    "Memory": (PyArea.MK, 0),
}


def address_of(t: Type) -> str:
    area, width = area_of(t), width_of(t)
    offset, letter, suffix = LAYOUT[width][:3]
    letter = "" if letter == "X" and area != "Data" else letter
    return f"{PREFIX[area]}{letter}{offset}" + (".3" if width == "Bit" else "") + suffix


def app_file(tmp_path: Path) -> Path:
    variables = "\n".join(
        f"""          - S7Variable:
              name: {address_of(t)}
              onDataChanged: print("VALUE", name, repr(value))
              objects:
                - Polling: {{on: data, interval: 50}}"""
        for t in Type
    )
    text = f"""\
Application:
  name: S7 end to end
  objects:
    - S7Server:
        id: plc
        networkAddress: 127.0.0.1
        localPort: 10102
        eventMask: 8
        onEvent: print("EVENT", eventText(event))
        objects:
          - S7ServerArea: {{area: DB, index: 1, size: 64}}
          - S7ServerArea: {{area: PE, size: 32}}
          - S7ServerArea: {{area: PA, size: 32}}
          - S7ServerArea: {{area: MK, size: 32}}
          - S7Variable:
              name: DB1.DBW60
              onDataChanged: print("SERVER", name, repr(value))
    - S7Client:
        id: s7
        hostname: 127.0.0.1
        port: 10102
        slot: 2
        objects:
{variables}
          - S7Variable:
              id: echo
              name: DB1.DBW40
              data: !bind (speed.data or 0) + 1
          - S7Variable:
              id: speed
              name: DB1.DBW2
              objects:
                - Polling: {{on: data, interval: 50}}
"""
    path = tmp_path / "s7_e2e.yaml"
    path.write_text(text)
    return path


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

    def wait_for(self, predicate, timeout: float = WAIT) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate(self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self.seen.append(self.queue.get(timeout=left))
            except queue.Empty:
                return False
        return True


def values(lines: list[str], tag: str) -> dict[str, str]:
    """The last value printed per address for lines 'TAG address value'."""
    found: dict[str, str] = {}
    for line in lines:
        m = re.match(rf"{tag} (\S+) (.+)$", line)
        if m:
            found[m[1]] = m[2]
    return found


def test_incore_run_serves_maps_polls_and_writes_then_stops_on_sigterm(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "incore",
            "run",
            str(app_file(tmp_path)),
            "--set",
            f"plc.localPort={port}",
            "--set",
            f"s7.port={port}",
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
    client = snap7.client.Client()
    try:
        assert out.wait_for(lambda seen: any(l.startswith("EVENT") for l in seen)), out.seen
        assert "client connected" in next(l for l in out.seen if l.startswith("EVENT"))
        client.connect("127.0.0.1", 0, 2, port)
        expected = {}
        for t in Type:
            width = width_of(t)
            offset, _, _, value, fmt = LAYOUT[width]
            raw = struct.pack(fmt, value) if fmt else bytes((1 << 3,))
            py_area, db = PY_AREA[area_of(t)]
            client.write_area(py_area, db, offset, bytearray(raw))
            expected[address_of(t)] = repr(value)  # what the variable prints as its name
        client.db_write(1, 60, bytearray(b"\x12\x34"))
        # Every client-side variable polled its new value; the server-side one saw the write.
        assert out.wait_for(lambda seen: expected.items() <= values(seen, "VALUE").items()), {
            k: v for k, v in values(out.seen, "VALUE").items() if expected.get(k) != v
        }
        assert out.wait_for(lambda seen: values(seen, "SERVER").get("DB1.DBW60") == repr(0x1234))
        # echo.data follows speed.data (DB1.DBW2 = 0xBEEF) and is written into the server.
        deadline = time.monotonic() + WAIT
        while client.db_read(1, 40, 2) != struct.pack(">H", 0xBEF0) and time.monotonic() < deadline:
            out.wait_for(lambda seen: False, 0.05)
        assert client.db_read(1, 40, 2) == struct.pack(">H", 0xBEF0)
    finally:
        client.disconnect()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0, stderr


def test_the_s7_example_validates_and_runs(tmp_path):
    example = REPO / "examples" / "s7_plant.yaml"
    checked = subprocess.run(
        [sys.executable, "-m", "incore", "validate", str(example)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=WAIT,
    )
    assert checked.returncode == 0, checked.stderr
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "incore",
            "run",
            str(example),
            "--set",
            f"plc.localPort={port}",
            "--set",
            f"line.port={port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    out = Lines(proc.stdout)
    try:
        assert out.wait_for(lambda seen: any("level" in l for l in seen)), out.seen
        client = snap7.client.Client()
        client.connect("127.0.0.1", 0, 2, port)
        assert client.get_connected()
        client.disconnect()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=WAIT)
        proc.stdout.close()
        stderr = proc.stderr.read()
        proc.stderr.close()
    assert code == 0, stderr
