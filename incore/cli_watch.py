"""`incore run --watch`: a live table of an app's values, their quality and age, and the
state of its connections, so a user sees values flow without writing handlers.

It costs the app nothing per change. The watcher never subscribes to a property: a loop
timer looks at the watched values (a list read each) a few times a second, compares them
with what it showed last, and writes only when something differs. A value that changes
10,000 times a second therefore costs what one that changes once does, and no thread but
the loop's ever reads an object.

On a terminal the table is redrawn in place (ANSI cursor movement, at most `TTY_EVERY`
apart), and what the app prints or logs meanwhile scrolls above it. Anywhere else (a pipe,
CI, the systemd journal) it prints one line per value or connection that changed, at most
one per `PLAIN_EVERY` seconds each, starting with one line for every entry.
"""

from __future__ import annotations

import enum
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from .app.declarations import declarations_of, registered_type
from .core import EventLoop, Object, Property, registry
from .objects.foundation.data import DataObject

#: Seconds between two looks on a terminal (at most four redraws a second).
TTY_EVERY = 0.25
#: Seconds between two looks when stdout is not a terminal (the lines of a pipe or journal).
PLAIN_EVERY = 1.0
#: Seconds between two searches of the tree for connections created while the app runs.
RESCAN_EVERY = 5.0
#: Properties that tell a connection's (or a server's) state, in the order they are shown.
LINK_PROPS = (
    "connected",
    "state",
    "status",
    "isRunning",
    "openConnectionCount",
    "clientsCount",
    "connectionCount",
)
VALUE_WIDTH = 32

_COLOURS = {"Good": "\x1b[32m", "Uncertain": "\x1b[33m", "Bad": "\x1b[31m"}
_RESET = "\x1b[0m"


class WatchError(ValueError):
    """A `--watch` name that names nothing: reported in one line before the app starts."""


