"""Values to and from 16-bit Modbus registers, and coils to and from bytes.

Modbus fixes only the byte order inside one register on the wire (high byte first); how a
device lays a 32- or 64-bit value, a float or a string over several registers is its own
choice. A `ModbusRegister` says it with `byteOrder` (bytes inside each register) and
`registerOrder` (which register holds the most significant word), so four layouts are
possible for a 32-bit value `0xAABBCCDD`:

| byteOrder | registerOrder | registers |
|---|---|---|
| BigEndian | MostSignificantRegisterFirst | `0xAABB 0xCCDD` (the usual one) |
| BigEndian | LeastSignificantRegisterFirst | `0xCCDD 0xAABB` |
| LittleEndian | MostSignificantRegisterFirst | `0xBBAA 0xDDCC` |
| LittleEndian | LeastSignificantRegisterFirst | `0xDDCC 0xBBAA` |

With `BigEndian` bytes the registers are what pymodbus's `convert_to_registers` makes with
`word_order` "big" (MostSignificantRegisterFirst) or "little" (LeastSignificantRegisterFirst).

Data types are InCore's `DataObject.DataType` names (the enum member or its name); `count`
is the number of registers the value takes, by default the type's own width:

- Boolean: 1 register by default (1, 2 or 4 allowed); any non-zero value reads true, true
  writes 1.
- SignedSmallInteger / UnsignedSmallInteger (16 bit): 1 register. SignedInteger /
  UnsignedInteger (32 bit): 2 registers, or 1 for a 16-bit device register. SignedBigInteger /
  UnsignedBigInteger (64 bit): 4 registers, or 2 or 1. A type is never read over more
  registers than its width, so a read value always fits the type; signedness follows the type.
- Float and Double: 2 registers carry an IEEE float32, 4 registers a float64 (Float defaults
  to 2, Double to 4).
- String: `count` must be given (2 bytes per register). Written as `encoding` (UTF-8 by
  default), first character in the first register (its high byte with BigEndian, its low byte
  with LittleEndian; LeastSignificantRegisterFirst reverses the registers, as pymodbus does);
  a shorter text is padded with NUL bytes; a longer one raises ValueError, or with
  `truncate=True` is cut at the last whole character that fits. Read: trailing NULs are
  dropped (as pymodbus does), bytes that are not valid text become U+FFFD, never an error.
- Date, Time, DateTime, StringList and Invalid have no register layout: ValueError.

A value that does not fit raises ValueError naming the value and the type; a value of the
wrong kind (a text for an integer) raises TypeError. Codecs are cached per layout and hold
precompiled `struct.Struct`s: encoding or decoding is two struct calls.
"""

from __future__ import annotations

import codecs
import enum
import functools
import struct
from collections.abc import Sequence
from typing import Any

from .bits import pack_bits, unpack_bits

__all__ = [
    "ByteOrder",
    "RegisterOrder",
    "RegisterCodec",
    "codec",
    "default_count",
    "encode",
    "decode",
    "pack_bits",
    "unpack_bits",
]


class ByteOrder(enum.IntEnum):
    """The order of the two bytes inside each register (`ModbusRegister.byteOrder`)."""

    BigEndian = 0
    LittleEndian = 1


class RegisterOrder(enum.IntEnum):
    """Which register of a multi-register value comes first (`ModbusRegister.registerOrder`)."""

    MostSignificantRegisterFirst = 0
    LeastSignificantRegisterFirst = 1


#: dataType name -> (signed, width in registers) of the integer types.
_INTEGERS = {
    "SignedSmallInteger": (True, 1),
    "UnsignedSmallInteger": (False, 1),
    "SignedInteger": (True, 2),
    "UnsignedInteger": (False, 2),
    "SignedBigInteger": (True, 4),
    "UnsignedBigInteger": (False, 4),
}
_INT_CODES = {(True, 1): "h", (False, 1): "H", (True, 2): "i", (False, 2): "I"}
_INT_CODES |= {(True, 4): "q", (False, 4): "Q"}
_FLOAT_CODES = {2: "f", 4: "d"}
_DEFAULT_COUNTS = {"Boolean": 1, "Float": 2, "Double": 4}
_DEFAULT_COUNTS |= {name: width for name, (_, width) in _INTEGERS.items()}


def _name(data_type: Any) -> str:
    return getattr(data_type, "name", data_type)


def _member(enum_type: type[enum.IntEnum], value: Any) -> Any:
    """`value` (a member, its name or its number) as a member of `enum_type`."""
    try:
        return enum_type[value] if isinstance(value, str) else enum_type(value)
    except (KeyError, ValueError):
        names = ", ".join(enum_type.__members__)
        raise ValueError(f"{enum_type.__name__} is one of {names}, not {value!r}") from None


