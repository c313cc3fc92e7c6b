"""Polling: InCore's `Polling on data { interval: 100 }` as a child modifier."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

from ...core import Object, Property, method, registry
from ..errors import ErrorReporting, about, error_property
from .data import now_ms
from .ticker import Ticker, interval_property

log = logging.getLogger("incore.objects")


def poll_method_name(prop: str) -> str:
    """The method that refreshes property `prop`: 'data' -> 'pollData'."""
    return "poll" + prop[:1].upper() + prop[1:]


def poll_requirement(parent_type: type, prop: str) -> str:
    """Why the parent's property `prop` can not be polled ("" when it can)."""
    name = poll_method_name(prop)
    return "" if callable(getattr(parent_type, name, None)) else f"it has no {name}() method"


#: The rule of Polling.on, which the app loader checks and Polling reports at run time.
POLLABLE = registry.ParentTarget(
    "poll", poll_requirement, "a property of the parent that has a poll<Name>() method"
)


class Polling(ErrorReporting):
    """Refreshes a property of its parent every `interval` ms by calling `poll<Name>()`.

    `- Polling: {on: data, interval: 100}` under an S7Variable calls its `pollData()` once
    when the app starts and then every 100 ms. If the parent has no such method, `error`
    becomes NotSupportedError and `errorString` says which type and property.
    """

    class Error(enum.IntEnum):
        """What went wrong while polling."""

        NoError = 0
        NotSupportedError = 1

    __slots__ = ("_ticker", "_poller")

    modifier = True

    on = Property(
        str,
        "",
        on_write="_settings_written",
        targets=POLLABLE,
        doc="The name of the parent's property to poll, e.g. data.",
    )
    interval = interval_property("Milliseconds between polls.")
    running = Property(
        bool,
        True,
        on_write="_settings_written",
        doc="Whether polling is active; it starts on completion.",
    )
    timestamp = Property(
        int, 0, readonly=True, unit="ms", doc="When the last poll was made (ms since the epoch)."
    )
    error = error_property(Error)

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._ticker = Ticker(self.poll)
        self._poller: Callable[[], Any] | None = None
        super().__init__(parent, **properties)

    @method
    def poll(self) -> None:
        """Poll now (also between the regular polls)."""
        poller = self._poller
        if poller is None:
            return
        self._update("timestamp", now_ms())
        try:
            poller()
        except Exception:  # the parent's failure must not stop polling
            log.exception("%s: %s() failed", about(self), getattr(poller, "__name__", "poll"))

    def _on_completed(self) -> None:
        self._apply()

    def _on_shutdown(self) -> None:
        self._ticker.stop()
        self._poller = None

    def _settings_written(self, _value: Any) -> None:
        if self.isLive:
            self._apply()

    def _apply(self) -> None:
        self._ticker.stop()
        self._poller = self._resolve()
        if self._poller is not None and self.running:
            self._ticker.start(self.interval / 1000.0, immediately=True)

    def _resolve(self) -> Callable[[], Any] | None:
        """The parent's poll method, or None after reporting why there is none (by the
        rule of `on`, which the app loader applies too)."""
        problem = POLLABLE.problem(type(self).on, self, self.on)
        if problem:
            self._report_error(self.NotSupportedError, problem)
            return None
        if self.error:
            self._clear_error()
        return getattr(self.parent, poll_method_name(self.on))
