"""What an IEC104Server shares with the workers serving its clients.

The loop owns the objects; the workers own their connections. They meet here:

- `PointEntry`: a point as a worker sees it (type, groups, command mode, and `info`, the
  information object of its current value, replaced by the loop on every change), in
  `stations` (common address -> ioa -> entry), a dict the loop replaces, never changes, when
  points come and go;
- plain copies of the settings (link parameters, buffer bound, select timeout, allowed
  clients), so no worker reads a property;
- the open sessions, the selections of select-before-operate commands, and the buffer of
  events raised while no client has data transfer on (`offline`, when kept);
- `publish`, the loop's way to hand an event to every client with data transfer on;
- an inbox for what the loop hears of the workers (connection counts, raw frames, refused
  and unexpected messages), batched per loop turn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ...core import get_loop
from ...protocols.iec104 import LinkParameters
from ..link.inbox import LoopInbox
from .server_buffer import EventBuffer

log = logging.getLogger("incore.iec104server")

__all__ = ["PointEntry", "ServerCore", "Selection"]


class Iec104Inbox(LoopInbox):
    """The loop inbox, with the IEC 104 server's logger in its warnings."""

    log = log
    unnamed = "IEC104Server"
    __slots__ = ()


class PointEntry:
    """A point as the workers see it; `info` is replaced by the loop, the rest is fixed
    for the entry's life (a changed setting makes a new entry)."""

    __slots__ = (
        "key",
        "ca",
        "ioa",
        "type_id",
        "groups",
        "command_mode",
        "status",
        "keep_latest",
        "related",
        "info",
    )

    def __init__(self, key: Any, ca: int, point: Any) -> None:
        self.key = key
        self.ca = ca
        self.ioa = point.ioa
        self.type_id = int(point.type)
        self.groups = frozenset(point.groups or ())
        self.command_mode = int(point.commandMode)
        self.status = point.is_status
        self.keep_latest = bool(point.keepLatest)
        self.related = point.relatedIoa
        self.info: Any = None


class Selection:
    """A selected command: who selected it, what, and until when (monotonic seconds)."""

    __slots__ = ("session", "type_id", "value", "until")

    def __init__(self, session: Any, type_id: int, value: Any, until: float) -> None:
        self.session, self.type_id, self.value, self.until = session, type_id, value, until


def _post(fn: Callable[..., Any], *args: Any) -> None:
    get_loop().post(fn, *args)


def _run_or_post(fn: Callable[..., Any], *args: Any) -> None:
    get_loop().run_or_post(fn, *args)


class ServerCore:
    """Shared by the IEC104Server (loop thread) and its workers (see the module)."""

    def __init__(self, deliver: Callable[[list, bool, list], None], owner: Any = None) -> None:
        self.inbox = Iec104Inbox(_post, deliver, owner)
        self.post = _post
        #: For a worker between callbacks: run it here if the loop is idle (EventLoop).
        self.run_or_post = _run_or_post
        self.stations: dict[int, dict[int, PointEntry]] = {}
        self.parameters = LinkParameters()
        self.buffer_limit = 1000
        self.keep_offline = False
        self.offline = EventBuffer(self.buffer_limit)
        self.select_timeout = 0.1
        self.allowed: frozenset[str] = frozenset()
        self.connect_check: Callable[[str, int], bool] | None = None
        self.raw_in = False
        self.raw_out = False
        self.unexpected = False
        self.lock = threading.Lock()
        self.sessions: set[Any] = set()
        self.selections: dict[tuple[int, int], Selection] = {}
        self.stopping = threading.Event()
        #: Loop-side callbacks, set by the server: a command, a clock sync, lost events.
        self.on_command: Callable[..., None] = lambda *a: None
        #: A command the worker confirmed already, for the loop to execute (no decision left).
        self.on_confirmed: Callable[..., None] = lambda *a: None
        #: Worker thread: whether a command to this entry's point can be refused on the loop
        #: (a received handler or callback); if not, the worker confirms it at once.
        self.decided_on_loop: Callable[[Any], bool] = lambda entry: True
        self.on_clock_sync: Callable[..., None] = lambda *a: None
        self.on_lost: Callable[[Any, int], None] = lambda s, n: None

    # -- sessions (worker threads) ------------------------------------------------------------
    def opened(self, session: Any) -> None:
        with self.lock:
            self.sessions.add(session)
        self.inbox.status()

    def closed(self, session: Any) -> None:
        with self.lock:
            self.sessions.discard(session)
            for key in [k for k, s in self.selections.items() if s.session is session]:
                del self.selections[key]
        self.inbox.status()

    def started(self, session: Any) -> int:
        """Data transfer is on for `session`: it takes the events kept offline; returns
        how many of those did not fit its buffer."""
        with self.lock:
            session.active = True
            lost = session.buffer.adopt(self.offline) if self.offline.events else 0
        self.inbox.status()
        return lost

    def stopped(self, session: Any) -> None:
        with self.lock:
            session.active = False
        self.inbox.status()

    def counts(self) -> tuple[int, int]:
        """Open connections and those with data transfer on."""
        with self.lock:
            return len(self.sessions), sum(1 for s in self.sessions if s.active)

    # -- events (loop thread) -----------------------------------------------------------------
    def publish(self, entry: PointEntry, cause: int, info: Any, keep_latest: bool) -> None:
        """Hand an event to every client with data transfer on (or keep it offline)."""
        type_id = entry.type_id
        with self.lock:
            active = [s for s in self.sessions if s.active]
            if not active:
                if self.keep_offline:
                    lost = self.offline.push(
                        entry.key, type_id, cause, entry.ca, info, entry.status, keep_latest
                    )
                    if lost:
                        self.on_lost(None, lost)
                return
        for session in active:
            buffer = session.buffer
            was_idle = not buffer.pending
            lost = buffer.push(entry.key, type_id, cause, entry.ca, info, entry.status, keep_latest)
            if lost:
                self.on_lost(session, lost)
            if was_idle:
                session.wake()
