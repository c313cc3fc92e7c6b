"""ClientWorker and BlockingStream against real sockets on 127.0.0.1."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future

import pytest
from transport_helpers import WAIT, Echo, LoopThread, closed_port

from incore.transport.tcp_client import (
    BlockingStream,
    ClientWorker,
    ConnectionClosedError,
    NotConnectedError,
    ReceiveTimeoutError,
)
from incore.transport.tcp_server import TcpServer


class Silent(Echo):
    """Reads and never answers: a peer that is alive but dead to us."""

    def data_received(self, data: bytes) -> None:
        pass


class Chunky(Echo):
    """Answers each byte n with n frames of 3 bytes, written in awkward slices."""

    def data_received(self, data: bytes) -> None:
        payload = b"".join(bytes([i, i, i]) for i in range(data[0]))
        for start in range(0, len(payload), 5):
            self.conn.send(payload[start : start + 5])


@pytest.fixture
def worker(loop: LoopThread) -> Iterator[tuple[ClientWorker, queue.SimpleQueue]]:
    """A worker whose on_lost reports (exception, thread name) to a queue."""
    lost: queue.SimpleQueue = queue.SimpleQueue()
    w = ClientWorker(
        "w",
        loop.post,
        io_timeout=2.0,
        on_lost=lambda exc: lost.put((exc, threading.current_thread().name)),
    )
    yield w, lost
    assert w.shutdown(timeout=2.0)


def echo(stream: BlockingStream, payload: bytes) -> bytes:
    stream.send(payload)
    return stream.recv_exactly(len(payload))


def test_connect_then_request_result_delivered_on_the_loop(
    worker, echo_server: TcpServer, loop: LoopThread
) -> None:
    w, lost = worker
    peer = w.connect(*echo_server.address, timeout=1.0).result(WAIT)
    assert peer == echo_server.address and w.connected
    delivered: queue.SimpleQueue = queue.SimpleQueue()
    fut = w.submit(
        lambda s: echo(s, b"read_area"),
        then=lambda f: delivered.put((f.result(), threading.current_thread())),
    )
    assert fut.result(WAIT) == b"read_area"
    assert delivered.get(timeout=WAIT) == (b"read_area", loop.thread)
    assert lost.empty()


def test_submit_order_is_preserved(worker, echo_server: TcpServer) -> None:
    w, _ = worker
    w.connect(*echo_server.address, timeout=1.0)  # queued first: no need to wait for it
    ran: list[int] = []
    futures = [
        w.submit(lambda s, i=i: (ran.append(i), echo(s, i.to_bytes(4, "big")))[1])
        for i in range(200)
    ]
    replies = [int.from_bytes(f.result(WAIT), "big") for f in futures]
    assert replies == list(range(200)) and ran == list(range(200))


def test_submit_without_connection_fails_without_calling_fn(worker) -> None:
    w, lost = worker
    called = []
    fut = w.submit(called.append)
    with pytest.raises(NotConnectedError):
        fut.result(WAIT)
    assert called == [] and lost.empty()  # nothing was lost: nothing was connected


def test_silent_peer_times_out_and_drops_the_connection(worker, loop: LoopThread) -> None:
    w, lost = worker
    with TcpServer(Silent, host="127.0.0.1", name="silent") as server:
        w.connect(*server.address, timeout=1.0).result(WAIT)
        started = time.monotonic()
        fut = w.submit(lambda s: (s.send(b"req"), s.recv_exactly(4, timeout=0.2)))
        with pytest.raises(ReceiveTimeoutError, match="got 0 of 4 bytes"):
            fut.result(WAIT)
        assert 0.15 < time.monotonic() - started < 1.5
        exc, thread_name = lost.get(timeout=WAIT)
        assert isinstance(exc, TimeoutError) and thread_name == loop.thread.name
        assert not w.connected
        with pytest.raises(NotConnectedError):
            w.submit(lambda s: s.recv_exactly(1)).result(WAIT)


def test_peer_closing_is_reported_once(worker) -> None:
    w, lost = worker
    accepted = threading.Event()
    server = TcpServer(
        lambda conn: (accepted.set(), Silent(conn))[1], host="127.0.0.1", name="closing"
    )
    server.start()
    w.connect(*server.address, timeout=1.0).result(WAIT)
    assert accepted.wait(WAIT)  # else stop() may reset it from the accept queue instead
    assert server.stop()
    with pytest.raises(ConnectionClosedError):
        w.submit(lambda s: s.recv_exactly(1)).result(WAIT)
    assert isinstance(lost.get(timeout=WAIT)[0], ConnectionClosedError)
    w.close().result(WAIT)
    w.call(lambda: None).result(WAIT)  # flush: the loop has had time to get a 2nd report
    assert lost.empty()


def test_connect_refused_fails_the_future_only(worker) -> None:
    w, lost = worker
    with pytest.raises(ConnectionRefusedError):
        w.connect("127.0.0.1", closed_port(), timeout=1.0).result(WAIT)
    assert not w.connected and lost.empty()


def test_failed_setup_fails_the_connect(worker, echo_server: TcpServer) -> None:
    w, _ = worker

    def setup(stream: BlockingStream) -> int:
        stream.send(b"hi")
        raise ValueError("handshake refused")

    with pytest.raises(ValueError, match="handshake refused"):
        w.connect(*echo_server.address, timeout=1.0, setup=setup).result(WAIT)
    assert not w.connected
    pdu = w.connect(*echo_server.address, setup=lambda s: len(echo(s, b"cr"))).result(WAIT)
    assert pdu == 2 and w.connected


@pytest.fixture
def black_hole() -> Iterator[tuple[str, int]]:
    """A listener whose accept queue is full: further SYNs are dropped, connect() hangs."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    filler = socket.create_connection(listener.getsockname(), timeout=WAIT)
    yield listener.getsockname()
    filler.close()
    listener.close()


