"""Soak: a gateway under client load on all three protocols for ten minutes, its S7 source
restarted every 30 s. A script, not part of `make test`.

The PLC is python-snap7's server in this process: DB1.DBD0 holds a counter this script raises
every 100 ms while the PLC runs (it pauses while the PLC is stopped, so every value exists on
the PLC for a while). The gateway (`incore run`, a subprocess) polls it every 50 ms and serves
the value to Modbus TCP (a holding register), IEC 104 (a spontaneous M_ME_NC_1 point) and S7
(a mirror S7Server). The load: pymodbus and python-snap7 clients reading as fast as they get
answers, and c104's client taking the spontaneous values.

Every minute it prints the gateway's memory (RSS), threads and open file descriptors, and
what the clients saw: answers, exceptions while the PLC was away, values that went
backwards or arrived stale (a good answer older than 2 s while the PLC was up), and
counter values missing from the IEC 104 stream (a gap between two consecutive good values
while the PLC was up). The verdict at the end: memory and threads flat (the last minute
within 10 % and 2 threads of the second), nothing lost, nothing stale.

    python -m bench.soak [--minutes 10] [--restart 30]
"""

# no `from __future__ import annotations`: c104 checks callback annotations as real types

import argparse
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import REPO, free_port

APP = """\
Application:
  name: soak gateway
  objects:
    - S7Client:
        hostname: 127.0.0.1
        port: {plc}
        slot: 2
        timeout: 500
        reconnectInterval: 50
        maxReconnectInterval: 500
        objects:
          - S7Variable:
              id: counter
              name: DB1.DBD0:DINT
              objects:
                - Polling: {{on: data, interval: 50}}
    - ModbusTcpServer:
        networkAddress: 127.0.0.1
        networkPort: {modbus}
        objects:
          - ModbusRegister:
              type: Holding
              dataType: SignedInteger
              data: !bind counter.data
    - IEC104Server:
        ip: 127.0.0.1
        port: {iec104}
        objects:
          - IEC104Station:
              commonAddress: 1
              objects:
                - IEC104Point: {{ioa: 1, type: M_ME_NC_1, data: !bind counter.data}}
    - S7Server:
        networkAddress: 127.0.0.1
        localPort: {mirror}
        objects:
          - S7ServerArea: {{area: DB, index: 1, size: 8}}
          - S7Variable: {{name: DB1.DBD0:DINT, data: !bind counter.data}}
"""


def proc_stats(pid: int) -> tuple[float, int, int]:
    """(RSS MiB, threads, open file descriptors) of a process."""
    rss = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss / 1024, threads, len(os.listdir(f"/proc/{pid}/fd"))


class Plc:
    """python-snap7's server with a counter in DB1.DBD0, raised every 100 ms while it runs."""

    def __init__(self, port: int) -> None:
        self.port, self.db, self.value = port, bytearray(8), 0
        self.server = None
        self.up_since = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._count, daemon=True).start()

    def start(self) -> None:
        from snap7.server import Server
        from snap7.type import SrvArea

        with self._lock:
            server = Server(log=False)
            server.register_area(SrvArea.DB, 1, self.db)
            server.start_to("127.0.0.1", self.port)
            self.server, self.up_since = server, time.monotonic()

    def stop(self) -> None:
        with self._lock:
            if self.server is not None:
                self.server.stop()
                self.server.destroy()
                self.server = None

    @property
    def up(self) -> bool:
        return self.server is not None

    def _count(self) -> None:
        while not self._stop.wait(0.1):
            with self._lock:
                if self.server is not None:
                    self.value += 1
                    self.db[:4] = struct.pack(">i", self.value)

    def close(self) -> None:
        self._stop.set()
        self.stop()


class Tally:
    def __init__(self) -> None:
        self.answers = self.exceptions = self.backwards = self.stale = self.gaps = 0
        self.last = None
        self._lock = threading.Lock()

    def good(self, value: int, plc: Plc, fresh_since: float) -> None:
        with self._lock:
            self.answers += 1
            if self.last is not None and value < self.last:
                self.backwards += 1
            if (
                plc.up
                and time.monotonic() - plc.up_since > 3
                and value < plc.value - 20  # 2 s of counts behind the PLC
            ):
                self.stale += 1
            self.last = value

    def bad(self) -> None:
        with self._lock:
            self.exceptions += 1

    def line(self, name: str) -> str:
        return (
            f"{name}: {self.answers:,} answers, {self.exceptions:,} while the PLC was away, "
            f"{self.backwards} backwards, {self.stale} stale, {self.gaps} missing"
        )


