"""S7Client as the host of S7Variable children: the S7 side of link.polled.PolledVariables.

What is S7 here: polls go out as multi-variable reads (Read Var), at most 20 items each and
as many as the negotiated PDU holds, request and answer alike; bits are read as their whole
byte (every server answers that the same way) and written with the BIT transport size (no
read-modify-write). Batching, waiting for the link, dropping reads overtaken by a write and
quality live in PolledVariables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, Protocol

from ...protocols.s7 import TransportSize, Var
from ...protocols.s7.constants import MAX_ITEMS, client_error_text
from ..link.host import PollingClient
from ..link.polled import ItemError, PolledVariables

__all__ = ["S7Variables", "read_batches"]

#: The PDU size assumed before one was negotiated (the smallest any CPU offers).
MIN_PDU = 240


class S7PollingClient(PollingClient, Protocol):
    """What S7Variables needs of its client beyond PollingClient (S7Client has it)."""

    @property
    def pdu_size(self) -> int:
        """The PDU size negotiated with the PLC (0 when not connected)."""


def read_batches(variables: list[Any], pdu: int) -> Iterator[list[Any]]:
    """Split variables into Read Var requests whose request and answer fit `pdu`."""
    batch: list[Any] = []
    answer = 14
    for var in variables:
        size = var.peer_address.size
        item = 4 + size + (size & 1)
        if batch and (
            len(batch) == MAX_ITEMS or 12 + 12 * (len(batch) + 1) > pdu or answer + item > pdu
        ):
            yield batch
            batch, answer = [], 14
        batch.append(var)
        answer += item
    if batch:
        yield batch


class S7Variables(PolledVariables):
    """The variable host of an S7Client (loop thread only)."""

    __slots__ = ()

    client: S7PollingClient

    def batches(self, variables: list[Any]) -> Iterator[list[Any]]:
        return read_batches(variables, self.client.pdu_size or MIN_PDU)

    def read_batch(self, batch: list[Any], then: Callable[[Future], None]) -> None:
        addresses = [v.peer_address for v in batch]
        items = [Var(a.area, a.db, a.offset, a.size) for a in addresses]

        def job(link: Any) -> list[bytes | ItemError]:  # on the worker
            if len(items) == 1 and items[0].amount > link.protocol.pdu_size - 18:
                v = items[0]  # more than one answer holds (a long STRING, an array): in parts
                return [link.call(link.protocol.read_area(v.area, v.db_number, v.start, v.amount))]
            results = link.call(link.protocol.read_multi(items))
            return [
                ItemError(f"{client_error_text(r.error)} ({a}, item code 0x{r.return_code:02X})")
                if r.error
                else r.data
                for r, a in zip(results, addresses)
            ]

        self.client._call(job, then)

    def write_item(self, var: Any, raw: bytes, then: Callable[[Future], None]) -> None:
        a = var.peer_address
        if a.width == "Bit":  # one bit write per bit (the protocol splits them)
            start, ts, raw = a.offset * 8 + a.bit, TransportSize.BIT, raw[: a.count]
        else:
            start, ts = a.offset, TransportSize.BYTE
        area, db = a.area, a.db
        self.client._call(
            lambda link: link.call(link.protocol.write_area(area, db, start, raw, ts)), then
        )
