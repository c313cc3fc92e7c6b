"""Sans-IO Modbus TCP client engine: requests out with transaction ids, answers matched back.

`ModbusClientProtocol` is a `StreamEngine` (no timers: the transport bounds each wait and
calls `cancel` when it gives up). `send` frames a `Request` (see `.pdu`) with the next
transaction id; `receive_data` returns a `ModbusReply` for each answer that matches a
pending request. Up to `max_pending` requests may be in flight (1 by default: many servers,
pymodbus's among them, do not answer pipelined requests); answers are matched by
transaction id, not by order. An answer to a transaction id that is not pending (unknown,
or cancelled after a timeout) is dropped and counted in `stale`, never handed to another
request. An exception answer is a reply whose `error` is a `ModbusException`; an answer
whose unit, function or layout does not fit its request raises `ModbusPduError`, and the
connection should be dropped.
"""

from __future__ import annotations

from typing import NamedTuple

from ..contract import Untimed
from .errors import ModbusException, ModbusPduError
from .mbap import HEADER, MbapDecoder
from .pdu import Request

__all__ = ["ModbusClientProtocol", "ModbusReply"]


class ModbusReply(NamedTuple):
    """The answer to the request sent with `tid`: `result` (see `Request.decode`), or
    `error` when the server answered with an exception. `pdu` is the answer as received
    (a register read's values are `pdu[2:]`, for a caller that decodes bytes itself)."""

    tid: int
    unit: int
    request: Request
    result: object
    error: ModbusException | None
    pdu: bytes

    @property
    def ok(self) -> bool:
        return self.error is None


class ModbusClientProtocol(Untimed):
    """One client connection: frames requests, matches answers by transaction id."""

    __slots__ = ("max_pending", "unit", "stale", "_next_tid", "_pending", "_decoder", "_outbox")

    def __init__(self, *, max_pending: int = 1, unit: int = 255, first_tid: int = 1) -> None:
        if not 1 <= max_pending <= 0x10000:
            raise ValueError(f"max_pending {max_pending} outside 1..65536")
        self.max_pending = max_pending
        self.unit = unit  # the default unit id (255: "this device" on TCP)
        self.stale = 0  # answers dropped: no pending request had their transaction id
        self._next_tid = first_tid & 0xFFFF
        self._pending: dict[int, tuple[Request, int]] = {}
        self._decoder = MbapDecoder()
        self._outbox = bytearray()

    @property
    def can_send(self) -> bool:
        """Fewer than `max_pending` requests are waiting for an answer."""
        return len(self._pending) < self.max_pending

    @property
    def pending(self) -> list[int]:
        """The transaction ids waiting for an answer, oldest first."""
        return list(self._pending)

    def frame(self, request: Request, unit: int | None = None) -> tuple[int, bytes]:
        """Take a transaction id for `request` and return it with the whole ADU, for a caller
        that sends it at once (`send` queues it instead)."""
        if len(self._pending) >= self.max_pending:
            raise RuntimeError(f"{len(self._pending)} requests pending (max_pending)")
        tid = self._next_tid
        while tid in self._pending:
            tid = (tid + 1) & 0xFFFF
        self._next_tid = (tid + 1) & 0xFFFF
        unit = self.unit if unit is None else unit
        self._pending[tid] = (request, unit)
        pdu = request.pdu
        return tid, HEADER.pack(tid, 0, len(pdu) + 1, unit) + pdu

    def send(self, request: Request, unit: int | None = None) -> int:
        """Queue `request` for `data_to_send`; return its transaction id."""
        tid, adu = self.frame(request, unit)
        self._outbox += adu
        return tid

    def cancel(self, tid: int) -> bool:
        """Forget a pending request (it timed out): a late answer to it is dropped."""
        return self._pending.pop(tid, None) is not None

    def cancel_all(self) -> None:
        """Forget every pending request (the connection is being reset)."""
        self._pending.clear()

    def data_to_send(self) -> bytes:
        """Drain and return the requests queued so far."""
        out = bytes(self._outbox)
        self._outbox.clear()
        return out

    def receive_data(self, data: bytes, now: float | None = None) -> list[ModbusReply]:
        """Feed received bytes (any chunking); return the replies they complete."""
        replies: list[ModbusReply] = []
        pending = self._pending
        for tid, unit, pdu in self._decoder.feed(data):
            entry = pending.pop(tid, None)
            if entry is None:
                self.stale += 1
                continue
            request, asked = entry
            if unit != asked:
                raise ModbusPduError(f"answer from unit {unit} to a request to unit {asked}")
            try:
                replies.append(ModbusReply(tid, unit, request, request.decode(pdu), None, pdu))
            except ModbusException as exc:
                replies.append(ModbusReply(tid, unit, request, None, exc, pdu))
        return replies
