"""IEC 104 benchmark: spontaneous values delivered without loss, and command round trips.

Pairings (controlled station -> controlling station), every one in the same run:
c104's server -> c104's client, ours -> c104's client, ours -> our client (and, for
commands, c104's client -> ours and ours -> c104's server). Each station runs in a process
of its own (bench/harness.py's ChildProcess); the client side runs here.

Spontaneous values: the station sends M_ME_NC_1 values 1, 2, 3, ... of one point at a
given rate for STEP seconds, and the client records every value it gets (c104's client:
each frame on the wire, through its raw callback and our decoder; ours: each value its
point takes). A rate is lossless when every value arrived; the table gives the largest
lossless rate of each pairing and, past it, what was lost and whether the station said so
(our station counts what it had to drop in `lostEventCount`; lib60870 overwrites its
queue without a word). Issue 11's target: at least 2x the c104 server's lossless rate, and
zero silent loss at any rate.

Commands: C_SC_NA_1 sent one after the other, each waiting for its confirmation, for
COMMAND_SECONDS; round trips per second, on each pairing and with two setups of the
station's command point: nothing decides its commands (c104 confirms them itself, ours from
the connection's thread), or a Python callback that accepts them all decides (c104's
on_receive; our received callback, which runs in the app loop's turn). Every pairing gets
COMMAND_TURNS turns on a fresh connection, the pairings taking turns. Target: ours at least
the c104 pairing's.

    python -m bench.iec104                (make bench runs it too)

This file doubles as the station process: `--serve KIND PORT`.
"""

# no `from __future__ import annotations`: c104 checks callback annotations as real types

import argparse
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.harness import ChildProcess, free_port

