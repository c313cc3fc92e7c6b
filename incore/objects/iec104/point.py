"""IEC104Point: one information object of an IEC 104 station, on either side of the link.

One type serves both ends, like ModbusRegister: under an IEC104Station (inside an
IEC104Server) a value the station serves; under an IEC104Connection (inside an
IEC104Client) a remote station's object, mirrored. Host, errors and quality are
link.variable.LinkVariable's. The value is `data` (bindings carry quality and timestamps);
`value` is the same value under c104's name. The address, the type ids and what each holds
are in point_types.py; here a value becomes an information object and back, its
`qualityFlags` joined to the core's `quality` (Bad is sent with IV, Uncertain with NT; a
frame's IV is Bad, NT Uncertain).

A host (link.host.VariableHost, loop thread; "raw" is the information object, e.g.
`FloatValue(ioa, value, quality, time)`, never bytes) has `commonAddress` and:

- `attach_variable(point)` / `detach_variable(point)`: found by `point.peer_address` alone.
- `read_variable(point)`: `pollData()`; a client sends C_RD_NA_1 (a server has nothing to
  read), the answer comes to `point._deliver(info)`.
- `write_variable(point, info)`: `data` was written. A server sends a monitoring point's
  change (of value or flags); a client sends a command point's command (`commandMode`) and
  ends with `point._confirm_write()` or `point._fail("CommandError", why)`. A monitoring
  point of a client reports WriteError itself unless the host has `serves_points = True`.
- `transmit_point(point, cause) -> bool`: `transmit(cause)`.
- `point_changed(point)` (if the host has it): `ioa`, `type` or `keepLatest` was written.

A server hands a client's command to `point._command(message, done)`: `received` fires,
the Python callback runs, then `done(message)` (`message.accepted`: confirm or refuse; an
accepted execute is in `data` by then). A client hands a value to `point._deliver(info,
cause)` (data, flags, quality, `recordedAt`, `processedAt` in one wave) and calls
`point._lost(reason)` while the link is down (Bad, last value kept).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any

from ...core import Object, Property, Signal, engine, method, registry
from ...protocols.iec104 import elements as el
from ...protocols.iec104.cp56 import Cp56Time
from ...protocols.iec104.types import Quality as Flag
from ..errors import error_property
from ..foundation.data import Quality, now_ms
from ..link.variable import LinkVariable
from .point_types import (
    COMMANDS,
    KIND,
    MAX_IOA,
    STATUS,
    TIMED,
    Iec104Address,
    Iec104Message,
    PointType,
    check_groups,
    cp56_of,
    ms_of,
    value_of,
)

__all__ = ["IEC104Point"]


class IEC104Point(LinkVariable):
    """An IEC 104 information object: a station's value, or a remote station's mirrored.

    Under an IEC104Station a monitoring point's change of `data` (or of its quality) is sent
    spontaneously, `reportMs` sends it cyclically, and interrogation and read answer it;
    a command point takes clients' commands (`received(message)`, refusable) into `data`.
    Under an IEC104Connection a monitoring point follows the remote value and a command
    point's `data` write sends the command. See the module docstring for the host contract.
    """

    Type = PointType
    Flag = Flag

    class CommandMode(enum.IntEnum):
        """How a client must send a command to this point."""

        Direct = 0
        SelectAndExecute = 1

    class Error(enum.IntEnum):
        """What went wrong with the point."""

        NoError = 0
        InvalidClientError = 1
        ReadError = 2
        WriteError = 3
        CommandError = 4

    __slots__ = ("_callback", "_mirror")

    client = Property(
        Object,
        None,
        on_write="_client_written",
        doc="The IEC104Station (server) or IEC104Connection (client) that hosts the point "
        "(default: the parent).",
    )
    ioa = Property(
        int,
        0,
        minimum=0,
        maximum=MAX_IOA,
        on_write="_layout_written",
        doc="The information object address (0..16777215).",
    )
    type = Property(
        PointType,
        PointType.M_ME_NC_1,
        on_write="_layout_written",
        doc="The type id: a monitoring type (M_...) or a command type (C_...); the _TB_/_TD_.. "
        "forms carry a CP56Time2a time tag.",
    )
    value = Property(
        object,
        None,
        serializable=False,
        on_write="_value_written",
        doc="The same value as data (c104's name); bind data to carry its quality along.",
    )
    qualityFlags = Property(
        int,
        0,
        minimum=0,
        maximum=0xFF,
        doc="IEC 104 quality bits besides those quality gives: BL 0x10, SB 0x20, NT 0x40, "
        "IV 0x80, OV 0x01 (counters: CY 0x20, CA 0x40, IV 0x80). On a client, the frame's.",
    )
    recordedAt = Property(
        int,
        0,
        unit="ms",
        minimum=0,
        doc="When the value was recorded (the time tag, ms since the epoch; 0: the value's "
        "timestamp). On a client, the received tag.",
    )
    processedAt = Property(
        int,
        0,
        unit="ms",
        readonly=True,
        doc="When the station last processed the value (server: took it; client: received it).",
    )
    reportMs = Property(
        int,
        0,
        unit="ms",
        minimum=0,
        doc="Send the value this often with cause periodic (0: never; monitoring points of a "
        "server).",
    )
    groups = Property(
        list,
        [],
        check=check_groups,
        doc="The interrogation groups (1..16) the point answers besides the general "
        "interrogation; for counters, groups 1..4 are the counter interrogation groups.",
    )
    keepLatest = Property(
        bool,
        False,
        on_write="_layout_written",
        doc="A measured value waiting for a slow client keeps only its latest value (an "
        "older one still waiting is replaced, not queued).",
    )
    relatedIoa = Property(
        int,
        0,
        minimum=0,
        maximum=MAX_IOA,
        doc="A command point's feedback point: sent with cause return-remote (11) after "
        "an executed command (0: none).",
    )
    commandMode = Property(
        CommandMode,
        CommandMode.Direct,
        doc="Direct, or SelectAndExecute: a command must be selected (S/E 1) and executed "
        "within the server's selectTimeout.",
    )
    error = error_property(Error)

    received = Signal(
        "message",
        doc="A client's command for this point; a handler refuses it with message.refuse().",
    )

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._callback: Callable[..., Any] | None = None
        self._mirror: Callable[[], Any] | None = None
        super().__init__(parent, **properties)
        if self.binding("value") is None:
            self._follow_data()

    def _follow_data(self) -> None:
        """`value` shows data (a binding: right in data's wave). Its function is known
        before `bind` evaluates it, so that write of value is no second command."""
        self._mirror = mirror = lambda: self.data
        self.bind("value", mirror)

    # -- what the point is ---------------------------------------------------------------------
    @property
    def common_address(self) -> int:
        host = self._host if self._host is not None else self._resolve_host()
        return int(getattr(host, "commonAddress", 0) or 0)

    @property
    def peer_address(self) -> Iec104Address:
        return Iec104Address(self.common_address, self.ioa)

    @property
    def is_command(self) -> bool:
        return int(self.type) in COMMANDS

    @property
    def is_status(self) -> bool:
        """A status point (single, double, step, bitstring): never pushed out of a buffer."""
        return int(self.type) in STATUS

    @property
    def writable(self) -> bool:
        """Whether a client may write this point's value (a command point)."""
        return self.is_command

    def wire_flags(self) -> int:
        """The quality byte's flags: qualityFlags plus IV for Bad and NT for Uncertain."""
        flags = self.qualityFlags
        quality = self.quality
        if quality == Quality.Bad:
            flags |= Flag.IV
        elif quality == Quality.Uncertain and int(self.type) not in (15, 37):
            flags |= Flag.NT
        return flags

    def time_tag(self) -> Cp56Time:
        return cp56_of(self.recordedAt or self.timestamp or now_ms())

    def information(self, value: Any = None, type_id: int | None = None) -> Any:
        """The information object of the point's value (or `value`) in form `type_id` (the
        point's type by default); ValueError/TypeError if the value does not fit."""
        tid = int(self.type) if type_id is None else type_id
        cls, kind = KIND[int(self.type)]
        v = value_of(kind, self.data if value is None else value)
        ioa = self.ioa
        time = self.time_tag() if tid in TIMED else None
        if self.is_command:
            if cls is el.BitstringCommand:
                return cls(ioa, v, time)
            return cls(ioa, v, False, 0, time)
        flags = self.wire_flags()
        if cls is el.StepPosition:
            return cls(ioa, v, False, flags, time)
        if cls is el.IntegratedTotal:
            return cls(ioa, v, 0, flags & 0xE0, time)
        return cls(ioa, v, flags, time)

    # -- LinkVariable's hooks --------------------------------------------------------------------
    def _decode(self, raw: Any) -> Any:
        """The value an information object holds (a raw int for double points)."""
        value = getattr(raw, "value", None)
        if value is None:
            raise ValueError(f"{type(raw).__name__} carries no value for {self.type.name}")
        return value_of(KIND[int(self.type)][1], value)

    def _encode(self, value: Any) -> Any:
        return self.information(value)

    def _address_problem(self) -> str:
        return ""

    def _missing_host_text(self) -> str:
        return (
            f"IEC104Point {self.name or self.ioa} has no host: put it under an IEC104Station "
            f"or an IEC104Connection, or set client"
        )

    # -- from the host (loop thread unless it says otherwise) ------------------------------------
    def _deliver(self, raw: Any, cause: int = 0) -> None:
        """An information object arrived (any thread): data, flags, quality, times, one wave."""
        try:
            value = self._decode(raw)
        except (TypeError, ValueError) as exc:
            self._fail(self.ReadError, f"{self.peer_address}: {exc}")
            return
        engine.run_on_owner(self._store_object, raw, value)

    def _store_object(self, info: Any, value: Any) -> None:
        flags = getattr(info, "quality", 0) or 0
        tag = getattr(info, "time", None)
        self._update("qualityFlags", flags)
        now = now_ms()
        self._update("recordedAt", ms_of(tag) if isinstance(tag, Cp56Time) else 0)
        self._update("processedAt", now)
        try:
            self._update("data", value)
        except (TypeError, ValueError) as exc:
            self._apply_failure(self.ReadError, f"{self.peer_address}: {exc}")
            return
        self._update("timestamp", now)
        if flags & Flag.IV:
            self._source_quality(Quality.Bad, "invalid (IV)")
        elif flags & Flag.NT and not isinstance(info, el.IntegratedTotal):
            self._source_quality(Quality.Uncertain, "not topical (NT)")
        else:
            self._source_quality(Quality.Good, "")
        if self.error == self.ReadError:
            self._clear_error()

    def _processed(self) -> None:
        """The station took the value (loop thread)."""
        self._update("processedAt", now_ms())

    def _command(
        self,
        message: Iec104Message,
        done: Callable[[Iec104Message], None],
        confirm: Callable[[Iec104Message], None] | None = None,
    ) -> None:
        """A client's command (loop thread): `received` handlers and the Python callback may
        refuse it; an accepted execute is confirmed (`confirm(message)`: its actcon goes out
        while the value is stored, not after) and stored into data; then `done(message)`."""
        fn = self._callback
        if fn is not None:
            try:
                verdict = fn(self, message)
            except Exception as exc:  # a failing callback refuses, it does not confirm
                message.refuse(f"the received callback failed: {exc}")
            else:
                if verdict is False:
                    message.refuse("refused by the received callback")
        if self.has_receivers("received"):
            self.received.emit(message)
        engine.schedule_call(self._command_decided, (message, done, confirm))

    def _command_decided(
        self, message: Iec104Message, done: Callable[..., None], confirm: Any = None
    ) -> None:
        if message.accepted and not message.isSelect:
            if confirm is not None:
                confirm(message)
            try:
                self._update("data", message.value)
            except (TypeError, ValueError) as exc:
                message.refuse(str(exc))
            else:
                now = now_ms()
                self._update("timestamp", now)
                self._update("processedAt", now)
                if message.time is not None:
                    self._update("recordedAt", ms_of(message.time))
        done(message)

    # -- InCore API --------------------------------------------------------------------------------
    @method
    def transmit(self, cause: int = 3) -> bool:
        """Send the point now with `cause` (server: its value; client: the command).

        A server sends the value to every client with data transfer on (default cause 3,
        spontaneous); a client sends the command with cause activation.
        """
        host = self._usable_host(self.WriteError)
        if host is None:
            return False
        return bool(host.transmit_point(self, int(cause)))

    def setReceivedCallback(self, fn: Callable[[Any, Iec104Message], Any] | None) -> None:
        """Python API (c104's on_receive): `fn(point, message)` decides a command; False
        refuses it (as `message.refuse()` does)."""
        self._callback = fn

    # -- value and data ---------------------------------------------------------------------------
    def _value_written(self, value: Any) -> None:
        """`value` written (or bound by the app): it is data's value; after an assignment
        value follows data again."""
        binding = self.binding("value")
        if binding is not None and binding.fn is self._mirror:
            return  # value following data
        self.data = value
        if binding is None:
            self._follow_data()

    def _confirm_write(self) -> None:
        """The station confirmed the command: a failed one before it is over."""
        if self.error in (self.WriteError, self.CommandError):
            self._clear_error()

    def _data_written(self, value: Any) -> None:
        if not self.writable and not getattr(self._host, "serves_points", False):
            super(LinkVariable, self)._data_written(value)
            if self.enabled and self.isLive and self._host is not None:
                self._report_error(
                    self.WriteError,
                    f"{self.peer_address} is a monitoring point: a client cannot write it",
                )
            return
        super()._data_written(value)

    def _layout_written(self, _value: Any) -> None:
        """`ioa`, `type` or `keepLatest` written: a host that keeps them aside is told."""
        tell = getattr(self._host, "point_changed", None)
        if tell is not None:
            tell(self)

    def _check(self) -> Iterator[registry.Problem]:
        """It has a host; a command point has no reportMs, a bitstring command no select."""
        yield from super()._check()
        if self.is_command and self.reportMs:
            yield registry.Problem(self, "reportMs", "a command point is not sent cyclically")
        if int(self.type) in (51, 64) and self.commandMode == self.CommandMode.SelectAndExecute:
            yield registry.Problem(self, "commandMode", "a bitstring command has no select")
