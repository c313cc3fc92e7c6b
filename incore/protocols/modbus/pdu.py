"""Modbus PDUs: function and exception codes, the limits, bit packing, and the client's
requests and the decoding of their answers.

A client builds a `Request` with one of the functions below (arguments outside the spec's
limits raise `ValueError`: that is the caller's mistake, not the peer's) and hands the
server's answer PDU to `Request.decode`: the result, a `ModbusException` for an exception
answer, or `ModbusPduError` when the answer does not fit the request. The server side of
each function (validation and answers) is in `.server`; the layouts are in
docs/dev/modbus.md and ../shared/protocols/modbus_tcp.md.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Mapping, Sequence

import attrs

from .bits import pack_bits, unpack_bits
from .errors import ModbusException, ModbusPduError

__all__ = [
    "MAX_PDU",
    "MAX_READ_BITS",
    "MAX_READ_REGISTERS",
    "MAX_RW_WRITE_REGISTERS",
    "MAX_WRITE_COILS",
    "MAX_WRITE_REGISTERS",
    "MEI_READ_DEVICE_ID",
    "DeviceIdCode",
    "DeviceIdentification",
    "DiagnosticCode",
    "ExceptionCode",
    "FunctionCode",
    "Request",
    "device_objects",
    "diagnostics",
    "exception_pdu",
    "mask_write_register",
    "pack_bits",
    "read_coils",
    "read_device_identification",
    "read_discrete_inputs",
    "read_holding_registers",
    "read_input_registers",
    "read_write_multiple_registers",
    "unpack_bits",
    "write_multiple_coils",
    "write_multiple_registers",
    "write_single_coil",
    "write_single_register",
]

MAX_PDU = 253
MAX_READ_BITS = 2000
MAX_READ_REGISTERS = 125
MAX_WRITE_COILS = 1968
MAX_WRITE_REGISTERS = 123
MAX_RW_WRITE_REGISTERS = 121
MEI_READ_DEVICE_ID = 0x0E
COIL_ON = 0xFF00


class FunctionCode(enum.IntEnum):
    """The function codes this package speaks."""

    READ_COILS = 1
    READ_DISCRETE_INPUTS = 2
    READ_HOLDING_REGISTERS = 3
    READ_INPUT_REGISTERS = 4
    WRITE_SINGLE_COIL = 5
    WRITE_SINGLE_REGISTER = 6
    DIAGNOSTICS = 8
    WRITE_MULTIPLE_COILS = 15
    WRITE_MULTIPLE_REGISTERS = 16
    MASK_WRITE_REGISTER = 22
    READ_WRITE_MULTIPLE_REGISTERS = 23
    ENCAPSULATED_INTERFACE = 43


class ExceptionCode(enum.IntEnum):
    """Exception codes a server answers with (`fc | 0x80`, then one of these)."""

    ILLEGAL_FUNCTION = 0x01
    ILLEGAL_DATA_ADDRESS = 0x02
    ILLEGAL_DATA_VALUE = 0x03
    SERVER_DEVICE_FAILURE = 0x04
    ACKNOWLEDGE = 0x05
    SERVER_DEVICE_BUSY = 0x06
    MEMORY_PARITY_ERROR = 0x08
    GATEWAY_PATH_UNAVAILABLE = 0x0A
    GATEWAY_TARGET_FAILED = 0x0B


class DiagnosticCode(enum.IntEnum):
    """FC 8 sub-functions (most of them describe a serial line; see docs/dev/modbus.md)."""

    RETURN_QUERY_DATA = 0x00
    RESTART_COMMUNICATIONS = 0x01
    RETURN_DIAGNOSTIC_REGISTER = 0x02
    CHANGE_ASCII_DELIMITER = 0x03
    FORCE_LISTEN_ONLY = 0x04
    CLEAR_COUNTERS = 0x0A
    BUS_MESSAGE_COUNT = 0x0B
    BUS_COMMUNICATION_ERROR_COUNT = 0x0C
    BUS_EXCEPTION_ERROR_COUNT = 0x0D
    SERVER_MESSAGE_COUNT = 0x0E
    SERVER_NO_RESPONSE_COUNT = 0x0F
    SERVER_NAK_COUNT = 0x10
    SERVER_BUSY_COUNT = 0x11
    BUS_CHARACTER_OVERRUN_COUNT = 0x12
    CLEAR_OVERRUN_COUNTER = 0x14


class DeviceIdCode(enum.IntEnum):
    """FC 43/14's read device id code: three streams and one object."""

    BASIC = 1
    REGULAR = 2
    EXTENDED = 3
    SPECIFIC = 4


