"""End to end: an app file with an IEC104Client, an IEC104Connection and its points, run by
`incore run` as a subprocess against c104's Server: the station's values reach bound
properties (with quality), a value the app derives becomes a command the station's
callback receives, a refused command is reported, and while the station is away the
bound value is Bad until the connection is back."""

# no `from __future__ import annotations`: the support module defines c104 callbacks

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
import c104
from test_iec104_client_support import C104Station, needs_proc, station, until  # noqa: F401

REPO = Path(__file__).resolve().parents[3]
WAIT = 20.0

pytestmark = needs_proc

APP = """\
Application:
  name: IEC 104 client end to end
  objects:
    - IEC104Client:
        id: master
        objects:
          - IEC104Connection:
              id: rtu
              ip: 127.0.0.1
              port: 2404
              timeout: 2000
              reconnectInterval: 50
              maxReconnectInterval: 200
              onStateChanged: print("STATE", state.name, flush=True)
              onCommandFinished: print("COMMAND", point.ioa, ok, flush=True)
              objects:
                - IEC104Point: {id: level, ioa: 1001, type: M_ME_NC_1}
                - IEC104Point: {id: breaker, ioa: 1002, type: M_SP_NA_1}
                - IEC104Point: {id: pump, ioa: 2001, type: C_SC_NA_1}
    - Measurement:
        id: tank
        data: !bind level.data
        onDataChanged: print("VALUE tank", repr(value), flush=True)
        onQualityChanged: print("QUALITY tank", quality.name, flush=True)
    - DataObject:
        data: !bind breaker.data
        onDataChanged: print("VALUE breaker", repr(value), flush=True)
    - DataObject:
        id: wanted
        data: !bind tank.data is not None and tank.data > 80
        onDataChanged: pump.value = value
"""


def _command() -> list[str]:
    """`incore run` (python -m incore), with the IEC 104 client types registered: by the
    package itself once it imports them, else imported first (asked of a fresh process:
    this one has imported them already)."""
    probe = (
        "import incore.objects as o, sys; sys.exit('IEC104Connection' not in o.registry.names())"
    )
    probe = probe.replace("o.registry", "__import__('incore.core').core.registry")
    if subprocess.run([sys.executable, "-c", probe], cwd=REPO).returncode == 0:
        return [sys.executable, "-m", "incore"]
    prelude = "import sys, incore.objects.iec104.client; from incore.cli import main; "
    return [sys.executable, "-c", prelude + "sys.exit(main())"]


class Lines:
    """The subprocess's stdout, line by line, on a reader thread."""

    def __init__(self, stream) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

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


def last(lines: list[str], what: str) -> str | None:
    found = None
    for line in lines:
        m = re.match(rf"{what} (.+)$", line)
        if m:
            found = m[1]
    return found


def test_incore_run_mirrors_a_c104_station_and_commands_it(tmp_path, station):
    app = tmp_path / "iec104_client_e2e.yaml"
    app.write_text(APP)
    proc = subprocess.Popen(
        [*_command(), "run", str(app), "--set", f"rtu.port={station.port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    out = Lines(proc.stdout)
    try:
        if not out.wait_for(lambda seen: "STATE Open" in seen):
            proc.wait(WAIT)
            raise AssertionError(f"{out.seen}\n{proc.stderr.read()}")
        # station -> app: the interrogation's values, then spontaneous ones
        assert out.wait_for(lambda seen: last(seen, "VALUE tank") == "23.5"), out.seen
        assert out.wait_for(lambda seen: last(seen, "VALUE breaker") == "True"), out.seen
        station.points[1002].value = False
        assert station.points[1002].transmit(cause=c104.Cot.SPONTANEOUS)
        assert out.wait_for(lambda seen: last(seen, "VALUE breaker") == "False"), out.seen
        # station -> app -> station: above 80 the app switches the pump on
        station.points[1001].value = 91.0
        assert station.points[1001].transmit(cause=c104.Cot.SPONTANEOUS)
        assert out.wait_for(lambda seen: "COMMAND 2001 True" in seen), out.seen
        assert until(lambda: (2001, True, False) in station.commands, WAIT)
        # refused by the station's callback: reported, not confirmed
        station.refuse.add(2001)
        station.points[1001].value = 12.0
        assert station.points[1001].transmit(cause=c104.Cot.SPONTANEOUS)
        assert out.wait_for(lambda seen: "COMMAND 2001 False" in seen), out.seen
        assert until(lambda: (2001, False, False) in station.commands, WAIT)
        # the station goes away: the bound value is Bad; back: Good with a fresh GI value
        station.stop()
        assert out.wait_for(lambda seen: last(seen, "QUALITY tank") == "Bad"), out.seen
        assert last(out.seen, "VALUE tank") == "12.0"  # the last value is kept
        station.points = {}
        station.start()
        station.points[1001].value = 55.5
        assert out.wait_for(lambda seen: last(seen, "VALUE tank") == "55.5"), out.seen
        assert out.wait_for(lambda seen: last(seen, "QUALITY tank") == "Good"), out.seen
    finally:
        code, stderr = app_process.stop(proc, WAIT)
        proc.stdout.close()
        proc.stderr.close()
    assert code == 0, stderr
