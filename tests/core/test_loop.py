"""The event loop: posted work, timers, stop."""

import threading

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
