"""Futures that are born finished: the result of work that ran on the caller's thread.

A `concurrent.futures.Future` builds a Condition (and its lock) when created, then takes
that lock to become running, to store a result and again to hand it out: a few
microseconds that are a tenth of a fast PLC round trip. When the work has already run,
none of that guards anything. `CompletedFuture` is a real Future (`wait`,
`as_completed` and `add_done_callback` work on it) whose state never changes, so its
accessors need no lock; the Condition the standard functions still take is one shared by
all completed futures.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures._base import FINISHED
from typing import Any, TypeVar

__all__ = ["CompletedFuture"]

T = TypeVar("T")

log = logging.getLogger("concurrent.futures")  # where Future logs a failing callback

#: Taken by wait()/as_completed() on every future they watch; a finished future is only
#: ever read under it, so one for all of them costs no waiting.
_SHARED = threading.Condition()


class CompletedFuture(Future[T]):
    """A Future holding `result`, or `exception` when that is given."""

    def __init__(self, result: T | None = None, exception: BaseException | None = None) -> None:
        # Future.__init__ is skipped on purpose (it builds a Condition per future); these are
        # the attributes the standard library reads.
        self._condition = _SHARED
        self._state = FINISHED
        self._result = result
        self._exception = exception
        self._waiters: list[Any] = []
        self._done_callbacks: list[Callable[[Future[T]], object]] = []

    def cancel(self) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def running(self) -> bool:
        return False

    def done(self) -> bool:
        return True

    def result(self, timeout: float | None = None) -> T:
        if self._exception is not None:
            raise self._exception
        return self._result  # type: ignore[return-value]

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self._exception

    def add_done_callback(self, fn: Callable[[Future[T]], object]) -> None:
        """Call `fn(self)` now, as Future does once done (an exception is logged)."""
        try:
            fn(self)
        except Exception:
            log.exception("exception calling callback for %r", self)
