"""How an S7Server's memory meets the application: S7ServerArea children and S7Variables.

`MemoryHost` is the loop-thread half of S7Server: it maps S7ServerArea children onto
registered areas and S7Variable children onto bytes of those areas (link.host.VariableHost,
finding each variable by its S7Address), and fans every change out to them — changes made
by clients (batched by the loop inbox) and changes made by the application itself — so an
area's `data` and every overlapping variable always follow the memory. A variable mapped
here is Good; one whose area is missing or was unregistered is Bad, with the reason.
"""

from __future__ import annotations

import logging
from typing import Any

from ...protocols.s7.constants import Area
from ..link.host import HostedVariable
from .server_initial import seed
from .server_memory import MAX_AREA_SIZE, WIRE_AREA, Block, ServerMemory

log = logging.getLogger("incore.s7server")

_read = ServerMemory.read


def area_name(area: int, index: int) -> str:
    """'DB5', 'PE', 'MK' ... for a wire area code."""
    if area == Area.DB:
        return f"DB{index}"
    try:
        return Area(area).name
    except ValueError:
        return f"area 0x{area:02X}"


class MemoryHost:
    """Mixin of S7Server (loop thread only). Expects `_core`, `_variables`, `_mapped`,
    `_area_blocks` and `_job(error, text)` from the class it is mixed into."""

    __slots__ = ()

    # -- VariableHost (link/host.py) ----------------------------------------------------------
    def attach_variable(self, var: HostedVariable) -> None:
        """Map `var` onto this server's memory (again, if its address changed)."""
        if var not in self._variables:
            self._variables.append(var)
        if self.isCompleted:  # before that, _on_completed maps it once the areas exist
            self._map(var)

    def detach_variable(self, var: HostedVariable) -> None:
        self._unmap(var)
        if var in self._variables:
            self._variables.remove(var)

    def read_variable(self, var: HostedVariable) -> None:
        """pollData() of a mapped variable: deliver the bytes the memory holds now."""
        block = self._mapped.get(var)
        if block is None:
            self._map(var)  # delivers, or reports why it can not
            return
        where = var.peer_address
        var._deliver(_read(block, where.offset, where.size))

    def write_variable(self, var: HostedVariable, raw: bytes) -> None:
        """The variable's data was written: store its bytes where clients read them."""
        block = self._mapped.get(var)
        if block is None:
            self._map(var)
            block = self._mapped.get(var)
            if block is None:
                return
        where = var.peer_address
        start, size = where.offset, where.size
        if where.width == "Bit":  # each bit into its byte (an array: raw has a byte per bit)
            for i, value in enumerate(raw[: where.count] or b"\x00"):
                at = where.bit + i
                ServerMemory.write_bit(block, start + (at >> 3), at & 7, bool(value & 1))
        elif len(raw) != size:
            var._fail("WriteError", f"{len(raw)} bytes for a {size}-byte variable")
            return
        else:
            ServerMemory.write(block, start, raw)
        var._became_memory()
        self._notify(block, start, start + size, skip=var)

    # -- mapping -----------------------------------------------------------------------------
    def _map(self, var: HostedVariable, initial: bool = False) -> None:
        """Map `var` onto its area; `initial` (the server's start): its literal `data` is
        the initial value of its bytes (server_initial.py)."""
        self._unmap(var)
        where = var.peer_address
        area, db, start, size = where.area, where.db, where.offset, where.size
        block = self._core.memory.find(area, db)
        if block is None:
            var._fail(
                "ReadError",
                f"{self!r} has no area {area_name(area, db)}: add an "
                f"S7ServerArea for it (or call registerArea)",
            )
            return
        if start < 0 or start + size > len(block.buf):
            var._fail(
                "ReadError",
                f"{size} bytes at {start} do not fit "
                f"{area_name(area, db)} of {len(block.buf)} bytes",
            )
            return
        block.variables.append(var)
        block.rewatch()
        self._mapped[var] = block
        binding = var.binding("data")
        if binding is not None:  # a bound value is what the memory holds: it writes the area
            try:
                binding.evaluate()
            except (TypeError, ValueError) as exc:
                var._fail("WriteError", f"the bound value can not be written: {exc}")
        else:
            if initial:
                seed(self, var, block)
            var._deliver(_read(block, start, size))

    def _unmap(self, var: HostedVariable) -> None:
        block = self._mapped.pop(var, None)
        if block is not None:
            block.variables.remove(var)
            block.rewatch()

    def _map_waiting(self, block: Block) -> None:
        """A new area: map the variables that were waiting for it."""
        for var in list(self._variables):
            where = var.peer_address
            if (
                var not in self._mapped
                and where.area == block.area
                and (block.area != Area.DB or where.db == block.index)
            ):
                self._map(var, initial=not self.isCompleted)

    def _dropped(self, block: Block) -> None:
        """An area was unregistered: its variables report that they lost their memory."""
        for var in list(block.variables):
            self._unmap(var)
            var._fail("ReadError", f"area {area_name(block.area, block.index)} was unregistered")
        if block.owner is not None:
            self._area_blocks.pop(block.owner, None)
            block.owner = None

    # -- fan-out -------------------------------------------------------------------------------
    def _notify(self, block: Block, start: int, end: int, skip: Any = None) -> None:
        """Bytes [start, end) of `block` changed: update the area object and the variables."""
        snapshot = None
        owner = block.owner
        if owner is not None:
            snapshot = _read(block)
            owner._update("data", snapshot)
        for var in list(block.variables):
            where = var.peer_address
            a = where.offset
            b = a + where.size
            if var is skip or a >= end or b <= start:
                continue
            raw = snapshot[a:b] if snapshot is not None else _read(block, a, b - a)
            try:
                var._deliver(raw)
            except Exception:  # one faulty variable must not starve the others
                log.exception("%r: delivering %r failed", self, var)

    def _apply_client_writes(self, changes: list) -> None:
        """Coalesce the clients' writes of one loop turn per area, then fan them out once."""
        spans: dict[Block, list[int]] = {}
        for block, start, end in changes:
            span = spans.get(block)
            if span is None:
                spans[block] = [start, end]
            else:
                span[0] = min(span[0], start)
                span[1] = max(span[1], end)
        blocks = self._core.memory.blocks
        for block, (start, end) in spans.items():
            if blocks.get((block.area, block.index)) is block:  # still registered
                self._notify(block, start, end)

    # -- S7ServerArea children ---------------------------------------------------------------
    def _attach_area(self, area_obj: Any) -> None:
        """Register the memory an S7ServerArea describes (on its completion)."""
        code = WIRE_AREA[int(area_obj.area)]
        index = area_obj.index if code == Area.DB else 0
        data, size = area_obj.data, area_obj.size
        name = area_name(code, index)
        size = max(size, len(data))
        if not 0 < size <= MAX_AREA_SIZE:
            self._job(
                self.ServerError.InvalidParams,
                f"S7ServerArea {name}: size must be 1..{MAX_AREA_SIZE} bytes, got {size}",
            )
            return
        if not 0 <= index <= 0xFFFF:
            self._job(
                self.ServerError.InvalidParams, f"S7ServerArea: DB number {index} is not 0..65535"
            )
            return
        if self._core.memory.find(code, index) is not None:
            self._job(self.ServerError.AreaAlreadyExists, f"area {name} is registered twice")
            return
        data = data.ljust(size, b"\x00")
        area_obj._update("size", size)
        area_obj._update("data", data)
        block = self._core.memory.add(code, index, data)
        block.owner = area_obj
        block.rewatch()
        self._area_blocks[area_obj] = block
        self._map_waiting(block)

    def _detach_area(self, area_obj: Any) -> None:
        block = self._area_blocks.pop(area_obj, None)
        if block is not None:
            self._core.memory.remove(block)
            block.owner = None
            self._dropped(block)

    def _area_layout_changed(self, area_obj: Any) -> None:
        """area, index or size changed after completion: move the memory, keep its bytes."""
        self._detach_area(area_obj)
        if area_obj.size > 0 and len(area_obj.data) > area_obj.size:
            area_obj._update("data", area_obj.data[: area_obj.size])
        self._attach_area(area_obj)

    def _area_data_written(self, area_obj: Any, data: bytes) -> None:
        block = self._area_blocks.get(area_obj)
        if block is not None:
            ServerMemory.write(block, 0, data)
            self._notify(block, 0, len(data))
