"""The propagation engine: dependency capture, consistent reads, glitch-free change waves.

The model is *push dirty, pull evaluate*, with a level-ordered wave settling the rest:

1. A write that changes a property marks the bindings that read it dirty and queues them in
   a heap ordered by *level* (1 + the highest level among the bindings that feed it).
2. Reading a bound property while bindings are dirty settles it first: every queued binding
   of a lower level is evaluated (in level order, so each sees settled inputs), then the
   binding itself if it is dirty. A read therefore returns exactly what synchronous
   evaluation would give, from a handler as from plain Python.
3. The wave evaluates whatever is still dirty in level order, so a diamond is evaluated
   once per change and never sees a mix of old and new; a binding evaluated early by a
   read is not evaluated again for the same write.
4. Change signals and other handlers run after the writer's own code returns, in FIFO
   order, one at a time; each change handler gets the value of its own change. A second
   write while bindings are dirty settles them first, so what follows a property that is
   written twice changes twice, as synchronous evaluation would have it. A handler's
   writes join the same wave (queued, never recursed into), so handlers cannot grow the
   stack without bound.

A binding marked dirty again after it was evaluated, with no write made by code (rather
than by a binding) and no new handler in between, is in a binding loop: reported once, and
the loop is cut.

Everything here runs on the owning (loop) thread; other threads marshal writes there.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("incore.binding")


class EngineState:
    """The engine's mutable state: one slotted instance, read on the hot paths."""

    __slots__ = ("owner", "post", "capture", "running", "phase")

    def __init__(self) -> None:
        #: The thread that owns every Object, and how other threads reach it.
        self.owner: int = threading.get_ident()
        self.post: Callable[..., None] | None = None
        #: The list recording (object, name) reads of the binding being evaluated, or None.
        self.capture: list | None = None
        #: A wave is running.
        self.running = False
        #: Bumped by every write made by code (not by a binding) and before every handler.
        self.phase = 0


state = EngineState()

#: Dirty bindings as (level, sequence, binding); entries whose binding is no longer dirty
#: (evaluated early by a read) are skipped when popped.
_heap: list = []
_calls: deque = deque()
_seq = itertools.count()


def owner_ident() -> int:
    return state.owner


def set_owner(ident: int, post: Callable[..., None] | None) -> tuple[int, Any]:
    """Make `ident` the owning thread; return the previous (ident, post) to restore later."""
    previous = (state.owner, state.post)
    state.owner = ident
    state.post = post
    return previous


def post_to_owner(fn: Callable[..., None], *args: Any) -> None:
    post = state.post
    if post is None:
        raise RuntimeError(
            "a property was written from a thread that does not own the objects, and no "
            "event loop is running to marshal the write: write from the loop thread or use "
            "loop.post()"
        )
    post(fn, *args)


def in_wave() -> bool:
    return state.running


def pending() -> bool:
    """True while bindings or handlers wait to run (tests check the engine is idle)."""
    return bool(_heap or _calls or state.running)


def schedule_call(fn: Callable[..., Any], args: tuple) -> None:
    """Run `fn(*args)` as a handler of the current wave (now, if no wave is running)."""
    _calls.append((fn, args))
    if not state.running:
        run_wave()


def run_on_owner(fn: Callable[..., Any], *args: Any) -> None:
    """Apply `fn(*args)` on the owning thread, in this wave or the next.

    From another thread it is posted to the loop. On the owning thread it runs now: inside
    a wave as part of it, outside one as a wave of its own, so every change it makes is
    settled together before any handler runs (a handler sees `error` and `errorString`
    of one report, never one without the other).
    """
    if threading.get_ident() != state.owner:
        post_to_owner(run_on_owner, fn, *args)
    elif state.running:
        fn(*args)
    else:
        schedule_call(fn, args)


def queue_handlers(subscribers: list, args: tuple) -> None:
    """Queue the handlers (not the bindings) among `subscribers` with `args`; run the wave."""
    for s in subscribers:
        if s.__class__ is not Binding:
            _calls.append((s, args))
    if not state.running:
        run_wave()


def new_write() -> None:
    """A write from outside a wave, not through `Property.__set__` (an app file's value, a
    restore): what was evaluated before it may be evaluated again, which is no loop."""
    state.phase += 1


def settle_all() -> None:
    """Evaluate every dirty binding, in level order, before a new write is stored.

    Called by writes made outside binding evaluation while bindings are dirty (a handler
    that writes `a` twice): what followed the first write takes its value, and its change
    handlers see it, exactly as if bindings were evaluated at the moment of each write.
    """
    heap = _heap
    pop = heapq.heappop
    while heap:
        binding = pop(heap)[2]
        if binding.dirty:
            binding.dirty = False
            binding.evaluate()


