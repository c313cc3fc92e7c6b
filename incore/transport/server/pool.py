"""A bounded pool of worker threads that serve connections handed to them by the hub.

One worker starts with the first task; up to `size` start and stay as work waits for them
(the hub calls `add_worker` when no worker took a task for longer than a linger would
take). One worker at a time is what Python runs anyway: more of them busy at once only hand
the GIL to each other (under 1,000 clients each asking again at once, four eager workers
spent 90 us of CPU per request and one 56 us, answering half as many again).

A handler may block its worker (S7's lockArea, a read that waits for the application, a
send to a peer that stopped reading), which a pool of a few threads would turn into a
server that stops answering everybody. So the hub watches `taken` while connections wait:
if no worker has taken a task for a while, every worker is stuck, and the hub calls `grow`:
more start, up to `max_size`. Those extra workers end after EXTRA_IDLE seconds without
work. The thread count is thus bounded by `max_size` whatever the peers and handlers do.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["WorkerPool"]

log = logging.getLogger("incore.transport.tcp_server")

#: Seconds an extra worker (beyond `size`) waits for work before it ends.
EXTRA_IDLE = 10.0


class WorkerPool:
    """Runs `serve(*task)` for every submitted task, in order, on its threads.

    `queue` is public for the serving loop's fairness check: a worker gives its connection
    back to the hub when other connections wait (a deque's truth is a cheap read).
    """

    def __init__(self, name: str, serve: Callable[..., None], size: int, max_size: int) -> None:
        if not 1 <= size <= max_size:
            raise ValueError("need 1 <= workers <= max_workers")
        self.name = name
        self.queue: deque[tuple[Any, ...]] = deque()
        self._serve = serve
        self._size = size
        self._max = max_size
        self._cond = threading.Condition(threading.Lock())
        self._idle = 0  # workers waiting for a task and not yet notified
        self._threads: set[threading.Thread] = set()
        self._numbers = itertools.count(1)
        self.taken = 0  # tasks taken so far: the progress the hub watches
        self._closed = False

    @property
    def thread_count(self) -> int:
        with self._cond:
            return len(self._threads)

    def threads(self) -> list[threading.Thread]:
        with self._cond:
            return list(self._threads)

    @property
    def below_size(self) -> bool:
        """Fewer than `size` workers run (the hub adds one when tasks wait)."""
        with self._cond:
            return len(self._threads) < self._size

    def submit(self, *task: Any) -> None:
        """Queue a task; wake an idle worker, or start the first one."""
        with self._cond:
            self.queue.append(task)
            if self._idle:
                self._idle -= 1
                self._cond.notify()
            elif not self._threads:
                self._spawn()

    def add_worker(self) -> int:
        """Tasks wait and no worker took one for a moment: start one more, up to `size`.
        Returns how many started (0 or 1)."""
        with self._cond:
            if self._closed or len(self._threads) >= self._size or not self.queue:
                return 0
            self._spawn()
            return 1

    def grow(self) -> int:
        """Every worker is blocked and tasks wait: start one per waiting task, up to
        `max_size` workers in all. Returns how many started."""
        with self._cond:
            if self._closed:
                return 0
            more = min(len(self.queue), self._max - len(self._threads))
            for _ in range(more):
                self._spawn()
            return more

    def close(self) -> None:
        """Workers finish the queued tasks, then end."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def join(self, deadline: float) -> list[str]:
        """Wait for the workers until `deadline` (time.monotonic()); the names of those
        still running (the calling thread, if it is one, is not waited for)."""
        me = threading.current_thread()
        for thread in self.threads():
            if thread is not me:
                thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in self.threads() if t.is_alive() and t is not me]

    def _spawn(self) -> None:
        """Start a worker; called with the lock held."""
        extra = len(self._threads) >= self._size
        thread = threading.Thread(
            target=self._work,
            args=(extra,),
            daemon=True,
            name=f"{self.name}-worker-{next(self._numbers)}",
        )
        self._threads.add(thread)
        thread.start()

    def _work(self, extra: bool) -> None:
        cond, queue, serve = self._cond, self.queue, self._serve
        me = threading.current_thread()
        try:
            while True:
                with cond:
                    while not queue:
                        if self._closed:
                            return
                        self._idle += 1
                        if not cond.wait(EXTRA_IDLE if extra else None):
                            self._idle -= 1  # timed out: nobody counted on us
                            if not queue:
                                return
                    task = queue.popleft()
                    self.taken += 1
                try:
                    serve(*task)
                except Exception:  # serve() handles its own errors; this is a last resort
                    log.exception("%s: a worker task failed", self.name)
        finally:
            with cond:
                self._threads.discard(me)
