"""What `incore run --watch` shows: the watched values and connections of an app, read
without a trace on the app, and the table they make on a terminal.

It costs the app nothing per change. Nothing here subscribes to a property: the watcher
(incore/cli_watch.py) calls `look()` on each entry from a loop timer a few times a second,
which reads the value (a list index), compares it with what was shown last and formats it
only when it differs. A value that changes 10,000 times a second therefore costs what one
that changes once does. Everything here runs on the loop's thread.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..core import Object, Property, registry
from .declarations import declarations_of, registered_type

#: Properties that tell a connection's (or a server's) state, in the order they are shown.
LINK_PROPS = tuple(
    "connected state status isRunning openConnectionCount clientsCount connectionCount".split()
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
        own_data = prop.name == "data" and _is_data_object(obj)
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


_UNSEEN: Any = object()  # what an entry has shown before its first look


def _same(a: Any, b: Any) -> bool:
    try:
        return a.__class__ is b.__class__ and bool(a == b)
    except Exception:  # a value whose == raises or is ambiguous (an array) is "changed"
        return False


def _is_data_object(obj: Object) -> bool:
    """A DataObject or alike: `data` with its own `quality` and `timestamp`."""
    props = type(obj)._props
    return "data" in props and "quality" in props and "timestamp" in props


def is_link(obj: Object) -> bool:
    """Whether `obj` is connection-like: it reports errors and has a state property."""
    props = type(obj)._props
    return "errorString" in props and any(name in props for name in LINK_PROPS)


def default_props(obj: Object) -> list[str]:
    """What an object shows by default: a DataObject's `data` and the file's own properties."""
    names = ["data"] if _is_data_object(obj) else []
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
