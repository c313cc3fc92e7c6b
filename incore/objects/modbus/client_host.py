"""ModbusTcpClient as the host of ModbusRegisters: the Modbus side of link.polled.PolledVariables.

What is Modbus here: registers polled in the same turn of the loop are grouped by unit and
table, and each group is read in blocks planned by `blocks.plan_reads` with its slave's
`pollMode`, `maximumBlockGap` and `maximumBlockLength` (one request per block; a block is
one batch of PolledVariables). An exception answer makes the registers of that block Bad
with the exception named (the connection is fine); a lost link makes every register read
through it Bad (PolledVariables). Writes use FC 5 / FC 15 for coils and FC 6 / FC 16 for
holding registers; a discrete input or an input register is refused without a request.

Bytes between host and register (docs/dev/objects-link.md's `raw`): a register span is its
`2 * count` bytes as on the wire (each register high byte first); a coil or discrete input
span is its `count` bits packed as Modbus sends them (first bit in bit 0 of byte 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from ...protocols.modbus import pdu as P
from ...protocols.modbus.blocks import (
    DEFAULT_MAXIMUM_BLOCK_LENGTH,
    PollMode,
    Table,
    plan_reads,
)
from ...protocols.modbus.errors import ModbusException
from ...protocols.modbus.pdu import ExceptionCode, Request
from ...protocols.modbus.registers import pack_bits, unpack_bits
from ...transport.futures import CompletedFuture
from ..link.host import PollingClient
from ..link.polled import ItemError, PolledVariables
from .client_link import DEFAULT_UNIT

__all__ = ["ModbusRegisters", "Block", "exception_text", "table_name", "unit_of"]

_TABLE_NAMES = {
    Table.DiscreteInput: "discrete inputs",
    Table.Coil: "coils",
    Table.Input: "input registers",
    Table.Holding: "holding registers",
}


def table_name(table: int) -> str:
    return _TABLE_NAMES[Table(int(table))]


def exception_text(exc: ModbusException) -> str:
    """'exception 02 (ILLEGAL_DATA_ADDRESS)': the code and its name."""
    try:
        name = f" ({ExceptionCode(exc.code).name})"
    except ValueError:
        name = ""
    return f"exception {exc.code:02X}{name}"


def unit_of(var: Any) -> int:
    """The unit id a register is read with: its slave's address, else 255 ("this device")."""
    host = getattr(var, "host", None)
    unit = getattr(host, "unit_id", None)
    return DEFAULT_UNIT if unit is None else unit


def _plan_settings(var: Any) -> tuple[Any, int, int]:
    host = getattr(var, "host", None)
    if getattr(host, "unit_id", None) is None:
        return PollMode.PollRegisterBlocks, 0, DEFAULT_MAXIMUM_BLOCK_LENGTH
    return host.pollMode, host.maximumBlockGap, host.maximumBlockLength


class Block(list):
    """One read request's registers (a batch), with what the request is."""

    __slots__ = ("unit", "table", "start", "count", "offsets")

    def __init__(self, unit: int, table: Table, start: int, count: int) -> None:
        super().__init__()
        self.unit, self.table, self.start, self.count = unit, table, start, count
        self.offsets: list[int] = []

    def request(self) -> Request:
        start, count = self.start, self.count
        table = self.table
        if table is Table.Holding:
            return P.read_holding_registers(start, count)
        if table is Table.Input:
            return P.read_input_registers(start, count)
        if table is Table.Coil:
            return P.read_coils(start, count)
        return P.read_discrete_inputs(start, count)

    def describe(self) -> str:
        return (
            f"unit {self.unit} {table_name(self.table)} {self.start}..{self.start + self.count - 1}"
        )


