"""The transport side of a ModbusTcpServer: the state its workers share, and one connection.

`ServerCore` is what the ModbusTcpServer object shares with the workers of its TcpServer:
the tables (`ServedStore`), the device identity and diagnostic counters, the loop inbox and
plain copies of the settings the workers need, so no thread but the loop reads a property.
`ModbusConnection` runs on the worker that serves its connection (one callback at a time):
bytes in, the sans-IO engine, answers out, and the tables a request changed into the inbox
(only tables some ModbusRegister maps: an unmapped write costs nothing more). A bad MBAP
header drops that one connection; every other client keeps being served.

A connection is also its engine's `WriteVetter`: a write to a range where some
ModbusRegister has a `writeRequested` handler (`ServerCore.vetoed`, kept by the loop) is
handed to the loop as a `WriteJob` and waits for the verdict, at most `write_timeout`
seconds (or until the connection closes); anything but an acceptance is exception 04 and
nothing written. Other writes pay one call (`covers`), an index and a truth test.

The shutdown command (MBAsyncServer's `-q WORD`) is checked only when one is set: a chunk
that is the command (surrounding white space ignored) stops the server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ...core import get_loop
from ...protocols.modbus import DeviceIdentity, DiagnosticCounters, ModbusServerProtocol
from ...protocols.modbus.errors import ModbusFramingError, ModbusStoreError
from ...protocols.modbus.store import Table
from ...transport.tcp_server import Connection
from ..link.inbox import LoopInbox
from .server_store import ServedStore, Spans
from .server_veto import WriteJob

log = logging.getLogger("incore.modbusserver")

__all__ = ["ServerCore", "ModbusConnection", "ModbusInbox"]


def _post(fn: Callable[..., Any], *args: Any) -> None:
    get_loop().post(fn, *args)


class ModbusInbox(LoopInbox):
    """The loop inbox, with the Modbus server's logger in its warnings."""

    log = log
    unnamed = "ModbusTcpServer"
    __slots__ = ()


class ServerCore:
    """Shared by the ModbusTcpServer (loop thread) and the workers serving its clients.

    `deliver(changes, status, events)` runs on the loop (LoopInbox); `changes` are
    (table, start, end) of client writes to watched tables, `events` are ("connected" |
    "disconnected" | "shutdown", host) tuples. `decide(job)` runs on the loop and answers a
    `WriteJob`. The loop replaces `store`, `identity` and the settings between runs, and
    `watched` and `vetoed` (lists indexed by Table) whenever registers map or handlers come
    and go.
    """

    def __init__(
        self,
        deliver: Callable[[list, bool, list], None],
        decide: Callable[[WriteJob], None],
        owner: Any = None,
    ) -> None:
        self.store = ServedStore((0x10000,) * 4, False)
        self.identity = DeviceIdentity()
        self.counters = DiagnosticCounters()
        self.inbox = ModbusInbox(_post, deliver, owner)
        self.watched = [False] * 5
        self.vetoed: list[Spans] = [()] * 5
        self.write_timeout = 1.0
        self.decide = decide
        self.address = 0
        self.broadcast = False
        self.shutdown: bytes | None = None
        self.stopping = threading.Event()  # replaced for every run of the server
        self._lock = threading.Lock()
        self._engines: set[ModbusServerProtocol] = set()
        self.connections = 0

    def engine(self) -> ModbusServerProtocol:
        """A new connection's engine, sharing the tables, identity and counters."""
        engine = ModbusServerProtocol(
            self.store,
            address=self.address,
            broadcast=self.broadcast,
            identity=self.identity,
            counters=self.counters,
        )
        with self._lock:
            self._engines.add(engine)
            self.connections += 1
        return engine

    def ended(self, engine: ModbusServerProtocol) -> None:
        with self._lock:
            self._engines.discard(engine)
            self.connections -= 1

    def configure(self, address: int, broadcast: bool, identity: DeviceIdentity) -> None:
        """New unit settings or identity (loop thread): every open connection takes them."""
        self.address, self.broadcast, self.identity = address, broadcast, identity
        with self._lock:
            engines = list(self._engines)
        for engine in engines:
            engine.address, engine.broadcast, engine.identity = address, broadcast, identity


class ModbusConnection:
    """One client: the Modbus engine over its connection."""

    __slots__ = (
        "core",
        "conn",
        "host",
        "engine",
        "failed",
        "established",
        "shutdown",
        "waiting",
    )

    def __init__(self, core: ServerCore, conn: Connection) -> None:
        self.core = core
        self.conn = conn
        self.host = conn.peer[0]
        self.engine = core.engine()
        self.engine.vetter = self
        self.waiting: WriteJob | None = None
        conn.add_close_callback(self._wake)
        self.failed = False
        self.established = False
        self.shutdown = core.shutdown
        core.inbox.event(("connected", self.host))
        core.inbox.status()

    def data_received(self, data: bytes) -> None:
        if self.shutdown is not None and data.strip() == self.shutdown:
            log.warning("Modbus client %s:%d sent the shutdown command", *self.conn.peer)
            self.core.inbox.event(("shutdown", self.host))
            self.conn.close()
            return
        engine = self.engine
        try:
            writes = engine.receive_data(data)
        except ModbusFramingError as exc:
            self.failed = True
            log.info("Modbus client %s:%d dropped: %s", *self.conn.peer, exc)
            self.conn.close()
            return
        out = engine.data_to_send()
        if out:
            try:
                self.conn.send(out)
            except OSError:  # the peer is gone; the connection is closed
                self.conn.close()
                return
        if writes:
            watched = self.core.watched  # replaced (not changed) when registers map
            changed = self.core.inbox.changed
            for w in writes:
                if watched[w.table]:
                    changed(w.table, w.start, w.start + w.count)
        if not self.established:
            self.established = True
            self.conn.mark_established()

    # -- WriteVetter (incore/protocols/modbus/server.py) -------------------------------------
    def covers(self, table: Table, start: int, end: int) -> bool:
        spans = self.core.vetoed[table]  # replaced (not changed) by the loop
        if spans:
            for a, b in spans:
                if a < end and start < b:
                    return True
        return False

    def ask(
        self, table: Table, start: int, count: int, data: bytes, function: int, unit: int
    ) -> None:
        """Hand the write to the loop's handlers and wait for their verdict."""
        core = self.core
        job = WriteJob(table, start, count, bytes(data), function, unit, self.host)
        self.waiting = job
        try:
            if self.conn.closed:
                raise ModbusStoreError(4, "connection closed")
            _post(core.decide, job)
            answered = job.done.wait(core.write_timeout)
        finally:
            self.waiting = None
        if not answered:
            job.abandoned = True  # a verdict that comes later is for nobody
            raise ModbusStoreError(
                4, f"no verdict on the write within {core.write_timeout * 1000:.0f} ms"
            )
        if not job.accepted:
            raise ModbusStoreError(4, job.reason or "refused")

    def _wake(self) -> None:
        """The connection closed (any thread): a write waiting for its verdict gives up."""
        job = self.waiting
        if job is not None:
            job.reason = "connection closed"
            job.done.set()

    def connection_lost(self, exc: BaseException | None) -> None:
        core = self.core
        core.ended(self.engine)
        core.inbox.event(("disconnected", self.host))
        core.inbox.status()
