"""End to end: `incore run examples/quickstart.yaml` as a subprocess, every port it advertises
checked with the peers a user would reach for: python-snap7 on the PLC's DB, pymodbus on the
Modbus registers (and a setpoint written there reaching the PLC's memory), c104 on the IEC
104 station (interrogation, values, a pump command reaching the PLC's memory). The banner's
own one-line commands are run as printed. Then the quality path: while the PLC is off the
network the Modbus registers answer exception 04 and every IEC 104 value arrives with IV;
once it is back both are good again.

The app's ports are moved to free ones with `--set`, so parallel runs never fight over
10102, 5020 and 2404. c104's Client runs in a subprocess of its own (this file run as a
script), one per test: a second c104 Client in one process has crashed it before, and its
Init.ALL sometimes never sends STARTDT, so the helper connects with Init.NONE and unmutes.
"""

# no `from __future__ import annotations`: c104 checks callback annotations as real types

import json
import queue
import re
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"
WAIT = 20.0


def free_ports(n: int) -> list[int]:
    """`n` distinct ports that nothing listens on now."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Lines:
    """A child's stdout (or stderr) read on a thread; lines waited for with a timeout."""

    def __init__(self, stream: Any) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))

    def wait_for(self, match: Any, timeout: float = WAIT) -> str:
        """The next line for which `match` (a text it contains, or a predicate) holds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {match!r}; saw {self.seen[-30:]}") from None
            self.seen.append(line)
            if match(line) if callable(match) else match in line:
                return line


def until(condition: Any, timeout: float = WAIT, step: float = 0.05) -> Any:
    """Poll `condition` until it returns something true; that value, or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(step)


