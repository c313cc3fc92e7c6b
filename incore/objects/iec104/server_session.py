"""One IEC 104 client of an IEC104Server: the link engine over its connection.

A `StationSession` is the TcpServer's handler for one connection (a `TimedHandler`: the
link's t1/t2/t3 come in as `deadline()`/`timer_expired`). Only the worker serving the
connection touches the link engine and the socket. Other threads reach it through its
`EventBuffer`: the loop pushes events and replies there and calls `wake()`, which makes the
deadline "now" (`Connection.reschedule`), so the worker hands them to the link.

ASDUs go from the buffer to the link only while data transfer is on and fewer than k are
unacknowledged, so the link's own queue stays empty and the buffer alone decides what waits
and what is pushed out. A broken link rule, bad framing or an ASDU that cannot be read
closes this connection only (logged); every other client keeps its data.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ...protocols.errors import ProtocolError
from ...protocols.iec104 import AsduReceived, Iec104Link, Role, Started, Stopped
from ...transport.tcp_server import Connection
from .server_buffer import EventBuffer
from .server_requests import handle_asdu

log = logging.getLogger("incore.iec104server")

__all__ = ["StationSession", "split_frames"]


class StationSession:
    """One client connection of a station (see the module docstring)."""

    __slots__ = (
        "core",
        "conn",
        "ip",
        "peer",
        "link",
        "buffer",
        "active",
        "lost_episode",
        "_rx",
    )

    def __init__(self, core: Any, conn: Connection) -> None:
        ip, port = conn.peer[0], conn.peer[1]
        if core.stopping.is_set():
            raise ConnectionRefusedError("the server stops")
        if core.allowed and ip not in core.allowed:
            log.info("IEC 104 client %s:%d refused: not in allowedClients", ip, port)
            core.inbox.event(("refused", ip))
            raise ConnectionRefusedError(f"{ip} is not an allowed client")
        check = core.connect_check
        if check is not None and not check(ip, port):
            log.info("IEC 104 client %s:%d refused by the connectRequest handler", ip, port)
            raise ConnectionRefusedError(f"{ip} refused by connectRequest")
        self.core = core
        self.conn = conn
        self.ip = ip
        self.peer = f"{ip}:{port}"
        self.link = Iec104Link(Role.CONTROLLED, core.parameters, time.monotonic())
        self.buffer = EventBuffer(core.buffer_limit)
        self.active = False
        self.lost_episode = 0  # events lost in the current run of losses (loop thread)
        self._rx = bytearray()
        core.opened(self)

    def __repr__(self) -> str:
        return f"<StationSession {self.peer}>"

    # -- from any thread ------------------------------------------------------------------------
    def wake(self) -> None:
        """Something waits in the buffer: have the worker hand it to the link."""
        self.conn.reschedule()

    def reply(self, asdu: bytes, urgent: bool = True, *, pumped: bool = False) -> None:
        """Queue an answer for this client (never dropped; a client that lets REPLY_LIMIT
        answers pile up is disconnected). `pumped`: the worker's own answer from within a
        callback, which pumps the buffer when it returns: no wake-up needed."""
        idle = not self.buffer.pending
        if not self.buffer.reply(asdu, urgent):
            log.warning(
                "IEC 104 client %s dropped: it asks faster than it reads the answers", self.peer
            )
            self.conn.close()
        elif idle and not pumped:
            self.wake()

    def deadline(self) -> float | None:
        link = self.link
        if self.buffer.pending and link.started and link.outstanding < link.parameters.k:
            return 0.0
        return link.next_deadline()

    # -- the worker's callbacks -----------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        core = self.core
        now = time.monotonic()
        if core.raw_in:
            self._rx += data
            for frame in split_frames(self._rx):
                core.inbox.event(("receiveRaw", frame))
        try:
            events = self.link.receive_data(data, now)
            for event in events:
                kind = type(event)
                if kind is AsduReceived:
                    handle_asdu(self, event.payload, now)
                elif kind is Started:
                    lost = core.started(self)
                    self.conn.mark_established()
                    if lost:
                        core.post(core.on_lost, self, lost)
                elif kind is Stopped:
                    core.stopped(self)
        except ProtocolError as exc:
            # `exc.events` (requests before the broken frame) are dropped on purpose: a
            # command from a connection being closed must not run unconfirmed
            self._fail(exc)
            return
        self._pump(now)

    def timer_expired(self, now: float) -> None:
        try:
            self.link.handle_timer(now)
        except ProtocolError as exc:
            self._fail(exc)
            return
        self._pump(now)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.core.closed(self)
        self.core.inbox.event(("closed", self))

    # -- internals ------------------------------------------------------------------------------
    def _pump(self, now: float) -> None:
        link = self.link
        if link.started and self.buffer.pending:
            room = link.parameters.k - link.outstanding - link.queued
            if room > 0:
                try:
                    for asdu in self.buffer.take(room):
                        link.send_pdu(asdu, now)
                except ProtocolError as exc:  # a value that does not encode: a bug, say so
                    log.exception("IEC 104 client %s: an ASDU could not be sent", self.peer)
                    self._fail(exc)
                    return
        out = link.data_to_send()
        if out:
            if self.core.raw_out:
                for frame in split_frames(bytearray(out)):
                    self.core.inbox.event(("sendRaw", frame))
            try:
                if self.conn.encrypted:  # an APDU per TLS record: lib60870 reads one a wake-up
                    self.conn.send_frames(split_frames(bytearray(out)))
                else:
                    self.conn.send(out)
            except OSError:
                self.conn.close()

    def _fail(self, exc: ProtocolError) -> None:
        log.info("IEC 104 client %s dropped: %s", self.peer, exc)
        out = self.link.data_to_send()  # what the engine completed before the failure
        if out:
            try:
                self.conn.send(out)
            except OSError:
                pass
        self.conn.close()


def split_frames(buffer: bytearray) -> list[bytes]:
    """Take the whole APDUs (`68 len ...`) off the front of `buffer` (what receiveRaw and
    sendRaw report); a stream out of step is left to the link, which refuses it."""
    frames = []
    while len(buffer) >= 2:
        if buffer[0] != 0x68:
            buffer.clear()
            break
        size = buffer[1] + 2
        if len(buffer) < size:
            break
        frames.append(bytes(buffer[:size]))
        del buffer[:size]
    return frames