class ModbusRegisters(PolledVariables):
    """The variable host of a ModbusTcpClient (loop thread only)."""

    __slots__ = ()

    client: PollingClient

    # -- reads -------------------------------------------------------------------------------
    def batches(self, variables: list[Any]) -> Iterator[list[Any]]:
        groups: dict[tuple[int, int], list[Any]] = {}
        for var in variables:
            groups.setdefault((unit_of(var), int(var.peer_address.table)), []).append(var)
        for (unit, table), group in groups.items():
            yield from self._blocks(unit, Table(table), group)

    def _blocks(self, unit: int, table: Table, group: list[Any]) -> Iterator[Block]:
        spans = [(v.peer_address.address, v.peer_address.count) for v in group]
        mode, gap, length = _plan_settings(group[0])
        try:
            plan = plan_reads(table, spans, mode, gap, length)
        except ValueError as exc:  # an address that can not be read: each alone says why
            if len(group) > 1:
                for var in group:
                    yield from self._blocks(unit, table, [var])
                return
            group[0]._fail("ReadError", f"{group[0].peer_address}: {exc}")
            self.busy.discard(group[0])
            return
        for request in plan.requests:
            block = Block(unit, table, request.start, request.count)
            for item in request.items:
                block.append(group[item])
                block.offsets.append(plan.places[item].offset)
            yield block

    def read_batch(self, batch: list[Any], then: Callable[[Future], None]) -> None:
        block: Block = batch  # type: ignore[assignment]
        request = block.request()

        def job(link: Any) -> list[bytes | ItemError]:  # on the worker
            try:
                outcome: Any = link.exchange(block.unit, request)
            except ModbusException as exc:
                outcome = exc
            return _items(block, outcome)

        self.client._call(job, then)

    def flush(self) -> None:
        """Send this turn's polls; with `maxPendingRequests` above 1, every block of the
        turn goes to the link at once, so it can keep that many requests in flight."""
        if getattr(self.client, "maxPendingRequests", 1) <= 1:
            super().flush()
            return
        self.flush_posted = False
        queue, self.queue = self.queue, []
        blocks: list[Block] = list(self.batches(queue))  # type: ignore[arg-type]
        if not blocks:
            return
        writes = [[self.variables.get(v, 0) for v in b] for b in blocks]
        requests = [(b.unit, b.request()) for b in blocks]

        def job(link: Any) -> list[list[bytes | ItemError]]:  # on the worker
            outcomes = link.exchange_many(requests)
            return [_items(b, o) for b, o in zip(blocks, outcomes)]

        def done(future: Future) -> None:
            failed = future.cancelled() or future.exception() is not None
            for n, block in enumerate(blocks):
                each = future if failed else CompletedFuture(future.result()[n])
                self._read_done(block, writes[n], each)

        self.client._call(job, done)

    # -- writes ------------------------------------------------------------------------------
    def write_item(self, var: Any, raw: bytes, then: Callable[[Future], None]) -> None:
        a = var.peer_address
        table = Table(int(a.table))
        if table in (Table.Input, Table.DiscreteInput):
            then(CompletedFuture(exception=ValueError(f"{a}: {table_name(table)} are read-only")))
            return
        unit = unit_of(var)
        try:
            requests = _write_requests(table, a.address, a.count, raw)
        except ValueError as exc:
            then(CompletedFuture(exception=ValueError(f"{a}: {exc}")))
            return
        where = f"unit {unit} {table_name(table)} {a.address}"

        def job(link: Any) -> BaseException | None:  # on the worker
            for request in requests:
                try:
                    link.exchange(unit, request)
                except ModbusException as exc:  # the register's failure, not the client's
                    return ValueError(f"{where}: write refused, {exception_text(exc)}")
            return None

        def done(future: Future) -> None:
            if not future.cancelled() and future.exception() is None and future.result():
                future = CompletedFuture(exception=future.result())
            then(future)

        self.client._call(job, done)


def _items(block: Block, outcome: Any) -> list[bytes | ItemError]:
    """Each register's `raw` out of its block's (result, answer PDU), or the exception
    answer as every register's ItemError."""
    if isinstance(outcome, ModbusException):
        return [ItemError(f"{block.describe()}: {exception_text(outcome)}")] * len(block)
    result, answer = outcome
    sizes = [v.peer_address.count for v in block]
    if block.table.is_bits:
        return [pack_bits(result[o : o + n]) for o, n in zip(block.offsets, sizes)]
    data = answer[2:]
    return [data[2 * o : 2 * (o + n)] for o, n in zip(block.offsets, sizes)]


def _write_requests(table: Table, address: int, count: int, raw: bytes) -> list[Request]:
    """The write requests that store `raw` at `address`: one, unless the value is longer
    than one request may carry (a long string: then in parts, in address order)."""
    if table is Table.Coil:
        bits = unpack_bits(raw, count)
        if count == 1:
            return [P.write_single_coil(address, bits[0])]
        step = P.MAX_WRITE_COILS
        return [
            P.write_multiple_coils(address + i, bits[i : i + step]) for i in range(0, count, step)
        ]
    if len(raw) != 2 * count:
        raise ValueError(f"{len(raw)} bytes for {count} registers")
    values = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    if count == 1:
        return [P.write_single_register(address, values[0])]
    step = P.MAX_WRITE_REGISTERS
    return [
        P.write_multiple_registers(address + i, values[i : i + step]) for i in range(0, count, step)
    ]
