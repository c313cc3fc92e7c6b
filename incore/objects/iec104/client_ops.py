"""The procedures of a controlling station, as an IEC104Connection's methods.

Each one runs on the connection's worker (`LinkClient._call`) and returns a
`concurrent.futures.Future` at once; `then(future)` runs on the loop when it is done. The
future holds the station's confirmation (an `Asdu`), or fails with `Iec104Refused` (a
negative confirmation), `Iec104TimeoutError` (none within `timeout`) or a connection
error; a failure of an interrogation, counter interrogation, clock sync, test or mute is
also reported in the connection's `error`. A command's outcome is its point's: `error`
CommandError says why it failed, and `commandFinished(point, ok, reason)` fires either
way.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timezone
from typing import Any

from ...core import method
from ...protocols.iec104 import Asdu, Cause, Cp56Time
from .client_errors import Iec104Refused, Iec104TimeoutError
from .client_link import CommandOutcome, Iec104ClientLink
from .point import IEC104Point
from .point_types import TIMED

__all__ = ["ConnectionOperations"]

Then = Callable[[Future], None] | None


def _quietly(job: Callable[[Iec104ClientLink], Any]) -> Callable[[Iec104ClientLink], Any]:
    """`job`, with a refusal, a missing answer or a value that does not fit as its outcome
    (a `CommandOutcome`) rather than a failure reported on the connection."""

    def run(link: Iec104ClientLink) -> Any:
        try:
            return job(link)
        except (Iec104Refused, Iec104TimeoutError) as exc:
            return CommandOutcome(False, exc.detail, getattr(exc, "answer", None))
        except ValueError as exc:
            return CommandOutcome(False, str(exc))

    return run


class ConnectionOperations:
    """A mixin of IEC104Connection (a LinkClient with `commonAddress`, `_call` and the
    point host in `_variables`)."""

    __slots__ = ()

    # -- station procedures ------------------------------------------------------------------
    @method
    def interrogation(self, commonAddress: int = 0, group: int = 0, then: Then = None) -> Future:
        """General interrogation (`group` 0) or group interrogation 1..16 of the station
        (`commonAddress` 0: the connection's); the values come to the points."""
        if not 0 <= group <= 16:
            raise ValueError(f"interrogation group {group} is not 0..16")
        ca = self._ca(commonAddress)
        return self._call(lambda link: link.interrogation(ca, 20 + group), then)

    @method
    def counterInterrogation(
        self, commonAddress: int = 0, request: int = 5, freeze: int = 0, then: Then = None
    ) -> Future:
        """Counter interrogation: `request` 5 all counters, 1..4 a group; `freeze` 0 read,
        1 freeze, 2 freeze and reset, 3 reset. The counters come to their points."""
        if not 1 <= request <= 5 or not 0 <= freeze <= 3:
            raise ValueError(f"counter interrogation request {request} / freeze {freeze}")
        ca = self._ca(commonAddress)
        return self._call(lambda link: link.counter_interrogation(ca, request, freeze), then)

    @method
    def clockSync(
        self, commonAddress: int = 0, dateTime: datetime | None = None, then: Then = None
    ) -> Future:
        """Set the station's clock to `dateTime` (default: now, UTC)."""
        ca = self._ca(commonAddress)
        return self._call(lambda link: link.clock_sync(ca, dateTime), then)

    @method
    def read(self, ioa: int | IEC104Point, then: Then = None) -> Future:
        """Read one information object (C_RD_NA_1); its point gets the answer. The future
        holds the answer's `Asdu`."""
        if isinstance(ioa, IEC104Point):
            ioa = ioa.ioa
        ca = self._ca(0)
        return self._call(lambda link: link.read(ca, int(ioa)), then)

    @method
    def test(self, then: Then = None) -> Future:
        """Test the link now (TESTFR act, and its con within t1)."""
        return self._call(lambda link: link.test_link(), then)

    @method
    def mute(self, then: Then = None) -> Future:
        """Stop data transfer (STOPDT): the link stays open, the station sends nothing."""
        return self._call(lambda link: link.stop_data_transfer(), self._muted_then(True, then))

    @method
    def unmute(self, then: Then = None) -> Future:
        """Start data transfer again (STARTDT)."""
        return self._call(lambda link: link.start_data_transfer(), self._muted_then(False, then))

    def _muted_then(self, muted: bool, then: Then) -> Callable[[Future], None]:
        def done(future: Future) -> None:
            if not future.cancelled() and future.exception() is None and self.connected:
                self._muted = muted
                self._set_state(self.State.OpenMuted if muted else self.State.Open)
            if then is not None:
                then(future)

        return done

    # -- commands ------------------------------------------------------------------------------
    def command(
        self,
        point: IEC104Point,
        value: Any = None,
        *,
        select: bool | None = None,
        then: Then = None,
    ) -> Future:
        """Python API: send `point`'s command with `value` (default: its data), direct or
        select-before-operate (`select`; default: its commandMode). The future holds a
        `CommandOutcome`; the point's error and `commandFinished` say it too."""
        info = point.information(value)
        return self._send_command(point, info, select, then, inline=True)

    def transmit_point(self, point: IEC104Point, cause: int) -> bool:
        """`point.transmit()`: a command point sends its command; a monitoring point has
        nothing to send from a controlling station."""
        if not point.is_command:
            return False
        try:
            info = point.information()
        except (TypeError, ValueError) as exc:
            point._fail("CommandError", f"{point.peer_address}: {exc}")
            return False
        self._send_command(point, info, None, None)
        return True

    def _command_point(self, point: IEC104Point, info: Any) -> None:
        """The host's write_variable: the app wrote a command point's value. Every write is
        a command, sent in the order written (the same value twice is two commands: a
        pulse, a repeated set-point)."""
        self._send_command(point, info, None, None)

    def _send_command(
        self, point: IEC104Point, info: Any, select: bool | None, then: Then, inline: bool = False
    ) -> Future:
        """Send a command; `inline`: the caller may wait for it on its own thread (the
        Python API), never for a property write, whose writer does not wait for the answer
        (which may need the writer's loop: a station in this process decides there)."""
        if select is None:
            select = point.commandMode == point.CommandMode.SelectAndExecute
        type_id = int(point.type)
        if type_id in TIMED:  # a command's time tag says when it was sent
            info = info._replace(time=Cp56Time.from_datetime(datetime.now(timezone.utc)))
        act = Asdu(type_id, Cause.ACTIVATION, self.commonAddress, (info,), self.originatorAddress)

        def done(future: Future) -> None:
            if future.cancelled():
                outcome = CommandOutcome(False, "cancelled")
            elif future.exception() is not None:
                outcome = CommandOutcome(False, str(future.exception()))
            else:
                outcome = future.result()
            self._command_done(point, outcome)
            if then is not None:
                then(future)

        if not self.online:
            future: Future = Future()
            future.set_result(CommandOutcome(False, f"{self._label}: not connected"))
            done(future)
            return future
        return self._call(_quietly(lambda link: link.command(act, select)), done, inline)

    def _command_done(self, point: IEC104Point, outcome: CommandOutcome) -> None:
        if point.isShutDown:
            return
        if outcome.ok:
            point._confirm_write()  # a refused command before this one is over
        else:
            point._fail("CommandError", f"{point.peer_address}: {outcome.reason}")
        if self.has_receivers("commandFinished"):
            self.commandFinished.emit(point, outcome.ok, outcome.reason)

    # -- reads of points -------------------------------------------------------------------------
    def _read_point(self, point: IEC104Point) -> None:
        """The host's read_variable: `pollData()` sends C_RD_NA_1."""
        ca, ioa = self._ca(0), point.ioa

        def done(future: Future) -> None:
            if future.cancelled() or point.isShutDown:
                return
            exc = future.exception()
            result = future.result() if exc is None else None
            if exc is not None:
                point._fail("ReadError", f"{point.peer_address}: {exc}")
            elif isinstance(result, CommandOutcome):
                point._fail("ReadError", f"{point.peer_address}: {result.reason}")

        if not self.online:
            point._lost(f"{self._label}: not connected")
            return
        self._call(_quietly(lambda link: link.read(ca, ioa)), done)

    def _ca(self, common_address: int) -> int:
        return int(common_address) or int(self.commonAddress)
