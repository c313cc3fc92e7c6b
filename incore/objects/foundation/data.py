"""DataObject (a named value with a timestamp) and Measurement (a value with a unit)."""
from __future__ import annotations

import logging
import time
from typing import Any

from ...core import Object, Property, method
from .datatypes import DataType, coerce

log = logging.getLogger("incore.objects")


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch (what `timestamp` properties hold)."""
    return time.time_ns() // 1_000_000


class DataProperty(Property):
    """`data`: any value, checked against the object's `dataType` before it is stored."""

    __slots__ = ()

    def write(self, obj: Any, value: Any, user: bool) -> bool:
        data_type = obj._v[_DATA_TYPE_INDEX]
        if data_type:
            value = coerce(data_type, value, self.qualname)
        return super().write(obj, value, user)


class DataObject(Object):
    """A named value of any type with the time of its last write (InCore's DataObject).

    Writing `data` updates `timestamp` on every write, even one that does not change the
    value (`dataChanged` fires only on a real change). With `dataType` set, data is checked
    and converted to that type (Float holds floats, SignedSmallInteger 16-bit integers, Date
    a date, ...). Subclasses that react to writes override `_data_written` and call super.
    """

    DataType = DataType
    accepts = ("Polling",)

    data = DataProperty(object, None, on_write="_data_written",
                        doc="The value (any type; checked against dataType when set).")
    dataType = Property(DataType, DataType.Invalid, on_write="_data_type_written",
                        doc="The type of data (Invalid: any value).")
    timestamp = Property(int, 0, readonly=True, unit="ms",
                         doc="When data was last written (ms since the epoch), changed or not.")
    name = Property(str, "", doc="A name for the value (shown to users and in logs).")
    description = Property(str, "", doc="A description of the value.")

    @method
    def touch(self) -> None:
        """Set timestamp to now without writing data (the value is still current)."""
        self._update("timestamp", now_ms())

    def _data_written(self, _value: Any) -> None:
        _TIMESTAMP.write(self, now_ms(), False)

    def _data_type_written(self, data_type: DataType) -> None:
        """Convert the current data to the new type where it fits (e.g. int 5 -> 5.0)."""
        current = self._v[DataObject.data.index]
        try:
            converted = coerce(data_type, current, DataObject.data.qualname)
        except (TypeError, ValueError) as exc:
            log.warning("%r: data kept as it is: %s", self, exc)
            return
        self._update("data", converted)


# The hot path (every write of data) reaches these without a lookup.
_DATA_TYPE_INDEX = DataObject.dataType.index
_TIMESTAMP = DataObject.timestamp


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
    decimals = Property(int, 2, doc="Digits after the decimal point in displayString.")
    displayString = Property(str, "", readonly=True,
                             doc="data formatted with decimals and unit, e.g. '21.50 °C'.")

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        super().__init__(parent, **properties)
        # A binding keeps displayString right however data changes (written, bound, polled,
        # restored or updated internally), in the same glitch-free wave as data itself.
        self.bind("displayString", lambda: format_value(self.data, self.decimals, self.unit))
