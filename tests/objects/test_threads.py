"""Threads: loop.post() from many threads, and property writes from a foreign thread."""

from __future__ import annotations

import threading

from incore.core import EventLoop
from incore.objects.foundation import DataObject

THREADS, EVENTS = 8, 10_000
WAIT = 60.0


def test_post_from_8_threads_loses_nothing_and_keeps_each_threads_order():
    loop = EventLoop()
    received: list[list[int]] = [[] for _ in range(THREADS)]
    go = threading.Barrier(THREADS)

    def producer(index: int) -> None:
        go.wait(WAIT)  # all threads post at the same time
        append = received[index].append
        for n in range(EVENTS):
            loop.post(append, n)

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    done = loop.run_until(lambda: sum(map(len, received)) == THREADS * EVENTS, WAIT)
    for t in threads:
        t.join(WAIT)
    assert done, [len(r) for r in received]
    for r in received:
        assert r == list(range(EVENTS))


def test_a_property_write_from_a_foreign_thread_runs_on_the_loop_thread_in_order():
    loop = EventLoop()
    d = DataObject(data=0)
    writers: set[int] = set()
    seen: list[int] = []
    d.dataChanged.connect(lambda v: (writers.add(threading.get_ident()), seen.append(v)))
    worker = threading.Thread(target=lambda: [setattr(d, "data", n) for n in range(1, 1001)])

    def finished() -> bool:  # the loop owns the objects while run_until runs
        if worker.ident is None:
            worker.start()
        return d.data == 1000

    assert loop.run_until(finished, WAIT)
    worker.join(WAIT)
    assert writers == {threading.get_ident()}
    assert seen == list(range(1, 1001))


def test_a_foreign_write_without_a_running_loop_is_refused_loudly():
    d = DataObject(data=0)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            d.data = 1
        except RuntimeError as exc:
            errors.append(exc)

    worker = threading.Thread(target=write)
    worker.start()
    worker.join(WAIT)
    assert d.data == 0
    assert len(errors) == 1 and "no event loop is running" in str(errors[0])


def test_a_loop_running_in_another_thread_owns_the_objects():
    loop = EventLoop()
    d = DataObject(data=0)
    loop_thread: list[int] = []
    changed_on: list[int] = []
    d.dataChanged.connect(lambda: changed_on.append(threading.get_ident()))
    t = threading.Thread(
        target=lambda: (loop_thread.append(threading.get_ident()), loop.run(timeout=WAIT))
    )
    started = threading.Event()
    loop.post(started.set)
    t.start()
    assert started.wait(WAIT)
    d.data = 5  # from this (now foreign) thread: marshalled to the loop thread
    done = threading.Event()
    loop.post(done.set)
    assert done.wait(WAIT)
    loop.stop()
    t.join(WAIT)
    assert d.data == 5 and changed_on == loop_thread
