"""Driving a sans-IO protocol engine over a connected stream: incore's one receive loop.

An engine (`StreamEngine`) turns received bytes into
events and queues the bytes it wants sent; it has no socket and no clock. `Link` lends it
both: it writes what the engine queued, receives with a deadline until the event a caller
waits for comes, and fires the engine's timers when they are due. It knows no protocol, so
S7 clients, the Modbus and IEC 104 clients to come and the test servers all receive here.

A request/response exchange with a nearby PLC takes tens of microseconds, so two things
keep the common case short. Receives spin briefly before sleeping (see
`incore.transport.spin`). And a `Framing` engine that
offers `QuickFraming`'s two methods has a small request framed in one go and a reply
that arrives as exactly one whole frame taken straight from the recv, without the event
objects (ISO-on-TCP does: almost every S7 reply is one DT in one segment).

What went wrong is reported through `fail`, the owner's policy: S7 turns each
`Failure` into snap7's numbered errors, the default into transport errors. Either
way it is an OSError: the link is unusable, and ClientWorker closes it.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, NoReturn, Protocol, TypeVar

from incore.protocols.contract import PduReceived, Reply, ReplyMatch, StreamEngine, Untimed
from incore.protocols.errors import ProtocolError
from incore.transport.link_stream import BlockingStream
from incore.transport.sockets import ConnectionClosedError, ReceiveTimeoutError, SendTimeoutError

__all__ = ["Failure", "Fail", "Link", "LinkError", "QuickFraming", "transport_failure"]

E = TypeVar("E")

log = logging.getLogger(__name__)

_monotonic = time.monotonic  # one global lookup on the hot path, not two

#: How long a goodbye (what an engine queues when it closes) may take to send, at most.
GOODBYE_TIMEOUT = 0.5


class Failure(enum.Enum):
    """How a link failed, for the owner's error policy."""

    SEND = "send"  # the send failed (reset, closed), or the engine refused to queue a PDU
    SEND_TIMEOUT = "send timeout"  # the peer did not take the bytes within the timeout
    RECEIVE = "receive"  # the peer closed, or the receive failed
    TIMEOUT = "timeout"  # the awaited event did not come before the deadline
    PROTOCOL = "protocol"  # the engine raised ProtocolError (bad bytes, or a timer gave up)


#: An owner's error policy: (how, "host:port: what happened") -> the exception to raise.
Fail = Callable[[Failure, str], OSError]