def default_count(data_type: Any) -> int | None:
    """The registers a value of `data_type` takes by default; None for String (must be given)."""
    name = _name(data_type)
    if name in _DEFAULT_COUNTS:
        return _DEFAULT_COUNTS[name]
    if name == "String":
        return None
    raise ValueError(f"dataType {name} has no Modbus register layout")


class RegisterCodec:
    """One register layout: `encode` a value to registers, `decode` registers to a value.

    Registers are ints 0..65535 in table order; the `_bytes` variants work on the wire form
    (two bytes per register, high byte first) as it sits in a PDU, without a list in between.
    Build one with `codec()`, which caches them.
    """

    __slots__ = (
        "data_type",
        "count",
        "byte_order",
        "register_order",
        "encoding",
        "truncate",
        "_kind",
        "_value",
        "_regs",
        "_wire",
        "_direct",
        "_range",
    )

    def __init__(
        self,
        data_type: Any,
        count: int | None = None,
        byte_order: ByteOrder | str = ByteOrder.BigEndian,
        register_order: RegisterOrder | str = RegisterOrder.MostSignificantRegisterFirst,
        encoding: str = "utf-8",
        truncate: bool = False,
    ) -> None:
        name = _name(data_type)
        natural = default_count(name)
        if count is None:
            if natural is None:
                raise ValueError(f"dataType {name} needs a register count")
            count = natural
        byte_order = _member(ByteOrder, byte_order)
        register_order = _member(RegisterOrder, register_order)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"register count must be a positive integer, got {count!r}")
        self.data_type, self.count = name, count
        self.byte_order, self.register_order = byte_order, register_order
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown text encoding {encoding!r}") from None
        self.encoding, self.truncate = encoding, truncate
        msrf = register_order is RegisterOrder.MostSignificantRegisterFirst
        big_bytes = byte_order is ByteOrder.BigEndian
        self._range: tuple[int, int] | None = None
        if name == "String":
            self._kind = "string"
            code = f"{2 * count}s"
            # The text's bytes are in register order before any reversal, so only the byte
            # order inside a register picks the struct; registerOrder reverses afterwards.
            self._value = struct.Struct(">" + code)
            self._regs = struct.Struct((">" if big_bytes else "<") + "H" * count)
            self._direct = big_bytes and msrf
        else:
            if name == "Boolean":
                if count not in (1, 2, 4):
                    raise ValueError(f"Boolean takes 1, 2 or 4 registers, not {count}")
                self._kind, code = "bool", _INT_CODES[False, count]
            elif name in ("Float", "Double"):
                if count not in _FLOAT_CODES:
                    raise ValueError(
                        f"{name} takes 2 (float32) or 4 (float64) registers, not {count}"
                    )
                self._kind, code = "float", _FLOAT_CODES[count]
            else:
                signed, width = _INTEGERS[name]
                if count not in (1, 2, 4) or count > width:
                    allowed = ", ".join(str(n) for n in (1, 2, 4) if n <= width)
                    raise ValueError(f"{name} takes {allowed} register(s), not {count}")
                self._kind, code = "int", _INT_CODES[signed, count]
                bits = 16 * count
                half = 1 << (bits - 1)
                self._range = (-half, half - 1) if signed else (0, 2 * half - 1)
            # Pack the value little-endian for LeastSignificantRegisterFirst, then read its bytes
            # as big-endian registers when both orders agree, else as little-endian ones: that
            # gives all four layouts with two struct calls and no reversal.
            self._value = struct.Struct((">" if msrf else "<") + code)
            self._regs = struct.Struct((">" if msrf == big_bytes else "<") + "H" * count)
            self._direct = msrf == big_bytes
        self._wire = struct.Struct(">" + "H" * count)

    def __repr__(self) -> str:
        return (
            f"RegisterCodec({self.data_type}, count={self.count}, {self.byte_order.name}, "
            f"{self.register_order.name})"
        )

    # -- to registers -------------------------------------------------------------------

    def encode(self, value: Any) -> tuple[int, ...]:
        """The `count` registers holding `value`; ValueError/TypeError if it cannot."""
        if self._kind == "string":
            regs = self._regs.unpack(self._text_bytes(value))
            if self.register_order is RegisterOrder.LeastSignificantRegisterFirst:
                return regs[::-1]
            return regs
        try:
            return self._regs.unpack(self._value.pack(self._prepare(value)))
        except (struct.error, OverflowError):
            return self._regs.unpack(self._value.pack(self._refuse(value)))

    def encode_bytes(self, value: Any) -> bytes:
        """`value` as wire bytes (`2 * count`, each register high byte first)."""
        if self._direct:
            if self._kind == "string":
                return self._text_bytes(value)
            try:
                return self._value.pack(self._prepare(value))
            except (struct.error, OverflowError):
                return self._value.pack(self._refuse(value))
        return self._wire.pack(*self.encode(value))

    def _prepare(self, value: Any) -> Any:
        if self._kind != "bool":
            return value
        if value is True or value is False or (type(value) is int and value in (0, 1)):
            return 1 if value else 0
        if type(value) is int:
            raise ValueError(f"{value!r} does not fit Boolean (true/false or 1/0)")
        raise TypeError(f"Boolean takes true or false, got {type(value).__name__} {value!r}")

    def _refuse(self, value: Any) -> Any:
        """Why `value` did not pack, as the right exception; or `value` made packable."""
        what = f"{self.data_type} over {self.count} register(s)"
        if self._kind == "int":
            low, high = self._range or (0, 0)
            number = value
            if isinstance(value, float) and value.is_integer():
                number = int(value)
                if low <= number <= high:
                    return number
            if isinstance(number, bool) or not isinstance(number, int):
                raise TypeError(f"{what} takes an integer, got {type(value).__name__} {value!r}")
            raise ValueError(f"{value!r} does not fit {what} ({low}..{high})")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{what} takes a number, got {type(value).__name__} {value!r}")
        raise ValueError(f"{value!r} does not fit {what} (float{16 * self.count})")

    def _text_bytes(self, value: Any) -> bytes:
        """The string's bytes padded or cut to `2 * count`, in register order."""
        if not isinstance(value, str):
            raise TypeError(f"a String register takes a str, got {type(value).__name__} {value!r}")
        size = 2 * self.count
        raw = value.encode(self.encoding)
        if len(raw) > size:
            if not self.truncate:
                raise ValueError(
                    f"{value!r} does not fit String over {self.count} register(s) "
                    f"({len(raw)} bytes as {self.encoding}, room for {size})"
                )
            raw = raw[:size].decode(self.encoding, "ignore").encode(self.encoding)
        return raw.ljust(size, b"\0")

    # -- from registers -----------------------------------------------------------------

    def decode(self, registers: Sequence[int]) -> Any:
        """The value held by exactly `count` registers (ints 0..65535, table order)."""
        if self._kind == "string":
            if self.register_order is RegisterOrder.LeastSignificantRegisterFirst:
                registers = registers[::-1]
            return self._text(self._regs.pack(*registers))
        value = self._value.unpack(self._regs.pack(*registers))[0]
        return value != 0 if self._kind == "bool" else value

    def decode_bytes(self, data: bytes | bytearray | memoryview, offset: int = 0) -> Any:
        """The value in wire bytes `data[offset:offset + 2 * count]` (a read answer's data)."""
        if self._direct:
            value = self._value.unpack_from(data, offset)[0]
            if self._kind == "string":
                return self._text(value)
            return value != 0 if self._kind == "bool" else value
        if self._kind == "string":
            return self.decode(self._wire.unpack_from(data, offset))
        value = self._value.unpack(self._regs.pack(*self._wire.unpack_from(data, offset)))[0]
        return value != 0 if self._kind == "bool" else value

    def _text(self, raw: bytes) -> str:
        return raw.rstrip(b"\0").decode(self.encoding, "replace")


