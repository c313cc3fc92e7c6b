"""Connections: handlers for the signals of another object (QML's Connections)."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

from ...core import Object, Property, registry
from ...core.signal import BoundSignal, _positional_capacity
from ..errors import about

log = logging.getLogger("incore.objects")


class _Relay:
    """Forwards one signal of the target to a handler while the Connections is enabled."""

    __slots__ = ("owner", "fn", "nargs")

    def __init__(self, owner: Connections, fn: Callable[..., Any]) -> None:
        self.owner = weakref.ref(owner)
        self.fn = fn
        self.nargs = _positional_capacity(fn)

    @property
    def location(self) -> str:  # lets the engine report handler errors at their line
        return getattr(self.fn, "location", "")

    def __call__(self, *args: Any) -> None:
        owner = self.owner()
        if owner is not None and owner.enabled:
            self.fn(*(args if self.nargs is None else args[: self.nargs]))


class Connections(Object):
    """Runs handlers on the signals of `target` (default: the parent).

    In an app file, `onTriggered: ...` under a Connections handles the target's
    `triggered` signal. In Python, `connections.connect("triggered", fn)`. Changing `target`
    moves every handler to the new target; `enabled: false` mutes them.
    """

    __slots__ = ("_handlers", "_attached")

    modifier = True
    #: `onX` keys under a Connections handle the signals of `target` (else the parent).
    handler_target = "target"

    target = Property(
        "Object",
        None,
        on_write="_retarget",
        doc="The object whose signals are handled (none: the parent).",
    )
    enabled = Property(bool, True, doc="Whether the handlers run.")

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._handlers: list[tuple[str, Callable[..., Any], _Relay]] = []
        self._attached: Object | None = None
        super().__init__(parent, **properties)
        self.parentChanged.connect(self._retarget)

    @property
    def effectiveTarget(self) -> Object | None:
        """The object whose signals are handled now (target, else the parent)."""
        return self.target if self.target is not None else self.parent

    def connect(self, signal_name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Run `fn(*args)` on the target's signal `signal_name` while enabled; returns fn."""
        self._retarget()  # follow the current target before adding to it
        target = self._attached
        signal = None if target is None else _signal_of(target, signal_name)
        if target is not None and signal is None:
            raise AttributeError(_no_signal(target, signal_name))
        relay = _Relay(self, fn)
        self._handlers.append((signal_name, fn, relay))
        if signal is not None:
            signal.connect(relay)
        return fn

    def _attach_handler(self, signal_name: str, fn: Callable[..., Any]) -> None:
        """How the app loader attaches an `onX` key: like connect(), following the target."""
        self.connect(signal_name, fn)

    def disconnect(self, signal_name: str, fn: Callable[..., Any]) -> None:
        """Remove a handler added with connect()."""
        for entry in self._handlers:
            if entry[0] == signal_name and entry[1] == fn:
                self._handlers.remove(entry)
                self._detach(self._attached, [entry])
                return
        raise ValueError(f"{fn!r} is not connected to {signal_name}")

    def _retarget(self, _value: Any = None) -> None:
        new = None if self.isShutDown else self.effectiveTarget
        old = self._attached
        if new is old:
            return
        self._detach(old, self._handlers)
        self._attached = new
        if new is not None:
            for name, _fn, relay in self._handlers:
                signal = _signal_of(new, name)
                if signal is None:
                    log.warning("%s: %s", about(self), _no_signal(new, name))
                else:
                    signal.connect(relay)

    @staticmethod
    def _detach(target: Object | None, handlers: list) -> None:
        if target is None:
            return
        for name, _fn, relay in handlers:
            signal = _signal_of(target, name)
            if signal is not None:
                try:
                    signal.disconnect(relay)
                except ValueError:  # it never had that signal: nothing was connected
                    pass

    def _on_shutdown(self) -> None:
        self._retarget()  # detaches: nothing runs after shutdown


def _signal_of(obj: Object, name: str) -> BoundSignal | None:
    signal = getattr(obj, name, None)
    return signal if isinstance(signal, BoundSignal) else None


def _no_signal(obj: Object, name: str) -> str:
    suggestion = registry.suggest(name, type(obj)._signals)
    return f"{type(obj).__name__} has no signal '{name}'{suggestion}"