RATES = (500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
STEP = 2.0  # seconds of sending per rate
SETTLE = 1.5  # seconds without a new value that end the wait for the rest
COMMAND_SECONDS = 4.0
COMMAND_TURNS = 4  # the best turn counts
VALUE_IOA, COMMAND_IOA = 1, 100


# -- station processes ---------------------------------------------------------------------------
def _pace(rate: int, count: int, send: Callable[[int], None]) -> float:
    """Call `send(i)` for i in 0..count-1 at `rate` per second; the seconds it took."""
    start = time.perf_counter()
    for i in range(count):
        due = start + i / rate
        while time.perf_counter() < due:
            pass
        send(i)
    return time.perf_counter() - start


def serve_c104(port: int, decides: bool = False) -> None:
    """c104's station; `decides`: its command point has an on_receive callback (which
    accepts every command), else it has none and c104 confirms commands itself."""
    import c104

    server = c104.Server(ip="127.0.0.1", port=port, tick_rate_ms=50)
    station = server.add_station(common_address=1)
    value = station.add_point(io_address=VALUE_IOA, type=c104.Type.M_ME_NC_1)
    command = station.add_point(io_address=COMMAND_IOA, type=c104.Type.C_SC_NA_1)

    def on_command(
        point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
    ) -> c104.ResponseState:
        return c104.ResponseState.SUCCESS

    if decides:
        command.on_receive(callable=on_command)
    server.start()
    print("ready", flush=True)

    def send(base: int) -> Callable[[int], None]:
        def one(i: int) -> None:
            value.value = float(base + i)
            value.transmit(cause=c104.Cot.SPONTANEOUS)

        return one

    for line in sys.stdin:
        _, rate, count, base = line.split()
        took = _pace(int(rate), int(count), send(int(base)))
        print(f"sent {took:.3f} 0", flush=True)  # lib60870 says nothing of what it drops
    server.stop()


def serve_incore(port: int, decides: bool = False) -> None:
    """Our station; `decides`: its command point has a received callback (which accepts
    every command, as c104's on_receive above), else nothing can refuse a command."""
    import incore  # noqa: F401  (registers every type)
    from incore.core import EventLoop, set_loop
    from incore.objects.iec104 import IEC104Point, IEC104Server, IEC104Station

    loop = EventLoop()
    set_loop(loop)
    server = IEC104Server(ip="127.0.0.1", port=port)
    station = IEC104Station(server, commonAddress=1)
    value = IEC104Point(station, ioa=VALUE_IOA, type="M_ME_NC_1", data=0.0)
    command = IEC104Point(station, ioa=COMMAND_IOA, type="C_SC_NA_1")
    if decides:
        command.setReceivedCallback(lambda point, message: True)
    server.complete()
    print("ready", flush=True)

    def burst(rate: int, count: int, base: int) -> None:
        lost0 = server.lostEventCount
        start = time.perf_counter()
        sent = 0

        def tick() -> None:
            nonlocal sent
            due = min(count, int((time.perf_counter() - start) * rate) + 1)
            while sent < due:
                value.data = float(base + sent)
                sent += 1
            if sent < count:
                loop.call_later(0.001, tick)
            else:
                took = time.perf_counter() - start
                print(f"sent {took:.3f} {server.lostEventCount - lost0}", flush=True)

        tick()

    def read_commands() -> None:
        for line in sys.stdin:
            _, rate, count, base = line.split()
            loop.post(burst, int(rate), int(count), int(base))
        loop.post(loop.stop)

    threading.Thread(target=read_commands, daemon=True).start()
    loop.run()
    server.shutdown()


SERVE = {
    "c104": serve_c104,
    "incore": serve_incore,
    "c104-callback": lambda port: serve_c104(port, decides=True),
    "incore-callback": lambda port: serve_incore(port, decides=True),
}


class Station(ChildProcess):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.port = free_port()
        cmd = [sys.executable, "-m", "bench.iec104", "--serve", kind, str(self.port)]
        super().__init__(cmd, f"{kind} station")

    def burst(self, rate: int, count: int, base: int) -> tuple[float, int]:
        """Send; (seconds it took, values the station counted as lost)."""
        _, took, lost = self.ask(f"burst {rate} {count} {base}").split()
        return float(took), int(lost)


# -- controlling stations (this process) -----------------------------------------------------------
class C104Master:
    """c104's client: the M_ME_NC_1 values on the wire (raw frames, our decoder)."""

    name = "c104 client"

    def __init__(self, port: int) -> None:
        import c104

        from incore.protocols.iec104 import decode_asdu, decode_frame

        self.values: set[int] = set()
        self.last = time.monotonic()
        self.client = c104.Client(tick_rate_ms=50, command_timeout_ms=3000)
        self.connection = self.client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.ALL)
        station = self.connection.add_station(common_address=1)
        station.add_point(io_address=VALUE_IOA, type=c104.Type.M_ME_NC_1)
        self.command = station.add_point(io_address=COMMAND_IOA, type=c104.Type.C_SC_NA_1)
        values = self.values

        def on_raw(connection: c104.Connection, data: bytes) -> None:
            frame = decode_frame(bytes(data))
            asdu = getattr(frame, "asdu", None)
            if asdu and asdu[0] == 13:
                for obj in decode_asdu(asdu).objects:
                    values.add(int(obj.value))
                self.last = time.monotonic()

        self.connection.on_receive_raw(callable=on_raw)
        self.client.start()
        deadline = time.monotonic() + 10
        while self.connection.state != c104.ConnectionState.OPEN:
            if time.monotonic() > deadline:
                raise RuntimeError(f"c104 client: {self.connection.state}")
            if self.connection.state == c104.ConnectionState.OPEN_MUTED:
                self.connection.unmute()  # it does not always send STARTDT itself
            time.sleep(0.05)

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def command_once(self) -> bool:
        """One command and its confirmation (c104's return value races its own actcon
        handling, so the wait itself is what is counted)."""
        import c104

        self.command.value = True
        self.command.transmit(cause=c104.Cot.ACTIVATION)
        return True

    def close(self) -> None:
        self.client.stop()


