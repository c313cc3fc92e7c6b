"""Log a run of like events once, not once per event.

A thousand clients refused at max_connections, or a thousand silent connections closed at
their handshake timeout, are one thing that happened to the server, and a log line per
client would bury everything else (and cost the hub time when it is busiest). An
`Episode` logs its first event and, once nothing more happened for `quiet` seconds (or
the server stops), one summary with the count.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Episode", "EPISODE_QUIET", "SharedEpisode"]

log = logging.getLogger("incore.transport.tcp_server")

#: Seconds without a further event that end an episode.
EPISODE_QUIET = 2.0


class Episode:
    """`start` is logged at the first event; `summary` (a format with `{count}` and
    `{seconds}`) when the episode ends. Used by the hub thread only."""

    def __init__(
        self,
        name: str,
        start: str,
        summary: str,
        quiet: float = EPISODE_QUIET,
        level: int = logging.WARNING,
    ) -> None:
        self.name = name
        self.start = start
        self.summary = summary
        self.quiet = quiet
        self.level = level
        self.count = 0
        self.total = 0  # over every episode, for tests and diagnostics
        self._first = 0.0
        self._last = 0.0

    def add(self, now: float, detail: str = "") -> None:
        """One more event at `now` (time.monotonic()); `detail` goes in the first line."""
        if not self.count:
            self._first = now
            log.log(
                self.level,
                "%s: %s%s",
                self.name,
                self.start,
                f" (first: {detail})" if detail else "",
            )
        self.count += 1
        self.total += 1
        self._last = now

    def due(self) -> float | None:
        """When the episode ends if nothing more happens (None: no episode running)."""
        return self._last + self.quiet if self.count else None

    def tick(self, now: float) -> None:
        """End the episode if it has been quiet long enough."""
        if self.count and now >= self._last + self.quiet:
            self.end()

    def end(self) -> None:
        """Log the summary of a running episode (stop calls this)."""
        if self.count:
            log.log(
                self.level,
                "%s: %s",
                self.name,
                self.summary.format(count=self.count, seconds=f"{self._last - self._first:.1f}"),
            )
            self.count = 0


class SharedEpisode(Episode):
    """An Episode that workers add to while the hub ticks it (TLS refusals happen on the
    worker running the handshake). `wake` is called at an episode's first event, so a hub
    asleep without deadlines learns when to log the summary."""

    def __init__(self, *args: object, wake: Callable[[], None], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lock = threading.Lock()
        self._wake = wake

    def add(self, now: float, detail: str = "") -> None:
        with self._lock:
            first = not self.count
            super().add(now, detail)
        if first:
            self._wake()

    def due(self) -> float | None:
        with self._lock:
            return super().due()

    def tick(self, now: float) -> None:
        with self._lock:
            super().tick(now)

    def end(self) -> None:
        with self._lock:
            super().end()
