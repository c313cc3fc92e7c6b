"""The event loop under a flood: timers stay on time, the backlog stays bounded, stop works."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from incore.core import EventLoop

WAIT = 10.0
LIMIT = 500  # a small backlog limit, so a flood reaches it at once


class Flooder:
    """A thread that posts to the loop as fast as it can, in order, until told to end.

    Bounded in count and time: it ends after `most` posts or when `done` is set. Each post
    records the backlog it left, so the test sees how far the loop fell behind. Each posted
    callable takes longer to run than to post (a loop of `cost` steps), so the loop cannot
    keep up, as with an event handler slower than the clients that cause the events.
    """

    def __init__(
        self,
        loop: EventLoop,
        tag: str = "",
        most: int = 5_000_000,
        ran: list | None = None,
        cost: int = 200,
    ) -> None:
        self.loop = loop
        self.cost = cost
        self.tag = tag
        self.most = most
        self.done = threading.Event()
        self.posted = 0
        self.peak = 0
        self.ran: list = [] if ran is None else ran  # (tag, n) of every post the loop ran
        self.thread = threading.Thread(target=self._flood, daemon=True)

    def _work(self, item: tuple[str, int]) -> None:
        for _ in range(self.cost):
            pass
        self.ran.append(item)

    def _flood(self) -> None:
        loop, post, work = self.loop, self.loop.post, self._work
        deadline = time.monotonic() + WAIT
        while self.posted < self.most and not self.done.is_set():
            post(work, (self.tag, self.posted))
            self.posted += 1
            backlog = loop.backlog
            if backlog > self.peak:
                self.peak = backlog
            if not self.posted & 1023 and time.monotonic() > deadline:
                break

    def __enter__(self) -> Flooder:
        """Start flooding from inside the loop, once it dispatches (posters wait only then)."""
        self.loop.post(self.thread.start)
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the flooding thread did not end"


def schedule_every(
    loop: EventLoop, period: float, late: list[float], count: int, backlogs: list[int]
) -> None:
    """Schedule `count` timer calls `period` apart; each records how late it ran and how
    many posted callables were waiting then."""

    def tick(planned: float) -> None:
        late.append(time.monotonic() - planned)
        backlogs.append(loop.backlog)
        if len(late) < count:
            loop.call_later(period, tick, time.monotonic() + period)

    loop.call_later(period, tick, time.monotonic() + period)


def test_timers_fire_on_time_while_a_thread_floods_the_loop():
    loop = EventLoop(backlog_limit=LIMIT)
    late: list[float] = []
    backlogs: list[int] = []
    schedule_every(loop, 0.02, late, 20, backlogs)
    with Flooder(loop) as flood:
        assert loop.run_until(lambda: len(late) == 20, WAIT), f"only {len(late)} ticks"
    assert flood.posted > 20 * LIMIT and max(backlogs) > 0  # the timer ran amid a flood
    assert max(late) < 0.5, late
    # Back-pressure kept the queue bounded: the flooder waited rather than pile up posts.
    assert LIMIT // 2 <= flood.peak <= LIMIT + 1


def test_each_threads_posts_run_in_order_under_back_pressure():
    loop = EventLoop(backlog_limit=LIMIT)
    ran: list = []
    floods = [Flooder(loop, tag, most=20 * LIMIT, ran=ran) for tag in "ab"]
    for f in floods:
        f.__enter__()
    assert loop.run_until(lambda: len(ran) == 40 * LIMIT, WAIT)
    for f in floods:
        f.__exit__()
    assert max(f.peak for f in floods) <= LIMIT + 2
    for tag in "ab":
        assert [n for t, n in ran if t == tag] == list(range(20 * LIMIT))


def test_stop_ends_a_flooded_run_after_the_running_callable():
    loop = EventLoop(backlog_limit=LIMIT)
    stopped_at: list[float] = []

    def stop() -> None:
        stopped_at.append(time.monotonic())
        loop.stop()

    with Flooder(loop) as flood:
        loop.call_later(0.05, lambda: threading.Thread(target=stop).start())
        loop.run(timeout=WAIT)
        returned = time.monotonic()
        assert stopped_at and returned - stopped_at[0] < 0.5
        assert loop.backlog > 0  # stopped with work still queued
    assert flood.posted > LIMIT


def test_posters_wait_only_while_the_loop_is_dispatching():
    loop = EventLoop(backlog_limit=LIMIT)
    flood = Flooder(loop, most=3 * LIMIT)
    flood.thread.start()  # before any dispatching
    # Nobody runs the loop: waiting would never end, so the posts go straight in.
    flood.thread.join(WAIT)
    assert not flood.thread.is_alive() and loop.backlog == 3 * LIMIT
    assert loop.run_until(lambda: loop.backlog == 0, WAIT)
    assert len(flood.ran) == 3 * LIMIT


def test_a_held_back_poster_goes_on_when_the_loop_stops_dispatching():
    loop = EventLoop(backlog_limit=LIMIT)
    with Flooder(loop, most=40 * LIMIT) as flood:
        assert loop.run_until(lambda: flood.posted > 4 * LIMIT, WAIT)
        # run_until has returned: nothing drains the queue, so the flooder must not hang.
        flood.thread.join(WAIT)
        assert flood.posted == 40 * LIMIT


def test_the_loop_thread_itself_never_waits_when_it_posts():
    loop = EventLoop(backlog_limit=LIMIT)
    ran: list[int] = []

    def burst() -> None:
        for i in range(3 * LIMIT):
            loop.post(ran.append, i)

    loop.post(burst)
    assert loop.run_until(lambda: len(ran) == 3 * LIMIT, WAIT)
    assert ran == list(range(3 * LIMIT))


def test_a_flood_that_holds_posters_back_is_logged_once(caplog):
    caplog.set_level(logging.WARNING, logger="incore.loop")
    loop = EventLoop(backlog_limit=LIMIT)
    with Flooder(loop) as flood:
        assert loop.run_until(lambda: flood.posted > 20 * LIMIT, WAIT)
    warnings = [r for r in caplog.records if "callables behind" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


@pytest.mark.parametrize("limit", [0, 1])
def test_a_tiny_backlog_limit_still_lets_work_through(limit):
    loop = EventLoop(backlog_limit=limit)
    with Flooder(loop, most=2000) as flood:
        assert loop.run_until(lambda: len(flood.ran) == 2000, WAIT)
    assert flood.peak <= 3
