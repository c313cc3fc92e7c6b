"""What `incore run --metrics` serves: an app's connections, requests, counters, the event
loop's lag and the process, in Prometheus' text exposition format (version 0.0.4).

No sockets here (the HTTP side is incore/cli_metrics.py). A scrape has two halves:
`collect_objects()` runs on the loop's thread, the only one that may read an object, and
reads property values straight from the value list (no subscriber, nothing per change);
`process_samples()`, `LagProbe.samples()` and `exposition()` run on the scraping thread.

Objects are found by what they have, not by their type, so a type added later is picked
up without an import here: connection-like objects as `incore run --watch` finds them
(`is_link`, incore/app/watch.py), request statistics from any object with a
`request_stats()` method (`LinkClient`, incore/objects/link/operations.py), and counters from
any read-only int property whose name ends in one of `COUNT_SUFFIXES` (see `_plan`).
"""

from __future__ import annotations

import enum
import math
import os
import resource
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ..core import EventLoop, Object, registry
from .declarations import registered_type
from .watch import LINK_PROPS, is_link

__all__ = [
    "COUNT_SUFFIXES",
    "FAMILIES",
    "LagProbe",
    "Sample",
    "collect_objects",
    "escape_label",
    "exposition",
    "process_samples",
]

#: A read-only int property whose name ends so is a count the metrics show.
COUNT_SUFFIXES = ("Count", "Values", "Events", "Replies", "Messages")
#: Count properties that say how many clients a server has now.
CONNECTION_COUNTS = frozenset({"clientsCount", "connectionCount", "openConnectionCount"})
#: Prefixes of counts of things lost: shown as `incore_dropped_total`.
DROPPED_PREFIXES = ("dropped", "lost")
#: How often (seconds) the lag probe's timer fires.
LAG_INTERVAL = 0.1

#: name -> (type, help), in the order the exposition lists them.
FAMILIES: dict[str, tuple[str, str]] = {
    "incore_info": ("gauge", "The incore version running (always 1)."),
    "incore_loop_responsive": (
        "gauge",
        "1 if the event loop answered this scrape in time, 0 if it did not (then no object "
        "metrics follow).",
    ),
    "incore_loop_lag_seconds": (
        "gauge",
        "How late the loop's 100 ms probe timer fired last (or is overdue now).",
    ),
    "incore_loop_lag_max_seconds": (
        "gauge",
        "The largest lag of the probe timer since the previous scrape.",
    ),
    "incore_loop_backlog": ("gauge", "Callables posted to the loop and not run yet."),
    "incore_collect_seconds": ("gauge", "Time the loop spent reading the objects for a scrape."),
    "incore_connection_up": ("gauge", "1 if the connection is up (its connected property)."),
    "incore_running": ("gauge", "1 if the object is running (its isRunning property)."),
    "incore_state": ("gauge", "1 for the state an object is in, 0 for the others (stateset)."),
    "incore_error_code": ("gauge", "The number of the object's error (0: no error)."),
    "incore_server_connections": (
        "gauge",
        "Connections open now: a server's clients, or an IEC104Client's open connections.",
    ),
    "incore_requests_total": ("counter", "Requests a client ran (or could not send)."),
    "incore_request_errors_total": (
        "counter",
        "Requests that failed: raised, timed out, or could not be sent.",
    ),
    "incore_request_seconds": ("histogram", "Time of a client's requests, round trips included."),
    "incore_dropped_total": ("counter", "Things an object dropped or lost, by kind."),
    "incore_object_count": ("gauge", "A read-only count an object keeps (its property)."),
    "process_resident_memory_bytes": ("gauge", "Resident memory size in bytes."),
    "process_virtual_memory_bytes": ("gauge", "Virtual memory size in bytes."),
    "process_open_fds": ("gauge", "Open file descriptors."),
    "process_max_fds": ("gauge", "The limit of open file descriptors."),
    "process_threads": ("gauge", "Threads of the process (operating-system threads)."),
    "process_cpu_seconds_total": ("counter", "User and system CPU time in seconds."),
    "process_start_time_seconds": ("gauge", "When the process started, in Unix seconds."),
}