class IncoreMaster:
    """Our IEC104Client: the values the point takes, in order."""

    name = "our client"

    def __init__(self, port: int) -> None:
        import incore  # noqa: F401
        from incore.core import EventLoop, set_loop
        from incore.objects.iec104 import IEC104Client, IEC104Connection, IEC104Point

        self.loop = EventLoop()
        set_loop(self.loop)
        self.values: set[int] = set()
        self.last = time.monotonic()
        self.client = IEC104Client()
        self.connection = IEC104Connection(
            self.client, ip="127.0.0.1", port=port, commonAddress=1, timeout=3000
        )
        point = IEC104Point(self.connection, ioa=VALUE_IOA, type="M_ME_NC_1")
        self.command = IEC104Point(self.connection, ioa=COMMAND_IOA, type="C_SC_NA_1")

        def took(value: Any) -> None:
            if value is not None:
                self.values.add(int(value))
                self.last = time.monotonic()

        point.dataChanged.connect(took)
        self.client.complete()
        if not self.loop.run_until(lambda: self.connection.connected, 10):
            raise RuntimeError(f"our client: {self.connection.errorString}")

    def wait(self, seconds: float) -> None:
        self.loop.process_events(seconds)

    def command_once(self) -> bool:
        outcome = self.connection.command(self.command, True).result(5)
        return bool(getattr(outcome, "ok", outcome))

    def close(self) -> None:
        from incore.core import set_loop

        self.client.shutdown()
        set_loop(None)


def _burst(station: Station, master: Any, rate: int, count: int, base: int) -> tuple:
    """Have the station send while this thread keeps the client going (our client's loop
    runs here); then wait until the last value came or SETTLE passed with nothing new.
    (seconds the sending took, values the station counted as lost, values received)"""
    box: dict[str, Any] = {}
    sender = threading.Thread(target=lambda: box.update(r=station.burst(rate, count, base)))
    sender.start()
    while sender.is_alive():
        master.wait(0.05)
    sender.join()
    expected = range(base, base + count)
    master.last = time.monotonic()
    while expected[-1] not in master.values and time.monotonic() - master.last < SETTLE:
        master.wait(0.05)
    took, counted = box["r"]
    return took, counted, len(master.values.intersection(expected))


def ladder(station_kind: str, master_cls: type) -> list[tuple[int, int, int, int, float]]:
    """(rate, sent, received, counted as lost by the station, seconds) per rate."""
    rows = []
    station = Station(station_kind)
    master = None
    try:
        master = master_cls(station.port)
        base = 1
        for rate in RATES:
            count = int(rate * STEP)
            took, counted, got = _burst(station, master, rate, count, base)
            rows.append((rate, count, got, counted, took))
            base += count
            if got < count * 0.5:  # far past the limit: higher rates say nothing new
                break
    finally:
        if master is not None:
            master.close()
        station.close()
    return rows


#: A command that takes this long (seconds) is a stall, not a round trip: c104's client
#: now and then misses the actcon it raced (its transmit() starts waiting after the actcon
#: came) and waits out its whole command timeout (3 s here), which would spoil a turn.
STALL = 0.5


def command_turn(station_kind: str, master_cls: type) -> tuple[float, int]:
    """(round trips per second, stalls) in one turn of COMMAND_SECONDS / COMMAND_TURNS on a
    fresh station and client, after 20 commands to warm up. A stall (STALL) is counted
    apart, and neither it nor its time goes into the rate."""
    station = Station(station_kind)
    master = None
    try:
        master = master_cls(station.port)
        for _ in range(20):
            master.command_once()
        done = stalls = 0
        stalled = 0.0
        clock = time.perf_counter
        start = clock()
        while clock() - start - stalled < COMMAND_SECONDS / COMMAND_TURNS:
            sent = clock()
            ok = master.command_once()  # c104's verdict races its actcon: counted as sent
            took = clock() - sent
            if took >= STALL:
                stalls += 1
                stalled += took
            else:
                done += ok
        return done / (clock() - start - stalled), stalls
    finally:
        if master is not None:
            master.close()
        station.close()


def command_rates(pairings: dict[str, tuple[str, type]]) -> dict[str, tuple[float, int]]:
    """(the best of COMMAND_TURNS turns, stalls in all of them) per pairing, the pairings
    taking turns (as harness.measure does), so a busy spell of this shared machine spoils
    one turn of each rather than every turn of one."""
    best = dict.fromkeys(pairings, 0.0)
    stalls = dict.fromkeys(pairings, 0)
    for _ in range(COMMAND_TURNS):
        for name, (kind, master_cls) in pairings.items():
            rate, stalled = command_turn(kind, master_cls)
            best[name] = max(best[name], rate)
            stalls[name] += stalled
    return {name: (best[name], stalls[name]) for name in pairings}


