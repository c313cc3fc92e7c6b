"""S7 client benchmark: incore's S7Client against python-snap7's client, same server, same run.

Both clients do `db_read(1, 0, 64)` round trips against the Snap7 C server (a subprocess
run by tests/peers' driver under .venv-snap7c). incore is measured the way a script uses
it: `client.dbRead(1, 0, 64).result()` from the calling thread, so every request crosses to
the client's worker thread and back; a third row shows the engine alone on the caller's
thread (ISOTCPConnection + S7ClientProtocol), the cost without that hand-over.

    python -m bench.s7_client        (bench/s7.py calls client_rows() too)
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Callable, Iterator

REPO = Path(__file__).resolve().parents[1]
REQUESTS = 3_000  # per round; the time bound ends a slow client first
ROUNDS = 5
TIME_BOUND = 1.0  # seconds per round
WARMUP = 200
DB_SIZE = 1024

ROW_INCORE = "incore S7Client.dbRead(1, 0, 64).result(), round trips/s"
ROW_ENGINE = "incore ISOTCPConnection + S7ClientProtocol (caller's thread), round trips/s"
ROW_PYSNAP7 = "python-snap7 Client.db_read(1, 0, 64), round trips/s"


def _round(call: Callable[[], object]) -> float:
    """Calls per second over at most REQUESTS calls or TIME_BOUND seconds."""
    done = 0
    started = time.perf_counter()
    deadline = started + TIME_BOUND
    while done < REQUESTS:
        call()
        done += 1
        if not done % 100 and time.perf_counter() > deadline:
            break
    return done / (time.perf_counter() - started)


def _measure(calls: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best of ROUNDS rounds each, the clients taking turns round by round, so a busy moment
    of the machine does not land on one client only."""
    for call in calls.values():
        for _ in range(WARMUP):
            call()
    best = dict.fromkeys(calls, 0.0)
    for _ in range(ROUNDS):
        for name, call in calls.items():
            best[name] = max(best[name], _round(call))
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
def _pysnap7(port: int) -> Iterator[Callable[[], object]]:
    import snap7

    logging.getLogger("snap7").setLevel(logging.WARNING)
    client = snap7.client.Client()
    client.connect("127.0.0.1", 0, 2, port)
    try:
        yield lambda: client.db_read(1, 0, 64)
    finally:
        client.disconnect()


def client_rows() -> dict[str, float]:
    """Round trips per second of each client against one Snap7 C server (started here)."""
    sys.path.insert(0, str(REPO / "tests" / "peers"))
    from snap7c import Snap7CPeer
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Snap7CPeer(timeout=30.0) as peer:
        peer.call("server_start", port=port, areas=[dict(area=5, index=1, size=DB_SIZE)])
        with _incore_client(port) as ours, _incore_engine(port) as engine, \
                _pysnap7(port) as theirs:
            return _measure({ROW_INCORE: ours, ROW_ENGINE: engine, ROW_PYSNAP7: theirs})


def main() -> dict[str, float]:
    rows = client_rows()
    theirs = rows[ROW_PYSNAP7]
    print("\n## S7 client against the Snap7 C server (higher is better)\n")
    for name, value in rows.items():
        print(f"{name:<80} {value:>10,.0f}  ({value / theirs:.2f}x python-snap7)")
    return rows


if __name__ == "__main__":
    main()
