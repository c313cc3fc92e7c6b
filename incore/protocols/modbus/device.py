"""What a Modbus server says about itself: FC 43/14 device identification and the FC 8
diagnostics that mean something on TCP.

Device identification: basic objects are 0x00-0x02, regular 0x03-0x06 and extended
0x80-0xFF (0x07-0x7F are reserved but served if given). A stream (codes 1-3) returns the
objects present from the requested id up to the end of its category; an id that is not
present restarts the stream at the first object. An answer that would pass 253 bytes stops
before the object that does not fit and says "more follows" from it. Code 4 returns one
object, exception 02 if it is not there.

Diagnostics: the counters are kept per server (one `DiagnosticCounters` shared by every
connection's engine) and counted without a lock, so under heavy concurrency an increment
may be lost; they are diagnostics, not accounting. See docs/dev/modbus.md for the
sub-functions served.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from .errors import RequestRefused
from .pdu import MAX_PDU, MEI_READ_DEVICE_ID, DiagnosticCode, ExceptionCode, device_objects

__all__ = ["DeviceIdentity", "DiagnosticCounters"]

#: fc, MEI type, code, conformity, more follows, next object id, number of objects.
_ID_HEADER = 7
_CATEGORY_END = {1: 0x02, 2: 0x7F, 3: 0xFF}
_SERVED = frozenset(
    {
        DiagnosticCode.RETURN_QUERY_DATA,
        DiagnosticCode.CLEAR_COUNTERS,
        DiagnosticCode.BUS_MESSAGE_COUNT,
        DiagnosticCode.BUS_EXCEPTION_ERROR_COUNT,
        DiagnosticCode.SERVER_MESSAGE_COUNT,
        DiagnosticCode.SERVER_NO_RESPONSE_COUNT,
    }
)


class DeviceIdentity:
    """The objects a server answers FC 43/14 with (id -> bytes; str is sent as ASCII)."""

    __slots__ = ("objects", "conformity")

    def __init__(self, objects: Mapping[int, bytes | str] | None = None) -> None:
        self.objects = device_objects(objects or {})
        # individual access (0x80) always; the level is the highest category present
        if any(key >= 0x80 for key in self.objects):
            self.conformity = 0x83
        elif any(key > 0x02 for key in self.objects):
            self.conformity = 0x82
        else:
            self.conformity = 0x81

    def answer(self, code: int, object_id: int) -> bytes:
        """The answer PDU to read device id `code` from `object_id`; raises
        `RequestRefused` (03 for a bad code, 02 for a missing object with code 4)."""
        head = bytes((43, MEI_READ_DEVICE_ID, code, self.conformity))
        if code == 4:
            value = self.objects.get(object_id)
            if value is None:
                raise RequestRefused(ExceptionCode.ILLEGAL_DATA_ADDRESS)
            return head + bytes((0, 0, 1, object_id, len(value))) + value
        end = _CATEGORY_END.get(code)
        if end is None:
            raise RequestRefused(ExceptionCode.ILLEGAL_DATA_VALUE)
        ids = [key for key in self.objects if key <= end]
        if object_id not in self.objects or object_id > end:
            object_id = 0
        body = bytearray()
        count = 0
        for key in ids:
            if key < object_id:
                continue
            value = self.objects[key]
            if _ID_HEADER + len(body) + 2 + len(value) > MAX_PDU:
                return head + bytes((0xFF, key, count)) + body
            body += bytes((key, len(value))) + value
            count += 1
        return head + bytes((0, 0, count)) + body


class DiagnosticCounters:
    """The FC 8 counters of one server (shared by its connections), modulo 65536."""

    __slots__ = ("bus_messages", "exceptions", "server_messages", "no_response")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.bus_messages = 0  # every request received
        self.exceptions = 0  # exception answers sent
        self.server_messages = 0  # requests addressed to this server
        self.no_response = 0  # requests not answered (broadcasts)

    def answer(self, pdu: bytes) -> bytes:
        """The answer PDU to diagnostics request `pdu` (at least 3 bytes); raises
        `RequestRefused` 01 for sub-functions not served, 03 for bad counter data."""
        (sub,) = struct.unpack_from(">H", pdu, 1)
        if sub not in _SERVED:
            raise RequestRefused(ExceptionCode.ILLEGAL_FUNCTION)
        if sub == DiagnosticCode.RETURN_QUERY_DATA:
            return bytes(pdu)
        if pdu[3:] != b"\x00\x00":
            raise RequestRefused(ExceptionCode.ILLEGAL_DATA_VALUE)
        if sub == DiagnosticCode.CLEAR_COUNTERS:
            self.clear()
            return bytes(pdu)
        value = {
            DiagnosticCode.BUS_MESSAGE_COUNT: self.bus_messages,
            DiagnosticCode.BUS_EXCEPTION_ERROR_COUNT: self.exceptions,
            DiagnosticCode.SERVER_MESSAGE_COUNT: self.server_messages,
            DiagnosticCode.SERVER_NO_RESPONSE_COUNT: self.no_response,
        }[sub]
        return bytes(pdu[:3]) + struct.pack(">H", value & 0xFFFF)
