"""TcpServer's handler deadlines, its pool under blocking handlers, and its portable poller."""

from __future__ import annotations

import queue
import threading
import time

from transport_helpers import WAIT, Echo, client, recv_exactly

from incore.transport.tcp_server import Connection, TcpServer

SLACK = 0.15  # how late a deadline may fire on a loaded 2-CPU machine


class Ticker(Echo):
    """A handler with one timer (as IEC 104's t1/t2/t3): due `after` seconds from its
    start, it sends b"tick" and notes when; echoes whatever it receives meanwhile."""

    after: float | None = 0.3
    made: queue.SimpleQueue

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.started = time.monotonic()
        self.due = None if self.after is None else self.started + self.after
        self.fired: queue.SimpleQueue = queue.SimpleQueue()
        self.threads: set[str] = set()
        self.made.put(self)

    def deadline(self) -> float | None:
        return self.due

    def timer_expired(self, now: float) -> None:
        self.threads.add(threading.current_thread().name)
        if self.due is not None and now >= self.due:
            self.due = None
            self.fired.put(now)
            self.conn.send(b"tick")


def ticker(**attrs) -> tuple[type[Ticker], queue.SimpleQueue]:
    made: queue.SimpleQueue = queue.SimpleQueue()
    return type("T", (Ticker,), {"made": made, **attrs}), made


def test_a_deadline_fires_on_time_while_the_connection_is_idle() -> None:
    handler, made = ticker()
    with TcpServer(handler, host="127.0.0.1", name="idle-timer") as server:
        with client(server.address) as sock:
            sock.sendall(b"x")
            assert recv_exactly(sock, 1) == b"x"  # then silence: the hub holds it
            assert recv_exactly(sock, 4) == b"tick"
            ticks = made.get(timeout=WAIT)
            fired = ticks.fired.get(timeout=WAIT)
            assert ticks.after <= fired - ticks.started < ticks.after + SLACK


def test_a_deadline_fires_on_time_while_the_connection_is_busy() -> None:
    handler, made = ticker(after=0.3)
    with TcpServer(handler, host="127.0.0.1", name="busy-timer", linger=1.0) as server:
        with client(server.address) as sock:
            ticks = None
            deadline = time.monotonic() + WAIT
            seen = b""
            while b"tick" not in seen:  # back-to-back requests: its worker never lets go
                assert time.monotonic() < deadline
                sock.sendall(b"r")
                seen += sock.recv(16)
                seen = seen.replace(b"r", b"", 1)
            ticks = made.get(timeout=WAIT)
            fired = ticks.fired.get(timeout=WAIT)
            assert ticks.after <= fired - ticks.started < ticks.after + SLACK


def test_a_deadline_set_from_another_thread_is_rescheduled() -> None:
    handler, made = ticker(after=None)
    with TcpServer(handler, host="127.0.0.1", name="push-timer") as server:
        with client(server.address) as sock:
            sock.sendall(b"x")
            assert recv_exactly(sock, 1) == b"x"
            ticks = made.get(timeout=WAIT)
            set_at = time.monotonic()
            ticks.due = set_at + 0.2  # e.g. the application sent an I-frame: t1 runs
            ticks.conn.reschedule()
            assert recv_exactly(sock, 4) == b"tick"
            fired = ticks.fired.get(timeout=WAIT)
            assert 0.2 <= fired - set_at < 0.2 + SLACK


def test_one_worker_serves_clients_that_ask_at_once_while_it_keeps_up() -> None:
    """Workers beyond the first start only when connections wait with no worker free for
    longer than a linger: several busy at once would only hand Python's GIL around."""
    with TcpServer(Echo, host="127.0.0.1", name="one", workers=4, linger=1.0) as server:
        socks = [client(server.address) for _ in range(3)]
        try:
            for round_ in range(3):
                for i, sock in enumerate(socks):
                    sock.sendall(b"%d.%d" % (round_, i))
                for i, sock in enumerate(socks):
                    assert recv_exactly(sock, 3) == b"%d.%d" % (round_, i)
            assert len(server.threads()) == 1 + 1  # the hub and one worker
        finally:
            for sock in socks:
                sock.close()


def test_the_pool_grows_to_its_bound_while_handlers_block() -> None:
    release = threading.Event()
    entered: queue.SimpleQueue = queue.SimpleQueue()

    class Blocker(Echo):
        def data_received(self, data: bytes) -> None:
            if data == b"block":  # e.g. a client waiting on a locked area
                entered.put(1)
                release.wait(WAIT)
            super().data_received(data)

    with TcpServer(Blocker, host="127.0.0.1", name="grow", workers=2, max_workers=6) as server:
        blocked = [client(server.address) for _ in range(5)]
        try:
            for sock in blocked:
                sock.sendall(b"block")
            for _ in blocked:  # two at first, then as the pool grows
                entered.get(timeout=WAIT)
            with client(server.address) as other:  # the sixth worker serves it
                other.sendall(b"ping")
                assert recv_exactly(other, 4) == b"ping"
            assert len(server.threads()) == 1 + 6
            release.set()
            for sock in blocked:
                assert recv_exactly(sock, 5) == b"block"
        finally:
            release.set()
            for sock in blocked:
                sock.close()


def test_the_portable_poller_serves_clients_that_come_and_go_quiet() -> None:
    """The selectors fallback (no epoll): connections park after every request (a short
    linger), so every request goes through the poller."""
    with TcpServer(
        Echo,
        host="127.0.0.1",
        name="portable",
        portable_poller=True,
        linger=0.001,
        idle_timeout=5,
        handshake_timeout=None,
    ) as server:
        socks = [client(server.address) for _ in range(10)]
        try:
            for round_ in range(20):
                for i, sock in enumerate(socks):
                    sock.sendall(bytes([i, round_]))
                for i, sock in enumerate(socks):
                    assert recv_exactly(sock, 2) == bytes([i, round_])
        finally:
            for sock in socks:
                sock.close()
