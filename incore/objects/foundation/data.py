"""DataObject (a named value with a timestamp) and Measurement (a value with a unit)."""

from __future__ import annotations

import enum
import logging
import time
from typing import Any

from ...core import Object, Property, engine, method
from ...core.object import Lifecycle
from ..errors import about
from .datatypes import DataType, coerce

log = logging.getLogger("incore.objects")


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch (what `timestamp` properties hold)."""
    return time.time_ns() // 1_000_000


class Quality(enum.IntEnum):
    """How far a value can be trusted; a larger value is worse (a binding takes the worst)."""

    Good = 0
    Uncertain = 1
    Bad = 2

    def __str__(self) -> str:
        return self.name


class DataProperty(Property):
    """`data`: any value, checked against the object's `dataType` before it is stored."""

    __slots__ = ()
    followers = ("quality", "qualityReason", "timestamp")

    def write(self, obj: Any, value: Any, user: bool) -> bool:
        data_type = obj._v[_DATA_TYPE_INDEX]
        if data_type:
            value = coerce(data_type, value, self.qualname)
        state = engine.state
        if not state.running:
            # One wave for the value and the timestamp its hook writes: what follows data is
            # marked before any handler of either change runs.
            state.running = True
            try:
                changed = self.write(obj, value, user)
            finally:
                state.running = False
            engine.run_wave()
            return changed
        changed = super().write(obj, value, user)
        if not changed and user:
            _reevaluate_followers(obj)  # same value, new timestamp: what follows takes it
        return changed


def _reevaluate_followers(obj: Any) -> None:
    """Mark the bindings that read `obj.data` dirty though data kept its value: they take
    its new timestamp or quality (a bound DataObject derives both from what it read)."""
    observers = obj._obs
    subs = observers.get("data") if observers is not None else None
    if subs:
        engine.mark_bindings(subs)


class FollowerProperty(Property):
    """A property derived with `data` when data is bound (quality, timestamp): a read
    settles the data binding first, so it is as consistent as data itself, and a change
    re-evaluates the bindings that read data, so a new quality or timestamp flows on even
    when the value itself stays the same."""

    __slots__ = ()
    follows = "data"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is not None and engine._heap:
            bindings = obj._bindings
            if bindings is not None:
                binding = bindings.get("data")
                if binding is not None:
                    binding.settle()
        return Property.__get__(self, obj, objtype)

    def write(self, obj: Any, value: Any, user: bool) -> bool:
        changed = super().write(obj, value, user)
        if changed:
            _reevaluate_followers(obj)
        return changed


class QualityProperty(FollowerProperty):
    """`quality`: a user's write stops it following the inputs of a bound data."""

    __slots__ = ()

    def __set__(self, obj: Any, value: Any) -> None:
        if self.name == "quality":
            obj._state |= QUALITY_OWNED
        super().__set__(obj, value)


#: DataObject._state bit: the user wrote `quality`, so a bound data no longer derives it.
QUALITY_OWNED = Lifecycle.FIRST_TYPE_FLAG


