"""Where a variable's value lives in its peer, whatever the protocol.

A host (a client polling a PLC or RTU, a server mapping its own memory) finds a variable's
value by its address alone. Each protocol has its own kind of address (S7: area, data block,
byte offset and bit; Modbus: table and register; IEC 104: common address and information
object address), so each defines a small frozen dataclass that extends `PeerAddress`. The
base gives hosts what they need of any of them: equality and hashing (two variables at the
same place compare equal, so a host can share one read between them), the protocol's name,
and `str()` in the form users write in their app files, for error texts.

Modbus would declare, in its own package::

    @dataclass(frozen=True, slots=True)
    class ModbusAddress(PeerAddress):
        protocol: ClassVar[str] = "Modbus"
        table: str          # "coil", "discrete", "input", "holding"
        address: int
        count: int = 1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = ["PeerAddress"]


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """The base of every protocol's address: immutable, hashable, printable."""

    #: The protocol this address belongs to ("S7", "Modbus", "IEC 104"): a tag hosts can
    #: check before they read fields of a kind they know.
    protocol: ClassVar[str] = ""

    def __str__(self) -> str:
        """The address as users write it (subclasses say how)."""
        return repr(self)
