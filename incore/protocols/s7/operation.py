"""The S7 client's `Operation`: the contract's `Exchange`, written as a generator.

Every S7 client operation is one: send its `request`, `feed` the reply, repeat until it
returns `None`, then read `result` (`contract.run` does that over a blocking transfer).
Operations that need several exchanges (large reads split by the negotiated PDU, SZL
follow-up fragments) hide that behind the same loop. Every failure is an `S7Error` carrying
snap7's client error number.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Generic, TypeVar

from ..errors import ProtocolError, S7Error
from .constants import Area, ClientError, client_error_text

__all__ = ["Operation", "Steps", "fail", "where"]

T = TypeVar("T")
#: An operation's steps: yields each request, is sent its reply, returns the result.
Steps = Generator[bytes, bytes, T]

_AREA_NAMES = {Area.PE: "PE", Area.PA: "PA", Area.MK: "MK", Area.CT: "CT", Area.TM: "TM"}


def fail(code: int, detail: str = "") -> S7Error:
    """An `S7Error` with snap7's text for `code`."""
    return S7Error(code, client_error_text(code), detail)


def where(area: int, db_number: int, start: int, size: int) -> str:
    """The place an access names, for error details (`DB1 offset 0 size 4`)."""
    name = f"DB{db_number}" if area == Area.DB else _AREA_NAMES.get(area, f"area 0x{area:02X}")  # type: ignore[call-overload]
    return f"{name} offset {start} size {size}"


class Operation(Generic[T]):
    """One client operation driven by its caller's I/O (an `Exchange`).

    The steps are a generator that yields each request and is sent its reply, so an
    operation of several exchanges reads as one function; the S7 client has no timers (the
    transport bounds each wait).
    """

    def __init__(self, steps: Steps[T]) -> None:
        self._steps = steps
        self.result: T | None = None
        self.done = False
        self.request: bytes | None = self._step(None)

    def _step(self, reply: bytes | None) -> bytes | None:
        try:
            return self._steps.send(reply)  # type: ignore[arg-type]
        except StopIteration as stop:
            self.done = True
            self.result = stop.value
            return None
        except S7Error:
            self.done = True
            raise
        except ProtocolError as exc:  # malformed reply: report it the snap7 way
            self.done = True
            raise fail(ClientError.InvalidPlcAnswer, str(exc)) from exc

    def feed(self, reply: bytes) -> bytes | None:
        """Hand over the reply to `request`; return the next request, or `None` when done."""
        if self.done:
            raise fail(ClientError.InvalidParams, "operation already finished")
        self.request = self._step(reply)
        return self.request