class Gateway:
    """The quickstart running on free ports: `s7`, `modbus` and `iec104` are its ports."""

    def __init__(self, *extra: str) -> None:
        self.s7, self.modbus, self.iec104 = free_ports(3)
        sets = [
            f"plc.localPort={self.s7}",
            f"s7.port={self.s7}",
            f"modbus.networkPort={self.modbus}",
            f"iec104.port={self.iec104}",
            *extra,
        ]
        args = [a for s in sets for a in ("--set", s)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "incore", "run", str(QUICKSTART), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.out = Lines(self.proc.stdout)
        self.err = Lines(self.proc.stderr)
        self.out.wait_for("values  level")  # the gateway has read the PLC once

    def stop(self) -> str:
        """Ctrl-C; the exit status must be 0. Returns stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(2)
        code = self.proc.wait(WAIT)
        time.sleep(0.1)  # the readers take the last lines
        while not self.err.queue.empty():
            self.err.seen.append(self.err.queue.get())
        stderr = "\n".join(self.err.seen)
        assert code == 0, stderr
        assert "Traceback" not in stderr and "ERROR" not in stderr, stderr
        return stderr


# -- the PLC's memory through python-snap7 -----------------------------------------------------
def plc_db(port: int) -> tuple[float, float, bool, bool, bool]:
    """DB1 as python-snap7 reads it: level, setpoint, released, running, valve open."""
    import snap7

    client = snap7.client.Client()
    client.connect("127.0.0.1", 0, 2, port)
    try:
        data = bytes(client.db_read(1, 0, 9))
    finally:
        client.disconnect()
    level, setpoint = struct.unpack(">ff", data[:8])
    return level, setpoint, bool(data[8] & 1), bool(data[8] & 2), bool(data[8] & 4)


# -- a c104 Client in a subprocess of its own ----------------------------------------------------
def plain(value: Any) -> Any:
    """A c104 value as JSON holds it: enums (Double, Step) and c104's number types as ints."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    inner = getattr(value, "value", None)
    if isinstance(inner, int):
        return inner
    try:
        return int(value)
    except (TypeError, ValueError):
        return float(value)


def c104_helper(port: int, watched: list[str]) -> None:
    """Run as `python THIS_FILE c104 PORT IOA:TYPE...`: print one JSON line per value received
    for the watched points of station 1, {"ready": ...} after the first interrogation. Stdin
    lines: `command IOA TYPE VALUE [sbo]` sends a command (VALUE an int, or a float for a
    setpoint; `sbo`: select before operate) and prints the outcome; `gi` interrogates again;
    `ci` sends a counter interrogation."""
    import c104

    from incore.protocols.iec104 import decode_asdu, decode_frame

    lock = threading.Lock()

    def say(**fields: Any) -> None:
        with lock:
            print(json.dumps(fields), flush=True)

    interrogated: set[int] = set()
    frames: list[bytes] = []

    def raw(connection: c104.Connection, data: bytes) -> None:
        frames.append(bytes(data))

    def confirmation(ioa: int, kind: str, after: int) -> bool | None:
        """The station's verdict on a command (its ACT_CON after frame `after`), if in."""
        type_id = int(getattr(c104.Type, kind))
        for data in frames[after:]:
            asdu = getattr(decode_frame(data), "asdu", None)
            if asdu is None:
                continue
            a = decode_asdu(asdu)
            if a.type_id == type_id and a.cause == 7 and a.objects[0].ioa == ioa:
                if a.negative:  # a refused select or execute
                    return False
                if not getattr(a.objects[0], "select", False):  # the execute's
                    return True
        return None

    def received(
        point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
    ) -> c104.ResponseState:
        if message.cot == c104.Cot.INTERROGATED_BY_STATION:
            interrogated.add(point.io_address)
        say(
            ioa=point.io_address,
            value=plain(point.value),
            iv=c104.Quality.Invalid in point.quality,
            cot=message.cot.name,
        )
        return c104.ResponseState.SUCCESS

    kinds = {"C_SC_NA_1": bool, "C_DC_NA_1": c104.Double, "C_RC_NA_1": c104.Step}
    client = c104.Client(tick_rate_ms=50, command_timeout_ms=3000)
    connection = client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.NONE)
    station = connection.add_station(common_address=1)
    for spec in watched:
        ioa, kind = spec.split(":")
        point = station.add_point(io_address=int(ioa), type=getattr(c104.Type, kind))
        point.on_receive(callable=received)
    connection.on_receive_raw(callable=raw)
    client.start()
    deadline = time.monotonic() + WAIT
    while connection.state not in (c104.ConnectionState.OPEN, c104.ConnectionState.OPEN_MUTED):
        assert time.monotonic() < deadline, connection.state
        time.sleep(0.02)
    if connection.state == c104.ConnectionState.OPEN_MUTED:  # STARTDT not sent on its own
        connection.unmute()
    # c104's verdicts come from its own threads and race (an interrogation it was answered
    # for sometimes returns False after its timeout): the values and frames received decide
    connection.interrogation(1)
    ioas = {int(spec.split(":")[0]) for spec in watched}
    while not ioas <= interrogated and time.monotonic() < deadline + WAIT:
        time.sleep(0.02)
    say(ready=ioas <= interrogated)
    commands: dict[int, Any] = {}
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["gi"]:
            say(gi=connection.interrogation(1))
        elif words[:1] == ["ci"]:
            say(ci=connection.counter_interrogation(1))
        elif words[:1] == ["command"]:
            ioa, kind, text = int(words[1]), words[2], words[3]
            if ioa not in commands:
                commands[ioa] = station.add_point(io_address=ioa, type=getattr(c104.Type, kind))
                if words[4:5] == ["sbo"]:
                    commands[ioa].command_mode = c104.CommandMode.SELECT_AND_EXECUTE
            make = kinds.get(kind)
            commands[ioa].value = make(int(text)) if make else float(text)
            after = len(frames)
            verdict = commands[ioa].transmit(cause=c104.Cot.ACTIVATION)
            end = time.monotonic() + WAIT
            while (ok := confirmation(ioa, kind, after)) is None and time.monotonic() < end:
                time.sleep(0.02)
            say(command=ioa, ok=ok, c104=verdict)
        elif words[:1] == ["quit"]:
            break
    client.stop()


