"""A drift-free periodic call on the event loop, shared by Timer, Polling and Serializer.

Each tick is planned from the previous *planned* time, not from when the previous tick ran,
so the lateness of one tick never adds up over hours of running. Ticks missed while the loop
was busy are skipped, not bunched up: the next tick lands on the original grid.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from ...core import Property, TimerHandle, get_loop

#: Shorter periods count as this long: a zero period would starve the loop.
MIN_PERIOD = 0.001

_now = time.monotonic


def interval_property(doc: str) -> Property:
    """The `interval` (ms, 0 or more) of an object that ticks; writing it calls the owner's
    `_settings_written`, which restarts its `Ticker`."""
    return Property(int, 1000, unit="ms", on_write="_settings_written", minimum=0, doc=doc)


class Ticker:
    """Calls `fn()` every `period` seconds from `start()` until `stop()` (loop thread only)."""

    __slots__ = ("_fn", "_period", "_due", "_handle")

    def __init__(self, fn: Callable[[], None]) -> None:
        self._fn = fn
        self._period = 1.0
        self._due = 0.0
        self._handle: TimerHandle | None = None

    @property
    def active(self) -> bool:
        return self._handle is not None

    @property
    def period(self) -> float:
        return self._period

    def start(self, period: float, immediately: bool = False) -> None:
        """(Re)start with `period` seconds; `immediately` ticks once as soon as the loop can."""
        self.stop()
        self._period = max(MIN_PERIOD, period)
        now = _now()
        self._due = now if immediately else now + self._period
        self._handle = get_loop().call_at(self._due, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        period = self._period
        now = _now()
        due = self._due + period
        if due <= now:  # the loop was busy for more than a period: skip, keep the phase
            due += math.floor((now - due) / period + 1) * period
        self._due = due
        # Plan the next tick before calling out, so fn() may stop() or restart us. On the
        # grid itself: call_later(due - now) would read the clock again, and each tick would
        # land a little after its time (behind another timer planned for that moment).
        self._handle = get_loop().call_at(due, self._tick)
        self._fn()
