"""A live S7Server under hostile frames: each bad connection is dropped with its event, while a
well-behaved python-snap7 client on another connection keeps getting right answers."""

from __future__ import annotations

import os
import random
import socket
import threading
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_s7_server_support import DB1, WAIT, codes, loop, make_server, server_threads  # noqa: F401

from incore.objects.s7 import S7ServerArea
from incore.protocols.s7.constants import Event

EXAMPLES = int(os.environ.get("INCORE_FUZZ_EXAMPLES", "150"))
GOOD_ROUNDS = 20_000  # bounds for the well-behaved client: rounds, and seconds below
GOOD_SECONDS = 60.0

CR = bytes.fromhex("0300001611e00000000100c0010ac1020100c2020102")
SETUP = bytes.fromhex("0300001902f08032010000000000080000f0000001000101e0")
READ = bytes.fromhex("0300001f02f080320100000100000e00000401120a10020010000184000000")
DT = bytes.fromhex("02f080")


def tpkt(payload: bytes) -> bytes:
    return bytes((3, 0)) + (len(payload) + 4).to_bytes(2, "big") + payload


#: Streams every server must refuse: each must end its connection with ClientException.
malformed = st.one_of(
    st.binary(min_size=4, max_size=64).filter(lambda b: b[0] != 3),  # not TPKT version 3
    st.integers(0, 6).map(lambda n: b"\x03\x00\x00" + bytes((n,)) + b"\x00" * 8),  # too short
    st.binary(min_size=10, max_size=80)
    .filter(lambda b: b[0] != 0x32)  # DT not carrying S7
    .map(lambda pdu: CR + tpkt(DT + pdu)),
    st.just(CR + CR),  # a second connection request
    st.just(tpkt(DT + b"\x32\x01\x00\x00\x00\x01\x00\x00\x00\x00")),  # data before connecting
)


def mutate(stream: bytes, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(stream)
    for pos, value in flips:
        data[pos % len(data)] = value
    return bytes(data)


#: Streams that may or may not make sense: the server answers or drops, never anything else.
mutated = st.builds(
    mutate,
    st.just(CR + SETUP + READ),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=4),
)
arbitrary = st.binary(max_size=300)


class GoodClient(threading.Thread):
    """python-snap7 writing and reading back its own DB, and reading DB1's known bytes."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True, name="good-client")
        self.port = port
        self.rounds = 0
        self.errors: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        import snap7

        client = snap7.client.Client()
        client.connect("127.0.0.1", 0, 2, self.port)
        rng = random.Random(1)
        deadline = time.monotonic() + GOOD_SECONDS
        try:
            while (
                not self.stopping.is_set()
                and self.rounds < GOOD_ROUNDS
                and time.monotonic() < deadline
            ):
                value = bytearray(rng.randbytes(8))
                client.db_write(3, 0, value)
                if client.db_read(3, 0, 8) != value:
                    self.errors.append(f"round {self.rounds}: read back a different value")
                start = rng.randrange(0, 1000)
                if client.db_read(1, start, 20) != DB1[start : start + 20]:
                    self.errors.append(f"round {self.rounds}: DB1 read wrong")
                self.rounds += 1
        except Exception as exc:  # the good client must never fail
            self.errors.append(f"round {self.rounds}: {type(exc).__name__}: {exc}")
        finally:
            client.disconnect()


def attack(port: int, stream: bytes) -> None:
    """Send `stream`, close our side, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        try:
            s.sendall(stream)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server dropped us while we were still sending: fine


def test_hostile_connections_are_dropped_and_a_good_client_is_unaffected(loop):
    server = make_server(
        objects=[
            S7ServerArea(area="DB", index=1, data=DB1),
            S7ServerArea(area="DB", index=3, size=8),
        ]
    )
    events: list = []
    server.event.connect(events.append)
    port = server.localPort
    good = GoodClient(port)
    good.start()
    dropped = {"exceptions": 0, "streams": 0}

    def ends() -> tuple[int, int]:
        found = codes(events)
        return found.count(Event.ClientException), found.count(Event.ClientDisconnected)

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        st.one_of(
            malformed.map(lambda s: (True, s)),
            mutated.map(lambda s: (False, s)),
            arbitrary.map(lambda s: (False, s)),
        )
    )
    def one_bad_connection(case: tuple[bool, bytes]) -> None:
        must_fail, stream = case
        exceptions, disconnects = ends()
        attack(port, stream)
        assert loop.run_until(lambda: sum(ends()) == exceptions + disconnects + 1, WAIT), (
            f"no end event for {stream.hex()}"
        )
        if must_fail:
            assert ends()[0] == exceptions + 1, f"{stream.hex()} was not refused"
        dropped["streams"] += 1
        dropped["exceptions"] += ends()[0] - exceptions

    try:
        one_bad_connection()
    finally:
        good.stopping.set()
        good.join(WAIT)
    assert good.errors == [] and good.rounds > 0
    assert dropped["streams"] >= EXAMPLES // 2 and dropped["exceptions"] > 0
    assert loop.run_until(lambda: server.clientsCount == 0, WAIT)
    assert server.stop()
    assert server_threads() == []