class C104:
    """The c104 helper as seen from a test: its values in order, and its commands."""

    def __init__(self, port: int, *watched: str) -> None:
        watched = watched or ("1001:M_ME_TF_1", "1003:M_ME_TF_1", "1010:M_SP_TB_1")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "c104", str(port), *watched],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = Lines(self.proc.stdout)
        self.values: list[dict] = []

    def next(self, match: Any, timeout: float = WAIT) -> dict:
        """The next message for which `match` holds (values are kept in `values`)."""

        def check(line: str) -> bool:
            message = json.loads(line)
            if "ioa" in message:
                self.values.append(message)
            return match(message)

        return json.loads(self.lines.wait_for(check, timeout))

    def seen(self, match: Any, timeout: float = WAIT) -> dict:
        """A value for which `match` holds: one received already, or the next one."""
        found = [v for v in self.values if match(v)]
        return found[0] if found else self.next(match, timeout)

    def latest(self, ioa: int) -> dict:
        """The last value received for `ioa` (after reading what has arrived)."""
        while not self.lines.queue.empty():
            line = self.lines.queue.get_nowait()
            self.lines.seen.append(line)
            message = json.loads(line)
            if "ioa" in message:
                self.values.append(message)
        return [v for v in self.values if v["ioa"] == ioa][-1]

    def send(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def command(self, ioa: int, value: Any, kind: str = "C_SC_NA_1", sbo: bool = False) -> bool:
        """Send a command (a bool or an int: its number; a float: a setpoint); confirmed?"""
        text = str(int(value)) if isinstance(value, (bool, int)) else repr(float(value))
        self.send(f"command {ioa} {kind} {text}" + (" sbo" if sbo else ""))
        return self.next(lambda m: m.get("command") == ioa)["ok"]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(WAIT)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(WAIT)
        err = self.proc.stderr.read()
        assert self.proc.returncode == 0, err


# -- the tests ----------------------------------------------------------------------------------
def test_the_banner_names_the_ports_and_its_commands_work():
    gw = Gateway("outage.running=false")
    try:
        banner = "\n".join(gw.out.seen)
        for name, port in (("S7", gw.s7), ("Modbus", gw.modbus), ("IEC 104", gw.iec104)):
            assert re.search(rf"^  {name} +127\.0\.0\.1:{port} ", banner, re.M), banner
        assert "--watch" in banner
        commands = re.findall(r'^  (python -c ".*")$', banner, re.M)
        assert len(commands) == 3, banner
        outputs = []
        for command in commands:
            argv = shlex.split(command)
            assert argv[0] == "python"
            done = subprocess.run(
                [sys.executable, *argv[1:]], capture_output=True, text=True, timeout=WAIT
            )
            assert done.returncode == 0, (command, done.stderr)
            outputs.append(done.stdout.strip())
        # python-snap7 read the level; pymodbus wrote the setpoint 75 and read it back;
        # c104 blocked the pump, and the station confirmed it
        assert re.fullmatch(r"level \d+\.\d+", outputs[0]), outputs
        assert outputs[1:] == ["setpoint 75.0", "pump blocked True"], outputs
        # ... and both commands reached the PLC's memory
        until(lambda: plc_db(gw.s7)[1:3] == (75.0, False))
    finally:
        gw.stop()


def test_every_port_serves_the_plc_and_commands_reach_it():
    from pymodbus.client import ModbusTcpClient

    gw = Gateway("outage.running=false")
    peer = C104(gw.iec104)
    mb = ModbusTcpClient("127.0.0.1", port=gw.modbus)
    try:
        assert mb.connect()
        f32 = ModbusTcpClient.DATATYPE.FLOAT32
        # the same level through S7 (the PLC itself) and Modbus (the gateway), 250 ms apart
        level, setpoint, released, running, valve = plc_db(gw.s7)
        regs = mb.read_input_registers(0, count=4)
        assert not regs.isError(), regs
        mb_level = ModbusTcpClient.convert_from_registers(regs.registers[:2], f32)
        volume = ModbusTcpClient.convert_from_registers(regs.registers[2:], f32)
        assert abs(mb_level - level) < 5.0 and abs(volume - mb_level * 20.0) < 0.01
        bits = mb.read_discrete_inputs(0, count=4)
        assert bits.bits[0] is released is True and bits.bits[3] is False  # no alarm

        # c104: the interrogation answers every point; the setpoint is the PLC's
        assert peer.next(lambda m: "ready" in m)["ready"] is True
        while not {1001, 1003, 1010} <= {v["ioa"] for v in peer.values}:
            peer.next(lambda m: True)
        got = {v["ioa"]: v for v in peer.values if v["cot"] == "INTERROGATED_BY_STATION"}
        assert got[1003]["value"] == setpoint == 60.0 and not got[1003]["iv"]
        assert got[1010]["value"] is True and abs(got[1001]["value"] - level) < 5.0

        # Modbus -> S7: a holding register written by pymodbus is the PLC's setpoint ...
        written = mb.write_registers(10, ModbusTcpClient.convert_to_registers(42.5, f32))
        assert not written.isError(), written
        until(lambda: plc_db(gw.s7)[1] == 42.5)
        # ... and IEC 104 clients hear of it spontaneously
        peer.seen(lambda m: m.get("ioa") == 1003 and m["value"] == 42.5)

        # IEC 104 -> S7: the pump command reaches DB1.DBX8.0, both ways
        assert peer.command(2001, False) is True
        until(lambda: plc_db(gw.s7)[2] is False)
        peer.seen(lambda m: m.get("ioa") == 1010 and m["value"] is False)
        assert peer.command(2001, True) is True
        until(lambda: plc_db(gw.s7)[2] is True)
        assert mb.read_discrete_inputs(0, count=1).bits[0] is True or until(
            lambda: mb.read_discrete_inputs(0, count=1).bits[0]
        )
    finally:
        mb.close()
        peer.close()
        stderr = gw.stop()
    assert "WriteError" not in stderr  # nothing wrote the PLC before it was connected


def test_quality_flows_while_the_plc_is_off_the_network():
    from pymodbus.client import ModbusTcpClient

    # one outage, 4 s after the start, for 3 s
    gw = Gateway("outage.interval=4000", "outage.repeat=false", "outageEnd.interval=3000")
    peer = C104(gw.iec104)
    mb = ModbusTcpClient("127.0.0.1", port=gw.modbus)
    try:
        assert mb.connect()
        assert peer.next(lambda m: "ready" in m)["ready"] is True
        assert not [v for v in peer.values if v["iv"]]  # all good before the outage
        assert not mb.read_input_registers(0, count=2).isError()

        gw.out.wait_for("OUTAGE  the PLC is off the network")
        # Modbus: no stale number, exception 04 (server device failure)
        answer = until(lambda: (r := mb.read_input_registers(0, count=2)).isError() and r)
        assert answer.exception_code == 4
        assert mb.read_holding_registers(10, count=2).exception_code == 4
        # IEC 104: the level arrives flagged invalid; a command that cannot reach the PLC
        # is refused
        before = [v["value"] for v in peer.values if v["ioa"] == 1001][-1]
        peer.next(lambda m: m.get("ioa") == 1001 and m["iv"])
        assert peer.command(2001, False) is False
        assert "values  level" in gw.out.wait_for("BAD (")

        gw.out.wait_for("OUTAGE  over")
        until(lambda: not mb.read_input_registers(0, count=2).isError())
        after = peer.next(lambda m: m.get("ioa") == 1001 and not m["iv"])
        # the first good level after the outage is a fresh read, not the last one before it
        # (the tank never stands still)
        assert after["value"] != before
        # every value of the PLC went out invalid meanwhile, and an interrogation now answers
        # them all as good
        assert {v["ioa"] for v in peer.values if v["iv"]} == {1001, 1003, 1010}, peer.values
        peer.send("gi")
        peer.next(lambda m: "gi" in m)
        last = {v["ioa"]: v for v in peer.values}
        assert not any(v["iv"] for v in last.values()), last
    finally:
        mb.close()
        peer.close()
        gw.stop()


if __name__ == "__main__" and sys.argv[1:2] == ["c104"]:
    c104_helper(int(sys.argv[2]), sys.argv[3:])
