"""The host of a client's variables for request/response protocols: polls batched into requests.

Variables polled in the same turn of the loop (Polling children with the same interval tick
together) are read with as few requests as the protocol allows: a subclass says how many
fit in one request (`batches`) and how to read one batch (`read_batch`) and write one value
(`write_item`); everything else is the same for S7, Modbus and the like:

- a variable already waiting for an answer is not asked again, so a slow peer never builds
  up a queue;
- a poll while the link is down waits for it, and is read once the link is back;
- a write is never held back (it could land much later than meant): without a link it
  fails at once;
- a write bumps the variable's write count, and a read that was under way when the write
  was made is dropped, so a poll never shows the old value after a write;
- while the link is down every variable read through it is Bad, with the client's error
  text as the reason, until its next good read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from typing import Any

from .host import HostedVariable, PollingClient

__all__ = ["PolledVariables", "ItemError"]


class ItemError(Exception):
    """One item of a batch could not be read (the others may have been): its text says why."""


class PolledVariables:
    """The ClientVariables of a request/response client (loop thread only).

    Subclasses implement `batches`, `read_batch` and `write_item`; `client` is the client
    whose link carries the requests (`client._call(job, then)` runs `job(link)` on it).
    """

    __slots__ = (
        "client",
        "variables",
        "busy",
        "queue",
        "waiting",
        "read_here",
        "down",
        "flush_posted",
    )

    def __init__(self, client: PollingClient) -> None:
        self.client = client
        self.variables: dict[Any, int] = {}  # attached variable -> number of writes made
        self.busy: set[Any] = set()  # queued or being read
        self.queue: list[Any] = []
        self.waiting: list[Any] = []  # polled while not connected: read once connected
        self.read_here: set[Any] = set()  # asked to read at least once: these turn Bad
        self.down = ""  # why the link is down ("" while it is up, or not tried yet)
        self.flush_posted = False

    # -- the protocol's hooks ------------------------------------------------------------------
    def batches(self, variables: list[Any]) -> Iterable[list[Any]]:
        """Split `variables` (in the order they were polled) into requests that fit."""
        raise NotImplementedError

    def read_batch(self, batch: list[Any], then: Callable[[Future], None]) -> None:
        """Send one request reading `batch`; `then(future)` with one entry per variable:
        its bytes, or an ItemError."""
        raise NotImplementedError

    def write_item(self, var: Any, raw: bytes, then: Callable[[Future], None]) -> None:
        """Send one request writing `raw` (the encoded value) to `var`'s address."""
        raise NotImplementedError

    # -- VariableHost ------------------------------------------------------------------------------
    def attach_variable(self, var: HostedVariable) -> None:
        self.variables.setdefault(var, 0)

    def detach_variable(self, var: HostedVariable) -> None:
        self.variables.pop(var, None)
        self.busy.discard(var)
        self.read_here.discard(var)
        for pending in (self.queue, self.waiting):
            if var in pending:
                pending.remove(var)

    def read_variable(self, var: HostedVariable) -> None:
        if var in self.busy:
            return
        self.variables.setdefault(var, 0)
        self.busy.add(var)
        self.read_here.add(var)
        if not self.client.online:
            self.waiting.append(var)
            if self.down:
                var._lost(self.down)
            return
        self.queue.append(var)
        self._post_flush()

    def write_variable(self, var: HostedVariable, raw: bytes) -> None:
        self.variables[var] = self.variables.get(var, 0) + 1
        if not self.client.online:
            var._fail("WriteError", f"{self.client.link_label}: not connected")
            return
        self.write_item(var, raw, lambda f: self._write_done(var, f))

    # -- the link ----------------------------------------------------------------------------------
    def resume(self) -> None:
        """The client (re)connected: read what was polled while it was not."""
        self.down = ""
        waiting, self.waiting = self.waiting, []
        if waiting:
            self.queue.extend(waiting)
            self._post_flush()

    def link_down(self, reason: str) -> None:
        """The link is down: what was read through it is Bad until it is read again."""
        self.down = reason
        for var in list(self.read_here):
            var._lost(reason)

    def clear(self) -> None:
        self.variables.clear()
        self.busy.clear()
        self.queue.clear()
        self.waiting.clear()
        self.read_here.clear()

    # -- reads -----------------------------------------------------------------------------------
    def _post_flush(self) -> None:
        if not self.flush_posted:
            self.flush_posted = True
            self.client._loop_post(self.flush)

    def flush(self) -> None:
        """Send what this turn of the loop polled, in as few requests as fit."""
        self.flush_posted = False
        queue, self.queue = self.queue, []
        for batch in self.batches(queue):
            writes = [self.variables.get(v, 0) for v in batch]
            self.read_batch(batch, lambda f, b=batch, w=writes: self._read_done(b, w, f))

    def _read_done(self, batch: list[Any], writes: Sequence[int], future: Future) -> None:
        for var in batch:
            self.busy.discard(var)
        if future.cancelled():
            # The link went away under the read (its jobs are cancelled): ask again, which
            # waits for the link when it is down, so a poll is never lost to a reconnect.
            for var in batch:
                if var in self.variables:
                    self.read_variable(var)
            return
        exc = future.exception()
        results = future.result() if exc is None else ()
        for index, var in enumerate(batch):
            if self.variables.get(var) != writes[index]:
                continue  # detached, or written since the read was sent
            if exc is not None:
                var._fail("ReadError", str(exc))
                continue
            item = results[index]
            if isinstance(item, ItemError):
                var._fail("ReadError", str(item))
            else:
                var._deliver(item)

    # -- writes ----------------------------------------------------------------------------------
    @staticmethod
    def _write_done(var: HostedVariable, future: Future) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            var._fail("WriteError", str(exc))
        else:
            var._confirm_write()
