"""The S7 server's memory: registered areas, each a buffer guarded by its own lock.

Clients are answered on their connection's thread straight from these buffers, without a
round trip through the loop; the application (loop thread) reads and writes the same
buffers under the same locks. `lockArea` is a flag under an area's lock: client accesses to
that area wait on the area's condition until `unlockArea`, while the application, which
holds the lock in snap7's sense, keeps access. A waiting client wakes up when its connection
closes, so stopping the server never hangs on a locked area.

In resourceless mode a client's access becomes a `Job` that the loop answers through the
server's `readWrite` signal; the client's thread waits for it, bounded by a timeout and
woken when its connection closes.
"""

from __future__ import annotations

import threading
from typing import Any

from ...protocols.errors import AreaError
from ...protocols.s7.constants import Area, BlockType, ReturnCode, SrvArea, TransportSize
from ...protocols.s7.items import ItemSpec
from ...protocols.s7.server import set_bit
from .server_events import S7Tag

#: snap7 area number (registerArea) -> wire area code (what clients address).
WIRE_AREA = {int(a): int(Area[a.name]) for a in SrvArea}
#: Largest area a client can address (24-bit bit addresses).
MAX_AREA_SIZE = 1 << 21

_OUT_OF_RANGE = ReturnCode.ADDRESS_OUT_OF_RANGE
_MISSING = ReturnCode.OBJECT_DOES_NOT_EXIST
_COUNTED = (Area.TM, Area.CT)
#: Word lengths whose Start is the wire address itself (bit address, element number).
_RAW_ADDRESS = frozenset((TransportSize.BIT, TransportSize.TIMER, TransportSize.COUNTER))


class Interrupted(Exception):
    """A client's wait ended because its connection closed (the item fails, nobody hears)."""


class Block:
    """One registered area. `variables` and `owner` belong to the loop; `watched` tells the
    connection threads whether a write must be reported to the loop at all."""

    __slots__ = (
        "area",
        "index",
        "buf",
        "lock",
        "cond",
        "locked",
        "owner",
        "variables",
        "watched",
        "seeded",
    )

    def __init__(self, area: int, index: int, data: bytes) -> None:
        self.area = area
        self.index = index
        self.buf = bytearray(data)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.locked = False
        self.owner: Any = None
        self.variables: list = []
        self.watched = False
        self.seeded: dict | None = None  # while the server starts: server_initial.py

    def __repr__(self) -> str:
        name = f"DB{self.index}" if self.area == Area.DB else Area(self.area).name
        return f"<area {name}, {len(self.buf)} bytes>"

    def rewatch(self) -> None:
        self.watched = self.owner is not None or bool(self.variables)


class ServerMemory:
    """The registered areas by (wire area code, DB number or 0); the application's side."""

    def __init__(self) -> None:
        self.blocks: dict[tuple[int, int], Block] = {}

    def find(self, area: int, index: int) -> Block | None:
        return self.blocks.get((area, index if area == Area.DB else 0))

    def add(self, area: int, index: int, data: bytes) -> Block:
        block = Block(area, index if area == Area.DB else 0, data)
        self.blocks[(block.area, block.index)] = block  # one dict store: atomic for readers
        return block

    def remove(self, block: Block) -> None:
        if self.blocks.get((block.area, block.index)) is block:
            del self.blocks[(block.area, block.index)]
        with block.lock:  # clients waiting on a locked area get "object does not exist"
            block.locked = False
            block.cond.notify_all()

    @staticmethod
    def read(block: Block, start: int = 0, size: int | None = None) -> bytes:
        with block.lock:
            end = len(block.buf) if size is None else start + size
            return bytes(block.buf[start:end])

    @staticmethod
    def write(block: Block, start: int, data: bytes) -> None:
        if start < 0 or start + len(data) > len(block.buf):
            raise ValueError(f"{block!r}: {len(data)} bytes at {start} do not fit")
        with block.lock:
            block.buf[start : start + len(data)] = data

    @staticmethod
    def write_bit(block: Block, offset: int, bit: int, on: bool) -> None:
        with block.lock:
            set_bit(block.buf, offset, bit, on)

    @staticmethod
    def set_locked(block: Block, locked: bool) -> None:
        with block.lock:
            block.locked = locked
            if not locked:
                block.cond.notify_all()


