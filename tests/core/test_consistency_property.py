"""Consistent reads, at most one evaluation per write, and every change seen: a property test.

Random acyclic binding graphs (sums, comparisons and conditionals whose dependencies change)
over Objects with float, int and bool properties are driven by random writes and reads, from
plain Python and from inside handlers. A naive evaluator, which recomputes every binding in
topological order from the current sources after each write, says what each read must
return; the engine must agree with it wherever and whenever a value is read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from incore.core import Object, Property, Signal, engine

KINDS = ("f", "i", "b")
DEFAULTS = {"f": 0.0, "i": 0, "b": False}
VALUES = {
    "f": st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]),
    "i": st.integers(-3, 3),
    "b": st.booleans(),
}
PROPS_PER_KIND = 3


class Cell(Object, register=False):
    """Three properties of each kind, so that several slots share one object."""

    f0 = Property(float, 0.0)
    f1 = Property(float, 0.0)
    f2 = Property(float, 0.0)
    i0 = Property(int, 0)
    i1 = Property(int, 0)
    i2 = Property(int, 0)
    b0 = Property(bool, False)
    b1 = Property(bool, False)
    b2 = Property(bool, False)


class Trigger(Object, register=False):
    """Runs the sequence inside handlers: `go` changes, `cont` continues after a yield."""

    go = Property(int, 0)
    cont = Signal()


# -- the formulas, shared by the engine's bindings and the naive evaluator ----------------------
def num(v: Any) -> Any:
    return int(v) if isinstance(v, bool) else v


def cast(kind: str, v: Any) -> Any:
    v = num(v)
    if kind == "f":
        return float(v)
    if kind == "i":
        return math.floor(v)
    return v > 0


@dataclass(frozen=True)
class Formula:
    """`op` over input slots: lin (a weighted sum), cmp (a > b) or cond (q if sel else p)."""

    op: str
    inputs: tuple[int, ...]
    coefs: tuple[float, ...] = ()

    def compute(self, kind: str, get: Callable[[int], Any]) -> Any:
        if self.op == "cond":
            sel, p, q = self.inputs
            return cast(kind, get(q) if get(sel) else get(p))
        if self.op == "cmp":
            a, b = self.inputs
            return cast(kind, 1 if num(get(a)) > num(get(b)) else 0)
        return cast(kind, sum(c * num(get(i)) for c, i in zip(self.coefs, self.inputs)))


@dataclass
class Graph:
    kinds: list[str]
    initial: dict[int, Any]  # the source slots and their first values
    formulas: dict[int, Formula]  # the bound slots
    bind_order: list[int]
    peeks: list[int]  # the slot each change handler reads besides its own
    ops: list[tuple] = field(default_factory=list)


@st.composite
def graphs(draw: Any, shuffle_binds: bool = False) -> Graph:
    """A graph whose bindings are made in slot order (or shuffled: a binding may then read
    a property that is bound only later)."""
    n_sources = draw(st.integers(1, 4))
    n_bound = draw(st.integers(1, 9))
    n = n_sources + n_bound
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n))
    initial = {k: draw(VALUES[kinds[k]]) for k in range(n_sources)}
    formulas = {}
    for k in range(n_sources, n):
        earlier = st.integers(0, k - 1)
        op = draw(st.sampled_from(["lin", "lin", "cmp", "cond", "cond"]))
        if op == "cond":
            formulas[k] = Formula(op, (draw(earlier), draw(earlier), draw(earlier)))
        elif op == "cmp":
            formulas[k] = Formula(op, (draw(earlier), draw(earlier)))
        else:
            inputs = tuple(draw(st.lists(earlier, min_size=1, max_size=3)))
            coefs = tuple(draw(st.sampled_from([-1, 0.5, 1, 2])) for _ in inputs)
            formulas[k] = Formula(op, inputs, coefs)
    bind_order = draw(st.permutations(sorted(formulas))) if shuffle_binds else sorted(formulas)
    peeks = [draw(st.integers(0, n - 1)) for _ in range(n)]
    ops: list[tuple] = []
    for _ in range(draw(st.integers(1, 20))):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            ops.append(("yield",))
            continue
        # mostly sources; now and then a bound slot, which removes its binding
        slot = draw(st.integers(0, n_sources - 1) if choice < 9 else st.integers(0, n - 1))
        ops.append(("write", slot, draw(VALUES[kinds[slot]])))
        ops.append(("read", tuple(draw(st.lists(st.integers(0, n - 1), max_size=4)))))
    return Graph(kinds, initial, formulas, list(bind_order), peeks, ops)


class Complaints(logging.Handler):
    """Every warning or error the engine logs (a loop or an error in an acyclic graph of
    total formulas is a bug)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def no_complaints() -> Iterator[None]:
    handler = Complaints()
    logger = logging.getLogger("incore")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    assert handler.messages == []


