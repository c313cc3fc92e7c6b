"""An IEC 104 controlling station's connection: the link engine on the transport's `Link`.

The transport (`incore.transport.link.Link`) does the I/O; this module says what it means
for IEC 104: the connection's numbered errors, STARTDT as the handshake a connection must
pass before it counts as up, and the request/confirmation exchanges a controlling station
runs (interrogation, counter interrogation, read, clock sync, commands, select before
operate). Each exchange runs on the connection's worker and waits only for its own
answer: every other frame that arrives meanwhile goes on to the listener (`others`), so a
command never holds up spontaneous data.

An answer that does not come in time is `Iec104TimeoutError`, which is not an `OSError`:
the station may be slow to confirm while the link itself is fine, so the link stays open.
A broken link (reset, t1, bad frames) is `Iec104ConnectionError`, an `OSError`, and the
worker drops the connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, NoReturn

import attrs

from ...protocols.errors import ProtocolError
from ...protocols.iec104 import (
    Asdu,
    AsduError,
    AsduReceived,
    Cause,
    ClockSync,
    CounterInterrogation,
    Cp56Time,
    Iec104Link,
    Interrogation,
    LinkEvent,
    LinkParameters,
    ReadCommand,
    Role,
    Started,
    Stopped,
    TestConfirmed,
    TypeId,
    decode_asdu,
    encode_asdu,
)
from ...transport.link import Failure, Link
from ...transport.link_stream import BlockingStream
from .client_errors import (
    ClientError,
    Iec104ConnectionError,
    Iec104Refused,
    Iec104TimeoutError,
    iec104_failure,
)

__all__ = [
    "BROADCAST",
    "CommandOutcome",
    "Iec104ClientLink",
    "LinkSettings",
    "confirms",
    "open_link",
]

#: The global common address: every station behind the connection.
BROADCAST = 0xFFFF
#: The negative causes a station answers an activation with (besides a negative actcon).
_REFUSALS = (
    Cause.UNKNOWN_TYPE,
    Cause.UNKNOWN_CAUSE,
    Cause.UNKNOWN_COMMON_ADDRESS,
    Cause.UNKNOWN_IOA,
)


@attrs.frozen
class LinkSettings:
    """What a connection needs, captured on the loop thread when connecting starts."""

    host: str
    port: int
    #: t0, the connect timeout (seconds).
    timeout: float
    #: How long an operation waits for its confirmation (seconds).
    answer_timeout: float
    parameters: LinkParameters = attrs.field(factory=LinkParameters)
    common_address: int = 1
    originator: int = 0


@attrs.frozen
class CommandOutcome:
    """How a command ended: `ok` (the station confirmed), else `reason` says why not."""

    ok: bool
    reason: str = ""
    answer: Asdu | None = None


def _describe(asdu: Asdu) -> str:
    try:
        name = TypeId(asdu.type_id).name
    except ValueError:
        name = f"type {asdu.type_id}"
    ioa = asdu.objects[0].ioa if asdu.objects else 0
    return f"{name} CA {asdu.common_address} IOA {ioa}"


def _cause_name(cause: int) -> str:
    try:
        return Cause(cause).name.lower().replace("_", " ")
    except ValueError:
        return f"cause {cause}"


class Iec104ClientLink(Link[LinkEvent]):
    """A controlling station's link: ASDUs over `Iec104Link(Role.CONTROLLING)`.

    `timeout` bounds each send and each wait for a confirmation. Decoded ASDUs that an
    exchange did not wait for go to `others` as `AsduReceived` events, in order.
    """

    __slots__ = ("settings", "sent")

    def __init__(self, stream: BlockingStream, settings: LinkSettings) -> None:
        engine = Iec104Link(Role.CONTROLLING, settings.parameters, time.monotonic())
        super().__init__(stream, engine, settings.answer_timeout, fail=iec104_failure)
        self.settings = settings
        #: ASDUs sent on this link (a count, for tests and statistics).
        self.sent = 0

    @property
    def iec(self) -> Iec104Link:
        return self.engine  # type: ignore[return-value]

    @property
    def started(self) -> bool:
        return self.iec.started

    def _refused(self, exc: ProtocolError) -> NoReturn:
        """The link engine broke off on a frame (a sequence error, a bad frame): the whole
        monitoring ASDUs before it in the same segment are the station's data all the same
        (a status change among them would otherwise go with the connection, as it does in
        c104), so they go to the listener first. A timer's failure (t1) carries none."""
        for event in getattr(exc, "events", ()):
            if type(event) is AsduReceived and event.payload[:1]:
                if event.payload[0] < TypeId.C_SC_NA_1:
                    self.others(event)
        super()._refused(exc)

    # -- data transfer ------------------------------------------------------------------------
    def start_data_transfer(self) -> None:
        """STARTDT act, and its con within t1 (else the connect fails)."""
        self.iec.start(time.monotonic())
        self.flush()
        self._wait_link(lambda e: isinstance(e, Started), "no STARTDT con")

    def stop_data_transfer(self) -> None:
        """STOPDT act, and its con within t1."""
        self.iec.stop(time.monotonic())
        self.flush()
        self._wait_link(lambda e: isinstance(e, Stopped), "no STOPDT con")

    def test_link(self) -> None:
        """TESTFR act, and its con within t1."""
        self.iec.test(time.monotonic())
        self.flush()
        self._wait_link(lambda e: isinstance(e, TestConfirmed), "no TESTFR con")

    def _wait_link(self, wanted: Callable[[Any], bool], missing: str) -> None:
        deadline = time.monotonic() + self.settings.parameters.t1
        try:
            self.wait_for(wanted, deadline, missing)
        except Iec104TimeoutError as exc:  # the link engine closes on t1 too: say so alike
            raise Iec104ConnectionError(ClientError.TimeoutError, exc.detail) from None

    # -- ASDUs --------------------------------------------------------------------------------
    def send_asdu(self, asdu: Asdu) -> None:
        """Encode and send one ASDU (queued by the engine while k frames are unconfirmed)."""
        try:
            pdu = encode_asdu(asdu)
        except AsduError as exc:
            raise ValueError(f"cannot send {_describe(asdu)}: {exc}") from None
        try:
            self.iec.send_pdu(pdu, time.monotonic())
        except ProtocolError as exc:
            raise self.fail(Failure.SEND, f"{self.where}: {exc}") from exc
        self.sent += 1
        self.flush()

    def next_asdu(self, wanted: Callable[[Asdu], bool], deadline: float, missing: str) -> Asdu:
        """The first received ASDU `wanted` accepts; everything before it goes to `others`
        (an ASDU that does not decode too, as its raw event)."""

        def match(event: Any) -> bool:
            if type(event) is not AsduReceived:
                return False
            try:
                asdu = decode_asdu(event.payload)
            except AsduError:
                return False
            if wanted(asdu):
                found.append(asdu)
                return True
            return False

        found: list[Asdu] = []
        self.wait_for(match, deadline, missing)
        return found[0]

    def activate(self, act: Asdu, *, deadline: float | None = None) -> Asdu:
        """Send an activation and return its positive confirmation; `Iec104Refused` for a
        negative one (or a COT 44-47 answer), `Iec104TimeoutError` for none."""
        self.send_asdu(act)
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        answer = self.next_asdu(
            lambda a: confirms(act, a), deadline, f"no confirmation of {_describe(act)}"
        )
        if answer.negative or answer.cause != Cause.ACTIVATION_CON:
            raise Iec104Refused(
                f"{_describe(act)}: {_cause_name(answer.cause)}"
                f"{' (negative)' if answer.negative else ''}",
                answer,
            )
        return answer

    # -- the controlling station's procedures -----------------------------------------------
    def interrogation(self, common_address: int, qoi: int = 20) -> Asdu:
        """C_IC_NA_1 act; returns the actcon (the answers come to `others`, COT 20..36)."""
        act = Asdu(
            TypeId.C_IC_NA_1,
            Cause.ACTIVATION,
            common_address,
            (Interrogation(0, qoi),),
            self.settings.originator,
        )
        return self.activate(act)

    def counter_interrogation(self, common_address: int, request: int = 5, freeze: int = 0) -> Asdu:
        """C_CI_NA_1 act; returns the actcon (the counters come to `others`, COT 37..41)."""
        act = Asdu(
            TypeId.C_CI_NA_1,
            Cause.ACTIVATION,
            common_address,
            (CounterInterrogation(0, request, freeze),),
            self.settings.originator,
        )
        return self.activate(act)

    def clock_sync(self, common_address: int, moment: datetime | None = None) -> Asdu:
        """C_CS_NA_1 act with `moment` (default: now, UTC); returns the actcon."""
        moment = moment or datetime.now(timezone.utc)
        act = Asdu(
            TypeId.C_CS_NA_1,
            Cause.ACTIVATION,
            common_address,
            (ClockSync(0, Cp56Time.from_datetime(moment)),),
            self.settings.originator,
        )
        return self.activate(act)

    def read(self, common_address: int, ioa: int) -> Asdu:
        """C_RD_NA_1 for `ioa`: the station's answer (COT 5), which also goes to `others`
        so the point learns its value the way every value arrives."""
        act = Asdu(
            TypeId.C_RD_NA_1,
            Cause.REQUEST,
            common_address,
            (ReadCommand(ioa),),
            self.settings.originator,
        )
        self.send_asdu(act)
        deadline = time.monotonic() + self.timeout

        def answers(a: Asdu) -> bool:
            if not _same_station(act, a) or not a.objects or a.objects[0].ioa != ioa:
                return False
            if a.type_id == TypeId.C_RD_NA_1:
                return a.negative or a.cause in _REFUSALS
            return a.cause == Cause.REQUEST and a.type_id < TypeId.C_SC_NA_1

        answer = self.next_asdu(answers, deadline, f"no answer to read of IOA {ioa}")
        if answer.type_id == TypeId.C_RD_NA_1:
            raise Iec104Refused(f"read of IOA {ioa}: {_cause_name(answer.cause)}", answer)
        self.others(AsduReceived(encode_asdu(answer)))
        return answer

    def command(self, command: Asdu, select: bool) -> CommandOutcome:
        """A command (its one object with `select` False), direct or select before operate:
        the outcome by the station's confirmations; a timeout or a refusal is an outcome,
        not an error of the link."""
        obj = command.objects[0]
        selects = hasattr(obj, "select")  # a bitstring command has no S/E: always direct
        try:
            if select and selects:
                self.activate(command._replace(objects=(obj._replace(select=True),)))
            if selects:
                command = command._replace(objects=(obj._replace(select=False),))
            answer = self.activate(command)
        except Iec104Refused as exc:
            return CommandOutcome(False, exc.detail, exc.answer)
        except Iec104TimeoutError as exc:
            return CommandOutcome(False, exc.detail)
        return CommandOutcome(True, "", answer)


def _same_station(act: Asdu, answer: Asdu) -> bool:
    """An answer comes from the addressed station (any, for a broadcast: c104 answers a
    GI to 65535 with its own common address)."""
    return act.common_address == BROADCAST or answer.common_address == act.common_address


def confirms(act: Asdu, answer: Asdu) -> bool:
    """Whether `answer` is the station's confirmation of `act`: the same type, station and
    address, with an actcon (positive or not) or one of the negative causes 44-47."""
    if answer.type_id != act.type_id or not _same_station(act, answer):
        return False
    if answer.cause != Cause.ACTIVATION_CON and answer.cause not in _REFUSALS:
        return False
    if not answer.objects or answer.objects[0].ioa != act.objects[0].ioa:
        return False
    sent = act.objects[0]
    got = answer.objects[0]
    # a select and its execute are the same command but for S/E: tell their answers apart
    return getattr(got, "select", None) == getattr(sent, "select", None) or answer.cause != 7


def open_link(stream: BlockingStream, settings: LinkSettings) -> Iec104ClientLink:
    """The handshake a connection passes before it counts as up: STARTDT and its con."""
    link = Iec104ClientLink(stream, settings)
    link.start_data_transfer()
    return link
