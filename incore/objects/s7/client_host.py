"""S7Client as the host of S7Variable children: polls batched into multi-variable reads.

Variables polled in the same turn of the loop (Polling children with the same interval
tick together) are read with as few Read Var requests as the PDU allows, at most 20 items
each. A variable already waiting for an answer is not asked again, so a slow PLC never
builds up a queue; a poll while the client is not connected waits for the connection. A write bumps the variable's write count: a read that was under way
when the write was made is dropped, so a poll never shows the old value after a write.
Bits are read as their whole byte (every server answers that the same way) and written
with the BIT transport size (no read-modify-write).
"""
from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Iterator

from ...protocols.s7 import TransportSize, Var
from ...protocols.s7.constants import MAX_ITEMS, client_error_text

if TYPE_CHECKING:
    from .client import S7Client

__all__ = ["VariableBatcher", "read_batches"]

#: The PDU size assumed before one was negotiated (the smallest any CPU offers).
MIN_PDU = 240


def read_batches(variables: list[Any], pdu: int) -> Iterator[list[Any]]:
    """Split variables into Read Var requests whose request and answer fit ``pdu``."""
    batch: list[Any] = []
    answer = 14
    for var in variables:
        size = var.size
        item = 4 + size + (size & 1)
        if batch and (len(batch) == MAX_ITEMS or 12 + 12 * (len(batch) + 1) > pdu
                      or answer + item > pdu):
            yield batch
            batch, answer = [], 14
        batch.append(var)
        answer += item
    if batch:
        yield batch


class VariableBatcher:
    """The VariableHost side of S7Client (loop thread only)."""

    __slots__ = ("client", "variables", "busy", "queue", "waiting", "flush_posted")

    def __init__(self, client: "S7Client") -> None:
        self.client = client
        self.variables: dict[Any, int] = {}  # attached variable -> number of writes made
        self.busy: set[Any] = set()  # queued or being read
        self.queue: list[Any] = []
        self.waiting: list[Any] = []  # polled while not connected: read once connected
        self.flush_posted = False

    def attach(self, var: Any) -> None:
        self.variables.setdefault(var, 0)

    def detach(self, var: Any) -> None:
        self.variables.pop(var, None)
        self.busy.discard(var)
        for pending in (self.queue, self.waiting):
            if var in pending:
                pending.remove(var)

    def clear(self) -> None:
        self.variables.clear()
        self.busy.clear()
        self.queue.clear()
        self.waiting.clear()

    def _online(self) -> bool:
        client = self.client
        return bool(type(client).connected.peek(client) and client.pdu_size)

    # -- reads -----------------------------------------------------------------------------
    def read(self, var: Any) -> None:
        if var in self.busy:
            return
        self.variables.setdefault(var, 0)
        self.busy.add(var)
        if not self._online():
            self.waiting.append(var)
            return
        self.queue.append(var)
        self._post_flush()

    def resume(self) -> None:
        """The client (re)connected: read what was polled while it was not."""
        waiting, self.waiting = self.waiting, []
        if waiting:
            self.queue.extend(waiting)
            self._post_flush()

    def _post_flush(self) -> None:
        if not self.flush_posted:
            self.flush_posted = True
            self.client._loop_post(self.flush)

    def flush(self) -> None:
        self.flush_posted = False
        queue, self.queue = self.queue, []
        pdu = self.client.pdu_size or MIN_PDU
        for batch in read_batches(queue, pdu):
            items = [Var(v.area_code, v.db, v.address, v.size) for v in batch]
            writes = [self.variables.get(v, 0) for v in batch]
            self.client._submit(lambda p, items=items: p.read_multi(items),
                                then=lambda f, b=batch, w=writes: self._read_done(b, w, f))

    def _read_done(self, batch: list[Any], writes: list[int], future: Future) -> None:
        for var in batch:
            self.busy.discard(var)
        if future.cancelled():
            return
        exc = future.exception()
        for index, var in enumerate(batch):
            if self.variables.get(var) != writes[index]:
                continue  # detached, or written since the read was sent
            if exc is not None:
                var._fail("ReadError", str(exc))
                continue
            result = future.result()[index]
            if result.error:
                var._fail("ReadError", f"{client_error_text(result.error)} "
                                       f"({var.address_text}, item code 0x{result.return_code:02X})")
            else:
                var._deliver(result.data)

    # -- writes ----------------------------------------------------------------------------
    def write(self, var: Any, raw: bytes) -> None:
        self.variables[var] = self.variables.get(var, 0) + 1
        if not self._online():  # a write is never held back: it could land much later
            var._fail("WriteError", f"{self.client._label}: not connected")
            return
        if var.width == "Bit":
            start, ts, raw = var.address * 8 + var.bit, TransportSize.BIT, raw[:1]
        else:
            start, ts = var.address, TransportSize.BYTE
        area, db = var.area_code, var.db
        self.client._submit(lambda p: p.write_area(area, db, start, raw, ts),
                            then=lambda f: self._write_done(var, f))

    @staticmethod
    def _write_done(var: Any, future: Future) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            var._fail("WriteError", str(exc))
        elif var.error == var.WriteError:
            var._clear_error()
