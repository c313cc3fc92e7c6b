"""Where the two ends of a benchmark run: on one CPU, or on two.

A request/response exchange costs very different amounts of kernel time depending on
whether the reply wakes a thread on the same CPU (a direct switch) or on another one (an
inter-processor interrupt, which in a virtual machine is a trip through the hypervisor, and
the woken CPU may first have to leave its idle state). Left alone, the scheduler picks one
of the two for each connection and tends to keep it for the whole run, so unpinned numbers
are a random mix and ratios between contenders flip from run to run. The S7 benchmarks
therefore pin both ends and report each placement separately.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

CPUs = frozenset[int]


def placements() -> dict[str, tuple[CPUs, CPUs]]:
    """Name -> (CPUs of the measuring side, CPUs of the peer), for this machine."""
    allowed = sorted(os.sched_getaffinity(0))
    first = frozenset(allowed[:1])
    if len(allowed) < 2:
        return {"one CPU": (first, first)}
    return {"same CPU": (first, first), "across CPUs": (first, frozenset(allowed[1:2]))}


@contextmanager
def pinned(cpus: CPUs) -> Iterator[None]:
    """Run the calling thread (and the threads it starts) on ``cpus`` for the block."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pin_process(pid: int, cpus: CPUs) -> None:
    """Move every thread of a running process to ``cpus`` (threads it starts later follow
    the thread that starts them)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except ProcessLookupError:
            pass  # the thread ended meanwhile


def at_start(cpus: CPUs | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that starts a child process on ``cpus`` (None: where it likes)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def describe(name: str, cpus: tuple[CPUs, CPUs]) -> str:
    """A table heading's placement, e.g. "same CPU (client on CPU 0, server on CPU 0)"."""
    ours, theirs = (",".join(map(str, sorted(c))) for c in cpus)
    return f"{name} (client on CPU {ours}, server on CPU {theirs})"
