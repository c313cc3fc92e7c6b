"""End to end: examples/iec104_server.yaml run by `incore run` as a subprocess, with a
frame-by-frame master (and raw sockets) as the outside world: monitoring points bound to properties,
commands changing bound properties or refused by a handler, select-before-operate,
allowedClients (a client from 127.0.0.2 is refused) and maxConnections. c104's Client
is the peer of test_iec104_server_c104.py; here it is not, because a second c104 Client in
one test process sometimes crashes (a segmentation fault in its native code while its
connection state is read), which would take the whole test run with it."""

from __future__ import annotations

import datetime
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import app_process
from test_iec104_server_support import RawMaster
from waiting import listening, until

from incore.protocols.iec104 import (
    Asdu,
    Cause,
    ClockSync,
    Cp56Time,
    Interrogation,
    SetpointFloat,
    SingleCommand,
    TypeId,
    UFunction,
    u_frame,
)

ACT = Cause.ACTIVATION

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


def start_master(port: int) -> RawMaster:
    """A master with data transfer on; at maxConnections 1 the probes before it may still
    hold the one place for a moment (the server has not read their close yet): retry."""
    deadline = time.monotonic() + WAIT
    while True:
        m = RawMaster(port)
        m.startdt()
        if until(lambda m=m: m.started() or m.closed.is_set(), 2.0) and m.started():
            return m
        m.close()
        assert time.monotonic() < deadline, "the station never started data transfer"


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
    m = None
    try:
        assert until(lambda: listening(port) or proc.poll() is not None, WAIT, 0.05)
        assert proc.poll() is None, proc.stderr.read()
        assert refused(port, "127.0.0.2")  # allowedClients
        m = start_master(port)
        assert refused(port)  # maxConnections 1: a second client is turned away
        m.send(Asdu(TypeId.C_IC_NA_1, ACT, 1, (Interrogation(0, 20),)))
        assert until(lambda: m.find(100, Cause.ACTIVATION_TERMINATION), WAIT)
        answered = {o.ioa: o.value for a in m.find(None, 20) for o in a.objects}
        assert answered[1003] == 80.0 and answered[1002] is False  # bound to properties
        now = Cp56Time.from_datetime(datetime.datetime.now(datetime.timezone.utc))
        m.send(Asdu(TypeId.C_CS_NA_1, ACT, 1, (ClockSync(0, now),)))
        assert out.wait_for("clock sync from 127.0.0.1")

        def latest(ioa: int):
            found = [o.value for a in list(m.asdus) for o in a.objects if o.ioa == ioa]
            return found[-1] if found else None

        # the level changes by itself: spontaneous values of a bound point
        assert until(lambda: m.find(36, Cause.SPONTANEOUS), WAIT)
        # the handler refuses to start the pump while the tank is low (level 2 %)...
        pump_on = Asdu(TypeId.C_SC_NA_1, ACT, 1, (SingleCommand(2001, True),))
        m.send(pump_on)
        assert until(lambda: m.find(45, Cause.ACTIVATION_CON), WAIT)
        assert m.find(45, Cause.ACTIVATION_CON)[0].negative and latest(1002) is False
        # ...and accepts once the level is up: pump.data follows, the state point reports it
        assert until(lambda: (latest(1001) or 0.0) >= 6.0, WAIT)
        m.send(pump_on)
        assert until(lambda: m.find(45, Cause.ACTIVATION_TERMINATION), WAIT)
        assert until(lambda: latest(1002) is True, WAIT)
        # a setpoint, select-before-operate; the bound monitoring point follows
        for select in (True, False):
            m.send(Asdu(TypeId.C_SE_NC_1, ACT, 1, (SetpointFloat(2002, 55.5, select),)))
        assert until(lambda: latest(1003) == 55.5, WAIT)
        confirmations = [(a.objects[0].select, a.negative) for a in m.find(50, 7)]
        assert confirmations == [(True, False), (False, False)]
    finally:
        if m is not None:
            m.close()
        code, stderr = app_process.stop(proc, WAIT)
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0, stderr
