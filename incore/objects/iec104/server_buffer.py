"""The event buffer of one IEC 104 client connection: bounded, prioritised, never silent.

lib60870 (and so c104) keeps 100 events per connection and overwrites the oldest without a
word when a client reads slower than values change, so a burst of measured values pushes
out the status change an operator needed (lib60870 issue 82). This buffer keeps four kinds
of ASDUs apart:

- urgent replies (confirmations of commands, clock sync and test): sent before
  anything else, never dropped;
- ordered replies (interrogation actcon, data and actterm, read answers): never dropped,
  and sent in the order they arose among the events, so an interrogation answer is never
  overtaken by an older spontaneous value;
- status events (single, double, step position, bitstring): never pushed out by measured
  values;
- measured events (normalised, scaled, float, integrated totals, and every periodic value):
  a point with `keepLatest` (and every periodic value) has only its latest value waiting.

`limit` bounds status and measured events together. At the bound a new event pushes out the
oldest measured event waiting; with none waiting, the new event itself is not kept. Either
way `lost` counts it and `push` returns it, so the station reports it (a property, a signal
and a log line per episode). Replies are bounded by `REPLY_LIMIT`: a client that keeps
asking without reading the answers is disconnected (`reply` returns False), not silently
shortchanged.

Events of the same type, cause and station that wait next to each other leave in one ASDU,
so a slow client catches up in fewer frames. Thread use: the loop pushes, the connection's
worker takes; every method takes the buffer's lock.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from ...protocols.iec104 import CODECS, MAX_OBJECTS, Asdu, encode_asdu
from ...protocols.iec104.asdu import HEADER_SIZE, MAX_ASDU_SIZE

__all__ = ["EventBuffer", "REPLY_LIMIT"]

#: Replies (confirmations and interrogation data, in ASDUs) one connection may have waiting;
#: past it the client, which asks faster than it reads, is disconnected.
REPLY_LIMIT = 20_000

_SEQ, _TYPE, _CAUSE, _CA, _INFO, _KEY = range(6)


class EventBuffer:
    """The waiting ASDUs of one connection (see the module docstring)."""

    __slots__ = (
        "limit",
        "lost",
        "_lock",
        "_urgent",
        "_ordered",
        "_status",
        "_measured",
        "_latest",
        "_seq",
    )

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.lost = 0
        self._lock = threading.Lock()
        self._urgent: deque[bytes] = deque()
        self._ordered: deque[tuple[int, bytes]] = deque()
        self._status: deque[list] = deque()
        self._measured: deque[list] = deque()
        self._latest: dict[Any, list] = {}
        self._seq = 0

    @property
    def events(self) -> int:
        """Status and measured events waiting (at most `limit`)."""
        return len(self._status) + len(self._measured)

    @property
    def pending(self) -> bool:
        """Anything waiting (a cheap read for any thread)."""
        return bool(self._urgent or self._ordered or self._status or self._measured)

    def reply(self, asdu: bytes, urgent: bool = True) -> bool:
        """Queue a reply; False if the connection has REPLY_LIMIT replies waiting."""
        with self._lock:
            if len(self._urgent) + len(self._ordered) >= REPLY_LIMIT:
                return False
            if urgent:
                self._urgent.append(asdu)
            else:
                self._seq += 1
                self._ordered.append((self._seq, asdu))
        return True

    def push(
        self,
        key: Any,
        type_id: int,
        cause: int,
        ca: int,
        info: Any,
        status: bool,
        keep_latest: bool,
    ) -> int:
        """Queue one event; returns how many events this cost (0 or 1), counted in `lost`."""
        with self._lock:
            if keep_latest and not status:
                waiting = self._latest.get(key)
                if waiting is not None and waiting[_TYPE] == type_id and waiting[_CAUSE] == cause:
                    waiting[_INFO] = info  # its place in the queue, the newest value
                    return 0
            self._seq += 1
            entry = [self._seq, type_id, cause, ca, info, key]
            dropped = 0
            if len(self._status) + len(self._measured) >= self.limit:
                dropped = 1
                if self._measured:
                    old = self._measured.popleft()
                    if self._latest.get(old[_KEY]) is old:
                        del self._latest[old[_KEY]]
                else:
                    self.lost += 1
                    return 1  # only status events wait: the newest one is not kept
            if status:
                self._status.append(entry)
            else:
                self._measured.append(entry)
                if keep_latest:
                    self._latest[key] = entry
            self.lost += dropped
            return dropped

    def adopt(self, other: EventBuffer) -> int:
        """Take the events `other` holds (kept while no client was connected), in their
        order, under this buffer's bound; returns how many did not fit."""
        with other._lock:
            entries = sorted([*other._status, *other._measured], key=lambda e: e[_SEQ])
            other._status.clear()
            other._measured.clear()
            other._latest.clear()
        lost = 0
        for e in entries:
            status = e[_TYPE] in _STATUS_TYPES
            lost += self.push(e[_KEY], e[_TYPE], e[_CAUSE], e[_CA], e[_INFO], status, False)
        return lost

    def take(self, room: int) -> list[bytes]:
        """Up to `room` ASDUs to send, urgent replies first, then replies and events in the
        order they arose (neighbouring events of one type packed into one ASDU)."""
        out: list[bytes] = []
        batches: list[list[list]] = []
        with self._lock:
            urgent = self._urgent
            while urgent and len(out) < room:
                out.append(urgent.popleft())
            ordered, status, measured = self._ordered, self._status, self._measured
            while len(out) + len(batches) < room and (ordered or status or measured):
                head = _oldest(ordered, status, measured)
                if head is ordered:
                    out.append(ordered.popleft()[1])
                    continue
                batch = [self._pop(head)]
                fits = _fits(batch[0][_TYPE])
                while len(batch) < fits:
                    nxt = _oldest(ordered, status, measured)
                    if nxt is ordered or nxt is None:
                        break
                    e = nxt[0]
                    first = batch[0]
                    if (e[_TYPE], e[_CAUSE], e[_CA]) != (first[_TYPE], first[_CAUSE], first[_CA]):
                        break
                    batch.append(self._pop(nxt))
                batches.append(batch)
        for batch in batches:
            first = batch[0]
            objects = tuple(e[_INFO] for e in batch)
            out.append(encode_asdu(Asdu(first[_TYPE], first[_CAUSE], first[_CA], objects)))
        return out

    def _pop(self, queue: deque[list]) -> list:
        entry = queue.popleft()
        if self._latest.get(entry[_KEY]) is entry:
            del self._latest[entry[_KEY]]
        return entry


_STATUS_TYPES = frozenset((1, 3, 5, 7, 30, 31, 32, 33))


def _oldest(ordered: deque, status: deque, measured: deque) -> Any:
    """The queue whose head arose first (None if all are empty)."""
    best, seq = None, None
    if ordered:
        best, seq = ordered, ordered[0][0]
    if status and (seq is None or status[0][_SEQ] < seq):
        best, seq = status, status[0][_SEQ]
    if measured and (seq is None or measured[0][_SEQ] < seq):
        best = measured
    return best


def _fits(type_id: int) -> int:
    """How many objects of `type_id` one ASDU carries (each with its address)."""
    return min(MAX_OBJECTS, (MAX_ASDU_SIZE - HEADER_SIZE) // (3 + CODECS[type_id].size))
