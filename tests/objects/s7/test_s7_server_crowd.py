"""S7Server under a crowd: a thousand S7 clients at once, silent connections, a full house.

The burst clients are raw sockets driven by one selector (tests/peers/crowd.py) sending the
frames python-snap7's own ISO and S7 layers build (connection request, setup communication,
a DB read), so a thousand complete S7 handshakes really are in flight together; the well-
behaved client that must be served throughout is python-snap7's Client.
"""

from __future__ import annotations

import threading
import time

import snap7
from crowd import (
    burst_connect,
    close_all,
    closed_by_peer,
    exchange_all,
    open_fds,  # noqa: I001
    raise_fd_limit,
    tpkt_length,
)
from snap7.connection import ISOTCPConnection as Snap7Iso
from snap7.datatypes import S7Area, S7WordLen
from snap7.s7protocol import S7Protocol
from test_s7_server_support import DB1, WAIT, in_thread, loop, make_server, pysnap7  # noqa: F401

CLIENTS = 1000
SLACK = 0.8  # how late a timeout may act on a loaded 2-CPU machine


class Frames:
    """One client's frames, as python-snap7 builds them (rack 0, slot 2)."""

    def __init__(self, port: int) -> None:
        self.iso = Snap7Iso("127.0.0.1", port, local_tsap=0x0100, remote_tsap=0x0102)
        self.s7 = S7Protocol()

    def connection_request(self) -> bytes:
        return self.iso._build_tpkt(self.iso._build_cotp_cr())

    def data(self, pdu: bytes) -> bytes:
        return self.iso._build_tpkt(self.iso._build_cotp_dt(pdu))

    def setup(self) -> bytes:
        return self.data(self.s7.build_setup_communication_request(pdu_length=480))

    def read_db1(self, start: int, size: int) -> bytes:
        return self.data(self.s7.build_read_request(S7Area.DB, 1, start, S7WordLen.BYTE, size))

    def payload(self, reply: bytes) -> dict:
        """The S7 reply in a one-frame TPKT/COTP DT reply, parsed by python-snap7."""
        assert reply[5] == 0xF0, reply  # COTP DT
        return self.s7.parse_response(reply[7:])


def s7_handshake(socks: list, port: int) -> list[Frames]:
    """ISO connection and S7 setup communication on every socket, all at once."""
    frames = [Frames(port) for _ in socks]
    confirms = exchange_all(socks, [f.connection_request() for f in frames], tpkt_length, WAIT)
    assert all(c[5] == 0xD0 for c in confirms)  # COTP CC
    acks = exchange_all(socks, [f.setup() for f in frames], tpkt_length, WAIT)
    for f, ack in zip(frames, acks):
        assert f.payload(ack)["parameters"]["pdu_length"] == 480
    return frames


def test_a_thousand_s7_clients_connect_at_once_and_every_one_is_served(loop):
    raise_fd_limit(4 * CLIENTS)
    threads_before = threading.active_count()
    server = make_server(maxClients=CLIENTS + 24)
    started = time.monotonic()
    socks = burst_connect(("127.0.0.1", server.localPort), CLIENTS, WAIT)
    try:
        frames = s7_handshake(socks, server.localPort)
        reads = [f.read_db1(i % 1000, 8) for i, f in enumerate(frames)]
        replies = exchange_all(socks, reads, tpkt_length, WAIT)
        took = time.monotonic() - started
        for i, (f, reply) in enumerate(zip(frames, replies)):
            assert reply[-8:] == DB1[i % 1000 : i % 1000 + 8]
            assert f.payload(reply)["error_code"] == 0
        assert loop.run_until(lambda: server.clientsCount == CLIENTS, WAIT)
        threads = threading.active_count() - threads_before
        assert threads <= 1 + 64
        print(
            f"\n{CLIENTS} S7 clients connected, set up and read in {took:.2f} s; "
            f"{threads} server threads, {open_fds()} descriptors in the process"
        )
    finally:
        close_all(socks)
    assert loop.run_until(lambda: server.clientsCount == 0, WAIT)


def test_python_snap7_clients_from_several_threads_are_all_served(loop):
    """A thousand python-snap7 clients, connected from four threads at once and held."""
    raise_fd_limit(4 * CLIENTS)
    server = make_server(maxClients=CLIENTS + 24)
    clients: list[snap7.client.Client] = []
    lock = threading.Lock()

    def connect_many(n: int) -> None:
        for i in range(n):
            c = pysnap7(server)
            assert c.db_read(1, i % 1000, 4) == DB1[i % 1000 : i % 1000 + 4]
            with lock:
                clients.append(c)

    threads = [threading.Thread(target=connect_many, args=(CLIENTS // 4,)) for _ in range(4)]
    try:
        in_thread(
            loop, lambda: ([t.start() for t in threads], [t.join() for t in threads]), timeout=60
        )
        assert len(clients) == CLIENTS
        assert loop.run_until(lambda: server.clientsCount == CLIENTS, WAIT)
        assert clients[0].db_read(1, 0, 4) == DB1[:4]  # the first still served
    finally:
        for c in clients:
            c.disconnect()


def test_silent_and_half_open_connections_time_out_while_a_client_is_served(loop):
    server = make_server(handshakeTimeout=500)
    good = pysnap7(server)
    started = time.monotonic()  # before any of them connects
    silent = burst_connect(("127.0.0.1", server.localPort), 100, WAIT)
    half = burst_connect(("127.0.0.1", server.localPort), 100, WAIT)
    try:  # these get their connection confirm, then stop before the setup communication
        frames = [Frames(server.localPort) for _ in half]
        exchange_all(half, [f.connection_request() for f in frames], tpkt_length, WAIT)
        stop = threading.Event()
        reads = in_background_reads(good, stop)
        try:
            first, last = closed_by_peer(silent + half, WAIT)
        finally:
            stop.set()
            reads.join(WAIT)
        assert 0.5 <= first - started and last - started < 0.5 + SLACK
        assert reads.count > 0 and reads.error is None  # served throughout
        assert good.db_read(1, 0, 4) == DB1[:4]
        assert loop.run_until(lambda: server.clientsCount == 1, WAIT)
    finally:
        close_all(silent + half)
        good.disconnect()


def test_a_full_house_of_silent_connections_does_not_lock_a_client_out(loop):
    """MaxClients silent connections: a real client gets in long before their handshake
    timeout, in the place of the oldest."""
    raise_fd_limit(4 * 1024)
    server = make_server(maxClients=1024)  # and the default handshakeTimeout, 5 s
    silent = burst_connect(("127.0.0.1", server.localPort), 1024, WAIT)
    started = time.monotonic()
    try:
        assert loop.run_until(lambda: server.clientsCount == 1024, WAIT)  # a full house
        client = snap7.client.Client()
        while True:
            try:
                client.connect("127.0.0.1", 0, 2, server.localPort)
                break
            except Exception:  # refused: the silent ones are too young to be evicted yet
                assert time.monotonic() - started < 2.0, "locked out"
        assert client.db_read(1, 0, 4) == DB1[:4]
        assert time.monotonic() - started < 2.0  # not the 5 s of the handshake timeout
        client.disconnect()
    finally:
        close_all(silent)


class in_background_reads(threading.Thread):
    """A python-snap7 client reading DB1 in a loop until ``stop``."""

    def __init__(self, client: snap7.client.Client, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.client, self.stop, self.count, self.error = client, stop, 0, None
        self.start()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                assert self.client.db_read(1, 0, 4) == DB1[:4]
                self.count += 1
        except BaseException as exc:  # handed to the test
            self.error = exc
