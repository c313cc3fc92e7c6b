"""Modbus TCP server benchmark: incore's ModbusTcpServer against pymodbus's server.

One run measures them all (this machine is noisy): pymodbus's synchronous client does
`read_holding_registers(0, count=10)` round trips against each server, each server in a
process of its own so its CPU time per request can be read from /proc (bench/harness.py).
The client is the same for all, so differences are the servers'. Like the S7 benchmark, each
placement (both ends on one CPU, or on two: bench/placement.py) gets a table of its own.

The "python floor" is a measuring stick, not a server: a thread-per-connection loop that
answers every request with a canned answer (its transaction id copied in). Its CPU per
request is what any Python server pays here before doing any work. The target of issue 10
is stated above the floor: incore's CPU above the floor at most 0.2x pymodbus's CPU above
the floor, in both placements.

    python -m bench.modbus               (make bench runs it too)
    python -m bench.modbus --requests N

This file doubles as the server process: `--serve KIND PORT` (run by main).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
from typing import Any

from bench.harness import ChildProcess, Contender, free_port, server_table
from bench.harness import measure as measure_kinds
from bench.placement import CPUs, describe, placements

REQUESTS = 60_000
SERVERS = ("incore", "pymodbus", "floor")  # incore first
LABELS = {"floor": "python floor"}
REGISTERS = 10
TARGET = 0.2  # incore's CPU above the floor, as a fraction of pymodbus's above the floor


# -- server processes ---------------------------------------------------------------------------
def _wait_for_quit() -> None:
    sys.stdin.readline()


def serve_incore(port: int) -> None:
    import incore  # noqa: F401  (registers every type)
    from incore.core import EventLoop, set_loop
    from incore.objects.modbus import ModbusTcpServer

    loop = EventLoop()
    set_loop(loop)
    server = ModbusTcpServer(networkAddress="127.0.0.1", networkPort=port)
    server.complete()
    print("ready", flush=True)
    threading.Thread(target=lambda: (_wait_for_quit(), loop.post(loop.stop)), daemon=True).start()
    loop.run()
    server.shutdown()


def serve_pymodbus(port: int) -> None:
    import asyncio
    import logging
    import warnings

    from pymodbus.datastore import (
        ModbusDeviceContext,
        ModbusSequentialDataBlock,
        ModbusServerContext,
    )
    from pymodbus.server import ModbusTcpServer

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (its shutdown chatter, not ours)

    async def run() -> None:
        block = ModbusSequentialDataBlock(1, [0] * 1000)  # its addresses start at 1 (0 on the wire)
        device = ModbusDeviceContext(hr=block, ir=block, co=block, di=block)
        server = ModbusTcpServer(
            ModbusServerContext(devices=device, single=True), address=("127.0.0.1", port)
        )
        await server.listen()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, _wait_for_quit)
        await server.shutdown()

    asyncio.run(run())


def serve_floor(port: int) -> None:
    """Recv a request, send the canned answer with its transaction id: nothing else."""
    answer = bytes((0, 0, 0, 3 + 2 * REGISTERS, 1, 3, 2 * REGISTERS)) + bytes(2 * REGISTERS)

    def connection(sock: socket.socket) -> None:
        with sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while request := sock.recv(260):
                sock.sendall(request[:2] + answer)

    listener = socket.create_server(("127.0.0.1", port))

    def accept() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=connection, args=(sock,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    print("ready", flush=True)
    _wait_for_quit()
    listener.close()


SERVE = {"incore": serve_incore, "pymodbus": serve_pymodbus, "floor": serve_floor}


# -- the measuring side -------------------------------------------------------------------------
def contender(kind: str, server_cpus: CPUs | None) -> Contender:
    """A server of `kind` and pymodbus's client reading 10 holding registers of it."""
    import logging

    from pymodbus.client import ModbusTcpClient

    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    port = free_port()
    cmd = [sys.executable, "-m", "bench.modbus", "--serve", kind, str(port)]
    server = ChildProcess(cmd, f"{kind} server", cpus=server_cpus)
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=3)
    if not client.connect():
        server.close()
        raise RuntimeError(f"cannot connect to the {kind} server")

    def request() -> None:
        answer = client.read_holding_registers(0, count=REGISTERS)
        if answer.isError() or len(answer.registers) != REGISTERS:
            raise RuntimeError(f"{kind}: {answer}")

    return Contender(LABELS.get(kind, kind), server, request, client.close)


def verdict(rows: list[dict[str, Any]]) -> str:
    """Incore's CPU above the floor as a fraction of pymodbus's above the floor."""
    by = {row["server"]: row for row in rows}
    ours, theirs = by["incore"]["cpu_per_10k"], by["pymodbus"]["cpu_per_10k"]
    floor = by[LABELS["floor"]]["cpu_per_10k"]
    share = (ours - floor) / (theirs - floor) if theirs > floor else float("nan")
    met = "met" if share <= TARGET else "MISSED"
    return (
        f"Server CPU above the python floor: incore {ours - floor:.3f} s / 10k, pymodbus "
        f"{theirs - floor:.3f} s / 10k: incore's is {share:.2f} of pymodbus's "
        f"(target <= {TARGET:g}: {met}); incore's total is {ours / theirs:.2f} of pymodbus's."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    args = parser.parse_args(argv)
    if args.serve:
        SERVE[args.serve[0]](int(args.serve[1]))
        return
    for name, cpus in placements().items():
        print(
            f"\n## Modbus TCP server, {describe(name, cpus)}: pymodbus client, "
            f"read_holding_registers(0, count={REGISTERS}), up to {args.requests} requests "
            f"per server (best turn shown)\n"
        )
        rows = measure_kinds(contender, SERVERS, args.requests, cpus)
        print(server_table(rows))
        print()
        print(verdict(rows))


if __name__ == "__main__":
    main()
