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
import subprocess
import time
from collections.abc import Callable, Sequence
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
