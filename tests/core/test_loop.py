"""The event loop: posted work, timers, stop."""

import threading
import time

from incore.core import EventLoop


def test_call_later_runs_in_deadline_order():
    loop = EventLoop()
    order = []
    loop.call_later(0.02, order.append, 2)
    loop.call_later(0.01, order.append, 1)
    h = loop.call_later(0.015, order.append, "cancelled")
    h.cancel()
    loop.call_later(0.03, loop.stop)
    loop.run(timeout=5)
    assert order == [1, 2]


def test_stop_from_another_thread_ends_run():
    loop = EventLoop()
    started = threading.Event()
    loop.post(started.set)
    t = threading.Thread(target=lambda: (started.wait(5), loop.stop()))
    t.start()
    loop.run(timeout=5)
    t.join(5)
    assert started.is_set()


def test_a_failing_callback_does_not_stop_the_loop(caplog):
    loop = EventLoop()
    done = []
    loop.post(lambda: 1 / 0)
    loop.post(done.append, True)
    assert loop.run_until(lambda: done, timeout=5)
    assert "ZeroDivisionError" in caplog.text


def _run_in_thread(loop: EventLoop) -> threading.Thread:
    thread = threading.Thread(target=loop.run, kwargs={"timeout": 10}, daemon=True)
    thread.start()
    return thread


def test_an_idle_loop_runs_a_callable_on_the_thread_that_asks():
    """run_or_post: nothing queued and nobody running the loop's callables, so the caller
    runs it at once, as the owner of the objects (the loop's thread sleeps through it)."""
    from incore.core import engine

    loop = EventLoop()
    thread = _run_in_thread(loop)
    seen = []
    ran = threading.Event()
    loop.post(ran.set)
    assert ran.wait(5)
    assert loop.run_or_post(lambda: seen.append((threading.get_ident(), engine.owner_ident())))
    me = threading.get_ident()
    assert seen == [(me, me)]
    assert not loop.dispatching_here()  # given back
    loop.stop()
    thread.join(5)


def test_a_busy_or_behind_loop_gets_the_callable_posted_in_order():
    """While the loop's thread runs a callable, or callables wait, run_or_post posts: what
    was posted before runs first, and the callable runs on the loop's thread."""
    loop = EventLoop()
    order: list = []
    release = threading.Event()
    busy = threading.Event()

    def hold() -> None:
        busy.set()
        release.wait(5)
        order.append("held")

    loop.post(hold)
    loop.post(order.append, "queued")
    thread = _run_in_thread(loop)
    assert busy.wait(5)
    assert not loop.run_or_post(lambda: order.append(("asked", threading.get_ident())))
    release.set()
    loop.post(loop.stop)
    thread.join(5)
    assert order == ["held", "queued", ("asked", thread.ident)]


def test_a_thread_that_starts_dispatching_while_the_loop_is_lent_gets_its_owner_back():
    """A worker runs a callable through run_or_post while this thread enters run_until: each
    gives back the owner it found, so this thread owns the objects afterwards. (Saving the
    owner during the worker's turn and restoring it after would leave a finished worker as
    the owner, and this thread's writes would be posted to a loop nobody runs.)"""
    from incore.core import engine

    loop = EventLoop()
    me = threading.get_ident()
    before = engine.set_owner(me, None)
    inside, done = threading.Event(), threading.Event()

    def lent() -> None:
        inside.set()
        time.sleep(0.1)  # the callable is still running when this thread dispatches

    worker = threading.Thread(target=lambda: (loop.run_or_post(lent), done.set()))
    try:
        worker.start()
        assert inside.wait(5)
        assert loop.run_until(done.is_set, 5)
        worker.join(5)
        assert engine.owner_ident() == me
    finally:
        engine.set_owner(*before)


def test_a_loop_with_work_queued_and_nobody_running_it_keeps_the_order():
    """Nobody dispatches (a test's loop between process_events calls): run_or_post must not
    overtake what is queued."""
    loop = EventLoop()
    order: list = []
    loop.post(order.append, 1)
    assert not loop.run_or_post(order.append, 2)
    assert order == []
    loop.process_events()
    assert order == [1, 2]
    assert loop.run_or_post(order.append, 3)  # idle now: runs here
    assert order == [1, 2, 3]