@functools.lru_cache(maxsize=512)
def codec(
    data_type: Any,
    count: int | None = None,
    byte_order: ByteOrder | str = ByteOrder.BigEndian,
    register_order: RegisterOrder | str = RegisterOrder.MostSignificantRegisterFirst,
    encoding: str = "utf-8",
    truncate: bool = False,
) -> RegisterCodec:
    """The (cached) codec of one register layout; ValueError for a layout that cannot be."""
    return RegisterCodec(data_type, count, byte_order, register_order, encoding, truncate)


def encode(
    value: Any,
    data_type: Any,
    count: int | None = None,
    byte_order: ByteOrder | str = ByteOrder.BigEndian,
    register_order: RegisterOrder | str = RegisterOrder.MostSignificantRegisterFirst,
) -> tuple[int, ...]:
    """`value` as registers: `codec(...).encode(value)` in one call."""
    return codec(data_type, count, byte_order, register_order).encode(value)


def decode(
    registers: Sequence[int],
    data_type: Any,
    count: int | None = None,
    byte_order: ByteOrder | str = ByteOrder.BigEndian,
    register_order: RegisterOrder | str = RegisterOrder.MostSignificantRegisterFirst,
) -> Any:
    """The value in `registers`: `codec(...).decode(registers)` in one call."""
    return codec(data_type, count, byte_order, register_order).decode(registers)


# -- coils and discrete inputs ------------------------------------------------------------

#: byte -> its 8 bits, least significant first (the first addressed bit is bit 0).
