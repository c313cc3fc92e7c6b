"""Two layers as one engine: a framing engine carrying a PDU engine is a stream engine.

This is what lets a transport serve S7 (TPKT/COTP + S7) - and later Modbus (MBAP + PDU)
or IEC 104 (APCI + ASDU) - with one loop that knows only `StreamEngine`.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from .contract import Framing, PduEngine, PduReceived

__all__ = ["Stack"]

L = TypeVar("L")
U = TypeVar("U")


class Stack(Generic[L, U]):
    """`framing` below, `upper` above: bytes in, both layers' events out.

    Every `PduReceived` of the framing engine goes to `upper` (it is not
    returned itself); the PDUs `upper` answers are framed at once, so they are in
    `data_to_send` as soon as the call that caused them returns. Other framing events
    (connected, disconnected) are returned in their place among the upper layer's events.
    A `ProtocolError` of either layer propagates: drop the connection.

    The framing engine has read the whole chunk before the upper layer sees its first PDU,
    so a peer that sends its last request and its release in one chunk finds the
    connection down when the answer is ready. The request is still handled (same events,
    whatever the chunking), but its answer is dropped: the peer has released the
    connection and reads no more.
    """

    __slots__ = ("framing", "upper")

    def __init__(self, framing: Framing[L], upper: PduEngine[U]) -> None:
        self.framing = framing
        self.upper = upper

    def receive_data(self, data: bytes, now: float | None = None) -> list[L | U]:
        return self._lift(self.framing.receive_data(data, now), now)

    def data_to_send(self) -> bytes:
        return self.framing.data_to_send()

    def next_deadline(self) -> float | None:
        below, above = self.framing.next_deadline(), self.upper.next_deadline()
        if below is None or above is None:
            return above if below is None else below
        return min(below, above)

    def handle_timer(self, now: float) -> list[L | U]:
        events = self._lift(self.framing.handle_timer(now), now)
        events += self.upper.handle_timer(now)
        self._send_down()
        return events

    def _lift(self, below: list[L], now: float | None) -> list[L | U]:
        """Hand the framing engine's PDUs up; keep its other events in order."""
        events: list[L | U] = []
        for event in below:
            if isinstance(event, PduReceived):
                events += self.upper.receive_pdu(event.payload, now)
                self._send_down()
            else:
                events.append(event)
        return events

    def _send_down(self) -> None:
        pdus = self.upper.pdus_to_send()
        if pdus and self.framing.can_send:
            for pdu in pdus:
                self.framing.send_pdu(pdu)
