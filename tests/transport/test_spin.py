"""Spin-then-block receiving (incore.transport.spin) on real socket pairs."""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator

import pytest

from incore.transport import spin
from incore.transport.spin import MAX_SKIP, Spinner
from incore.transport.tcp_client import BlockingStream
from transport_helpers import WAIT

pytestmark = pytest.mark.skipif(not getattr(socket, "MSG_DONTWAIT", 0),
                                reason="spinning needs MSG_DONTWAIT")


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def buffer() -> memoryview:
    return memoryview(bytearray(4096))


def test_data_already_there_is_taken_without_blocking(pair) -> None:
    a, b = pair
    a.sendall(b"reply")
    buf = buffer()
    assert Spinner(0.01).recv_into(b, buf) == 5
    assert bytes(buf[:5]) == b"reply"


def test_a_reply_arriving_during_the_spin_ends_it_at_once(pair) -> None:
    a, b = pair
    spinner = Spinner(WAIT)  # a budget far longer than the reply takes
    go = threading.Event()
    sender = threading.Thread(target=lambda: (go.wait(WAIT), a.sendall(b"late")))
    sender.start()
    started = time.monotonic()
    go.set()
    got = spinner.recv_into(b, buffer())
    sender.join(WAIT)
    assert got == 4
    assert time.monotonic() - started < WAIT / 2


def test_eof_during_the_spin_is_zero_bytes(pair) -> None:
    a, b = pair
    a.shutdown(socket.SHUT_WR)
    assert Spinner(0.01).recv_into(b, buffer()) == 0


def test_a_miss_skips_spinning_for_twice_as_many_receives_each_time(pair) -> None:
    a, b = pair
    spinner = Spinner(0.0005)
    expected_skips = [1, 2, 4, 8]
    for skips in expected_skips:
        assert spinner.recv_into(b, buffer()) is None  # spun out: the peer is slow
        a.sendall(b"x")  # now there is data, but the spinner does not look
        for _ in range(skips):
            assert spinner.recv_into(b, buffer()) is None
        b.recv(16)  # drain, as the blocking receive would have
    a.sendall(b"fast")
    assert spinner.recv_into(b, buffer()) == 4  # a hit resets the backoff
    assert spinner.recv_into(b, buffer()) is None  # spun (nothing there) and missed
    a.sendall(b"y")
    assert spinner.recv_into(b, buffer()) is None  # skips exactly one again


def test_the_backoff_is_bounded(pair) -> None:
    _, b = pair
    spinner = Spinner(0.00001)
    misses = 0
    for _ in range(2 * MAX_SKIP + 20):
        before = spinner._skip
        spinner.recv_into(b, buffer())
        misses += before == 0
    assert spinner._backoff == MAX_SKIP
    assert misses >= 10  # it keeps probing now and then


def test_a_zero_budget_never_touches_the_socket(pair) -> None:
    a, b = pair
    a.sendall(b"data")
    assert Spinner(0.0).recv_into(b, buffer()) is None
    assert b.recv(16) == b"data"


def test_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="spin budget"):
        Spinner(-1.0)


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("50", 50e-6), ("250.5", 250.5e-6)])
def test_the_environment_sets_the_default_budget(monkeypatch, value: str, seconds: float) -> None:
    monkeypatch.setenv("INCORE_RECV_SPIN_US", value)
    assert spin._default_budget() == pytest.approx(seconds)


def test_a_bad_environment_value_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("INCORE_RECV_SPIN_US", "fast")
    with pytest.raises(ValueError, match="INCORE_RECV_SPIN_US.*'fast'"):
        spin._default_budget()


def test_single_cpu_machines_do_not_spin(monkeypatch) -> None:
    monkeypatch.delenv("INCORE_RECV_SPIN_US", raising=False)
    monkeypatch.setattr(spin.os, "sched_getaffinity", lambda pid: {0})
    assert spin._default_budget() == 0.0
    monkeypatch.setattr(spin.os, "sched_getaffinity", lambda pid: {0, 1})
    assert spin._default_budget() > 0.0


def test_blocking_stream_spins_and_still_reads_exact_lengths(pair) -> None:
    a, b = pair
    stream = BlockingStream(b, io_timeout=WAIT, spin=0.01)
    for size in (1, 7, 300):
        a.sendall(bytes(range(256)) * 2)
        assert stream.recv_exactly(size) == (bytes(range(256)) * 2)[:size]
        stream.recv_some()  # the rest of that chunk
    stream.close()


def test_a_probe_without_spin_leaves_the_spinner_alone(pair) -> None:
    a, b = pair
    stream = BlockingStream(b, io_timeout=WAIT, spin=0.01)
    a.sendall(b"z")
    assert stream.recv_some(timeout=WAIT, spin=False) == b"z"
    assert stream._spinner._skip == 0 and stream._spinner._backoff == 0
    stream.close()
