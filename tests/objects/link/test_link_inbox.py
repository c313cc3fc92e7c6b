"""LoopInbox on its own: what threads put in reaches the loop once per turn, merged and
bounded, whatever the blocks and events are (no S7 here)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from incore.objects.link.inbox import EVENT_BACKLOG, EVENT_BATCH, LoopInbox


class Turns:
    """A loop reduced to its queue: `post` appends, `turn()` runs what was posted before it."""

    def __init__(self) -> None:
        self.queue: deque[tuple[Callable[..., Any], tuple]] = deque()
        self.lock = threading.Lock()
        self.delivered: list[tuple[list, bool, list]] = []

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        with self.lock:
            self.queue.append((fn, args))

    def deliver(self, changes: list, status: bool, events: list) -> None:
        self.delivered.append((sorted(changes), status, events))

    def turn(self) -> int:
        with self.lock:
            work = list(self.queue)
            self.queue.clear()
        for fn, args in work:
            fn(*args)
        return len(work)


def test_writes_from_many_threads_reach_the_loop_as_one_merged_span_per_block():
    turns = Turns()
    inbox = LoopInbox(turns.post, turns.deliver)
    start = threading.Barrier(4)

    def writer(block: str, first: int) -> None:
        start.wait()
        for i in range(100):
            inbox.changed(block, first + i, first + i + 2)

    threads = [
        threading.Thread(target=writer, args=(b, f))
        for b, f in (("table-a", 0), ("table-a", 500), ("table-b", 10), ("table-b", 7))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert turns.turn() == 1  # one flush however many writes
    assert turns.delivered == [([("table-a", 0, 601), ("table-b", 7, 111)], False, [])]
    assert turns.turn() == 0


def test_status_and_events_come_in_order_and_in_batches():
    turns = Turns()
    inbox = LoopInbox(turns.post, turns.deliver)
    inbox.status()
    for n in range(EVENT_BATCH + 5):
        inbox.event(("ev", n))
    assert turns.turn() == 1 and inbox.pending == 5
    changes, status, events = turns.delivered[0]
    assert status and events == [("ev", n) for n in range(EVENT_BATCH)]
    assert turns.turn() == 1  # the rest, posted behind whatever else was queued
    assert turns.delivered[1] == (
        [],
        False,
        [("ev", n) for n in range(EVENT_BATCH, EVENT_BATCH + 5)],
    )
    assert inbox.dropped == 0 and turns.turn() == 0


class PlantInbox(LoopInbox):
    __slots__ = ()
    log = logging.getLogger("tests.plant")
    unnamed = "PlantServer"


def test_events_beyond_the_backlog_are_dropped_counted_and_logged_once_per_run(caplog):
    caplog.set_level(logging.WARNING, logger="tests.plant")
    turns = Turns()
    inbox = PlantInbox(turns.post, turns.deliver)
    for n in range(EVENT_BACKLOG + 30):
        inbox.event(n)
    assert inbox.dropped == 30 and inbox.pending == EVENT_BACKLOG
    while turns.turn():
        pass
    delivered = [e for _, _, events in turns.delivered for e in events]
    assert delivered == list(range(EVENT_BACKLOG))  # the oldest, in order; none twice
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "PlantServer: events come faster than the event handlers take them; events are "
        "dropped until they catch up",
        "PlantServer: 30 events were dropped while the event handlers were behind",
    ]
    inbox.event("after")
    turns.turn()
    assert len(caplog.records) == 2 and turns.delivered[-1][2] == ["after"]
