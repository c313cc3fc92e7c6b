"""Spin-then-block receiving (incore.transport.spin) on real socket pairs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from transport_helpers import WAIT

from incore.transport import spin
from incore.transport.spin import PERIOD, SAMPLE, SPIN, SPIN_GAIN, TIMED, TRIAL, Spinner
from incore.transport.tcp_client import BlockingStream


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
    assert Spinner(0.01).poll(b, buf) == 5
    assert bytes(buf[:5]) == b"reply"


def test_a_reply_arriving_during_the_spin_ends_it_at_once(pair) -> None:
    a, b = pair
    spinner = Spinner(WAIT)  # a budget far longer than the reply takes
    go = threading.Event()
    sender = threading.Thread(target=lambda: (go.wait(WAIT), a.sendall(b"late")))
    sender.start()
    started = time.monotonic()
    go.set()
    got = spinner.poll(b, buffer())
    sender.join(WAIT)
    assert got == 4
    assert time.monotonic() - started < WAIT / 2


def test_eof_during_the_spin_is_zero_bytes(pair) -> None:
    a, b = pair
    a.shutdown(socket.SHUT_WR)
    assert Spinner(0.01).poll(b, buffer()) == 0


def test_nothing_within_the_budget_means_sleep(pair) -> None:
    _, b = pair
    started = time.perf_counter()
    assert Spinner(0.002).poll(b, buffer()) is None
    assert time.perf_counter() - started >= 0.002


def spins(ways: list[int]) -> list[bool]:
    return [bool(way & SPIN) for way in ways]


def test_it_measures_both_ways_first_then_keeps_the_cheaper() -> None:
    spinner = Spinner(100e-6)
    ways = [spinner.choose() for _ in range(TRIAL)]
    assert ways == [TIMED] * TRIAL  # the opening trial sleeps at once, every one timed
    for _ in ways:
        spinner.record(0, 90e-6)  # a sleeping receive had its reply after 90 us
    rest = [spinner.choose() for _ in range(PERIOD - TRIAL)]
    assert all(spins(rest))  # then it spins, and times a sample of those receives
    assert [i for i, way in enumerate(rest, TRIAL) if way & TIMED] == list(
        range(SAMPLE, PERIOD, SAMPLE)
    )
    spinner.record(SPIN, 30e-6)
    assert spinner.prefers_spinning
    # Every PERIOD receives, TRIAL of them re-measure sleeping.
    assert spins([spinner.choose() for _ in range(TRIAL + 1)]) == [False] * TRIAL + [True]


def test_a_trial_measures_its_way_afresh() -> None:
    spinner = Spinner(100e-6)
    spinner.record(0, 90e-6)
    spinner.record(SPIN, 30e-6)
    for _ in range(PERIOD):
        spinner.choose()
    assert spinner.choose() == TIMED and spinner._block_wait is None  # forgotten, re-measured
    spinner.record(0, 10e-6)  # sleeping is now the cheaper way
    assert not spinner.prefers_spinning


def test_a_peer_on_this_cpu_makes_it_sleep() -> None:
    """Spinning delays a peer that needs this CPU: the spins measure slower, so it sleeps."""
    spinner = Spinner(100e-6)
    spinner.record(0, 20e-6)
    spinner.record(SPIN, 35e-6)
    assert not spinner.prefers_spinning
    assert all(spins([spinner.choose() for _ in range(TRIAL)]))  # the opening trial spins
    assert not any(spins([spinner.choose() for _ in range(TRIAL, PERIOD)]))


def test_a_tie_goes_to_sleeping() -> None:
    """A peer on this CPU answers as soon as the spin yields, as fast as to a sleeper: the
    spin must save more than its system calls cost (SPIN_GAIN) to be preferred."""
    spinner = Spinner(100e-6)
    spinner.record(0, 4e-6)
    spinner.record(SPIN, 3e-6)
    assert not spinner.prefers_spinning
    spinner.record(0, 4e-6 + 10 * SPIN_GAIN)  # (a moving average: a fifth of the step)
    assert spinner.prefers_spinning


def test_a_poll_that_finds_nothing_yields_the_cpu(pair, monkeypatch) -> None:
    """So that a peer waiting for this CPU answers now, not when the spin has run out."""
    a, b = pair
    yields: list[None] = []

    def reply_on_second_yield() -> None:
        yields.append(None)
        if len(yields) == 2:
            a.sendall(b"now")

    monkeypatch.setattr(spin, "_yield_cpu", reply_on_second_yield)
    assert Spinner(WAIT).poll(b, buffer()) == 3
    assert len(yields) == 2


def test_a_slow_peer_makes_it_sleep_and_costs_few_spins() -> None:
    spinner = Spinner(100e-6)
    spinner.record(0, 2e-3)  # a PLC that answers in 2 ms
    spinner.record(SPIN, 100e-6 + 2e-3)  # the spin ran out, then it slept
    ways = [spinner.choose() for _ in range(10 * PERIOD)]
    for way in ways:  # the trials keep measuring what they saw before
        if way & TIMED:
            spinner.record(way & SPIN, 2.1e-3 if way & SPIN else 2e-3)
    assert sum(spins(ways)) == 10 * TRIAL  # only the trials spin


def test_the_averages_follow_a_change() -> None:
    spinner = Spinner(100e-6)
    spinner.record(0, 90e-6)
    spinner.record(SPIN, 30e-6)
    assert spinner.prefers_spinning
    for _ in range(10):  # the peer moved to this CPU: spins now take longer
        spinner.record(SPIN, 200e-6)
    assert not spinner.prefers_spinning


def test_a_zero_budget_never_spins(pair) -> None:
    spinner = Spinner(0.0)
    assert not any(spinner.choose() for _ in range(PERIOD))
    assert not spinner.prefers_spinning


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
    monkeypatch.setattr(spin.os, "cpu_count", lambda: 1)
    assert spin._default_budget() == 0.0
    monkeypatch.setattr(spin.os, "cpu_count", lambda: 2)
    assert spin._default_budget() > 0.0


def test_blocking_stream_spins_or_sleeps_and_still_reads_exact_lengths(pair) -> None:
    a, b = pair
    stream = BlockingStream(b, io_timeout=WAIT, spin=0.01)
    data = bytes(range(256)) * 2
    for size in (1, 7, 300) * 4:  # through the opening trial into the chosen way
        a.sendall(data)
        assert stream.recv_exactly(size) == data[:size]
        assert stream.recv_exactly(len(data) - size) == data[size:]
    assert stream._spinner._count >= 12
    stream.close()


def test_a_probe_without_spin_leaves_the_spinner_alone(pair) -> None:
    a, b = pair
    stream = BlockingStream(b, io_timeout=WAIT, spin=0.01)
    a.sendall(b"z")
    assert stream.recv_some(timeout=WAIT, spin=False) == b"z"
    assert stream._spinner._count == 0  # neither chosen nor measured
    stream.close()


def test_a_server_spins_while_its_spins_find_requests_and_rests_when_they_do_not(pair) -> None:
    """RequestSpinner: a request within the budget is taken by the spin; once fewer than
    half of a window of spins found one, it sleeps at once (None without polling) for REST
    waits, then spins again."""
    a, b = pair
    waiter = spin.RequestSpinner(budget=0.002)
    buf = buffer()
    for _ in range(spin.RequestSpinner.WINDOW // 2):  # half of the window finds a request
        b.send(b"req")
        assert waiter.poll(a, buf) == 3
    for _ in range(spin.RequestSpinner.WINDOW // 2 - 1):  # the rest spin out
        assert waiter.poll(a, buf) is None
    b.send(b"late")  # the window's last spin finds one: half, so it keeps spinning
    assert waiter.poll(a, buf) == 4
    for _ in range(spin.RequestSpinner.WINDOW):  # a window of misses
        assert waiter.poll(a, buf) is None
    b.send(b"now")  # resting: no spin takes it, though it is there
    assert all(waiter.poll(a, buf) is None for _ in range(spin.RequestSpinner.REST))
    assert waiter.poll(a, buf) == 3  # rested: spinning again