class Naive:
    """The reference: every binding recomputed in slot order (topological) after a write."""

    def __init__(self, graph: Graph) -> None:
        self.kinds = graph.kinds
        self.sources = dict(graph.initial)
        self.formulas = dict(graph.formulas)
        self.values = self.evaluate()

    def evaluate(self) -> list:
        values: list = []
        for k, kind in enumerate(self.kinds):
            formula = self.formulas.get(k)
            values.append(
                self.sources[k] if formula is None else formula.compute(kind, values.__getitem__)
            )
        return values

    def write(self, slot: int, value: Any) -> None:
        self.formulas.pop(slot, None)  # an assignment replaces the binding
        self.sources[slot] = value
        self.values = self.evaluate()


class Harness:
    """The engine's side: one (Cell, property) per slot, counted bindings, recorded changes."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.model = Naive(graph)
        self.cells: list[Cell] = []
        self.slots: list[tuple[Cell, str]] = []
        used = {kind: PROPS_PER_KIND for kind in KINDS}
        for kind in graph.kinds:
            if used[kind] == PROPS_PER_KIND:
                self.cells.append(Cell())
                used = {k: 0 for k in KINDS}
            self.slots.append((self.cells[-1], f"{kind}{used[kind]}"))
            used[kind] += 1
        self.problems: list[tuple] = []
        self.write_no = -1  # -1: setting up, no checks
        self.calls: dict[int, list[int]] = {k: [] for k in graph.formulas}
        self.per_write: list[list] = []  # the naive values after each write
        # A write first settles what the write before it left dirty (so a property written
        # twice changes twice); until its own value is stored, bindings see the previous
        # write's values: (slot, value) of the write under way, and the values before it.
        self.pending: tuple[int, Any] | None = None
        self.before: list = []
        for slot, value in graph.initial.items():
            self.set(slot, value)
        for slot in graph.bind_order:
            cell, name = self.slots[slot]
            cell.bind(name, self.binding_fn(slot))
        self.start = list(self.model.values)
        self.check_all("after setup")
        self.seen: dict[int, list] = {k: [] for k in range(len(graph.kinds))}
        self.order: list[tuple[int, Any]] = []
        for slot, (cell, name) in enumerate(self.slots):
            getattr(cell, name + "Changed").connect(self.change_handler(slot))
        self.write_no = 0

    def set(self, slot: int, value: Any) -> None:
        cell, name = self.slots[slot]
        setattr(cell, name, value)

    def get(self, slot: int) -> Any:
        cell, name = self.slots[slot]
        return getattr(cell, name)

    def binding_fn(self, slot: int) -> Callable[[], Any]:
        formula, kind = self.graph.formulas[slot], self.graph.kinds[slot]

        def checked_get(j: int) -> Any:
            got = self.get(j)
            write_no, values = self.settling()
            if write_no >= 0 and got != values[j]:
                self.problems.append(
                    ("binding of", slot, "read", j, got, "expected", values[j], "write", write_no)
                )
            return got

        def fn() -> Any:
            self.calls[slot].append(self.settling()[0])
            return formula.compute(kind, checked_get)

        return fn

    def change_handler(self, slot: int) -> Callable[[Any], None]:
        peek = self.graph.peeks[slot]

        def handler(value: Any) -> None:
            self.seen[slot].append(value)
            self.order.append((slot, value))
            self.check_read(slot, f"in the change handler of {slot}")
            self.check_read(peek, f"in the change handler of {slot}")

        return handler

    def check_read(self, slot: int, where: str) -> None:
        got, expected = self.get(slot), self.model.values[slot]
        if got != expected or type(got) is not type(expected):
            self.problems.append(
                ("read", slot, got, "expected", expected, where, "write", self.write_no)
            )

    def check_all(self, where: str) -> None:
        for slot in range(len(self.slots)):
            self.check_read(slot, where)

    def settling(self) -> tuple[int, list]:
        """The write whose values bindings evaluated now must see, and those values."""
        if self.pending is not None:
            slot, value = self.pending
            cell, name = self.slots[slot]
            if type(cell)._props[name].peek(cell) != value:  # not stored yet
                return self.write_no - 1, self.before
        return self.write_no, self.model.values

    def write(self, slot: int, value: Any) -> None:
        self.before = list(self.model.values)
        self.write_no += 1
        self.model.write(slot, value)
        self.per_write.append(list(self.model.values))
        self.pending = (slot, value)
        self.set(slot, value)
        self.pending = None

    def run(self, ops: list[tuple], where: str) -> None:
        for op in ops:
            if op[0] == "write":
                self.write(op[1], op[2])
            elif op[0] == "read":
                for slot in op[1]:
                    self.check_read(slot, where)

    # -- what must hold at the end ----------------------------------------------------------
    def expected_changes(self, slot: int) -> list:
        changes, last = [], self.start[slot]
        for values in self.per_write:
            if values[slot] != last:
                changes.append(values[slot])
                last = values[slot]
        return changes

    def check_evaluations(self) -> None:
        for slot, calls in self.calls.items():
            calls = [w for w in calls if w >= 0]  # not while the bindings were being made
            assert len(calls) == len(set(calls)), (
                f"binding of slot {slot} evaluated more than once for one write: {calls}"
            )

    def check_finished(self) -> None:
        assert not engine.pending()
        self.check_all("at the end")
        assert self.problems == []
        self.check_evaluations()


SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None)


@SETTINGS
@given(graphs(shuffle_binds=True))
def test_writes_from_plain_python(graph: Graph) -> None:
    """Each write runs its wave before returning: every read is the naive value, each binding
    runs at most once per write, and every property's handler sees every change in order.
    The bindings are made in any order: one may read a property that is bound later."""
    with no_complaints():
        h = Harness(graph)
        h.run(graph.ops, "plain Python")
        h.check_finished()
    for slot in range(len(graph.kinds)):
        assert h.seen[slot] == h.expected_changes(slot), f"changes of slot {slot}"


def run_in_handlers(h: Harness, graph: Graph) -> Trigger:
    """Run graph.ops inside handlers: `go`'s change handler runs them up to a yield, which
    emits `cont`; the handler of `cont` runs the rest up to the next yield, and so on. The
    handlers queued before `cont` (FIFO) have run by then."""
    segments: list[list[tuple]] = [[]]
    for op in graph.ops:
        if op[0] == "yield":
            segments.append([])
        else:
            segments[-1].append(op)
    trigger = Trigger()
    done: list[int] = []

    def segment(*_: Any) -> None:
        index = len(done)
        done.append(index)
        try:
            run_segment(index)
        except Exception as exc:  # the wave would only log it
            h.problems.append(("segment", index, "raised", repr(exc)))

    def run_segment(index: int) -> None:
        handled = {slot: len(seen) for slot, seen in h.seen.items()}
        h.check_all(f"at the start of segment {index}")  # the queued handlers ran first
        h.run(segments[index], f"in handler segment {index}")
        # nothing ran inside the writes: the handlers are queued until this one returns
        now = {slot: len(seen) for slot, seen in h.seen.items()}
        if now != handled:
            h.problems.append(
                ("change handlers ran inside the handler that wrote", index, handled, now)
            )
        if index + 1 < len(segments):
            trigger.cont.emit()

    trigger.goChanged.connect(segment)
    trigger.cont.connect(segment)
    trigger.go = 1
    assert done == list(range(len(segments))), "every segment ran"
    return trigger


@SETTINGS
@given(graphs())
def test_writes_and_reads_inside_handlers(graph: Graph) -> None:
    """Written from handlers: reads are still the naive values, each binding runs at most
    once per write, and every source property's handler sees each change, FIFO."""
    with no_complaints():
        h = Harness(graph)
        run_in_handlers(h, graph)
        h.check_finished()
    sources = [slot for slot in range(len(graph.kinds)) if slot not in graph.formulas]
    for slot in sources:
        assert h.seen[slot] == h.expected_changes(slot), f"changes of slot {slot}"
    # FIFO: the source changes are handled in the order they were made
    expected_order = []
    last = list(h.start)
    for values in h.per_write:
        for slot in range(len(values)):
            if slot in sources and values[slot] != last[slot]:
                expected_order.append((slot, values[slot]))
        last = values
    assert [(s, v) for s, v in h.order if s in sources] == expected_order


@SETTINGS
@given(st.booleans().flatmap(lambda shuffle: graphs(shuffle_binds=shuffle)))
def test_bound_properties_changed_from_handlers_see_every_change(graph: Graph) -> None:
    """Written from handlers, a bound property changes exactly as under synchronous
    evaluation (a handler that writes an input twice makes what follows it change twice),
    and reads are fresh whatever the order the bindings were made in (a binding made
    before its input was bound still comes after it)."""
    with no_complaints():
        h = Harness(graph)
        run_in_handlers(h, graph)
        h.check_finished()
    for slot in range(len(graph.kinds)):
        assert h.seen[slot] == h.expected_changes(slot), f"changes of slot {slot}"
