"""Signals: `obj.triggered.connect(fn)`, `obj.triggered.emit()` (or `obj.triggered()`).

Every property `foo` also has a change signal `fooChanged` carrying the new value. Handlers
run through the engine's wave, after the bindings of the wave have settled. Connecting a
bound method holds it weakly, so a connection never keeps a dead object alive; a callable
that takes fewer arguments than the signal carries gets only the leading ones (QML style).
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any

from . import engine


class Signal:
    """A declared signal. `args` names its arguments (handlers see them by name)."""

    __slots__ = ("name", "args", "doc", "owner", "key")

    def __init__(self, *args: str, doc: str = "") -> None:
        self.args = tuple(args)
        self.doc = doc
        self.name = ""
        self.key = ""
        self.owner: type | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.key = name

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return BoundSignal(obj, self)

    def __repr__(self) -> str:
        return f"<Signal {self.name}({', '.join(self.args)})>"

    @property
    def handler_args(self) -> tuple:
        """The names an app-file handler of this signal sees its arguments by."""
        return self.args

    def adapt_handler(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` taking `handler_args`, as a callable taking what the signal emits."""
        return fn


class ChangeSignal(Signal):
    """`fooChanged`: subscribers are stored under the property's own name."""

    __slots__ = ("prop",)

    def __init__(self, prop: Any) -> None:
        super().__init__("value", doc=f"Emitted when {prop.name} changes.")
        self.prop = prop
        self.name = prop.name + "Changed"
        self.key = prop.name

    @property
    def handler_args(self) -> tuple:
        """`value` and the property's own name: in `onSetpointChanged`, `setpoint` is the
        value of the change being handled, even if a later write changed it again."""
        name = self.prop.name
        return self.args if name in self.args else (*self.args, name)

    def adapt_handler(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if self.prop.name in self.args:
            return fn

        def handler(value: Any) -> None:
            fn(value, value)

        return handler


def _positional_capacity(fn: Callable[..., Any]) -> int | None:
    """How many positional arguments fn accepts (None = any number)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    count = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


class _Slot:
    """A connected callable, adapted to the signal's arity, weak for bound methods."""

    __slots__ = ("ref", "strong", "nargs", "owner", "key", "__weakref__")

    def __init__(self, fn: Callable[..., Any], nargs: int, owner: Any, key: str) -> None:
        self.owner = weakref.ref(owner)
        self.key = key
        if inspect.ismethod(fn):
            self.ref = weakref.WeakMethod(fn, self._dead)
            self.strong = None
        else:
            self.ref = None
            self.strong = fn
        cap = _positional_capacity(fn)
        self.nargs = nargs if cap is None else min(cap, nargs)

    @property
    def target(self) -> Callable[..., Any] | None:
        return self.strong if self.ref is None else self.ref()

    @property
    def location(self) -> str:
        return getattr(self.target, "location", "")

    def _dead(self, _ref: Any) -> None:
        owner = self.owner()
        if owner is not None:
            owner._unsubscribe(self.key, self)

    def __call__(self, *args: Any) -> None:
        fn = self.strong if self.ref is None else self.ref()
        if fn is not None:
            if len(args) > self.nargs:
                args = args[: self.nargs]
            fn(*args)


class BoundSignal:
    """A signal of one object; created on attribute access, cheap to throw away."""

    __slots__ = ("obj", "signal")

    def __init__(self, obj: Any, signal: Signal) -> None:
        self.obj = obj
        self.signal = signal

    @property
    def name(self) -> str:
        return self.signal.name

    def connect(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Call `fn` on every emission; returns fn so it works as a decorator."""
        self.obj._subscribe(
            self.signal.key, _Slot(fn, len(self.signal.args), self.obj, self.signal.key)
        )
        return fn

    def disconnect(self, fn: Callable[..., Any]) -> None:
        for s in self.obj._subscribers(self.signal.key):
            if isinstance(s, _Slot) and s.target == fn:
                self.obj._unsubscribe(self.signal.key, s)
                return
        raise ValueError(f"{fn!r} is not connected to {self.signal.name}")

    def emit(self, *args: Any) -> None:
        """Queue every connected handler in the current wave (run now if none is running)."""
        subs = self.obj._subscribers(self.signal.key)
        if subs:
            engine.queue_handlers(subs, args)

    __call__ = emit

    def __repr__(self) -> str:
        return f"<BoundSignal {type(self.obj).__name__}.{self.signal.name}>"
