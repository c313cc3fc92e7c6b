"""Serializer: state that survives a restart, saved to a JSON file that is never half-written."""

from __future__ import annotations

import datetime as dt
import enum
import json
from typing import Any

from ...core import Object, Property, TimerHandle, get_loop, method
from ..errors import ErrorReporting, error_property
from .atomic import remove_stale_temporaries, write_atomically
from .ticker import Ticker, interval_property


def _json_default(value: Any) -> Any:
    """JSON for the values serializeProperties() leaves as they are (dates, times, sets)."""
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} {value!r} can not be stored as JSON")


class Serializer(ErrorReporting):
    """Saves the state of an object tree to a JSON file and restores it when the app starts.

    The serializable properties of `source` and its children go to `file`. The file is
    replaced atomically (written to a temporary file, synced, renamed), so a crash or
    power cut never leaves a broken file. A missing file at start is fine; a corrupt one
    sets `error` and leaves the current state as it is. `mode` chooses when to save: only
    on `update()`, every `interval` ms, or whenever a property of the source tree changes
    (a burst of changes gives one write). A clean shutdown saves pending changes.
    """

    class Format(enum.IntEnum):
        """How the JSON file is laid out."""

        IndentedJson = 0
        CompactJson = 1

    class Mode(enum.IntEnum):
        """When the state is written."""

        SerializeManually = 0
        SerializePeriodically = 1
        SerializeOnChange = 2

    class Error(enum.IntEnum):
        """What went wrong while saving or restoring."""

        NoError = 0
        NoSourceError = 1
        NoFileError = 2
        ReadError = 3
        ParseError = 4
        WriteError = 5

    __slots__ = ("_ticker", "_watched", "_flush", "_rewatch")

    source = Property(
        "Object",
        None,
        on_write="_settings_written",
        doc="The object whose state (with its children's) is saved.",
    )
    file = Property(str, "", doc="The JSON file the state is saved to and restored from.")
    format = Property(
        Format, Format.IndentedJson, doc="IndentedJson (readable) or CompactJson (small)."
    )
    mode = Property(
        Mode,
        Mode.SerializeManually,
        on_write="_settings_written",
        doc="When to save: on update() only, every interval, or on every change.",
    )
    interval = interval_property("Milliseconds between saves in SerializePeriodically mode.")
    error = error_property(Error)

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._ticker = Ticker(self.update)
        self._watched: list[tuple[Object, str, Any]] = []
        self._flush: TimerHandle | None = None
        self._rewatch = False
        super().__init__(parent, **properties)

    # -- methods -----------------------------------------------------------------------------
    @method
    def update(self) -> bool:
        """Save the source's state to file now; returns whether it was written."""
        source = self._checked_source()
        if source is None:
            return False
        try:
            text = json.dumps(
                source.serializeProperties(),
                default=_json_default,
                ensure_ascii=False,
                indent=4 if self.format == self.IndentedJson else None,
                separators=None if self.format == self.IndentedJson else (",", ":"),
            )
        except (TypeError, ValueError) as exc:
            self._report_error(self.WriteError, f"can not save {source!r}: {exc}")
            return False
        try:
            write_atomically(self.file, text + "\n")
        except OSError as exc:
            self._report_error(self.WriteError, f"can not write {self.file}: {exc.strerror or exc}")
            return False
        if self.error:
            self._clear_error()
        return True

    @method
    def restore(self) -> bool:
        """Load the state from file into the source (done on completion); returns success.

        A missing file restores nothing and is no error. A file that can not be read or
        parsed, or whose values do not fit, changes nothing and sets `error`.
        """
        source = self._checked_source()
        if source is None:
            return False
        try:
            with open(self.file, "rb") as f:
                content = f.read()
        except FileNotFoundError:
            return True
        except OSError as exc:
            self._report_error(self.ReadError, f"can not read {self.file}: {exc.strerror or exc}")
            return False
        try:
            state = json.loads(content)  # bytes that are not UTF-8 are a ValueError too
            if not isinstance(state, dict):
                raise ValueError(f"expected a JSON object, found {type(state).__name__}")
        except ValueError as exc:
            self._report_error(
                self.ParseError,
                f"{self.file} is not a valid state file (kept the current state): {exc}",
            )
            return False
        undo = _Snapshot(source)
        try:
            source.deserializeProperties(state)
        except (TypeError, ValueError, AttributeError) as exc:
            undo.restore()
            self._report_error(
                self.ParseError,
                f"{self.file} does not fit {source!r} (kept the current state): {exc}",
            )
            return False
        if self.error:
            self._clear_error()
        return True

    # -- life cycle --------------------------------------------------------------------------
    def _on_completed(self) -> None:
        if self.source is not None and self.file:
            remove_stale_temporaries(self.file)  # from a writer that crashed mid-write
            self.restore()
        self._apply()

    def _on_shutdown(self) -> None:
        pending = self._flush is not None or self.mode == self.SerializePeriodically
        self._stop()
        if pending and self.isCompleted:
            self.update()  # a clean shutdown keeps the latest state

    def _settings_written(self, _value: Any) -> None:
        if self.isLive:
            self._apply()

    def _apply(self) -> None:
        self._stop()
        if self.mode == self.SerializePeriodically:
            self._ticker.start(self.interval / 1000.0)
        elif self.mode == self.SerializeOnChange:
            self._watch()

    def _stop(self) -> None:
        self._ticker.stop()
        self._unwatch()
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None

    def _checked_source(self) -> Object | None:
        if self.source is None:
            self._report_error(self.NoSourceError, "no source object to save or restore")
            return None
        if not self.file:
            self._report_error(self.NoFileError, f"no file to save {self.source!r} in")
            return None
        return self.source

    # -- SerializeOnChange -------------------------------------------------------------------
    def _watch(self) -> None:
        """Listen to every serializable property (and the children) of the source tree."""
        self._unwatch()
        if self.source is None:
            return
        for obj in self.source.walk():
            obj.objectsChanged.connect(self._children_changed)
            self._watched.append((obj, "objectsChanged", self._children_changed))
            for prop in type(obj)._prop_list:
                if prop.serializable:
                    getattr(obj, prop.name + "Changed").connect(self._changed)
                    self._watched.append((obj, prop.name + "Changed", self._changed))

    def _unwatch(self) -> None:
        for obj, signal, fn in self._watched:
            try:
                getattr(obj, signal).disconnect(fn)
            except ValueError:
                pass
        self._watched.clear()
        self._rewatch = False

    def _children_changed(self, *_args: Any) -> None:
        self._rewatch = True
        self._changed()

    def _changed(self, *_args: Any) -> None:
        if self._flush is None and self.mode == self.SerializeOnChange:
            # One write per loop turn, however many properties changed in it.
            self._flush = get_loop().call_later(0, self._flush_now)

    def _flush_now(self) -> None:
        self._flush = None
        if self._rewatch:
            self._watch()  # children came or went: listen to the new ones
        self.update()


class _Snapshot:
    """Values and bindings of a tree's serializable properties, to undo a failed restore."""

    def __init__(self, root: Object) -> None:
        self.entries = [
            (obj, p, p.peek(obj), obj.binding(p.name))
            for obj in root.walk()
            for p in type(obj)._prop_list
            if p.serializable
        ]

    def restore(self) -> None:
        # Plain values first, then the bindings: a re-made binding must see restored types.
        for obj, prop, value, binding in self.entries:
            if binding is None:
                prop.write(obj, value, False)
        for obj, prop, _value, binding in self.entries:
            if binding is not None and obj.binding(prop.name) is not binding:
                obj.bind(prop.name, binding.fn, location=binding.location, source=binding.source)
