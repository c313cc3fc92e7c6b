"""The IEC104Points of an IEC104Connection: found by address, fed what the station sends.

An IEC 104 station speaks unasked, so its points are not polled like S7 or Modbus
variables: every monitoring value the station sends (spontaneously, in answer to an
interrogation, or to a read) comes through the connection's `PointInbox` to `receive`,
which hands it to the point at that address. A value for an address no point was declared
at makes a new point under the connection (c104's on_new_point, done for the app), so
`points` mirrors the whole station. While the link is down every monitoring point is Bad
(its last value kept); the next interrogation or change makes it Good again.

This is the connection's `ClientVariables` (link/host.py); commands and reads are the
connection's to send, so they go back to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...protocols.iec104 import TypeId
from .point import IEC104Point
from .point_types import PointType

__all__ = ["ConnectionPoints", "point_type_of"]

#: Received type ids that have no point type of their own: the form a point takes for them
#: (the CP24 forms of IEC 101, and M_ME_ND_1, a normalised value without quality).
_FORM_OF = {2: 1, 4: 3, 6: 5, 8: 7, 10: 9, 12: 11, 14: 13, 16: 15, 21: 9}


def point_type_of(type_id: int) -> PointType | None:
    """The point type that takes values of `type_id` (None: no point can hold them)."""
    try:
        return PointType(type_id)
    except ValueError:
        form = _FORM_OF.get(type_id)
        return None if form is None else PointType(form)


class ConnectionPoints:
    """The points of one connection, by (common address, IOA) (loop thread)."""

    __slots__ = ("_connection", "_points", "_by_key", "_on_change")

    def __init__(self, connection: Any, on_change: Callable[[], None]) -> None:
        self._connection = connection
        self._points: list[IEC104Point] = []
        self._by_key: dict[tuple[int, int], IEC104Point] | None = None
        self._on_change = on_change  # the list or an address changed: points, keepLatest

    @property
    def points(self) -> tuple[IEC104Point, ...]:
        return tuple(self._points)

    def find(self, common_address: int, ioa: int) -> IEC104Point | None:
        """The point at that address (the first one declared, if several)."""
        by_key = self._by_key
        if by_key is None:
            by_key = {}
            for point in self._points:
                by_key.setdefault((point.common_address, point.ioa), point)
            self._by_key = by_key
        return by_key.get((common_address, ioa))

    def latest_only(self) -> frozenset[tuple[int, int]]:
        """The addresses whose waiting measured values keep only the newest."""
        return frozenset(
            (p.common_address, p.ioa) for p in self._points if p.keepLatest and not p.is_command
        )

    def addresses_changed(self) -> None:
        """The connection's common address (or a point's IOA) changed: look up afresh."""
        self._by_key = None
        self._on_change()

    # -- ClientVariables (link/host.py) -------------------------------------------------------
    def attach_variable(self, var: IEC104Point) -> None:
        if var not in self._points:
            self._points.append(var)
            self.addresses_changed()
            if not var.is_command and not self._connection.online:
                var._lost(f"{self._connection.link_label}: not connected")

    def detach_variable(self, var: IEC104Point) -> None:
        if var in self._points:
            self._points.remove(var)
            self.addresses_changed()

    def read_variable(self, var: IEC104Point) -> None:
        self._connection._read_point(var)

    def write_variable(self, var: IEC104Point, raw: Any) -> None:
        self._connection._command_point(var, raw)

    def resume(self) -> None:
        """The link is up: the interrogation on connect (if on) refreshes the values."""

    def link_down(self, reason: str) -> None:
        for point in self._points:
            if not point.is_command:
                point._lost(reason)

    def clear(self) -> None:
        self._points.clear()
        self._by_key = None

    # -- what the station sent ---------------------------------------------------------------------
    def receive(self, common_address: int, type_id: int, cause: int, info: Any) -> bool:
        """Give a received information object to its point, making the point if there is
        none (False: no point type takes `type_id`)."""
        point = self.find(common_address, info.ioa)
        if point is None:
            kind = point_type_of(type_id)
            if kind is None or type_id >= TypeId.C_SC_NA_1:
                return False
            point = self._connection._new_point(info.ioa, kind)
            if point is None:
                return False
        point._deliver(info, cause)
        return True
