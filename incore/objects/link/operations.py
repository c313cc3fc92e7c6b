"""Running a client's operations on its link, from any thread: `LinkClient`'s half that
every request goes through (S7Client's reads, a poll batch, a Modbus write).

A caller that may block runs the exchange itself when the worker is idle; otherwise the
worker runs it in order. Failures are reported on the client (connection losses report
themselves through the worker's `on_lost`), and replies a link dropped as stale are
counted in `droppedReplies`.

Every request is also counted for `incore run --metrics` (incore/app/metrics.py) in a
`RequestStats`: plain attributes, not properties, so the hot path sends no change signal;
the added cost per request is two clock readings and a few integer additions.
"""

from __future__ import annotations

import functools
import time
from bisect import bisect_left
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from ...transport.futures import CompletedFuture

__all__ = ["OperationRunner", "REQUEST_BUCKETS", "RequestStats"]

T = TypeVar("T")

#: Upper bounds (seconds) of the request-time histogram's buckets; the last bucket is +Inf.
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

_perf = time.perf_counter


class RequestStats:
    """What a client's requests did since it was made: counts, failures and times.

    Written by the thread running the request (one at a time per client: the worker's job
    lock), read by the metrics scrape on the loop thread: a read may miss the request under
    way, never more. `buckets[i]` counts requests that took at most `bounds[i]` seconds and
    more than the bound before (not cumulative); the last one those above every bound.
    """

    __slots__ = ("requests", "failures", "seconds", "buckets")
    bounds = REQUEST_BUCKETS

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0  # a request that raised, or could not be sent (not connected)
        self.seconds = 0.0
        self.buckets = [0] * (len(REQUEST_BUCKETS) + 1)


class OperationRunner:
    """A mixin of `LinkClient`, which holds the state it uses (`_worker`, `_link`,
    `_loop`, `_last_io`, `_stale_seen`, `_stats`) and the hooks it calls."""

    __slots__ = ()

    def _call(
        self,
        job: Callable[[Any], T],
        then: Callable[[Future], None] | None = None,
        inline: bool = True,
    ) -> Future:
        """Run `job(link)` with the link of when it runs; failures are reported on the
        client.

        A caller that may block (any thread but the one running the loop) runs the exchange
        itself when the worker is idle, sparing two thread hand-overs; otherwise, or when
        the worker is busy, the worker runs it in order with everything queued before.
        `inline=False` always leaves it to the worker: for work the caller did not ask to
        wait for (a property write), whose answer may need the caller's loop.
        """
        worker = self._worker
        if worker is None:
            return self._failed(self._not_connected(), then)
        loop = self._loop
        if inline and (loop is None or not loop.dispatching_here()):  # _may_block(), written out
            future = worker.run_inline(self._run_on_link, job, then=then)
            if future is not None:
                if future._exception is not None:  # finished here: report a failure now
                    self._operation_done(future)
                return future
        future = worker.call(functools.partial(self._run_on_link, job), then)
        future.add_done_callback(self._operation_done)
        return future

    def request_stats(self) -> RequestStats:
        """The counts and times of this client's requests (read on the loop thread)."""
        return self._stats  # type: ignore[attr-defined]

    def _run_on_link(self, job: Callable[[Any], T]) -> T:
        stats = self._stats  # type: ignore[attr-defined]
        link = self._link
        started = self._last_io = _perf()
        if link is None or link.closed:
            stats.requests += 1
            stats.failures += 1
            raise self._not_connected()
        try:
            return job(link)
        except BaseException:
            stats.failures += 1
            raise
        finally:  # a link that drops stale replies counts them in `stale` (transport.Link)
            took = _perf() - started
            stats.requests += 1
            stats.seconds += took
            stats.buckets[bisect_left(REQUEST_BUCKETS, took)] += 1
            stale = getattr(link, "stale", 0)
            if stale != self._stale_seen and link is self._link:
                self._loop_post(self._count_dropped, stale - self._stale_seen)
                self._stale_seen = stale

    def _count_dropped(self, replies: int) -> None:
        self._update("droppedReplies", self.droppedReplies + replies)

    def _may_block(self) -> bool:
        """False on the thread running the event loop's callbacks (in run, process_events or
        run_until), which must never wait for a peer."""
        loop = self._loop
        return loop is None or not loop.dispatching_here()

    def _failed(self, exc: BaseException, then: Callable[[Future], None] | None = None) -> Future:
        """A future that already failed with `exc` (reported like any failure)."""
        stats = self._stats  # type: ignore[attr-defined]
        stats.requests += 1
        stats.failures += 1
        future: Future = CompletedFuture(exception=exc)
        self._operation_done(future)
        if then is not None:
            self._loop_post(then, future)
        return future

    def _operation_done(self, future: Future) -> None:
        """Worker thread: report a failure on the loop (connection losses report themselves)."""
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            return
        if isinstance(exc, OSError) and not isinstance(exc, self.not_connected_error):
            return  # the worker closed the connection and reports it through _on_lost
        self._loop_post(self._report_operation_error, exc)

    def _report_operation_error(self, exc: BaseException) -> None:
        if not self.isShutDown:
            self._report_failure(exc)
