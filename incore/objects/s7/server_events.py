"""What an S7Server tells the application: event objects, texts, error numbers, and the inbox
that carries them from the connection threads to the loop.

Connection threads never touch an Object. They put client writes, status changes and events
into a `LoopInbox`, which posts one flush per loop turn however many items arrive, so a busy
server costs the loop one callable per turn, not one per request. The inbox is bounded
whatever the clients do: writes merge per area, and events beyond a backlog are dropped,
counted and logged, so a slow `event` handler neither grows memory nor slows the clients.
"""
from __future__ import annotations

import enum
import logging
import os
import threading
from datetime import datetime
from typing import Any, Callable, NamedTuple

from ...protocols.s7.constants import Event, event_text
from ..errors import about

log = logging.getLogger("incore.s7server")


class S7ServerEvent(NamedTuple):
    """node-snap7's event object (the argument of `S7Server.event`)."""

    EvtTime: datetime
    EvtSender: str
    EvtCode: int
    EvtRetCode: int = 0
    EvtParam1: int = 0
    EvtParam2: int = 0
    EvtParam3: int = 0
    EvtParam4: int = 0


class S7Tag(NamedTuple):
    """node-snap7's tag object of a resourceless `readWrite`.

    The item as the client asked it, as Snap7 C passes it: `Area` the wire area code (0x84 DB,
    0x81 PE, ...), `WordLen` the requested word length (0x01 BIT, 0x02 BYTE, 0x04 WORD,
    0x08 REAL, 0x1D TIMER, ...), `Size` the number of its elements, `Start` the byte offset
    (the bit address byte*8+bit for BIT, the element number for timers and counters). The
    buffer holds Size elements of their width (one byte for BIT: the byte that holds the
    bit on a read; 0x00 or 0x01 on a write).
    """

    Area: int
    DBNumber: int
    Start: int
    Size: int
    WordLen: int


#: node-snap7's evc* constants, derived from the protocol's event flags (one source).
EventCode = enum.IntEnum("EventCode", {"evcAll": 0xFFFFFFFF, "evcNone": 0,
                                       **{"evc" + e.name: e.value for e in Event}})
EventCode.__doc__ = "Server event codes (node-snap7's evc* constants); also eventMask bits."


class ServerError(enum.IntEnum):
    """snap7's server error numbers (the high word of lastError)."""

    NoError = 0
    CannotStart = 0x00100000
    DBNullPointer = 0x00200000
    AreaAlreadyExists = 0x00300000
    UnknownArea = 0x00400000
    InvalidParams = 0x00500000
    TooManyDB = 0x00600000
    InvalidParamNumber = 0x00700000
    CannotChangeParam = 0x00800000


_SERVER_ERROR_TEXT = {
    ServerError.CannotStart: "SRV : Server cannot start",
    ServerError.DBNullPointer: "SRV : Null passed as area pointer",
    ServerError.AreaAlreadyExists: "SRV : Cannot register area since already exists",
    ServerError.UnknownArea: "SRV : Unknown Area code",
    ServerError.InvalidParams: "SRV : Invalid param(s) supplied",
    ServerError.TooManyDB: "SRV : DB Limit reached",
    ServerError.InvalidParamNumber: "SRV : Invalid Param Number",
    ServerError.CannotChangeParam: "SRV : Cannot change this param now",
}


def error_text(code: int) -> str:
    """snap7's text of a server error number: server part, then the socket error part."""
    code = int(code) & 0xFFFFFFFF
    if code == 0:
        return "OK"
    parts = []
    high = code & 0xFFF00000
    if high:
        parts.append(_SERVER_ERROR_TEXT.get(high, f"SRV : Unknown error (0x{high:08X})"))
    if code & 0x000F0000:
        parts.append(f"ISO : error 0x{code & 0x000F0000:08X}")
    if code & 0xFFFF:
        parts.append(f"TCP : {os.strerror(code & 0xFFFF)}")
    return " ".join(parts)


_CONNECTION_TEXT = {
    Event.ServerStopped: "server stopped",
    Event.ClientAdded: "client connected",
    Event.ClientRejected: "client refused: the maximum number of clients is connected",
    Event.ClientNoRoom: "client refused: no room for another client",
    Event.ClientException: "client dropped after a malformed or unexpected frame",
    Event.ClientDisconnected: "client disconnected",
    Event.ClientTerminated: "client connection closed by the server",
}


