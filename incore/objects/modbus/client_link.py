"""A Modbus TCP client's connection: MBAP requests on the transport's `Link`, with retries.

Modbus TCP has no handshake: a connection is up once TCP is. What this module adds to
`Link` is the client's request discipline:

- every request goes out with a fresh transaction id, and only the answer carrying that id
  (and the request's unit) is taken. A reply to an earlier request (a duplicate, or the late
  answer of an attempt that timed out) is dropped and counted in `stale`; a reply whose id
  answers nothing we asked fails the link (contract `Reply`/`sequence_verdict`, the rule S7
  keeps with its PDU references), so a late answer never lands in the wrong register;
- a request unanswered within `timeout` is sent again, with a new id, up to `retries` times;
  when the last attempt times out too the link fails (`ModbusTimeoutError`) and the client
  reconnects: a peer that answers nothing four times running is gone, or half-open;
- an exception answer is a `ModbusException` for that request only; an answer that does not
  fit its request (`ModbusPduError`) means the stream is out of step: the link fails;
- `exchange_many` pipelines up to `max_pending` requests, for servers that take them (many,
  pymodbus's among them, answer only the first of a segment: hence 1 by default).

Its failures are `OSError`s carrying the client's `Error` number (`code`), so the worker
closes the stream and the client reports and reconnects, as for S7.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Sequence

import attrs

from ...protocols.contract import PduReceived, Reply, Untimed, sequence_verdict
from ...protocols.modbus.errors import ModbusException, ModbusPduError
from ...protocols.modbus.mbap import HEADER, MAX_LENGTH, MIN_LENGTH, MbapDecoder, frame_adu
from ...protocols.modbus.pdu import Request
from ...transport.link import Failure, Link
from ...transport.link_stream import BlockingStream

__all__ = [
    "ClientError",
    "LinkSettings",
    "ModbusConnectionError",
    "ModbusLink",
    "ModbusNotConnectedError",
    "ModbusTimeoutError",
    "AduFraming",
    "error_text",
    "open_link",
    "STALE_WINDOW",
]

#: How many earlier transaction ids may still be answered late (dropped, not a fault).
STALE_WINDOW = 64
#: The unit id of a request that names none: "this device" on TCP.
DEFAULT_UNIT = 255


class ClientError(enum.IntEnum):
    """The client's error numbers, as Qt's QModbusDevice numbers them (what InCore wraps)."""

    NoError = 0
    ReadError = 1
    WriteError = 2
    ConnectionError = 3
    ConfigurationError = 4
    TimeoutError = 5
    ProtocolError = 6
    ReplyAbortedError = 7
    UnknownError = 8


_TEXTS = {
    ClientError.NoError: "No error",
    ClientError.ReadError: "Read error",
    ClientError.WriteError: "Write error",
    ClientError.ConnectionError: "Connection error",
    ClientError.ConfigurationError: "Configuration error",
    ClientError.TimeoutError: "Timeout error",
    ClientError.ProtocolError: "Protocol error",
    ClientError.ReplyAbortedError: "Reply aborted",
    ClientError.UnknownError: "Unknown error",
}


def error_text(code: int) -> str:
    """The text of a `ClientError` number."""
    return _TEXTS.get(ClientError(code), "Unknown error")


class ModbusConnectionError(ConnectionError):
    """The connection failed or is gone, or its answers no longer pair with its requests."""

    def __init__(self, detail: str, code: int = ClientError.ConnectionError) -> None:
        super().__init__(detail)
        self.code = int(code)
        self.detail = detail


class ModbusNotConnectedError(ModbusConnectionError):
    """A request needed a connection and there is none (nothing was sent)."""


class ModbusTimeoutError(TimeoutError):
    """No answer within the timeout (after every retry), or a send that did not go out."""

    def __init__(self, detail: str, failure: Failure = Failure.TIMEOUT) -> None:
        super().__init__(detail)
        self.code = int(ClientError.TimeoutError)
        self.detail = detail
        self.failure = failure


def modbus_failure(failure: Failure, detail: str) -> OSError:
    """The link's error policy: the client's error numbers."""
    if failure in (Failure.TIMEOUT, Failure.SEND_TIMEOUT):
        return ModbusTimeoutError(detail, failure)
    code = ClientError.ProtocolError if failure is Failure.PROTOCOL else ClientError.ConnectionError
    return ModbusConnectionError(detail, code)


class AduFraming(Untimed):
    """MBAP framing whose PDUs are whole ADUs (header included), so that a reply's
    transaction and unit ids reach the `Link`'s reply matching. A contract `Framing` with
    `QuickFraming`'s shortcut: a request is sent as it is, and a receive that is exactly
    one whole frame is taken without the decoder."""

    __slots__ = ("_decoder", "_outbox")

    def __init__(self) -> None:
        self._decoder = MbapDecoder()
        self._outbox = bytearray()

    @property
    def can_send(self) -> bool:
        return True

    def send_pdu(self, pdu: bytes) -> None:
        self._outbox += pdu

    def data_to_send(self) -> bytes:
        out = bytes(self._outbox)
        self._outbox.clear()
        return out

    def receive_data(self, data: bytes, now: float | None = None) -> list[PduReceived]:
        return [PduReceived(frame_adu(t, u, p)) for t, u, p in self._decoder.feed(data)]

    def frame_pdu(self, pdu: bytes) -> bytes | None:
        return pdu

    def whole_payload(self, data: bytes) -> bytes | None:
        if len(data) < 7 or not self._decoder.idle:
            return None
        _, protocol, length, _ = HEADER.unpack_from(data)
        if protocol or len(data) != length + 6 or not MIN_LENGTH <= length <= MAX_LENGTH:
            return None
        return data


@attrs.frozen
class LinkSettings:
    """What a connection needs, captured on the loop thread when connecting starts."""

    host: str
    port: int
    timeout: float  # seconds, per attempt
    retries: int = 3
    max_pending: int = 1


class ModbusLink(Link[PduReceived]):
    """One Modbus TCP connection: requests by transaction id, retries, pipelining."""

    __slots__ = ("retries", "max_pending", "_tid")

    def __init__(
        self, stream: BlockingStream, timeout: float, retries: int = 3, max_pending: int = 1
    ) -> None:
        super().__init__(stream, AduFraming(), timeout, fail=modbus_failure)
        self.retries = retries
        self.max_pending = max(1, max_pending)
        self._tid = 0

    def _next_tid(self) -> int:
        self._tid = (self._tid + 1) & 0xFFFF
        return self._tid

    # -- one request -----------------------------------------------------------------------
    def exchange(self, unit: int, request: Request) -> tuple[object, bytes]:
        """Send `request` to `unit` and return (its result, the answer PDU); raises the
        request's `ModbusException`, or fails the link (an OSError)."""
        attempt = 0
        while True:
            self._tid = tid = (self._tid + 1) & 0xFFFF
            try:
                reply = self.transfer_matched(frame_adu(tid, unit, request.pdu), _match)
                break
            except ModbusTimeoutError as exc:
                if exc.failure is not Failure.TIMEOUT or attempt == self.retries:
                    raise self._gave_up(exc, attempt) from None
                attempt += 1
        answer = reply[7:]
        try:
            return request.decode(answer), answer
        except ModbusPduError as exc:  # the stream is out of step with our requests
            raise self._out_of_step(exc) from None

    def request(self, unit: int, request: Request) -> object:
        """The result of one request (see `exchange`)."""
        return self.exchange(unit, request)[0]

    # -- several requests, pipelined ---------------------------------------------------------
    def exchange_many(
        self, items: Sequence[tuple[int, Request]]
    ) -> list[tuple[object, bytes] | ModbusException]:
        """Every (unit, request) answered: (result, answer PDU) or its `ModbusException`,
        in the order given, with up to `max_pending` requests in flight at once."""
        if self.max_pending == 1 or len(items) < 2:
            out: list[tuple[object, bytes] | ModbusException] = []
            for unit, request in items:
                try:
                    out.append(self.exchange(unit, request))
                except ModbusException as exc:
                    out.append(exc)
            return out
        return self._pipelined(items)

    def _pipelined(
        self, items: Sequence[tuple[int, Request]]
    ) -> list[tuple[object, bytes] | ModbusException]:
        results: list = [None] * len(items)
        attempts = [0] * len(items)
        todo = deque(range(len(items)))
        flying: dict[int, int] = {}  # tid -> item, oldest first
        while self._inbox:  # received before these requests went out: not their answers
            self._inbox.popleft()
            self._dropped_stale()
        while todo or flying:
            frames = []
            while todo and len(flying) < self.max_pending:
                index = todo.popleft()
                tid = self._next_tid()
                flying[tid] = index
                frames.append(frame_adu(tid, items[index][0], items[index][1].pdu))
            if frames:
                self.send(b"".join(frames))  # one segment, as a pipelining server reads them
            try:
                reply = self.receive_pdu()
            except ModbusTimeoutError as exc:  # every request in flight had its time
                for index in flying.values():
                    attempts[index] += 1
                    if attempts[index] > self.retries:
                        raise self._gave_up(exc, self.retries) from None
                todo.extendleft(reversed(flying.values()))
                flying.clear()
                continue
            tid, unit = int.from_bytes(reply[:2], "big"), reply[6]
            index = flying.pop(tid, -1)
            if index < 0 and (self._tid - tid) % 0x10000 <= STALE_WINDOW:
                self._dropped_stale()  # answered already, or an attempt given up on
                continue
            if index < 0 or unit != items[index][0]:
                self.flush_quietly()
                raise self.fail(Failure.PROTOCOL, f"{self.where}: a reply that answers no request")
            request = items[index][1]
            try:
                results[index] = (self._decoded(request, reply[7:]), reply[7:])
            except ModbusException as exc:
                results[index] = exc
        return results

    # -- details -----------------------------------------------------------------------------
    def _decoded(self, request: Request, answer: bytes) -> object:
        try:
            return request.decode(answer)
        except ModbusPduError as exc:  # the stream is out of step with our requests
            raise self._out_of_step(exc) from None

    def _out_of_step(self, exc: ModbusPduError) -> ModbusConnectionError:
        return ModbusConnectionError(f"{self.where}: {exc}", ClientError.ProtocolError)

    def _gave_up(self, exc: ModbusTimeoutError, retries: int) -> ModbusTimeoutError:
        if exc.failure is not Failure.TIMEOUT or not retries:
            return exc
        return ModbusTimeoutError(f"{exc.detail} ({retries} retries)", exc.failure)

    def probe(self) -> None:
        """Raise ModbusConnectionError if the peer has closed the connection (never waits)."""
        if self.peer_closed():
            raise ModbusConnectionError(f"{self.where}: closed by the peer")


def _match_tid(got: int, expected: int) -> Reply:
    return sequence_verdict(got, expected, 0x10000, STALE_WINDOW)


def _match(request: bytes, reply: bytes) -> Reply:
    """The contract's `ReplyMatch` for Modbus: by transaction id; the same id from another
    unit answers nothing we asked."""
    if reply[:2] == request[:2] and reply[6] == request[6]:  # the answer, as nearly always
        return Reply.MINE
    verdict = _match_tid(int.from_bytes(reply[:2], "big"), int.from_bytes(request[:2], "big"))
    if verdict is Reply.MINE and reply[6] != request[6]:
        return Reply.FOREIGN
    return verdict


def open_link(stream: BlockingStream, settings: LinkSettings) -> ModbusLink:
    """The link on a fresh TCP stream (Modbus TCP has no handshake)."""
    return ModbusLink(stream, settings.timeout, settings.retries, settings.max_pending)
