"""PLC bytes to Python values and back, per element kind, count and the client's byte order.

The codecs themselves are protocols/s7/types.py (held byte for byte to python-snap7's
`snap7.util`); here they meet what a variable or a script has: a kind ("Int", "String",
"DTL", ...), an array count (more than one: the value is a list) and a byte order. S7 itself
is big-endian; `S7Client.byteOrder = LittleEndian` is for PLCs (or gateways) that store
multi-byte numbers the other way round. It never changes the protocol headers, strings or
dates.

`read_value` and `write_value` are the typed Python API of an S7Client: an address string in,
a value out (or in), as a Future like the client's other operations.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from ...protocols.s7 import TransportSize
from ...protocols.s7.types import STRING_MAX, decode_array, encode_array
from ...protocols.s7.types import decode as decode_one
from ...protocols.s7.types import encode as encode_one
from .address import S7Address, parse_address, s7_address

__all__ = ["decode", "encode", "read_value", "write_value", "address_of"]


def decode(
    width: str,
    data: bytes,
    big_endian: bool = True,
    bit: int = 0,
    count: int = 1,
    length: int = STRING_MAX,
) -> Any:
    """The value stored in `data` (exactly the variable's bytes); a list when `count` > 1."""
    if count == 1:
        return decode_one(width, data, big_endian, bit, length)
    return decode_array(width, data, count, big_endian, bit, length)


def encode(
    width: str, value: Any, big_endian: bool = True, count: int = 1, length: int = STRING_MAX
) -> bytes:
    """The bytes to write for `value` (a Bit, or each bit of a Bit array: one byte 0 or 1);
    ValueError/TypeError name the kind when it can't fit."""
    if count == 1:
        return encode_one(width, value, big_endian, length)
    return encode_array(width, value, count, big_endian, length)


def address_of(address: str | S7Address) -> S7Address:
    """An S7Address from an address string (either grammar), or the S7Address itself."""
    if isinstance(address, S7Address):
        return address
    a = parse_address(address)
    return s7_address(a.type, a.db, a.offset, a.bit, a.kind, a.count, a.length)


def _big_endian(client: Any) -> bool:
    return int(getattr(client, "byteOrder", 0)) != 1


def _chain(source: Future, convert: Any) -> Future:
    """A Future of `convert(result)` of `source` (its exception, if it failed)."""
    out: Future = Future()
    out.set_running_or_notify_cancel()

    def done(f: Future) -> None:
        exc = f.exception() if not f.cancelled() else None
        if f.cancelled():
            out.cancel()
        elif exc is not None:
            out.set_exception(exc)
        else:
            try:
                out.set_result(convert(f.result()))
            except Exception as error:  # a bad value from the PLC fails the future
                out.set_exception(error)

    source.add_done_callback(done)
    return out


def read_value(client: Any, address: str | S7Address) -> Future:
    """Read the value at `address` (e.g. `DB1.DBB10:STRING[20]`, `DB1,REAL0.10`) through an
    S7Client; the Future's result is the decoded value (a list for an array), or an
    S7ValueError if the PLC's bytes can not be one. An address that does not parse raises
    AddressError at once."""
    a = address_of(address)
    big = _big_endian(client)
    raw = client.readArea(a.area, a.db, a.offset, a.size)
    return _chain(
        raw, lambda data: decode(a.width, data, big, a.bit, a.count, a.length or STRING_MAX)
    )


def write_value(client: Any, address: str | S7Address, value: Any) -> Future:
    """Write `value` to `address` through an S7Client (bits one by one, as bit writes, so
    their neighbours are left alone). A value that does not fit raises TypeError/ValueError
    at once."""
    a = address_of(address)
    raw = encode(a.width, value, _big_endian(client), a.count, a.length or STRING_MAX)
    if a.width == "Bit":
        return client.writeArea(a.area, a.db, a.offset * 8 + a.bit, raw, TransportSize.BIT)
    return client.writeArea(a.area, a.db, a.offset, raw)
