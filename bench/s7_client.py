"""S7 client benchmark: incore's S7Client against python-snap7's client, same server, same run.

Every client does `db_read(1, 0, 64)` round trips against the Snap7 C server (a subprocess
run by tests/peers' driver under .venv-snap7c), and each row gives round trips per second
and the client process's CPU seconds (user + system, from getrusage) per 10,000 requests.
The rows take turns, one at a time, so a round's CPU is that client's alone (the "no spin"
row's is measured in its own process); each figure is the best of ROUNDS rounds.

incore is measured the way a script uses it: `client.dbRead(1, 0, 64).result()` from a
thread that is not the event loop's, which runs the exchange itself while the client's
worker is idle. Its receives spin briefly before sleeping (incore.transport.spin); the
"no spin" row is the same client with INCORE_RECV_SPIN_US=0, in a child process of its own
because the spin budget is read once, at import. Another row is the engine alone on the
caller's thread (ISOTCPConnection + S7ClientProtocol, spinning too), without S7Client.
The last row, the "python floor", is a measuring stick: a raw socket that sends a canned
request and sleeps in recv() for the reply, checking nothing. No Python client that waits
the same way can be faster, so it shows how much room a target leaves.

Both placements of bench/placement.py are measured: the clients and the server on one CPU,
then on two.

    python -m bench.s7_client        (bench/s7.py calls client_rows() too)
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.placement import CPUs, describe, pin_process, pinned, placements

REPO = Path(__file__).resolve().parents[1]
REQUESTS = 10_000  # per round; the time bound ends a slow client first
ROUNDS = 5
TIME_BOUND = 1.0  # seconds per round
WARMUP = 200
DB_SIZE = 1024

ROW_INCORE = "incore S7Client.dbRead(1, 0, 64).result()"
ROW_NO_SPIN = "incore S7Client.dbRead(1, 0, 64).result(), no spin"
ROW_ENGINE = "incore ISOTCPConnection + S7ClientProtocol (caller's thread)"
ROW_PYSNAP7 = "python-snap7 Client.db_read(1, 0, 64)"
ROW_FLOOR = "python floor (raw socket, canned request, recv)"

#: The floor client's frames: COTP CR (TSAPs 0x0100 -> 0x0102), setup communication (PDU
#: 480) and a Read Var of DB1.DBB0, 64 bytes; the server answers each with one frame.
_FLOOR_CR = bytes.fromhex("0300001611e00000000100c0010ac1020100c2020102")
_FLOOR_SETUP = bytes.fromhex("0300001902f08032010000000000080000f0000001000101e0")
_FLOOR_READ = bytes.fromhex("0300001f02f080320100000001000e00000401120a10020040000184000000")

Round = Callable[[], tuple[float, float]]  # one timed round: (calls/s, CPU s per 10k calls)


def _cpu() -> float:
    """User + system CPU seconds of this process so far, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _round(call: Callable[[], object]) -> tuple[float, float]:
    """Calls per second and this process's CPU seconds per 10,000 calls, over at most
    REQUESTS calls or TIME_BOUND seconds."""
    done = 0
    cpu = _cpu()
    started = time.perf_counter()
    deadline = started + TIME_BOUND
    while done < REQUESTS:
        call()
        done += 1
        if not done % 100 and time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - started
    return done / elapsed, (_cpu() - cpu) / done * 10_000


def _warmed(call: Callable[[], object]) -> Round:
    """The timed round of ``call``, after WARMUP untimed calls."""
    for _ in range(WARMUP):
        call()
    return lambda: _round(call)


def _measure(rounds: dict[str, Round]) -> dict[str, tuple[float, float]]:
    """Best of ROUNDS rounds each (highest rate, least CPU), the clients taking turns round
    by round, so a busy moment of the machine does not land on one client only."""
    best = {name: (0.0, float("inf")) for name in rounds}
    for _ in range(ROUNDS):
        for name, one_round in rounds.items():
            rate, cpu = one_round()
            best[name] = (max(best[name][0], rate), min(best[name][1], cpu))
    return best


@contextmanager
def _incore_client(port: int) -> Iterator[Callable[[], object]]:
    from incore.core import EventLoop, set_loop
    from incore.objects.s7 import S7Client

    loop = EventLoop()
    set_loop(loop)
    client = S7Client(hostname="127.0.0.1", port=port)
    client.complete()
    try:
        if not loop.run_until(lambda: client.connected, 10.0):
            raise RuntimeError(f"S7Client did not connect: {client.errorString}")
        assert len(client.dbRead(1, 0, 64).result(5.0)) == 64
        yield lambda: client.dbRead(1, 0, 64).result(5.0)
    finally:
        client.shutdown()
        set_loop(None)


