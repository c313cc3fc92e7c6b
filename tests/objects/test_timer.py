"""Timer: interval, single shot, start/stop/restart, completion, shutdown, no drift."""

from __future__ import annotations

import time

from foundation_helpers import WAIT, loop  # noqa: F401  (fixture)

from incore.core import Object, Property
from incore.objects.foundation import Timer


def ticking(timer: Timer) -> list[float]:
    """Record the monotonic time of every trigger."""
    times: list[float] = []
    timer.triggered.connect(lambda: times.append(time.monotonic()))
    return times


def busy(seconds: float) -> None:
    """Keep the loop thread busy (a slow handler), without sleeping."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_running_timer_starts_on_completion_and_repeats(loop):
    early = Timer(interval=5)
    early_ticks = ticking(early)
    reference = Timer(interval=30)
    reference_ticks = ticking(reference)
    reference.complete()
    # 90 ms pass; a 5 ms timer that is not complete must not have triggered meanwhile.
    assert loop.run_until(lambda: len(reference_ticks) >= 3, WAIT)
    assert early_ticks == []
    early.complete()
    assert loop.run_until(lambda: len(early_ticks) >= 3, WAIT)
    assert early.running


def test_single_shot_triggers_once_and_clears_running_before_its_handler(loop):
    once = Timer(interval=10, repeat=False)
    seen = []
    once.triggered.connect(lambda: seen.append(once.running))
    reference = Timer(interval=60)
    reference_ticks = ticking(reference)
    once.complete()
    reference.complete()
    assert loop.run_until(lambda: reference_ticks, WAIT)
    assert seen == [False]
    assert not once.running


def test_a_single_shot_handler_may_start_its_timer_again(loop):
    t = Timer(interval=5, repeat=False)
    count = []
    t.triggered.connect(lambda: (count.append(1), len(count) < 3 and t.start()))
    t.complete()
    assert loop.run_until(lambda: len(count) == 3, WAIT)
    assert not t.running


def test_triggered_on_start_fires_at_once_then_at_the_interval(loop):
    t = Timer(interval=200, triggeredOnStart=True)
    times = ticking(t)
    start = time.monotonic()
    t.complete()
    assert times == []  # posted, not run inside complete(): siblings complete first
    assert loop.run_until(lambda: len(times) >= 2, WAIT)
    assert times[0] - start < 0.1
    assert times[1] - start >= 0.19


def test_stop_and_start(loop):
    t = Timer(interval=5)
    times = ticking(t)
    t.complete()
    assert loop.run_until(lambda: len(times) >= 2, WAIT)
    t.stop()
    assert not t.running
    stopped_at = len(times)
    reference = Timer(interval=40)
    reference_ticks = ticking(reference)
    reference.complete()
    assert loop.run_until(lambda: len(reference_ticks) >= 2, WAIT)
    assert len(times) == stopped_at
    t.start()
    assert t.running
    assert loop.run_until(lambda: len(times) > stopped_at, WAIT)


def test_running_false_keeps_a_timer_from_starting_and_true_starts_it(loop):
    t = Timer(interval=5, running=False)
    times = ticking(t)
    t.complete()
    assert loop.process_events() is None and times == []
    t.running = True
    assert loop.run_until(lambda: times, WAIT)


def test_running_can_be_bound(loop):
    class Switch(Object, register=False):
        on = Property(bool, False)

    switch = Switch()
    t = Timer(interval=5, running=lambda: switch.on)
    times = ticking(t)
    t.complete()
    assert not t.running
    switch.on = True
    assert t.running
    assert loop.run_until(lambda: times, WAIT)


def test_restart_begins_a_full_interval_from_now(loop):
    t = Timer(interval=100)
    times = ticking(t)
    t.complete()
    busy(0.07)
    restarted = time.monotonic()
    t.restart()
    assert loop.run_until(lambda: times, WAIT)
    assert times[0] - restarted >= 0.099


def test_changing_the_interval_restarts_a_running_timer(loop):
    t = Timer(interval=10_000)
    times = ticking(t)
    t.complete()
    t.interval = 10
    assert loop.run_until(lambda: len(times) >= 2, WAIT)


def test_a_slow_handler_never_makes_the_timer_drift(loop):
    interval, ticks, handler_time = 0.02, 20, 0.005
    t = Timer(interval=int(interval * 1000))
    times = ticking(t)
    t.triggered.connect(lambda: busy(handler_time))
    start = time.monotonic()
    t.complete()
    assert loop.run_until(lambda: len(times) >= ticks, WAIT)
    lateness = [at - (start + (k + 1) * interval) for k, at in enumerate(times[:ticks])]
    assert min(lateness) >= -0.002
    # Scheduling from "now" after each handler would be >= ticks * handler_time = 100 ms late.
    assert max(lateness) < 0.04, lateness


def test_ticks_missed_while_the_loop_was_busy_are_skipped_and_the_grid_kept(loop):
    interval = 0.02
    t = Timer(interval=20)
    times = ticking(t)
    t.triggered.connect(lambda: len(times) == 1 and busy(3.5 * interval))
    start = time.monotonic()
    t.complete()
    assert loop.run_until(lambda: len(times) >= 5, WAIT)
    # Tick 1 (20 ms) blocks until ~90 ms. The tick due at 40 ms runs late, once, as soon as
    # the loop is free; 60 and 80 ms are skipped, not bunched up; then the 20 ms grid goes on.
    late = times[1] - start
    assert late >= 0.09
    on_grid = [(at - start) / interval for at in times[2:5]]
    assert on_grid[0] - late / interval < 1.0
    assert all(abs(k - round(k)) < 0.4 for k in on_grid), on_grid
    assert [round(k) for k in on_grid] == list(range(round(on_grid[0]), round(on_grid[0]) + 3))


def test_shutdown_stops_the_timer_for_good(loop):
    t = Timer(interval=5)
    times = ticking(t)
    t.complete()
    assert loop.run_until(lambda: times, WAIT)
    t.shutdown()
    count = len(times)
    t.start()
    reference = Timer(interval=30)
    reference_ticks = ticking(reference)
    reference.complete()
    assert loop.run_until(lambda: len(reference_ticks) >= 2, WAIT)
    assert len(times) == count


def test_explicit_start_works_without_completion(loop):
    t = Timer(interval=5)
    times = ticking(t)
    t.start()
    assert loop.run_until(lambda: times, WAIT)


def test_each_tick_is_planned_on_the_grid_itself(loop):
    """The next tick's time is the planned one, not the clock read a moment later: else a
    timer's tick lands a little after a timer planned for the same moment (the tank
    example's display line at 10 s came after the quit timer's line now and then)."""
    from incore.objects.foundation.ticker import Ticker

    planned: list[tuple[float, float]] = []

    def tick() -> None:
        planned.append((ticker._handle.when, ticker._due))

    ticker = Ticker(tick)
    ticker.start(0.01)
    assert ticker._handle.when == ticker._due
    assert loop.run_until(lambda: len(planned) >= 3, 5)
    ticker.stop()
    assert all(when == due for when, due in planned)
