"""IEC104Station: one common address of an IEC104Server, holding its IEC104Point children.

A station is the host its points see (link.host.VariableHost plus the extras the point's
module docstring lists); it owns nothing itself and hands everything to its server, which
keeps the points' table for the workers (server_points.py). A station outside a server
serves nothing, and its points say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...core import Object, Property, method, registry
from .point import IEC104Point

__all__ = ["IEC104Station"]


class IEC104Station(Object):
    """A station (common address) of an IEC104Server; its children are its IEC104Points."""

    __slots__ = ("_points",)

    accepts = ("IEC104Point",)
    #: IEC104Point reads this: a station's points are its own values (all writable).
    serves_points = True

    commonAddress = Property(
        int,
        1,
        minimum=1,
        maximum=65534,
        on_write="_address_written",
        doc="The common address (ASDU address) of the station, 1..65534.",
    )
    points = Property(list, [], readonly=True, doc="The station's points, in document order.")

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._points: list[IEC104Point] = []
        super().__init__(parent, **properties)

    @property
    def server(self) -> Any:
        """The IEC104Server this station belongs to (None outside one)."""
        parent = self.parent
        return parent if hasattr(parent, "_point_attached") else None

    # -- VariableHost ------------------------------------------------------------------------
    def attach_variable(self, point: IEC104Point) -> None:
        if point not in self._points:
            self._points.append(point)
            self._update("points", list(self._points))
        server = self.server
        if server is not None:
            server._point_attached(self, point)

    def detach_variable(self, point: IEC104Point) -> None:
        if point in self._points:
            self._points.remove(point)
            self._update("points", list(self._points))
        server = self.server
        if server is not None:
            server._point_detached(self, point)

    def read_variable(self, point: IEC104Point) -> None:
        """pollData(): a station's point is its own value; nothing to read."""

    def write_variable(self, point: IEC104Point, info: Any) -> None:
        server = self.server
        if server is not None:
            server._point_written(self, point, info)

    def transmit_point(self, point: IEC104Point, cause: int) -> bool:
        server = self.server
        return server._transmit(point, cause) if server is not None else False

    # -- Python API (c104's Station) -----------------------------------------------------------
    @method
    def getPoint(self, ioa: int) -> Any:
        """The point with information object address `ioa` (None if there is none)."""
        for point in self._points:
            if point.ioa == ioa:
                return point
        return None

    @method
    def addPoint(self, ioa: int, type: Any, reportMs: int = 0) -> Any:
        """A new point at `ioa` of `type` (a type id or its name); None if `ioa` is taken."""
        if self.getPoint(ioa) is not None:
            return None
        point = IEC104Point(ioa=ioa, type=type, reportMs=reportMs)
        self.appendChild(point)
        if self.isCompleted:
            point.complete()
        return point

    @method
    def removePoint(self, ioa: int) -> bool:
        """Remove the point at `ioa`; false if there is none."""
        point = self.getPoint(ioa)
        if point is None:
            return False
        point.shutdown()
        self.objects = tuple(c for c in self.objects if c is not point)
        return True

    def _address_written(self, _value: Any) -> None:
        server = self.server
        if server is not None and self.isCompleted:
            server._rebuild()

    def _check(self) -> Iterator[registry.Problem]:
        """No two points of the station share an information object address."""
        seen: dict[int, Any] = {}
        for child in self.objects:
            if isinstance(child, IEC104Point):
                if child.ioa in seen:
                    yield registry.Problem(child, "ioa", f"IOA {child.ioa} is used twice")
                seen[child.ioa] = child
