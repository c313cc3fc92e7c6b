"""Server-wide CPU state of the S7 server engine: mode, a virtual clock and the identity.

Its own module because the engine and the Userdata handler both read it, and neither may
import the other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from .constants import CpuStatus
from .szl import Identity

__all__ = ["PlcState"]


def _now() -> datetime:
    return datetime.now()


@attrs.define(slots=True)
class PlcState:
    """Server-wide CPU state: mode, a virtual clock and the identity."""

    cpu_status: int = CpuStatus.RUN
    clock: Callable[[], datetime] = _now
    clock_offset: float = 0.0  # seconds added to `clock()`; Set Clock moves it
    identity: Identity = attrs.field(factory=Identity)
    status_changed: datetime = attrs.field(factory=_now)

    def now(self) -> datetime:
        return self.clock() + timedelta(seconds=self.clock_offset)

    def set_time(self, moment: datetime) -> None:
        self.clock_offset = (moment - self.clock()).total_seconds()

    def set_status(self, status: int) -> None:
        if status != self.cpu_status:
            self.cpu_status = status
            self.status_changed = self.now()