def exception_pdu(function: int, code: int) -> bytes:
    """The exception answer to `function` (the top bit set, then the code)."""
    return bytes((function | 0x80, code))


@attrs.frozen
class DeviceIdentification:
    """One FC 43/14 answer: `objects` in the order sent; `more_follows` says ask again
    from `next_object_id`."""

    code: int
    conformity: int
    more_follows: bool
    next_object_id: int
    objects: dict[int, bytes]


Decoder = Callable[["Request", bytes], object]


class Request:
    """A client request PDU and how to read the answer to it.

    `decode(answer)` returns the result: a list of bools (FC 1, 2), a list of unsigned
    register values (FC 3, 4, 23), the echoed data (FC 8), a `DeviceIdentification`
    (FC 43/14), or None for writes (whose echo is checked).
    """

    __slots__ = ("pdu", "function", "count", "_decode")

    def __init__(self, pdu: bytes, count: int, decode: Decoder) -> None:
        self.pdu = pdu
        self.function = pdu[0]
        self.count = count
        self._decode = decode

    def __repr__(self) -> str:
        return f"Request({self.pdu.hex(' ')})"

    def decode(self, answer: bytes) -> object:
        """The result in `answer`; raises `ModbusException` or `ModbusPduError`."""
        if not answer:
            raise ModbusPduError("empty answer PDU")
        function = answer[0]
        if function != self.function:
            if function == self.function | 0x80 and len(answer) == 2:
                raise ModbusException(answer[1], self.function)
            raise ModbusPduError(f"answer of function {function} to function {self.function}")
        return self._decode(self, answer)


def _byte_counted(request: Request, answer: bytes, size: int) -> bytes:
    if len(answer) < 2 or answer[1] != size or len(answer) != size + 2:
        raise ModbusPduError(f"answer to function {request.function}: bad byte count")
    return answer[2:]


def _bits(request: Request, answer: bytes) -> list[bool]:
    return unpack_bits(_byte_counted(request, answer, (request.count + 7) >> 3), request.count)


_REGISTERS = [struct.Struct(f">{count}H") for count in range(MAX_READ_REGISTERS + 1)]


def _registers(request: Request, answer: bytes) -> list[int]:
    count = request.count
    if len(answer) != 2 * count + 2 or answer[1] != 2 * count:
        raise ModbusPduError(f"answer to function {request.function}: bad byte count")
    return list(_REGISTERS[count].unpack_from(answer, 2))


def _echo(request: Request, answer: bytes) -> None:
    if answer != request.pdu:
        raise ModbusPduError(f"answer to function {request.function} is not the request's echo")


def _write_echo(request: Request, answer: bytes) -> None:
    if answer != request.pdu[:5]:
        raise ModbusPduError(f"answer to function {request.function} echoes another range")


def _diagnostic(request: Request, answer: bytes) -> bytes:
    if answer[1:3] != request.pdu[1:3]:
        raise ModbusPduError("diagnostics answer to another sub-function")
    return answer[3:]


def _device_identification(request: Request, answer: bytes) -> DeviceIdentification:
    if len(answer) < 7 or answer[1] != MEI_READ_DEVICE_ID or answer[2] != request.pdu[2]:
        raise ModbusPduError("read device identification answer too short or to another code")
    code, conformity, more, next_id, count = answer[2:7]
    objects: dict[int, bytes] = {}
    pos = 7
    for _ in range(count):
        if pos + 2 > len(answer) or pos + 2 + answer[pos + 1] > len(answer):
            raise ModbusPduError("read device identification answer cut short")
        size = answer[pos + 1]
        objects[answer[pos]] = answer[pos + 2 : pos + 2 + size]
        pos += 2 + size
    if pos != len(answer) or more not in (0, 0xFF):
        raise ModbusPduError("read device identification answer has trailing or bad bytes")
    return DeviceIdentification(code, conformity, more == 0xFF, next_id, objects)


def _check(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} {value} outside {low}..{high}")


def _range(start: int, count: int, limit: int) -> None:
    if not (1 <= count <= limit and 0 <= start <= 0x10000 - count):
        _check("count", count, 1, limit)
        _check("start", start, 0, 0x10000 - count)


_READ = struct.Struct(">BHH")
_WRITE = struct.Struct(">BHHB")
_READ_WRITE = struct.Struct(">BHHHHB")
_MASK = struct.Struct(">BHHH")


def _read(function: int, start: int, count: int, limit: int, decode: Decoder) -> Request:
    _range(start, count, limit)
    return Request(_READ.pack(function, start, count), count, decode)


