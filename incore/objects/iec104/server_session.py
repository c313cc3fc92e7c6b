"""One IEC 104 client of an IEC104Server: the link engine over its connection.

A `StationSession` is the TcpServer's handler for one connection (a `TimedHandler`: the
link's t1/t2/t3 come in as `deadline()`/`timer_expired`). Only the worker serving the
connection touches the link engine and the socket. Other threads reach it through its
`EventBuffer`: the loop pushes events there and calls `wake()`, which makes the deadline
"now" (`Connection.reschedule`), so the worker hands them to the link. An answer the loop
gives (`reply`: a command's actcon or actterm) goes out from the loop itself when no
callback of the worker runs (the session's `lock`), with a send that never waits: a
worker woken only to send it would cost a thread hand-over per command. What the socket
does not take at once stays in `_unsent`, which the worker sends before anything else.

ASDUs go from the buffer to the link only while data transfer is on and fewer than k are
unacknowledged, so the link's own queue stays empty and the buffer alone decides what waits
and what is pushed out. A broken link rule, bad framing or an ASDU that cannot be read
closes this connection only (logged); every other client keeps its data.
"""

from __future__ import annotations

import logging
import threading
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
        "lock",
        "_rx",
        "_unsent",
        "_later",
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
        self.lock = threading.Lock()  # held by whoever runs the link: a worker callback, or reply
        self._rx = bytearray()
        self._unsent = b""  # the rest of a send from the loop the socket did not take at once
        self._later: list[tuple[Any, tuple]] = []  # posts that wait until the answers went out
        core.opened(self)

    def __repr__(self) -> str:
        return f"<StationSession {self.peer}>"

    # -- from any thread ------------------------------------------------------------------------
    def wake(self) -> None:
        """Something waits in the buffer: have the worker hand it to the link."""
        self.conn.reschedule()

    def reply(self, asdu: bytes, urgent: bool = True, *, pumped: bool = False) -> None:
        """Queue an answer for this client (never dropped; a client that lets REPLY_LIMIT
        answers pile up is disconnected) and send it now if no worker callback runs (see
        the module docstring). `pumped`: the worker's own answer from within a callback,
        which pumps the buffer when it returns (or the first of answers a later reply
        sends with it)."""
        buffer = self.buffer
        if not pumped and not self.conn.encrypted and self.lock.acquire(False):
            try:
                link = self.link
                if not buffer.pending and link.started and link.outstanding < link.parameters.k:
                    self._hand_to_link(asdu)  # nothing waits before it: past the buffer
                elif self._queue(asdu, urgent):
                    self._pump(time.monotonic(), direct=True)
            finally:
                self.lock.release()
            return
        idle = not buffer.pending
        if self._queue(asdu, urgent) and idle and not pumped:
            self.wake()

    def _queue(self, asdu: bytes, urgent: bool) -> bool:
        if self.buffer.reply(asdu, urgent):
            return True
        log.warning(
            "IEC 104 client %s dropped: it asks faster than it reads the answers", self.peer
        )
        self.conn.close()
        return False

    def post_after_pump(self, fn: Any, *args: Any) -> None:
        """Worker thread, in a callback: have the loop run `fn(*args)` once this callback's
        answers went out and the session's lock is free: on this thread when the loop is
        idle (`EventLoop.run_or_post`), so a command needs no hand-over to the loop thread
        and back; else posted, and the loop does not take the interpreter from the worker
        while it sends."""
        self._later.append((fn, args))

    def deadline(self) -> float | None:
        link = self.link
        if self._unsent or (
            self.buffer.pending and link.started and link.outstanding < link.parameters.k
        ):
            return 0.0
        return link.next_deadline()

    # -- the worker's callbacks -----------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        with self.lock:
            self._received(data)
        later = self._later
        if later:  # the loop's part: on this thread when the loop is idle (EventLoop)
            run = self.core.run_or_post
            for fn, args in later:
                run(fn, *args)
            later.clear()

    def _received(self, data: bytes) -> None:
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
            self._later.clear()
            self._fail(exc)
            return
        self._pump(now)

    def timer_expired(self, now: float) -> None:
        with self.lock:
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
    def _hand_to_link(self, asdu: bytes) -> None:
        """`reply`'s way when nothing waits in the buffer and the window has room: the
        answer goes straight to the link and out, as `_pump` would send it (holding `lock`)."""
        try:
            self.link.send_pdu(asdu, time.monotonic())
        except ProtocolError as exc:  # an ASDU that does not fit: a bug, say so
            log.exception("IEC 104 client %s: an ASDU could not be sent", self.peer)
            self._fail(exc)
            return
        self._send_out(direct=True)

    def _pump(self, now: float, direct: bool = False) -> None:
        """Hand buffered ASDUs to the link as the window allows and send what it made
        (holding `lock`); `direct`: from the loop, with a send that never waits."""
        link, buffer = self.link, self.buffer
        if buffer.pending and link.started:
            room = link.parameters.k - link.outstanding - link.queued
            if room > 0:
                try:
                    for asdu in buffer.take(room):
                        link.send_pdu(asdu, now)
                except ProtocolError as exc:  # a value that does not encode: a bug, say so
                    log.exception("IEC 104 client %s: an ASDU could not be sent", self.peer)
                    self._fail(exc)
                    return
        self._send_out(direct)

    def _send_out(self, direct: bool) -> None:
        """Send what the link made, after what a direct send left (holding `lock`)."""
        link = self.link
        if not link.has_data_to_send and not self._unsent:
            return  # (most receives: a command whose answers come from the loop's part)
        out = link.data_to_send()
        if out and self.core.raw_out:
            for frame in split_frames(bytearray(out)):
                self.core.inbox.event(("sendRaw", frame))
        if self._unsent:  # the rest of a direct send goes first
            out, self._unsent = self._unsent + out, b""
        if not out:
            return
        conn = self.conn
        try:
            if direct:
                sent = conn.send_now(out)
                if sent < len(out):
                    self._unsent = out[sent:]
                    self.wake()
            elif conn.encrypted:  # an APDU per TLS record: lib60870 reads one a wake-up
                conn.send_frames(split_frames(bytearray(out)))
            else:
                conn.send(out)
        except OSError:
            conn.close()

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
