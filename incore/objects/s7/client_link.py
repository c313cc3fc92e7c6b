"""An S7 client's connection: S7 over ISO-on-TCP on the transport's `Link`.

The link (incore.transport.link) does the I/O; this module says what it means for S7:
snap7's numbered client errors, the COTP CR/CC handshake, the DR on release, and which
events end a connection. ISOTCPConnection (python-snap7's API) and S7Client's worker both
use it. `open_link` is the handshake ClientWorker.connect runs before a connection counts
as up: COTP, S7 setup communication (PDU size), then the PLC's identity (SZL 0x001C) for
moduleName/moduleTypeName/serialNumber. `S7Link.call` drives one sans-IO operation.

The errors are `S7Error` subclasses carrying snap7's client error numbers, and also
`ConnectionError`/`TimeoutError` (so `OSError`): a transport treats them as "this
connection is gone", which is what they mean.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import attrs

from ...protocols.errors import ProtocolError, S7Error
from ...protocols.isotcp import IsoClientSession, IsoConnected, IsoDisconnected, IsoEvent
from ...protocols.s7 import CpuInfo, Operation, S7ClientProtocol, run
from ...protocols.s7.client import fail
from ...protocols.s7.client_session import match_reply
from ...protocols.s7.constants import ClientError, client_error_text
from ...transport.link import Failure, Link
from ...transport.link_stream import BlockingStream

__all__ = [
    "IsoLink",
    "LinkSettings",
    "S7ConnectionError",
    "S7Link",
    "S7NotConnectedError",
    "S7TimeoutError",
    "connection_error",
    "not_connected",
    "open_link",
    "remote_tsap_for",
    "run_on",
    "s7_failure",
    "timeout_error",
]

T = TypeVar("T")


class S7ConnectionError(S7Error, ConnectionError):
    """The ISO connection failed or is gone (connect refused, reset, closed, bad framing)."""


class S7TimeoutError(S7Error, TimeoutError):
    """The peer did not answer (or accept) within the timeout."""


class S7NotConnectedError(S7ConnectionError):
    """An operation needed a connection and there is none (nothing was sent)."""


def connection_error(code: int, detail: str) -> S7ConnectionError:
    return S7ConnectionError(code, client_error_text(code), detail)


def timeout_error(code: int, detail: str) -> S7TimeoutError:
    return S7TimeoutError(code, client_error_text(code), detail)


def not_connected(where: str) -> S7NotConnectedError:
    return S7NotConnectedError(
        ClientError.ConnectError,
        client_error_text(ClientError.ConnectError),
        f"{where}: not connected",
    )


#: How a link failure reads as snap7 reports it: its error number, and which kind of error.
_S7_FAILURES: dict[Failure, tuple[int, Callable[[int, str], S7Error]]] = {
    Failure.SEND: (ClientError.SendPacket, connection_error),
    Failure.SEND_TIMEOUT: (ClientError.SendPacket, timeout_error),
    Failure.RECEIVE: (ClientError.RecvPacket, connection_error),
    Failure.TIMEOUT: (ClientError.JobTimeout, timeout_error),
    Failure.PROTOCOL: (ClientError.InvalidPDU, connection_error),
}


def s7_failure(failure: Failure, detail: str) -> S7ConnectionError | S7TimeoutError:
    """The link's error policy for S7: snap7's client error numbers and texts."""
    code, make = _S7_FAILURES[failure]
    return make(code, detail)  # type: ignore[return-value]


def _is_connected(event: IsoEvent) -> bool:
    return isinstance(event, IsoConnected)


class IsoLink(Link[IsoEvent]):
    """A link carrying S7 PDUs over ISO-on-TCP, failing with snap7's numbered errors.

    `exchange(pdu)` is one S7 request and its answer (S7 has one under way at a time).
    A received PDU nobody waited for can only be stale, and is dropped; a DR from the
    peer ends the connection with RecvPacket.
    """

    __slots__ = ()

    def __init__(self, stream: BlockingStream, session: IsoClientSession, timeout: float) -> None:
        super().__init__(stream, session, timeout, fail=s7_failure, others=self._other)

    @property
    def session(self) -> IsoClientSession:
        return self.engine  # type: ignore[return-value]

    def handshake(self) -> None:
        """Send the CR and wait for the CC (ConnectError if refused or not answered)."""
        self.session.connect()
        try:
            self.flush()
            self.wait_for(_is_connected, missing="no connection confirm")
        except S7Error as exc:  # whatever went wrong, the connection was not established
            code = ClientError.ConnectError
            raise type(exc)(code, client_error_text(code), exc.detail) from None

    exchange = Link.transfer

    def probe(self) -> None:
        """Raise S7ConnectionError if the peer has closed or released; never waits."""
        for event in self.poll():
            self._other(event)

    def release(self) -> None:
        """Send a DR (best effort, short timeout); the owner closes the stream."""
        try:
            self.session.disconnect()
        except ProtocolError:
            return
        self.flush_quietly()

    def _other(self, event: IsoEvent) -> None:
        if isinstance(event, IsoDisconnected):
            raise connection_error(
                ClientError.RecvPacket, f"{self.where}: connection released by the peer"
            )


@attrs.frozen
class LinkSettings:
    """What a connection needs, captured on the loop thread when connecting starts."""

    host: str
    port: int
    local_tsap: int
    remote_tsap: int | bytes
    timeout: float
    pdu_request: int = 480


#: A rack and a slot share a byte of the remote TSAP: 3 bits and 5 bits.
MAX_RACK = 7
MAX_SLOT = 31


def remote_tsap_for(connection_type: int, rack: int, slot: int) -> int:
    """snap7's remote TSAP: connection type in the high byte, then rack (3 bits), slot (5)."""
    if not 0 <= rack <= MAX_RACK or not 0 <= slot <= MAX_SLOT:
        raise fail(
            ClientError.InvalidParams,
            f"rack {rack} / slot {slot}: rack must be 0..{MAX_RACK}, slot 0..{MAX_SLOT}",
        )
    return (connection_type << 8) | (rack << 5) | slot