def test_connect_to_an_unresponsive_host_is_bounded(worker, black_hole) -> None:
    w, _ = worker
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        w.connect(*black_hole, timeout=0.3).result(WAIT)
    assert time.monotonic() - started < 1.5


def test_shutdown_mid_connect_is_prompt(loop: LoopThread, black_hole) -> None:
    w = ClientWorker("mid", loop.post)
    started_event = threading.Event()
    w.call(started_event.set)
    fut = w.connect(*black_hole, timeout=30.0)
    queued = w.submit(lambda s: None)
    assert started_event.wait(WAIT)
    started = time.monotonic()
    assert w.shutdown(timeout=2.0)
    assert time.monotonic() - started < 1.0
    assert fut.done() and queued.done()
    with pytest.raises((OSError, CancelledError)):
        fut.result(0)
    with pytest.raises(CancelledError):
        queued.result(0)
    with pytest.raises(RuntimeError, match="shut down"):
        w.call(lambda: None).result(0)


def test_no_callbacks_after_shutdown_from_the_loop(loop: LoopThread, echo_server) -> None:
    w = ClientWorker("late", loop.post)
    w.connect(*echo_server.address).result(WAIT)
    delivered = []
    gate = threading.Event()
    w.call(lambda: gate.wait(WAIT))
    w.submit(lambda s: echo(s, b"x"), then=delivered.append)

    def shutdown_on_loop() -> bool:
        gate.set()
        return w.shutdown(timeout=2.0)

    assert loop.call(shutdown_on_loop)
    loop.call(lambda: None)  # anything posted before shutdown returned has now run
    assert delivered == []


def test_recv_exactly_reassembles_and_keeps_surplus(worker) -> None:
    w, _ = worker
    with TcpServer(Chunky, host="127.0.0.1", name="chunky") as server:
        w.connect(*server.address).result(WAIT)

        def frames(stream: BlockingStream) -> list[bytes]:
            stream.send(bytes([200]))
            return [stream.recv_exactly(3) for _ in range(200)]

        assert w.submit(frames).result(WAIT) == [bytes([i]) * 3 for i in range(200)]

        def some(stream: BlockingStream) -> bytes:
            stream.send(bytes([2]))
            got = stream.recv_exactly(1)
            while len(got) < 6:
                got += stream.recv_some()
            return got

        assert w.submit(some).result(WAIT) == b"\0\0\0\1\1\1"


def test_connection_is_usable_from_a_plain_future_chain(worker, echo_server) -> None:
    w, _ = worker
    results: Future = Future()
    w.connect(*echo_server.address).add_done_callback(
        lambda f: w.submit(lambda s: echo(s, b"chained")).add_done_callback(
            lambda g: results.set_result(g.result())
        )
    )
    assert results.result(WAIT) == b"chained"
