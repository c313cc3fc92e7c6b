"""ClientWorker.run_inline: the caller runs a request itself when the worker is idle."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import pytest
from transport_helpers import WAIT, LoopThread

from incore.transport.tcp_client import ClientWorker
from incore.transport.tcp_server import TcpServer


@pytest.fixture
def worker(
    loop: LoopThread, echo_server: TcpServer
) -> Iterator[tuple[ClientWorker, queue.SimpleQueue]]:
    lost: queue.SimpleQueue = queue.SimpleQueue()
    w = ClientWorker("w", loop.post, io_timeout=2.0, on_lost=lost.put)
    w.connect(*echo_server.address, timeout=1.0).result(WAIT)
    yield w, lost
    assert w.shutdown(timeout=2.0)


def echo_job(w: ClientWorker, payload: bytes):
    def job() -> bytes:
        stream = w._require_stream()
        stream.send(payload)
        return stream.recv_exactly(len(payload))

    return job


def test_inline_runs_on_the_calling_thread_and_returns_a_done_future(worker) -> None:
    w, _ = worker
    where: list[threading.Thread] = []
    fut = w.run_inline(lambda: where.append(threading.current_thread()) or echo_job(w, b"abc")())
    assert fut is not None and fut.done() and fut.result() == b"abc"
    assert where == [threading.current_thread()]


def test_inline_refused_while_a_job_is_queued_or_running(worker) -> None:
    w, _ = worker
    started, release = threading.Event(), threading.Event()
    running = w.call(lambda: (started.set(), release.wait(WAIT)))
    queued = w.submit(lambda s: echo_job(w, b"q")())
    assert started.wait(WAIT)
    assert w.run_inline(lambda: "never") is None  # running and queued
    release.set()
    assert running.result(WAIT) and queued.result(WAIT) == b"q"
    fut = w.run_inline(echo_job(w, b"idle again"))
    assert fut is not None and fut.result(0) == b"idle again"


def test_a_job_submitted_during_an_inline_call_waits_for_it(worker) -> None:
    w, _ = worker
    events: list[str] = []
    inside, go_on = threading.Event(), threading.Event()

    def inline() -> bytes:
        events.append("inline start")
        inside.set()
        assert go_on.wait(WAIT)
        reply = echo_job(w, b"inline")()
        events.append("inline end")
        return reply

    caller = threading.Thread(target=lambda: results.put(w.run_inline(inline)))
    results: queue.SimpleQueue = queue.SimpleQueue()
    caller.start()
    assert inside.wait(WAIT)
    job = w.call(lambda: events.append("job") or echo_job(w, b"job")())
    assert w.run_inline(lambda: "never") is None  # the lock is held by the inline caller
    go_on.set()
    assert job.result(WAIT) == b"job"
    caller.join(WAIT)
    assert results.get(timeout=WAIT).result(0) == b"inline"
    assert events == ["inline start", "inline end", "job"]


def test_inline_refused_on_the_worker_thread_itself(worker) -> None:
    w, _ = worker
    fut = w.call(lambda: w.run_inline(lambda: "nested"))
    assert fut.result(WAIT) is None


def test_inline_connection_loss_closes_the_stream_and_reports_on_lost(worker) -> None:
    w, lost = worker

    def broken() -> None:
        raise ConnectionResetError("peer reset")

    fut = w.run_inline(broken)
    assert fut is not None and isinstance(fut.exception(0), ConnectionResetError)
    assert not w.connected
    assert isinstance(lost.get(timeout=WAIT), ConnectionResetError)


def test_inline_other_errors_keep_the_connection(worker) -> None:
    w, lost = worker
    fut = w.run_inline(lambda: 1 / 0)
    assert fut is not None and isinstance(fut.exception(0), ZeroDivisionError)
    assert w.connected and lost.empty()


def test_inline_refused_after_shutdown(worker) -> None:
    w, _ = worker
    assert w.shutdown(timeout=2.0)
    assert w.run_inline(lambda: "never") is None
