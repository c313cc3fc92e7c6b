"""Modbus TCP client benchmark: incore's ModbusTcpClient against pymodbus's client.

Both read 10 holding registers, round trip after round trip, from the same server: the
python floor of bench/modbus.py (a canned answer with the request's transaction id), so the
server costs both the same and the difference is the clients'. They take turns in this
process, ROUNDS samples each, best sample shown; the CPU column is this process's (the
client's, all its threads) per 10,000 requests. Issue 10's target: at least 1.5x pymodbus's
round trips per second.

    python -m bench.modbus_client        (bench/modbus.py runs it too)
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.harness import ROUNDS, ChildProcess, free_port, ratio
from bench.placement import CPUs, describe, pinned, placements

REQUESTS = 40_000
TIME_BOUND = 8.0  # seconds of measuring per client and placement
REGISTERS = 10
TARGET = 1.5


def _pymodbus(port: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    import logging

    from pymodbus.client import ModbusTcpClient

    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=3)
    if not client.connect():
        raise RuntimeError("pymodbus's client cannot connect to the floor server")
    return lambda: client.read_holding_registers(0, count=REGISTERS), client.close


def _incore(port: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    import incore  # noqa: F401  (registers every type)
    from incore.core import EventLoop, set_loop
    from incore.objects.modbus import ModbusTcpClient
    from incore.protocols.modbus.pdu import read_holding_registers

    loop = EventLoop()
    set_loop(loop)
    client = ModbusTcpClient(networkAddress="127.0.0.1", networkPort=port)
    client.complete()
    if not loop.run_until(lambda: client.connected, 5.0):
        raise RuntimeError(f"incore's client cannot connect: {client.errorString}")
    request = read_holding_registers(0, REGISTERS)
    execute = client.execute

    def close() -> None:
        client.shutdown()
        set_loop(None)

    return lambda: execute(request, 1).result(3.0), close


CLIENTS = {"incore": _incore, "pymodbus": _pymodbus}


def _sample(call: Callable[[], Any], requests: int) -> tuple[int, float, float]:
    """(round trips, seconds, this process's CPU seconds) of one sample."""
    cpu0, start = sum(os.times()[:2]), time.perf_counter()
    deadline, done = start + TIME_BOUND / ROUNDS, 0
    while done < requests:
        call()
        done += 1
        if not done & 63 and time.perf_counter() > deadline:
            break
    return done, time.perf_counter() - start, sum(os.times()[:2]) - cpu0


def client_rows(
    cpus: tuple[CPUs, CPUs], requests: int = REQUESTS
) -> dict[str, tuple[float, float]]:
    """Client name -> (best round trips/s, least client CPU s per 10k requests)."""
    port = free_port()
    floor = ChildProcess(
        [sys.executable, "-m", "bench.modbus", "--serve", "floor", str(port)],
        "floor server",
        cpus=cpus[1],
    )
    opened: dict[str, tuple[Callable[[], Any], Callable[[], None]]] = {}
    samples: dict[str, list[tuple[int, float, float]]] = {name: [] for name in CLIENTS}
    try:
        with pinned(cpus[0]):
            for name, open_client in CLIENTS.items():
                opened[name] = open_client(port)
                for _ in range(300):
                    opened[name][0]()
            for _ in range(ROUNDS):
                for name, (call, _) in opened.items():
                    samples[name].append(_sample(call, requests // ROUNDS))
    finally:
        for _, close in opened.values():
            close()
        floor.close()
    return {
        name: (max(n / s for n, s, _ in rows), min(c / n for n, _, c in rows) * 10_000)
        for name, rows in samples.items()
    }


def table(rows: dict[str, tuple[float, float]]) -> str:
    theirs = rows["pymodbus"]
    lines = [
        "| client | round trips/s | vs pymodbus | client CPU s / 10k requests | CPU vs pymodbus |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (rate, cpu) in rows.items():
        lines.append(
            f"| {name} | {rate:,.0f} | {ratio(rate, theirs[0])} | {cpu:.3f} | "
            f"{ratio(cpu, theirs[1])} |"
        )
    share = rows["incore"][0] / theirs[0]
    verdict = "met" if share >= TARGET else "MISSED"
    lines.append(
        f"\nTarget (at least {TARGET:g}x pymodbus's round trips/s): {verdict} ({share:.2f}x)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    del argv
    for name, cpus in placements().items():
        print(
            f"\n## Modbus TCP client, {describe(name, cpus)}: read_holding_registers(0, "
            f"{REGISTERS}) against the python floor server (best of {ROUNDS} turns)\n"
        )
        print(table(client_rows(cpus)))


if __name__ == "__main__":
    main()