def mark_bindings(subscribers: list) -> None:
    """Re-evaluate the bindings among `subscribers` though their input kept its value (a
    DataObject rewritten with the same value, or whose quality changed: what follows it
    must take the new timestamp or quality)."""
    for s in subscribers:
        if s.__class__ is Binding:
            s.mark_dirty()
    if not state.running:
        run_wave()


def notify(subscribers: list, value: Any) -> None:
    """A property changed: mark dependent bindings dirty, queue listeners, run the wave."""
    st = state
    if not st.running and len(subscribers) == 1 and not _calls and not _heap:
        listener = subscribers[0]
        if listener.__class__ is not Binding:
            # The commonest change outside a wave: one listener and nothing else to do. It
            # runs as a wave of its own without a trip through the queue.
            st.running = True
            st.phase += 1
            try:
                listener(value)
            except Exception as exc:
                report_handler_error(listener, exc)
            finally:
                st.running = False
            if _heap or _calls:
                run_wave()
            return
    for s in subscribers:
        if s.__class__ is Binding:
            s.mark_dirty()
        else:
            _calls.append((s, (value,)))
    if not st.running:
        run_wave()


def run_wave() -> None:
    st = state
    st.running = True
    st.phase += 1  # a wave starts with a write
    heap = _heap
    calls = _calls
    pop = heapq.heappop
    try:
        while True:
            if heap:
                binding = pop(heap)[2]
                if binding.dirty:
                    binding.dirty = False
                    binding.evaluate()
            elif calls:
                st.phase += 1  # what a handler does is a new write
                fn, args = calls.popleft()
                try:
                    fn(*args)
                except Exception as exc:  # a handler error never stops the wave
                    report_handler_error(fn, exc)
            else:
                break
    finally:
        st.running = False


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

    __slots__ = (
        "target",
        "prop",
        "fn",
        "deps",
        "level",
        "dirty",
        "evaluating",
        "phase",
        "location",
        "source",
        "loop_reported",
        "active",
        "__weakref__",
    )

    def __init__(
        self, target: Any, prop: Any, fn: Callable[[], Any], location: str = "", source: str = ""
    ) -> None:
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
        return (
            f"<Binding {type(self.target).__name__}.{self.prop.name} = {self.source or self.fn!r}>"
        )

    def mark_dirty(self) -> None:
        if self.dirty or not self.active:
            return
        if self.evaluating:
            # An input settled while this binding reads it (a read pulled it): the value
            # being read is already the new one.
            return
        if self.phase == state.phase and state.running:
            self.report_loop()
            return
        self.dirty = True
        heapq.heappush(_heap, (self.level, next(_seq), self))

    def settle(self) -> None:
        """Bring the target up to date before it is read (the pull half of the engine)."""
        heap = _heap
        level = self.level
        while heap and heap[0][0] < level:
            b = heapq.heappop(heap)[2]
            if b.dirty:
                b.dirty = False
                b.evaluate()
        if self.dirty and not self.evaluating:
            self.dirty = False
            self.evaluate()

    def report_loop(self) -> None:
        if not self.loop_reported:
            self.loop_reported = True
            where = f"{self.location}: " if self.location else ""
            log.warning('%sBinding loop detected for property "%s"', where, self.prop.name)

    def evaluate(self) -> None:
        """Evaluate now and write the target; exceptions are reported, the value is kept."""
        if not self.active:
            return
        st = state
        self.phase = st.phase if st.running else -1
        deps: list = []
        outer = st.capture
        st.capture = deps
        self.evaluating = True
        try:
            value = self.fn()
        except Exception as exc:
            st.capture = outer
            self.evaluating = False
            self._update_deps(deps)
            if isinstance(exc, TypeError) and _reads_none(deps):
                # An input that has not arrived yet (e.g. before a PLC's first poll): wait for
                # it quietly, as QML does with undefined, instead of logging at every start.
                log.debug("%s: binding waits for an input that is None: %s", self.location, exc)
                return
            self.report_error(exc)
            return
        st.capture = outer
        if deps != self.deps:
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
        log.error(
            '%sError%s for property "%s": %s: %s',
            where,
            what,
            self.prop.name,
            type(exc).__name__,
            exc,
        )

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
                if feeder is None:  # a value another binding derives (DataObject.quality)
                    follows = type(obj)._props[name].follows
                    feeder = bindings.get(follows) if follows else None
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
            target = b.target
            for key in (b.prop.name, *b.prop.followers):
                for s in target._subscribers(key):
                    if s.__class__ is Binding and s.level <= b.level:
                        if s is self:
                            self.report_loop()
                            return
                        s.level = b.level + 1
                        stack.append(s)

    def detach(self) -> None:
        """Stop following the expression (assignment replaced it, or the object died)."""
        self.active = False
        self.dirty = False
        for obj, name in set(self.deps):
            obj._unsubscribe(name, self)
        self.deps = []
