"""The propagation engine: dependency capture, glitch-free change waves, binding loops.

A *wave* starts when a property changes outside of any wave. Within a wave:

1. every binding that depends on a changed property is marked dirty and queued in a heap
   ordered by its *level* (1 + the highest level among the bindings that feed it), so a
   binding is evaluated only after all of its inputs of this wave are settled (a diamond
   evaluates its bottom once and never sees a mixed old/new state);
2. only when no binding is dirty do change listeners and signal handlers run, in FIFO
   order, so handlers always observe a settled state;
3. a property written by a handler is stored at once and its dependants join the same wave:
   it is queued, never recursed into, so a handler can not grow the stack without bound.

Everything here runs on the loop thread; writes from other threads are marshalled there.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import deque
from typing import Any, Callable

log = logging.getLogger("incore.binding")

# The thread that owns all objects, and how to reach it from another thread.
_owner: list = [threading.get_ident(), None]


def owner_ident() -> int:
    return _owner[0]


def set_owner(ident: int, post: Callable[..., None] | None) -> tuple[int, Any]:
    """Make `ident` the owning thread; return the previous (ident, post) to restore later."""
    previous = (_owner[0], _owner[1])
    _owner[0] = ident
    _owner[1] = post
    return previous


def post_to_owner(fn: Callable[..., None], *args: Any) -> None:
    post = _owner[1]
    if post is None:
        raise RuntimeError(
            "a property was written from a thread that does not own the objects, and no "
            "event loop is running to marshal the write: write from the loop thread or use "
            "loop.post()"
        )
    post(fn, *args)


# -- dependency capture -------------------------------------------------------------------
# `capture[0]` is the list that records (object, name) pairs read while a binding evaluates.
capture: list = [None]

# -- the wave -------------------------------------------------------------------------------
_heap: list = []
_calls: deque = deque()
_seq = itertools.count()
_state = [False, 0]  # [a wave is running, binding phase number]


def in_wave() -> bool:
    return _state[0]


def schedule_call(fn: Callable[..., Any], args: tuple) -> None:
    """Run `fn(*args)` as a handler of the current wave (now, if no wave is running)."""
    _calls.append((fn, args))
    if not _state[0]:
        run_wave()


def notify(subscribers: list, value: Any) -> None:
    """A property changed: mark dependent bindings dirty, queue listeners, run the wave."""
    for s in subscribers:
        if s.__class__ is Binding:
            s.mark_dirty()
        else:
            _calls.append((s, (value,)))
    if not _state[0]:
        run_wave()


def run_wave() -> None:
    state = _state
    state[0] = True
    state[1] += 1
    heap = _heap
    calls = _calls
    try:
        while True:
            if heap:
                binding = heapq.heappop(heap)[2]
                binding.dirty = False
                binding.evaluate()
            elif calls:
                state[1] += 1  # a new binding phase starts after each handler
                fn, args = calls.popleft()
                try:
                    fn(*args)
                except Exception as exc:  # a handler error never stops the wave
                    report_handler_error(fn, exc)
            else:
                break
    finally:
        state[0] = False


def report_handler_error(fn: Any, exc: BaseException) -> None:
    where = getattr(fn, "location", None)
    if where:
        log.error("%s: error in handler: %s: %s", where, type(exc).__name__, exc)
    else:
        log.error("error in handler %r", fn, exc_info=exc)


def _reads_none(deps: list) -> bool:
    for obj, name in deps:
        prop = type(obj)._props.get(name)
        if prop is not None and prop.peek(obj) is None:
            return True
    return False


class Binding:
    """Keeps `target.name` equal to `fn()`, re-capturing dependencies on every evaluation.

    `location` ("file:line") and `source` (the expression text) make reports useful.
    """

    __slots__ = ("target", "prop", "fn", "deps", "level", "dirty", "evaluating", "phase",
                 "location", "source", "loop_reported", "active", "__weakref__")

    def __init__(self, target: Any, prop: Any, fn: Callable[[], Any],
                 location: str = "", source: str = "") -> None:
        self.target = target
        self.prop = prop
        self.fn = fn
        self.deps: list = []
        self.level = 1
        self.dirty = False
        self.evaluating = False
        self.phase = -1
        self.location = location
        self.source = source
        self.loop_reported = False
        self.active = True

    def __repr__(self) -> str:
        return f"<Binding {type(self.target).__name__}.{self.prop.name} = {self.source or self.fn!r}>"

    def mark_dirty(self) -> None:
        if self.dirty or not self.active:
            return
        if self.evaluating or (self.phase == _state[1] and _state[0]):
            self.report_loop()
            return
        self.dirty = True
        heapq.heappush(_heap, (self.level, next(_seq), self))

    def report_loop(self) -> None:
        if not self.loop_reported:
            self.loop_reported = True
            where = f"{self.location}: " if self.location else ""
            log.warning('%sBinding loop detected for property "%s"', where, self.prop.name)

    def evaluate(self) -> None:
        """Evaluate now and write the target; exceptions are reported, the value is kept."""
        if not self.active:
            return
        self.phase = _state[1] if _state[0] else -1
        deps: list = []
        cap = capture
        outer = cap[0]
        cap[0] = deps
        self.evaluating = True
        try:
            value = self.fn()
        except Exception as exc:
            cap[0] = outer
            self.evaluating = False
            self._update_deps(deps)
            if isinstance(exc, TypeError) and _reads_none(deps):
                # An input that has not arrived yet (e.g. before a PLC's first poll): wait for
                # it quietly, as QML does with undefined, instead of logging at every start.
                log.debug("%s: binding waits for an input that is None: %s", self.location, exc)
                return
            self.report_error(exc)
            return
        cap[0] = outer
        self._update_deps(deps)
        try:
            self.prop.write(self.target, value, True)
        except (TypeError, ValueError) as exc:  # the result does not fit the property
            self.report_error(exc)
        finally:
            self.evaluating = False

    def report_error(self, exc: BaseException) -> None:
        where = f"{self.location}: " if self.location else ""
        what = f" in binding `{self.source}`" if self.source else ""
        log.error("%sError%s for property \"%s\": %s: %s", where, what, self.prop.name,
                  type(exc).__name__, exc)

    def _update_deps(self, new: list) -> None:
        old = self.deps
        if new == old:
            return
        if len(new) > 1:
            new = list(dict.fromkeys(new))  # a property read twice is one dependency
            if new == old:
                return
        old_set = set(old)
        new_set = set(new)
        for obj, name in old_set - new_set:
            obj._unsubscribe(name, self)
        level = 1
        for obj, name in new_set - old_set:
            obj._subscribe(name, self)
        for obj, name in new:
            bindings = obj._bindings
            if bindings is not None:
                feeder = bindings.get(name)
                if feeder is not None and feeder.level >= level:
                    level = feeder.level + 1
        self.deps = new
        if level > self.level:
            self.raise_level(level)
            self.phase = -1  # a new, deeper input may still change in this wave: not a loop

    def raise_level(self, level: int) -> None:
        """Keep levels topological when a dependency moved down the graph.

        Walks the bindings fed by this one; reaching this binding again is a cycle, which is
        a binding loop (reported once, levels left as they are).
        """
        self.level = level
        stack = [self]
        while stack:
            b = stack.pop()
            for s in b.target._subscribers(b.prop.name):
                if s.__class__ is Binding and s.level <= b.level:
                    if s is self:
                        self.report_loop()
                        return
                    s.level = b.level + 1
                    stack.append(s)

    def detach(self) -> None:
        """Stop following the expression (assignment replaced it, or the object died)."""
        self.active = False
        for obj, name in set(self.deps):
            obj._unsubscribe(name, self)
        self.deps = []
