"""LoopInbox: what a server's connection threads tell the loop, batched per loop turn.

Connection threads never touch an Object. They put client writes, status changes and events
into a `LoopInbox`, which posts one flush per loop turn however many items arrive, so a busy
server costs the loop one callable per turn, not one per request. The inbox is bounded
whatever the clients do: writes merge per block of memory (an S7 area, a Modbus table), and
events beyond a backlog are dropped, counted and logged, so a slow `event` handler neither
grows memory nor slows the clients. Nothing here knows a protocol: blocks and events are
whatever the server puts in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from ..errors import about

__all__ = ["LoopInbox", "EVENT_BACKLOG", "EVENT_BATCH"]

#: Events waiting for the loop, at most. While the `event` handlers are slower than the
#: clients that cause events, newer events are dropped (counted and logged), so the backlog
#: and its memory stay bounded and the clients are never slowed down by a handler.
EVENT_BACKLOG = 1000
#: Events one loop turn delivers, at most, so timers and other work get their turn between.
EVENT_BATCH = 100


class LoopInbox:
    """Client writes, status changes and events on their way to the loop, batched per turn.

    `deliver(changes, status, events)` runs on the loop with what was put since the last
    flush: `changes` as (block, start, end) tuples, one per block, covering every byte a
    client wrote (writes are merged, never dropped: the loop reads the block's bytes),
    `status` true when the client count or the device's state may have changed, `events` in
    order, at most EVENT_BATCH of them (the rest follow in the next turns). Events beyond
    EVENT_BACKLOG are dropped: `dropped` counts them, and each run of drops is logged once
    when it begins and once, with its count, when the handlers have caught up. A server
    sets `log` (its logger) and `unnamed` (how warnings name it without an owner) in a
    subclass.
    """

    log: ClassVar[logging.Logger] = logging.getLogger("incore.objects.link")
    unnamed: ClassVar[str] = "server"

    __slots__ = (
        "_post",
        "_deliver",
        "_owner",
        "_lock",
        "_changes",
        "_status",
        "_events",
        "_posted",
        "dropped",
        "_seen_dropped",
        "_episode_start",
    )

    def __init__(
        self,
        post: Callable[..., None],
        deliver: Callable[[list, bool, list], None],
        owner: Any = None,
    ) -> None:
        self._post = post
        self._deliver = deliver
        self._owner = owner  # the object the drop warnings name
        self._lock = threading.Lock()
        self._changes: dict[Any, list[int]] = {}
        self._status = False
        self._events: list = []
        self._posted = False
        self.dropped = 0
        self._seen_dropped = 0  # the loop's view of `dropped`
        self._episode_start: int | None = None  # `dropped` when the current run of drops began

    def changed(self, block: Any, start: int, end: int) -> None:
        with self._lock:
            span = self._changes.get(block)
            if span is None:
                self._changes[block] = [start, end]
            else:
                if start < span[0]:
                    span[0] = start
                if end > span[1]:
                    span[1] = end
            if self._posted:
                return
            self._posted = True
        self._post(self._flush)

    def status(self) -> None:
        with self._lock:
            self._status = True
            if self._posted:
                return
            self._posted = True
        self._post(self._flush)

    def event(self, event: Any) -> None:
        with self._lock:
            if len(self._events) >= EVENT_BACKLOG:  # a flush is posted: the list is not empty
                self.dropped += 1
                return
            self._events.append(event)
            if self._posted:
                return
            self._posted = True
        self._post(self._flush)

    def _flush(self) -> None:
        with self._lock:
            spans, self._changes = self._changes, {}
            events = self._events
            more = len(events) > EVENT_BATCH
            if more:
                events, self._events = events[:EVENT_BATCH], events[EVENT_BATCH:]
            else:
                self._events = []
            status, self._status = self._status, False
            self._posted = more
            dropped = self.dropped
        if more:  # the rest after whatever else is queued (the loop thread never waits)
            self._post(self._flush)
        if dropped != self._seen_dropped or self._episode_start is not None:
            self._report_drops(dropped, more)
        changes = [(block, span[0], span[1]) for block, span in spans.items()]
        self._deliver(changes, status, events)

    @property
    def pending(self) -> int:
        """Events waiting for the loop (at most EVENT_BACKLOG)."""
        return len(self._events)

    def _report_drops(self, dropped: int, more: bool) -> None:
        """Log a run of drops when it begins, and its count when the backlog is gone."""
        if dropped != self._seen_dropped:
            if self._episode_start is None:
                self._episode_start = self._seen_dropped
                self.log.warning(
                    "%s: events come faster than the event handlers take them; "
                    "events are dropped until they catch up",
                    self._name(),
                )
            self._seen_dropped = dropped
        elif not more:
            self.end_drops()

    def end_drops(self) -> None:
        """Log how many events the current run of drops lost (loop thread): the handlers
        have caught up, or the server stops."""
        start = self._seen_dropped if self._episode_start is None else self._episode_start
        self._episode_start = None
        self._seen_dropped = dropped = self.dropped
        if dropped != start:
            self.log.warning(
                "%s: %d events were dropped while the event handlers were behind",
                self._name(),
                dropped - start,
            )

    def _name(self) -> str:
        return self.unnamed if self._owner is None else about(self._owner)
