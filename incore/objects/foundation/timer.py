"""Timer: QML's Timer, triggering handlers at an interval without drifting."""

from __future__ import annotations

from typing import Any

from ...core import Object, Property, Signal, method
from .ticker import Ticker


class Timer(Object):
    """Emits `triggered()` every `interval` ms while `running` (once if `repeat` is false).

    A running timer starts when the app is complete and stops at shutdown. Ticks follow a
    fixed grid from the start, so a slow handler delays one tick but the timer never drifts.
    A single-shot timer sets `running` to false before it triggers, so its handler may
    call `start()` again.
    """

    __slots__ = ("_ticker", "_armed", "_start_tick")

    interval = Property(
        int,
        1000,
        unit="ms",
        on_write="_interval_written",
        minimum=0,
        doc="Milliseconds between triggers (changing it restarts a running timer).",
    )
    repeat = Property(bool, True, doc="Trigger repeatedly (true) or once (false).")
    running = Property(
        bool,
        True,
        on_write="_running_written",
        doc="Whether the timer runs; a running timer starts on completion.",
    )
    triggeredOnStart = Property(bool, False, doc="Also trigger right when the timer starts.")

    triggered = Signal(doc="Emitted when the interval has passed.")

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._ticker = Ticker(self._tick)
        self._armed = False  # completed, or started explicitly
        self._start_tick = False
        super().__init__(parent, **properties)

    # -- methods -----------------------------------------------------------------------------
    @method
    def start(self) -> None:
        """Start the timer (sets running); no effect on a timer that is already running."""
        self._armed = True
        if self.running:
            self._apply()
        else:
            self.running = True

    @method
    def stop(self) -> None:
        """Stop the timer (sets running to false)."""
        if self.running:
            self.running = False
        else:
            self._ticker.stop()

    @method
    def restart(self) -> None:
        """Start the timer anew: the next trigger comes one full interval from now."""
        self._ticker.stop()
        self.start()

    # -- internals ---------------------------------------------------------------------------
    def _on_completed(self) -> None:
        self._armed = True
        self._apply()

    def _on_shutdown(self) -> None:
        self._armed = False
        self._ticker.stop()

    def _running_written(self, _value: bool) -> None:
        self._apply()

    def _interval_written(self, value: int) -> None:
        if self._ticker.active and self._ticker.period != value / 1000.0:
            self._begin()

    def _apply(self) -> None:
        if self._armed and self.running and not self.isShutDown:
            if not self._ticker.active:
                self._begin()
        else:
            self._ticker.stop()

    def _begin(self) -> None:
        self._start_tick = self.triggeredOnStart
        self._ticker.start(self.interval / 1000.0, immediately=self._start_tick)

    def _tick(self) -> None:
        if self._start_tick:
            self._start_tick = False
        elif not self.repeat:
            self._ticker.stop()
            self._update("running", False)
        self.triggered.emit()
