"""ListeningWorker: a client connection that hears what the peer sends unasked.

The peer is a test-local server on 127.0.0.1 that pushes length-prefixed frames whenever
the test says so (an IEC 104 outstation's spontaneous data, in miniature), answers
``req:X`` with ``rep:X`` (pushing ``push:during-X`` first when asked to) and ``ping`` with
``pong`` (unless told to stay silent).
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from link_codec import AckLater, Frame, Keepalive, LengthPrefixed, Pinged, frame
from transport_helpers import WAIT, LoopThread

from incore.transport.link import Failure, Link, LinkError
from incore.transport.link_stream import BlockingStream
from incore.transport.link_worker import DEAF_AFTER_INLINE, ListeningWorker
from incore.transport.sockets import NotConnectedError, ReceiveTimeoutError


class PushServer:
    """One connection at a time; ``push`` sends a frame on the current one at once."""

    def __init__(
        self, greeting: bytes = b"", push_during_requests: bool = False, answer_pings: bool = True
    ) -> None:
        self.greeting = greeting
        self.push_during_requests = push_during_requests
        self.push_after_requests = False  # a push in the same segment as the answer, after it
        self.push_behind_answers = False  # a push in a send of its own after the answer
        self.answer_pings = answer_pings
        self.requests: list[bytes] = []
        self.heard: queue.SimpleQueue[bytes] = queue.SimpleQueue()  # frames that are no request
        self.accepted: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()
        self._send_lock = threading.Lock()
        self._conn: socket.socket | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = self._listener.getsockname()
        self._thread = threading.Thread(target=self._run, name="push-server", daemon=True)
        self._thread.start()

    def push(self, payload: bytes) -> None:
        self._send(self._conn, payload)

    def drop(self) -> None:
        """Close the current connection from this end."""
        self._conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        if self._conn is not None:
            try:
                self._conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(WAIT)

    def _send(self, conn: socket.socket | None, payload: bytes) -> None:
        with self._send_lock:  # pushes (test thread) and answers (server thread) interleave
            conn.sendall(frame(payload))

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
            self.accepted.put(conn)
            with conn:
                if self.greeting:
                    with self._send_lock:
                        conn.sendall(self.greeting)
                self._serve(Link(BlockingStream(conn, WAIT), LengthPrefixed(), WAIT))

    def _serve(self, link: Link) -> None:
        while True:
            try:
                payload = link.next_event().payload
            except ReceiveTimeoutError:
                continue
            except OSError:
                return
            if payload.startswith(b"req:"):
                self.requests.append(payload)
                if self.push_during_requests:
                    self._send(link.stream._sock, b"push:during-" + payload[4:])
                answer = frame(b"rep:" + payload[4:])
                if self.push_after_requests:
                    answer += frame(b"push:after-" + payload[4:])
                with self._send_lock:
                    link.stream._sock.sendall(answer)
                if self.push_behind_answers:  # as an IEC 104 station's actterm after actcon
                    self._send(link.stream._sock, b"push:behind-" + payload[4:])
            elif payload == b"ping" and self.answer_pings:
                self._send(link.stream._sock, b"pong")
            else:
                self.heard.put(payload)


def ask(link: Link, what: bytes) -> bytes:
    """One request: its reply is the next ``rep:`` frame, whatever comes before it."""
    link.send_pdu(b"req:" + what)
    return link.wait_for(lambda e: isinstance(e, Frame) and e.payload.startswith(b"rep:")).payload


class Client:
    """A ListeningWorker whose events and losses the loop collects, with their threads."""

    def __init__(self, loop: LoopThread, engine=LengthPrefixed, wait_for: bytes = b"") -> None:
        self.loop = loop
        self.events: queue.SimpleQueue[tuple[Any, threading.Thread]] = queue.SimpleQueue()
        self.lost: queue.SimpleQueue[BaseException] = queue.SimpleQueue()
        self.engine = engine
        self.wait_for = wait_for
        self.worker = ListeningWorker(
            "listener", loop.post, on_event=self._on_event, on_lost=self.lost.put, io_timeout=WAIT
        )

    def _on_event(self, event: Any) -> None:  # the connection's thread: post, never block
        self.loop.post(lambda: self.events.put((event, threading.current_thread())))

    def setup(self, stream: BlockingStream) -> Link:
        link = Link(stream, self.engine(), WAIT)
        if self.wait_for:
            link.wait_for(lambda e: e.payload == self.wait_for)
        return link

    def connect(self, server: PushServer) -> Link:
        link = self.worker.connect(*server.address, timeout=WAIT, setup=self.setup).result(WAIT)
        server.accepted.get(timeout=WAIT)  # the server has the connection: it can push
        return link

    def next_events(self, n: int) -> list:
        got = []
        for _ in range(n):
            event, thread = self.events.get(timeout=WAIT)
            assert thread is self.loop.thread
            got.append(event)
        return got


@pytest.fixture
def server() -> Iterator[PushServer]:
    srv = PushServer()
    yield srv
    srv.close()


@pytest.fixture
def client(loop: LoopThread) -> Iterator[Client]:
    c = Client(loop)
    yield c
    assert c.worker.shutdown(timeout=WAIT)


def test_frames_pushed_with_no_request_pending_reach_the_loop_in_order(client, server) -> None:
    client.connect(server)
    for n in range(20):
        server.push(b"push:%d" % n)
    assert client.next_events(20) == [Frame(b"push:%d" % n) for n in range(20)]
    assert client.lost.empty()


def test_requests_and_answers_between_and_amid_pushes(client, server) -> None:
    client.connect(server)
    server.push(b"push:a")
    assert client.next_events(1) == [Frame(b"push:a")]  # the worker was listening, idle
    assert client.worker.request(lambda link: ask(link, b"1")).result(WAIT) == b"rep:1"
    server.push_during_requests = True  # now a push comes ahead of each answer
    futures = [client.worker.request(lambda link, n=n: ask(link, b"%d" % n)) for n in range(2, 6)]
    server.push(b"push:b")
    assert [f.result(WAIT) for f in futures] == [b"rep:%d" % n for n in range(2, 6)]
    events = client.next_events(5)
    assert Frame(b"push:b") in events
    assert [e for e in events if e != Frame(b"push:b")] == [
        Frame(b"push:during-%d" % n) for n in range(2, 6)
    ]
    assert server.requests == [b"req:%d" % n for n in range(1, 6)]


def test_what_the_handshake_passed_over_comes_first(loop) -> None:
    server = PushServer(greeting=frame(b"push:early") + frame(b"hello"))
    client = Client(loop, wait_for=b"hello")
    try:
        link = client.connect(server)
        assert link.held == [] and client.worker.link is link
        server.push(b"push:late")
        assert client.next_events(2) == [Frame(b"push:early"), Frame(b"push:late")]
    finally:
        assert client.worker.shutdown(timeout=WAIT)
        server.close()


def test_the_engine_timers_run_while_the_worker_listens(loop, server) -> None:
    client = Client(loop, engine=lambda: Keepalive(time.monotonic(), t3=0.03, t1=WAIT))
    try:
        client.connect(server)
        events = client.next_events(6)  # no request at all: t3 pings, the peer answers
        assert [type(e) for e in events] == [Pinged, Frame] * 3
        assert all(e.payload == b"pong" for e in events[1::2])
        assert client.lost.empty()
    finally:
        assert client.worker.shutdown(timeout=WAIT)


def test_a_timer_that_gives_up_loses_the_connection(loop) -> None:
    server = PushServer(answer_pings=False)
    client = Client(loop, engine=lambda: Keepalive(time.monotonic(), t3=0.02, t1=0.05))
    try:
        client.connect(server)
        exc = client.lost.get(timeout=WAIT)
        assert isinstance(exc, LinkError) and exc.failure is Failure.PROTOCOL
        assert "no pong within t1" in str(exc) and client.worker.link is None
    finally:
        assert client.worker.shutdown(timeout=WAIT)
        server.close()


def test_a_peer_that_closes_an_idle_connection_is_noticed_and_can_be_reconnected(
    client, server
) -> None:
    client.connect(server)
    server.drop()
    exc = client.lost.get(timeout=WAIT)  # no request was needed to notice
    assert isinstance(exc, LinkError) and "closed by the peer" in str(exc)
    assert client.worker.link is None
    with pytest.raises(NotConnectedError):
        client.worker.request(lambda link: ask(link, b"x")).result(WAIT)
    client.connect(server)
    server.push(b"push:again")
    assert client.next_events(1) == [Frame(b"push:again")]


def test_setup_must_return_the_link_to_listen_on(client, server) -> None:
    with pytest.raises(TypeError, match="not a Link"):
        client.worker.connect(*server.address, timeout=WAIT, setup=lambda s: s).result(WAIT)
    with pytest.raises(TypeError, match="needs a setup"):
        client.worker.connect(*server.address, timeout=WAIT)
    assert client.worker.link is None and client.lost.empty()


def test_a_request_runs_inline_while_the_worker_listens(client, server) -> None:
    """The listener waits without the job lock: a caller that may block runs its request
    on its own thread at once, sparing two thread hand-overs."""
    link = client.connect(server)
    ran_on: list[threading.Thread] = []

    def job() -> bytes:
        ran_on.append(threading.current_thread())
        return ask(link, b"inline")

    future = None
    deadline = time.monotonic() + WAIT
    while future is None and time.monotonic() < deadline:  # (the listener's first turn)
        future = client.worker.run_inline(job)
    assert future is not None and future.result(0) == b"rep:inline"
    assert ran_on == [threading.current_thread()]
    server.push(b"push:then")  # and the worker still listens
    assert client.next_events(1) == [Frame(b"push:then")]


def run_inline(client: Client, job: Any) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        future = client.worker.run_inline(job)
        if future is not None:
            return future.result(0)
    raise AssertionError("the worker never let a request run inline")


def test_what_an_inline_request_leaves_unread_reaches_the_loop(client, server) -> None:
    """A push in the answer's segment stays in the link after the request: the caller hands
    it on (on_event, on its thread) rather than leave it to a listener that the socket, read
    empty, would never wake."""
    link = client.connect(server)
    server.push_after_requests = True
    assert run_inline(client, lambda: ask(link, b"1")) == b"rep:1"
    assert client.next_events(1) == [Frame(b"push:after-1")]


def test_a_timer_an_inline_request_arms_fires_on_time(loop, server) -> None:
    """Receiving the answer arms t2; the listener, which was waiting with no timer at all,
    is woken to run it."""
    client = Client(loop, engine=lambda: AckLater(time.monotonic(), t2=0.02))
    try:
        link = client.connect(server)
        assert run_inline(client, lambda: ask(link, b"1")) == b"rep:1"
        assert server.heard.get(timeout=WAIT) == b"ack"
    finally:
        assert client.worker.shutdown(timeout=WAIT)


def test_after_an_inline_request_the_listener_is_woken_only_when_needed(loop, server) -> None:
    """The case the two tests above cannot force: the listener was between waits, so the
    answer's bytes did not wake it. Whatever the request left, a timer sooner than the
    listener's wait, or a wait that would outlast its deafness (it would not watch the
    connection again in time) needs it now; nothing else does (no wake-up per request)."""
    client = Client(loop, engine=lambda: AckLater(time.monotonic(), t2=30.0))
    try:
        link = client.connect(server)
        worker = client.worker
        now = time.monotonic()
        worker._deaf_until = now + DEAF_AFTER_INLINE  # a request just ended
        worker._listen_until = now + DEAF_AFTER_INLINE / 2  # back to watch in time
        assert not worker._needs_listener(link)  # no timer at all yet
        worker._listen_until = now + 60.0
        assert worker._needs_listener(link)  # it would sleep deaf for a minute
        worker._listen_until = now + DEAF_AFTER_INLINE / 2
        link._inbox.append(Frame(b"left over"))
        assert worker._needs_listener(link)
        link._inbox.clear()
        link.engine.due = time.monotonic()  # t2 due now, sooner than the listener's wait
        assert worker._needs_listener(link)
    finally:
        assert client.worker.shutdown(timeout=WAIT)


def test_the_listener_watches_again_once_the_requests_stop(client, server) -> None:
    """Deaf after an inline request, the listener watches the connection again within
    about DEAF_AFTER_INLINE: what a station sends after the last answer (an actterm, a
    spontaneous value) reaches the loop without another request."""
    link = client.connect(server)
    assert run_inline(client, lambda: ask(link, b"1")) == b"rep:1"
    server.push(b"push:after-the-last")
    assert client.next_events(1) == [Frame(b"push:after-the-last")]


def test_the_listener_sleeps_through_inline_requests(client, server) -> None:
    """While a caller sends requests back to back, the listener does not watch the
    connection: what comes behind each answer (an IEC 104 station's actterm after its
    actcon) is read by the caller's next request, not by a listener woken for it, which
    would take the job lock and make that request wait. The listener looks again every
    DEAF_AFTER_INLINE, and takes what is left once the requests stop."""
    link = client.connect(server)
    worker = client.worker
    turns: list[float] = []
    listen = worker._listen

    def counted(link: Any) -> None:
        turns.append(time.monotonic())
        listen(link)

    worker._listen = counted  # type: ignore[method-assign]
    server.push_behind_answers = True
    started = time.monotonic()
    for n in range(200):
        assert run_inline(client, lambda n=n: ask(link, b"%d" % n)) == b"rep:%d" % n
    took = time.monotonic() - started
    assert len(turns) <= 3 + took / DEAF_AFTER_INLINE < 200  # not a turn per push
    events = client.next_events(200)
    assert events == [Frame(b"push:behind-%d" % n) for n in range(200)]


def test_what_comes_with_an_inline_answer_is_handed_on_by_the_caller(client, server) -> None:
    """A push in the answer's segment is given to on_event on the caller's thread, right
    after its request: no listener is woken to deliver it."""
    link = client.connect(server)
    worker = client.worker
    delivered_on: list[threading.Thread] = []
    on_event = worker._on_event

    def recorded(event: Any) -> None:
        delivered_on.append(threading.current_thread())
        on_event(event)

    worker._on_event = recorded
    server.push_after_requests = True
    assert run_inline(client, lambda: ask(link, b"1")) == b"rep:1"
    assert delivered_on == [threading.current_thread()]
    assert client.next_events(1) == [Frame(b"push:after-1")]