class DataObject(Object):
    """A named value of any type with the time of its last write (InCore's DataObject).

    Writing `data` updates `timestamp` on every write, even one that does not change the
    value (`dataChanged` fires only on a real change). With `dataType` set, data is checked
    and converted to that type (Float holds floats, SignedSmallInteger 16-bit integers, Date
    a date, ...). Subclasses that react to writes override `_data_written` and call super.
    """

    DataType = DataType
    Quality = Quality
    accepts = ("Polling",)

    data = DataProperty(
        object,
        None,
        on_write="_data_written",
        doc="The value (any type; checked against dataType when set).",
    )
    dataType = Property(
        DataType,
        DataType.Invalid,
        on_write="_data_type_written",
        doc="The type of data (Invalid: any value).",
    )
    timestamp = FollowerProperty(
        int,
        0,
        readonly=True,
        unit="ms",
        doc="When data was last written (ms since the epoch), changed "
        "or not; for a bound data, the newest timestamp of the "
        "values its binding read.",
    )
    quality = QualityProperty(
        Quality,
        Quality.Good,
        serializable=False,
        doc="How far data can be trusted (Good, Uncertain, Bad), set by "
        "its source; for a bound data, the worst quality of the values "
        "its binding read, unless quality is bound or written.",
    )
    qualityReason = FollowerProperty(
        str,
        "",
        serializable=False,
        doc="Why quality is not Good, where the source says (e.g. 'connection refused').",
    )
    name = Property(str, "", doc="A name for the value (shown to users and in logs).")
    description = Property(str, "", doc="A description of the value.")

    def _set_quality(self, quality: Quality, reason: str = "") -> None:
        """Set quality and its reason together, as the value's source (call on the loop
        thread inside a wave, e.g. through `engine.run_on_owner`): a handler sees both."""
        state = engine.state
        if engine._heap and state.capture is None:
            engine.settle_all()
        state.phase += 1
        _QUALITY.write(self, quality, False)
        _REASON.write(self, reason, False)

    @method
    def touch(self) -> None:
        """Set timestamp to now without writing data (the value is still current)."""
        self._update("timestamp", now_ms())

    def _data_written(self, _value: Any) -> None:
        bindings = self._bindings
        if bindings is not None:
            binding = bindings.get("data")
            if binding is not None and binding.evaluating:
                self._follow_inputs(
                    binding.deps, "quality" not in bindings and not self._state & QUALITY_OWNED
                )
                return
        _TIMESTAMP.write(self, now_ms(), False)

    def _follow_inputs(self, deps: list, derive_quality: bool) -> None:
        """Take the newest timestamp and the worst quality of the DataObjects whose data the
        binding of data read (their values are settled: the binding just read them)."""
        worst, reason, newest = Quality.Good, "", 0
        for obj, name in deps:
            if name == "data" and isinstance(obj, DataObject):
                values = obj._v
                quality = values[_QUALITY.index]
                if quality > worst:
                    worst, reason = quality, values[_REASON.index]
                stamp = values[_TIMESTAMP.index]
                if stamp > newest:
                    newest = stamp
        mine = self._v  # unchanged values skip the writes: this runs once per bound hop
        stamp = newest or now_ms()
        if mine[_TIMESTAMP.index] != stamp:
            _TIMESTAMP.write(self, stamp, False)
        if derive_quality:
            if mine[_QUALITY.index] is not worst:
                _QUALITY.write(self, worst, False)
            if mine[_REASON.index] != reason:
                _REASON.write(self, reason, False)

    def _data_type_written(self, data_type: DataType) -> None:
        """Convert the current data to the new type where it fits (e.g. int 5 -> 5.0)."""
        current = self._v[DataObject.data.index]
        try:
            converted = coerce(data_type, current, DataObject.data.qualname)
        except (TypeError, ValueError) as exc:
            log.warning("%s: data kept as it is: %s", about(self), exc)
            return
        self._update("data", converted)


# The hot path (every write of data) reaches these without a lookup.
_DATA_TYPE_INDEX = DataObject.dataType.index
_TIMESTAMP = DataObject.timestamp
_QUALITY = DataObject.quality
_REASON = DataObject.qualityReason


def format_value(value: Any, decimals: int, unit: str) -> str:
    """`value` with `decimals` digits after the point and the unit: '21.50 °C'."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = f"{value:.{max(0, decimals)}f}"
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"{text} {unit}" if unit else text


class Measurement(DataObject):
    """A measured value with a unit and a display precision (InCore's Measurement)."""

    unit = Property(str, "", doc="The unit of data, e.g. '°C', 'bar', 'l/s'.")
    decimals = Property(int, 2, minimum=0, doc="Digits after the decimal point in displayString.")
    displayString = Property(
        str, "", readonly=True, doc="data formatted with decimals and unit, e.g. '21.50 °C'."
    )

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        super().__init__(parent, **properties)
        # A binding keeps displayString right however data changes (written, bound, polled,
        # restored or updated internally), in the same glitch-free wave as data itself.
        self.bind("displayString", lambda: format_value(self.data, self.decimals, self.unit))
