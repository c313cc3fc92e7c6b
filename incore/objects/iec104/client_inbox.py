"""What a controlling station hears unasked, on its way from the worker thread to the loop.

An outstation sends values whenever they change, often faster than a loop that runs
bindings and handlers can take them one by one. The worker thread never touches an
Object: it puts each information object into a `PointInbox`, which posts one flush per
loop turn however many arrive (like `link.inbox.LoopInbox`), and delivers them in order.

Nothing is dropped without a word. Status points (single, double, step, bitstring),
counters and the link's own events are kept in order, every one. A measured value
(normalised, scaled, float) whose point already has a value waiting is merged into it,
keeping the newest, when the point asks for that (`latest_only`) or when more than
`backlog` items wait: a measurand's newest value is what matters, and the number of
measurands a station has bounds what waits. What is merged that way is counted in
`merged`. Only past `limit` (`HARD_LIMIT`) items (a loop that has stopped taking them) is anything
dropped: counted in `dropped` and logged once per run of drops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ...protocols.iec104 import TypeId

__all__ = ["BACKLOG", "BATCH", "HARD_LIMIT", "MEASURED_TYPES", "PointInbox"]

log = logging.getLogger("incore.iec104client")

#: Items waiting past which measured values are merged per point (newest kept).
BACKLOG = 10_000
#: Items waiting past which anything new is dropped, counted and logged.
HARD_LIMIT = 200_000
#: Items one loop turn delivers, at most, so timers and other work get their turn between.
BATCH = 2_000

#: Measurands: a newer value supersedes an older one of the same point.
MEASURED_TYPES = frozenset(
    {
        TypeId.M_ME_NA_1,
        TypeId.M_ME_TA_1,
        TypeId.M_ME_NB_1,
        TypeId.M_ME_TB_1,
        TypeId.M_ME_NC_1,
        TypeId.M_ME_TC_1,
        TypeId.M_ME_ND_1,
        TypeId.M_ME_TD_1,
        TypeId.M_ME_TE_1,
        TypeId.M_ME_TF_1,
    }
)

#: One received information object: ("value", (ca, ioa), type_id, cause, obj, received_ms).
#: One event of the link: ("event", kind, payload).
Item = tuple


class PointInbox:
    """Values and link events on their way to the loop, in order, one flush per turn.

    `deliver(items)` runs on the loop with what was put since the last flush (at most
    BATCH; the rest follows in the next turns). `latest_only` holds the (ca, ioa) keys
    whose measured values always keep only the newest while they wait (loop thread
    writes it; the worker reads it).
    """

    __slots__ = (
        "_post",
        "_deliver",
        "_name",
        "_lock",
        "_items",
        "_waiting",
        "_posted",
        "latest_only",
        "backlog",
        "limit",
        "merged",
        "dropped",
        "_dropping",
    )

    def __init__(
        self,
        post: Callable[..., None],
        deliver: Callable[[list[Item]], None],
        name: str = "IEC104Connection",
        backlog: int = BACKLOG,
        limit: int = HARD_LIMIT,
    ) -> None:
        self._post = post
        self._deliver = deliver
        self._name = name
        self._lock = threading.Lock()
        self._items: list[Item] = []
        self._waiting: dict[tuple[int, int], int] = {}  # key -> index of its waiting measurand
        self._posted = False
        self.latest_only: frozenset[tuple[int, int]] = frozenset()
        self.backlog = backlog
        self.limit = limit
        self.merged = 0
        self.dropped = 0
        self._dropping = False

    @property
    def pending(self) -> int:
        """Items waiting for the loop."""
        return len(self._items)

    def values(self, common_address: int, type_id: int, cause: int, objects: Any, at: int) -> None:
        """Worker thread: the objects of one monitoring ASDU (`at`: when, in ms)."""
        measured = type_id in MEASURED_TYPES
        with self._lock:
            items, waiting = self._items, self._waiting
            for obj in objects:
                key = (common_address, obj.ioa)
                item = ("value", key, type_id, cause, obj, at)
                if measured:
                    index = waiting.get(key)
                    if index is not None and (
                        key in self.latest_only or len(items) >= self.backlog
                    ):
                        items[index] = item
                        self.merged += 1
                        continue
                if not self._room():
                    continue
                if measured:
                    waiting[key] = len(items)
                items.append(item)
            self._post_once()

    def event(self, kind: str, payload: Any = None) -> None:
        """Any thread: a link event (started, stopped, initialised, unexpected, lost)."""
        with self._lock:
            if self._room():
                self._items.append(("event", kind, payload))
            self._post_once()

    def _room(self) -> bool:
        """Under `_lock`: whether one more item may wait (else it is counted as dropped)."""
        if len(self._items) < self.limit:
            return True
        self.dropped += 1
        if not self._dropping:
            self._dropping = True
            log.warning(
                "%s: the loop has stopped taking received values (%d waiting); "
                "new ones are dropped until it catches up",
                self._name,
                self.limit,
            )
        return False

    def _post_once(self) -> None:
        if not self._posted and self._items:
            self._posted = True
            self._post(self._flush)

    def _flush(self) -> None:
        with self._lock:
            items = self._items
            if len(items) > BATCH:
                batch, self._items = items[:BATCH], items[BATCH:]
                self._waiting = {k: i - BATCH for k, i in self._waiting.items() if i >= BATCH}
            else:
                batch, self._items = items, []
                self._waiting = {}
            self._posted = False
            self._post_once()
            ended = self._dropping and not self._items
            if ended:
                self._dropping = False
        if ended:
            log.warning("%s: %d received items were dropped in all", self._name, self.dropped)
        self._deliver(batch)
