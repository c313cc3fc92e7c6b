"""S7 server benchmark: incore's S7Server object against python-snap7's and Snap7 C's servers.

One run measures all three (this machine is noisy): python-snap7 3.x's client does
`db_read(1, 0, 64)` round trips against each server, and each server runs in a process of
its own so its CPU time per request can be read from /proc. The client is the same for
all three, so differences in round trips per second and in server CPU are the servers'.
Then the S7 client benchmark (bench/s7_client.py) adds its rows, when it is present.

    python -m bench.s7                   (or: make bench)
    python -m bench.s7 --profile incore  (cProfile of our server's connection thread)

This file doubles as the server process: `--serve KIND PORT` (run by main). The Snap7 C
server runs under .venv-snap7c's interpreter, which has no incore, so every import of a
server's library happens inside its serve function.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
REQUESTS = 20_000  # per server, in ROUNDS samples; the time bound ends slow servers first
ROUNDS = 4
TIME_BOUND = 16.0  # seconds of measuring per server
WARMUP = 300
DB_SIZE = 1024
SERVERS = ("incore", "python-snap7", "snap7-c")


# -- server processes ---------------------------------------------------------------------------
def _wait_for_quit() -> None:
    """Serve until the benchmark closes our stdin (or sends a line)."""
    sys.stdin.readline()


def serve_incore(port: int, profile: str | None = None) -> None:
    import incore  # noqa: F401  (registers every type)
    from incore.core import EventLoop, set_loop
    from incore.objects.s7 import S7Server, S7ServerArea

    loop = EventLoop()
    set_loop(loop)
    server = S7Server(networkAddress="127.0.0.1", localPort=port,
                      objects=[S7ServerArea(area="DB", index=1, size=DB_SIZE)])
    profiler = _profile_connections(profile) if profile else None
    server.complete()
    print("ready", flush=True)
    threading.Thread(target=lambda: (_wait_for_quit(), loop.post(loop.stop)), daemon=True).start()
    loop.run()
    server.shutdown()
    if profiler is not None:
        profiler()


def _profile_connections(path: str) -> Callable[[], None]:
    """cProfile every S7 connection's handler; returns a function that writes the stats."""
    import cProfile
    import pstats

    from incore.objects.s7 import server_connection

    profiles: dict[int, cProfile.Profile] = {}  # by handler id (handlers have __slots__)
    original = server_connection.S7Connection.data_received

    def profiled(self: Any, data: bytes) -> None:
        prof = profiles.get(id(self))
        if prof is None:
            prof = profiles[id(self)] = cProfile.Profile()
        prof.runcall(original, self, data)

    server_connection.S7Connection.data_received = profiled  # type: ignore[method-assign]

    def write() -> None:
        if profiles:
            pstats.Stats(*profiles.values()).dump_stats(path)

    return write


def serve_python_snap7(port: int) -> None:
    import logging

    from snap7.server import Server
    from snap7.type import SrvArea

    logging.disable(logging.INFO)
    server = Server(log=False)
    server.register_area(SrvArea.DB, 1, bytearray(DB_SIZE))
    server.start_to("127.0.0.1", port)
    print("ready", flush=True)
    _wait_for_quit()
    server.stop()


def serve_snap7_c(port: int) -> None:
    import ctypes

    from snap7.server import Server
    from snap7.type import SrvArea

    server = Server(log=False)
    area = (ctypes.c_uint8 * DB_SIZE)()
    server.register_area(SrvArea.DB, 1, area)
    server.start_to("127.0.0.1", port)
    print("ready", flush=True)
    _wait_for_quit()
    server.stop()
    server.destroy()


# -- the measuring side -------------------------------------------------------------------------
def snap7c_python() -> str:
    return os.environ.get("INCORE_SNAP7C_PYTHON") or str(REPO / ".venv-snap7c" / "bin" / "python")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (what `top` counts)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerProcess:
    """A server of one kind in its own process, on a free port, until close()."""

    def __init__(self, kind: str, profile: str | None = None) -> None:
        self.kind = kind
        self.port = free_port()
        python = snap7c_python() if kind == "snap7-c" else sys.executable
        cmd = [python, str(Path(__file__).resolve()), "--serve", kind, str(self.port)]
        if profile:
            cmd += ["--profile-file", profile]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=REPO,
                                     env={**os.environ, "PYTHONPATH": str(REPO)})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"{kind} server did not start (said {line!r})")

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
    """One server process and a python-snap7 client connected to it."""

    def __init__(self, kind: str, profile: str | None = None) -> None:
        import snap7

        self.kind = kind
        self.server = ServerProcess(kind, profile)
        self.client = snap7.client.Client()
        self.client.connect("127.0.0.1", 0, 2, self.server.port)
        for _ in range(WARMUP):
            self.client.db_read(1, 0, 64)
        self.samples: list[tuple[int, float, float]] = []  # (requests, seconds, cpu seconds)

    def run(self, requests: int, bound: float) -> None:
        """One sample: up to `requests` round trips or `bound` seconds."""
        read = self.client.db_read
        cpu0 = cpu_seconds(self.server.proc.pid)
        start = time.perf_counter()
        deadline = start + bound
        done = 0
        while done < requests:
            read(1, 0, 64)
            done += 1
            if not done & 63 and time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - start
        self.samples.append((done, elapsed, cpu_seconds(self.server.proc.pid) - cpu0))

    def result(self) -> dict[str, Any]:
        """The least disturbed sample of each measure (this machine is shared and noisy)."""
        return {"server": self.kind, "requests": sum(n for n, _, _ in self.samples),
                "rate": max(n / t for n, t, _ in self.samples),
                "cpu_per_10k": min(c / n for n, _, c in self.samples) * 10_000}

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.server.close()


