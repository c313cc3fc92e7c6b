"""S7 server benchmark: incore's S7Server object against python-snap7's and Snap7 C's servers.

One run measures them all (this machine is noisy): python-snap7 3.x's client does
`db_read(1, 0, 64)` round trips against each server, and each server runs in a process of
its own so its CPU time per request, user and system apart, can be read from /proc. The
client is the same for all, so differences in round trips per second and in server CPU are
the servers'. Each measure is the best of ROUNDS samples; the CPU columns are those of the
sample with the least CPU per request, whose total /proc gets right to a 10 ms tick but
splits into user and system by the kernel's tick sampling, so small user figures are rough.
Most server CPU is system time, and it depends on where the two ends run: a reply that
wakes a thread on the other CPU costs several times one on the same CPU (more so in a
virtual machine). So every server is measured twice, the client and the server pinned to
the same CPU and then to two CPUs (bench/placement.py), each placement with its own table.

A fourth contender, the "python floor" (bench/s7_floor.py), is a measuring stick, not a
server: a thread-per-connection loop that answers every request with a canned reply. Its
CPU per request is what any Python server pays on this machine before doing any work, so
the lines under the table set incore's CPU against python-snap7's (the target: at most
half) next to the floor's, and the reader sees whether the target is in reach at all.
Then the S7 client benchmark (bench/s7_client.py) adds its rows, when it is present.

    python -m bench.s7                   (or: make bench)
    python -m bench.s7 --profile incore  (cProfile of our server's connection thread)
    python -m bench.s7 --baseline DIR    (adds "incore before": the incore of DIR, e.g. a git
                                          worktree of an older commit, measured in the same run,
                                          and then against incore alone in many short turns)

This file doubles as the server process: `--serve KIND PORT` (run by main; KIND is one of
SERVERS). The Snap7 C server runs under .venv-snap7c's interpreter, which has no incore, so
every import of a server's library happens inside its serve function.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import (
    PAIRED_TURN,
    PAIRED_TURNS,
    REPO,
    ROUNDS,
    TIME_BOUND,
    ChildProcess,
    Contender,
    free_port,
    paired,
    paired_table,
    ratio,
    server_table,
)
from bench.harness import measure as measure_kinds
from bench.placement import CPUs, describe, placements

# per server, in ROUNDS samples long enough for /proc's 10 ms CPU ticks; the time bound
# ends slow servers first
REQUESTS = 120_000
DB_SIZE = 1024
SERVERS = ("incore", "python-snap7", "snap7-c", "floor")  # incore first, python-snap7 second
LABELS = {"floor": "python floor", "incore-before": "incore before"}  # where not the kind
BASELINE = "incore-before"  # a server kind: our server from another checkout (--baseline)
TARGET = 0.5  # incore's server CPU per request, as a fraction of python-snap7's, at most


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
    server = S7Server(
        networkAddress="127.0.0.1",
        localPort=port,
        objects=[S7ServerArea(area="DB", index=1, size=DB_SIZE)],
    )
    profiler = _profile_connections(profile) if profile else None
    server.complete()
    print("ready", flush=True)
    threading.Thread(target=lambda: (_wait_for_quit(), loop.post(loop.stop)), daemon=True).start()
    loop.run()
    server.shutdown()
    if profiler is not None:
        profiler()


def _profile_connections(path: str) -> Callable[[], None]:
    """CProfile every S7 connection's handler; returns a function that writes the stats."""
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


def serve_floor(port: int) -> None:
    from bench.s7_floor import serve

    serve(port)


# -- the measuring side -------------------------------------------------------------------------
def snap7c_python() -> str:
    return os.environ.get("INCORE_SNAP7C_PYTHON") or str(REPO / ".venv-snap7c" / "bin" / "python")


class ServerProcess(ChildProcess):
    """A server of one kind in its own process, on a free port, until close()."""

    #: The checkout whose incore serves as BASELINE (set by --baseline).
    baseline_root: Path | None = None

    def __init__(self, kind: str, profile: str | None = None, cpus: CPUs | None = None) -> None:
        self.kind = kind
        self.port = free_port()
        python = snap7c_python() if kind == "snap7-c" else sys.executable
        root = REPO
        if kind == BASELINE:
            assert self.baseline_root is not None
            kind, root = "incore", self.baseline_root
        cmd = [python, str(root / "bench" / "s7.py"), "--serve", kind, str(self.port)]
        if profile:
            cmd += ["--profile-file", profile]
        super().__init__(cmd, f"{self.kind} server", cpus=cpus, root=root)


