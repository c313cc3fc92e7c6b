"""S7Server's memory methods: node-snap7's registerArea, getArea, setArea, lockArea, ...

They act on the server's memory (server_memory.py) under each area's lock, from the loop
thread, and report failures the way node-snap7 does: False, with `lastError` and the
server's error set by `_job`. Kept apart from server.py so that module holds the life cycle.
"""

from __future__ import annotations

from typing import Any

from ...core import Object, method
from .server_events import ServerError
from .server_host import area_name
from .server_memory import MAX_AREA_SIZE, WIRE_AREA, ServerMemory


class AreaMethods(Object, register=False):
    """Mixin of S7Server. Expects `Area`, `_core`, `_job`, `_map_waiting`, `_dropped` and
    `_notify` from the class it is mixed into."""

    @method
    def registerArea(self, area: Any, index: int, buffer: Any) -> bool:
        """Register memory clients can use: `buffer` is its initial bytes or a size."""
        code = self._wire(area)
        if code is None:
            return False
        if isinstance(buffer, int) and not isinstance(buffer, bool):
            data = bytes(buffer) if 0 < buffer <= MAX_AREA_SIZE else b""
        elif isinstance(buffer, (bytes, bytearray, memoryview, list)):
            try:
                data = bytes(buffer)
            except (TypeError, ValueError):
                data = b""
        else:
            data = b""
        if not 0 < len(data) <= MAX_AREA_SIZE or not 0 <= int(index) <= 0xFFFF:
            return self._job(
                ServerError.InvalidParams,
                f"registerArea: need 1..{MAX_AREA_SIZE} bytes and a DB number 0..65535",
            )
        memory = self._core.memory
        if memory.find(code, int(index)) is not None:
            return self._job(
                ServerError.AreaAlreadyExists,
                f"area {area_name(code, int(index))} is already registered",
            )
        self._map_waiting(memory.add(code, int(index), data))
        return self._job()

    @method
    def unregisterArea(self, area: Any, index: int) -> bool:
        """Remove an area; clients then get "object does not exist"."""
        block = self._block(area, index)
        if block is None:
            return False
        self._core.memory.remove(block)
        self._dropped(block)
        return self._job()

    @method
    def getArea(self, area: Any, index: int) -> bytes | None:
        """The bytes of an area (a copy); None if it is not registered."""
        block = self._block(area, index)
        if block is None:
            return None
        self._job()
        return ServerMemory.read(block)

    @method
    def setArea(self, area: Any, index: int, buffer: Any, start: int = 0) -> bool:
        """Write `buffer` into an area at byte `start` (0: from the beginning)."""
        block = self._block(area, index)
        if block is None:
            return False
        try:
            data = bytes(buffer)
            ServerMemory.write(block, int(start), data)
        except (TypeError, ValueError) as exc:
            return self._job(ServerError.InvalidParams, f"setArea: {exc}")
        self._notify(block, int(start), int(start) + len(data))
        return self._job()

    @method
    def lockArea(self, area: Any, index: int) -> bool:
        """Hold every client access to an area until unlockArea (the app keeps access)."""
        return self._set_locked(area, index, True)

    @method
    def unlockArea(self, area: Any, index: int) -> bool:
        """Release an area locked with lockArea; waiting clients proceed."""
        return self._set_locked(area, index, False)

    def _set_locked(self, area: Any, index: int, locked: bool) -> bool:
        block = self._block(area, index)
        if block is None:
            return False
        ServerMemory.set_locked(block, locked)
        return self._job()

    def _wire(self, area: Any) -> int | None:
        try:
            if isinstance(area, str):
                number = self.Area[area if area.startswith("srvArea") else "srvArea" + area]
            else:
                number = self.Area(int(area))
        except (KeyError, TypeError, ValueError):
            self._job(
                ServerError.UnknownArea, f"unknown area {area!r} (srvAreaPE 0 .. srvAreaDB 5)"
            )
            return None
        return WIRE_AREA[int(number)]

    def _block(self, area: Any, index: Any) -> Any:
        code = self._wire(area)
        if code is None:
            return None
        block = self._core.memory.find(code, int(index))
        if block is None:
            self._job(
                ServerError.UnknownArea, f"area {area_name(code, int(index))} is not registered"
            )
        return block
