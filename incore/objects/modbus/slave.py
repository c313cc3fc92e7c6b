"""ModbusSlave: one remote unit behind a ModbusTcpClient, the host of its ModbusRegisters.

A Modbus TCP server may stand for several units (a gateway to a serial bus); the slave is
one of them: its `address` is the unit id its registers are read and written with, and its
`pollMode`, `maximumBlockGap` and `maximumBlockLength` say how they are grouped into read
requests (blocks.plan_reads). It hosts its registers (link.host.VariableHost) by handing
them on to its client's host with itself as their unit, so the client can batch the polls
of every slave in one turn. `pollRegisters()` (and so `Polling { on: registers }`) asks
for every enabled register at once, which is what lets them share requests.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any

from ...core import Object, Property, Signal, method, registry
from ...protocols.modbus.blocks import DEFAULT_MAXIMUM_BLOCK_LENGTH, PollMode
from ..errors import ErrorReporting, error_property
from ..link.host import HostedVariable
from .client import ModbusTcpClient

__all__ = ["ModbusSlave"]


class ModbusSlave(ErrorReporting):
    """A unit of a Modbus TCP server, polled by its parent ModbusTcpClient (InCore's)."""

    class Error(enum.IntEnum):
        """What went wrong with the slave."""

        NoError = 0
        InvalidClientError = 1
        DisabledError = 2

    PollMode = PollMode

    __slots__ = ("_hosted", "_watchers")

    accepts = ("ModbusRegister", "Polling")

    error = error_property(Error)
    address = Property(
        int,
        1,
        minimum=0,
        maximum=255,
        doc="The unit id of this slave (255 or 0: the server itself, on most devices).",
    )
    enabled = Property(
        bool, True, doc="Whether the registers are read and written (false: left alone)."
    )
    pollMode = Property(
        PollMode,
        PollMode.PollRegisterBlocks,
        doc="PollRegisterBlocks reads neighbouring registers with one request; "
        "PollSingleRegisters reads each register with a request of its own.",
    )
    maximumBlockGap = Property(
        int,
        0,
        minimum=0,
        doc="How many unneeded addresses a block may read through between two registers.",
    )
    maximumBlockLength = Property(
        int,
        DEFAULT_MAXIMUM_BLOCK_LENGTH,
        minimum=1,
        doc="The longest block read with one request (never more than Modbus allows: 125 "
        "registers, 2000 coils or inputs).",
    )
    registers = Property(
        list, [], readonly=True, serializable=False, doc="The ModbusRegisters of this slave."
    )
    registersDataChanged = Signal(
        "index", doc="The data of registers[index] changed (read from the device or written)."
    )

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._hosted: list[Any] = []
        self._watchers: dict[Any, Any] = {}
        super().__init__(parent, **properties)

    # -- what the client's host reads --------------------------------------------------------
    @property
    def unit_id(self) -> int:
        """The unit id requests for this slave carry."""
        return self.address

    @property
    def client(self) -> ModbusTcpClient | None:
        """The ModbusTcpClient this slave belongs to (its parent), or None."""
        parent = self.parent
        return parent if isinstance(parent, ModbusTcpClient) else None

    # -- InCore methods --------------------------------------------------------------------
    @method
    def pollRegisters(self) -> None:
        """Read every enabled register now (neighbours share requests, see pollMode)."""
        if not self.enabled or not self.isLive:
            return
        for var in list(self._hosted):
            var.pollData()

    # -- VariableHost (link/host.py) -----------------------------------------------------------
    def attach_variable(self, var: HostedVariable) -> None:
        if var not in self._hosted:
            self._hosted.append(var)
            self._watch(var)
            self._list_registers()
        client = self._require_client()
        if client is not None:
            client.attach_variable(var)

    def detach_variable(self, var: HostedVariable) -> None:
        if var in self._hosted:
            self._hosted.remove(var)
            watcher = self._watchers.pop(var, None)
            if watcher is not None:
                var.dataChanged.disconnect(watcher)  # type: ignore[attr-defined]
            self._list_registers()
        client = self.client
        if client is not None:
            client.detach_variable(var)

    def read_variable(self, var: HostedVariable) -> None:
        if not self.enabled:
            return
        client = self._require_client()
        if client is None:
            var._fail("ReadError", self.errorString)
            return
        client.read_variable(var)

    def write_variable(self, var: HostedVariable, raw: bytes) -> None:
        if not self.enabled:
            var._fail("WriteError", f"{self._name()}: the slave is disabled")
            return
        client = self._require_client()
        if client is None:
            var._fail("WriteError", self.errorString)
            return
        client.write_variable(var, raw)

    # -- details -----------------------------------------------------------------------------
    def _name(self) -> str:
        return f"ModbusSlave {self.address}"

    def _require_client(self) -> ModbusTcpClient | None:
        client = self.client
        if client is None:
            self._report_error(
                self.Error.InvalidClientError,
                f"{self._name()}: a ModbusSlave must be a child of a ModbusTcpClient",
            )
        return client

    def _watch(self, var: Any) -> None:
        def changed() -> None:
            if var in self._hosted:
                self.registersDataChanged.emit(self.registers.index(var))

        self._watchers[var] = changed
        var.dataChanged.connect(changed)

    def _list_registers(self) -> None:
        """`registers` in the order of the children, then any other register hosted here."""
        children = [c for c in self.objects if c in self._hosted]
        others = [v for v in self._hosted if v not in children]
        self._update("registers", children + others)

    def _check(self) -> Iterator[registry.Problem]:
        """The parent is a ModbusTcpClient."""
        if self.client is None:
            yield registry.Problem(
                self,
                "parent",
                f"{self._name()}: a ModbusSlave must be a child of a ModbusTcpClient",
            )
