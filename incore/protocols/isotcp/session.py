"""Sans-IO ISO-on-TCP sessions: connection set-up, data transfer, release.

Both sessions are `Framing` engines: feed received
bytes to `receive_data`, act on the returned events, and write whatever
`data_to_send` returns; `send_pdu` queues an S7 PDU, and every received one
comes out as an `IsoData` event. COTP class 0 has no timers (TCP retransmits; the
peers' timeouts are their transports'), so the sessions are
`Untimed`. Nothing here touches a socket, so the same
code serves threads, asyncio or a fuzzer.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable

import attrs

from ..contract import PduReceived, Untimed
from ..errors import SessionError
from .cotp import (
    DT,
    EOT,
    ConnectionConfirm,
    ConnectionRequest,
    DataTransfer,
    DisconnectConfirm,
    DisconnectRequest,
    DtReassembler,
    decode_tpdu,
    tpdu_size_bytes,
    tpdu_size_code,
    tsap,
)
from .tpkt import TpktDecoder, encode_tpkt

__all__ = [
    "IsoState",
    "IsoConnected",
    "IsoData",
    "IsoDisconnected",
    "IsoEvent",
    "IsoClientSession",
    "IsoServerSession",
    "DEFAULT_TPDU_SIZE",
    "DEFAULT_MAX_PDU",
]

#: ISO 8073 says a CC without the 0xC0 parameter means 128-byte TPDUs.
ISO_DEFAULT_TPDU = 128
DEFAULT_TPDU_SIZE = 1024
#: Cap for reassembled S7 PDUs (S7 PDUs are at most 960 bytes on real CPUs).
DEFAULT_MAX_PDU = 1 << 16

#: TPKT header + the 3-byte header of a last (EOT) DT, written in one go.
_DT_FRAME = struct.Struct(">BBHBBB")


class IsoState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


@attrs.frozen
class IsoConnected:
    """The connection is up; `tpdu` is the peer's CR (server) or CC (client)."""

    tpdu: ConnectionRequest | ConnectionConfirm


@attrs.frozen
class IsoData(PduReceived):
    """One complete S7 PDU (DT fragments already joined) in `payload`."""


@attrs.frozen
class IsoDisconnected:
    """The peer released the connection with a DR (or confirmed ours with DC)."""

    reason: int | None


IsoEvent = IsoConnected | IsoData | IsoDisconnected


