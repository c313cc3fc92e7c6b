"""Poll planning: the requests cover every needed register exactly, within the limits."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incore.protocols.modbus.blocks import (
    DEFAULT_MAXIMUM_BLOCK_LENGTH,
    READ_LIMITS,
    Place,
    PollMode,
    PollPlan,
    ReadRequest,
    Table,
    plan_reads,
)
from incore.protocols.modbus.registers import codec

BLOCKS = PollMode.PollRegisterBlocks
SINGLE = PollMode.PollSingleRegisters


def starts(plan: PollPlan) -> list[tuple[int, int]]:
    return [(r.start, r.count) for r in plan.requests]


def test_tables_know_their_function_unit_and_limit():
    assert [t.read_function for t in Table] == [2, 1, 4, 3]
    assert [t.is_bits for t in Table] == [True, True, False, False]
    assert [t.read_limit for t in Table] == [2000, 2000, 125, 125]
    assert READ_LIMITS == {True: 2000, False: 125}
    assert DEFAULT_MAXIMUM_BLOCK_LENGTH == 128


def test_blocks_read_through_small_gaps_only():
    spans = [(10, 2), (0, 1), (13, 1), (100, 4), (12, 1), (16, 2)]
    plan = plan_reads(Table.Holding, spans, BLOCKS, maximum_gap=2)
    assert starts(plan) == [(0, 1), (10, 8), (100, 4)]
    assert [r.items for r in plan.requests] == [(1,), (0, 2, 4, 5), (3,)]
    assert plan.places == (
        Place(1, 0, 2),
        Place(0, 0, 1),
        Place(1, 3, 1),
        Place(2, 0, 4),
        Place(1, 2, 1),
        Place(1, 6, 2),
    )
    assert [r.function for r in plan.requests] == [3, 3, 3]
    assert starts(plan_reads(Table.Holding, spans, BLOCKS, maximum_gap=1)) == [
        (0, 1),
        (10, 4),
        (16, 2),
        (100, 4),
    ]
    assert starts(plan_reads(Table.Holding, spans, BLOCKS, maximum_gap=8))[0] == (0, 1)
    assert starts(plan_reads(Table.Holding, spans, BLOCKS, maximum_gap=9)) == [
        (0, 18),
        (100, 4),
    ], "1..9 are nine unneeded registers"


def test_gap_zero_still_joins_adjacent_and_overlapping_spans():
    plan = plan_reads("Input", [(0, 2), (2, 2), (3, 4), (8, 1)], "PollRegisterBlocks")
    assert starts(plan) == [(0, 7), (8, 1)]
    assert plan.places[2] == Place(0, 3, 4)
    assert plan.requests[0].function == 4


def test_length_caps_a_block_and_the_protocol_caps_the_length():
    spans = [(a, 1) for a in range(300)]
    assert starts(plan_reads(Table.Holding, spans, BLOCKS, 0, 100)) == [(0, 100), (100, 100)] + [
        (200, 100)
    ]
    assert starts(plan_reads(Table.Holding, spans, BLOCKS, 0, 1000)) == [
        (0, 125),
        (125, 125),
        (250, 50),
    ]
    assert starts(plan_reads(Table.Holding, spans, BLOCKS)) == [(0, 125), (125, 125), (250, 50)]
    coils = [(a, 1) for a in range(0, 5000, 2)]
    assert starts(plan_reads(Table.Coil, coils, BLOCKS, 1, 10**6)) == [
        (0, 1999),
        (2000, 1999),
        (4000, 999),
    ]
    assert starts(plan_reads(Table.Coil, coils, BLOCKS, 1)) == [
        (a, 127) for a in range(0, 5000, 128)
    ][:-1] + [(4992, 7)]


def test_a_span_longer_than_the_block_length_is_read_whole():
    plan = plan_reads(Table.Holding, [(0, 4), (1, 1), (4, 1), (3, 1), (10, 1)], BLOCKS, 10, 2)
    assert starts(plan) == [(0, 4), (4, 1), (10, 1)], "what lies inside a read joins it"
    assert plan.places[1] == Place(0, 1, 1)
    assert plan.places[3] == Place(0, 3, 1)


def test_overlapping_spans_too_long_together_get_overlapping_requests():
    plan = plan_reads(Table.Holding, [(0, 100), (50, 100)], BLOCKS, 0, 125)
    assert starts(plan) == [(0, 100), (50, 100)]
    assert plan.places == (Place(0, 0, 100), Place(1, 0, 100))


def test_single_mode_reads_each_span_alone_sharing_identical_ones():
    spans = [(5, 2), (0, 1), (5, 2), (1, 1), (5, 1)]
    plan = plan_reads(Table.Holding, spans, SINGLE, maximum_gap=100)
    assert starts(plan) == [(0, 1), (1, 1), (5, 1), (5, 2)]
    assert [r.items for r in plan.requests] == [(1,), (3,), (4,), (0, 2)]
    assert plan.places[0] == plan.places[2] == Place(3, 0, 2)
    bits = plan_reads(Table.DiscreteInput, [(7, 1), (8, 1)], 0)
    assert starts(bits) == [(7, 1), (8, 1)]
    assert bits.requests[0] == ReadRequest(Table.DiscreteInput, 7, 1, (0,))
    assert bits.requests[0].function == 2


def test_no_spans_no_requests():
    assert plan_reads(Table.Coil, []) == PollPlan((), ())


@pytest.mark.parametrize(
    ("table", "spans", "kwargs", "message"),
    [
        (Table.Holding, [(65535, 2)], {}, r"2 registers from 65535 leave the table"),
        (Table.Coil, [(65000, 600)], {}, r"600 bits from 65000 leave the table"),
        (Table.Holding, [(0, 126)], {}, r"126 registers do not fit one read \(at most 125\)"),
        (Table.Coil, [(0, 2001)], {}, r"2001 bits do not fit one read \(at most 2000\)"),
        (Table.Holding, [(-1, 1)], {}, r"address must be an integer >= 0, got -1"),
        (Table.Holding, [(0, 0)], {}, r"size must be an integer >= 1, got 0"),
        (Table.Holding, [(0, 1)], {"maximum_gap": -1}, r"maximumBlockGap must be an integer >= 0"),
        (Table.Holding, [], {"maximum_length": 0}, r"maximumBlockLength must be an integer >= 1"),
        (Table.Holding, [], {"poll_mode": "Blocks"}, r"PollMode is one of PollSingleRegisters"),
        ("Holdings", [], {}, r"Table is one of DiscreteInput, Coil, Input, Holding, not"),
        (5, [], {}, r"Table is one of"),
    ],
)
def test_bad_plans_are_refused(table, spans, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plan_reads(table, spans, **kwargs)


def test_values_come_out_of_the_answers():
    """Registers of several types laid in a holding table, polled in blocks and decoded."""
    layout = [
        (0, codec("SignedInteger", 2), -123456),
        (3, codec("Float", 2, "LittleEndian", "LeastSignificantRegisterFirst"), 1.5),
        (5, codec("String", 3), "abc"),
        (20, codec("UnsignedSmallInteger"), 7),
        (21, codec("Double", 4, "BigEndian", "LeastSignificantRegisterFirst"), -2.25),
    ]
    table = [0xDEAD] * 64
    for address, c, value in layout:
        table[address : address + c.count] = c.encode(value)
    spans = [(address, c.count) for address, c, _ in layout]
    plan = plan_reads(Table.Holding, spans, BLOCKS, maximum_gap=1)
    assert starts(plan) == [(0, 8), (20, 5)]
    registers = [table[r.start : r.end] for r in plan.requests]
    data = [struct.pack(f">{r.count}H", *regs) for r, regs in zip(plan.requests, registers)]
    for i, (_, c, value) in enumerate(layout):
        place = plan.places[i]
        assert c.decode(plan.take(i, registers)) == value
        assert c.decode_bytes(data[place.request], place.byte_offset) == value


@st.composite
def poll(draw):
    table = draw(st.sampled_from(list(Table)))
    limit = table.read_limit
    top = draw(st.sampled_from([40, 400, 65536]))
    big = draw(st.sampled_from([4, 30, limit]))
    spans = draw(
        st.lists(
            st.integers(1, min(big, limit)).flatmap(
                lambda size: st.tuples(
                    st.integers(0, max(0, min(top, 65536) - size)), st.just(size)
                )
            ),
            max_size=60,
        )
    )
    mode = draw(st.sampled_from(list(PollMode)))
    gap = draw(st.integers(0, 20))
    length = draw(st.integers(1, 3000))
    return table, spans, mode, gap, length


@settings(max_examples=400, deadline=None)
@given(poll(), st.randoms(use_true_random=False))
def test_every_span_is_read_exactly_once_within_the_limits(case, rnd: random.Random):
    table, spans, mode, gap, length = case
    plan = plan_reads(table, spans, mode, gap, length)
    limit = READ_LIMITS[table.is_bits]
    assert len(plan.places) == len(spans)
    served = sorted(i for r in plan.requests for i in r.items)
    assert served == list(range(len(spans))), "each span is served by exactly one request"
    assert starts(plan) == sorted(starts(plan)), "requests in address order"
    for n, request in enumerate(plan.requests):
        assert request.table is table
        members = [spans[i] for i in request.items]
        for i in request.items:
            assert plan.places[i] == Place(n, spans[i][0] - request.start, spans[i][1])
        assert 1 <= request.count <= limit
        assert request.count <= max(min(length, limit), *(size for _, size in members))
        if mode is SINGLE:
            assert {tuple(s) for s in members} == {(request.start, request.count)}
        # every unneeded run inside the request is at most `gap` long, and it starts and
        # ends on needed units
        needed = sorted({a for address, size in members for a in range(address, address + size)})
        assert needed[0] == request.start and needed[-1] == request.end - 1
        assert all(b - a - 1 <= gap for a, b in zip(needed, needed[1:]))
    if mode is BLOCKS:
        for before, after in zip(plan.requests, plan.requests[1:]):
            first = min(spans[i] for i in after.items)
            could_join = first[0] - before.end <= gap and sum(first) - before.start <= min(
                length, limit
            )
            assert not could_join, "no split the limits did not call for"
    # the same spans in another order make the same requests
    shuffled = list(spans)
    rnd.shuffle(shuffled)
    assert starts(plan_reads(table, shuffled, mode, gap, length)) == starts(plan)