def resourceless_tag(area: int, index: int, start: int, size: int, spec: ItemSpec | None) -> S7Tag:
    """The tag of a resourceless access, as Snap7 C hands it to its callback: the item as the
    client asked it (`Start` a byte offset, or the bit address of a BIT item, or the element
    number of a timer/counter; `Size` in elements; `WordLen` the requested one). Without the
    request item (`spec` None) the access is described in bytes."""
    if spec is not None:
        ts = spec.transport_size
        return S7Tag(
            area, index, spec.address if ts in _RAW_ADDRESS else spec.byte_offset, spec.count, ts
        )
    if area in _COUNTED:
        word_len = TransportSize.TIMER if area == Area.TM else TransportSize.COUNTER
        return S7Tag(area, index, start // 2, size // 2, int(word_len))
    return S7Tag(area, index, start, size, int(TransportSize.BYTE))


class Job:
    """One resourceless read or write, answered on the loop (see S7Server.readWrite).

    `size` is the buffer's length the client needs back: elements times their width (one
    byte for a BIT, whose bit the engine then picks from it)."""

    __slots__ = ("sender", "operation", "tag", "buffer", "size", "code", "done")

    def __init__(self, sender: str, operation: int, tag: S7Tag, buffer: bytearray) -> None:
        self.sender = sender
        self.operation = operation
        self.tag = tag
        self.buffer = buffer
        self.size = len(buffer)
        self.code = 0  # set by the loop: ReturnCode.SUCCESS or an item error code
        self.done = threading.Event()

    def finish(self, code: int) -> None:
        self.code = code
        self.done.set()


class ClientAccess:
    """The `AreaStore` one connection's S7 engine reads and writes (its thread only).

    `core` is the server's shared state: `memory`, `resourceless`, `rw_timeout`,
    `run_job(job)` (thread-safe hand-over to the loop) and `changed(block, start, end)`.
    """

    __slots__ = ("_core", "_blocks", "sender", "_closed", "_waiting")

    def __init__(self, core: Any, sender: str) -> None:
        self._core = core
        self._blocks = core.memory.blocks
        self.sender = sender
        self._closed = False
        self._waiting: Any = None  # the Block or Job this thread waits on

    def wake(self) -> None:
        """The connection closed: end any wait (a close callback; runs on any thread)."""
        self._closed = True
        waiting = self._waiting
        if isinstance(waiting, Block):
            with waiting.lock:
                waiting.cond.notify_all()
        elif isinstance(waiting, Job):
            waiting.done.set()

    # -- AreaStore --------------------------------------------------------------------------
    def read(
        self, area: int, index: int, start: int, size: int, *, spec: ItemSpec | None = None
    ) -> bytes:
        if self._core.resourceless:
            return self._resourceless(
                0, resourceless_tag(area, index, start, size, spec), bytearray(size)
            )
        block = self._blocks.get((area, index))  # _block, written out: every read is here
        if block is None:
            raise AreaError(_MISSING)
        end = start + size
        with block.lock:
            if block.locked:
                return self._buffer(block, start, end)[start:end]
            buf = block.buf  # _buffer's way when the area is not locked
            if start < 0 or end > len(buf):
                raise AreaError(_OUT_OF_RANGE)
            return buf[start:end]

    def write(
        self, area: int, index: int, start: int, data: bytes, *, spec: ItemSpec | None = None
    ) -> None:
        if self._core.resourceless:
            self._resourceless(
                1, resourceless_tag(area, index, start, len(data), spec), bytearray(data)
            )
            return
        block = self._block(area, index)
        end = start + len(data)
        with block.lock:
            self._buffer(block, start, end)[start:end] = data
        if block.watched:
            self._core.changed(block, start, end)

    def write_bit(
        self,
        area: int,
        index: int,
        start: int,
        bit: int,
        value: bool,
        *,
        spec: ItemSpec | None = None,
    ) -> None:
        """One bit, read-modify-written under one hold of the area's lock (so no other
        writer's change to the byte's other bits is lost); resourceless: one handler call
        with the bit's tag and one byte, 0x00 or 0x01, as Snap7 C makes it."""
        if self._core.resourceless:
            self._resourceless(
                1, resourceless_tag(area, index, start, 1, spec), bytearray((1 if value else 0,))
            )
            return
        block = self._block(area, index)
        with block.lock:
            set_bit(self._buffer(block, start, start + 1), start, bit, value)
        if block.watched:
            self._core.changed(block, start, start + 1)

    # -- BlockDirectory (protocols/s7/blocks.py) ------------------------------------------------
    def block_sizes(self, block_type: int) -> dict[int, int]:
        """The registered DBs are the server's DB blocks; it has no other kind of block."""
        if block_type != BlockType.DB:
            return {}
        return {b.index: len(b.buf) for b in list(self._blocks.values()) if b.area == Area.DB}

    # -- finding and waiting ------------------------------------------------------------------
    def _block(self, area: int, index: int) -> Block:
        block = self._blocks.get((area, index))
        if block is None:
            raise AreaError(_MISSING)
        return block

    def _buffer(self, block: Block, start: int, end: int) -> bytearray:
        """The area's buffer once bytes start..end may be touched (call holding block.lock):
        waits out lockArea, then checks the range."""
        if block.locked:
            self._wait(block)
        buf = block.buf
        if start < 0 or end > len(buf):
            raise AreaError(_OUT_OF_RANGE)
        return buf

    def _wait(self, block: Block) -> None:
        """Wait (holding block.lock) until the area is unlocked, or raise if it went away."""
        self._waiting = block
        try:
            while block.locked and not self._closed:
                block.cond.wait()
        finally:
            self._waiting = None
        if self._closed:
            raise Interrupted("connection closed while waiting for a locked area")
        if self._blocks.get((block.area, block.index)) is not block:
            raise AreaError(_MISSING)  # unregistered while we waited

    def _resourceless(self, operation: int, tag: S7Tag, buffer: bytearray) -> bytes:
        """Hand one access to the loop's readWrite handlers and wait for their answer."""
        job = Job(self.sender, operation, tag, buffer)
        self._waiting = job
        try:
            if self._closed:
                raise Interrupted("connection closed")
            self._core.run_job(job)
            answered = job.done.wait(self._core.rw_timeout)
        finally:
            self._waiting = None
        if self._closed:
            raise Interrupted("connection closed while the application answered")
        if not answered:
            raise AreaError(ReturnCode.HARDWARE_FAULT, "readWrite handler did not answer in time")
        if job.code != ReturnCode.SUCCESS:
            raise AreaError(job.code)
        return bytes(job.buffer)