class _IsoSession(Untimed):
    """Framing, reassembly and the outbound buffer shared by both roles."""

    def __init__(self, max_pdu: int) -> None:
        self._decoder = TpktDecoder()
        self._reassembler = DtReassembler(max_pdu)
        self._outbox = bytearray()
        self.state = IsoState.IDLE
        self.tpdu_size = ISO_DEFAULT_TPDU
        self.local_ref = 0x0001
        self.remote_ref = 0x0000

    @property
    def can_send(self) -> bool:
        """Connected: `send_pdu` would queue the PDU rather than raise."""
        return self.state is IsoState.CONNECTED

    def data_to_send(self) -> bytes:
        """Drain and return the bytes queued for the peer."""
        out = bytes(self._outbox)
        self._outbox.clear()
        return out

    def frame_pdu(self, pdu: bytes) -> bytes | None:
        """The whole frame of a PDU that fits one DT, to send at once; None if it does not
        fit (or the connection is not up): then queue it with `send_pdu`."""
        if len(pdu) > self.tpdu_size - 3 or self.state is not IsoState.CONNECTED:
            return None
        return _DT_FRAME.pack(3, 0, len(pdu) + 7, 2, DT, EOT) + pdu

    def whole_payload(self, data: bytes) -> bytes | None:
        """The PDU of `data` if it is exactly one whole, unfragmented DT and nothing is
        half-received; None otherwise (then feed it to `receive_data`)."""
        size = len(data)
        if (
            size > 7
            and data[2] << 8 | data[3] == size
            and data[0] == 3
            and data[4] == 2
            and data[5] == DT
            and data[6] & EOT
            and self.state is IsoState.CONNECTED
            and self._decoder.idle
            and not self._reassembler.pending
            and size - 7 <= self._reassembler.max_size
        ):
            return data[7:]
        return None

    def send_pdu(self, pdu: bytes) -> None:
        """Queue one S7 PDU, split into DT fragments that fit the TPDU size."""
        if self.state is not IsoState.CONNECTED:
            raise SessionError(f"cannot send data in state {self.state.value}")
        room = self.tpdu_size - 3
        if len(pdu) <= room:  # the common case: one DT (its TPKT length fits, room < 8192)
            self._outbox += _DT_FRAME.pack(3, 0, len(pdu) + 7, 2, DT, EOT)
            self._outbox += pdu
            return
        for pos in range(0, len(pdu), room):
            chunk = pdu[pos : pos + room]
            self._outbox += encode_tpkt(DataTransfer(chunk, eot=pos + room >= len(pdu)).encode())

    def disconnect(self, reason: int = 0) -> None:
        """Queue a DR and close; sending data afterwards is an error."""
        if self.state in (IsoState.CONNECTED, IsoState.CONNECTING):
            self._queue(DisconnectRequest(self.remote_ref, self.local_ref, reason))
        self.state = IsoState.CLOSED

    def receive_data(self, data: bytes, now: float | None = None) -> list[IsoEvent]:
        """Feed received bytes (in any chunking); return the events they complete.

        `now` is the contract's arrival time; class 0 keeps no timers, so it is unused.
        """
        payload = self.whole_payload(data)
        if payload is not None:
            return [IsoData(bytes(payload))]
        events: list[IsoEvent] = []
        for frame in self._decoder.feed(data):
            if self.state is IsoState.CLOSED:
                raise SessionError("data received after the connection was released")
            event = self._handle(decode_tpdu(frame))
            if event is not None:
                events.append(event)
        return events

    def _queue(
        self, tpdu: ConnectionRequest | ConnectionConfirm | DisconnectRequest | DisconnectConfirm
    ) -> None:
        self._outbox += encode_tpkt(tpdu.encode())

    def _handle_common(self, tpdu: object) -> IsoEvent | None:
        """DT, DR and DC are treated alike by both roles once connected."""
        if isinstance(tpdu, DataTransfer):
            if self.state is not IsoState.CONNECTED:
                raise SessionError(f"DT received in state {self.state.value}")
            whole = self._reassembler.feed(tpdu)
            return None if whole is None else IsoData(whole)
        if isinstance(tpdu, DisconnectRequest):
            if self.state is IsoState.CONNECTED:
                self._queue(DisconnectConfirm(self.remote_ref, self.local_ref))
            self.state = IsoState.CLOSED
            return IsoDisconnected(tpdu.reason)
        if isinstance(tpdu, DisconnectConfirm):
            self.state = IsoState.CLOSED
            return IsoDisconnected(None)
        raise SessionError(f"unexpected {type(tpdu).__name__} in state {self.state.value}")

    def _handle(self, tpdu: object) -> IsoEvent | None:  # pragma: no cover - overridden
        raise NotImplementedError


