"""System status lists (SZL): record builders for servers, parsers for clients.

An SZL answer is `LENTHDR N_DR` followed by N_DR records of LENTHDR bytes.
Builders produce exactly that ("list bytes"); the engine prefixes ID and
index.  Parsers accept what Snap7 C, python-snap7 and real CPUs send.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import datetime

import attrs

from ..errors import PduError
from .clock import encode_date_and_time
from .constants import CpuStatus

__all__ = [
    "Identity",
    "SzlList",
    "build_list",
    "szl_0000",
    "szl_0011",
    "szl_0111",
    "szl_001c",
    "szl_011c",
    "szl_0131",
    "szl_0232",
    "szl_0424",
    "flat_cp_info",
    "flat_protection",
    "parse_szl",
    "OrderCode",
    "CpuInfo",
    "CpInfo",
    "Protection",
    "parse_order_code",
    "parse_cpu_info",
    "parse_cp_info",
    "parse_protection",
    "parse_cpu_state",
    "parse_szl_ids",
    "SERVED_SZL_IDS",
]

_W = struct.Struct(">H")
_HEAD = struct.Struct(">HH")
_PROT = struct.Struct(">HHHHHH")

#: SZL IDs answered by `incore.protocols.s7.server` (the 0x0000 list).
SERVED_SZL_IDS = (0x0000, 0x0011, 0x0111, 0x001C, 0x011C, 0x0131, 0x0232, 0x0424)


def _text(value: str, size: int, pad: bytes = b"\x00") -> bytes:
    return value.encode("latin-1", "replace")[:size].ljust(size, pad)


@attrs.frozen
class Identity:
    """What a server says about itself in SZL 0x0011, 0x001C, 0x0131 and 0x0232."""

    order_code: str = "6ES7 315-2EH14-0AB0"
    hardware_version: int = 1
    firmware_version: tuple[int, int, int] = (3, 2, 6)
    as_name: str = "INCORE"
    module_name: str = "CPU 315-2 PN/DP"
    plant_id: str = ""
    copyright: str = "Original Siemens Equipment"
    serial_number: str = "S C-INCORE000001"
    module_type_name: str = "CPU 315-2 PN/DP"
    memory_card_serial: str = ""
    max_pdu: int = 960
    max_connections: int = 32
    mpi_rate: int = 187500
    bus_rate: int = 12000000
    protection_level: int = 1  # sch_schal: 1 no protection .. 3 read/write protected
    param_protection: int = 0  # sch_par
    mode_switch: int = 2  # bart_sch: 1 RUN, 2 RUN-P, 3 STOP, 4 MRES
    startup_switch: int = 0  # anl_sch: 0 undefined, 1 CRST, 2 WRST


def build_list(record_len: int, records: Sequence[bytes]) -> bytes:
    """`LENTHDR N_DR` + records (each must be `record_len` bytes)."""
    for rec in records:
        if len(rec) != record_len:
            raise ValueError(f"SZL record of {len(rec)} bytes, list declares {record_len}")
    return _HEAD.pack(record_len, len(records)) + b"".join(records)


def szl_0000(ids: Sequence[int] = SERVED_SZL_IDS) -> bytes:
    return build_list(2, [_W.pack(i) for i in ids])


def _module_record(index: int, identity: Identity) -> bytes:
    """28-byte 0x0011 record: index, 20-char MLFB, BGTyp, Ausbg, Ausbe."""
    v1, v2, v3 = identity.firmware_version
    if index == 0x0001:  # module: hardware version in Ausbe
        tail = _W.pack(0x00C0) + _W.pack(0) + _W.pack(identity.hardware_version)
        mlfb = identity.order_code
    elif index == 0x0006:  # basic hardware
        tail = _W.pack(0x00C0) + _W.pack(0) + _W.pack(identity.hardware_version)
        mlfb = identity.order_code
    else:  # 0x0007 basic firmware: 'V' major, minor, patch
        tail = _W.pack(0x00C0) + bytes((ord("V"), v1, v2, v3))
        mlfb = ""
    return _W.pack(index) + _text(mlfb, 20, b" ") + tail


def szl_0011(identity: Identity) -> bytes:
    """Module identification; the firmware record comes last because Snap7 C
    takes the version from the last three bytes of the list."""
    return build_list(28, [_module_record(i, identity) for i in (0x0001, 0x0006, 0x0007)])


def szl_0111(identity: Identity, index: int) -> bytes | None:
    if index not in (0x0001, 0x0006, 0x0007):
        return None
    return build_list(28, [_module_record(index, identity)])


def _component_records(identity: Identity) -> dict[int, bytes]:
    texts = {
        0x0001: identity.as_name,
        0x0002: identity.module_name,
        0x0003: identity.plant_id,
        0x0004: identity.copyright,
        0x0005: identity.serial_number,
        0x0007: identity.module_type_name,
        0x0008: identity.memory_card_serial,
    }
    return {i: _W.pack(i) + _text(t, 32) for i, t in texts.items()}


def szl_001c(identity: Identity) -> bytes:
    """Component identification, records 1-5, 7, 8 in that order (clients read
    fixed offsets: AS name @6, module @40, copyright @108, serial @142, type @176)."""
    return build_list(34, list(_component_records(identity).values()))


def szl_011c(identity: Identity, index: int) -> bytes | None:
    rec = _component_records(identity).get(index)
    return None if rec is None else build_list(34, [rec])


def szl_0131(identity: Identity, index: int, pdu_size: int) -> bytes | None:
    """Communication capabilities; only index 1 (general data) is defined here."""
    if index != 0x0001:
        return None
    pdu = min(identity.max_pdu, pdu_size) if pdu_size else identity.max_pdu
    rec = _W.pack(0x0001) + struct.pack(
        ">HHII", pdu, identity.max_connections, identity.mpi_rate, identity.bus_rate
    )
    return build_list(40, [rec.ljust(40, b"\x00")])


def szl_0232(identity: Identity, index: int) -> bytes | None:
    """Protection level (index 4: CPU protection and switch settings)."""
    if index != 0x0004:
        return None
    rec = _PROT.pack(
        0x0004,
        identity.protection_level,
        identity.param_protection,
        max(identity.protection_level, identity.param_protection),
        identity.mode_switch,
        identity.startup_switch,
    )
    return build_list(40, [rec.ljust(40, b"\x00")])


def szl_0424(status: int, changed_at: datetime) -> bytes:
    """Current mode: one 20-byte record, mode in byte 3, timestamp in bytes 12-19."""
    rec = (
        _W.pack(0x0000) + bytes((0xFF, status & 0xFF)) + bytes(8) + encode_date_and_time(changed_at)
    )
    return build_list(20, [rec])


def flat_cp_info(identity: Identity, pdu_size: int) -> bytes:
    """python-snap7 3.x reads SZL 0x0131 *index 0* as four bare words."""
    pdu = min(identity.max_pdu, pdu_size) if pdu_size else identity.max_pdu
    return struct.pack(
        ">HHHH",
        pdu,
        identity.max_connections,
        min(identity.mpi_rate // 15625, 0xFFFF),
        min(identity.bus_rate // 1000000, 0xFFFF),
    )


def flat_protection(identity: Identity) -> bytes:
    """python-snap7 3.x reads SZL 0x0232 *index 0* as five bare words."""
    return _PROT.pack(
        identity.protection_level,
        identity.param_protection,
        max(identity.protection_level, identity.param_protection),
        identity.mode_switch,
        identity.startup_switch,
        0,
    )[:10]


# ---------------------------------------------------------------------------
# Client side


@attrs.frozen
class SzlList:
    """A read SZL: `data` is everything after ID and index (from LENTHDR on)."""

    szl_id: int
    index: int
    data: bytes

    @property
    def well_formed(self) -> bool:
        if len(self.data) < 4:
            return False
        size, count = _HEAD.unpack_from(self.data)
        return size > 0 and 4 + size * count <= len(self.data)

    @property
    def record_len(self) -> int:
        return _HEAD.unpack_from(self.data)[0] if len(self.data) >= 4 else 0

    @property
    def records(self) -> list[bytes]:
        """Records, or `[]` when the list header does not fit the data."""
        if not self.well_formed:
            return []
        size, count = _HEAD.unpack_from(self.data)
        return [self.data[4 + i * size : 4 + (i + 1) * size] for i in range(count)]

    def record(self, index: int) -> bytes | None:
        """First record whose leading word equals `index`."""
        for rec in self.records:
            if len(rec) >= 2 and _W.unpack_from(rec)[0] == index:
                return rec
        return None


def parse_szl(payload: bytes) -> SzlList:
    """First-fragment payload (ID, index, list bytes) to `SzlList`."""
    if len(payload) < 4:
        raise PduError("SZL answer shorter than its ID and index")
    szl_id, index = _HEAD.unpack_from(payload)
    return SzlList(szl_id, index, bytes(payload[4:]))


@attrs.frozen
class OrderCode:
    code: str
    version: tuple[int, int, int]


@attrs.frozen
class CpuInfo:
    module_type_name: str
    serial_number: str
    as_name: str
    copyright: str
    module_name: str


@attrs.frozen
class CpInfo:
    max_pdu: int
    max_connections: int
    mpi_rate: int
    bus_rate: int


@attrs.frozen
class Protection:
    sch_schal: int
    sch_par: int
    sch_rel: int
    bart_sch: int
    anl_sch: int


def _clean(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1").strip()


def parse_order_code(szl: SzlList) -> OrderCode:
    module = szl.record(0x0001)
    firmware = szl.record(0x0007)
    if module is None and len(szl.data) >= 26:  # no usable list header: fixed offsets
        return OrderCode(_clean(szl.data[6:26]), tuple(szl.data[-3:]))  # type: ignore[arg-type]
    if module is None:
        raise PduError("SZL 0x0011 without a module record")
    source = firmware if firmware is not None else module
    return OrderCode(_clean(module[2:22]), tuple(source[-3:]))  # type: ignore[arg-type]


def parse_cpu_info(szl: SzlList) -> CpuInfo:
    """Records by index when the list is well formed, else the fixed offsets
    every snap7 client uses (python-snap7's server sends no list header)."""
    if szl.record_len == 34 and szl.records:

        def field(i: int) -> str:
            rec = szl.record(i)
            return "" if rec is None else _clean(rec[2:])

        return CpuInfo(field(7), field(5), field(1), field(4), field(2))
    d = szl.data
    return CpuInfo(
        _clean(d[176:208]),
        _clean(d[142:166]),
        _clean(d[6:30]),
        _clean(d[108:134]),
        _clean(d[40:64]),
    )


def parse_cp_info(szl: SzlList) -> CpInfo:
    rec = szl.record(0x0001)
    if rec is not None and len(rec) >= 14:
        pdu, conns, mpi, bus = struct.unpack_from(">HHII", rec, 2)
        return CpInfo(pdu, conns, mpi, bus)
    if len(szl.data) >= 8:  # python-snap7 server: four bare words
        return CpInfo(*struct.unpack_from(">HHHH", szl.data))
    raise PduError("SZL 0x0131 answer too short")


def parse_protection(szl: SzlList) -> Protection:
    rec = szl.record(0x0004)
    if rec is not None and len(rec) >= 12:
        return Protection(*struct.unpack_from(">HHHHH", rec, 2))
    if len(szl.data) >= 10:  # python-snap7 server: five bare words
        return Protection(*struct.unpack_from(">HHHHH", szl.data))
    raise PduError("SZL 0x0232 answer too short")


def parse_cpu_state(szl: SzlList) -> int:
    """CPU mode from SZL 0x0424 (RUN 0x08, STOP 0x04, unknown 0x00)."""
    records = szl.records
    if not records or len(records[0]) < 4:
        raise PduError("SZL 0x0424 without a mode record")
    mode = records[0][3] & 0x0F
    if mode == CpuStatus.RUN:
        return CpuStatus.RUN
    return CpuStatus.UNKNOWN if mode == 0 else CpuStatus.STOP


def parse_szl_ids(szl: SzlList) -> list[int]:
    """IDs listed by SZL 0x0000 (bare words when the list header is missing)."""
    if szl.well_formed:
        return [_W.unpack_from(rec)[0] for rec in szl.records if len(rec) >= 2]
    return [_W.unpack_from(szl.data, pos)[0] for pos in range(0, len(szl.data) - 1, 2)]