class LinkError(ConnectionError):
    """A link failed (the default policy); `failure` says how, the cause is chained."""

    def __init__(self, failure: Failure, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure


def transport_failure(failure: Failure, detail: str) -> OSError:
    """The default policy: the transport's timeout errors, else `LinkError`."""
    if failure is Failure.TIMEOUT:
        return ReceiveTimeoutError(detail)
    if failure is Failure.SEND_TIMEOUT:
        return SendTimeoutError(detail)
    return LinkError(failure, detail)


class QuickFraming(Protocol):
    """What a framing engine may offer so that a link takes the common case short."""

    def frame_pdu(self, pdu: bytes) -> bytes | None:
        """The whole frame of `pdu` if it fits one (else None: queue it with send_pdu)."""
        ...

    def whole_payload(self, data: bytes) -> bytes | None:
        """The PDU of `data` if it is exactly one whole frame the engine would turn into
        one PduReceived and nothing else (else None: feed it to receive_data)."""
        ...


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


class Link(Generic[E]):
    """One connection: a `BlockingStream` and the engine that speaks on it.

    `timeout` bounds each wait (for an event, for each send). Events come out in the
    order they were received; those a wait did not want go to `others` (by default
    they are kept in `held`), so nothing is lost. Used by one thread at a time.
    """

    __slots__ = (
        "stream",
        "engine",
        "timeout",
        "where",
        "fail",
        "others",
        "held",
        "_inbox",
        "_timed",
        "_quick",
        "_whole",
        "stale",
    )

    def __init__(
        self,
        stream: BlockingStream,
        engine: StreamEngine[E],
        timeout: float,
        *,
        fail: Fail = transport_failure,
        others: Callable[[E], None] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.stream = stream
        self.engine = engine
        self.timeout = timeout
        self.where = f"{stream.peer[0]}:{stream.peer[1]}"
        self.fail = fail
        self.held: list[E] = []
        self.stale = 0  # replies `transfer_matched` dropped as answers to earlier requests
        self.others: Callable[[E], None] = others if others is not None else self.held.append
        self._inbox: deque[E] = deque()
        # An Untimed engine is never asked for the clock: one check less per receive.
        self._timed = not isinstance(engine, Untimed)
        # QuickFraming's methods, if the engine has them; transfer() frames in one go (and
        # takes one receive as the whole answer) only with both, and with no timer to run.
        self._whole: Callable[[bytes], bytes | None] | None = getattr(engine, "whole_payload", None)
        self._quick: Callable[[bytes], bytes | None] | None = (
            getattr(engine, "frame_pdu", None) if self._whole and not self._timed else None
        )

    def __repr__(self) -> str:
        return f"<Link {self.where} {type(self.engine).__name__}{' closed' if self.closed else ''}>"

    @property
    def closed(self) -> bool:
        return self.stream.closed

    @property
    def pending(self) -> bool:
        """Events have been received and not yet taken."""
        return bool(self._inbox)

    # -- sending ---------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Send `data` as it is (a frame already made) within the timeout."""
        try:
            self.stream.send(data, self.timeout)
        except OSError as exc:
            raise self._send_failed(exc) from exc

    def flush(self) -> None:
        """Send whatever the engine has queued."""
        out = self.engine.data_to_send()
        if out:
            self.send(out)

    def send_pdu(self, pdu: bytes) -> None:
        """Queue one PDU with a framing engine, and send it."""
        try:
            self.engine.send_pdu(pdu)  # type: ignore[attr-defined]
        except ProtocolError as exc:
            raise self.fail(Failure.SEND, f"{self.where}: {exc}") from exc
        self.flush()

    def flush_quietly(self, timeout: float = GOODBYE_TIMEOUT) -> None:
        """Send what the engine queued, if the stream takes it within `timeout` (at most
        the link's): for a goodbye, which must never fail or hold up a close."""
        try:
            out = self.engine.data_to_send()
            if out and not self.stream.closed:
                self.stream.send(out, min(self.timeout, timeout))
        except (OSError, ProtocolError):
            pass

    # -- receiving -------------------------------------------------------------------------
    def next_event(self, deadline: float | None = None, missing: str = "no answer") -> E:
        """The next event, receiving until one comes; the `fail` policy's TIMEOUT error
        ("host:port: <missing> within <timeout> s") once `deadline` (a time.monotonic()
        reading; default: the timeout from now) has passed."""
        inbox = self._inbox
        if not inbox:
            if deadline is None:
                deadline = _monotonic() + self.timeout
            while not inbox:
                data = self._wait(deadline, missing)
                if data:
                    self._feed(data)
        return inbox.popleft()

    def wait_for(
        self, wanted: Callable[[E], bool], deadline: float | None = None, missing: str = "no answer"
    ) -> E:
        """The first event `wanted` accepts; the ones before it go to `others`."""
        if deadline is None:
            deadline = _monotonic() + self.timeout
        while True:
            event = self.next_event(deadline, missing)
            if wanted(event):
                return event
            self.others(event)

    def receive_pdu(self, deadline: float | None = None) -> bytes:
        """The payload of the next `PduReceived` (a framing engine's); the events
        before it go to `others`."""
        inbox, whole = self._inbox, self._whole
        if deadline is None:
            deadline = _monotonic() + self.timeout
        while True:
            while inbox:
                event = inbox.popleft()
                if isinstance(event, PduReceived):
                    return event.payload
                self.others(event)
            data = self._wait(deadline, "no answer")
            if data:
                if whole is not None:
                    payload = whole(data)
                    if payload is not None:
                        return payload
                self._feed(data)

    def transfer(self, pdu: bytes) -> bytes:
        """Send one request PDU and return the next PDU received: its answer, for a protocol
        that has one request under way at a time (S7, Modbus). Whatever was received before
        the request went out can not be that answer; it goes to `others` first."""
        inbox = self._inbox
        while inbox:
            self.others(inbox.popleft())
        return self._round_trip(pdu)

    def transfer_matched(self, pdu: bytes, match: ReplyMatch) -> bytes:
        """`transfer`, taking only the request's own answer: a reply `match` calls STALE (a
        duplicate, or an answer that came after its request gave up) is dropped and counted
        in `stale` while the wait goes on, within the same timeout; a FOREIGN one fails the
        link (Failure.PROTOCOL), since the stream no longer pairs requests with replies."""
        inbox = self._inbox
        while inbox:  # received before the request went out: not its answer
            event = inbox.popleft()
            if isinstance(event, PduReceived):
                self._dropped_stale()
            else:
                self.others(event)
        reply = self._round_trip(pdu)
        if match(pdu, reply) is Reply.MINE:
            return reply
        return self._match_late(pdu, reply, match, _monotonic() + self.timeout)

    def _round_trip(self, pdu: bytes) -> bytes:
        """Send `pdu` and return the next PDU received, within the timeout."""
        quick = self._quick
        frame = quick(pdu) if quick is not None else None
        if frame is None:
            deadline = _monotonic() + self.timeout
            self.send_pdu(pdu)
            return self.receive_pdu(deadline)
        # The common case, written out (this is every S7 and Modbus request): one send, and
        # one receive that brings the whole answer; the clock is read only when it does not.
        stream, timeout = self.stream, self.timeout
        started = _monotonic()
        try:
            stream.send(frame, timeout)
        except OSError as exc:
            raise self._send_failed(exc) from exc
        try:
            data = stream.recv_some(timeout)
        except ReceiveTimeoutError:
            data = b""
        except OSError as exc:
            raise self._receive_failed(exc) from exc
        if data:
            payload = self._whole(data)  # type: ignore[misc]  (there with _quick)
            if payload is not None:
                return payload
            self._feed(data)
        return self.receive_pdu(started + timeout)

    def _match_late(self, pdu: bytes, reply: bytes, match: ReplyMatch, deadline: float) -> bytes:
        """After a reply that is not the request's own: drop stale ones until it comes."""
        while True:
            verdict = match(pdu, reply)
            if verdict is Reply.MINE:
                return reply
            if verdict is not Reply.STALE:
                self.flush_quietly()
                raise self.fail(Failure.PROTOCOL, f"{self.where}: a reply that answers no request")
            self._dropped_stale()
            reply = self.receive_pdu(deadline)

    def _dropped_stale(self) -> None:
        self.stale += 1
        if self.stale == 1:
            log.warning("%s: dropped a reply to an earlier request (and count them)", self.where)

    def poll(self) -> list[E]:
        """Without waiting: fire the timers that are due, take what has arrived, and return
        every event not yet taken (for a connection that listens between requests)."""
        if self._timed:
            now = _monotonic()
            due = self.engine.next_deadline()
            if due is not None and due <= now:
                self._fire(now)
        try:
            data = self.stream.recv_now()
        except OSError as exc:
            raise self._receive_failed(exc) from exc
        if data:
            self._feed(data)
        events = list(self._inbox)
        self._inbox.clear()
        return events

    def take_events(self) -> list[E]:
        """Every event received and not yet taken, without receiving more."""
        events = list(self._inbox)
        self._inbox.clear()
        return events

    def seconds_to_timer(self) -> float | None:
        """How long until the engine's next timer is due (<= 0: now), None if none runs."""
        if not self._timed:
            return None
        due = self.engine.next_deadline()
        return None if due is None else due - _monotonic()

    def readable(self, timeout: float = 0.0) -> bool:
        """Whether an event or bytes can be taken now, waiting up to `timeout`."""
        return bool(self._inbox) or self.stream.readable(timeout)

    def peer_closed(self) -> bool:
        """True once the peer has closed or reset the connection (consumes nothing)."""
        return self.stream.peer_closed()

    # -- internals -------------------------------------------------------------------------
    def _wait(self, deadline: float, missing: str) -> bytes:
        """Receive once, until `deadline` or the engine's next timer, firing that when it
        is due: the bytes received (b"" if none came)."""
        now = _monotonic()
        if self._timed:
            due = self.engine.next_deadline()
            if due is not None and due < deadline:
                if due <= now:
                    self._fire(now)
                    return b""
                return self._recv(due - now)
        left = deadline - now
        if left <= 0:
            raise self.fail(Failure.TIMEOUT, f"{self.where}: {missing} within {self.timeout:g} s")
        return self._recv(left)

    def _recv(self, wait: float) -> bytes:
        try:
            return self.stream.recv_some(wait)
        except ReceiveTimeoutError:
            return b""
        except OSError as exc:
            raise self._receive_failed(exc) from exc

    def _send_failed(self, exc: OSError) -> OSError:
        if isinstance(exc, SendTimeoutError):
            return self.fail(
                Failure.SEND_TIMEOUT, f"{self.where}: send timed out after {self.timeout:g} s"
            )
        return self.fail(Failure.SEND, f"{self.where}: {_reason(exc)}")

    def _receive_failed(self, exc: OSError) -> OSError:
        reason = "closed by the peer" if isinstance(exc, ConnectionClosedError) else _reason(exc)
        return self.fail(Failure.RECEIVE, f"{self.where}: {reason}")

    def _feed(self, data: bytes) -> None:
        """Hand received bytes to the engine, keep its events, send what it queued."""
        engine = self.engine
        try:
            events = (
                engine.receive_data(data, _monotonic())
                if self._timed
                else engine.receive_data(data)
            )
        except ProtocolError as exc:
            self._refused(exc)
        if events:
            self._inbox.extend(events)
        out = engine.data_to_send()
        if out:
            self.send(out)

    def _fire(self, now: float) -> None:
        try:
            events = self.engine.handle_timer(now)
        except ProtocolError as exc:
            self._refused(exc)
        if events:
            self._inbox.extend(events)
        self.flush()

    def _refused(self, exc: ProtocolError) -> NoReturn:
        """The engine gave up on the connection: what it queued first (a DR, a reason) still
        goes out, then the link fails."""
        self.flush_quietly()
        raise self.fail(Failure.PROTOCOL, f"{self.where}: {exc}") from exc
