"""The IEC 104 link layer as a sans-IO `Framing` engine: sequence numbers, k/w flow
control, STARTDT/STOPDT, test frames and the t1/t2/t3 timers.

One class serves both ends; `role` says which. The controlled station (the server)
answers STARTDT/STOPDT act; the controlling station (the client) sends them with
`start()`/`stop()`. ASDUs go out with `send_pdu` and wait in a queue while data transfer
is stopped or k I-frames are unacknowledged; received ones come out as `AsduReceived`.

Time comes in as `now` (the transport's monotonic clock); `next_deadline()` says when
`handle_timer(now)` is next due. A broken rule (a wrong sequence number, t1 run out, an
I-frame while stopped) raises a `LinkError` whose `reason` says why and whose `events`
keeps what the same call had completed: the standard's answer is to close the connection,
and raising is how every engine of the contract tells its transport so.
"""

from __future__ import annotations

import enum
from collections import deque

import attrs

from ..contract import PduReceived
from .apci import SEQ_MODULUS, ApciDecoder, IFrame, SFrame, UFunction, i_frame, s_frame, u_frame
from .errors import ApciError, LinkError, NotStartedError, SequenceError, TimeoutExpired

__all__ = [
    "Acknowledged",
    "AsduReceived",
    "Iec104Link",
    "LinkEvent",
    "LinkParameters",
    "LinkState",
    "Role",
    "Started",
    "Stopped",
    "TestConfirmed",
]


class Role(enum.Enum):
    """Which end of the link an engine is."""

    CONTROLLED = "controlled"  # the station, usually the TCP server
    CONTROLLING = "controlling"  # the master, usually the TCP client


class LinkState(enum.Enum):
    """Data transfer state (a new connection starts STOPPED)."""

    STOPPED = "stopped"
    STARTING = "starting"  # controlling: STARTDT act sent, con awaited
    STARTED = "started"
    STOPPING = "stopping"  # STOPDT act sent (controlling) or received, unacknowledged I-frames left
    CLOSED = "closed"  # a rule was broken; the engine accepts nothing more


@attrs.frozen
class LinkParameters:
    """k, w and the timers in seconds, standard defaults (lib60870 uses t0 = 10 s).

    `t0` is the transport's connect timeout; the engine only carries it.
    """

    k: int = 12
    w: int = 8
    t0: float = 30.0
    t1: float = 15.0
    t2: float = 10.0
    t3: float = 20.0

    def __attrs_post_init__(self) -> None:
        if not (1 <= self.k <= 32767 and 1 <= self.w <= 32767):
            raise ValueError(f"k {self.k} and w {self.w} must be 1..32767")
        if min(self.t0, self.t1, self.t2, self.t3) <= 0:
            raise ValueError("the timers t0..t3 must be positive")
        if self.t2 >= self.t1:
            raise ValueError(f"t2 ({self.t2}) must be shorter than t1 ({self.t1})")


@attrs.frozen
class AsduReceived(PduReceived):
    """An I-frame arrived in order; `payload` is its ASDU (see `decode_asdu`)."""


@attrs.frozen
class Started:
    """Data transfer started: STARTDT con sent (controlled) or received (controlling)."""


@attrs.frozen
class Stopped:
    """Data transfer stopped: STOPDT con sent (controlled) or received (controlling)."""


@attrs.frozen
class Acknowledged:
    """The peer confirmed `count` more of our I-frames; `outstanding` are still unconfirmed."""

    count: int
    outstanding: int


@attrs.frozen
class TestConfirmed:
    """The peer answered our TESTFR act."""

    __test__ = False  # not a pytest class, whatever its name


LinkEvent = AsduReceived | Started | Stopped | Acknowledged | TestConfirmed

_M = SEQ_MODULUS
_ACT_OF = {UFunction.STARTDT_CON: UFunction.STARTDT_ACT, UFunction.STOPDT_CON: UFunction.STOPDT_ACT}