class S7Link:
    """An established S7 connection: the ISO link and the protocol engine state."""

    def __init__(self, iso: IsoLink, protocol: S7ClientProtocol) -> None:
        self.iso = iso
        self.protocol = protocol
        self.identity: CpuInfo | None = None

    def _transfer(self, pdu: bytes) -> bytes:
        return self.iso.transfer_matched(pdu, match_reply)

    @property
    def closed(self) -> bool:
        return self.iso.closed

    @property
    def pdu_size(self) -> int:
        return self.protocol.pdu_size

    @property
    def stale(self) -> int:
        """Replies dropped as answers to earlier requests (see `Link.transfer_matched`)."""
        return self.iso.stale

    def call(self, operation: Operation[T]) -> T:
        return run(operation, self._transfer)


def open_link(stream: BlockingStream, settings: LinkSettings) -> S7Link:
    """Handshake on a fresh TCP stream; raises S7Error (ConnectError, NegotiatingPDU...)."""
    session = IsoClientSession(local_tsap=settings.local_tsap, remote_tsap=settings.remote_tsap)
    iso = IsoLink(stream, session, settings.timeout)
    iso.handshake()
    link = S7Link(iso, S7ClientProtocol(pdu_request=settings.pdu_request))
    link.call(link.protocol.setup_communication())
    try:
        link.identity = link.call(link.protocol.get_cpu_info())
    except OSError:  # S7ConnectionError/S7TimeoutError: the connection itself failed
        raise
    except S7Error:
        link.identity = None  # a PLC that refuses SZL 0x001C is still a PLC
    return link


def run_on(link: S7Link | None, where: str, make: Callable[[S7ClientProtocol], Operation[T]]) -> T:
    """Build and run one operation on `link`, the client's link when the job runs."""
    if link is None or link.closed:
        raise not_connected(where)
    return link.call(make(link.protocol))
