"""Initial values of an S7Server's memory: an area's `data`, then the variables' literals.

When the server starts (its completion), each area begins with its S7ServerArea's `data`
(zeros past it), and then every S7Variable with a literal `data` writes that value at its
address, in the order the variables were declared, so a later literal wins where two
overlap. When two literals overlap with different bits, a warning names both (the later
value stays). A variable whose `data` is bound is not a literal: its binding writes the
memory, as it does later on. After the start, `data` written to a variable writes the
memory (that is a write, not an initial value), and a variable added later reads the memory.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import about
from .server_memory import Block, ServerMemory

log = logging.getLogger("incore.s7server")


def seed(host: Any, var: Any, block: Block) -> None:
    """Write `var`'s literal `data` into `block` (mapped already), warning when it changes
    bits an earlier literal wrote."""
    value = var.data
    if value is None:
        return
    try:
        raw = var._encode(value)
    except (TypeError, ValueError) as exc:
        var._fail("WriteError", f"{var.peer_address}: initial value {value!r}: {exc}")
        return
    where = var.peer_address
    start, size = where.offset, where.size
    before = ServerMemory.read(block, start, size)
    host.write_variable(var, raw)
    after = ServerMemory.read(block, start, size)
    mine = _owned(where, size)
    seeded = block.seeded
    if seeded is None:
        seeded = block.seeded = {}
    for i in range(size):
        earlier = seeded.get(start + i)
        if earlier is not None:
            mask, first = earlier
            if (before[i] ^ after[i]) & mask & mine[i]:
                log.warning(
                    "%s: its initial value overrides the one of %s at byte %d of %r",
                    about(var),
                    about(first),
                    start + i,
                    block,
                )
            seeded[start + i] = (mask | mine[i], var)
        elif mine[i]:
            seeded[start + i] = (mine[i], var)


def done(blocks: Any) -> None:
    """The start is over: forget who wrote which initial bytes."""
    for block in list(blocks):
        block.seeded = None


def _owned(where: Any, size: int) -> bytes:
    """The bits of its bytes a variable writes: all of them, or its bits for Bit types."""
    if where.width != "Bit":
        return b"\xff" * size
    mask = bytearray(size)
    for i in range(getattr(where, "count", 1) or 1):
        at = where.bit + i
        if at >> 3 < size:
            mask[at >> 3] |= 1 << (at & 7)
    return bytes(mask)
