"""Modbus TCP under a crowd: 1,000 connections, each asking again as soon as it is answered.

For each server (ours, pymodbus's) in a process of its own: CONNECTIONS connections open at
once, every one keeps one `read_holding_registers(0, 10)` in flight for DURATION seconds,
and each answer's latency (request sent to answer complete) is recorded. The load comes
from one selector loop in this process, the same for both servers. The table gives the
requests answered, their rate, the latency percentiles and the most threads the server
process had during the run (from /proc). Issue 10's target: our p99 at most half of
pymodbus's. Requests still in flight when the time is up are not counted either way, and a
connection the server closes or never answers shows in "connections lost". The servers take
TURNS turns each, alternating, and each one's turn with the lowest p99 is shown (as the
other benchmarks show each contender's best turn: this machine is shared and noisy).

    python -m bench.modbus_crowd         (make bench runs it too)
"""

from __future__ import annotations

import resource
import selectors
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import ChildProcess, free_port

CONNECTIONS = 1000
DURATION = 5.0
REGISTERS = 10
SERVERS = ("incore", "pymodbus")
TARGET = 0.5  # our p99 latency as a fraction of pymodbus's, at most
TURNS = 2
_HEADER = struct.Struct(">HHHBBHH")  # MBAP + function + start + count


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


class _Connection:
    __slots__ = ("sock", "tid", "sent", "buf")

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.tid, self.sent, self.buf = sock, 0, 0.0, b""

    def ask(self) -> None:
        self.tid = (self.tid + 1) & 0xFFFF
        self.sent = time.perf_counter()
        self.sock.send(_HEADER.pack(self.tid, 0, 6, 1, 3, 0, REGISTERS))


def crowd(port: int, pid: int) -> dict[str, Any]:
    """Run the crowd against a server on `port` (process `pid`); the measures."""
    conns: list[_Connection] = []
    selector = selectors.DefaultSelector()
    most_threads = _threads(pid)
    lost = 0
    try:
        for _ in range(CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            conn = _Connection(sock)
            conns.append(conn)
            selector.register(sock, selectors.EVENT_READ, conn)
        latencies: list[float] = []
        record = latencies.append
        start = time.perf_counter()
        end = start + DURATION
        for conn in conns:
            conn.ask()
        next_look = start
        now = start
        while now < end:
            for key, _ in selector.select(0.2):
                conn = key.data
                try:
                    data = conn.sock.recv(4096)
                except OSError:
                    data = b""
                now = time.perf_counter()
                if not data:
                    lost += 1
                    selector.unregister(conn.sock)
                    continue
                conn.buf += data
                while len(conn.buf) >= 6:
                    size = 6 + (conn.buf[4] << 8 | conn.buf[5])
                    if len(conn.buf) < size:
                        break
                    conn.buf = conn.buf[size:]
                    record(now - conn.sent)
                    if now < end:
                        conn.ask()
            now = time.perf_counter()
            if now >= next_look:  # the server's threads, a few times a second
                most_threads = max(most_threads, _threads(pid))
                next_look = now + 0.25
        elapsed = now - start
    finally:
        for conn in conns:
            conn.sock.close()
        selector.close()
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0
        )

    return {
        "answered": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": latencies[-1] * 1000 if latencies else 0,
        "threads": most_threads,
        "lost": lost,
    }


def measure(kind: str) -> dict[str, Any]:
    port = free_port()
    server = ChildProcess(
        [sys.executable, "-m", "bench.modbus", "--serve", kind, str(port)], f"{kind} server"
    )
    try:
        return {"server": kind, **crowd(port, server.proc.pid)}
    finally:
        server.close()


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| server | requests answered | answers/s | p50 ms | p99 ms | max ms | server threads "
        "| connections lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['server']} | {r['answered']:,} | {r['rate']:,.0f} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['max']:.1f} | {r['threads']} | {r['lost']} |"
        )
    by = {r["server"]: r for r in rows}
    share = by["incore"]["p99"] / by["pymodbus"]["p99"] if by["pymodbus"]["p99"] else float("nan")
    verdict = "met" if share <= TARGET else "MISSED"
    lines.append(f"\nTarget (our p99 at most {TARGET:g} of pymodbus's): {verdict} ({share:.2f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    del argv
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 3 * CONNECTIONS))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # the servers inherit it
    print(
        f"\n## Modbus TCP server under {CONNECTIONS:,} connections, each keeping one "
        f"read_holding_registers(0, {REGISTERS}) in flight for {DURATION:g} s (unpinned; "
        f"best of {TURNS} turns each)\n"
    )
    turns = [measure(kind) for _ in range(TURNS) for kind in SERVERS]
    print(
        table(
            [
                min((t for t in turns if t["server"] == kind), key=lambda t: t["p99"])
                for kind in SERVERS
            ]
        )
    )


if __name__ == "__main__":
    main()
