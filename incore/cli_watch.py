"""`incore run --watch`: a live table of an app's values, their quality and age, and the
state of its connections, so a user sees values flow without writing handlers.

A loop timer looks at the entries of a `Selection` (incore/app/watch.py: no subscriber, no
cost per change) and writes only when something differs; no thread but the loop's reads an
object. On a terminal the table is redrawn in place (ANSI cursor movement, at most
`TTY_EVERY` apart), and what the app prints or logs meanwhile scrolls above it. Anywhere
else (a pipe, CI, the systemd journal) it prints one line per value or connection that
changed, at most one per `PLAIN_EVERY` seconds each, starting with one line for every entry.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from .app.watch import Selection, WatchError, age_text, render
from .core import EventLoop

__all__ = ["WatchError", "Watcher", "start_watch"]

#: Seconds between two looks on a terminal (at most four redraws a second).
TTY_EVERY = 0.25
#: Seconds between two looks when stdout is not a terminal (the lines of a pipe or journal).
PLAIN_EVERY = 1.0
#: Seconds between two searches of the tree for connections created while the app runs.
RESCAN_EVERY = 5.0


class Watcher:
    """Shows a Selection on a stream, from a timer of the loop, until `close()`.

    On a terminal (`tty`) it redraws the table in place when something changed (and once a
    second for the ages), and guards stdout, stderr and the log handlers writing to the
    terminal: a line the app prints erases the table first, which is drawn again below it.
    """

    def __init__(
        self,
        selection: Selection,
        stream: TextIO,
        *,
        tty: bool | None = None,
        colour: bool | None = None,
    ) -> None:
        self.sel = selection
        self.out = stream
        self.tty = _is_terminal(stream) if tty is None else tty
        self.colour = (self.tty and "NO_COLOR" not in os.environ) if colour is None else colour
        self.every = TTY_EVERY if self.tty else PLAIN_EVERY
        self.lock = threading.RLock()  # the terminal's, never an object's
        self.drawn = 0  # lines of the table on the screen now
        self.table: list[str] = []  # the lines drawn last
        self.at_line_start = True
        self.dirty = True
        self.loop: EventLoop | None = None
        self.handle: Any = None
        self.last_draw = self.rescanned = time.monotonic()
        self.restore: list[Any] = []

    def start(self, loop: EventLoop) -> None:
        """Look for the first time as soon as the loop runs (the app is complete by then)."""
        self.loop = loop
        if self.tty:
            self._guard_streams()
        self.handle = loop.call_later(0.0, self._tick)

    def close(self) -> None:
        """Stop looking and give back the streams. On a terminal the last table drawn
        while the app ran stays on the screen (written again if a log line erased it; not
        redrawn: after shutdown, states that threads would still post are stale)."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
            if self.tty and not self.drawn and self.table:
                with self.lock:
                    self._write_table(self.table)
        for undo in reversed(self.restore):
            undo()
        self.restore.clear()

    def _tick(self) -> None:
        assert self.loop is not None
        self.handle = self.loop.call_later(self.every, self._tick)
        now = time.monotonic()
        if self.sel.rescan and now - self.rescanned >= RESCAN_EVERY:
            self.rescanned = now
            self.sel.find_links()
        if self.tty:
            self.draw(now)
        else:
            self.print_changes(now)

    def print_changes(self, now: float) -> None:
        """One line for every value or connection that changed since the last look."""
        stamp = time.strftime("%H:%M:%S")
        out = []
        for e in self.sel.values:
            if e.look(now):
                out.append(f"{stamp} {e.label} = {e.text}{' ' + e.qtext if e.qtext else ''}")
        for c in self.sel.links:
            if c.look():
                out.append(f"{stamp} {c.label}: {c.state}{' error: ' + c.text if c.text else ''}")
        if out:
            self.out.write("\n".join(out) + "\n")
            self.out.flush()

    def draw(self, now: float) -> None:
        """Redraw the table in place if a value, a quality or a state changed (or the ages)."""
        size = shutil.get_terminal_size()
        shown = self.sel.values[: size.lines]  # the rest would not fit: never looked at
        changed = False
        for e in shown:
            changed = e.look(now) or changed
        for c in self.sel.links:
            changed = c.look() or changed
        if not (changed or self.dirty or now - self.last_draw >= 1.0):
            return
        now_ms = time.time_ns() // 1_000_000
        lines = render(
            [(e.label, e.text, e.qtext, age_text(e.age(now, now_ms))) for e in shown],
            [(c.label, c.state, c.text) for c in self.sel.links],
            size.columns,
            size.lines,
            self.colour,
            more=len(self.sel.values) - len(shown),
        )
        with self.lock:
            self._erase()
            self._write_table(lines)
        self.last_draw = now

    def _write_table(self, lines: list[str]) -> None:
        self.out.write(("" if self.at_line_start else "\n") + "\n".join(lines) + "\n")
        self.out.flush()
        self.table = lines
        self.drawn, self.dirty, self.at_line_start = len(lines), False, True

    def _erase(self) -> None:
        """Take the table off the screen (the lock is held): what is written next takes
        its place."""
        if self.drawn:
            self.out.write(f"\r\x1b[{self.drawn}A\x1b[J")
            self.out.flush()
            self.drawn, self.dirty = 0, True

    def _guard_streams(self) -> None:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if _is_terminal(stream):
                setattr(sys, name, _Guarded(self, stream))
                self.restore.append(lambda n=name, s=stream: setattr(sys, n, s))
        for handler in logging.getLogger().handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and _is_terminal(stream):
                handler.setStream(_Guarded(self, stream))
                self.restore.append(lambda h=handler, s=stream: h.setStream(s))


class _Guarded:
    """A terminal stream whose writes (from any thread) first erase the watcher's table."""

    def __init__(self, watcher: Watcher, stream: TextIO) -> None:
        self._watcher = watcher
        self._stream = stream

    def write(self, text: str) -> int:
        w = self._watcher
        with w.lock:
            w._erase()
            n = self._stream.write(text)
            if text:
                self._stream.flush()
                w.at_line_start = text.endswith("\n")
            return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def start_watch(
    app: Any, names: Sequence[str], loop: EventLoop, stream: TextIO, **options: Any
) -> Watcher:
    """Check `names` against a loaded app (WatchError names the first that names nothing)
    and start watching on `loop`; `close()` the watcher when the app has stopped."""
    watcher = Watcher(Selection(app.ids, app.root, names), stream, **options)
    watcher.start(loop)
    return watcher
