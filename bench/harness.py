"""What every server benchmark shares: child processes, their CPU time from /proc, and the
round-trip loop that measures one contender (a server process and a client talking to it).

A benchmark (bench/s7.py, bench/modbus.py) says how to start each server and how its client
makes one request; `measure` takes the turns and `server_table` prints the rows, each
against incore's. Each server runs in a process of its own, so its CPU time per request,
user and system apart, can be read from /proc. Each measure is the best of ROUNDS samples;
the CPU columns are those of the sample with the least CPU per request (its total is right
to /proc's 10 ms tick, its user/system split only as good as the kernel's tick sampling).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.placement import CPUs, at_start, pinned

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 4
TIME_BOUND = 10.0  # seconds of measuring per server and placement
WARMUP = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all its threads: utime and stime from /proc
    (what `top` counts), in clock ticks of 10 ms, so samples must be long."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


class ChildProcess:
    """A bench helper in a process of its own, from "ready" until close().

    The child prints "ready" once it is set up, answers one line for each line asked, and
    ends when its stdin closes. Used for the servers here and by bench/s7_client.py.
    """

    def __init__(
        self,
        cmd: list[str],
        what: str,
        env: dict[str, str] | None = None,
        cpus: CPUs | None = None,
        root: Path = REPO,
    ) -> None:
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
            preexec_fn=at_start(cpus),
            env={**os.environ, **(env or {}), "PYTHONPATH": str(root)},
        )
        line = self._read()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"{what} did not start (said {line!r})")

    def ask(self, line: str) -> str:
        """Send one line, return the child's one-line answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def _read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def precise_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process's live threads to the nanosecond (the scheduler's
    se.sum_exec_runtime in /proc/PID/task/TID/sched), for samples too short for the 10 ms
    ticks of `cpu_seconds`; that, user and system together, where the kernel has no such
    file. Threads that ended take their time with them: for servers whose threads live
    through the sample."""
    total, found = 0.0, False
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/sched") as lines:
                for line in lines:
                    if line.startswith("se.sum_exec_runtime"):
                        total += float(line.split(":", 1)[1]) / 1000  # milliseconds
                        found = True
                        break
        except OSError:  # the thread ended, or no scheduler statistics here
            continue
    return total if found else sum(cpu_seconds(pid))


class Contender:
    """One server process and a client making requests of it: `request()` is one round trip."""

    def __init__(
        self,
        label: str,
        server: ChildProcess,
        request: Callable[[], Any],
        disconnect: Callable[[], Any] | None = None,
    ) -> None:
        self.label = label
        self.server = server
        self.request = request
        self.disconnect = disconnect
        for _ in range(WARMUP):
            request()
        # (requests, seconds, user CPU seconds, system CPU seconds)
        self.samples: list[tuple[int, float, float, float]] = []

    def run(self, requests: int, bound: float) -> None:
        """One sample: up to `requests` round trips or `bound` seconds."""
        request = self.request
        cpu0 = cpu_seconds(self.server.proc.pid)
        start = time.perf_counter()
        deadline = start + bound
        done = 0
        while done < requests:
            request()
            done += 1
            if not done & 63 and time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - start
        user, system = cpu_seconds(self.server.proc.pid)
        self.samples.append((done, elapsed, user - cpu0[0], system - cpu0[1]))

    def result(self) -> dict[str, Any]:
        """The least disturbed sample of each measure (this machine is shared and noisy): the
        best rate, and the sample with the least CPU per request, split into user and system
        seconds per 10,000 requests (of that one sample, so that they add up)."""
        n, _, user, system = min(self.samples, key=lambda s: (s[2] + s[3]) / s[0])
        return {
            "server": self.label,
            "requests": sum(s[0] for s in self.samples),
            "rate": max(s[0] / s[1] for s in self.samples),
            "user_per_10k": user / n * 10_000,
            "sys_per_10k": system / n * 10_000,
            "cpu_per_10k": (user + system) / n * 10_000,
        }

    def close(self) -> None:
        try:
            if self.disconnect is not None:
                self.disconnect()
        finally:
            self.server.close()


def measure(
    make: Callable[[str, CPUs | None], Contender],
    kinds: Sequence[str],
    requests: int,
    placement: tuple[CPUs, CPUs] | None = None,
) -> list[dict[str, Any]]:
    """Round trips per second and server CPU seconds per 10,000 requests, per server kind.

    `make(kind, server_cpus)` starts one contender. The servers take turns, ROUNDS samples
    each, so a burst of load elsewhere on the machine spoils one sample of each rather than
    all samples of one. `placement` pins the client (this thread) and the server processes:
    (client CPUs, server CPUs); see bench/placement.py.
    """
    if placement is None:
        return _measure(make, kinds, requests, None)
    with pinned(placement[0]):
        return _measure(make, kinds, requests, placement[1])


def _measure(
    make: Callable[[str, CPUs | None], Contender],
    kinds: Sequence[str],
    requests: int,
    server_cpus: CPUs | None,
) -> list[dict[str, Any]]:
    contenders: list[Contender] = []
    try:
        for kind in kinds:
            contenders.append(make(kind, server_cpus))
        per_round = max(1, requests // ROUNDS)
        for _ in range(ROUNDS):
            for contender in contenders:
                contender.run(per_round, TIME_BOUND / ROUNDS)
        return [c.result() for c in contenders]
    finally:
        for contender in contenders:
            contender.close()


#: A/B comparison (`paired`): short turns, many of them, taken alternately.
PAIRED_TURNS = 100
PAIRED_TURN = 0.2  # seconds


def paired(
    make: Callable[[str, CPUs | None], Contender],
    kinds: tuple[str, str],
    placement: tuple[CPUs, CPUs] | None = None,
    turns: int = PAIRED_TURNS,
    turn: float = PAIRED_TURN,
) -> dict[str, Any]:
    """Two contenders (a server and its older self) measured in many short turns taken
    alternately, so that the machine's slow swings of speed fall on both alike; the CPU per
    request and the rate of each from the totals of all turns. Two copies of one server
    measured this way came out 0-4 % apart here, where the best-of-turns of `measure` put
    them up to 13 % apart: this is what a "no more than 5 % worse" rule needs.
    """
    with pinned(placement[0]) if placement else _nothing():
        contenders: list[Contender] = []
        try:
            for kind in kinds:
                contenders.append(make(kind, placement[1] if placement else None))
            totals = [[0, 0.0, 0.0] for _ in kinds]  # requests, seconds, CPU seconds
            pairs = []
            for index in range(turns):
                per_request = [0.0, 0.0]
                for which in (0, 1) if index % 2 == 0 else (1, 0):
                    done, seconds, cpu = _turn(contenders[which], turn)
                    total = totals[which]
                    total[0] += done
                    total[1] += seconds
                    total[2] += cpu
                    per_request[which] = cpu / done
                if per_request[1]:
                    pairs.append(per_request[0] / per_request[1])
        finally:
            for contender in contenders:
                contender.close()
    rows = [
        {"server": c.label, "rate": t[0] / t[1], "cpu_us": t[2] / t[0] * 1e6, "requests": t[0]}
        for c, t in zip(contenders, totals)
    ]
    quarters = statistics.quantiles(pairs, n=4) if len(pairs) > 1 else [float("nan")] * 3
    return {
        "rows": rows,
        "cpu_ratio": rows[0]["cpu_us"] / rows[1]["cpu_us"],
        "rate_ratio": rows[0]["rate"] / rows[1]["rate"],
        "pair_quartiles": (quarters[0], quarters[2]),
    }


def _turn(contender: Contender, seconds: float) -> tuple[int, float, float]:
    """Round trips for `seconds`: (requests, seconds taken, server CPU seconds)."""
    request, pid = contender.request, contender.server.proc.pid
    cpu0 = precise_cpu_seconds(pid)
    start = time.perf_counter()
    deadline = start + seconds
    done = 0
    while True:
        request()
        done += 1
        if not done & 15 and time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - start
    return done, elapsed, precise_cpu_seconds(pid) - cpu0


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def paired_table(result: dict[str, Any], limit: float = 0.05) -> str:
    """The A/B rows and the verdict on "neither CPU per request nor round trips worse by
    more than `limit`"."""
    new, old = result["rows"]
    low, high = result["pair_quartiles"]
    cpu_ok = result["cpu_ratio"] <= 1 + limit
    rate_ok = result["rate_ratio"] >= 1 - limit
    return "\n".join(
        [
            "| server | requests | round trips/s | server CPU us / request |",
            "|---|---:|---:|---:|",
            *(
                f"| {r['server']} | {r['requests']:,} | {r['rate']:,.0f} | {r['cpu_us']:.2f} |"
                for r in (new, old)
            ),
            "",
            f"{new['server']} against {old['server']}: CPU per request {result['cpu_ratio']:.3f}x "
            f"(turn pairs, middle half: {low:.2f}-{high:.2f}), round trips "
            f"{result['rate_ratio']:.3f}x. Within {limit:.0%}: "
            f"{'yes' if cpu_ok and rate_ok else 'NO'}.",
        ]
    )


def ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}x" if reference else "-"


def server_table(rows: list[dict[str, Any]]) -> str:
    """Rates and server CPU (user, system, total seconds per 10k requests), against the first
    row's (incore's)."""
    ours = rows[0]["cpu_per_10k"]
    lines = [
        "| server | requests | round trips/s | user CPU s / 10k | system CPU s / 10k | "
        "server CPU s / 10k requests | CPU vs incore |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['server']} | {row['requests']} | {row['rate']:,.0f} | "
            f"{row['user_per_10k']:.3f} | {row['sys_per_10k']:.3f} | "
            f"{row['cpu_per_10k']:.3f} | {ratio(row['cpu_per_10k'], ours)} |"
        )
    return "\n".join(lines)
