"""python-snap7's `ISOTCPConnection`: an ISO-on-TCP connection as a blocking Python API.

It is a thin face on `IsoLink`, the S7 use of the transport's link
driver, which does the I/O. Every blocking call has a timeout; failures are the
`S7Error` subclasses of `.client_link` (re-exported here), carrying snap7's
client error numbers.
"""

from __future__ import annotations

import enum
import socket
from types import TracebackType

from ...protocols.isotcp import IsoClientSession
from ...protocols.s7.constants import ClientError
from ...transport.link_stream import BlockingStream, open_connection
from ...transport.trace import speaks
from .client_link import (
    IsoLink,
    S7ConnectionError,
    S7NotConnectedError,
    S7TimeoutError,
    connection_error,
    not_connected,
    timeout_error,
)

__all__ = [
    "ISOTCPConnection",
    "TPDUSize",
    "S7ConnectionError",
    "S7TimeoutError",
    "S7NotConnectedError",
    "connection_error",
    "not_connected",
    "timeout_error",
]


class TPDUSize(enum.IntEnum):
    """COTP TPDU sizes as python-snap7 names them (the value is the exponent: 2**value)."""

    S_128 = 0x07
    S_256 = 0x08
    S_512 = 0x09
    S_1024 = 0x0A
    S_2048 = 0x0B
    S_4096 = 0x0C
    S_8192 = 0x0D


def tpdu_bytes(size: int) -> int:
    """A TPDU size given as an exponent code (7..13, TPDUSize) or in bytes (128..8192)."""
    return 1 << size if 7 <= size <= 13 else size


class ISOTCPConnection:
    """python-snap7's ISO-on-TCP connection (TPKT + COTP) as a blocking Python API.

    `remote_tsap` is a 2-byte int or a text TSAP such as `b"SIMATIC-ROOT-HMI"`;
    `tpdu_size` a `TPDUSize` (or a size in bytes). `receive_data` returns
    one whole S7 PDU, fragments joined. Errors are S7ConnectionError/S7TimeoutError
    with snap7's client error codes.
    """

    def __init__(
        self,
        host: str,
        port: int = 102,
        local_tsap: int = 0x0100,
        remote_tsap: int | bytes = 0x0102,
        tpdu_size: int = TPDUSize.S_1024,
    ) -> None:
        self.host = host
        self.port = port
        self.local_tsap = local_tsap
        self.remote_tsap = remote_tsap
        self.tpdu_size = tpdu_size
        self.timeout = 5.0
        self.socket: socket.socket | None = None
        self._link: IsoLink | None = None
        self._subnet_id: int | None = None
        self._routing_tsap: int | None = None

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<ISOTCPConnection {self.host}:{self.port} {state}>"

    @property
    def connected(self) -> bool:
        return self._link is not None and not self._link.closed

    @property
    def negotiated_tpdu_size(self) -> int:
        """TPDU size in bytes agreed with the peer (0 before connect)."""
        return self._link.session.tpdu_size if self._link is not None else 0

    @property
    def session(self) -> IsoClientSession | None:
        """The ISO session of the current connection (its CR and CC), for inspection."""
        return self._link.session if self._link is not None else None

    def set_routing(self, subnet_id: int, dest_rack: int, dest_slot: int) -> None:
        """Add S7 routing parameters to the next connection request (subnet, target rack/slot)."""
        if not 0 <= dest_rack <= 7 or not 0 <= dest_slot <= 31:
            raise ValueError(f"rack {dest_rack} / slot {dest_slot}: rack must be 0..7, slot 0..31")
        self._subnet_id = subnet_id & 0xFFFF
        self._routing_tsap = IsoClientSession.routing_tsap_for(dest_rack, dest_slot)

    def connect(self, timeout: float = 5.0) -> None:
        """TCP connect and COTP CR/CC within `timeout` seconds each."""
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.disconnect()
        self.timeout = timeout
        session = IsoClientSession(
            local_tsap=self.local_tsap,
            remote_tsap=self.remote_tsap,
            tpdu_size=tpdu_bytes(int(self.tpdu_size)),
            subnet_id=self._subnet_id,
            routing_tsap=self._routing_tsap,
        )
        speaks(self.port, 102, "S7comm")  # a trace shows the peer on ISO-on-TCP's port
        try:
            sock = open_connection(self.host, self.port, timeout)
        except TimeoutError as exc:
            raise timeout_error(
                ClientError.ConnectError, f"{self.host}:{self.port}: {exc}"
            ) from None
        except OSError as exc:
            raise connection_error(
                ClientError.ConnectError, f"{self.host}:{self.port}: {exc}"
            ) from None
        link = IsoLink(BlockingStream(sock, timeout), session, timeout)
        try:
            link.handshake()
        except BaseException:
            sock.close()
            raise
        self.socket = sock
        self._link = link

    def disconnect(self) -> None:
        """Send a DR and close; safe to call when not connected."""
        link, self._link = self._link, None
        self.socket = None
        if link is not None:
            if not link.closed:
                link.release()
            link.stream.close()

    def send_data(self, data: bytes) -> None:
        """Send one S7 PDU (split into DT TPDUs that fit the negotiated size)."""
        self._require().send_pdu(bytes(data))

    def receive_data(self) -> bytes:
        """The next S7 PDU, waiting at most `timeout` (the connect timeout)."""
        link = self._require()
        try:
            return link.receive_pdu()
        except OSError:
            self.disconnect()
            raise

    def data_available(self, timeout: float = 0.0) -> bool:
        """Whether a PDU (or any bytes of one) can be read now, waiting up to `timeout`."""
        link = self._link
        return link is not None and not link.closed and link.readable(timeout)

    def check_connection(self) -> bool:
        """False once the peer has closed or reset the connection (non-blocking peek)."""
        link = self._link
        if link is None or link.closed:
            return False
        if link.peer_closed():
            self.disconnect()
            return False
        return True

    def _require(self) -> IsoLink:
        link = self._link
        if link is None or link.closed:
            raise not_connected(f"{self.host}:{self.port}")
        return link

    def __enter__(self) -> ISOTCPConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()