def event_line(event: Any) -> str:
    """One line for an event (S7ServerEvent, a dict with its keys, or a 6/8-tuple)."""
    if isinstance(event, dict):
        event = S7ServerEvent(**{**S7ServerEvent(datetime.now(), "", 0)._asdict(), **event})
    elif not isinstance(event, S7ServerEvent):
        values = tuple(event)
        if len(values) == 6:  # the engine's (code, ret, p1..p4)
            values = (datetime.now(), "") + values
        event = S7ServerEvent(*values)
    code, ret, p1 = event.EvtCode, event.EvtRetCode, event.EvtParam1
    if code == Event.ServerStarted:
        text = f"server started on port {p1}"
    elif code == Event.ListenerCannotStart:
        text = f"listener cannot start: {error_text(ret) if ret else 'unknown error'}"
    elif code == Event.ClientsDropped:
        text = f"{p1} unresponsive clients dropped"
    elif code in _CONNECTION_TEXT:
        text = _CONNECTION_TEXT[code]
    else:
        text = event_text((code, ret, p1, event.EvtParam2, event.EvtParam3, event.EvtParam4))
    when = event.EvtTime.strftime("%Y-%m-%d %H:%M:%S") if isinstance(event.EvtTime, datetime) \
        else str(event.EvtTime)
    return f"{when} [{event.EvtSender or 'server'}] {text}"


#: Events waiting for the loop, at most. While the `event` handlers are slower than the
#: clients that cause events, newer events are dropped (counted and logged), so the backlog
#: and its memory stay bounded and the clients are never slowed down by a handler.
EVENT_BACKLOG = 1000
#: Events one loop turn delivers, at most, so timers and other work get their turn between.
EVENT_BATCH = 100


class LoopInbox:
    """Client writes, status changes and events on their way to the loop, batched per turn.

    `deliver(changes, status, events)` runs on the loop with what was put since the last
    flush: `changes` as (block, start, end) tuples, one per area, covering every byte a
    client wrote (writes are merged, never dropped: the loop reads the area's bytes), `status`
    true when the client count or CPU status may have changed, `events` as S7ServerEvent in
    order, at most EVENT_BATCH of them (the rest follow in the next turns). Events beyond
    EVENT_BACKLOG are dropped: `dropped` counts them, and each run of drops is logged once
    when it begins and once, with its count, when the handlers have caught up.
    """

    __slots__ = ("_post", "_deliver", "_owner", "_lock", "_changes", "_status", "_events",
                 "_posted", "dropped", "_seen_dropped", "_episode_start")

    def __init__(self, post: Callable[..., None],
                 deliver: Callable[[list, bool, list], None], owner: Any = None) -> None:
        self._post = post
        self._deliver = deliver
        self._owner = owner  # the object the drop warnings name
        self._lock = threading.Lock()
        self._changes: dict[Any, list[int]] = {}
        self._status = False
        self._events: list = []
        self._posted = False
        self.dropped = 0
        self._seen_dropped = 0  # the loop's view of `dropped`
        self._episode_start: int | None = None  # `dropped` when the current run of drops began

    def changed(self, block: Any, start: int, end: int) -> None:
        with self._lock:
            span = self._changes.get(block)
            if span is None:
                self._changes[block] = [start, end]
            else:
                if start < span[0]:
                    span[0] = start
                if end > span[1]:
                    span[1] = end
            if self._posted:
                return
            self._posted = True
        self._post(self._flush)

    def status(self) -> None:
        with self._lock:
            self._status = True
            if self._posted:
                return
            self._posted = True
        self._post(self._flush)

    def event(self, event: S7ServerEvent) -> None:
        with self._lock:
            if len(self._events) >= EVENT_BACKLOG:  # a flush is posted: the list is not empty
                self.dropped += 1
                return
            self._events.append(event)
            if self._posted:
                return
            self._posted = True
        self._post(self._flush)

    def _flush(self) -> None:
        with self._lock:
            spans, self._changes = self._changes, {}
            events = self._events
            more = len(events) > EVENT_BATCH
            if more:
                events, self._events = events[:EVENT_BATCH], events[EVENT_BATCH:]
            else:
                self._events = []
            status, self._status = self._status, False
            self._posted = more
            dropped = self.dropped
        if more:  # the rest after whatever else is queued (the loop thread never waits)
            self._post(self._flush)
        if dropped != self._seen_dropped or self._episode_start is not None:
            self._report_drops(dropped, more)
        changes = [(block, span[0], span[1]) for block, span in spans.items()]
        self._deliver(changes, status, events)

    @property
    def pending(self) -> int:
        """Events waiting for the loop (at most EVENT_BACKLOG)."""
        return len(self._events)

    def _report_drops(self, dropped: int, more: bool) -> None:
        """Log a run of drops when it begins, and its count when the backlog is gone."""
        if dropped != self._seen_dropped:
            if self._episode_start is None:
                self._episode_start = self._seen_dropped
                log.warning("%s: events come faster than the event handlers take them; "
                            "events are dropped until they catch up", self._name())
            self._seen_dropped = dropped
        elif not more:
            self.end_drops()

    def end_drops(self) -> None:
        """Log how many events the current run of drops lost (loop thread): the handlers
        have caught up, or the server stops."""
        start = self._seen_dropped if self._episode_start is None else self._episode_start
        self._episode_start = None
        self._seen_dropped = dropped = self.dropped
        if dropped != start:
            log.warning("%s: %d events were dropped while the event handlers were behind",
                        self._name(), dropped - start)

    def _name(self) -> str:
        return "S7Server" if self._owner is None else about(self._owner)