class IsoClientSession(_IsoSession):
    """Client role: sends a CR, waits for the CC, then exchanges DTs.

    `remote_tsap` may be a 2-byte int or a text TSAP such as
    `b"SIMATIC-ROOT-HMI"`; `subnet_id`/`routing_tsap` add the S7 routing
    parameters exactly as python-snap7's `set_routing` does.
    """

    def __init__(
        self,
        *,
        local_tsap: int | bytes | str = 0x0100,
        remote_tsap: int | bytes | str = 0x0102,
        tpdu_size: int = DEFAULT_TPDU_SIZE,
        src_ref: int = 0x0001,
        subnet_id: int | None = None,
        routing_tsap: int | None = None,
        max_pdu: int = DEFAULT_MAX_PDU,
    ) -> None:
        super().__init__(max_pdu)
        self.local_ref = src_ref
        self.request = ConnectionRequest(
            src_ref=src_ref,
            tpdu_size=tpdu_size_code(tpdu_size),
            calling_tsap=tsap(local_tsap),
            called_tsap=tsap(remote_tsap),
            subnet_id=subnet_id,
            routing_tsap=routing_tsap,
        )
        self.confirm: ConnectionConfirm | None = None

    @staticmethod
    def routing_tsap_for(rack: int, slot: int) -> int:
        """Routed target TSAP in python-snap7's layout (PG type, rack, slot)."""
        return 0x0100 | (rack << 5) | slot

    def connect(self) -> None:
        """Queue the CR."""
        if self.state is not IsoState.IDLE:
            raise SessionError(f"connect() in state {self.state.value}")
        self._queue(self.request)
        self.state = IsoState.CONNECTING

    def _handle(self, tpdu: object) -> IsoEvent | None:
        if self.state is IsoState.CONNECTING:
            if isinstance(tpdu, ConnectionConfirm):
                if tpdu.tpdu_size is not None:
                    self.tpdu_size = min(
                        tpdu_size_bytes(tpdu.tpdu_size),
                        self.request.tpdu_bytes or DEFAULT_TPDU_SIZE,
                    )
                self.remote_ref = tpdu.src_ref
                self.confirm = tpdu
                self.state = IsoState.CONNECTED
                return IsoConnected(tpdu)
            if isinstance(tpdu, DisconnectRequest):
                self.state = IsoState.CLOSED
                raise SessionError(
                    f"connection refused by the peer (DR reason 0x{tpdu.reason:02X})"
                )
            raise SessionError(f"expected CC, received {type(tpdu).__name__}")
        return self._handle_common(tpdu)


class IsoServerSession(_IsoSession):
    """Server role: answers a CR with a CC, then unwraps DTs and handles DR.

    The CC echoes the requested TPDU size (capped at `max_tpdu_size`) and the
    calling/called TSAPs, as real CPUs do.  `accept` may veto a CR (for
    example a TSAP filter); a vetoed CR is answered with DR reason 0x03
    ("address unknown") and `SessionError` is raised.
    """

    def __init__(
        self,
        *,
        src_ref: int = 0x0001,
        max_tpdu_size: int = 8192,
        max_pdu: int = DEFAULT_MAX_PDU,
        accept: Callable[[ConnectionRequest], bool] | None = None,
    ) -> None:
        super().__init__(max_pdu)
        self.local_ref = src_ref
        self.max_tpdu_code = tpdu_size_code(max_tpdu_size)
        self.accept = accept
        self.request: ConnectionRequest | None = None

    def _handle(self, tpdu: object) -> IsoEvent | None:
        if self.state is IsoState.IDLE:
            if not isinstance(tpdu, ConnectionRequest):
                raise SessionError(f"expected CR, received {type(tpdu).__name__}")
            self.remote_ref = tpdu.src_ref
            if self.accept is not None and not self.accept(tpdu):
                self._queue(DisconnectRequest(tpdu.src_ref, self.local_ref, 0x03))
                self.state = IsoState.CLOSED
                raise SessionError("connection request refused")
            code = tpdu.tpdu_size
            if code is None or not 7 <= code <= 13:
                code = (
                    tpdu_size_code(ISO_DEFAULT_TPDU)
                    if code is None
                    else tpdu_size_code(DEFAULT_TPDU_SIZE)
                )
            code = min(code, self.max_tpdu_code)
            self.tpdu_size = tpdu_size_bytes(code)
            self.request = tpdu
            self._queue(
                ConnectionConfirm(
                    src_ref=self.local_ref,
                    dst_ref=tpdu.src_ref,
                    class_option=0,
                    tpdu_size=code,
                    calling_tsap=tpdu.calling_tsap,
                    called_tsap=tpdu.called_tsap,
                )
            )
            self.state = IsoState.CONNECTED
            return IsoConnected(tpdu)
        if isinstance(tpdu, ConnectionRequest):
            raise SessionError("second CR on an established connection")
        return self._handle_common(tpdu)
