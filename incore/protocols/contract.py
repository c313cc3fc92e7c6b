"""The one shape every sans-IO protocol engine in incore has, so a transport can drive any
of them without knowing which protocol it carries.

A protocol engine never touches a socket, a thread or a clock: bytes and the time are its
inputs, events, bytes to send and its next deadline are its outputs. That is what lets the
same engine run on a connection thread, under asyncio, in a fuzzer or in a test that plays
both ends in one process. (h11 and aioquic are built the same way.)

Three shapes, one for each place an engine sits:

* `StreamEngine` talks to a byte stream (TCP): `receive_data` takes whatever
  `recv` returned, in any chunking, and `data_to_send` drains what to write.
  `Framing` is a stream engine that also carries the PDUs of a layer above it
  (TPKT/COTP carries S7 PDUs; MBAP will carry Modbus PDUs, APCI IEC 104 ASDUs).
* `PduEngine` is such an upper layer: one whole PDU in, the PDUs it answers out.
  `Stack` puts one on a framing engine, and the pair is a
  plain `StreamEngine` again.
* `Exchange` is a client's request/response operation: request bytes out, the
  reply in, then the next request or the result. `run` drives one with any blocking
  `transfer(request) -> reply`.

Time is an input like bytes: `now` is a reading of the transport's monotonic clock in
seconds (the engine only compares and adds). An engine with timers (IEC 104's t1/t2/t3)
says when it next needs the clock with `next_deadline()`, and the transport calls
`handle_timer(now)` once that time has come; engines without timers inherit
`Untimed`, so one transport loop serves both. Every method may raise
`ProtocolError` for bytes it cannot accept; the transport
then drops the connection.

A client with one request under way also says which reply is the answer (`ReplyMatch`): a
reply to an earlier request (a duplicate a gateway sent twice, or one that came after its
request timed out) is `Reply.STALE` and dropped, while one that answers nothing asked
(`Reply.FOREIGN`) means the stream is out of step and the connection must be closed.
`sequence_verdict` is that rule for S7 PDU references, Modbus transaction ids and IEC 104
sequence numbers alike.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

import attrs

__all__ = [
    "Exchange",
    "Framing",
    "PduEngine",
    "PduReceived",
    "Reply",
    "ReplyMatch",
    "StreamEngine",
    "Untimed",
    "run",
    "sequence_verdict",
]

E_co = TypeVar("E_co", covariant=True)
T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")


@runtime_checkable
class StreamEngine(Protocol[E_co]):
    """One connection's protocol over a byte stream: bytes and time in, events and bytes out."""

    def receive_data(self, data: bytes, now: float | None = None) -> list[E_co]:
        """Feed bytes as they arrived (any chunking gives the same events); return the events
        they complete. `now` is when they arrived; `None` means "no later than the last
        time I was given", which is all an engine without timers ever needs."""
        ...

    def data_to_send(self) -> bytes:
        """Drain and return the bytes to write to the peer (`b""` if none)."""
        ...

    def next_deadline(self) -> float | None:
        """When `handle_timer` must next be called (`None`: no timer is running)."""
        ...

    def handle_timer(self, now: float) -> list[E_co]:
        """The clock reached `now`: fire what is due and return the events it caused."""
        ...


@attrs.frozen
class PduReceived:
    """A framing engine's event that carries one whole PDU of the layer above it.

    A `Stack` hands every event of this class (subclasses
    included, such as `IsoData`) to its PDU engine.
    """

    payload: bytes


@runtime_checkable
class Framing(StreamEngine[E_co], Protocol[E_co]):
    """A stream engine that carries the PDUs of an upper layer.

    Received PDUs come out as `PduReceived` events; `send_pdu` queues one PDU
    for `data_to_send`, framed (and split, if it has to be) as the protocol wants.
    """

    @property
    def can_send(self) -> bool:
        """The connection is up: `send_pdu` would queue (and not raise)."""
        ...

    def send_pdu(self, pdu: bytes) -> None: ...


@runtime_checkable
class PduEngine(Protocol[E_co]):
    """A protocol that lives on whole PDUs a framing engine delivers (S7 over COTP)."""

    def receive_pdu(self, pdu: bytes, now: float | None = None) -> list[E_co]:
        """Handle one whole PDU; return the events it caused (its answer goes to
        `pdus_to_send`)."""
        ...

    def pdus_to_send(self) -> list[bytes]:
        """Drain and return the PDUs to send, in order."""
        ...

    def next_deadline(self) -> float | None: ...

    def handle_timer(self, now: float) -> list[E_co]: ...


@runtime_checkable
class Exchange(Protocol[T_co]):
    """A client operation: send `request`, `feed` it the reply, repeat while
    `feed` returns a next request; then `done` is true and `result` holds
    the outcome. Failures raise from `feed` (the protocol's own error type)."""

    @property
    def request(self) -> bytes | None: ...

    @property
    def done(self) -> bool: ...

    @property
    def result(self) -> T_co | None: ...

    def feed(self, reply: bytes) -> bytes | None: ...


class Untimed:
    """The timer half of the contract for an engine that has no timers (COTP class 0, S7):
    inheriting it says so, and lets one transport loop drive every engine alike."""

    __slots__ = ()

    def next_deadline(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> list:  # type: ignore[type-arg]
        return []


def run(operation: Exchange[T], transfer: Callable[[bytes], bytes]) -> T:
    """Drive an `Exchange` to its result with a blocking `transfer(request) -> reply`
    (which owns the socket, the framing and the timeout)."""
    request = operation.request
    while request is not None:
        request = operation.feed(transfer(request))
    return operation.result  # type: ignore[return-value]


class Reply(enum.Enum):
    """What a received reply is to the request under way."""

    MINE = "mine"  # its answer
    STALE = "stale"  # the answer to an earlier request: drop it (and count it), keep waiting
    FOREIGN = "foreign"  # answers nothing asked, or is no reply at all: the link is out of step


#: `match(request, reply)`: how a client protocol tells its answer from other replies.
ReplyMatch = Callable[[bytes, bytes], Reply]


def sequence_verdict(got: int, expected: int, modulus: int, window: int) -> Reply:
    """`got` against the `expected` number of a counter that wraps at `modulus`: the same
    is MINE, up to `window` numbers behind is STALE, anything else (ahead, or far behind) is
    FOREIGN. `window` is how many earlier requests may still be answered late."""
    if got == expected:
        return Reply.MINE
    return Reply.STALE if 0 < (expected - got) % modulus <= window else Reply.FOREIGN
