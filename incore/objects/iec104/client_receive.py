"""What an IEC104Connection hears unasked: from the worker thread to the points.

The worker listens between requests; every frame no request waits for comes to `_heard`
on the thread that holds the link (never touching an Object): monitoring ASDUs become
values in the connection's `PointInbox`, end of initialisation and anything else become
events in the same ordered stream. The loop gets them in batches (`_receive`): values go
to the point at their address (a new point if none was declared there), end of
initialisation fires `stationInitialized`, the rest `unexpectedMessage(message, cause)`.
"""

from __future__ import annotations

from typing import Any

from ...protocols.iec104 import Asdu, AsduError, AsduReceived, Cause, TypeId, decode_asdu
from ..foundation.data import now_ms
from .point import IEC104Point
from .point_types import Iec104Message, PointType

__all__ = ["StationListener"]


class StationListener:
    """A mixin of IEC104Connection: its `_inbox` (worker side) and its loop side."""

    __slots__ = ()

    # -- what the worker hears (worker thread: never touch an Object here) ----------------------
    def _heard(self, event: Any) -> None:
        inbox = self._inbox
        if inbox is None:
            return
        if type(event) is not AsduReceived:
            return  # Started/Stopped answer our own acts; acknowledgements are the link's
        payload = event.payload
        if (
            len(payload) > 2
            and payload[2] & 0x7F == Cause.ACTIVATION_TERMINATION  # positive (P/N 0)
            and payload[0] >= TypeId.C_SC_NA_1
        ):
            return  # the end of a command or an interrogation: nothing to decode or do
        try:
            asdu = decode_asdu(payload)
        except AsduError as exc:
            inbox.event("undecodable", (bytes(event.payload), str(exc)))
            return
        type_id = asdu.type_id
        if type_id < TypeId.C_SC_NA_1:
            inbox.values(asdu.common_address, type_id, asdu.cause, asdu.objects, now_ms())
        elif type_id == TypeId.M_EI_NA_1:
            inbox.event("initialized", asdu)
        else:
            inbox.event("unexpected", asdu)

    # -- what the loop gets ----------------------------------------------------------------------
    def _receive(self, items: list) -> None:
        if self.isShutDown:
            return
        points = self._variables
        ca = self.commonAddress
        for item in items:
            if item[0] == "value":
                _, key, type_id, cause, info, _at = item
                if key[0] != ca:
                    self._unexpected_values(key[0], type_id, cause, info)
                elif not points.receive(key[0], type_id, cause, info):  # type: ignore[attr-defined]
                    self._unexpected_values(key[0], type_id, cause, info)
            elif item[1] == "initialized":
                asdu = item[2]
                cause = asdu.objects[0].cause
                self.stationInitialized.emit(asdu.common_address, cause)
                tell = getattr(self.parent, "_station_initialized", None)
                if tell is not None:
                    tell(self, asdu.common_address, cause)
            elif item[1] == "unexpected":
                self._unexpected(item[2], "unexpected message")
            else:
                raw, why = item[2]
                self._unexpected(None, f"undecodable: {why}", raw)
        inbox = self._inbox
        if inbox is not None:
            if inbox.merged != self.mergedValues:
                self._update("mergedValues", inbox.merged)
            if inbox.dropped != self.droppedValues:
                lost = inbox.dropped - self.droppedValues
                self._update("droppedValues", inbox.dropped)
                self.valuesDropped.emit(lost)

    def _unexpected_values(self, ca: int, type_id: int, cause: int, info: Any) -> None:
        why = "unknown common address" if ca != self.commonAddress else "unknown type id"
        self._unexpected(Asdu(type_id, cause, ca, (info,)), why)

    def _unexpected(self, asdu: Asdu | None, why: str, raw: bytes = b"") -> None:
        if not self.has_receivers("unexpectedMessage"):
            return
        if asdu is None:
            message = Iec104Message(raw=raw, isNegative=False)
        else:
            first = asdu.objects[0] if asdu.objects else None
            message = Iec104Message(
                typeId=asdu.type_id,
                cause=asdu.cause,
                commonAddress=asdu.common_address,
                originatorAddress=asdu.originator,
                ioa=getattr(first, "ioa", None),
                value=getattr(first, "value", None),
                isSelect=getattr(first, "select", None),
                isTest=asdu.test,
                isNegative=asdu.negative,
                peer=self.hostname,
                info=first,
                raw=raw,
            )
        self.unexpectedMessage.emit(message, why)

    # -- points ----------------------------------------------------------------------------------
    def _new_point(self, ioa: int, kind: PointType) -> IEC104Point | None:
        """A point for values that arrived at an address no point was declared at."""
        point = IEC104Point(self, ioa=ioa, type=kind)
        point.complete()
        if self.has_receivers("newPoint"):
            self.newPoint.emit(point)
        tell = getattr(self.parent, "_new_point", None)
        if tell is not None:
            tell(self, point)
        return point