class Iec104Link:
    """One IEC 104 connection's link layer (see the module docstring)."""

    def __init__(
        self,
        role: Role = Role.CONTROLLED,
        parameters: LinkParameters | None = None,
        now: float | None = None,
    ) -> None:
        self.role = role
        self.parameters = parameters or LinkParameters()
        self.state = LinkState.STOPPED
        self.closed_reason: str | None = None
        self._decoder = ApciDecoder()
        self._out = bytearray()
        self._queue: deque[bytes] = deque()  # ASDUs not sent yet
        self._sent: deque[float] = deque()  # when each unacknowledged I-frame went, oldest first
        self._vs = 0  # N(S) of our next I-frame
        self._vr = 0  # N(S) we expect next
        self._acked = 0  # N(S) of our oldest unacknowledged I-frame
        self._received = 0  # I-frames received and not yet acknowledged
        self._ack_due: float | None = None  # t2
        self._waiting: dict[UFunction, float] = {}  # acts sent, con awaited (t1)
        self._known = now is not None
        self._now = now if now is not None else 0.0
        self._last_rx = self._now  # t3

    # --- what the object layer reads -------------------------------------------------

    @property
    def can_send(self) -> bool:
        """Not closed: `send_pdu` queues (it goes out once started and within k)."""
        return self.state is not LinkState.CLOSED

    @property
    def started(self) -> bool:
        """Data transfer is on: queued ASDUs go out."""
        return self.state is LinkState.STARTED

    @property
    def outstanding(self) -> int:
        """Our I-frames sent and not yet acknowledged (never more than k)."""
        return len(self._sent)

    @property
    def queued(self) -> int:
        """ASDUs waiting for STARTDT or for room under k."""
        return len(self._queue)

    @property
    def send_number(self) -> int:
        """V(S): the N(S) of our next I-frame."""
        return self._vs

    @property
    def receive_number(self) -> int:
        """V(R): the N(S) we expect next."""
        return self._vr

    # --- the contract ----------------------------------------------------------------

    def receive_data(self, data: bytes, now: float | None = None) -> list[LinkEvent]:
        """Feed received bytes (any chunking); return the events they complete."""
        now = self._clock(now)
        if self.state is LinkState.CLOSED:
            raise LinkError(f"link closed: {self.closed_reason}")
        events: list[LinkEvent] = []
        try:
            frames = self._decoder.feed(data)
        except ApciError as exc:
            self._closed(str(exc))
            raise
        if frames:
            self._last_rx = now
        for frame in frames:
            if type(frame) is IFrame:
                self._on_i(frame, now, events)
            elif type(frame) is SFrame:
                self._on_ack(frame.nr, now, events)
            else:
                self._on_u(frame.function, now, events)
        self._flush(now)
        return events

    @property
    def has_data_to_send(self) -> bool:
        """Bytes are queued for the peer: `data_to_send()` would return some."""
        return bool(self._out)

    def data_to_send(self) -> bytes:
        """Drain and return the bytes queued for the peer."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_deadline(self) -> float | None:
        """The earliest of t1 (oldest unacknowledged I-frame or act), t2 and t3."""
        if self.state is LinkState.CLOSED:
            return None
        t1 = self.parameters.t1
        waiting = self._waiting
        due = self._last_rx + self.parameters.t3  # idle: test the link...
        if waiting:
            if UFunction.TESTFR_ACT in waiting:
                due = waiting[UFunction.TESTFR_ACT] + t1  # ...unless a test is under way
            due = min(due, min(waiting.values()) + t1)
        if self._sent:
            due = min(due, self._sent[0] + t1)
        if self._ack_due is not None:
            due = min(due, self._ack_due)
        return due

    def handle_timer(self, now: float) -> list[LinkEvent]:
        """Fire what is due: close on t1, acknowledge on t2, test an idle link on t3."""
        now = self._clock(now)
        if self.state is LinkState.CLOSED:
            return []
        t1 = self.parameters.t1
        if self._sent and self._sent[0] + t1 <= now:
            self._fail(TimeoutExpired, f"t1: I-frame {self._acked} unacknowledged for {t1} s", [])
        for function, since in self._waiting.items():
            if since + t1 <= now:
                self._fail(TimeoutExpired, f"t1: no answer to {function.name} in {t1} s", [])
        if self._ack_due is not None and self._ack_due <= now:
            self._acknowledge()
        if UFunction.TESTFR_ACT not in self._waiting and self._last_rx + self.parameters.t3 <= now:
            self._act(UFunction.TESTFR_ACT, now)
        return []

    # --- what the object layer does --------------------------------------------------

    def send_pdu(self, pdu: bytes, now: float | None = None) -> None:
        """Queue one ASDU; it goes out at once if data transfer is on and fewer than k
        I-frames are unacknowledged, else when that becomes true."""
        if self.state is LinkState.CLOSED:
            raise LinkError(f"link closed: {self.closed_reason}")
        if not 1 <= len(pdu) <= 249:
            raise ApciError(f"an ASDU of {len(pdu)} bytes does not fit an APDU (1..249)")
        self._queue.append(pdu)
        self._flush(self._clock(now))

    def start(self, now: float | None = None) -> None:
        """Controlling station: send STARTDT act (`Started` follows its con)."""
        self._controlling("start")
        if self.state in (LinkState.STOPPED, LinkState.STOPPING):
            self.state = LinkState.STARTING
            self._act(UFunction.STARTDT_ACT, self._clock(now))

    def stop(self, now: float | None = None) -> None:
        """Controlling station: send STOPDT act (`Stopped` follows its con)."""
        self._controlling("stop")
        if self.state in (LinkState.STARTED, LinkState.STARTING):
            self.state = LinkState.STOPPING
            self._acknowledge()
            self._act(UFunction.STOPDT_ACT, self._clock(now))

    def test(self, now: float | None = None) -> None:
        """Send TESTFR act now (unless one is already waiting); `TestConfirmed` follows."""
        if self.state is not LinkState.CLOSED and UFunction.TESTFR_ACT not in self._waiting:
            self._act(UFunction.TESTFR_ACT, self._clock(now))

    def acknowledge(self) -> None:
        """Send an S-frame now for received I-frames not yet acknowledged (if any)."""
        if self.state is not LinkState.CLOSED:
            self._acknowledge()

    # --- internals -------------------------------------------------------------------

    def _clock(self, now: float | None) -> float:
        if now is None:
            return self._now
        if not self._known:  # the first real reading: move what ran on the placeholder 0.0
            self._known = True
            shift = now - self._now
            self._sent = deque(t + shift for t in self._sent)
            self._waiting = {f: t + shift for f, t in self._waiting.items()}
            if self._ack_due is not None:
                self._ack_due += shift
            self._last_rx += shift
        self._now = now
        return now

    def _controlling(self, what: str) -> None:
        if self.role is not Role.CONTROLLING:
            raise ValueError(f"only the controlling station may {what} data transfer")
        if self.state is LinkState.CLOSED:
            raise LinkError(f"link closed: {self.closed_reason}")

    def _closed(self, reason: str) -> None:
        self.state = LinkState.CLOSED
        self.closed_reason = reason
        self._queue.clear()

    def _fail(self, kind: type[LinkError], reason: str, events: list) -> None:  # type: ignore[type-arg]
        self._closed(reason)
        raise kind(reason, events)

    def _act(self, function: UFunction, now: float) -> None:
        self._out += u_frame(function)
        self._waiting[function] = now

    def _acknowledge(self) -> None:
        if self._received:
            self._out += s_frame(self._vr)
            self._received = 0
            self._ack_due = None

    def _flush(self, now: float) -> None:
        """Send queued ASDUs while started and under k."""
        queue = self._queue
        if not queue or self.state is not LinkState.STARTED:
            return
        room = self.parameters.k - len(self._sent)
        if room <= 0:
            return
        out, sent, vs, vr = self._out, self._sent, self._vs, self._vr
        for _ in range(min(room, len(queue))):
            out += i_frame(vs, vr, queue.popleft())
            sent.append(now)
            vs = (vs + 1) % _M
        self._vs = vs
        self._received = 0  # every I-frame carries N(R)
        self._ack_due = None

    def _on_i(self, frame: IFrame, now: float, events: list) -> None:  # type: ignore[type-arg]
        state = self.state
        if state is not LinkState.STARTED and (
            self.role is Role.CONTROLLED or state is LinkState.STOPPED
        ):
            self._fail(NotStartedError, f"I-frame received while {state.value}", events)
        if frame.ns != self._vr:
            self._fail(SequenceError, f"I-frame N(S) {frame.ns}, expected {self._vr}", events)
        self._on_ack(frame.nr, now, events)
        self._vr = (self._vr + 1) % _M
        self._received += 1
        if self._received == 1:
            self._ack_due = now + self.parameters.t2
        if self._received >= self.parameters.w or state is LinkState.STOPPING:
            self._acknowledge()
        events.append(AsduReceived(frame.asdu))

    def _on_ack(self, nr: int, now: float, events: list) -> None:  # type: ignore[type-arg]
        outstanding = len(self._sent)
        count = (nr - self._acked) % _M
        if count > outstanding:
            self._fail(
                SequenceError,
                f"N(R) {nr} acknowledges I-frames never sent (oldest {self._acked}, next "
                f"{self._vs})",
                events,
            )
        if count:
            sent = self._sent
            for _ in range(count):
                sent.popleft()
            self._acked = nr
            events.append(Acknowledged(count, outstanding - count))
            if not sent and self.state is LinkState.STOPPING and self.role is Role.CONTROLLED:
                self._stop_confirmed(events)

    def _on_u(self, function: UFunction, now: float, events: list) -> None:  # type: ignore[type-arg]
        controlled = self.role is Role.CONTROLLED
        if function is UFunction.TESTFR_ACT:
            self._out += u_frame(UFunction.TESTFR_CON)
        elif function is UFunction.TESTFR_CON:
            if self._waiting.pop(UFunction.TESTFR_ACT, None) is not None:
                events.append(TestConfirmed())
        elif function is UFunction.STARTDT_ACT or function is UFunction.STOPDT_ACT:
            if not controlled:
                self._fail(LinkError, f"{function.name} from the controlled station", events)
            if function is UFunction.STARTDT_ACT:
                self._out += u_frame(UFunction.STARTDT_CON)
                if self.state is not LinkState.STARTED:
                    self.state = LinkState.STARTED
                    events.append(Started())
            elif self.state is LinkState.STOPPED:
                self._out += u_frame(UFunction.STOPDT_CON)
            else:
                self.state = LinkState.STOPPING
                if not self._sent:
                    self._stop_confirmed(events)
        elif not controlled:  # a con to our act; an unexpected con is ignored
            if self._waiting.pop(_ACT_OF[function], None) is None:
                return
            if function is UFunction.STARTDT_CON and self.state is LinkState.STARTING:
                self.state = LinkState.STARTED
                events.append(Started())
            elif function is UFunction.STOPDT_CON and self.state is LinkState.STOPPING:
                self.state = LinkState.STOPPED
                events.append(Stopped())

    def _stop_confirmed(self, events: list) -> None:  # type: ignore[type-arg]
        self._acknowledge()
        self._out += u_frame(UFunction.STOPDT_CON)
        self.state = LinkState.STOPPED
        events.append(Stopped())
