"""S7Client never blocks the thread running the event loop's callbacks.

A handler that calls an S7Client method from inside the loop (run, process_events or
run_until) gets a pending Future: the request goes to the client's worker thread. Our own
S7Server with a locked area holds the answer back, which makes "would have blocked"
observable without timing.
"""

from __future__ import annotations

import threading
import time

from test_s7_server_support import DB1, WAIT, loop, make_server  # noqa: F401  (fixture)

from incore.core import EventLoop
from incore.objects.s7 import S7Client, S7Server


def connected_client(loop: EventLoop, server: S7Server) -> S7Client:
    client = S7Client(hostname="127.0.0.1", port=server.localPort, timeout=int(WAIT * 1000))
    client.complete()
    assert loop.run_until(lambda: client.connected, WAIT), client.errorString
    return client


def test_a_read_from_a_loop_callback_goes_to_the_worker(loop: EventLoop) -> None:
    server = make_server()
    client = connected_client(loop, server)
    try:
        assert server.lockArea(S7Server.srvAreaDB, 1)
        seen: dict = {}

        def handler() -> None:  # what an onSomething: handler does
            started = time.monotonic()
            seen["future"] = client.dbRead(1, 0, 4)
            seen["returned after"] = time.monotonic() - started
            seen["done at once"] = seen["future"].done()

        loop.post(handler)
        assert loop.run_until(lambda: "future" in seen, WAIT)
        assert seen["done at once"] is False, "the loop thread ran the request itself"
        assert seen["returned after"] < WAIT / 2
        assert server.unlockArea(S7Server.srvAreaDB, 1)
        assert loop.run_until(lambda: seen["future"].done(), WAIT)
        assert seen["future"].result() == DB1[:4]
    finally:
        client.shutdown()


def test_a_script_thread_runs_the_request_itself(loop: EventLoop) -> None:
    """Outside the loop's callbacks the caller runs the exchange (no hand-over)."""
    server = make_server()
    client = connected_client(loop, server)
    try:
        threads: list[threading.Thread] = []
        future = client.dbRead(1, 0, 4)  # the main thread, with the loop not dispatching
        future.add_done_callback(lambda f: threads.append(threading.current_thread()))
        assert future.done() and future.result() == DB1[:4]
        assert threads == [threading.current_thread()]
    finally:
        client.shutdown()