def measure(kinds: tuple[str, ...] = SERVERS, requests: int = REQUESTS,
            profile: str | None = None) -> list[dict[str, Any]]:
    """Round trips per second and server CPU seconds per 10,000 requests, per server.

    The servers take turns, ROUNDS samples each, so a burst of load elsewhere on the machine
    spoils one sample of each rather than all samples of one.
    """
    import logging

    logging.getLogger("snap7").setLevel(logging.WARNING)
    contenders: list[Contender] = []
    try:
        for kind in kinds:
            contenders.append(Contender(kind, profile))
        per_round = max(1, requests // ROUNDS)
        for _ in range(ROUNDS):
            for contender in contenders:
                contender.run(per_round, TIME_BOUND / ROUNDS)
        return [c.result() for c in contenders]
    finally:
        for contender in contenders:
            contender.close()


def server_table(rows: list[dict[str, Any]]) -> str:
    ours = rows[0]
    lines = ["| server | requests | round trips/s | server CPU s / 10k requests | "
             "CPU vs incore |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        ratio = row["cpu_per_10k"] / ours["cpu_per_10k"] if ours["cpu_per_10k"] else float("nan")
        lines.append(f"| {row['server']} | {row['requests']} | {row['rate']:,.0f} | "
                     f"{row['cpu_per_10k']:.2f} | {ratio:.2f}x |")
    return "\n".join(lines)


def client_table(rows: dict[str, float]) -> str:
    """The client benchmark's rates as a table, each against python-snap7's client."""
    theirs = next((v for k, v in rows.items() if "python-snap7" in k), None)
    lines = ["| client | round trips/s | vs python-snap7 |", "|---|---:|---:|"]
    for name, rate in rows.items():
        name = name.removesuffix(", round trips/s")
        ratio = f"{rate / theirs:.2f}x" if theirs else "-"
        lines.append(f"| {name} | {rate:,.0f} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--profile-file", help=argparse.SUPPRESS)
    parser.add_argument("--profile", metavar="KIND", choices=["incore"],
                        help="profile our server's connection thread and print the top calls")
    parser.add_argument("--requests", type=int, default=REQUESTS)
    args = parser.parse_args(argv)
    if args.serve:
        kind, port = args.serve[0], int(args.serve[1])
        if kind == "incore":
            serve_incore(port, args.profile_file)
        elif kind == "python-snap7":
            serve_python_snap7(port)
        else:
            serve_snap7_c(port)
        return
    if args.profile:
        import pstats
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "server.prof")
            row = measure(("incore",), args.requests, profile=path)[0]
            print(f"{row['requests']} requests, {row['rate']:,.0f}/s")
            pstats.Stats(path).sort_stats("tottime").print_stats(25)
        return
    print(f"\n## S7 server: python-snap7 3.x client, db_read(1, 0, 64), up to {args.requests} "
          f"requests or {TIME_BOUND:.0f} s per server in {ROUNDS} turns (best turn shown)\n")
    rows = measure(SERVERS, args.requests)
    print(server_table(rows))
    ours, theirs = rows[0]["cpu_per_10k"], rows[1]["cpu_per_10k"]
    verdict = "met" if ours <= theirs / 2 else "MISSED"
    print(f"\nTarget (incore server CPU per request <= half of python-snap7's): {verdict} "
          f"({ours / theirs:.2f} of python-snap7's)")
    try:
        from bench.s7_client import client_rows
    except ImportError as exc:
        print(f"\n(S7 client benchmark not available: {exc})")
        return
    print("\n## S7 client: round trips/s of db_read(1, 0, 64) against the Snap7 C server\n")
    print(client_table(client_rows()))

if __name__ == "__main__":
    main()