class Sample(NamedTuple):
    """One line of the exposition: `name` is the family's, or it plus _bucket/_sum/_count."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


# -- the loop's side -----------------------------------------------------------------------
class _Plan(NamedTuple):
    """What to read from objects of one class (value-list indexes), worked out once."""

    link: bool
    connected: int | None
    running: int | None
    states: tuple[tuple[str, int, type[enum.Enum]], ...]
    error: int | None
    counts: tuple[tuple[str, int], ...]
    requests: bool


_plans: dict[type, _Plan | None] = {}


def _plan(obj: Object) -> _Plan | None:
    """The plan of an object's class, None if nothing of it is shown. A count is a
    read-only `int` property (not bool, not an enum) named with one of COUNT_SUFFIXES."""
    cls = type(obj)
    if cls in _plans:
        return _plans[cls]
    props = cls._props
    link = is_link(obj)

    def index(name: str, kind: type) -> int | None:
        prop = props.get(name)
        return prop.index if link and prop is not None and prop.type is kind else None

    states = tuple(
        (name, props[name].index, props[name].type)
        for name in LINK_PROPS
        if link and name in props and _is_enum(props[name].type)
    )
    error = props.get("error")
    counts = tuple(
        (name, prop.index)
        for name, prop in props.items()
        if prop.type is int and prop.readonly and name.endswith(COUNT_SUFFIXES)
    )
    plan = _Plan(
        link,
        index("connected", bool),
        index("isRunning", bool),
        states,
        error.index if link and error is not None and _is_enum(error.type) else None,
        counts,
        callable(getattr(cls, "request_stats", None)),
    )
    _plans[cls] = plan if (link or counts or plan.requests) else None
    return _plans[cls]


def _is_enum(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, enum.Enum)


def collect_objects(root: Object, ids: Mapping[str, Object]) -> list[Sample]:
    """Loop thread: the samples of every object of the tree under `root` that has any.

    Objects are labelled `object` (their id, else TYPE@FILE:LINE as `--watch` names them,
    made unique with #2, #3...) and `type` (the registered type, or the Python class).
    """
    started = time.perf_counter()
    names = {id(obj): oid for oid, obj in ids.items()}
    out: list[Sample] = []
    used: dict[str, int] = {}
    for obj in root.walk():
        plan = _plan(obj)
        if plan is None:
            continue
        kind = _type_name(obj)
        label = names.get(id(obj)) or _where(obj, kind)
        seen = used.get(label, 0) + 1
        used[label] = seen
        if seen > 1:
            label = f"{label}#{seen}"
        _object_samples(obj, plan, (("object", label), ("type", kind)), out)
    out.append(Sample("incore_collect_seconds", (), time.perf_counter() - started))
    return out


def _where(obj: Object, kind: str) -> str:
    """An object without an id as `--watch` names it: TYPE@FILE:LINE, or TYPE alone."""
    where = registry.location(obj)
    return f"{kind}@{where}" if where else kind


def _type_name(obj: Object) -> str:
    """The registered type (not a per-object class); a Python subclass nobody registered
    is named itself rather than `Object`."""
    known = registered_type(type(obj))
    return type(obj).__name__ if known is Object else known.__name__


def _object_samples(
    obj: Object, plan: _Plan, who: tuple[tuple[str, str], ...], out: list[Sample]
) -> None:
    values = obj._v
    if plan.connected is not None:
        out.append(Sample("incore_connection_up", who, float(bool(values[plan.connected]))))
    if plan.running is not None:
        out.append(Sample("incore_running", who, float(bool(values[plan.running]))))
    for name, i, kind in plan.states:
        now = values[i]
        for member in kind:
            labels = (*who, ("property", name), ("state", member.name))
            out.append(Sample("incore_state", labels, float(member is now)))
    if plan.error is not None:
        out.append(Sample("incore_error_code", who, float(int(values[plan.error]))))
    for name, i in plan.counts:
        value = float(values[i])
        if name in CONNECTION_COUNTS:
            out.append(Sample("incore_server_connections", who, value))
        elif name.startswith(DROPPED_PREFIXES):
            labels = (*who, ("kind", _kind(name)), ("property", name))
            out.append(Sample("incore_dropped_total", labels, value))
        else:
            out.append(Sample("incore_object_count", (*who, ("property", name)), value))
    if plan.requests:
        _request_samples(obj.request_stats(), who, out)  # type: ignore[attr-defined]


def _kind(name: str) -> str:
    """What a dropped count counts: droppedReplies -> replies, lostEventCount -> events,
    droppedCount -> "" (the `property` label still names it)."""
    for prefix in DROPPED_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if name.endswith("Count"):
        name = name[: -len("Count")]
        name = name + "s" if name and not name.endswith("s") else name
    return name.lower()


def _request_samples(stats: Any, who: tuple[tuple[str, str], ...], out: list[Sample]) -> None:
    buckets = list(stats.buckets)  # one copy: a request finishing meanwhile cannot tear it
    out.append(Sample("incore_requests_total", who, float(stats.requests)))
    out.append(Sample("incore_request_errors_total", who, float(stats.failures)))
    total = 0
    for bound, n in zip((*stats.bounds, math.inf), buckets, strict=True):
        total += n
        out.append(Sample("incore_request_seconds_bucket", (*who, ("le", _number(bound))), total))
    out.append(Sample("incore_request_seconds_sum", who, float(stats.seconds)))
    out.append(Sample("incore_request_seconds_count", who, float(total)))


class LagProbe:
    """A loop timer every LAG_INTERVAL seconds that measures how late it fires.

    Written on the loop thread, read from the scraping thread: while the loop is stuck the
    timer cannot fire, so `samples()` also counts how overdue it is now.
    """

    def __init__(self, interval: float = LAG_INTERVAL) -> None:
        self.interval = interval
        self.last = 0.0
        self.max = 0.0
        self.due: float | None = None  # monotonic time the timer should fire next
        self.handle: Any = None

    def start(self, loop: EventLoop) -> None:
        """Arm the timer (on the loop thread, or before the loop runs)."""
        self.handle = loop.call_later(self.interval, self._tick, loop)
        self.due = self.handle.when

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        self.due = None

    def _tick(self, loop: EventLoop) -> None:
        lag = max(0.0, time.monotonic() - self.handle.when)
        self.last = lag
        if lag > self.max:
            self.max = lag
        self.start(loop)

    def samples(self) -> list[Sample]:
        """The last lag and the largest since the previous call (which it resets)."""
        due = self.due
        overdue = max(0.0, time.monotonic() - due) if due is not None else 0.0
        last = max(self.last, overdue)
        largest, self.max = max(self.max, last), 0.0
        return [
            Sample("incore_loop_lag_seconds", (), last),
            Sample("incore_loop_lag_max_seconds", (), largest),
        ]


# -- the process -----------------------------------------------------------------------------
def process_samples() -> list[Sample]:
    """Memory, descriptors, threads and CPU of this process (/proc where there is one)."""
    out = []
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.append(Sample("process_cpu_seconds_total", (), usage.ru_utime + usage.ru_stime))
    page = os.sysconf("SC_PAGE_SIZE")
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            size, resident = (int(x) for x in f.read().split()[:2])
        out.append(Sample("process_virtual_memory_bytes", (), size * page))
        out.append(Sample("process_resident_memory_bytes", (), resident * page))
    except OSError:  # no /proc (macOS): the peak is what getrusage has (bytes there)
        out.append(Sample("process_resident_memory_bytes", (), usage.ru_maxrss))
    for fds in ("/proc/self/fd", "/dev/fd"):
        try:
            out.append(Sample("process_open_fds", (), len(os.listdir(fds))))
            break
        except OSError:
            continue
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY:
        out.append(Sample("process_max_fds", (), soft))
    threads = _proc_status("Threads")
    if threads is None:
        threads = threading.active_count()  # Python's threads only
    out.append(Sample("process_threads", (), threads))
    out.append(Sample("process_start_time_seconds", (), _START_TIME))
    return out


def _proc_status(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _process_start_time() -> float:
    """When the process started: /proc/self/stat's start tick after boot, else import time."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat", encoding="ascii") as f:
            boot = next(int(x.split()[1]) for x in f if x.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, StopIteration, IndexError):
        return time.time()


_START_TIME = _process_start_time()


# -- the text format -------------------------------------------------------------------------
def escape_label(value: str) -> str:
    """A label value as the text format quotes it: backslash, double quote, newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _family(name: str) -> str:
    if name in FAMILIES:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and FAMILIES.get(base, ("",))[0] == "histogram":
            return base
    raise KeyError(f"no metric family for {name!r}")


def exposition(samples: Iterable[Sample]) -> str:
    """The text format: each family once, HELP and TYPE first, its samples in order."""
    by_family: dict[str, list[Sample]] = {}
    for sample in samples:
        by_family.setdefault(_family(sample.name), []).append(sample)
    lines = []
    for family, (kind, help_text) in FAMILIES.items():
        found = by_family.get(family)
        if not found:
            continue
        lines.append(f"# HELP {family} {_escape_help(help_text)}")
        lines.append(f"# TYPE {family} {kind}")
        for name, labels, value in found:
            if labels:
                inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels)
                lines.append(f"{name}{{{inner}}} {_number(value)}")
            else:
                lines.append(f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"
