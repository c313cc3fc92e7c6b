"""Backoff arithmetic and the Reconnector, alone and driving a ClientWorker."""

from __future__ import annotations

import queue
import random
import threading
import time
from concurrent.futures import Future

import pytest
from transport_helpers import WAIT, Echo, LoopThread, closed_port

from incore.transport.reconnect import Backoff, Reconnector
from incore.transport.tcp_client import BlockingStream, ClientWorker
from incore.transport.tcp_server import TcpServer


def test_backoff_grows_by_factor_and_caps() -> None:
    b = Backoff(initial=0.1, factor=2, maximum=1.0, jitter=0)
    assert [b.next() for _ in range(7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    assert b.attempts == 7
    b.reset()
    assert b.next() == pytest.approx(0.1) and b.attempts == 1


def test_backoff_jitter_only_shortens_and_varies() -> None:
    b = Backoff(initial=1.0, factor=1, maximum=1.0, jitter=0.5, rng=random.Random(7))
    delays = [b.next() for _ in range(200)]
    assert all(0.5 <= d <= 1.0 for d in delays)
    assert len(set(delays)) > 100


def test_backoff_never_overflows() -> None:
    b = Backoff(initial=0.1, factor=10, maximum=5.0, jitter=0)
    for _ in range(2000):
        b.next()
    assert b.next() == 5.0


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(initial=0),
        dict(initial=2, maximum=1),
        dict(factor=0.5),
        dict(jitter=1.0),
        dict(jitter=-0.1),
    ],
)
def test_backoff_rejects_nonsense(kwargs) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_failures_are_reported_on_the_loop_with_growing_delays(loop: LoopThread) -> None:
    failures: queue.SimpleQueue = queue.SimpleQueue()
    port = closed_port()
    worker = ClientWorker("refused", loop.post)
    rec = Reconnector(
        lambda: worker.connect("127.0.0.1", port, timeout=1.0),
        loop.post,
        on_connected=lambda _: pytest.fail("connected to a closed port"),
        on_failed=lambda exc, delay: failures.put((type(exc), delay, threading.current_thread())),
        backoff=Backoff(initial=0.01, factor=2, maximum=0.04, jitter=0),
    )
    rec.start()
    got = [failures.get(timeout=WAIT) for _ in range(5)]
    assert rec.stop() and worker.shutdown()
    assert [g[0] for g in got] == [ConnectionRefusedError] * 5
    assert [g[1] for g in got] == pytest.approx([0.01, 0.02, 0.04, 0.04, 0.04])
    assert {g[2] for g in got} == {loop.thread}


def test_stop_during_backoff_wait_is_prompt(loop: LoopThread) -> None:
    failed = threading.Event()

    def refuse() -> None:
        raise ConnectionRefusedError("nobody home")

    rec = Reconnector(
        refuse,
        loop.post,
        on_connected=lambda _: None,
        on_failed=lambda exc, delay: failed.set(),
        backoff=Backoff(initial=30.0, maximum=30.0),
    )
    rec.start()
    assert failed.wait(WAIT)  # now waiting ~30 s for the next attempt
    started = time.monotonic()
    assert rec.stop(timeout=2.0)
    assert time.monotonic() - started < 0.5
    assert not rec.running


def test_stop_mid_connect_is_prompt_and_delivers_nothing(loop: LoopThread) -> None:
    pending: Future = Future()
    asked = threading.Event()
    connected = []

    def connect() -> Future:
        asked.set()
        return pending  # a connect that never finishes by itself

    rec = Reconnector(connect, loop.post, on_connected=connected.append)
    rec.start()
    assert asked.wait(WAIT)
    started = time.monotonic()
    assert rec.stop(timeout=2.0)
    assert time.monotonic() - started < 0.5
    assert pending.cancelled()
    loop.call(lambda: None)
    assert connected == []


def test_blocking_connect_fn_and_connection_lost(loop: LoopThread) -> None:
    results: queue.SimpleQueue = queue.SimpleQueue()
    counter = iter(range(100))
    rec = Reconnector(
        lambda: next(counter),
        loop.post,
        on_connected=results.put,
        backoff=Backoff(initial=0.01, jitter=0),
    )
    rec.start()
    assert results.get(timeout=WAIT) == 0
    assert rec.connected
    rec.connection_lost()
    assert results.get(timeout=WAIT) == 1
    assert rec.stop()


def test_reconnects_after_server_restart_on_the_same_port(loop: LoopThread) -> None:
    """The S7-client shape: worker + reconnector, every event handled on the loop."""
    events: queue.SimpleQueue = queue.SimpleQueue()
    server = TcpServer(Echo, host="127.0.0.1", name="plc")
    host, port = server.start()

    def on_lost(exc: BaseException) -> None:
        events.put(("lost", type(exc)))
        rec.connection_lost()

    worker = ClientWorker("s7", loop.post, on_lost=on_lost, io_timeout=1.0)
    rec = Reconnector(
        lambda: worker.connect(host, port, timeout=0.5),
        loop.post,
        on_connected=lambda peer: events.put(("connected", peer)),
        on_failed=lambda exc, delay: events.put(("failed", type(exc))),
        backoff=Backoff(initial=0.02, maximum=0.1),
    )

    def read(stream: BlockingStream) -> bytes:
        stream.send(b"read")
        return stream.recv_exactly(4)

    try:
        rec.start()
        assert events.get(timeout=WAIT) == ("connected", (host, port))
        assert worker.submit(read).result(WAIT) == b"read"

        assert server.stop()
        with pytest.raises(ConnectionError):
            worker.submit(read).result(WAIT)
        assert events.get(timeout=WAIT)[0] == "lost"
        assert events.get(timeout=WAIT) == ("failed", ConnectionRefusedError)

        server = TcpServer(Echo, host="127.0.0.1", port=port, name="plc")
        server.start()
        while (event := events.get(timeout=WAIT))[0] == "failed":
            pass
        assert event == ("connected", (host, port))
        assert worker.submit(read).result(WAIT) == b"read"
    finally:
        assert rec.stop()
        assert worker.shutdown()
        assert server.stop()