@contextmanager
def _incore_client_no_spin(port: int, cpus: CPUs | None) -> Iterator[Round]:
    """The S7Client row with receive spinning off, run in a child process (serve_no_spin)."""
    from bench.harness import ChildProcess

    child = ChildProcess(
        [sys.executable, "-m", "bench.s7_client", "--no-spin", str(port)],
        "the no-spin S7Client",
        env={"INCORE_RECV_SPIN_US": "0"},
        cpus=cpus,
    )

    def one_round() -> tuple[float, float]:
        answer = child.ask("round").split()
        if len(answer) != 2:
            raise RuntimeError(f"the no-spin S7Client failed a round (said {answer!r})")
        return float(answer[0]), float(answer[1])

    try:
        yield one_round
    finally:
        child.close()


def serve_no_spin(port: int) -> None:
    """Child process: the S7Client row with INCORE_RECV_SPIN_US=0 (checked), one timed
    round per line on stdin, answered "calls/s cpu-per-10k"; ends with stdin."""
    from incore.transport.spin import DEFAULT_BUDGET

    if DEFAULT_BUDGET != 0:
        raise RuntimeError(
            f"receive spinning is on ({DEFAULT_BUDGET * 1e6:g} us): set INCORE_RECV_SPIN_US=0"
        )
    with _incore_client(port) as call:
        one_round = _warmed(call)
        print("ready", flush=True)
        for _ in sys.stdin:
            rate, cpu = one_round()
            print(rate, cpu, flush=True)


@contextmanager
def _incore_engine(port: int) -> Iterator[Callable[[], object]]:
    from incore.objects.s7 import ISOTCPConnection
    from incore.protocols.s7 import Area, S7ClientProtocol, run

    protocol = S7ClientProtocol()
    with ISOTCPConnection("127.0.0.1", port) as conn:
        conn.connect(timeout=5.0)

        def exchange(request: bytes) -> bytes:
            conn.send_data(request)
            return conn.receive_data()

        run(protocol.setup_communication(), exchange)
        yield lambda: run(protocol.read_area(Area.DB, 1, 0, 64), exchange)


@contextmanager
def _python_floor(port: int) -> Iterator[Callable[[], object]]:
    """A measuring stick, not a client: the least any Python client does per request (one
    send of a canned frame, one blocking recv of the whole reply, nothing checked)."""
    import socket

    sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for frame in (_FLOOR_CR, _FLOOR_SETUP):
            sock.sendall(frame)
            sock.recv(4096)
        send, recv = sock.send, sock.recv
        yield lambda: (send(_FLOOR_READ), recv(4096))
    finally:
        sock.close()


@contextmanager
def _pysnap7(port: int) -> Iterator[Callable[[], object]]:
    import snap7

    logging.getLogger("snap7").setLevel(logging.WARNING)
    client = snap7.client.Client()
    client.connect("127.0.0.1", 0, 2, port)
    try:
        yield lambda: client.db_read(1, 0, 64)
    finally:
        client.disconnect()


def client_rows(placement: tuple[CPUs, CPUs] | None = None) -> dict[str, tuple[float, float]]:
    """(round trips per second, client CPU seconds per 10k requests) of each client against
    one Snap7 C server (started here); ``placement`` pins (the clients, the server)."""
    if placement is None:
        return _client_rows(None, None)
    with pinned(placement[0]):
        return _client_rows(placement[0], placement[1])


def _client_rows(
    client_cpus: CPUs | None, server_cpus: CPUs | None
) -> dict[str, tuple[float, float]]:
    sys.path.insert(0, str(REPO / "tests" / "peers"))
    import socket

    from snap7c import Snap7CPeer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Snap7CPeer(timeout=30.0) as peer:
        peer.call("server_start", port=port, areas=[dict(area=5, index=1, size=DB_SIZE)])
        if server_cpus is not None:  # its per-client threads follow its listener
            pin_process(peer.proc.pid, server_cpus)
        with (
            _incore_client(port) as ours,
            _incore_client_no_spin(port, client_cpus) as no_spin,
            _incore_engine(port) as engine,
            _pysnap7(port) as theirs,
            _python_floor(port) as floor,
        ):
            return _measure(
                {
                    ROW_INCORE: _warmed(ours),
                    ROW_NO_SPIN: no_spin,
                    ROW_ENGINE: _warmed(engine),
                    ROW_PYSNAP7: _warmed(theirs),
                    ROW_FLOOR: _warmed(floor),
                }
            )


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]] | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-spin", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.no_spin is not None:
        serve_no_spin(args.no_spin)
        return None
    from bench.s7 import client_table

    rows: dict[str, tuple[float, float]] = {}
    for name, cpus in placements().items():
        rows = client_rows(cpus)
        print(
            f"\n## S7 client against the Snap7 C server, {describe(name, cpus)}: round "
            f"trips/s (higher is better), client CPU s / 10k requests (lower is better)\n"
        )
        print(client_table(rows))
    return rows


if __name__ == "__main__":
    main()
