"""Small types for the app-file tests (registered under X... names, never incore's own).

They are kept minimal and independent of the foundation types so a test here fails only
for a reason of the app layer.
"""

from __future__ import annotations

import enum

from incore.core import Object, Property, Signal, method


class XRoot(Object):
    """A root that takes any child."""

    accepts = ("Object",)
    name = Property(str, "")


class XItem(Object):
    """A value holder with every kind of property."""

    class Kind(enum.IntEnum):
        Alpha = 1
        Beta = 2

    accepts = ("XItem",)

    data = Property(float, 0.0)
    count = Property(int, 0)
    flag = Property(bool, False)
    label = Property(str, "")
    items = Property(list, [])
    table = Property(dict, {})
    blob = Property(bytes, b"")
    anything = Property(object, None)
    kind = Property(Kind, Kind.Alpha)
    other = Property("XItem", None)
    stamp = Property(int, 0, readonly=True)

    fired = Signal("n", "text")

    @method
    def poke(self, n: int = 1) -> None:
        """Emit fired(n, "poke")."""
        self.fired.emit(n, "poke")


class XLeaf(Object):
    """Takes no children (only modifiers)."""

    level = Property(float, 0.0)


class XModifier(Object):
    """A modifier, like Polling: `on` names a property of the parent."""

    modifier = True
    on = Property(str, "")
    interval = Property(int, 1000)


class XSensor(Object):
    """Can be polled, like S7Variable: Polling's `on` may name its `data`."""

    data = Property(float, 0.0)

    def pollData(self) -> None:
        self.data += 1


class XConnections(Object):
    """Like Connections: `onX` keys handle the signals of `target` (default: the parent)."""

    modifier = True
    handler_target = "target"
    target = Property("Object", None)
    enabled = Property(bool, True)
