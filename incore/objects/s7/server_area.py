"""S7ServerArea: one memory area of an S7Server, declared in the app file."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any

from ...core import Object, Property, registry
from .server_memory import MAX_AREA_SIZE

Problem = registry.Problem


def _check_data(data: bytes) -> None:
    if len(data) > MAX_AREA_SIZE:
        raise ValueError(f"{len(data)} bytes, more than an area holds ({MAX_AREA_SIZE})")


_check_data.__doc__ = f"at most {MAX_AREA_SIZE} bytes"


def area_bytes(value: Any) -> bytes:
    """An area's bytes from bytes or a list of byte values; a bad element is named by its
    index (the app layer gives the list's position, not its elements')."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 0xFF:
                raise ValueError(
                    f"S7ServerArea.data: element {i} ({item!r}) is not a byte value 0..255"
                )
        return bytes(value)
    raise TypeError(
        f"S7ServerArea.data expects bytes, hex text or a list of byte values, "
        f"got {type(value).__name__} {value!r}"
    )


class AreaDataProperty(Property):
    """`data`: once the area exists, a write must keep its size (nothing is cut or padded);
    a list of byte values is checked element by element."""

    __slots__ = ()

    def bind_type(self, resolve: Callable[[Any], Any]) -> None:
        super().bind_type(resolve)
        self.convert = area_bytes

    def write(self, obj: Any, value: Any, user: bool) -> bool:
        if user and obj.isCompleted:
            value = self.convert(value)
            size = obj._v[_SIZE_INDEX]
            if len(value) != size:
                raise ValueError(
                    f"S7ServerArea.data expects {size} bytes (the area's size), got {len(value)}"
                )
        return super().write(obj, value, user)


class S7ServerArea(Object):
    """A memory area (inputs, outputs, merkers, timers, counters or a DB) of its S7Server.

    `data` always holds the area's bytes: clients' writes update it, and writing it from the
    app writes the memory clients read. Before completion `size` may be left 0 when `data`
    is given; `data` shorter than `size` is padded with zeros. Changing area, index or size
    of a running server moves the area and keeps its bytes.

    `data` takes bytes, hex text (`"41 20"`) or a list of byte values (`[0x41, 0x20]`); an
    element outside 0..255 is an error that names its index. At the server's start the
    variables' literal values are written on top of `data` (see S7Server).
    """

    class Area(enum.IntEnum):
        """Which memory (snap7's srvArea numbers)."""

        PE = 0
        PA = 1
        MK = 2
        CT = 3
        TM = 4
        DB = 5

    area = Property(
        Area,
        Area.DB,
        on_write="_layout_written",
        doc="PE (inputs), PA (outputs), MK (merkers), CT (counters), TM (timers) or DB.",
    )
    index = Property(
        int,
        0,
        on_write="_layout_written",
        minimum=0,
        maximum=0xFFFF,
        doc="The DB number (area DB only).",
    )
    size = Property(
        int,
        0,
        on_write="_layout_written",
        unit="bytes",
        minimum=0,
        maximum=MAX_AREA_SIZE,
        doc="Bytes in the area (2 per timer or counter); 0 takes the length of data.",
    )
    data = AreaDataProperty(
        bytes,
        b"",
        on_write="_data_written",
        check=_check_data,
        doc="The area's bytes; writing them writes the server's memory.",
    )

    @property
    def label(self) -> str:
        """The area as S7 names it: DB5, PE, MK ..."""
        return f"DB{self.index}" if self.area == self.DB else self.area.name

    def _check(self) -> Iterator[Problem]:
        """It is under an S7Server, has a size or data (no more data than size), and an index
        only if its area is DB."""
        if self._server() is None:
            yield Problem(self, "", "an S7ServerArea is memory of an S7Server: put it under one")
            return
        size, data = self.size, self.data
        if not size and not data:
            yield Problem(
                self,
                "size",
                f"S7ServerArea {self.label} needs a size or data (1..{MAX_AREA_SIZE} bytes)",
            )
        elif size and len(data) > size:
            yield Problem(
                self, "data", f"S7ServerArea.data has {len(data)} bytes, more than its size {size}"
            )
        if self.index and self.area != self.DB:
            yield Problem(
                self, "index", f"S7ServerArea.index is a DB number: area {self.area.name} has none"
            )

    def _server(self) -> Any:
        parent = self.parent
        return parent if hasattr(parent, "_attach_area") else None

    def _on_completed(self) -> None:
        server = self._server()
        if server is not None:
            server._attach_area(self)

    def _layout_written(self, _value: Any) -> None:
        server = self._server()
        if server is not None and self.isLive:
            server._area_layout_changed(self)

    def _data_written(self, value: bytes) -> None:
        server = self._server()
        if server is not None and self.isLive:
            server._area_data_written(self, value)


_SIZE_INDEX = S7ServerArea.size.index


def duplicate_areas(server: Object) -> Iterator[Problem]:
    """The S7ServerArea children of `server` that declare an area an earlier one declared."""
    seen: dict[tuple[int, int], S7ServerArea] = {}
    for child in server.children():
        if isinstance(child, S7ServerArea):
            is_db = child.area == S7ServerArea.DB
            first = seen.setdefault((int(child.area), child.index if is_db else 0), child)
            if first is not child:
                prop = "index" if is_db else "area"
                yield Problem(
                    child,
                    prop,
                    f"{type(server).__name__} already has area {child.label}",
                    first=(first, prop),
                )
