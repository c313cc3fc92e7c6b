"""The store of store-and-forward: QoS 1/2 messages waiting for the broker, in sqlite.

While the broker is away, what the publications would have sent goes here, in order, and
is sent from here, oldest first, once it is back; a message leaves the store only when the
broker has acknowledged it (PUBACK for QoS 1, PUBCOMP for QoS 2), so a loss during the
replay sends the unacknowledged rest again (at least once, never lost, never reordered).

The store is one sqlite file (the standard library's `sqlite3`) in WAL mode with
`synchronous=NORMAL`: a row survives the process being killed, but a power cut may lose
the last transactions. An empty path keeps the store in memory: the same order and bound,
but lost with the process. The bound is a number of messages; at the bound, `DropOldest`
deletes the oldest to make room and `DropNewest` refuses the new one, and either way the
caller is told how many went (it counts and signals them: nothing is dropped silently).

All methods run on one thread (the event loop's); the connection is made with
`check_same_thread=False` only so that it can be closed from a shutdown on another.
"""

from __future__ import annotations

import enum
import os
import sqlite3
from typing import NamedTuple

__all__ = ["Message", "MessageStore", "StoreFullPolicy"]


class Message(NamedTuple):
    """One MQTT message as a publication made it (`stamp`: ms since the epoch)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    stamp: int


class StoreFullPolicy(enum.IntEnum):
    """What a full store does with one more message."""

    DropOldest = 0
    DropNewest = 1


_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    stamp INTEGER NOT NULL
)
"""


class MessageStore:
    """Messages waiting for the broker, oldest first, at most `limit` of them."""

    __slots__ = ("path", "limit", "policy", "_db", "_count")

    def __init__(
        self, path: str, limit: int, policy: StoreFullPolicy = StoreFullPolicy.DropOldest
    ) -> None:
        """Open (or create) the store at `path` ("" for memory); raises sqlite3.Error or
        OSError for a file that cannot be used."""
        self.path = os.path.abspath(path) if path else ""
        self.limit = limit
        self.policy = policy
        if self.path:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._db = sqlite3.connect(
            self.path or ":memory:", isolation_level=None, check_same_thread=False
        )
        try:
            if self.path:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._count = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        except BaseException:
            self._db.close()
            raise

    def __len__(self) -> int:
        return self._count

    def append(self, message: Message) -> int:
        """Add `message` at the end; returns how many messages the bound dropped (0, or
        1: the oldest with DropOldest, this one with DropNewest)."""
        if self.limit <= 0:
            return 1
        dropped = 0
        if self._count >= self.limit:
            if self.policy == StoreFullPolicy.DropNewest:
                return 1
            dropped = self._drop_oldest(self._count - self.limit + 1)
        self._db.execute(
            "INSERT INTO messages (topic, payload, qos, retain, stamp) VALUES (?, ?, ?, ?, ?)",
            (message.topic, message.payload, message.qos, int(message.retain), message.stamp),
        )
        self._count += 1
        return dropped

    def after(self, row_id: int, limit: int) -> list[tuple[int, Message]]:
        """Up to `limit` messages with ids above `row_id`, oldest first, with their ids."""
        rows = self._db.execute(
            "SELECT id, topic, payload, qos, retain, stamp FROM messages WHERE id > ? "
            "ORDER BY id LIMIT ?",
            (row_id, limit),
        ).fetchall()
        return [(r[0], Message(r[1], bytes(r[2]), r[3], bool(r[4]), r[5])) for r in rows]

    def remove(self, row_id: int) -> None:
        """Forget message `row_id` (the broker has it); one that is gone already is fine."""
        cursor = self._db.execute("DELETE FROM messages WHERE id = ?", (row_id,))
        self._count -= cursor.rowcount

    def resize(self, limit: int) -> int:
        """A new bound; returns how many of the oldest messages it dropped."""
        self.limit = limit
        excess = self._count - max(limit, 0)
        return self._drop_oldest(excess) if excess > 0 else 0

    def close(self) -> None:
        self._db.close()

    def _drop_oldest(self, n: int) -> int:
        cursor = self._db.execute(
            "DELETE FROM messages WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT ?)",
            (n,),
        )
        self._count -= cursor.rowcount
        return cursor.rowcount
