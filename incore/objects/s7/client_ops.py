"""S7Client's Python operations: every call returns a concurrent.futures.Future.

The work runs on the client's worker thread, so none of these block the caller; a script
or another thread waits with `future.result(timeout)`. A failure is an S7Error carrying
snap7's client error number (and it is reported on the client's error/errorString/
errorOccurred too). Done-callbacks added to a future run on the worker thread: post to the
loop before touching objects. Waiting for a result on the loop thread itself would stall
every other object for as long as the PLC takes (up to `timeout`): handlers should use
S7Variable objects or a done-callback instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from ...protocols.errors import S7Error
from ...protocols.s7 import Area, Operation, S7ClientProtocol, TransportSize, Var
from ...protocols.s7.client import fail
from ...protocols.s7.constants import BlockType, ClientError
from . import values

__all__ = ["S7Operations", "area_code", "block_type", "transport_size", "to_var"]

_AREA_NAMES = {
    "PE": Area.PE,
    "I": Area.PE,
    "E": Area.PE,
    "INPUTS": Area.PE,
    "PA": Area.PA,
    "Q": Area.PA,
    "A": Area.PA,
    "OUTPUTS": Area.PA,
    "MK": Area.MK,
    "M": Area.MK,
    "MERKERS": Area.MK,
    "FLAGS": Area.MK,
    "DB": Area.DB,
    "CT": Area.CT,
    "C": Area.CT,
    "Z": Area.CT,
    "COUNTERS": Area.CT,
    "TM": Area.TM,
    "T": Area.TM,
    "TIMERS": Area.TM,
}
_USER_AREAS = frozenset((Area.PE, Area.PA, Area.MK, Area.DB, Area.CT, Area.TM))
_DB = int(Area.DB)


def area_code(area: Any) -> int:
    """The wire area code of `area`: an Area, its number, or a name (DB, PE/I/E, PA/Q/A,
    MK/M, CT/C/Z, TM/T)."""
    if isinstance(area, str):
        code = _AREA_NAMES.get(area.strip().upper())
        if code is None:
            raise fail(ClientError.InvalidParams, f"unknown area {area!r} (DB, PE, PA, MK, CT, TM)")
        return code
    if isinstance(area, int) and not isinstance(area, bool) and area in _USER_AREAS:
        return int(area)
    raise fail(ClientError.InvalidParams, f"unknown area {area!r} (DB, PE, PA, MK, CT, TM)")


def transport_size(word_len: Any) -> int | None:
    """A TransportSize, its number or its name ("BYTE", "REAL"); None = the area's default."""
    if word_len is None:
        return None
    if isinstance(word_len, str):
        try:
            return TransportSize[word_len.strip().upper()]
        except KeyError:
            raise fail(ClientError.InvalidWordLen, f"unknown word length {word_len!r}") from None
    try:
        return TransportSize(word_len)
    except ValueError:
        raise fail(ClientError.InvalidWordLen, f"unknown word length {word_len!r}") from None


