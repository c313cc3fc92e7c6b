"""What an S7Server tells the application: event objects, texts, error numbers, and the inbox
that carries them from the connection threads to the loop.

The inbox itself is protocol-neutral (link/inbox.py: one flush per loop turn, client writes
merged per area, events bounded, drops counted and logged); S7Server's is that inbox with
its own logger, so its warnings are where they always were.
"""

from __future__ import annotations

import enum
import logging
import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from ...core import Property, registry
from ...protocols.s7.constants import Event, event_text
from ..link import inbox
from ..link.inbox import EVENT_BACKLOG, EVENT_BATCH  # noqa: F401  (the server's limits)


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
EventCode = enum.IntEnum(
    "EventCode", {"evcAll": 0xFFFFFFFF, "evcNone": 0, **{"evc" + e.name: e.value for e in Event}}
)
EventCode.__doc__ = "Server event codes (node-snap7's evc* constants); also eventMask bits."


def event_mask(value: Any) -> int:
    """The bits of an eventMask given as a number, an event name (`evcDataRead`, or
    `DataRead`), names joined by `|` or commas, or a list of names and numbers."""
    if isinstance(value, str):
        value = [part for part in re.split(r"[|,\s]+", value) if part]
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"expects an integer or a list of event names, got {value!r}")
    mask = 0
    for i, item in enumerate(value):
        if isinstance(item, int) and not isinstance(item, bool):
            if not 0 <= item <= 0xFFFFFFFF:
                raise ValueError(f"element {i} ({item}) is not an event mask 0..0xFFFFFFFF")
            mask |= item
            continue
        if not isinstance(item, str):
            raise TypeError(f"element {i} ({item!r}) is neither an event name nor a number")
        name = item.rsplit(".", 1)[-1]
        member = EventCode.__members__.get(name) or EventCode.__members__.get("evc" + name)
        if member is None:
            hint = registry.suggest(name, EventCode.__members__) or (
                " (one of " + ", ".join(EventCode.__members__) + ")"
            )
            raise ValueError(f"unknown event '{item}'{hint}")
        mask |= int(member)
    return mask


class EventMaskProperty(Property):
    """`eventMask`: an integer, or event names (`[evcClientAdded, evcDataRead]`) or'ed."""

    __slots__ = ()

    def bind_type(self, resolve: Callable[[Any], Any]) -> None:
        super().bind_type(resolve)
        plain = self.convert
        assert plain is not None

        def convert(value: Any) -> Any:
            if isinstance(value, (str, list, tuple)):
                try:
                    return event_mask(value)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"{self.qualname}: {exc}") from None
            return plain(value)

        self.convert = convert


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
    when = (
        event.EvtTime.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(event.EvtTime, datetime)
        else str(event.EvtTime)
    )
    return f"{when} [{event.EvtSender or 'server'}] {text}"


class LoopInbox(inbox.LoopInbox):
    """The inbox of an S7Server: link.inbox.LoopInbox, logging as incore.s7server."""

    __slots__ = ()
    log = logging.getLogger("incore.s7server")
    unnamed = "S7Server"
