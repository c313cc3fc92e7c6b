"""The S7 side of one client connection, run on S7Client's worker thread.

`open_link` is the handshake ClientWorker.connect runs before a connection counts as up:
COTP CR/CC, S7 setup communication (PDU size), then the PLC's identity (SZL 0x001C) for
moduleName/moduleTypeName/serialNumber. `S7Link.call` drives one sans-IO operation.
"""
from __future__ import annotations

from typing import Callable, TypeVar

import attrs

from ...protocols.errors import S7Error
from ...protocols.isotcp import IsoClientSession
from ...protocols.s7 import CpuInfo, Operation, S7ClientProtocol, run
from ...protocols.s7.client import fail
from ...protocols.s7.constants import ClientError
from ...transport.tcp_client import BlockingStream
from .isotcp_connection import IsoLink, not_connected

__all__ = ["LinkSettings", "S7Link", "open_link", "remote_tsap_for", "run_on"]

T = TypeVar("T")


#: A rack and a slot share a byte of the remote TSAP: 3 bits and 5 bits.
MAX_RACK = 7
MAX_SLOT = 31


def remote_tsap_for(connection_type: int, rack: int, slot: int) -> int:
    """snap7's remote TSAP: connection type in the high byte, then rack (3 bits), slot (5)."""
    if not 0 <= rack <= MAX_RACK or not 0 <= slot <= MAX_SLOT:
        raise fail(ClientError.InvalidParams, f"rack {rack} / slot {slot}: rack must be "
                                              f"0..{MAX_RACK}, slot 0..{MAX_SLOT}")
    return (connection_type << 8) | (rack << 5) | slot


@attrs.frozen
class LinkSettings:
    """What a connection needs, captured on the loop thread when connecting starts."""

    host: str
    port: int
    local_tsap: int
    remote_tsap: int | bytes
    timeout: float
    pdu_request: int = 480


class S7Link:
    """An established S7 connection: the ISO link and the protocol engine state."""

    def __init__(self, iso: IsoLink, protocol: S7ClientProtocol) -> None:
        self.iso = iso
        self.protocol = protocol
        self.identity: CpuInfo | None = None

    @property
    def closed(self) -> bool:
        return self.iso.closed

    @property
    def pdu_size(self) -> int:
        return self.protocol.pdu_size

    def call(self, operation: Operation[T]) -> T:
        return run(operation, self.iso.exchange)


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
    """Build and run one operation on ``link``, the client's link when the job runs."""
    if link is None or link.closed:
        raise not_connected(where)
    return link.call(make(link.protocol))
