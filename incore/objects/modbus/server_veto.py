"""How the application refuses a client's write to a ModbusTcpServer (exception 04).

A client's write is normally answered on the worker, straight into the table, before the
loop hears of it (server_connection.py), so nobody can object. A ModbusRegister with a
`writeRequested` handler (or a Python callback) changes that for the entries it maps: the
loop keeps their ranges in `ServerCore.vetoed`, and a write that touches one becomes a
`WriteJob` the worker hands to the loop and waits on, at most the server's `writeTimeout`.

On the loop (`VetoHost`, mixed into ModbusTcpServer) every vetting register the write
touches gets one `ModbusWriteMessage` with the value it would hold afterwards (the table's
bytes with the write laid over them, through the other view too in an overlaid table); its
callback runs, then its `writeRequested` handlers, and once the wave has run the job is
answered: accepted unless a message was refused. The worker then writes the whole request
(all or nothing), and the usual `data` changes and `registersDataChanged` follow.

A verdict that comes after the worker gave up (the loop was busy) is dropped: the client
had exception 04 and the table was not written.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

from ...core import engine
from ...protocols.modbus.bits import unpack_bits
from ...protocols.modbus.store import MemoryStore, Table
from .server_host import _raw
from .server_store import spread

__all__ = ["ModbusWriteMessage", "VetoHost", "WriteJob"]

_BIT_TABLES = (Table.Coil, Table.DiscreteInput)


class WriteJob:
    """One client write waiting for the loop's verdict (made on a worker, answered on the
    loop; `done` is set when `accepted` and `reason` hold the answer)."""

    __slots__ = (
        "table",
        "start",
        "count",
        "data",
        "function",
        "unit",
        "peer",
        "accepted",
        "reason",
        "abandoned",
        "done",
    )

    def __init__(
        self, table: Table, start: int, count: int, data: bytes, function: int, unit: int, peer: str
    ) -> None:
        self.table = table
        self.start = start
        self.count = count
        self.data = data
        self.function = function
        self.unit = unit
        self.peer = peer
        self.accepted = False
        self.reason = ""
        self.abandoned = False  # set by the worker when it stopped waiting
        self.done = threading.Event()

    def finish(self, accepted: bool, reason: str = "") -> None:
        self.accepted = accepted
        self.reason = reason
        self.done.set()


class ModbusWriteMessage:
    """A client's write as one register's `writeRequested` handlers see it.

    `value` is what the register's `data` would become (decoded by its dataType, byte and
    register order), `raw` its wire bytes, `registers` the same as 16-bit numbers (Holding,
    Input) and `bits` as booleans (Coil, DiscreteInput). The request: `function` (5, 6, 15,
    16, 22 or 23) wrote `count` entries of table `type` from `address`, for `unit`, from the
    client at IP `peer`. A handler refuses it with `message.refuse("why")`: the client gets
    exception 04 and nothing of the request is written.
    """

    __slots__ = (
        "value",
        "raw",
        "registers",
        "bits",
        "type",
        "address",
        "count",
        "function",
        "unit",
        "peer",
        "accepted",
        "reason",
    )

    def __init__(self, job: WriteJob, raw: bytes, width: int) -> None:
        bits = job.table in _BIT_TABLES
        self.value: Any = None
        self.raw = raw
        self.bits = unpack_bits(raw, width) if bits else []
        self.registers = [] if bits else list(struct.unpack(f">{len(raw) // 2}H", raw))
        self.type = int(job.table)  # ModbusRegister.Type's numbers
        self.address = job.start
        self.count = job.count
        self.function = job.function
        self.unit = job.unit
        self.peer = job.peer
        self.accepted = True
        self.reason = ""

    def refuse(self, reason: str = "") -> None:
        """Answer the client's write with exception 04 (server device failure); the table
        keeps its value."""
        self.accepted = False
        self.reason = reason or "refused by a handler"

    def __repr__(self) -> str:
        verdict = "accepted" if self.accepted else f"refused ({self.reason})"
        return (
            f"<ModbusWriteMessage FC {self.function} {self.count} from {self.address} "
            f"value {self.value!r} by {self.peer}: {verdict}>"
        )


def after_write(store: MemoryStore, job: WriteJob) -> MemoryStore:
    """A scratch copy of the tables with the job's write made in it (the original is not
    touched): the registers read their would-be bytes from it, through either view."""
    scratch = MemoryStore(0, 0, 0, 0, overlaid=store.overlaid)
    scratch.registers = [bytearray(buf) for buf in store.registers]
    scratch.bits = [bytearray(buf) for buf in store.bits]
    if job.table in _BIT_TABLES:
        scratch.write_bits(job.table, job.start, job.count, job.data)
    else:
        scratch.write_registers(job.table, job.start, job.data)
    return scratch


class VetoHost:
    """Mixin of ModbusTcpServer (loop thread). Expects TableHost's `_core`, `_registers`,
    `_mapped` and `_views`."""

    __slots__ = ()

    def vetters_changed(self, _reg: Any = None) -> None:
        """A register's `writeRequested` handlers or callback came or went (ModbusRegister
        tells its host): the workers learn which ranges to ask about."""
        self._revet()

    def _revet(self) -> None:
        ranges: dict[Table, list[tuple[int, int]]] = {}
        for reg in self._mapped:
            if reg._vets():
                a = reg.peer_address
                ranges.setdefault(a.table, []).append((a.address, a.end))
        core = self._core
        if ranges or any(core.vetoed):
            core.vetoed = spread(ranges, core.store.overlaid)

    def _decide_write(self, job: WriteJob) -> None:
        """Posted by a worker: decide `job` in a wave."""
        engine.run_on_owner(self._decide_now, job)

    def _decide_now(self, job: WriteJob) -> None:
        if job.abandoned:
            return  # the client had its exception 04 already
        spans = self._views(job.table, job.start, job.start + job.count)
        scratch = None
        messages: list[ModbusWriteMessage] = []
        for reg in self._registers:
            if reg not in self._mapped or not reg._vets():
                continue
            a = reg.peer_address
            if not any(t == a.table and s < a.end and a.address < e for t, s, e in spans):
                continue
            if scratch is None:
                scratch = after_write(self._core.store, job)
            message = ModbusWriteMessage(job, _raw(scratch, a), a.count)
            try:
                message.value = reg._decode(message.raw)
            except ValueError as exc:
                message.refuse(f"{a}: {exc}")
            else:
                reg._vet_write(message)
            messages.append(message)
        engine.schedule_call(self._write_decided, (job, messages))

    def _write_decided(self, job: WriteJob, messages: list[ModbusWriteMessage]) -> None:
        refused = next((m for m in messages if not m.accepted), None)
        if refused is None:
            job.finish(True)
        else:
            job.finish(False, refused.reason)
