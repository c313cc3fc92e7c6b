"""Planning a slave's polls: which read requests fetch the registers it needs, and where
each register's value sits in their answers.

A round trip costs far more than a few extra registers in an answer, so `PollRegisterBlocks`
(`ModbusSlave.pollMode`) reads neighbouring registers with one request: it reads through at
most `maximumBlockGap` unneeded addresses between two needed ones, and makes no request
longer than `maximumBlockLength` (never longer than Modbus allows: 125 registers or 2000
bits per read). `PollSingleRegisters` reads each register with a request of its own, for
devices that refuse reads touching addresses they do not have.

The plan is pure and deterministic: the same spans give the same requests, sorted by
address. Spans are (address, size) in the table's unit (registers for Input and Holding,
bits for Coil and DiscreteInput). A span is never split: one longer than
`maximumBlockLength` is read alone with a request of its own size (up to the protocol limit),
and spans inside one already read join that request. Spans that overlap join one request
when it stays within the length; otherwise requests may overlap, and each span still has
exactly one request it is read from. Identical spans share a request in both modes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .tables import _READ_FUNCTIONS, READ_LIMITS, Table

__all__ = [
    "PollMode",
    "Table",
    "READ_LIMITS",
    "DEFAULT_MAXIMUM_BLOCK_LENGTH",
    "ReadRequest",
    "Place",
    "PollPlan",
    "plan_reads",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.IntEnum)

#: `ModbusSlave.maximumBlockLength`'s default (InCore's); reads are capped at `READ_LIMITS`.
DEFAULT_MAXIMUM_BLOCK_LENGTH = 128


class PollMode(enum.IntEnum):
    """How a slave's registers are read (`ModbusSlave.pollMode`)."""

    PollSingleRegisters = 0
    PollRegisterBlocks = 1


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read: `count` units of `table` from `start`; `items` are the spans it serves.

    `items` are indices into the spans given to `plan_reads`, so a failed request (an
    exception answer, a timeout) names exactly the registers that go Bad.
    """

    table: Table
    start: int
    count: int
    items: tuple[int, ...]

    @property
    def function(self) -> int:
        """The read function code of this request (1, 2, 3 or 4)."""
        return _READ_FUNCTIONS[self.table]

    @property
    def end(self) -> int:
        """The first address after the request."""
        return self.start + self.count


@dataclass(frozen=True, slots=True)
class Place:
    """Where one span's units sit: `size` units from `offset` in answer `request`."""

    request: int
    offset: int
    size: int

    def take(self, answer: Sequence[T]) -> Sequence[T]:
        """The span's units out of its request's answer (a list of registers or of bits)."""
        return answer[self.offset : self.offset + self.size]

    @property
    def byte_offset(self) -> int:
        """Where this span starts in a register answer's data bytes (two per register)."""
        return 2 * self.offset


@dataclass(frozen=True, slots=True)
class PollPlan:
    """The requests of one table's poll, and each span's place in their answers.

    `places[i]` belongs to the i-th span given to `plan_reads`.
    """

    requests: tuple[ReadRequest, ...]
    places: tuple[Place, ...]

    def take(self, item: int, answers: Sequence[Sequence[T]]) -> Sequence[T]:
        """Span `item`'s units, given every request's answer in request order."""
        place = self.places[item]
        return place.take(answers[place.request])


def _member(enum_type: type[E], value: Any) -> E:
    """`value` (a member, its name or its number) as a member of `enum_type`."""
    try:
        return enum_type[value] if isinstance(value, str) else enum_type(value)
    except (KeyError, ValueError):
        names = ", ".join(enum_type.__members__)
        raise ValueError(f"{enum_type.__name__} is one of {names}, not {value!r}") from None


def _check(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def plan_reads(
    table: Table | int | str,
    spans: Iterable[tuple[int, int]],
    poll_mode: PollMode | int | str = PollMode.PollRegisterBlocks,
    maximum_gap: int = 0,
    maximum_length: int = DEFAULT_MAXIMUM_BLOCK_LENGTH,
) -> PollPlan:
    """The reads that fetch every (address, size) span of `table`, with each span's place.

    ValueError for a span outside the table's 65536 addresses or longer than one read may
    be, a negative `maximum_gap` or a `maximum_length` below 1.
    """
    table = _member(Table, table)
    mode = _member(PollMode, poll_mode)
    limit = READ_LIMITS[table.is_bits]
    gap = _check("maximumBlockGap", maximum_gap, 0)
    length = min(_check("maximumBlockLength", maximum_length, 1), limit)
    unit = "bits" if table.is_bits else "registers"
    items = [(address, size) for address, size in spans]
    for address, size in items:
        _check("address", address, 0)
        _check("size", size, 1)
        if address + size > 0x10000:
            raise ValueError(f"{size} {unit} from {address} leave the table (65536 {unit})")
        if size > limit:
            raise ValueError(f"{size} {unit} do not fit one read (at most {limit})")
    order = sorted(range(len(items)), key=lambda i: (items[i][0], items[i][1], i))

    blocks: list[tuple[int, int, list[int]]] = []  # (start, end, members)
    for i in order:
        address, size = items[i]
        end = address + size
        if blocks:
            start, last, members = blocks[-1]
            if mode is PollMode.PollSingleRegisters:
                joins = (address, size) == items[members[0]]
            else:
                joins = end <= last or (address - last <= gap and end - start <= length)
            if joins:
                blocks[-1] = (start, max(last, end), members)
                members.append(i)
                continue
        blocks.append((address, end, [i]))

    requests = []
    places: list[Place | None] = [None] * len(items)
    for n, (start, end, members) in enumerate(blocks):
        requests.append(ReadRequest(table, start, end - start, tuple(sorted(members))))
        for i in members:
            places[i] = Place(n, items[i][0] - start, items[i][1])
    return PollPlan(tuple(requests), tuple(places))  # type: ignore[arg-type]
