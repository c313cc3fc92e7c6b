"""The error convention of every operational object, written once.

InCore objects report trouble the same way: `error` holds the last error (an enum; it does
not change when the same error repeats, so `onErrorChanged` fires only on a new kind of
trouble), `errorString` a human text with details, and `errorOccurred` fires on *every*
occurrence (so a handler can count retries). Types inherit `ErrorReporting`, declare their
own `Error` enum (first member `NoError = 0`) and `error = error_property(Error)`, and call
`self._report_error(self.SomeError, "details")`. Safe to call from any thread.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from ..core import Object, Property, Signal, engine, registry

log = logging.getLogger("incore.objects")


def error_property(error_enum: type[enum.IntEnum]) -> Property:
    """The `error` property for a type whose errors are `error_enum` (NoError = 0 first)."""
    return Property(
        error_enum,
        error_enum(0),
        readonly=True,
        doc="The last error (NoError if none); unchanged when the same error repeats.",
    )


class StartError(RuntimeError):
    """An object could not start (a server could not listen) and was not told to retry.

    Raised from `_on_completed`, so completing the app fails: `incore run` prints the one
    line (which names the object's FILE:LINE, see `about`) and exits non-zero, and a
    service manager sees the failure instead of a process that runs without doing its job.
    """


def about(obj: Object) -> str:
    """How a log line names an object: the FILE:LINE it was declared at, then its repr, so a
    warning at run time leads to the line of the app file to look at."""
    where = registry.location(obj)
    return f"{where}: {obj!r}" if where else repr(obj)


class ErrorReporting(Object, register=False):
    """Base of types that report errors InCore's way (error, errorString, errorOccurred)."""

    __slots__ = ()

    errorString = Property(
        str, "", readonly=True, doc="A human-readable description of the last error."
    )
    errorOccurred = Signal(doc="Emitted on every error, also when the same error repeats.")

    def _report_error(self, code: Any, text: str = "") -> None:
        """Record error `code` (enum member, name or number) with `text`; emit errorOccurred.

        The values are set together in one change wave, so an `onErrorChanged` handler sees
        the matching `errorString`. From another thread, the report is posted to the loop.
        """
        engine.run_on_owner(self._apply_error, code, text, True)

    def _clear_error(self) -> None:
        """Back to NoError with an empty errorString (no errorOccurred)."""
        engine.run_on_owner(self._apply_error, 0, "", False)

    def _apply_error(self, code: Any, text: str, occurred: bool) -> None:
        changed = self._update("error", code)
        self._update("errorString", text)
        if occurred:
            level = logging.WARNING if changed else logging.DEBUG
            log.log(level, "%s: %s: %s", about(self), self.error.name, text)
            self.errorOccurred.emit()
