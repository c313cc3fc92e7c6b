"""The event loop: one thread owns every Object; other threads hand it work with `post()`.

This is Qt's queued-connection model. Transport threads never touch a property; they post a
callable, and the loop runs it on its own thread, so the reactive core needs no locks and its
order is deterministic. `post()` is safe from any thread and keeps each thread's order
(a single FIFO queue is fed by all of them).

A thread with work for the loop may also do it itself, with `run_or_post()`: when the loop
has nothing queued and no thread runs its callables, the caller takes the loop's turn and
runs the callable at once, as the loop would have (an IEC 104 station's worker deciding a
command: no hand-over to the loop thread and back, which costs tens of microseconds and the
interpreter lock twice). Whoever holds the turn is the owner of every Object meanwhile, so
callables still run one at a time, in the order they were posted.

Under a flood the loop stays responsive: it runs posted callables in stretches of at most
SLICE seconds and never past the time of the next timer, so timers fire on time whatever
the queue holds, and `stop()` takes effect after the callable that is running. The queue
is bounded: a thread that posts while the loop is `backlog_limit` callables behind waits
until the loop has worked off half of them (back-pressure on whoever floods it; the loop's
own thread never waits).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from . import engine

log = logging.getLogger("incore.loop")

_now = time.monotonic

#: Longest stretch (seconds) of posted callables between two looks at the timers.
SLICE = 0.05
#: Posted callables the loop may be behind before posting threads wait.
BACKLOG_LIMIT = 10_000
#: How often (seconds) a waiting poster looks again, should a wake-up be missed.
_RECHECK = 0.1
#: At most one warning about held-back posters in this many seconds.
_WARN_EVERY = 60.0


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

    def __init__(self, backlog_limit: int = BACKLOG_LIMIT) -> None:
        # Posted callables wait in `_items`; a thread that runs them holds `_turn` while it
        # takes and runs them, so they run one at a time and in order, whichever thread it
        # is. The loop's thread sleeps on `_bell`, which a poster rings only when it sleeps.
        self._items: deque[tuple[Callable[..., Any], tuple]] = deque()
        self._bell: queue.SimpleQueue = queue.SimpleQueue()
        self._sleeping = False  # the loop's thread waits (or is about to) for the bell
        self._turn = threading.RLock()  # reentrant: a callable may run process_events
        self._timers: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._stopping = False
        self._running = False
        self.thread_ident: int | None = None
        self._dispatching: int | None = (
            None  # thread running callbacks (run/process_events/run_until/run_or_post)
        )
        self.backlog_limit = max(2, backlog_limit)
        # Reentrant: a signal handler on the loop's thread may post while it holds the lock.
        self._room = threading.Condition(threading.RLock())
        self._waiters = 0  # posting threads held back (read by the loop without the lock)
        self._warned_at = -_WARN_EVERY

    # -- thread-safe -----------------------------------------------------------------------
    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the loop thread, after everything posted before it.

        From another thread while the loop is `backlog_limit` callables behind, this waits
        until it has caught up by half (or stops dispatching).
        """
        items = self._items
        if len(items) >= self.backlog_limit:
            self._wait_for_room()
        items.append((fn, args))
        if self._sleeping:  # (set before the sleeper looks at _items a last time)
            self._sleeping = False
            self._bell.put(None)

    def run_or_post(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Run `fn(*args)` now on the calling thread if the loop is idle (nothing queued,
        no thread running its callables), as the loop would run it; else `post` it. True if
        it ran here. For a thread that may not block for long either: `fn` must not block.
        Never from a thread that runs the loop's callables (post from there)."""
        turn = self._turn
        if self._items or not turn.acquire(False):
            self.post(fn, *args)
            return False
        try:
            saved = self._dispatch_on_this_thread()
            try:
                fn(*args)
            except Exception:  # as on the loop: a failing callable never escapes
                log.exception("error in posted callback %r", fn)
            finally:
                self._dispatching = saved[0]
                engine.set_owner(*saved[1])
        finally:
            turn.release()
        return True

    def stop(self) -> None:
        """Ask `run()` to return once the current callable finishes (any thread)."""
        self._stopping = True
        self._bell.put(None)

    @property
    def backlog(self) -> int:
        """Posted callables not run yet (approximate while other threads post)."""
        return len(self._items)

    # -- loop thread only --------------------------------------------------------------------
    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        """Schedule `fn(*args)` after `delay` seconds. Call from the loop thread (or before run)."""
        return self.call_at(_now() + max(0.0, delay), fn, *args)

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> TimerHandle:
        """Schedule `fn(*args)` at `when` (a time.monotonic() time; now if it has passed):
        a periodic caller plans on its own grid, which a second reading of the clock would
        shift. Call from the loop thread (or before run)."""
        handle = TimerHandle(when, fn, args)
        heapq.heappush(self._timers, (handle.when, next(self._seq), handle))
        if self._running and threading.get_ident() != self.thread_ident:
            self._bell.put(None)  # wake the loop so it recomputes its wait
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
        """Make the calling thread the loop's until _restore(); returns what to restore.
        Under the turn: a worker that runs a callable through run_or_post owns the objects
        meanwhile, and what is saved here must be the owner from before it, not the worker."""
        ident = threading.get_ident()
        with self._turn:
            previous, self._dispatching = self._dispatching, ident
            return previous, engine.set_owner(ident, self.post)

    def _restore(self, saved: tuple[int | None, tuple[int, Any]]) -> None:
        with self._turn:
            self._dispatching = saved[0]
            engine.set_owner(*saved[1])
        if self._waiters:
            self._make_room()  # nobody drains the queue now: held-back posters go on

    def run(self, timeout: float | None = None) -> None:
        """Run until `stop()` (or until `timeout` seconds passed, for tests and tools)."""
        deadline = None if timeout is None else _now() + timeout
        self._stopping = False
        self._running = True
        self.thread_ident = threading.get_ident()
        saved = self._dispatch_on_this_thread()
        try:
            while not self._stopping:
                until = _earliest(self._run_due_timers(), deadline)
                if deadline is not None and _now() >= deadline:
                    break
                self._process_queue(until, until)
        finally:
            self._running = False
            self._restore(saved)

    def process_events(self, timeout: float = 0.0) -> None:
        """Run what is due now (waiting up to `timeout` for the first event); for tests."""
        saved = self._dispatch_on_this_thread()
        try:
            next_timer = self._run_due_timers()
            self._process_queue(_now() + timeout, next_timer)
            self._run_due_timers()
        finally:
            self._restore(saved)

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Process events until `predicate()` is true or `timeout` passes; returns the predicate."""
        deadline = _now() + timeout
        saved = self._dispatch_on_this_thread()
        try:
            while not predicate():
                if _now() >= deadline:
                    return bool(predicate())
                until = _earliest(self._run_due_timers(), deadline)
                self._process_queue(min(until, _now() + 0.05), until)
            return True
        finally:
            self._restore(saved)

    def _process_queue(self, wait_until: float | None, stop_at: float | None) -> None:
        """Run posted callables in order: wait for the first until `wait_until` (None: for
        ever), then go on until the queue is empty, stop() is asked, `stop_at` (the next
        timer) comes or SLICE has passed; at least one callable runs if one is there."""
        items = self._items
        if not items:
            wait = None if wait_until is None else wait_until - _now()
            if wait is not None and wait <= 0:
                return
            self._sleeping = True
            if not items:  # a last look: a post before the flag was set rang no bell
                try:
                    self._bell.get(timeout=wait)
                except queue.Empty:
                    pass
            self._sleeping = False
            if not items:
                return
        now, popleft = _now, items.popleft  # locals: this loop runs once per posted callable
        with self._turn:
            end = now() + SLICE
            if stop_at is not None and stop_at < end:
                end = stop_at
            while items:
                fn, args = popleft()
                try:
                    fn(*args)
                except Exception:  # a failing callback must never kill the loop
                    log.exception("error in posted callback %r", fn)
                if self._stopping or now() >= end:
                    break
        if self._waiters and len(items) < self.backlog_limit // 2:
            self._make_room()

    def _run_due_timers(self) -> float | None:
        """Run the timers due now (not those they schedule for now: posted callables come
        first); return when the next one is due (None if there is none)."""
        timers = self._timers
        now = _now()
        with self._turn:
            while timers:
                when, _, handle = timers[0]
                if handle.cancelled:
                    heapq.heappop(timers)
                    continue
                if when > now:
                    return when
                heapq.heappop(timers)
                try:
                    handle.fn(*handle.args)
                except Exception:
                    log.exception("error in timer callback %r", handle.fn)
        return None

    # -- back-pressure -------------------------------------------------------------------------
    def _must_wait(self) -> bool:
        """A poster waits while the loop is behind and some other thread is working it off."""
        dispatching = self._dispatching
        return (
            len(self._items) >= self.backlog_limit // 2
            and dispatching is not None
            and dispatching != threading.get_ident()
            and not self._stopping
        )

    def _wait_for_room(self) -> None:
        with self._room:
            if not self._must_wait():
                return
            now = _now()
            if now - self._warned_at >= _WARN_EVERY:
                self._warned_at = now
                log.warning(
                    "the loop is %d callables behind: threads that post to it wait "
                    "until it catches up",
                    len(self._items),
                )
            self._waiters += 1
            try:
                while self._must_wait():
                    self._room.wait(_RECHECK)
            finally:
                self._waiters -= 1

    def _make_room(self) -> None:
        with self._room:
            self._room.notify_all()


def _earliest(a: float | None, b: float | None) -> float | None:
    """The earlier of two optional times (None: no time)."""
    if a is None:
        return b
    return a if b is None or a <= b else b


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
