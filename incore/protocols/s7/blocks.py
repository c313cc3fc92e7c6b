"""Block functions (userdata group 3): list blocks, list the blocks of a type, block info.

Pure codecs for both ends: the server decodes requests and builds replies, a client builds
requests and parses replies, and both use the same layouts. The payloads here are the bytes
after the userdata data header (`UserdataData.payload`); the parameter part is the usual
userdata one (`UserdataParams`).

Layouts, as the Snap7 C server sends them (checked byte for byte against it by
`tests/objects/s7/test_s7_server_blocks_snap7c.py`):

* List blocks (subfunction 1). Request data `0A 00 00 00`. Reply: seven 4-byte entries,
  `30 TT NN NN` (ASCII '0', block type, count), in the order OB, FB, FC, DB, SDB, SFC, SFB.
* List blocks of a type (subfunction 2). Request data `30 TT`. Reply: 4-byte entries
  `NN NN FF LL` (number, a flags byte Snap7 C sets to 0x22, language). A list longer than
  one PDU holds comes in parts: the reply's "last data unit" byte is 1 while more follow,
  and the client asks for the next part with a 12-byte (follow-up) parameter part and data
  `0A 00 00 00`. No block of that type: parameter error 0xD20E, data `0A 00 00 00`.
* Block info (subfunction 3). Request data `30 TT` + the number as 5 ASCII digits + `41`
  ('A'). Reply: 78 bytes (`BlockInfo`). Unknown block: parameter error 0xD209.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from ..errors import PduError
from .constants import BlockLanguage, BlockType
from .pdu import UserdataData

__all__ = [
    "BlockType",
    "BlockLanguage",
    "SUBFUNCTION_LIST_ALL",
    "SUBFUNCTION_LIST_OF_TYPE",
    "SUBFUNCTION_BLOCK_INFO",
    "ERROR_NO_BLOCKS",
    "ERROR_BLOCK_NOT_FOUND",
    "LIST_ALL_ORDER",
    "BLOCK_INFO_SIZE",
    "LIST_DATA_UNIT_REF",
    "BlockEntry",
    "BlockInfo",
    "BlockDirectory",
    "AreaDirectory",
    "EmptyDirectory",
    "list_all_request",
    "list_of_type_request",
    "block_info_request",
    "parse_list_all",
    "parse_list_of_type",
    "parse_block_info",
    "decode_list_of_type_request",
    "decode_block_info_request",
    "encode_list_all",
    "encode_list_of_type",
    "encode_block_info",
    "db_block_info",
    "list_capacity",
    "s7_date",
    "from_s7_date",
]

SUBFUNCTION_LIST_ALL = 0x01
SUBFUNCTION_LIST_OF_TYPE = 0x02
SUBFUNCTION_BLOCK_INFO = 0x03

#: Parameter error of a list of a type with no block (Snap7 C; Wireshark has no name for it).
ERROR_NO_BLOCKS = 0xD20E
#: Parameter error of block info for a block that does not exist.
ERROR_BLOCK_NOT_FOUND = 0xD209

#: The order of the seven counts in a list-blocks reply (Snap7 C's).
LIST_ALL_ORDER = (
    BlockType.OB,
    BlockType.FB,
    BlockType.FC,
    BlockType.DB,
    BlockType.SDB,
    BlockType.SFC,
    BlockType.SFB,
)
BLOCK_INFO_SIZE = 78
#: "Data unit reference" byte of a list-of-a-type reply (Snap7 C sends 0x23; clients ignore it).
LIST_DATA_UNIT_REF = 0x23
_ASCII_ZERO = 0x30
_ENTRY = struct.Struct(">BBH")
_ITEM = struct.Struct(">HBB")
#: Day 0 of S7 dates (block time stamps: milliseconds since midnight, days since then).
_EPOCH = datetime(1984, 1, 1)
#: Snap7 C's time stamp of every block: day 5800, 1999-11-18.
_SNAP7_DAY = 5800
#: What Snap7 C adds to a DB's size for its load memory size (header and footer of the MC7).
_LOAD_OVERHEAD = 92
_SNAP7_SBB = 20


@attrs.frozen
class BlockEntry:
    """One block of a list of a type: its number, the flags byte and its language."""

    number: int
    flags: int = 0x22
    language: int = BlockLanguage.DB


@attrs.frozen
class BlockInfo:
    """The 78 bytes of a block info reply, field by field (offsets in `encode_block_info`).

    `block_type` is the type byte of the reply, which Snap7 C (like, it notes, a CPU 314C)
    leaves 0; `sub_block_type` says the type there (0x0A DB, 0x08 OB, 0x0C FC, 0x0E FB ...).
    The dates are milliseconds and days since 1984-01-01 on the wire.
    """

    number: int
    mc7_size: int
    load_size: int
    block_type: int = 0
    sub_block_type: int = 0x0A
    language: int = BlockLanguage.DB
    flags: int = 0x01
    local_data: int = 0
    sbb_length: int = _SNAP7_SBB
    add_length: int = 0
    checksum: int = 0
    version: int = 0x01
    code_date: datetime = _EPOCH + timedelta(days=_SNAP7_DAY)
    interface_date: datetime = _EPOCH + timedelta(days=_SNAP7_DAY)
    author: str = ""
    family: str = ""
    header: str = ""
    security: int = 0


class BlockDirectory(Protocol):
    """The blocks a server has: the engine asks it for each type a client asks about."""

    def block_sizes(self, block_type: int) -> Mapping[int, int]:
        """The blocks of `block_type` (a `BlockType` code): number -> size in bytes."""
        ...


class EmptyDirectory:
    """A server without blocks: every count is 0."""

    def block_sizes(self, block_type: int) -> Mapping[int, int]:
        return {}


class AreaDirectory:
    """The DBs of a store keyed by (wire area, index), such as `MemoryAreaStore.areas`."""

    def __init__(self, areas: Mapping[tuple[int, int], bytes | bytearray]) -> None:
        self.areas = areas

    def block_sizes(self, block_type: int) -> Mapping[int, int]:
        if block_type != BlockType.DB:
            return {}
        return {index: len(buf) for (area, index), buf in list(self.areas.items()) if area == 0x84}


# -- dates ----------------------------------------------------------------------------------


def s7_date(moment: datetime) -> tuple[int, int]:
    """(milliseconds since midnight, days since 1984-01-01) of `moment` (naive, local)."""
    delta = moment.replace(tzinfo=None) - _EPOCH
    if delta.days < 0 or delta.days > 0xFFFF:
        raise ValueError(f"{moment} is outside the S7 dates 1984-01-01 .. 2163-06-06")
    return (delta.seconds * 1000 + delta.microseconds // 1000, delta.days)


def from_s7_date(ms: int, days: int) -> datetime:
    return _EPOCH + timedelta(days=days, milliseconds=ms)


# -- client side: requests and replies --------------------------------------------------------


def list_all_request() -> UserdataData:
    """Data part of a list-blocks request (both peers send `0A 00 00 00`)."""
    return UserdataData.null_ack()


def list_of_type_request(block_type: int) -> UserdataData:
    """Data part of the first list-of-a-type request; follow-ups send
    `UserdataData.null_ack()` with long-form parameters (method 0x12, the reply's sequence)."""
    return UserdataData(0xFF, 0x09, bytes((_ASCII_ZERO, _byte(block_type, "block type"))))


def block_info_request(block_type: int, number: int) -> UserdataData:
    """Data part of a block info request: `30 TT` + 5 ASCII digits + 'A'."""
    if not 0 <= number <= 0xFFFF:
        raise ValueError(f"block number {number} is not 0..65535")
    kind = _byte(block_type, "block type")
    return UserdataData(0xFF, 0x09, bytes((_ASCII_ZERO, kind)) + b"%05dA" % number)


def parse_list_all(payload: bytes) -> dict[int, int]:
    """Block type -> count from a list-blocks reply (every type of `LIST_ALL_ORDER`, 0 when
    the reply leaves one out); entries in any order."""
    if len(payload) % 4:
        raise PduError(f"list of blocks of {len(payload)} bytes is not made of 4-byte entries")
    counts = dict.fromkeys((int(t) for t in LIST_ALL_ORDER), 0)
    for offset in range(0, len(payload), 4):
        _zero, kind, count = _ENTRY.unpack_from(payload, offset)
        counts[kind] = count
    return counts


def parse_list_of_type(payload: bytes) -> list[BlockEntry]:
    """The entries of one part of a list-of-a-type reply (join the parts' payloads first, or
    parse each and concatenate)."""
    if len(payload) % 4:
        raise PduError(f"block list of {len(payload)} bytes is not made of 4-byte entries")
    return [BlockEntry(*_ITEM.unpack_from(payload, i)) for i in range(0, len(payload), 4)]


def parse_block_info(payload: bytes) -> BlockInfo:
    """A block info reply's payload (at least 78 bytes; more is ignored)."""
    if len(payload) < BLOCK_INFO_SIZE:
        raise PduError(f"block info of {len(payload)} bytes, expected {BLOCK_INFO_SIZE}")
    p = payload
    (load_size, security, code_ms, code_dy, intf_ms, intf_dy) = struct.unpack_from(">IIIHIH", p, 14)
    sbb, add, local, mc7 = struct.unpack_from(">HHHH", p, 34)
    return BlockInfo(
        number=int.from_bytes(p[12:14], "big"),
        mc7_size=mc7,
        load_size=load_size,
        block_type=p[1],
        sub_block_type=p[11],
        language=p[10],
        flags=p[9],
        local_data=local,
        sbb_length=sbb,
        add_length=add,
        checksum=int.from_bytes(p[68:70], "big"),
        version=p[66],
        code_date=from_s7_date(code_ms, code_dy),
        interface_date=from_s7_date(intf_ms, intf_dy),
        author=_text(p[42:50]),
        family=_text(p[50:58]),
        header=_text(p[58:66]),
        security=security,
    )


# -- server side: requests and replies --------------------------------------------------------


def decode_list_of_type_request(payload: bytes) -> int:
    """The block type a first list-of-a-type request asks for."""
    if len(payload) < 2:
        raise PduError(f"list of blocks request of {len(payload)} bytes names no block type")
    return payload[1]


def decode_block_info_request(payload: bytes) -> tuple[int, int | None]:
    """(block type, number) of a block info request; the number is None when its five
    characters are not digits or name more than 65535 (no such block)."""
    if len(payload) < 7:
        raise PduError(f"block info request of {len(payload)} bytes names no block")
    digits = payload[2:7]
    number = int(digits) if digits.isdigit() else None
    return payload[1], number if number is not None and number <= 0xFFFF else None


def encode_list_all(counts: Mapping[int, int]) -> bytes:
    """The 28-byte list-blocks payload; a type `counts` lacks counts 0."""
    return b"".join(
        _ENTRY.pack(_ASCII_ZERO, kind, min(counts.get(kind, 0), 0xFFFF)) for kind in LIST_ALL_ORDER
    )


def encode_list_of_type(entries: Iterable[BlockEntry]) -> bytes:
    return b"".join(_ITEM.pack(e.number, e.flags, e.language) for e in entries)


def encode_block_info(info: BlockInfo) -> bytes:
    """The 78-byte block info payload. Bytes 0 and 2..8 and 67 are constants whose meaning
    nobody documents (Snap7 C's `01`, `00 4A 22 00 70 70` ("pp") and `01`); bytes 70..77
    are reserved zeros."""
    code_ms, code_dy = s7_date(info.code_date)
    intf_ms, intf_dy = s7_date(info.interface_date)
    out = bytearray(BLOCK_INFO_SIZE)
    out[0:12] = bytes(
        (0x01, info.block_type, 0x00, 0x4A, 0x22, 0x00, 0x70, 0x70, 0x01, info.flags)
    ) + bytes((info.language, info.sub_block_type))
    struct.pack_into(
        ">HIIIHIHHHHH",
        out,
        12,
        info.number,
        info.load_size,
        info.security,
        code_ms,
        code_dy,
        intf_ms,
        intf_dy,
        info.sbb_length,
        info.add_length,
        info.local_data,
        min(info.mc7_size, 0xFFFF),
    )
    out[42:50] = _field(info.author)
    out[50:58] = _field(info.family)
    out[58:66] = _field(info.header)
    out[66] = info.version
    out[68:70] = info.checksum.to_bytes(2, "big")
    return bytes(out)


def db_block_info(number: int, size: int) -> BlockInfo:
    """A registered DB as Snap7 C describes it: MC7 size = the DB's size (what `db_get`
    then reads; at most 65535, the field's limit), load size = size + 92, SBB length 20,
    language DB, flags 0x01, version 0x01, code and interface dated 1999-11-18, no author,
    family, header or checksum."""
    return BlockInfo(number=number, mc7_size=min(size, 0xFFFF), load_size=size + _LOAD_OVERHEAD)


def list_capacity(pdu_size: int) -> int:
    """Entries per list-of-a-type reply: Snap7 C's (PDU - 32) / 4, at least one."""
    return max((pdu_size - 32) // 4, 1)


def _byte(value: int, what: str) -> int:
    if not 0 <= int(value) <= 0xFF:
        raise ValueError(f"{what} {value} is not a byte")
    return int(value)


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1").rstrip()


def _field(text: str) -> bytes:
    raw = text.encode("latin-1", "replace")[:8]
    return raw.ljust(8, b"\x00")
