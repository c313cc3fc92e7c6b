"""Keep a connection up: retry with capped exponential backoff until stopped.

The waits are Condition waits, never `time.sleep`, so `stop()` wakes the thread at
once whether it is backing off, waiting for a connect to finish, or idling while the
connection is up.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from incore.transport.handover import Courier, Post

__all__ = ["Backoff", "Reconnector"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Backoff:
    """Delays `initial, initial*factor, ...` capped at `maximum`.

    Jitter scales each delay down by a random fraction up to `jitter` so clients that
    lost the same PLC do not all come back in the same millisecond; it only ever
    shortens a delay, so `maximum` stays a true bound.
    """

    def __init__(
        self,
        initial: float = 0.1,
        factor: float = 2.0,
        maximum: float = 5.0,
        jitter: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("need 0 < initial <= maximum")
        if factor < 1:
            raise ValueError("factor must be >= 1")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        self.initial = initial
        self.factor = factor
        self.maximum = maximum
        self.jitter = jitter
        self._rng = rng or random.Random()
        self._base = initial
        self.attempts = 0

    def __repr__(self) -> str:
        return (
            f"Backoff(initial={self.initial}, factor={self.factor}, "
            f"maximum={self.maximum}, jitter={self.jitter})"
        )

    def next(self) -> float:
        """The delay before the next attempt; each call moves one step up."""
        base = self._base
        self._base = min(base * self.factor, self.maximum)
        self.attempts += 1
        return base * (1.0 - self.jitter * self._rng.random())

    def reset(self) -> None:
        """Back to `initial`: call after a success."""
        self._base = self.initial
        self.attempts = 0


class _Stopped(Exception):
    """Internal: stop() was called while an attempt was in flight."""


class Reconnector(Generic[T]):
    """Runs `connect_fn` on its own thread until it succeeds, and again after a loss.

    `connect_fn()` either blocks and returns a result, or returns a Future (e.g.
    `ClientWorker.connect(...)`); a Future lets `stop()` return at once even
    mid-connect, where a blocking function can only be waited for. Outcomes go to the
    loop via `post`: `on_connected(result)`, `on_failed(exc, retry_in_seconds)`.
    The owner calls `connection_lost()` (from any thread) when the connection dies;
    the next attempt follows after a backoff delay. Nothing is delivered after stop().
    """

    def __init__(
        self,
        connect_fn: Callable[[], T | Future[T]],
        post: Post,
        *,
        on_connected: Callable[[T], None],
        on_failed: Callable[[BaseException, float], None] | None = None,
        backoff: Backoff | None = None,
        name: str = "reconnect",
    ) -> None:
        self.name = name
        self.backoff = backoff or Backoff()
        self._connect_fn = connect_fn
        self._on_connected = on_connected
        self._on_failed = on_failed
        self._courier = Courier(post, name)
        self._cond = threading.Condition()
        self._stopping = False
        self._lost = False
        self._connected = False
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<Reconnector {self.name} {'connected' if self._connected else 'connecting'}>"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    @property
    def connected(self) -> bool:
        """True between a successful attempt and the next `connection_lost()`."""
        return self._connected

    def start(self) -> None:
        """Make the first attempt now, on the reconnector's thread."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        self._thread = threading.Thread(
            target=self._run, name=f"{self.name}-reconnect", daemon=True
        )
        self._thread.start()

    def connection_lost(self) -> None:
        """Report that the established connection died; a reconnect follows."""
        with self._cond:
            self._lost = True
            self._cond.notify_all()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop retrying; True if the thread ended within `timeout`.

        Returns at once unless a blocking `connect_fn` is running (then it waits for
        it, bounded by `timeout`; its result, if any, is dropped).
        """
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._courier.close()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        delay = 0.0
        while not self._wait_stopped(lambda: False, delay):
            try:
                result = self._attempt()
            except _Stopped:
                return
            except Exception as exc:
                delay = self.backoff.next()
                log.info("%s: connect failed (%s); retry in %.2fs", self.name, exc, delay)
                if self._on_failed is not None:
                    self._courier.deliver(self._on_failed, exc, delay)
                continue
            self.backoff.reset()
            with self._cond:
                self._lost = False
                self._connected = True
            self._courier.deliver(self._on_connected, result)
            if self._wait_stopped(lambda: self._lost, None):
                return
            self._connected = False
            delay = self.backoff.next()
            log.info("%s: connection lost; reconnect in %.2fs", self.name, delay)

    def _wait_stopped(self, done: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until `done()`, the timeout, or stop(); True means stop."""
        with self._cond:
            if timeout != 0:
                self._cond.wait_for(lambda: self._stopping or done(), timeout)
            return self._stopping

    def _attempt(self) -> T:
        outcome = self._connect_fn()
        if isinstance(outcome, Future):
            future: Future[T] = outcome
            future.add_done_callback(lambda _: self._notify())
            if self._wait_stopped(future.done, None):
                future.cancel()
                raise _Stopped
            return future.result()
        if self._stopping:
            raise _Stopped
        return outcome

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()