def read_coils(start: int, count: int) -> Request:
    """FC 1: `count` (1..2000) coils from `start`."""
    return _read(1, start, count, MAX_READ_BITS, _bits)


def read_discrete_inputs(start: int, count: int) -> Request:
    """FC 2: `count` (1..2000) discrete inputs from `start`."""
    return _read(2, start, count, MAX_READ_BITS, _bits)


def read_holding_registers(start: int, count: int) -> Request:
    """FC 3: `count` (1..125) holding registers from `start`."""
    return _read(3, start, count, MAX_READ_REGISTERS, _registers)


def read_input_registers(start: int, count: int) -> Request:
    """FC 4: `count` (1..125) input registers from `start`."""
    return _read(4, start, count, MAX_READ_REGISTERS, _registers)


def write_single_coil(address: int, value: bool) -> Request:
    """FC 5: one coil on (0xFF00) or off."""
    _range(address, 1, 1)
    return Request(_READ.pack(5, address, COIL_ON if value else 0), 1, _echo)


def write_single_register(address: int, value: int) -> Request:
    """FC 6: one holding register (an unsigned 16-bit value)."""
    _range(address, 1, 1)
    _check("value", value, 0, 0xFFFF)
    return Request(_READ.pack(6, address, value), 1, _echo)


def write_multiple_coils(start: int, values: Sequence[bool] | Sequence[int]) -> Request:
    """FC 15: 1..1968 coils from `start`."""
    _range(start, len(values), MAX_WRITE_COILS)
    data = pack_bits(values)
    return Request(_WRITE.pack(15, start, len(values), len(data)) + data, len(values), _write_echo)


def write_multiple_registers(start: int, values: Sequence[int]) -> Request:
    """FC 16: 1..123 holding registers (unsigned 16-bit values) from `start`."""
    _range(start, len(values), MAX_WRITE_REGISTERS)
    data = _register_bytes(values)
    return Request(_WRITE.pack(16, start, len(values), len(data)) + data, len(values), _write_echo)


def mask_write_register(address: int, and_mask: int, or_mask: int) -> Request:
    """FC 22: the register becomes `(current & and_mask) | (or_mask & ~and_mask)`."""
    _range(address, 1, 1)
    _check("and_mask", and_mask, 0, 0xFFFF)
    _check("or_mask", or_mask, 0, 0xFFFF)
    return Request(_MASK.pack(22, address, and_mask, or_mask), 1, _echo)


def read_write_multiple_registers(
    read_start: int, read_count: int, write_start: int, values: Sequence[int]
) -> Request:
    """FC 23: write 1..121 registers, then read 1..125 (the server writes first)."""
    _range(read_start, read_count, MAX_READ_REGISTERS)
    _range(write_start, len(values), MAX_RW_WRITE_REGISTERS)
    data = _register_bytes(values)
    head = _READ_WRITE.pack(23, read_start, read_count, write_start, len(values), len(data))
    return Request(head + data, read_count, _registers)


def diagnostics(sub_function: int = 0, data: bytes = b"\x00\x00") -> Request:
    """FC 8: `sub_function` with its data (sub-function 0 gets its data echoed)."""
    _check("sub_function", sub_function, 0, 0xFFFF)
    _check("data length", len(data), 0, MAX_PDU - 3)
    return Request(struct.pack(">BH", 8, sub_function) + data, 0, _diagnostic)


def read_device_identification(code: int = DeviceIdCode.BASIC, object_id: int = 0) -> Request:
    """FC 43/14: a stream of objects from `object_id` (codes 1-3) or one object (code 4)."""
    _check("read device id code", code, 1, 4)
    _check("object id", object_id, 0, 0xFF)
    pdu = bytes((43, MEI_READ_DEVICE_ID, code, object_id))
    return Request(pdu, 0, _device_identification)


def _register_bytes(values: Sequence[int]) -> bytes:
    for value in values:
        _check("register value", value, 0, 0xFFFF)
    return struct.pack(f">{len(values)}H", *values)


def device_objects(objects: Mapping[int, bytes | str]) -> dict[int, bytes]:
    """Device identification objects as bytes (str is encoded as ASCII)."""
    found: dict[int, bytes] = {}
    for key, value in sorted(objects.items()):
        _check("object id", key, 0, 0xFF)
        data = value.encode("ascii") if isinstance(value, str) else bytes(value)
        _check(f"length of object {key}", len(data), 0, MAX_PDU - 9)
        found[key] = data
    return found
