"""PointInbox, the way received values take from the worker to the loop: in order, one
flush per turn, a measured value merged into the one of its point still waiting only past
the backlog or for a keepLatest point, status values never merged, and anything dropped
past the hard limit counted and logged once per run. Property-based: whatever arrives,
what a point gets is the order it was sent in, with only older measurands left out."""

from __future__ import annotations

import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from incore.objects.iec104.client_inbox import PointInbox
from incore.protocols.iec104 import FloatValue, SinglePoint

FLOAT, SINGLE = 13, 1


class Loop:
    """Collects what the inbox posts; `turn()` runs it like one loop turn."""

    def __init__(self) -> None:
        self.posted: list = []
        self.delivered: list = []

    def post(self, fn, *args) -> None:
        self.posted.append((fn, args))

    def turn(self) -> None:
        posted, self.posted = self.posted, []
        for fn, args in posted:
            fn(*args)


def _inbox(loop: Loop, **kw) -> PointInbox:
    return PointInbox(loop.post, loop.delivered.extend, "test", **kw)


def _values(delivered, ioa):
    return [item[4].value for item in delivered if item[0] == "value" and item[1][1] == ioa]


def test_one_flush_per_turn_in_order():
    loop = Loop()
    inbox = _inbox(loop)
    for n in range(5):
        inbox.values(1, FLOAT, 3, [FloatValue(10, float(n))], 0)
    inbox.event("initialized", None)
    assert len(loop.posted) == 1 and inbox.pending == 6
    loop.turn()
    assert _values(loop.delivered, 10) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert loop.delivered[-1][:2] == ("event", "initialized") and inbox.merged == 0


def test_past_the_backlog_measurands_merge_and_status_values_do_not():
    loop = Loop()
    inbox = _inbox(loop, backlog=4)
    for n in range(10):
        inbox.values(1, FLOAT, 3, [FloatValue(10, float(n))], 0)
        inbox.values(1, SINGLE, 3, [SinglePoint(20, n % 2 == 0)], 0)
    loop.turn()
    assert _values(loop.delivered, 20) == [n % 2 == 0 for n in range(10)]
    floats = _values(loop.delivered, 10)
    assert floats[-1] == 9.0 and floats == sorted(floats) and len(floats) < 10
    assert inbox.merged == 10 - len(floats)


def test_keep_latest_points_merge_below_the_backlog():
    loop = Loop()
    inbox = _inbox(loop)
    inbox.latest_only = frozenset({(1, 10)})
    for n in range(5):
        inbox.values(1, FLOAT, 3, [FloatValue(10, float(n)), FloatValue(11, float(n))], 0)
    loop.turn()
    assert _values(loop.delivered, 10) == [4.0]
    assert _values(loop.delivered, 11) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert inbox.merged == 4


def test_past_the_hard_limit_drops_are_counted_and_logged_once(caplog):
    loop = Loop()
    inbox = _inbox(loop, limit=3)
    with caplog.at_level(logging.WARNING, "incore.iec104client"):
        for n in range(6):
            inbox.values(1, SINGLE, 3, [SinglePoint(20 + n, True)], 0)
        assert inbox.dropped == 3 and inbox.pending == 3
        loop.turn()
        inbox.values(1, SINGLE, 3, [SinglePoint(30, True)], 0)
        loop.turn()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and "dropped" in warnings[0] and "3 received" in warnings[1]
    assert [item[1][1] for item in loop.delivered] == [20, 21, 22, 30]


def test_a_big_backlog_comes_in_batches():
    loop = Loop()
    inbox = _inbox(loop)
    for n in range(5000):
        inbox.values(1, SINGLE, 3, [SinglePoint(n, True)], 0)
    turns = 0
    while loop.posted:
        loop.turn()
        turns += 1
    assert turns == 3 and [item[1][1] for item in loop.delivered] == list(range(5000))


arrivals = st.lists(
    st.tuples(st.sampled_from([FLOAT, SINGLE]), st.integers(1, 4), st.booleans()),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(arrivals, st.integers(1, 10))
def test_whatever_arrives_each_point_keeps_its_order(seq, backlog):
    loop = Loop()
    inbox = _inbox(loop, backlog=backlog)
    sent: dict[int, list] = {}
    for n, (type_id, ioa, turn) in enumerate(seq):
        ioa += 100 if type_id == SINGLE else 0
        obj = FloatValue(ioa, float(n)) if type_id == FLOAT else SinglePoint(ioa, n % 2 == 0)
        sent.setdefault(ioa, []).append(obj.value)
        inbox.values(1, type_id, 3, [obj], 0)
        if turn:
            loop.turn()
    while loop.posted:
        loop.turn()
    got = 0
    for ioa, values in sent.items():
        delivered = _values(loop.delivered, ioa)
        got += len(delivered)
        if ioa > 100:
            assert delivered == values  # status: every one
        else:
            assert delivered[-1] == values[-1]  # the newest always arrives
            assert all(v in values for v in delivered) and delivered == sorted(delivered)
    assert got + inbox.merged == len(seq) and inbox.dropped == 0
