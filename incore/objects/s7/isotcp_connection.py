"""ISO-on-TCP links: python-snap7's ``ISOTCPConnection`` as a blocking API, and the
``IsoLink`` that S7Client's worker thread uses for the same job.

Both wrap the sans-IO :class:`IsoClientSession` around a socket from
:mod:`incore.transport`; every blocking call has a timeout. Failures are
:class:`S7Error` subclasses carrying snap7's client error numbers, and they are also
``ConnectionError``/``TimeoutError`` (so ``OSError``): a transport treats them as "this
connection is gone", which is what they mean.
"""
from __future__ import annotations

import enum
import select
import socket
import time
from collections import deque
from types import TracebackType

from ...protocols.errors import ProtocolError, S7Error
from ...protocols.isotcp import IsoClientSession, IsoConnected, IsoData, IsoDisconnected
from ...protocols.s7.constants import ClientError, client_error_text
from ...transport.sockets import ConnectionClosedError, ReceiveTimeoutError, SendTimeoutError
from ...transport.tcp_client import BlockingStream, open_connection

__all__ = ["ISOTCPConnection", "IsoLink", "TPDUSize", "S7ConnectionError", "S7TimeoutError",
           "S7NotConnectedError", "connection_error", "timeout_error"]


class TPDUSize(enum.IntEnum):
    """COTP TPDU sizes as python-snap7 names them (the value is the exponent: 2**value)."""

    S_128 = 0x07
    S_256 = 0x08
    S_512 = 0x09
    S_1024 = 0x0A
    S_2048 = 0x0B
    S_4096 = 0x0C
    S_8192 = 0x0D


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
    return S7NotConnectedError(ClientError.ConnectError, client_error_text(ClientError.ConnectError),
                               f"{where}: not connected")


def tpdu_bytes(size: int) -> int:
    """A TPDU size given as an exponent code (7..13, TPDUSize) or in bytes (128..8192)."""
    return 1 << size if 7 <= size <= 13 else size


class IsoLink:
    """One established-or-establishing ISO connection over a :class:`BlockingStream`.

    ``timeout`` bounds every wait (the connection confirm, each reply, each send).
    PDUs that arrive without being asked for are queued and returned by the next
    :meth:`receive_pdu`, so nothing is lost.
    """

    def __init__(self, stream: BlockingStream, session: IsoClientSession, timeout: float) -> None:
        self.stream = stream
        self.session = session
        self.timeout = timeout
        self.where = f"{stream.peer[0]}:{stream.peer[1]}"
        self._inbox: deque[bytes] = deque()

    @property
    def closed(self) -> bool:
        return self.stream.closed

    @property
    def pending(self) -> bool:
        """A whole PDU has been received and not yet returned."""
        return bool(self._inbox)

    def handshake(self) -> None:
        """Send the CR and wait for the CC (ConnectError if refused or not answered)."""
        self.session.connect()
        try:
            self._flush()
            deadline = time.monotonic() + self.timeout
            while not self._pump(deadline, connecting=True):
                pass
        except S7Error as exc:  # whatever went wrong, the connection was not established
            code = ClientError.ConnectError
            raise type(exc)(code, client_error_text(code), exc.detail) from None

    def send_pdu(self, pdu: bytes) -> None:
        try:
            self.session.send_pdu(pdu)
        except ProtocolError as exc:
            raise connection_error(ClientError.SendPacket, f"{self.where}: {exc}") from None
        self._flush()

    def receive_pdu(self, timeout: float | None = None) -> bytes:
        """The next S7 PDU (DT fragments joined), waiting at most ``timeout``."""
        return self._next_pdu(time.monotonic() + (self.timeout if timeout is None else timeout))

    def exchange(self, pdu: bytes) -> bytes:
        """Send one request PDU and return the PDU that answers it (S7 is one-at-a-time, so
        anything received before the request was sent can not be its answer).

        A request that fits one frame is sent as one, and a reply that arrives as exactly
        one whole frame is taken as it is: the session's queue and events are for the rest.
        """
        if self._inbox:
            self._inbox.clear()
        frame = self.session.frame_pdu(pdu)
        if frame is None:
            self.send_pdu(pdu)
            return self.receive_pdu()
        deadline = time.monotonic() + self.timeout
        self._send(frame)
        data = self._recv(self.timeout)
        payload = self.session.whole_payload(data)
        if payload is not None:
            return payload
        if data:
            self._feed(data, connecting=False)
        return self._next_pdu(deadline)

    def probe(self) -> None:
        """Raise S7ConnectionError if the peer has closed; costs at most a millisecond."""
        data = self._recv(0.001, spin=False)
        if data:
            self._feed(data, connecting=False)

    def release(self) -> None:
        """Send a DR (best effort, short timeout); the owner closes the stream."""
        try:
            self.session.disconnect()
            out = self.session.data_to_send()
            if out and not self.stream.closed:
                self.stream.send(out, timeout=min(self.timeout, 0.5))
        except (OSError, ProtocolError):
            pass

    # -- internals -------------------------------------------------------------------

    def _next_pdu(self, deadline: float) -> bytes:
        while not self._inbox:
            self._pump(deadline)
        return self._inbox.popleft()

    def _flush(self) -> None:
        out = self.session.data_to_send()
        if out:
            self._send(out)

    def _send(self, out: bytes) -> None:
        try:
            self.stream.send(out, self.timeout)
        except SendTimeoutError:
            raise timeout_error(ClientError.SendPacket,
                                f"{self.where}: send timed out after {self.timeout:g} s") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise connection_error(ClientError.SendPacket, f"{self.where}: {reason}") from None

    def _pump(self, deadline: float, connecting: bool = False) -> bool:
        """Receive once (until ``deadline``) and feed the session; True once connected."""
        left = deadline - time.monotonic()
        if left <= 0:
            what = "no connection confirm" if connecting else "no answer"
            raise timeout_error(ClientError.JobTimeout,
                                f"{self.where}: {what} within {self.timeout:g} s")
        data = self._recv(left)
        return self._feed(data, connecting) if data else False

    def _recv(self, timeout: float, spin: bool = True) -> bytes:
        """Whatever arrives within ``timeout`` (b"" if nothing did)."""
        try:
            return self.stream.recv_some(timeout, spin)
        except ReceiveTimeoutError:
            return b""
        except ConnectionClosedError:
            raise connection_error(ClientError.RecvPacket, f"{self.where}: closed by the peer") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise connection_error(ClientError.RecvPacket, f"{self.where}: {reason}") from None

    def _feed(self, data: bytes, connecting: bool) -> bool:
        try:
            events = self.session.receive_data(data)
        except ProtocolError as exc:
            raise connection_error(ClientError.InvalidPDU, f"{self.where}: {exc}") from None
        up = False
        for event in events:
            if isinstance(event, IsoData):
                self._inbox.append(event.payload)
            elif isinstance(event, IsoConnected):
                up = True
            elif isinstance(event, IsoDisconnected):
                self._flush_quietly()
                raise connection_error(ClientError.RecvPacket,
                                       f"{self.where}: connection released by the peer")
        return up

    def _flush_quietly(self) -> None:
        try:
            self._flush()
        except OSError:
            pass


