"""How an IEC104Server's points meet its clients: the table the workers read, and events.

`PointTable` is the loop-thread half of IEC104Server. It keeps a `PointEntry` per point of
its stations and publishes `core.stations` (common address -> ioa -> entry) for the
workers, rebuilt whenever a point comes, goes or changes its address or settings. It turns
what happens to a monitoring point into events for the clients:

- a change of `data`, `quality` or `qualityFlags` that changes what goes on the wire is
  sent spontaneously (COT 3); writing the same value again sends nothing;
- `reportMs` sends the value cyclically (COT 1, only the latest waits);
- `transmit(cause)` and `transmitBatch(points, cause)` send on demand.

A point without a value yet is served (interrogation, read) as its type's zero with IV.
"""

from __future__ import annotations

import logging
from typing import Any

from ...core import get_loop
from ...protocols.iec104 import Cause, Quality, encode_asdu, pack_objects
from .point import IEC104Point
from .server_core import PointEntry

log = logging.getLogger("incore.iec104server")

#: Point settings that make a new entry when they change.
_LAYOUT = ("ioa", "type", "groups", "commandMode", "keepLatest", "relatedIoa")
_ZERO = {"bool": False, "float": 0.0}


def info_of(point: IEC104Point) -> Any:
    """The point's information object now (its type's zero with IV if it has no value or
    its value does not fit the type)."""
    if point.is_command:
        return None
    if point.data is not None:
        try:
            return point.information()
        except (TypeError, ValueError) as exc:
            point._fail("WriteError", f"{point.peer_address}: {exc}")
    zero = False if int(point.type) in (1, 30) else 0
    info = point.information(zero)
    return info._replace(quality=info.quality | Quality.IV)


def _same(a: Any, b: Any) -> bool:
    """Equal apart from the time tag (the last field of every monitoring object)."""
    return a is not None and b is not None and a[:-1] == b[:-1]


class PointTable:
    """Mixin of IEC104Server (loop thread only); expects `_core`, `_entries` (point ->
    PointEntry), `_timers` (point -> TimerHandle) and `_watching`."""

    __slots__ = ()

    # -- from the stations ---------------------------------------------------------------------
    def _point_attached(self, station: Any, point: IEC104Point) -> None:
        if point not in self._watching:
            self._watching.add(point)
            refresh = lambda *_, p=point: self._point_refresh(p)  # noqa: E731
            point.qualityChanged.connect(refresh)
            point.qualityFlagsChanged.connect(refresh)
            for name in _LAYOUT:
                getattr(point, name + "Changed").connect(lambda *_: self._relayout())
            point.reportMsChanged.connect(lambda *_, p=point: self._arm(p))
        if self.isCompleted:  # before that, completing the server builds the table once
            self._rebuild()

    def _point_detached(self, station: Any, point: IEC104Point) -> None:
        timer = self._timers.pop(point, None)
        if timer is not None:
            timer.cancel()
        if self.isCompleted:
            self._rebuild()

    def _point_written(self, station: Any, point: IEC104Point, info: Any) -> None:
        self._point_refresh(point)

    def _point_refresh(self, point: IEC104Point) -> None:
        entry = self._entries.get(point)
        if entry is None or point.is_command:
            return
        info = info_of(point)
        if _same(info, entry.info):
            return
        entry.info = info
        point._processed()
        if self._tcp is not None:
            self._core.publish(entry, Cause.SPONTANEOUS, info, entry.keep_latest)

    def _relayout(self) -> None:
        if self.isCompleted:
            self._rebuild()

    # -- the table ------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """New entries for every point (kept where nothing changed) and a new table."""
        stations: dict[int, dict[int, PointEntry]] = {}
        entries: dict[IEC104Point, PointEntry] = {}
        for station in self._stations():
            ca = station.commonAddress
            table = stations.setdefault(ca, {})
            for point in station.points:
                if point.ioa in table:
                    point._fail("WriteError", f"{point.peer_address} is taken by another point")
                    continue
                old = self._entries.get(point)
                entry = PointEntry(point, ca, point)
                if old is not None and _fields(old) == _fields(entry):
                    entry = old
                else:
                    entry.info = info_of(point)
                table[point.ioa] = entry
                entries[point] = entry
        self._entries = entries
        self._core.stations = stations
        for point in list(self._timers):
            if point not in entries:
                self._timers.pop(point).cancel()
        for point in entries:
            if point not in self._timers:
                self._arm(point)

    def _stations(self) -> list:
        return [c for c in self.objects if hasattr(c, "commonAddress") and hasattr(c, "points")]

    # -- cyclic and on-demand transmission --------------------------------------------------------
    def _arm(self, point: IEC104Point) -> None:
        old = self._timers.pop(point, None)
        if old is not None:
            old.cancel()
        if point.reportMs > 0 and not point.is_command and point in self._entries:
            delay = max(point.reportMs, self.tickRate) / 1000.0
            self._timers[point] = get_loop().call_later(delay, self._cyclic, point)

    def _cyclic(self, point: IEC104Point) -> None:
        self._timers.pop(point, None)
        entry = self._entries.get(point)
        if entry is None:
            return
        if self._tcp is not None and entry.info is not None:
            self._core.publish(entry, Cause.PERIODIC, entry.info, True)
        self._arm(point)

    def _transmit(self, point: IEC104Point, cause: int) -> bool:
        """transmit(cause): the point's value now to every client with data transfer on."""
        entry = self._entries.get(point)
        if entry is None or point.is_command or self._tcp is None:
            return False
        entry.info = info_of(point)
        self._core.publish(entry, cause, entry.info, entry.keep_latest)
        return True

    def _batch(self, points: list, cause: int) -> bool:
        """transmitBatch: the points' values packed per station and type (sequence form
        where addresses run on), queued as replies (never pushed out) for every client."""
        groups: dict[tuple[int, int], list] = {}
        for point in points:
            entry = self._entries.get(point)
            if entry is None or point.is_command:
                return False
            entry.info = info_of(point)
            groups.setdefault((entry.ca, entry.type_id), []).append(entry.info)
        asdus = []
        for (ca, tid), infos in groups.items():
            infos.sort(key=lambda o: o.ioa)
            asdus += [encode_asdu(a) for a in pack_objects(tid, cause, ca, infos)]
        core = self._core
        with core.lock:
            active = [s for s in core.sessions if s.active]
        for session in active:
            for asdu in asdus:
                session.reply(asdu, urgent=False)
        return bool(active)


def _fields(entry: PointEntry) -> tuple:
    return (
        entry.ca,
        entry.ioa,
        entry.type_id,
        entry.groups,
        entry.command_mode,
        entry.keep_latest,
        entry.related,
    )
