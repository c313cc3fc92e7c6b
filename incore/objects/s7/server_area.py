"""S7ServerArea: one memory area of an S7Server, declared in the app file."""
from __future__ import annotations

import enum
from typing import Any

from ...core import Object, Property


class AreaDataProperty(Property):
    """`data`: once the area exists, a write must keep its size (nothing is cut or padded)."""

    __slots__ = ()

    def write(self, obj: Any, value: Any, user: bool) -> bool:
        if user and obj._state & 1:
            value = self.convert(value)
            size = obj._v[_SIZE_INDEX]
            if len(value) != size:
                raise ValueError(f"S7ServerArea.data expects {size} bytes (the area's size), "
                                 f"got {len(value)}")
        return super().write(obj, value, user)


class S7ServerArea(Object):
    """A memory area (inputs, outputs, merkers, timers, counters or a DB) of its S7Server.

    `data` always holds the area's bytes: clients' writes update it, and writing it from the
    app writes the memory clients read. Before completion `size` may be left 0 when `data`
    is given; `data` shorter than `size` is padded with zeros. Changing area, index or size
    of a running server moves the area and keeps its bytes.
    """

    class Area(enum.IntEnum):
        """Which memory (snap7's srvArea numbers)."""

        PE = 0
        PA = 1
        MK = 2
        CT = 3
        TM = 4
        DB = 5

    area = Property(Area, Area.DB, on_write="_layout_written",
                    doc="PE (inputs), PA (outputs), MK (merkers), CT (counters), TM (timers) or "
                        "DB.")
    index = Property(int, 0, on_write="_layout_written",
                     doc="The DB number (for area DB; ignored otherwise).")
    size = Property(int, 0, on_write="_layout_written", unit="bytes",
                    doc="Bytes in the area (2 per timer or counter); 0 takes the length of "
                        "data.")
    data = AreaDataProperty(bytes, b"", on_write="_data_written",
                            doc="The area's bytes; writing them writes the server's memory.")

    def _server(self) -> Any:
        parent = self.parent
        return parent if hasattr(parent, "_attach_area") else None

    def _on_completed(self) -> None:
        server = self._server()
        if server is not None:
            server._attach_area(self)

    def _layout_written(self, _value: Any) -> None:
        server = self._server()
        if server is not None and self._state & 1 and not self._state & 2:
            server._area_layout_changed(self)

    def _data_written(self, value: bytes) -> None:
        server = self._server()
        if server is not None and self._state & 1 and not self._state & 2:
            server._area_data_written(self, value)


_SIZE_INDEX = S7ServerArea.size.index
