"""The event loop: one thread owns every Object; other threads hand it work with `post()`.

This is Qt's queued-connection model. Transport threads never touch a property; they post a
callable, and the loop runs it on its own thread, so the reactive core needs no locks and its
order is deterministic. `post()` is safe from any thread and keeps each thread's order
(a single FIFO queue is fed by all of them).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from typing import Any, Callable

from . import engine

log = logging.getLogger("incore.loop")

_now = time.monotonic


class TimerHandle:
    """A scheduled call; `cancel()` is idempotent and cheap (lazy removal from the heap)."""

    __slots__ = ("when", "fn", "args", "cancelled")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple) -> None:
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class EventLoop:
    """A single-threaded loop of posted callables and timers.

    `run()` blocks the calling thread, which becomes the owner of every Object until `stop()`.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._timers: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._stopping = False
        self._running = False
        self.thread_ident: int | None = None
        self._dispatching: int | None = None  # thread running callbacks (run/process_events/run_until)

    # -- thread-safe -----------------------------------------------------------------------
    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the loop thread, after everything posted before it."""
        self._queue.put((fn, args))

    def stop(self) -> None:
        """Ask `run()` to return once the current callable finishes (any thread)."""
        self._stopping = True
        self._queue.put(None)

    # -- loop thread only --------------------------------------------------------------------
    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        """Schedule `fn(*args)` after `delay` seconds. Call from the loop thread (or before run)."""
        handle = TimerHandle(_now() + max(0.0, delay), fn, args)
        heapq.heappush(self._timers, (handle.when, next(self._seq), handle))
        if self._running and threading.get_ident() != self.thread_ident:
            self._queue.put(None)  # wake the loop so it recomputes its wait
        return handle

    @property
    def running(self) -> bool:
        return self._running

    def in_loop_thread(self) -> bool:
        return threading.get_ident() == engine.owner_ident()

    def dispatching_here(self) -> bool:
        """True while this thread runs the loop's callbacks (in run, process_events or
        run_until): code here must not block, or every other object waits with it."""
        return self._dispatching == threading.get_ident()

    def _dispatch_on_this_thread(self) -> tuple[int | None, tuple[int, Any]]:
        """Make the calling thread the loop's until _restore(); returns what to restore."""
        ident = threading.get_ident()
        previous, self._dispatching = self._dispatching, ident
        return previous, engine.set_owner(ident, self.post)

    def _restore(self, saved: tuple[int | None, tuple[int, Any]]) -> None:
        self._dispatching = saved[0]
        engine.set_owner(*saved[1])

    def run(self, timeout: float | None = None) -> None:
        """Run until `stop()` (or until `timeout` seconds passed, for tests and tools)."""
        deadline = None if timeout is None else _now() + timeout
        self._stopping = False
        self._running = True
        self.thread_ident = threading.get_ident()
        saved = self._dispatch_on_this_thread()
        try:
            while not self._stopping:
                wait = self._run_due_timers()
                if deadline is not None:
                    left = deadline - _now()
                    if left <= 0:
                        break
                    wait = left if wait is None else min(wait, left)
                self._process_queue(wait)
        finally:
            self._running = False
            self._restore(saved)

    def process_events(self, timeout: float = 0.0) -> None:
        """Run what is due now (waiting up to `timeout` for the first event); for tests."""
        saved = self._dispatch_on_this_thread()
        try:
            self._run_due_timers()
            self._process_queue(timeout)
            self._run_due_timers()
        finally:
            self._restore(saved)

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Process events until `predicate()` is true or `timeout` passes; returns the predicate."""
        deadline = _now() + timeout
        saved = self._dispatch_on_this_thread()
        try:
            while not predicate():
                left = deadline - _now()
                if left <= 0:
                    return bool(predicate())
                wait = self._run_due_timers()
                self._process_queue(min(left, wait if wait is not None else left, 0.05))
            return True
        finally:
            self._restore(saved)

    def _process_queue(self, wait: float | None) -> None:
        q = self._queue
        try:
            item = q.get(timeout=wait) if (wait is None or wait > 0) else q.get_nowait()
        except queue.Empty:
            return
        while True:
            if item is not None:
                fn, args = item
                try:
                    fn(*args)
                except Exception:  # a failing callback must never kill the loop
                    log.exception("error in posted callback %r", fn)
            if self._stopping:
                return
            try:
                item = q.get_nowait()
            except queue.Empty:
                return

    def _run_due_timers(self) -> float | None:
        """Run every due timer; return seconds until the next one (None if there is none)."""
        timers = self._timers
        while timers:
            when, _, handle = timers[0]
            if handle.cancelled:
                heapq.heappop(timers)
                continue
            now = _now()
            if when > now:
                return when - now
            heapq.heappop(timers)
            try:
                handle.fn(*handle.args)
            except Exception:
                log.exception("error in timer callback %r", handle.fn)
        return None


_default_loop: EventLoop | None = None


def get_loop() -> EventLoop:
    """The application's loop (created on first use), like QCoreApplication::instance()."""
    global _default_loop
    if _default_loop is None:
        _default_loop = EventLoop()
    return _default_loop


def set_loop(loop: EventLoop | None) -> None:
    """Replace the default loop (tests give each test a fresh one)."""
    global _default_loop
    _default_loop = loop
