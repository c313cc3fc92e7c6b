"""Test-only blocking harness around the sans-IO ISO/S7 engines.

A thread-per-connection TCP server on 127.0.0.1 (port 0) and a blocking client, both
receiving through the transport's :class:`~incore.transport.link.Link` (the one receive
loop there is) but using none of the S7 objects, so the protocol engines can be proven
against real peers on their own. Every server connection records the bytes it exchanged
so tests can write a pcap file.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable

from incore.protocols.errors import ProtocolError
from incore.protocols.isotcp import IsoClientSession, IsoConnected, IsoData, IsoServerSession
from incore.protocols.s7 import MemoryAreaStore, PlcState, S7ClientProtocol, S7ServerProtocol, run
from incore.protocols.s7.client import Operation
from incore.transport.link import Failure, Link, LinkError
from incore.transport.link_stream import BlockingStream, open_connection
from incore.transport.sockets import ReceiveTimeoutError

# (timestamp, from_client, bytes)
Record = tuple[float, bool, bytes]

#: How long a server connection waits for a request at a time (it then waits again).
IDLE_WAIT = 5.0


class RecordingStream(BlockingStream):
    """A server connection's stream that notes every chunk received and sent."""

    def __init__(self, sock: socket.socket, record: list[Record]) -> None:
        super().__init__(sock, IDLE_WAIT, spin=0.0)  # a server waits for requests: no spin
        self.record = record

    def recv_some(self, timeout: float | None = None, spin: bool = True) -> bytes:
        data = super().recv_some(timeout, spin)
        self.record.append((time.time(), True, data))
        return data

    def send(self, data: bytes, timeout: float | None = None) -> None:
        self.record.append((time.time(), False, data))
        super().send(data, timeout)


class S7TestServer:
    """Serves :class:`S7ServerProtocol` over real sockets, one thread per connection."""

    def __init__(
        self,
        store: MemoryAreaStore | None = None,
        *,
        state: PlcState | None = None,
        max_pdu: int = 960,
        on_event: Callable[[tuple], None] | None = None,
    ) -> None:
        self.store = store if store is not None else MemoryAreaStore()
        self.state = state if state is not None else PlcState()
        self.max_pdu = max_pdu
        self.on_event = on_event
        self.events: list[tuple] = []
        self.conversations: list[list[Record]] = []
        self.sessions: list[IsoServerSession] = []
        self.errors: list[BaseException] = []
        self.connected = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closing = False
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="s7-test-accept", daemon=True
        )
        self._acceptor.start()

    def __enter__(self) -> S7TestServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _event(self, event: tuple) -> None:
        with self._lock:
            self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            record: list[Record] = []
            with self._lock:
                if self._closing:
                    conn.close()
                    return
                self._conns.append(conn)
                self.conversations.append(record)
            thread = threading.Thread(
                target=self._serve, args=(conn, record), name="s7-test-conn", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, record: list[Record]) -> None:
        session = IsoServerSession()
        engine = S7ServerProtocol(
            self.store, state=self.state, max_pdu=self.max_pdu, on_event=self._event
        )
        with self._lock:
            self.sessions.append(session)
        link = Link(RecordingStream(conn, record), session, IDLE_WAIT)
        try:
            while True:
                try:
                    event = link.next_event(missing="no request")
                except ReceiveTimeoutError:
                    continue  # an idle client is no error
                if isinstance(event, IsoConnected):
                    self.connected.set()
                elif isinstance(event, IsoData):
                    reply = engine.handle(event.payload)
                    if reply is not None:
                        link.send_pdu(reply)
        except ProtocolError as exc:  # the S7 engine refused a request
            self.errors.append(exc)
        except LinkError as exc:
            if exc.failure is Failure.PROTOCOL:  # the ISO session refused the bytes
                self.errors.append(exc.__cause__ or exc)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closing = True
            conns = list(self._conns)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self._sock.close()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)


class S7TestClient:
    """Blocking client: :class:`IsoClientSession` + :class:`S7ClientProtocol` on a link."""

    def __init__(
        self, host: str, port: int, *, timeout: float = 5.0, pdu_request: int = 480, **iso: object
    ) -> None:
        self.session = IsoClientSession(**iso)  # type: ignore[arg-type]
        self.protocol = S7ClientProtocol(pdu_request=pdu_request)
        self.link = Link(
            BlockingStream(open_connection(host, port, timeout), timeout), self.session, timeout
        )

    def __enter__(self) -> S7TestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> int:
        self.session.connect()
        self.link.flush()
        self.link.wait_for(lambda event: isinstance(event, IsoConnected), missing="no CC")
        return run(self.protocol.setup_communication(), self.exchange)

    def exchange(self, request: bytes) -> bytes:
        """Send a request and return the next PDU received, in order: a test sees a stale
        or extra reply as the engine's mismatch, not hidden."""
        self.link.send_pdu(request)
        return self.link.receive_pdu()

    def call(self, operation: Operation):
        return run(operation, self.exchange)

    def close(self) -> None:
        try:
            self.session.disconnect()
        except ProtocolError:
            pass
        self.link.flush_quietly()
        self.link.stream.close()


def fill_store(server: S7TestServer) -> None:
    """PE/PA/MK/CT/TM of 256 bytes, DB1 of 1024 bytes with a known pattern, DB2 of 16."""
    for area in (0x81, 0x82, 0x83, 0x1C, 0x1D):
        server.store.register(area, 0, 256)
    server.store.register(0x84, 1, bytearray(i & 0xFF for i in range(1024)))
    server.store.register(0x84, 2, 16)


def free_port() -> int:
    """A port that was free a moment ago (for peers that insist on a number)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# pcap writer: classic libpcap with synthetic Ethernet/IPv4/TCP headers


def _checksum(data: bytes) -> int:
    if len(data) & 1:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_pcap(path: str, conversations: list[list[Record]], server_port: int = 102) -> None:
    """Write each conversation as one TCP stream (handshake omitted) to ``path``."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for n, records in enumerate(conversations):
        client_port = 40000 + n
        seq = {True: 1000, False: 5000}
        for stamp, from_client, data in records:
            for pos in range(0, len(data), 1400):
                chunk = data[pos : pos + 1400]
                sport, dport = (
                    (client_port, server_port) if from_client else (server_port, client_port)
                )
                src, dst = (
                    (b"\x7f\x00\x00\x02", b"\x7f\x00\x00\x01")
                    if from_client
                    else (b"\x7f\x00\x00\x01", b"\x7f\x00\x00\x02")
                )
                tcp = struct.pack(
                    "!HHIIBBHHH",
                    sport,
                    dport,
                    seq[from_client],
                    seq[not from_client],
                    5 << 4,
                    0x18,
                    65535,
                    0,
                    0,
                )
                pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(chunk))
                tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp + chunk)) + tcp[18:]
                ip = struct.pack(
                    "!BBHHHBBH4s4s",
                    0x45,
                    0,
                    20 + len(tcp) + len(chunk),
                    0,
                    0x4000,
                    64,
                    6,
                    0,
                    src,
                    dst,
                )
                ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
                frame = (
                    b"\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x01\x08\x00" + ip + tcp + chunk
                )
                secs = int(stamp)
                out += (
                    struct.pack("<IIII", secs, int((stamp - secs) * 1e6), len(frame), len(frame))
                    + frame
                )
                seq[from_client] += len(chunk)
    with open(path, "wb") as fh:
        fh.write(out)
