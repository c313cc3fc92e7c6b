"""Spin-then-block receiving: poll briefly for a reply before sleeping in the kernel.

A request/response client spends most of a fast exchange asleep in recv(): the reply comes
back from a nearby peer within tens of microseconds, and putting the thread to sleep and
waking it again costs about as much (far more in a virtual machine, where waking a thread
on another CPU is an inter-processor interrupt through the hypervisor). Polling the socket
for a short budget first keeps the thread on its core: against a Snap7 C server on another
CPU, measured here, that gives two to three times the round trips per second for the same
CPU per request.

Whether spinning pays depends on where the peer runs, so each socket measures it. A
receive either spins (up to the budget, then sleeps) or sleeps at once, and the time it
waited for its data goes into a moving average for that way (every SAMPLE-th receive: the
clock costs more than the decision). The cheaper way is used; for TRIAL receives of every
PERIOD the other way is measured afresh, so a change (the peer moved to this CPU, a PLC on
a real network that answers in milliseconds) is noticed within about a thousand requests.
When the peer shares this CPU, a poll that finds nothing yields the CPU (sched_yield), so
the peer answers at once instead of waiting for the spin to end; then both ways wait alike
and a tie goes to sleeping, which costs fewer system calls (spinning must save SPIN_GAIN).
Against a slow peer a spin runs out and counts as the budget plus the sleep, so blocking
wins again and the spin costs TRIAL budgets per PERIOD requests.

Off on single-CPU machines and where the platform lacks MSG_DONTWAIT.
`INCORE_RECV_SPIN_US` overrides the default budget (0 turns spinning off).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

__all__ = [
    "DEFAULT_BUDGET",
    "RequestSpinner",
    "DONTWAIT",
    "PERIOD",
    "TRIAL",
    "SAMPLE",
    "SPIN",
    "SPIN_GAIN",
    "TIMED",
    "Spinner",
    "spin_recv",
]

#: Every PERIOD receives, the first TRIAL use the way that is not preferred, to re-measure it.
PERIOD = 1024
TRIAL = 4
#: Of the other receives, every SAMPLE-th is timed, to follow the preferred way's cost.
SAMPLE = 8
#: Bits of what choose() returns: spin first; time this receive and record() it.
SPIN, TIMED = 1, 2
#: Weight of the newest wait in its way's moving average.
ALPHA = 0.2
#: Seconds a spin must shorten the wait by to be preferred: polling costs a few system
#: calls more than sleeping, so a tie (a peer on this CPU, which the yield lets answer
#: at once either way) goes to sleeping.
SPIN_GAIN = 5e-6

#: recv() flag for "return at once if nothing is there" (0 where the platform lacks it).
DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)

#: Give the CPU to another thread that is ready to run on it, if any (else return at once).
_yield_cpu: Callable[[], None] = getattr(os, "sched_yield", lambda: None)


def _default_budget() -> float:
    """Seconds a receive spins before blocking, for this machine."""
    env = os.environ.get("INCORE_RECV_SPIN_US")
    if env is not None:
        try:
            return max(0.0, float(env)) / 1e6
        except ValueError:
            raise ValueError(
                f"INCORE_RECV_SPIN_US must be a number of microseconds, not {env!r}"
            ) from None
    # The machine's CPUs, not this process's affinity: a client pinned to one CPU still
    # gains when its peer runs on another, and the measurement finds out which it is.
    return 100e-6 if (os.cpu_count() or 1) > 1 and DONTWAIT else 0.0


DEFAULT_BUDGET: float = _default_budget()


def spin_recv(sock: socket.socket, buf: memoryview, budget: float) -> int | None:
    """Poll `sock` for up to `budget` seconds: the byte count received into `buf` (0 at
    EOF), or None if nothing came. Socket errors propagate."""
    recv_into = sock.recv_into
    clock = time.perf_counter
    deadline = clock() + budget
    while True:
        try:
            return recv_into(buf, 0, DONTWAIT)
        except BlockingIOError:
            if clock() >= deadline:
                return None
            _yield_cpu()  # a peer waiting for this CPU answers now (see the docstring)


class RequestSpinner:
    """A server worker's choice, after an answer, between spinning for the client's next
    request and sleeping at once. The time until a request comes is the client's, not
    ours, and too noisy to compare as `Spinner` does; what tells is whether spins find
    one. Of every WINDOW spins at least half must end with a request, else the worker
    sleeps at once for the next REST waits, then tries again. A client that sends its next
    request as soon as it has an answer (a controlling station's commands) finds the worker
    awake; one that sends seldom costs WINDOW budgets every REST requests."""

    WINDOW = 32
    REST = 1024

    __slots__ = ("budget", "_tries", "_hits", "_rest")

    def __init__(self, budget: float = DEFAULT_BUDGET) -> None:
        self.budget = budget if DONTWAIT else 0.0
        self._tries = self._hits = self._rest = 0

    def poll(self, sock: socket.socket, buf: memoryview) -> int | None:
        """`spin_recv` if spinning pays now: the byte count, or None (then sleep)."""
        if not self.budget:
            return None
        if self._rest:
            self._rest -= 1
            return None
        got = spin_recv(sock, buf, self.budget)
        self._tries += 1
        if got is not None:
            self._hits += 1
        if self._tries == self.WINDOW:
            if self._hits * 2 < self._tries:
                self._rest = self.REST
            self._tries = self._hits = 0
        return got


class Spinner:
    """One socket's choice between spinning and sleeping. Not thread-safe: used by the
    thread that owns the stream. Per receive: `way = choose()`; if `way & SPIN`,
    `poll()` (None: sleep in recv after all), else sleep in recv; if `way & TIMED`,
    `record(way & SPIN, seconds from choose() to the data)`."""

    __slots__ = ("budget", "_count", "_prefer_spin", "_spin_wait", "_block_wait")

    def __init__(self, budget: float = DEFAULT_BUDGET) -> None:
        if budget < 0:
            raise ValueError("spin budget must be >= 0")
        self.budget = budget if DONTWAIT else 0.0
        self._count = 0
        self._prefer_spin = True  # the first receives block (a trial), the next ones spin
        self._spin_wait: float | None = None  # moving averages of the wait for data, seconds
        self._block_wait: float | None = None

    @property
    def prefers_spinning(self) -> bool:
        return bool(self.budget) and self._prefer_spin

    def choose(self) -> int:
        """How the next receive goes: SPIN and TIMED bits (0: sleep at once, untimed)."""
        if not self.budget:
            return 0
        count = self._count
        self._count = count + 1
        phase = count % PERIOD
        if phase < TRIAL:  # a trial of the other way, measured afresh
            if not phase:
                if self._prefer_spin:
                    self._block_wait = None
                else:
                    self._spin_wait = None
            return TIMED if self._prefer_spin else SPIN | TIMED
        if phase % SAMPLE:
            return SPIN if self._prefer_spin else 0
        return SPIN | TIMED if self._prefer_spin else TIMED

    def poll(self, sock: socket.socket, buf: memoryview) -> int | None:
        """Poll `sock` for up to the budget; the byte count received (0 at EOF), or None
        if nothing arrived and the caller should sleep in recv. Socket errors propagate."""
        return spin_recv(sock, buf, self.budget)

    def record(self, spun: int, waited: float) -> None:
        """A receive that spun first (or not) had its data after `waited` seconds."""
        if spun:
            old = self._spin_wait
            self._spin_wait = waited if old is None else old + ALPHA * (waited - old)
        else:
            old = self._block_wait
            self._block_wait = waited if old is None else old + ALPHA * (waited - old)
        if self._spin_wait is not None and self._block_wait is not None:
            self._prefer_spin = self._spin_wait + SPIN_GAIN < self._block_wait