def contender(kind: str, server_cpus: CPUs | None, profile: str | None = None) -> Contender:
    """A server of `kind` and a python-snap7 3.x client doing `db_read(1, 0, 64)` of it."""
    import logging

    import snap7

    logging.getLogger("snap7").setLevel(logging.WARNING)
    server = ServerProcess(kind, profile, server_cpus)
    try:
        client = snap7.client.Client()
        client.connect("127.0.0.1", 0, 2, server.port)
    except Exception:
        server.close()
        raise
    return Contender(
        LABELS.get(kind, kind), server, lambda: client.db_read(1, 0, 64), client.disconnect
    )


def measure(
    kinds: tuple[str, ...] = SERVERS,
    requests: int = REQUESTS,
    profile: str | None = None,
    placement: tuple[CPUs, CPUs] | None = None,
) -> list[dict[str, Any]]:
    """Round trips per second and server CPU seconds per 10,000 requests, per server."""
    return measure_kinds(lambda k, c: contender(k, c, profile), kinds, requests, placement)


def server_verdict(rows: list[dict[str, Any]]) -> str:
    """Incore's and the floor's CPU as fractions of python-snap7's, and the target's verdict."""
    by_name = {row["server"]: row for row in rows}
    ours, theirs = by_name["incore"], by_name["python-snap7"]
    floor = by_name.get(LABELS["floor"])

    def share(row: dict[str, Any], key: str = "cpu_per_10k") -> float:
        return row[key] / theirs[key] if theirs[key] else float("nan")

    lines = [
        f"Server CPU per request as a fraction of python-snap7's: incore {share(ours):.2f} "
        f"(user space only: {share(ours, 'user_per_10k'):.2f})"
        + (f", python floor {share(floor):.2f}" if floor else "")
        + "."
    ]
    if floor:
        reach = (
            "within it: the target is reachable by a Python server here"
            if share(floor) <= TARGET
            else "ABOVE it: no Python server can meet it here"
        )
        lines.append(
            f"The python floor (recv, canned reply, send) against the target of "
            f"{TARGET:g}: {reach}."
        )
    verdict = "met" if ours["cpu_per_10k"] <= TARGET * theirs["cpu_per_10k"] else "MISSED"
    lines.append(
        f"Target (incore server CPU per request <= half of python-snap7's): {verdict} "
        f"({share(ours):.2f} of python-snap7's)"
    )
    return "\n".join(lines)


def client_table(rows: dict[str, tuple[float, float]]) -> str:
    """The client benchmark's rates and client CPU, each against python-snap7's client."""
    theirs = next((v for k, v in rows.items() if "python-snap7" in k), None)
    lines = [
        "| client | round trips/s | vs python-snap7 | client CPU s / 10k requests | "
        "CPU vs python-snap7 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (rate, cpu) in rows.items():
        lines.append(
            f"| {name} | {rate:,.0f} | {ratio(rate, theirs and theirs[0])} | "
            f"{cpu:.3f} | {ratio(cpu, theirs and theirs[1])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--profile-file", help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile",
        metavar="KIND",
        choices=["incore"],
        help="profile our server's connection thread and print the top calls",
    )
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        type=Path,
        help="also measure the incore server of DIR (a checkout of an older "
        "commit) in the same run, as 'incore before'",
    )
    parser.add_argument("--servers-only", action="store_true", help="skip the client tables")
    args = parser.parse_args(argv)
    if args.serve:
        kind, port = args.serve[0], int(args.serve[1])
        if kind == "incore":
            serve_incore(port, args.profile_file)
        else:
            {"python-snap7": serve_python_snap7, "snap7-c": serve_snap7_c, "floor": serve_floor}[
                kind
            ](port)
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
    kinds = SERVERS
    if args.baseline:
        ServerProcess.baseline_root = args.baseline.resolve()
        kinds = (*SERVERS, BASELINE)
    for name, cpus in placements().items():
        print(
            f"\n## S7 server, {describe(name, cpus)}: python-snap7 3.x client, "
            f"db_read(1, 0, 64), up to {args.requests} requests or {TIME_BOUND:.0f} s per "
            f"server in {ROUNDS} turns (best turn shown)\n"
        )
        rows = measure(kinds, args.requests, placement=cpus)
        print(server_table(rows))
        print()
        print(server_verdict(rows))
        if args.baseline:
            print(
                f"\n### incore against incore before, {name}: {PAIRED_TURNS} turns of "
                f"{PAIRED_TURN:g} s each, taken alternately (CPU to the nanosecond)\n"
            )
            print(paired_table(paired(contender, ("incore", BASELINE), cpus)))
    if args.servers_only:
        return
    from bench.s7_client import client_rows

    for name, cpus in placements().items():
        print(
            f"\n## S7 client, {describe(name, cpus)}: db_read(1, 0, 64) against the Snap7 C "
            f"server, round trips/s and the client process's CPU (best of rounds)\n"
        )
        print(client_table(client_rows(cpus)))


if __name__ == "__main__":
    main()