class ISOTCPConnection:
    """python-snap7's ISO-on-TCP connection (TPKT + COTP) as a blocking Python API.

    ``remote_tsap`` is a 2-byte int or a text TSAP such as ``b"SIMATIC-ROOT-HMI"``;
    ``tpdu_size`` a :class:`TPDUSize` (or a size in bytes). ``receive_data`` returns
    one whole S7 PDU, fragments joined. Errors are S7ConnectionError/S7TimeoutError
    with snap7's client error codes.
    """

    def __init__(self, host: str, port: int = 102, local_tsap: int = 0x0100,
                 remote_tsap: int | bytes = 0x0102, tpdu_size: int = TPDUSize.S_1024) -> None:
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
        """TCP connect and COTP CR/CC within ``timeout`` seconds each."""
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.disconnect()
        self.timeout = timeout
        session = IsoClientSession(local_tsap=self.local_tsap, remote_tsap=self.remote_tsap,
                                   tpdu_size=tpdu_bytes(int(self.tpdu_size)),
                                   subnet_id=self._subnet_id, routing_tsap=self._routing_tsap)
        try:
            sock = open_connection(self.host, self.port, timeout)
        except TimeoutError as exc:
            raise timeout_error(ClientError.ConnectError, f"{self.host}:{self.port}: {exc}") from None
        except OSError as exc:
            raise connection_error(ClientError.ConnectError, f"{self.host}:{self.port}: {exc}") from None
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
        """The next S7 PDU, waiting at most ``timeout`` (the connect timeout)."""
        link = self._require()
        try:
            return link.receive_pdu()
        except OSError:
            self.disconnect()
            raise

    def data_available(self, timeout: float = 0.0) -> bool:
        """Whether a PDU (or any bytes of one) can be read now, waiting up to ``timeout``."""
        link = self._link
        if link is None or link.closed:
            return False
        if link.pending:
            return True
        readable, _, _ = select.select([self.socket], [], [], max(0.0, timeout))
        return bool(readable)

    def check_connection(self) -> bool:
        """False once the peer has closed or reset the connection (non-blocking peek)."""
        link, sock = self._link, self.socket
        if link is None or link.closed or sock is None:
            return False
        try:
            sock.setblocking(False)
            try:
                alive = bool(sock.recv(1, socket.MSG_PEEK))
            finally:
                sock.setblocking(True)
        except BlockingIOError:
            return True
        except OSError:
            alive = False
        if not alive:
            self.disconnect()
        return alive

    def _require(self) -> IsoLink:
        link = self._link
        if link is None or link.closed:
            raise not_connected(f"{self.host}:{self.port}")
        return link

    def __enter__(self) -> "ISOTCPConnection":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.disconnect()
