"""Outbox: every QoS 1/2 message from the publication to the broker's acknowledgement.

The order of values is the point: a consumer must see them as they happened, also across
an outage. So there are two ways out and only one is open at a time:

- **direct**, while the broker is there and the store is empty: the message goes to paho
  at once and waits in memory (`_direct`, by paho's message id) for its acknowledgement;
- **stored**, while the broker is away, or the store still holds older messages, or
  DIRECT_LIMIT messages sent directly wait for their acknowledgement (a publisher faster
  than the broker): the message is appended to the store, and the replay sends the
  store's messages oldest first, a window of them at a time, deleting each when the
  broker acknowledges it.

When the link goes down, the direct messages still waiting go to the store ahead of what
is in it (every row there came after them: the direct way closes while the store holds
anything), and the rows that were in flight from the store keep their order behind them:
the next link sends them again from the oldest. A message whose acknowledgement was lost
with the link is sent twice; none is lost and none overtakes another. A new paho session
per connection (see session.py) means paho never resends on its own behind this
bookkeeping.

Runs on the loop thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .store import Message, MessageStore

__all__ = ["Outbox", "WINDOW", "DIRECT_LIMIT"]

#: Messages from the store in flight at once during a replay.
WINDOW = 50
#: Messages sent directly and not yet acknowledged, at most; beyond, new ones wait in the
#: store. paho numbers messages 1..65535 and refuses one whose number is still taken (it
#: would be lost), so a publisher faster than the broker must not run past that.
DIRECT_LIMIT = 50_000


class Outbox:
    """The in-flight bookkeeping and replay of one client's QoS 1/2 messages."""

    __slots__ = (
        "store",
        "_send",
        "_dropped",
        "_session",
        "_token",
        "_direct",
        "_replay",
        "_last_row",
        "acknowledged",
    )

    def __init__(
        self,
        store: MessageStore,
        send: Callable[[Any, Message], int],
        dropped: Callable[[int], None],
    ) -> None:
        """`send(session, message)` hands a message to paho and returns its message id;
        `dropped(n)` is told of every message the store's bound dropped."""
        self.store = store
        self._send = send
        self._dropped = dropped
        self._session: Any = None
        self._token = 0
        self._direct: dict[int, Message] = {}
        self._replay: dict[int, int] = {}  # paho mid -> store row id
        self._last_row = 0  # the newest row handed to paho on this link
        self.acknowledged = 0  # messages the broker confirmed, since the client was made

    @property
    def pending(self) -> int:
        """Messages not yet acknowledged: stored, and sent directly but unconfirmed."""
        return len(self.store) + len(self._direct)

    def put(self, message: Message) -> None:
        """Send `message`, or store it behind the older ones."""
        if (
            self._session is not None
            and not len(self.store)
            and not self._replay
            and len(self._direct) < DIRECT_LIMIT
        ):
            self._direct[self._send(self._session, message)] = message
            return
        self._store(message)
        if self._session is not None:
            self._pump()

    def link_up(self, session: Any, token: int) -> None:
        """A new session (paho client) carries messages now; acks name it by `token`."""
        self._session, self._token = session, token
        self._replay.clear()
        self._last_row = 0
        self._pump()

    def link_down(self) -> None:
        """The session is gone: what it did not confirm waits in the store."""
        self._session = None
        self._token = -1
        self._replay.clear()
        self._last_row = 0
        direct, self._direct = self._direct, {}
        if not direct:
            return
        newer = self.store.after(0, len(self.store))  # only after DIRECT_LIMIT was reached
        for row, _ in newer:
            self.store.remove(row)
        for message in direct.values():  # in the order they were sent
            self._store(message)
        for _, message in newer:
            self._store(message)

    def acked(self, token: int, mid: int) -> bool:
        """The broker confirmed message `mid` of session `token`; True if it was ours."""
        if token != self._token:
            return False  # an earlier session's: that message is in the store again
        if self._direct.pop(mid, None) is None:
            row = self._replay.pop(mid, None)
            if row is None:
                return False
            self.store.remove(row)
            self._pump()
        self.acknowledged += 1
        return True

    def resize(self, limit: int) -> None:
        dropped = self.store.resize(limit)
        if dropped:
            self._dropped(dropped)

    def _store(self, message: Message) -> None:
        dropped = self.store.append(message)
        if dropped:
            self._dropped(dropped)

    def _pump(self) -> None:
        """Keep up to WINDOW stored messages in flight, oldest first."""
        room = WINDOW - len(self._replay)
        if room <= 0 or self._session is None:
            return
        for row, message in self.store.after(self._last_row, room):
            self._last_row = row
            self._replay[self._send(self._session, message)] = row
