"""The transport side of an S7Server: the state its threads share, and one connection's handler.

`ServerCore` is what the S7Server object shares with the workers serving its clients:
memory, PLC state, the loop inbox and plain copies of the settings those threads need (event
mask, PDU size, resourceless mode), so no thread other than the loop ever reads a property.
`S7Connection` runs on the worker that serves its connection (one callback at a time):
ISO-on-TCP session in, S7 engine, replies out. It tells the transport when the client has
negotiated its PDU (setup communication), which ends the handshake timeout: a connection
that never gets that far is closed, and is the first to make room at maxClients. A frame
the codecs refuse drops that one connection with a ClientException event; every other
connection keeps being served.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ...core import get_loop
from ...protocols.isotcp import IsoData, IsoDisconnected, IsoServerSession, IsoState
from ...protocols.s7 import PlcState, S7ServerProtocol
from ...protocols.s7.constants import CpuStatus, Event
from ...transport.tcp_server import Connection
from .server_events import LoopInbox, S7ServerEvent
from .server_fastpath import FRAME_SIZE, fast_count, fast_read, whole_frames
from .server_memory import Block, ClientAccess, Job, ServerMemory

log = logging.getLogger("incore.s7server")

_CONTROL = int(Event.Control)


def _post(fn: Callable[..., Any], *args: Any) -> None:
    get_loop().post(fn, *args)


class ServerCore:
    """Shared by the S7Server (loop thread) and the workers serving its clients.

    `deliver(changes, status, events)` and `answer(job)` run on the loop; `listening()` says
    whether anyone is connected to the server's `event` signal (events nobody hears are not
    even built); `owner` (the S7Server) is who the inbox's warnings name.
    """

    def __init__(
        self,
        deliver: Callable[[list, bool, list], None],
        answer: Callable[[Job], None],
        listening: Callable[[], bool],
        owner: Any = None,
    ) -> None:
        self.memory = ServerMemory()
        self.state = PlcState(cpu_status=CpuStatus.RUN)
        self.inbox = LoopInbox(_post, deliver, owner)
        self.listening = listening
        self._answer = answer
        self.event_mask = 0xFFFFFFFF
        self.pdu_request = 480
        self.resourceless = False
        self.rw_timeout = 5.0
        self.stopping = threading.Event()  # replaced for every run of the server

    # -- called by the workers ---------------------------------------------------------------
    def changed(self, block: Block, start: int, end: int) -> None:
        self.inbox.changed(block, start, end)

    def run_job(self, job: Job) -> None:
        _post(self._answer, job)

    def emit(
        self,
        sender: str,
        code: int,
        ret: int = 0,
        p1: int = 0,
        p2: int = 0,
        p3: int = 0,
        p4: int = 0,
    ) -> None:
        """Queue an event for the loop if the mask lets it through and someone listens."""
        if code & self.event_mask and self.listening():
            self.inbox.event(S7ServerEvent(datetime.now(), sender, int(code), ret, p1, p2, p3, p4))

    def rejected(self, peer: tuple[str, int]) -> None:
        """The listener refused a client because maxClients are connected (snap7's event)."""
        self.emit(peer[0], Event.ClientRejected)


class S7Connection:
    """One client: ISO session + S7 engine over its connection."""

    __slots__ = (
        "core",
        "conn",
        "sender",
        "stopping",
        "access",
        "session",
        "engine",
        "failed",
        "aligned",
        "fast",
        "fast_count",
        "established",
    )

    def __init__(self, core: ServerCore, conn: Connection) -> None:
        self.core = core
        self.conn = conn
        self.sender = conn.peer[0]
        self.stopping = core.stopping  # this run's flag: a later start() makes a new one
        self.access = ClientAccess(core, self.sender)
        self.session = IsoServerSession()
        self.engine = S7ServerProtocol(
            self.access,
            state=core.state,
            max_pdu=core.pdu_request,
            on_event=self._engine_event,
            directory=self.access,
        )
        self.failed = False
        self.aligned = True  # every chunk so far was whole frames
        self.fast = False  # aligned, and the session is connected
        self.fast_count = 0  # the most bytes the fast path answers (PDU and TPDU sizes)
        self.established = False  # the client negotiated its PDU (setup communication)
        conn.add_close_callback(self.access.wake)
        core.emit(self.sender, Event.ClientAdded)
        core.inbox.status()

    def data_received(self, data: bytes) -> None:
        if self.fast and len(data) == FRAME_SIZE:
            reply = fast_read(self, data)
            if reply is not None:
                try:
                    self.conn.send(reply)
                except OSError:
                    self.conn.close()
                return
        self._general(data)
        # Chunks of whole frames keep the session empty between chunks; one that is not
        # (a split frame, a DT fragment) turns the fast path off for this connection.
        if self.aligned and not whole_frames(data):
            self.aligned = False
        self.fast = self.aligned and self.session.state is IsoState.CONNECTED
        if self.fast:  # the sizes change only on the general way (setup communication)
            self.fast_count = fast_count(self.engine, self.session)
        if not self.established and self.engine.pdu_size:
            self.established = True
            self.conn.mark_established()

    def _general(self, data: bytes) -> None:
        session = self.session
        send = self.conn.send
        try:
            for event in session.receive_data(data):
                if event.__class__ is IsoData:
                    reply = self.engine.handle(event.payload)
                    if session.can_send:  # not when the peer's DR came in the same chunk
                        session.send_pdu(reply)
                elif event.__class__ is IsoDisconnected:
                    out = session.data_to_send()
                    if out:
                        send(out)
                    self.conn.close()
                    return
                out = session.data_to_send()  # the reply, or the CC of a connection request
                if out:
                    send(out)
        except OSError:  # our send failed: the peer is gone, the connection is closed
            self.conn.close()
        except Exception as exc:  # the codecs refused the bytes (or choked on them)
            self.failed = True
            log.info("S7 client %s:%d dropped: %s: %s", *self.conn.peer, type(exc).__name__, exc)
            self.conn.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.failed:
            code = Event.ClientException
        elif self.stopping.is_set():
            code = Event.ClientTerminated
        else:
            code = Event.ClientDisconnected
        self.core.emit(self.sender, code)
        self.core.inbox.status()

    def _engine_event(self, event: tuple) -> None:
        code = event[0]
        core = self.core
        if code == _CONTROL:  # a client started or stopped the CPU: cpuStatus follows
            core.inbox.status()
        if code & core.event_mask and core.listening():
            core.inbox.event(S7ServerEvent(datetime.now(), self.sender, *event))
