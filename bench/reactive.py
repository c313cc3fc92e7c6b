"""Reactive core benchmark: incore against atom/enaml, traitlets and plain Python callbacks.

Every library is measured in the same run (this machine is noisy), and the table gives each
result as a ratio to incore's. Run with `make bench` or `python -m bench.reactive`.

(a) property sets per second with one observer
(b) a 100-object binding chain: microseconds per hop (the last value is read after every
    change, because enaml computes `<<` lazily on read)
(c) a diamond (b and c follow a, d follows b + c): evaluations of d per change of a
(d) bytes per object with 5 properties (tracemalloc)
(e) load time of an app file with 10,000 objects and 10,000 bindings, and with 100,000
(f) a write of an input and the read of a property bound to it right after, in ns (what a
    handler pays for a consistent read)
(g) a 100-DataObject binding chain whose quality and timestamp flow with the data: us per
    hop, beside (b)'s chain of plain properties measured in the same run
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable

import atom.api as atom
import enaml
import traitlets

import incore
from bench.counters import evaluations
from incore.core import Object, Property
from incore.objects.foundation.data import DataObject

with enaml.imports():
    from bench.enaml_nodes import Diamond, Link, Scaled, Source

SETS = 200_000
CHAIN = 100
CHAIN_CHANGES = 2_000
OBJECTS = 10_000


def best_of(fn: Callable[[], float], repeat: int = 5) -> float:
    """The fastest of `repeat` runs: the least disturbed by the rest of the machine."""
    return min(fn() for _ in range(repeat))


# -- the contenders ----------------------------------------------------------------------------
class IncoreNode(Object):
    a = Property(float, 0.0)
    b = Property(float, 0.0)
    c = Property(float, 0.0)
    d = Property(float, 0.0)
    e = Property(float, 0.0)


class AtomNode(atom.Atom):
    a = atom.Float()
    b = atom.Float()
    c = atom.Float()
    d = atom.Float()
    e = atom.Float()


class TraitNode(traitlets.HasTraits):
    a = traitlets.Float(0.0)
    b = traitlets.Float(0.0)
    c = traitlets.Float(0.0)
    d = traitlets.Float(0.0)
    e = traitlets.Float(0.0)


class PlainNode:
    """Plain Python: a setter that calls its observers."""

    __slots__ = ("_a", "observers", "b", "c", "d", "e")

    def __init__(self) -> None:
        self._a = 0.0
        self.observers: list = []
        self.b = self.c = self.d = self.e = 0.0

    @property
    def a(self) -> float:
        return self._a

    @a.setter
    def a(self, value: float) -> None:
        if value != self._a:
            self._a = value
            for fn in self.observers:
                fn(value)


# -- (a) sets per second with one observer ------------------------------------------------------
def sets_per_second(
    make: Callable[[], object], observe: Callable[[object, Callable], None]
) -> float:
    obj = make()
    hits = [0]

    def observer(*_args: object) -> None:
        hits[0] += 1

    observe(obj, observer)

    def run() -> float:
        t0 = time.perf_counter()
        for i in range(SETS):
            obj.a = float(i + 1)  # type: ignore[attr-defined]
        return time.perf_counter() - t0

    elapsed = best_of(run)
    assert hits[0] >= SETS, "the observer must have seen every change"
    return SETS / elapsed


# -- (b) a binding chain --------------------------------------------------------------------------
def chain_us_per_hop(build: Callable[[], tuple[object, object]]) -> float:
    first, last = build()

    def run() -> float:
        t0 = time.perf_counter()
        for i in range(CHAIN_CHANGES):
            first.a = float(i + 1)  # type: ignore[attr-defined]
            last.a  # type: ignore[attr-defined]  # noqa: B018  (lazy peers compute on read)
        return time.perf_counter() - t0

    elapsed = best_of(run, 3)
    assert last.a == float(CHAIN_CHANGES), "the chain must deliver the last value"  # type: ignore
    return elapsed / CHAIN_CHANGES / (CHAIN - 1) * 1e6


def incore_chain() -> tuple[object, object]:
    nodes = [IncoreNode() for _ in range(CHAIN)]
    for prev, node in zip(nodes, nodes[1:]):
        node.bind("a", (lambda p: lambda: p.a)(prev))
    return nodes[0], nodes[-1]


def enaml_chain() -> tuple[object, object]:
    first = Source()
    nodes = [first]
    for _ in range(CHAIN - 1):
        nodes.append(Link(src=nodes[-1]))
    for n in nodes:
        n.initialize()
    return first, nodes[-1]


def traitlets_chain() -> tuple[object, object]:
    nodes = [TraitNode() for _ in range(CHAIN)]
    for prev, node in zip(nodes, nodes[1:]):
        traitlets.dlink((prev, "a"), (node, "a"))
    return nodes[0], nodes[-1]


def plain_chain() -> tuple[object, object]:
    nodes = [PlainNode() for _ in range(CHAIN)]
    for prev, node in zip(nodes, nodes[1:]):
        prev.observers.append((lambda n: lambda v: setattr(n, "a", v))(node))
    return nodes[0], nodes[-1]


# -- (c) diamond ---------------------------------------------------------------------------------
def diamond_evaluations(build: Callable[[], Callable[[float], None]]) -> float:
    change = build()
    evaluations[0] = 0
    for i in range(100):
        change(float(i + 1))
    return evaluations[0] / 100


def incore_diamond() -> Callable[[float], None]:
    from bench.counters import count

    n = IncoreNode()
    n.bind("b", lambda: n.a + 1.0)
    n.bind("c", lambda: n.a * 2.0)
    n.bind("d", lambda: count(n.b + n.c))
    return lambda v: setattr(n, "a", v)


def enaml_diamond() -> Callable[[float], None]:
    n = Diamond()
    n.initialize()
    n.d  # noqa: B018  (subscribe)
    return lambda v: setattr(n, "a", v)


def traitlets_diamond() -> Callable[[float], None]:
    from bench.counters import count

    n = TraitNode()
    traitlets.dlink((n, "a"), (n, "b"), lambda v: v + 1.0)
    traitlets.dlink((n, "a"), (n, "c"), lambda v: v * 2.0)
    n.observe(lambda _c: setattr(n, "d", count(n.b + n.c)), names=["b", "c"])
    return lambda v: setattr(n, "a", v)


def plain_diamond() -> Callable[[float], None]:
    from bench.counters import count

    state = {"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0}

    def set_d() -> None:
        state["d"] = count(state["b"] + state["c"])

    def set_a(v: float) -> None:
        state["a"] = v
        state["b"] = v + 1.0
        set_d()
        state["c"] = v * 2.0
        set_d()

    return set_a


# -- (f) write, then read what follows it ----------------------------------------------------------
READS = 200_000


def write_read_ns(
    build: Callable[[], tuple[Callable[[float], None], Callable[[], float]]],
) -> float:
    write, read = build()

    def run() -> float:
        t0 = time.perf_counter()
        for i in range(READS):
            write(float(i + 1))
            read()
        return time.perf_counter() - t0

    elapsed = best_of(run)
    assert read() == float(READS) * 10.0, "the read must see the last write"
    return elapsed / READS * 1e9


def incore_write_read() -> tuple[Callable[[float], None], Callable[[], float]]:
    n = IncoreNode()
    n.bind("b", lambda: n.a * 10.0)
    return (lambda v: setattr(n, "a", v)), (lambda: n.b)


def enaml_write_read() -> tuple[Callable[[float], None], Callable[[], float]]:
    n = Scaled()
    n.initialize()
    return (lambda v: setattr(n, "a", v)), (lambda: n.b)


def plain_write_read() -> tuple[Callable[[float], None], Callable[[], float]]:
    n = PlainNode()
    n.observers.append(lambda v: setattr(n, "b", v * 10.0))
    return (lambda v: setattr(n, "a", v)), (lambda: n.b)


# -- (g) a chain of DataObjects: quality and timestamp flow with data -----------------------------
class _DataChainEnd:
    """Gives chain_us_per_hop the `a` it drives and reads, on DataObject's `data`."""

    __slots__ = ("obj",)

    def __init__(self, obj: DataObject) -> None:
        self.obj = obj

    @property
    def a(self) -> float:
        return self.obj.data

    @a.setter
    def a(self, value: float) -> None:
        self.obj.data = value


