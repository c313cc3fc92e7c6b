"""End to end: examples/iec104_server.yaml run by `incore run` as a subprocess, with c104's
Client (and raw sockets) as the outside world: monitoring points bound to properties,
commands changing bound properties or refused by a handler, select-before-operate,
allowedClients (a client from 127.0.0.2 is refused) and maxConnections."""

# no `from __future__ import annotations`: c104 checks callback annotations as real types

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import c104

from incore.protocols.iec104 import UFunction, decode_asdu, decode_frame, u_frame

REPO = Path(__file__).resolve().parents[3]
WAIT = 20.0

#: `incore run`, once incore/objects/__init__.py registers the IEC 104 types; until then the
#: same command with the package imported first.
_BOOT = "import sys, incore.objects.iec104; from incore.cli import main; sys.exit(main())"


def incore_command() -> list[str]:
    probe = "import incore; from incore.core import registry; print(registry.get('IEC104Server'))"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    if found.stdout.strip() not in ("", "None"):
        return [sys.executable, "-m", "incore"]
    return [sys.executable, "-c", _BOOT]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """The subprocess's stdout, line by line, on a reader thread."""

    def __init__(self, stream) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = WAIT) -> bool:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self.seen.append(self.queue.get(timeout=left))
            except queue.Empty:
                return False
        return True


def until(condition, timeout: float = WAIT) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def refused(port: int, source: str = "127.0.0.1") -> bool:
    """Whether a STARTDT from `source` is met by a closed connection instead of its con."""
    with socket.socket() as s:
        s.settimeout(WAIT)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        try:
            s.sendall(u_frame(UFunction.STARTDT_ACT))
            return s.recv(16) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True


def test_incore_run_serves_the_example_station(tmp_path):
    port = free_port()
    extra = ["--set", f"station.port={port}", "--set", "station.maxConnections=1"]
    extra += ["--set", 'station.allowedClients=["127.0.0.1"]', "--set", "level.data=2.0"]
    extra += ["--set", "process.interval=1500"]  # low for long enough to be refused
    proc = subprocess.Popen(
        [*incore_command(), "run", str(REPO / "examples" / "iec104_server.yaml"), *extra]
        + ["--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
    )
    out = Lines(proc.stdout)
    client = c104.Client(tick_rate_ms=50, command_timeout_ms=3000)
    try:
        deadline = time.monotonic() + WAIT
        while True:  # until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
                time.sleep(0.05)
        assert refused(port, "127.0.0.2")  # allowedClients
        connection = client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.NONE)
        frames: list = []

        def on_raw(connection: c104.Connection, data: bytes) -> None:
            frames.append(bytes(data))

        connection.on_receive_raw(callable=on_raw)
        remote = connection.add_station(common_address=1)
        client.start()
        states = (c104.ConnectionState.OPEN_MUTED, c104.ConnectionState.OPEN)
        assert until(lambda: connection.state in states)
        if connection.state == states[0]:
            assert connection.unmute()
        assert refused(port)  # maxConnections 1: a second client is turned away
        assert connection.interrogation(1)
        assert connection.clock_sync(1)
        assert out.wait_for("clock sync from 127.0.0.1")
        assert until(lambda: remote.get_point(io_address=1003) is not None)
        assert remote.get_point(io_address=1003).value == 80.0  # bound to setpoint.data
        assert remote.get_point(io_address=1002).value is False  # bound to pump.data

        # the level changes by itself: spontaneous values of a bound point
        first = remote.get_point(io_address=1001).value
        assert until(lambda: remote.get_point(io_address=1001).value != first)

        def asdus():
            found = []
            for data in list(frames):
                frame = decode_frame(data)
                if hasattr(frame, "asdu"):
                    found.append(decode_asdu(frame.asdu))
            return found

        # the handler refuses to start the pump while the tank is low (level 2 %)...
        pump = remote.add_point(io_address=2001, type=c104.Type.C_SC_NA_1)
        pump.value = True
        pump.transmit(cause=c104.Cot.ACTIVATION)
        assert until(lambda: any(a.type_id == 45 and a.negative for a in asdus()))
        assert remote.get_point(io_address=1002).value is False
        # ...and accepts once the level is up: pump.data follows, the state point reports it
        assert until(lambda: remote.get_point(io_address=1001).value >= 6.0)
        pump.transmit(cause=c104.Cot.ACTIVATION)
        assert until(lambda: any(a.type_id == 45 and a.cause == 10 for a in asdus()))
        assert until(lambda: remote.get_point(io_address=1002).value is True)
        # a setpoint, select-before-operate; the bound monitoring point follows
        setpoint = remote.add_point(io_address=2002, type=c104.Type.C_SE_NC_1)
        setpoint.command_mode = c104.CommandMode.SELECT_AND_EXECUTE
        setpoint.value = 55.5
        setpoint.transmit(cause=c104.Cot.ACTIVATION)
        assert until(lambda: remote.get_point(io_address=1003).value == 55.5)

        def selects():
            return [a.objects[0].select for a in asdus() if a.type_id == 50 and a.cause == 7]

        assert until(lambda: selects() == [True, False]), selects()
    finally:
        client.stop()
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
