"""Read/Write Var items: 12-byte S7-ANY addresses and length-prefixed data items.

The data-item length counts *bits* for transport sizes 0x03/0x04/0x05/0x06 and
*bytes* for 0x07/0x09 (and 0x00); a fill byte follows an odd-length item
unless it is the last one.  Both rules are easy to get wrong, so they live here
once.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import attrs

from ..errors import PduError
from .constants import Area, DataTransportSize, TransportSize, element_size

__all__ = [
    "ItemSpec",
    "DataItem",
    "encode_item_specs",
    "decode_item_specs",
    "encode_data_items",
    "decode_data_items",
    "length_in_bits",
    "data_transport_size_for",
    "ITEM_SPEC_SIZE",
]

ITEM_SPEC_SIZE = 12
_SPEC = struct.Struct(">BBBBHHB")
_DATA_HEAD = struct.Struct(">BBH")
_BYTE_LENGTH_SIZES = frozenset(
    {DataTransportSize.NULL, DataTransportSize.REAL, DataTransportSize.OCTET_STRING}
)


def length_in_bits(transport_size: int) -> bool:
    """True when a data item's length field counts bits for this transport size.

    Bits for 0x03/0x04/0x05/0x06 and, like snap7-C, for unknown sizes; bytes
    for 0x00, 0x07 (REAL) and 0x09 (octet string).
    """
    return transport_size not in _BYTE_LENGTH_SIZES


def data_transport_size_for(item_ts: int) -> int:
    """Data-item transport size a CPU answers for a request transport size."""
    if item_ts == TransportSize.BIT:
        return DataTransportSize.BIT
    if item_ts in (TransportSize.INT, TransportSize.DINT):
        return DataTransportSize.INTEGER
    if item_ts == TransportSize.REAL:
        return DataTransportSize.REAL
    if item_ts in (TransportSize.CHAR, TransportSize.COUNTER, TransportSize.TIMER):
        return DataTransportSize.OCTET_STRING
    return DataTransportSize.BYTE


@attrs.frozen
class ItemSpec:
    """One S7-ANY address: `count` elements of `transport_size` at `address`.

    `address` is the raw 24-bit field: `byte * 8 + bit` for bit/byte types,
    the element number for timers and counters.
    """

    area: int
    db_number: int = 0
    address: int = 0
    count: int = 1
    transport_size: int = TransportSize.BYTE
    syntax_id: int = 0x10

    @classmethod
    def for_access(
        cls, area: int, db_number: int, start: int, count: int, transport_size: int
    ) -> ItemSpec:
        """Address the way snap7 does: `start` is a byte offset, except for
        BIT (bit address `byte*8+bit`) and timers/counters (element number)."""
        if transport_size in (TransportSize.BIT, TransportSize.TIMER, TransportSize.COUNTER):
            address = start
        else:
            address = start * 8
        return cls(area, db_number if area == Area.DB else 0, address, count, transport_size)

    @property
    def byte_offset(self) -> int:
        return self.address >> 3

    @property
    def bit(self) -> int:
        return self.address & 7

    @property
    def element_size(self) -> int:
        return element_size(self.transport_size)

    @property
    def byte_length(self) -> int:
        """Bytes of data this item transfers (one byte per BIT element)."""
        return self.count * self.element_size

    def encode(self) -> bytes:
        if not 0 <= self.address <= 0xFFFFFF:
            raise PduError(f"address {self.address} does not fit 24 bits")
        return _SPEC.pack(
            0x12, 0x0A, self.syntax_id, self.transport_size, self.count, self.db_number, self.area
        ) + self.address.to_bytes(3, "big")


def encode_item_specs(function: int, specs: Sequence[ItemSpec]) -> bytes:
    """Parameter part of a Read Var / Write Var job."""
    return bytes((function, len(specs))) + b"".join(spec.encode() for spec in specs)


def decode_item_specs(params: bytes) -> list[ItemSpec]:
    """Items of a Read Var / Write Var job parameter part."""
    if len(params) < 2:
        raise PduError("read/write parameters shorter than 2 bytes")
    count = params[1]
    if len(params) < 2 + ITEM_SPEC_SIZE * count:
        raise PduError(
            f"{count} items announced, parameters hold {(len(params) - 2) // ITEM_SPEC_SIZE}"
        )
    specs = []
    for pos in range(2, 2 + ITEM_SPEC_SIZE * count, ITEM_SPEC_SIZE):
        spec_type, length, syntax, ts, n, db, area = _SPEC.unpack_from(params, pos)
        if spec_type != 0x12 or length != 0x0A:
            raise PduError(f"item spec type 0x{spec_type:02X}/length {length} is not S7-ANY")
        address = int.from_bytes(params[pos + 9 : pos + 12], "big")
        specs.append(ItemSpec(area, db, address, n, ts, syntax))
    return specs


@attrs.frozen
class DataItem:
    """A data item: response return code (or 0 in write jobs), transport size, data."""

    return_code: int = 0xFF
    transport_size: int = DataTransportSize.BYTE
    data: bytes = b""
    bit_count: int | None = None  # for bit lengths not a multiple of 8 (BIT items: 1)

    def encode(self, last: bool = True) -> bytes:
        n = len(self.data)
        if length_in_bits(self.transport_size):
            length = self.bit_count if self.bit_count is not None else n * 8
        else:
            length = n
        if length > 0xFFFF:
            raise PduError("data item longer than 65535 length units")
        fill = b"\x00" if (n & 1 and not last) else b""
        return _DATA_HEAD.pack(self.return_code, self.transport_size, length) + self.data + fill


def encode_data_items(items: Iterable[DataItem]) -> bytes:
    """Data part made of several items with fill bytes between them."""
    items = list(items)
    return b"".join(item.encode(last=i == len(items) - 1) for i, item in enumerate(items))


def decode_data_items(data: bytes, count: int, *, response: bool) -> list[DataItem]:
    """Split a data part into `count` items.

    In responses a failed item (return code != 0xFF) carries no data whatever
    its length says (snap7-C claims 4 bytes there but sends none).
    """
    items: list[DataItem] = []
    pos, end = 0, len(data)
    for i in range(count):
        if pos + 4 > end:
            raise PduError(f"data item {i} header truncated")
        ret, ts, length = _DATA_HEAD.unpack_from(data, pos)
        pos += 4
        if response and ret != 0xFF:
            items.append(DataItem(ret, ts, b""))
            continue
        size = (length + 7) >> 3 if length_in_bits(ts) else length
        if pos + size > end:
            raise PduError(f"data item {i} claims {size} bytes, {end - pos} left")
        bits = length if length_in_bits(ts) and length & 7 else None
        items.append(DataItem(ret, ts, bytes(data[pos : pos + size]), bits))
        pos += size
        if size & 1 and i < count - 1:
            pos += 1
    if pos < end - 1 or (pos == end - 1 and not (count and len(items[-1].data) & 1)):
        raise PduError(f"{end - pos} unexpected bytes after {count} data items")
    return items