def dataobject_chain() -> tuple[object, object]:
    nodes = [DataObject(data=0.0) for _ in range(CHAIN)]
    for prev, node in zip(nodes, nodes[1:]):
        node.bind("data", (lambda p: lambda: p.data)(prev))
    return _DataChainEnd(nodes[0]), _DataChainEnd(nodes[-1])


# -- (d) memory -----------------------------------------------------------------------------------
def bytes_per_object(make: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    objects = [make() for _ in range(OBJECTS)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(s.size_diff for s in after.compare_to(before, "filename"))
    del objects
    return size / OBJECTS


VALUES = tuple(float(i) + 0.5 for i in range(5))


def set_five(obj: object) -> object:
    """Five values shared by every object, so only each library's own storage is counted."""
    for name, value in zip("abcde", VALUES):
        setattr(obj, name, value)
    return obj


# -- (e) load time -------------------------------------------------------------------------------
def app_text(count: int) -> str:
    lines = ["Application:", "  objects:", "    - DataObject: {id: d0, data: 0}"]
    for i in range(1, count):
        lines.append(f"    - DataObject: {{id: d{i}, data: !bind d{i - 1}.data + 1}}")
    return "\n".join(lines) + "\n"


def load_seconds(count: int) -> float:
    text = app_text(count)

    def run() -> float:
        gc.collect()
        t0 = time.perf_counter()
        app = incore.load_string(text, "generated.yaml")
        elapsed = time.perf_counter() - t0
        assert app.ids[f"d{count - 1}"].data == count - 1
        return elapsed

    return best_of(run, 2 if count <= 10_000 else 1)


# -- report ---------------------------------------------------------------------------------------
def main() -> dict:
    rows: list[tuple[str, str, dict[str, float]]] = []
    rows.append(
        (
            "(a) sets/s with one observer (higher is better)",
            "{:,.0f}",
            {
                "incore": sets_per_second(IncoreNode, lambda o, f: o.aChanged.connect(f)),
                "atom": sets_per_second(AtomNode, lambda o, f: o.observe("a", f)),
                "traitlets": sets_per_second(TraitNode, lambda o, f: o.observe(f, names=["a"])),
                "plain": sets_per_second(PlainNode, lambda o, f: o.observers.append(f)),
            },
        )
    )
    rows.append(
        (
            "(b) us per bound hop, 100-chain (lower is better)",
            "{:.3f}",
            {
                "incore": chain_us_per_hop(incore_chain),
                "enaml <<": chain_us_per_hop(enaml_chain),
                "traitlets dlink": chain_us_per_hop(traitlets_chain),
                "plain": chain_us_per_hop(plain_chain),
            },
        )
    )
    rows.append(
        (
            "(c) diamond: evaluations of d per change (1 is glitch-free)",
            "{:.2f}",
            {
                "incore": diamond_evaluations(incore_diamond),
                "enaml <<": diamond_evaluations(enaml_diamond),
                "traitlets dlink": diamond_evaluations(traitlets_diamond),
                "plain": diamond_evaluations(plain_diamond),
            },
        )
    )
    rows.append(
        (
            "(d) bytes per object with 5 properties (lower is better)",
            "{:.0f}",
            {
                "incore": bytes_per_object(lambda: set_five(IncoreNode())),
                "atom": bytes_per_object(lambda: set_five(AtomNode())),
                "traitlets": bytes_per_object(lambda: set_five(TraitNode())),
                "plain": bytes_per_object(lambda: set_five(PlainNode())),
            },
        )
    )
    small, large = load_seconds(10_000), load_seconds(100_000)
    rows.append(
        (
            "(e) load seconds, N objects + N bindings",
            "{:.3f}",
            {
                "incore 10k": small,
                "incore 100k": large,
            },
        )
    )
    rows.append(
        (
            "(f) ns for a write and a read of what is bound to it (lower is better)",
            "{:.0f}",
            {
                "incore": write_read_ns(incore_write_read),
                "enaml <<": write_read_ns(enaml_write_read),
                "plain": write_read_ns(plain_write_read),
            },
        )
    )
    rows.append(
        (
            "(g) us per hop, 100-DataObject chain with quality (lower is better)",
            "{:.3f}",
            {
                "incore DataObject": chain_us_per_hop(dataobject_chain),
                "incore Property (b)": chain_us_per_hop(incore_chain),
            },
        )
    )
    print_table("reactive core", rows)
    print(f"(e) growth 100k/10k: {large / small:.1f}x (linear would be 10x)")
    return {"rows": rows, "growth": large / small}


def print_table(title: str, rows: list[tuple[str, str, dict[str, float]]]) -> None:
    print(f"\n## {title}\n")
    print("| measure | contender | value | ratio to incore |")
    print("|---|---|---:|---:|")
    for measure, fmt, values in rows:
        base = next(iter(values.values()))
        for name, value in values.items():
            ratio = value / base if base else float("nan")
            print(f"| {measure} | {name} | {fmt.format(value)} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