def command_rate(station_kind: str, master_cls: type) -> float:
    """One pairing's best of COMMAND_TURNS turns (see command_rates)."""
    return command_rates({"": (station_kind, master_cls)})[""][0]


def spontaneous_table(results: dict[str, list]) -> str:
    lines = [
        "| pairing | rate /s | values sent | received | lost | counted by the station "
        "| sending took s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    summary = []
    for name, rows in results.items():
        for rate, sent, got, counted, took in rows:
            lines.append(
                f"| {name} | {rate:,} | {sent:,} | {got:,} | {sent - got:,} | {counted:,} | "
                f"{took:.2f} |"
            )
        lossless = max((r for r, s, g, _, _ in rows if g == s), default=0)
        silent = sum(max(0, (s - g) - c) for _, s, g, c, _ in rows)
        summary.append(f"{name}: lossless up to {lossless:,}/s; values lost silently: {silent:,}")
    return "\n".join(lines) + "\n\n" + "\n".join(summary)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        SERVE[args.serve[0]](int(args.serve[1]))
        return
    pairings = {
        "c104 server -> c104 client": ("c104", C104Master),
        "our server -> c104 client": ("incore", C104Master),
        "our server -> our client": ("incore", IncoreMaster),
    }
    print(f"\n## IEC 104 spontaneous M_ME_NC_1 values, {STEP:g} s per rate (unpinned)\n")
    results = {name: ladder(*pair) for name, pair in pairings.items()}
    print(spontaneous_table(results))
    theirs = max(
        (r for r, s, g, _, _ in results["c104 server -> c104 client"] if g == s), default=0
    )
    ours = max((r for r, s, g, _, _ in results["our server -> c104 client"] if g == s), default=0)
    verdict = "met" if theirs and ours >= 2 * theirs else "MISSED"
    print(f"Target (our lossless rate to c104's client >= 2x c104's): {verdict}")
    print(f"({ours:,}/s against {theirs:,}/s)")
    print(command_table())


#: The stations' command point: nothing decides (both confirm commands themselves), or a
#: Python callback that accepts every command decides (c104's on_receive, our received
#: callback), which our station runs on the app's loop.
STATION_SETUPS = {"nothing decides": "", "a callback decides": "-callback"}


def command_table() -> str:
    """Command round trips on each pairing, for both station setups, and the verdicts."""
    lines = [
        f"\n## IEC 104 command round trips (C_SC_NA_1, each confirmed), {COMMAND_SECONDS:g} s"
        f" per pairing in {COMMAND_TURNS} turns, the pairings taking turns (best turn shown;"
        f" a command that took {STALL:g} s or more is a stall, counted apart)\n",
        "| station's command point | pairing | round trips/s | stalls |",
        "|---|---|---:|---:|",
    ]
    verdicts = []
    for setup, suffix in STATION_SETUPS.items():
        pairings = {
            "c104 client -> c104 server": ("c104" + suffix, C104Master),
            "c104 client -> our server": ("incore" + suffix, C104Master),
            "our client -> our server": ("incore" + suffix, IncoreMaster),
            "our client -> c104 server": ("c104" + suffix, IncoreMaster),
        }
        rates = command_rates(pairings)
        lines += [
            f"| {setup} | {name} | {rate:,.0f} | {stalls} |"
            for name, (rate, stalls) in rates.items()
        ]
        base, mine = rates["c104 client -> c104 server"][0], rates["our client -> our server"][0]
        verdict = "met" if mine >= base else "MISSED"
        verdicts.append(f"- {setup}: {verdict} ({mine / base:.2f}x the c104 pairing)")
    lines.append("\nTarget (our pairing at least the c104 pairing's):")
    return "\n".join(lines + verdicts)


if __name__ == "__main__":
    main()