def modbus_load(port: int, plc: Plc, tally: Tally, stop: threading.Event) -> None:
    import logging

    from pymodbus.client import ModbusTcpClient

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    while not stop.is_set():
        if not client.connected and not client.connect():
            stop.wait(0.1)
            continue
        answer = client.read_holding_registers(0, count=2)
        if answer.isError():
            tally.bad()
        else:
            tally.good(struct.unpack(">i", struct.pack(">HH", *answer.registers))[0], plc, 0)
    client.close()


def s7_load(port: int, plc: Plc, tally: Tally, stop: threading.Event) -> None:
    import logging

    import snap7

    logging.getLogger("snap7").setLevel(logging.CRITICAL)
    client = snap7.client.Client()
    while not stop.is_set():
        try:
            if not client.get_connected():
                client.connect("127.0.0.1", 0, 2, port)
            tally.good(struct.unpack(">i", client.db_read(1, 0, 4))[0], plc, 0)
        except Exception:
            tally.bad()
            stop.wait(0.1)
    client.disconnect()


def iec104_load(port: int, plc: Plc, tally: Tally):
    import c104

    from incore.protocols.iec104 import Quality, decode_asdu, decode_frame

    client = c104.Client(tick_rate_ms=50, command_timeout_ms=3000)
    connection = client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.ALL)
    connection.add_station(common_address=1).add_point(io_address=1, type=c104.Type.M_ME_NC_1)

    def on_raw(connection: c104.Connection, data: bytes) -> None:
        asdu = getattr(decode_frame(bytes(data)), "asdu", None)
        if not asdu or asdu[0] != 13:
            return
        for obj in decode_asdu(asdu).objects:
            if obj.quality & Quality.IV:
                tally.bad()
                tally.last = None  # the next good value starts a new run
                continue
            value = int(obj.value)
            if tally.last is not None and value > tally.last + 1 and plc.up:
                tally.gaps += value - tally.last - 1
            tally.good(value, plc, 0)

    connection.on_receive_raw(callable=on_raw)
    client.start()
    return client, connection


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--restart", type=float, default=30.0, help="seconds between PLC restarts")
    args = parser.parse_args(argv)
    ports = {k: free_port() for k in ("plc", "modbus", "iec104", "mirror")}
    plc = Plc(ports["plc"])
    plc.start()
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "soak.yaml"
        app.write_text(APP.format(**ports))
        gateway = subprocess.Popen(
            [sys.executable, "-m", "incore", "run", str(app), "--log-level", "WARNING"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(2.0)
        stop = threading.Event()
        tallies = {"Modbus (pymodbus)": Tally(), "S7 (python-snap7)": Tally()}
        iec = Tally()
        threads = [
            threading.Thread(
                target=modbus_load, args=(ports["modbus"], plc, tallies["Modbus (pymodbus)"], stop)
            ),
            threading.Thread(
                target=s7_load, args=(ports["mirror"], plc, tallies["S7 (python-snap7)"], stop)
            ),
        ]
        for t in threads:
            t.start()
        c104_client, connection = iec104_load(ports["iec104"], plc, iec)
        tallies["IEC 104 (c104)"] = iec
        samples = []
        start = time.monotonic()
        next_restart, next_report = start + args.restart, start + 60
        print(f"soak: {args.minutes:g} min, the PLC restarted every {args.restart:g} s")
        print("| minute | RSS MiB | threads | fds |\n|---:|---:|---:|---:|")
        try:
            while time.monotonic() - start < args.minutes * 60:
                time.sleep(0.2)
                now = time.monotonic()
                if now >= next_restart:
                    plc.stop()
                    time.sleep(2.0)  # away for two seconds
                    plc.start()
                    next_restart = now + args.restart
                if now >= next_report:
                    sample = proc_stats(gateway.pid)
                    samples.append(sample)
                    minute = round((now - start) / 60)
                    print(f"| {minute} | {sample[0]:.1f} | {sample[1]} | {sample[2]} |", flush=True)
                    next_report += 60
        finally:
            stop.set()
            for t in threads:
                t.join(10)
            c104_client.stop()
            gateway.send_signal(signal.SIGINT)
            gateway.wait(30)
            plc.close()
    print()
    for name, tally in tallies.items():
        print(tally.line(name))
    lost = sum(t.gaps + t.stale + t.backwards for t in tallies.values())
    flat = len(samples) < 2 or (
        samples[-1][0] <= samples[min(1, len(samples) - 1)][0] * 1.10
        and samples[-1][1] <= samples[min(1, len(samples) - 1)][1] + 2
    )
    print(
        f"\nVerdict: memory and threads {'flat' if flat else 'GROWING'}; "
        f"{'nothing lost or stale' if not lost else f'{lost} values lost, stale or backwards'}; "
        f"gateway exit status {gateway.returncode}"
    )


if __name__ == "__main__":
    main()
