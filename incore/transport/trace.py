"""A traffic tap for every connection of the transport: a capture file Wireshark dissects.

Why here and not in each protocol: every byte any protocol sends or receives passes through
four places of this package (`BlockingStream` and `TlsStream` on the client side,
`Connection` and `TlsConnection` with their serving loops on the server side), so one tap
there sees S7, Modbus and IEC 104 alike, after TLS has decrypted (the capture holds the
plaintext a TLS peer exchanged with us, never ciphertext).

Cost when off: a stream or connection asks `open_flow` once, when it is made, and keeps
the answer (None); each send and receive then checks that one attribute. When on, a record
is a clock read, a short lock and a deque append on the protocol thread; a writer thread
turns records into packets and writes and flushes the file every `FLUSH_INTERVAL`, so no
protocol thread waits for the disk. The queue is bounded (`buffer_bytes` of payload): a
record that does not fit is dropped and counted, its bytes still advance the sequence
numbers (Wireshark shows the gap as missing segments), and the writer logs the episode.

Ports: dissectors choose a protocol by port, while apps listen on non-privileged ones
(10102 for S7, 5020 for Modbus). The object layers say which well-known port a port speaks
(`speaks(10102, 102)`), and the capture shows the server side of such a connection on that
port. The real port is logged once per port, and in a pcapng file it is also the comment
on the connection's first packet.

A connection both of whose ends live in this process (an S7Client reading the app's own
S7Server) is recorded once, from the end that was opened first: the two views hold the
same bytes, and twice the same segments would read as retransmissions.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from incore.transport.trace_file import (
    ACK,
    FIN,
    MAX_SEGMENT,
    PSH,
    SYN,
    CaptureWriter,
    Endpoint,
    endpoint,
    segment,
)

__all__ = [
    "Flow",
    "Tracer",
    "active",
    "open_flow",
    "speaks",
    "start",
    "stop",
    "trace_to",
]

log = logging.getLogger("incore.trace")

#: How often the writer thread writes what was recorded, and flushes the file.
FLUSH_INTERVAL = 0.1
#: Payload bytes the writer may be behind by before records are dropped.
DEFAULT_BUFFER = 16 * 1024 * 1024

_OPEN, _DATA, _CLOSE = 0, 1, 2
_CLIENT_ISN, _SERVER_ISN = 1_000, 5_000

#: port -> (the well-known port it speaks, the protocol's name): see `speaks`.
_speaks: dict[int, tuple[int, str]] = {}
_active: Tracer | None = None
_switch = threading.Lock()


def speaks(port: int, well_known: int, protocol: str = "") -> None:
    """Say that a server on `port` speaks the protocol of `well_known` (102, 502, 2404).

    Object layers call it when a server is bound and before a client connects; it costs a
    dictionary entry whether or not a trace runs. A capture shows the server side of a
    connection on `port` as `well_known`, so Wireshark picks the right dissector.
    """
    if port > 0 and port != well_known:
        _speaks[port] = (well_known, protocol)


def open_flow(sock: socket.socket, client: bool) -> Flow | None:
    """The tap of a new connection (`client`: this end connected), None when no trace
    runs. Streams and connections call it once and keep the answer."""
    tracer = _active
    return None if tracer is None else tracer.open(sock, client)


def active() -> Tracer | None:
    """The running trace, if any."""
    return _active


def start(path: str, buffer_bytes: int = DEFAULT_BUFFER) -> Tracer:
    """Trace every connection opened from now on into `path` (pcapng when it ends with
    `.pcapng`, classic pcap otherwise). Raises OSError when the file cannot be made, and
    RuntimeError when a trace already runs."""
    global _active
    with _switch:
        if _active is not None:
            raise RuntimeError(f"a trace already runs (into {_active.path})")
        _active = Tracer(path, buffer_bytes)
        return _active


def stop(timeout: float = 5.0) -> Tracer | None:
    """End the running trace: what was recorded is written and the file closed."""
    global _active
    with _switch:
        tracer, _active = _active, None
    if tracer is not None:
        tracer.close(timeout)
    return tracer


@contextmanager
def trace_to(path: str, buffer_bytes: int = DEFAULT_BUFFER) -> Iterator[Tracer]:
    """Trace the connections opened inside the block, e.g. around `run(app)`."""
    tracer = start(path, buffer_bytes)
    try:
        yield tracer
    finally:
        if _active is tracer:
            stop()


class Flow:
    """One traced connection; `sent` and `received` take plaintext, `close` ends it.

    Everything but `tracer`, `client` and `local_is_client` belongs to the tracer's lock
    (`pos`, `ended`) or to its writer thread (`wire`).
    """

    __slots__ = ("tracer", "client", "server", "local_is_client", "pos", "ended", "wire")

    def __init__(
        self,
        tracer: Tracer,
        client: tuple[str, int],
        server: tuple[str, int],
        local_is_client: bool,
    ) -> None:
        self.tracer = tracer
        self.client = client
        self.server = server
        self.local_is_client = local_is_client
        self.pos = [0, 0]  # bytes so far: [from the server, from the client]
        self.ended = False
        self.wire: tuple[Endpoint, Endpoint] | None = None

    def sent(self, data: bytes) -> None:
        self.tracer.add(self, self.local_is_client, data)

    def received(self, data: bytes) -> None:
        self.tracer.add(self, not self.local_is_client, data)

    def close(self) -> None:
        self.tracer.end(self)


class Tracer:
    """The recording half (any thread) and the writing half (its own thread) of a trace."""

    def __init__(self, path: str, buffer_bytes: int = DEFAULT_BUFFER) -> None:
        self.path = path
        self._file = open(path, "wb")  # noqa: SIM115 - the writer thread owns it until close
        self._writer = CaptureWriter(self._file, path.lower().endswith(".pcapng"))
        self._file.flush()
        self._limit = buffer_bytes
        self._lock = threading.Lock()
        self._items: deque[tuple[Any, ...]] = deque()
        self._queued = 0  # payload bytes in _items
        self._flows: dict[tuple[tuple[str, int], tuple[str, int]], Flow] = {}
        self._closed = False
        self.dropped_frames = 0
        self.dropped_bytes = 0
        self.written_frames = 0  # packets in the file
        self.flows = 0
        self._reported = 0  # dropped_frames as last seen by the writer
        self._episode: tuple[int, int] | None = None  # dropping since (frames, bytes)
        self._told: set[int] = set()  # real ports whose replacement was logged
        self._ident = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="incore-trace", daemon=True)
        self._thread.start()
        log.info("tracing every connection into %s", path)

    def __repr__(self) -> str:
        return f"<Tracer {self.path} {self.flows} flows {self.written_frames} packets>"

    # -- recording: any thread --------------------------------------------------------------
    def open(self, sock: socket.socket, client: bool) -> Flow | None:
        try:
            local, peer = sock.getsockname()[:2], sock.getpeername()[:2]
        except OSError:
            return None  # closed before it could be traced
        ends = (local, peer) if client else (peer, local)
        with self._lock:
            if self._closed or ends in self._flows:
                return None  # the other end of a connection within this process: recorded once
            flow = Flow(self, ends[0], ends[1], client)
            self._flows[ends] = flow
            self.flows += 1
            self._items.append((time.time(), flow, _OPEN))
        return flow

    def add(self, flow: Flow, from_client: bool, data: bytes) -> None:
        size = len(data)
        if not size:
            return
        with self._lock:
            if flow.ended:
                return
            pos = flow.pos
            start = pos[from_client]
            pos[from_client] = start + size
            if self._queued + size > self._limit:
                self.dropped_frames += 1
                self.dropped_bytes += size
                return
            self._queued += size
            self._items.append(
                (time.time(), flow, _DATA, from_client, start, pos[not from_client], data)
            )

    def end(self, flow: Flow) -> None:
        with self._lock:
            if flow.ended:
                return
            flow.ended = True
            self._flows.pop((flow.client, flow.server), None)
            if not self._closed:
                self._items.append((time.time(), flow, _CLOSE, tuple(flow.pos)))

    def close(self, timeout: float = 5.0) -> None:
        """Stop recording, write what is queued, close the file."""
        with self._lock:
            self._closed = True
        self._stopping.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("trace %s: the writer did not finish within %g s", self.path, timeout)
            return
        self._report_drops(final=True)
        log.info(
            "trace %s: %d connections, %d packets written",
            self.path,
            self.flows,
            self.written_frames,
        )

    # -- writing: the writer thread ---------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping.wait(FLUSH_INTERVAL):
                self._write_batch()
            self._write_batch()
        except OSError as exc:
            log.error("trace %s: cannot write: %s; tracing stops", self.path, exc)
            with self._lock:
                self._closed = True
                self._items.clear()
        finally:
            try:
                self._file.close()
            except OSError:
                pass

    def _write_batch(self) -> None:
        with self._lock:
            batch, self._items = self._items, deque()
            self._queued = 0
        for item in batch:
            kind = item[2]
            if kind == _DATA:
                self._data(*item[:2], *item[3:])
            elif kind == _OPEN:
                self._open(item[0], item[1])
            else:
                self._close(item[0], item[1], item[3])
        if batch:
            self._file.flush()
        self._report_drops()

    def _emit(
        self,
        stamp: float,
        flow: Flow,
        from_client: bool,
        seq: int,
        ack: int,
        flags: int,
        payload: bytes = b"",
        comment: str | None = None,
    ) -> None:
        client, server = flow.wire  # type: ignore[misc]
        src, dst = (client, server) if from_client else (server, client)
        self._ident += 1
        frame = segment(src, dst, seq, ack, flags, payload, self._ident, from_client)
        self._writer.packet(stamp, frame, comment)
        self.written_frames += 1

    def _open(self, stamp: float, flow: Flow) -> None:
        real = flow.server[1]
        shown, protocol = _speaks.get(real, (real, ""))
        flow.wire = (endpoint(*flow.client), endpoint(flow.server[0], shown))
        here = "client" if flow.local_is_client else "server"
        comment = f"incore {here}: {flow.client[0]}:{flow.client[1]} -> {flow.server[0]}:{real}"
        if shown != real:
            comment += (
                f" (server port {real} shown as {shown}{', ' + protocol if protocol else ''})"
            )
            if real not in self._told:
                self._told.add(real)
                log.info(
                    "trace %s: port %d is written as %d%s, for the dissectors",
                    self.path,
                    real,
                    shown,
                    f" ({protocol})" if protocol else "",
                )
        c, s = _CLIENT_ISN, _SERVER_ISN
        self._emit(stamp, flow, True, c, 0, SYN, comment=comment)
        self._emit(stamp, flow, False, s, c + 1, SYN | ACK)
        self._emit(stamp, flow, True, c + 1, s + 1, ACK)

    def _data(
        self, stamp: float, flow: Flow, from_client: bool, start: int, acked: int, data: bytes
    ) -> None:
        seq = (_CLIENT_ISN if from_client else _SERVER_ISN) + 1 + start
        ack = (_SERVER_ISN if from_client else _CLIENT_ISN) + 1 + acked
        for at in range(0, len(data), MAX_SEGMENT):
            chunk = data[at : at + MAX_SEGMENT]
            self._emit(stamp, flow, from_client, seq + at, ack, PSH | ACK, chunk)

    def _close(self, stamp: float, flow: Flow, pos: tuple[int, int]) -> None:
        """FIN from our end, the peer's FIN, our last ACK (who closed first is not known)."""
        ours = flow.local_is_client
        mine = (_CLIENT_ISN if ours else _SERVER_ISN) + 1 + pos[ours]
        theirs = (_SERVER_ISN if ours else _CLIENT_ISN) + 1 + pos[not ours]
        self._emit(stamp, flow, ours, mine, theirs, FIN | ACK)
        self._emit(stamp, flow, not ours, theirs, mine + 1, FIN | ACK)
        self._emit(stamp, flow, ours, mine + 1, theirs + 1, ACK)

    def _report_drops(self, final: bool = False) -> None:
        """One warning when records start being dropped, one count when that ends (a
        flush without new drops) or at the end of the trace."""
        dropped = self.dropped_frames
        if dropped != self._reported and not final:
            if self._episode is None:
                self._episode = (self._reported, self.dropped_bytes)
                log.warning(
                    "trace %s: the writer is %d bytes behind: records are dropped (the "
                    "capture shows them as missing segments)",
                    self.path,
                    self._limit,
                )
            self._reported = dropped
            return
        if self._episode is None and dropped == self._reported:
            return
        first, _ = self._episode or (self._reported, 0)
        log.warning(
            "trace %s: %d records were not written (%d bytes in all so far)",
            self.path,
            dropped - first,
            self.dropped_bytes,
        )
        self._episode = None
        self._reported = dropped