def short(value: Any, limit: int = VALUE_WIDTH) -> str:
    """A value as one short line: enum names, compact floats, quoted strings, hex bytes."""
    if isinstance(value, enum.Enum):
        text = value.name
    elif isinstance(value, float):
        text = f"{value:.6g}"
        text = text if any(c in text for c in ".ein") else text + ".0"  # 40.0, not 40
    elif isinstance(value, (bytes, bytearray)):
        text = value.hex(" ")
    else:
        text = repr(value)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def age_text(seconds: float | None) -> str:
    """How long ago, in the largest unit that keeps it short: 0.3s, 12s, 5m, 2h, 3d."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


class ValueEntry:
    """One watched property: where to read it, and what was shown last."""

    __slots__ = ("label", "obj", "index", "quality", "stamp", "last", "text", "qtext", "seen")

    def __init__(self, label: str, obj: Object, prop: Property) -> None:
        self.label = label
        self.obj = obj
        self.index = prop.index
        props = type(obj)._props
        own_data = isinstance(obj, DataObject) and prop.name == "data"
        self.quality = props["quality"].index if own_data else None
        self.stamp = props["timestamp"].index if own_data else None
        self.last: Any = _UNSEEN
        self.text = ""
        self.qtext = ""
        self.seen: float | None = None  # monotonic time of the last change seen

    def look(self, now: float) -> bool:
        """Read the value (and quality); True if either differs from what was shown."""
        values = self.obj._v
        value = values[self.index]
        qtext = "" if self.quality is None else values[self.quality].name
        last = self.last
        if last is value or _same(last, value):
            if qtext == self.qtext:
                return False
        else:
            if last is not _UNSEEN:
                self.seen = now
            self.last = value
            self.text = short(value)
        self.qtext = qtext
        return True

    def age(self, now: float, now_ms: int) -> float | None:
        if self.stamp is not None:
            stamp = self.obj._v[self.stamp]
            return (now_ms - stamp) / 1000 if stamp else None
        return None if self.seen is None else now - self.seen


class LinkEntry:
    """One connection-like object (it has a state property and reports errors)."""

    __slots__ = ("label", "obj", "props", "error", "errtext", "state", "text")

    def __init__(self, label: str, obj: Object) -> None:
        props = type(obj)._props
        self.label = label
        self.obj = obj
        self.props = [(name, props[name].index) for name in LINK_PROPS if name in props]
        self.error = props["error"].index if "error" in props else None
        self.errtext = props["errorString"].index
        self.state = ""
        self.text = ""

    def look(self) -> bool:
        values = self.obj._v
        state = " ".join(f"{name}={short(values[i], 16)}" for name, i in self.props)
        error = values[self.error] if self.error is not None else 0
        text = ""
        if error:  # NoError is 0 in every error enum
            detail = values[self.errtext]
            text = f"{short(error)}: {detail}" if detail else short(error)
        if state == self.state and text == self.text:
            return False
        self.state, self.text = state, text
        return True


class _Unseen:
    __slots__ = ()


_UNSEEN = _Unseen()


def _same(a: Any, b: Any) -> bool:
    try:
        return a.__class__ is b.__class__ and bool(a == b)
    except Exception:  # a value whose == raises or is ambiguous (an array) is "changed"
        return False


def is_link(obj: Object) -> bool:
    """Whether `obj` is connection-like: it reports errors and has a state property."""
    props = type(obj)._props
    return "errorString" in props and any(name in props for name in LINK_PROPS)


def default_props(obj: Object) -> list[str]:
    """What an object shows by default: a DataObject's `data` and the file's own properties."""
    names = ["data"] if isinstance(obj, DataObject) else []
    declared = declarations_of(type(obj))
    if declared is not None:
        names += [name for name, _type in declared.properties if name not in names]
    return names


def link_label(obj: Object, names: Mapping[int, str]) -> str:
    label = names.get(id(obj))
    if label:
        return label
    where = registry.location(obj)
    kind = registered_type(type(obj)).__name__
    return f"{kind}@{where}" if where else kind


class Selection:
    """What to watch: value entries and connection entries, from `--watch` names.

    No names: every identified object's default properties and every connection-like object
    in the tree (searched again while the app runs). A bare `ID` stands for that object's
    default properties and, if it is connection-like, its state; `ID.PROP` for one property.
    """

    def __init__(self, ids: Mapping[str, Object], root: Object, names: Sequence[str]) -> None:
        self.ids = ids
        self.root = root
        self.rescan = not names
        self.by_obj = {id(obj): oid for oid, obj in ids.items()}
        self.values: list[ValueEntry] = []
        self.links: list[LinkEntry] = []
        self._linked: set[int] = set()
        if names:
            for name in names:
                self._add_name(name)
        else:
            for oid, obj in ids.items():
                self._add_default(oid, obj, quiet=True)
            self.find_links()

    def _add_name(self, name: str) -> None:
        oid, dot, pname = name.partition(".")
        obj = self.ids.get(oid)
        if obj is None:
            raise WatchError(f"--watch {name}: unknown id '{oid}'{registry.suggest(oid, self.ids)}")
        if not dot:
            self._add_default(oid, obj, quiet=False)
            return
        props = type(obj)._props
        prop = props.get(pname)
        if prop is None:
            kind = registered_type(type(obj)).__name__
            hint = registry.suggest(pname, props)
            raise WatchError(f"--watch {name}: {kind} has no property '{pname}'{hint}")
        self.values.append(ValueEntry(name, obj, prop))

    def _add_default(self, oid: str, obj: Object, quiet: bool) -> None:
        props = type(obj)._props
        names = default_props(obj)
        self.values += [ValueEntry(f"{oid}.{n}", obj, props[n]) for n in names]
        if not quiet and is_link(obj):
            self._add_link(obj)
        elif not quiet and not names:
            kind = registered_type(type(obj)).__name__
            raise WatchError(
                f"--watch {oid}: {kind} has no value to show; name a property ({oid}.PROP)"
            )

    def _add_link(self, obj: Object) -> None:
        if id(obj) not in self._linked:
            self._linked.add(id(obj))
            self.links.append(LinkEntry(link_label(obj, self.by_obj), obj))

    def find_links(self) -> None:
        """Add the connection-like objects of the tree not watched yet (new ones too)."""
        for obj in self.root.walk():
            if is_link(obj):
                self._add_link(obj)


def render(
    values: Iterable[tuple[str, str, str, str]],
    links: Iterable[tuple[str, str, str]],
    width: int,
    height: int,
    colour: bool,
    more: int = 0,
) -> list[str]:
    """The table's lines, each shorter than `width`, at most `height` - 1 of them.

    `values` are (name, value, quality, age) and `links` (name, state, error), as text.
    Quality is coloured (Good green, Uncertain yellow, Bad red) when `colour` is true;
    `more` counts value rows left out by the caller (they are counted as hidden).
    """
    values, links = list(values), list(links)
    room = max(1, height - 1)
    width = max(20, width - 1)  # never the last column: a full line may wrap
    lines: list[tuple[str, str, int]] = []  # (text, quality to colour, its column)
    if values:
        # Narrow terminals shorten names and values first: quality and age stay in view.
        nw = min(40, max(4, *(len(v[0]) for v in values)), max(10, width - 29 - 8))
        vw = min(VALUE_WIDTH, max(5, *(len(v[1]) for v in values)), max(8, width - 29 - nw))
        lines.append((f"{'NAME':<{nw}}  {'VALUE':<{vw}}  {'QUALITY':<9}  AGE", "", 0))
        for name, value, quality, age in values:
            value = value if len(value) <= vw else value[: vw - 3] + "..."
            text = f"{name[:nw]:<{nw}}  {value:<{vw}}  {quality:<9}  {age}"
            lines.append((text, quality, nw + vw + 4))
    if links:
        nw = min(40, max(10, *(len(v[0]) for v in links)))
        sw = min(60, max(5, *(len(v[1]) for v in links)))
        lines.append((f"{'CONNECTION':<{nw}}  {'STATE':<{sw}}  ERROR", "", 0))
        lines += [(f"{n[:nw]:<{nw}}  {s:<{sw}}  {e}".rstrip(), "", 0) for n, s, e in links]
    if len(lines) + more > room:
        hidden = len(lines) + more - room + 1
        lines = lines[: room - 1] + [(f"... {hidden} more lines: name what to watch", "", 0)]
    return [_fit(text, quality, at, width, colour) for text, quality, at in lines]


def _fit(text: str, quality: str, at: int, width: int, colour: bool) -> str:
    """Cut a line to the width, then colour its quality if the cut kept all of it."""
    text = text[:width].rstrip()
    end = at + len(quality)
    if colour and quality in _COLOURS and end <= len(text):
        text = f"{text[:at]}{_COLOURS[quality]}{quality}{_RESET}{text[end:]}"
    return text


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
        """Stop looking and give back the streams; the last table stays on the screen."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
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
            self.out.write(("" if self.at_line_start else "\n") + "\n".join(lines) + "\n")
            self.out.flush()
            self.drawn, self.dirty, self.at_line_start = len(lines), False, True
        self.last_draw = now

    def _erase(self) -> None:
        """Take the table off the screen (the lock is held): what is written next takes
        its place."""
        if self.drawn:
            self.out.write(f"\r\x1b[{self.drawn}A\x1b[J")
            self.out.flush()
            self.drawn, self.dirty = 0, True

    def _guard_streams(self) -> None:
        import sys

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