def _pick(item: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        if name in item:
            return item[name]
    return default


def to_var(item: Var | Mapping[str, Any], writing: bool = False) -> Var:
    """A multi-variable item from a Var or a dict: area, dbNumber, start, amount (or
    size), wordLen, and data when writing."""
    if isinstance(item, Var):
        return item
    if not isinstance(item, Mapping):
        raise fail(ClientError.InvalidParams, f"an item must be a Var or a dict, got {item!r}")
    data = bytes(_pick(item, "data", default=b""))
    ts = transport_size(_pick(item, "wordLen", "word_len", "transport_size"))
    amount = _pick(item, "amount", "size")
    if amount is None:
        width = (
            1
            if ts is None or ts in (TransportSize.BIT, TransportSize.BYTE, TransportSize.CHAR)
            else 2
            if ts
            in (TransportSize.WORD, TransportSize.INT, TransportSize.TIMER, TransportSize.COUNTER)
            else 4
        )
        amount = max(len(data) // width, 1) if writing else 1
    return Var(
        area_code(_pick(item, "area", default="DB")),
        int(_pick(item, "dbNumber", "db_number", "db", default=0)),
        int(_pick(item, "start", default=0)),
        int(amount),
        ts,
        data,
    )


def block_type(value: int | str) -> int:
    """A block type by name (`DB`, `ob`), `BlockType` member, or wire code (0x41)."""
    if isinstance(value, str):
        try:
            return BlockType[value.strip().upper()]
        except KeyError:
            names = ", ".join(t.name for t in BlockType)
            raise fail(
                ClientError.InvalidParams, f"block type {value!r} (one of {names})"
            ) from None
    if isinstance(value, int) and value in BlockType._value2member_map_:
        return int(value)
    raise fail(ClientError.InvalidParams, f"block type {value!r}")


class S7Operations:
    """The operations an S7 client needs, as S7Client methods (mixin; needs `_submit`)."""

    __slots__ = ()

    _submit: Callable[..., Future]
    _failed: Callable[..., Future]

    def _run(self, make: Callable[[S7ClientProtocol], Operation[Any]]) -> Future:
        return self._submit(make)

    def _checked(self, build: Callable[[], Callable[[S7ClientProtocol], Operation[Any]]]) -> Future:
        """Validate arguments on the caller's side; bad ones give an already failed future."""
        try:
            make = build()
        except S7Error as exc:
            return self._failed(exc)
        except (TypeError, ValueError) as exc:
            return self._failed(fail(ClientError.InvalidParams, str(exc)))
        return self._submit(make)

    # -- memory ---------------------------------------------------------------------------
    def readArea(
        self, area: Any, dbNumber: int, start: int, amount: int, wordLen: Any = None
    ) -> Future:
        """Read `amount` elements (bytes by default; timers/counters: elements of 2 bytes)
        from any area; split into as many requests as the PDU size needs. -> bytes"""
        try:  # spelled out rather than through _checked: this is every poll's path
            code, ts = area_code(area), transport_size(wordLen)
        except S7Error as exc:
            return self._failed(exc)
        return self._read(code, dbNumber, start, amount, ts)

    def _read(self, area: int, dbNumber: Any, start: Any, amount: Any, ts: int | None) -> Future:
        try:
            db, first, count = int(dbNumber), int(start), int(amount)
        except (TypeError, ValueError) as exc:
            return self._failed(fail(ClientError.InvalidParams, str(exc)))
        return self._submit(lambda p: p.read_area(area, db, first, count, ts))

    def writeArea(
        self, area: Any, dbNumber: int, start: int, data: bytes, wordLen: Any = None
    ) -> Future:
        """Write `data` (whole elements) to any area, split by the PDU size. -> None"""

        def build() -> Callable[[S7ClientProtocol], Operation[None]]:
            code, ts, payload = area_code(area), transport_size(wordLen), bytes(data)
            return lambda p: p.write_area(code, int(dbNumber), int(start), payload, ts)

        return self._checked(build)

    def dbRead(self, dbNumber: int, start: int, size: int) -> Future:
        """Read `size` bytes of a data block. -> bytes"""
        return self._read(_DB, dbNumber, start, size, None)

    def dbWrite(self, dbNumber: int, start: int, data: bytes) -> Future:
        """Write bytes to a data block. -> None"""
        return self.writeArea(Area.DB, dbNumber, start, data)

    def readMultiVars(self, items: Iterable[Var | Mapping[str, Any]]) -> Future:
        """Read up to 20 variables in one request. -> list of ItemResult (error, data)"""

        def build() -> Callable[[S7ClientProtocol], Operation[Any]]:
            variables = [to_var(i) for i in items]
            return lambda p: p.read_multi(variables)

        return self._checked(build)

    def writeMultiVars(self, items: Iterable[Var | Mapping[str, Any]]) -> Future:
        """Write up to 20 variables in one request. -> list of ItemResult (error per item)"""

        def build() -> Callable[[S7ClientProtocol], Operation[Any]]:
            variables = [to_var(i, writing=True) for i in items]
            return lambda p: p.write_multi(variables)

        return self._checked(build)

    # -- CPU --------------------------------------------------------------------------------
    def getCpuState(self) -> Future:
        """The CPU mode (SZL 0x0424). -> CpuStatus (RUN, STOP, UNKNOWN)"""
        return self._run(lambda p: p.get_cpu_state())

    def plcStop(self) -> Future:
        """Put the CPU into STOP. -> None"""
        return self._run(lambda p: p.plc_stop())

    def plcHotStart(self) -> Future:
        """Warm restart of the CPU (RUN). -> None"""
        return self._run(lambda p: p.plc_hot_start())

    def plcColdStart(self) -> Future:
        """Cold restart of the CPU (RUN). -> None"""
        return self._run(lambda p: p.plc_cold_start())

    def getPlcDateTime(self) -> Future:
        """The PLC clock. -> datetime"""
        return self._run(lambda p: p.get_clock())

    def setPlcDateTime(self, moment: datetime | None = None) -> Future:
        """Set the PLC clock (default: this computer's local time). -> None"""

        def build() -> Callable[[S7ClientProtocol], Operation[None]]:
            when = moment if moment is not None else datetime.now()
            if not isinstance(when, datetime):
                raise fail(ClientError.InvalidParams, f"expected a datetime, got {when!r}")
            return lambda p: p.set_clock(when)

        return self._checked(build)

    # -- system status lists ----------------------------------------------------------------
    def readSzl(self, szlId: int, index: int = 0) -> Future:
        """Read a system status list. -> SzlList (szl_id, index, data, records)"""
        return self._checked(lambda: lambda p: p.read_szl(int(szlId), int(index)))

    def readSzlList(self) -> Future:
        """The SZL IDs the PLC offers (SZL 0x0000). -> list of int"""
        return self._run(lambda p: p.read_szl_ids())

    def getCpuInfo(self) -> Future:
        """Module type name, serial number, AS name, copyright, module name. -> CpuInfo"""
        return self._run(lambda p: p.get_cpu_info())

    def getOrderCode(self) -> Future:
        """Order code and firmware version. -> OrderCode"""
        return self._run(lambda p: p.get_order_code())

    def getCpInfo(self) -> Future:
        """Max PDU, connections, MPI and bus rates. -> CpInfo"""
        return self._run(lambda p: p.get_cp_info())

    def getProtection(self) -> Future:
        """Protection level and mode switch settings. -> Protection"""
        return self._run(lambda p: p.get_protection())

    # -- blocks and typed values --------------------------------------------------------------
    def listBlocks(self) -> Future:
        """How many blocks of each type the PLC has. -> dict BlockType -> count"""
        return self._run(lambda p: p.list_blocks())

    def listBlocksOfType(self, blockType: int | str) -> Future:
        """The blocks of one type (`DB`, `OB`, `FC`, ... or a `BlockType`). -> list of
        BlockEntry (number, flags, language)"""
        return self._checked(lambda: lambda p: p.list_blocks_of_type(block_type(blockType)))

    def blockInfo(self, blockType: int | str, number: int) -> Future:
        """One block's info (sizes, language, dates, names). -> BlockInfo"""
        return self._checked(lambda: lambda p: p.block_info(block_type(blockType), int(number)))

    def readValue(self, address: Any) -> Future:
        """Read a typed value (`DB1.DBD4:REAL`, `DB1.DBB10:STRING[20]`, `DB1,INT2.4`). -> the
        value (a list for an array)"""
        return values.read_value(self, address)

    def writeValue(self, address: Any, value: Any) -> Future:
        """Write a typed value to `address` (bits as bit writes, so neighbours stay). -> None"""
        return values.write_value(self, address, value)

    def getPduLength(self) -> int:
        """The PDU size negotiated with the PLC (0 when not connected)."""
        return self.pdu_size  # type: ignore[attr-defined]
