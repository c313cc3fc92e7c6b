"""The S7 client's data operations: Read Var and Write Var, one area or up to 20 variables.

A read that fits one request takes `_ByteRead`, the poll every S7 client sends most; the rest
go through generator `Operation`s that split by the negotiated PDU size.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import attrs

from ..errors import ProtocolError, S7Error
from .client_session import ClientSession
from .constants import (
    MAX_ITEMS,
    PROTOCOL_ID,
    Area,
    ClientError,
    Function,
    Rosctr,
    TransportSize,
    cpu_error,
    element_size,
)
from .items import (
    DataItem,
    ItemSpec,
    data_transport_size_for,
    decode_data_items,
    encode_data_items,
    encode_item_specs,
    length_in_bits,
)
from .operation import Operation, Steps, fail, where
from .pdu import S7Pdu

__all__ = ["DataOperations", "ItemResult", "Var", "read_job"]

#: A whole one-item Read Var job: header, function + count, S7-ANY (24-bit address as B + H).
_READ_JOB = struct.Struct(">BBHHHHBBBBBBHHBBH")
#: The head of its Ack_Data: header with error word, function + count, data item header.
_READ_ACK = struct.Struct(">BBHHHHHBBBBH")
_JOB, _ACK_DATA, _READ_VAR = int(Rosctr.JOB), int(Rosctr.ACK_DATA), int(Function.READ_VAR)
_BYTE, _DB = int(TransportSize.BYTE), int(Area.DB)
#: Areas a byte read may address (timers and counters are read as elements).
_BYTE_AREAS = frozenset(int(a) for a in (Area.PE, Area.PA, Area.MK, Area.DB))


def read_job(ref: int, ts: int, count: int, db: int, area: int, address: int) -> bytes:
    """A one-item Read Var job PDU in one `pack` (the poll's request, built per poll)."""
    return _READ_JOB.pack(
        PROTOCOL_ID, _JOB, 0, ref, 14, 0, _READ_VAR, 1, 0x12, 0x0A, 0x10,
        ts, count, db, area, address >> 16, address & 0xFFFF,
    )  # fmt: skip


class _ByteRead(Operation[bytes]):
    """A byte read that fits one request: the poll every S7 client sends most.

    The same request and the same outcome as the general read (a generator that can split
    and loop), without the generator: building and driving it cost several times the
    exchange's own Python work. tests/protocols/test_protocols_s7_byte_read.py holds the two
    ways to identical requests, results and errors.
    """

    def __init__(
        self, protocol: DataOperations, area: int, db_number: int, start: int, size: int
    ) -> None:
        self._protocol = protocol
        self._ref = ref = protocol.next_ref()
        self._area, self._db, self._start, self._size = area, db_number, start, size
        address = start << 3
        self.result = None
        self.done = False
        self.request = read_job(ref, _BYTE, size, db_number if area == _DB else 0, area, address)

    def feed(self, reply: bytes) -> bytes | None:
        if self.done:
            raise fail(ClientError.InvalidParams, "operation already finished")
        self.done = True
        protocol, size = self._protocol, self._size
        data = protocol._read_ack(reply, self._ref, size, True)
        if data is None:  # not the plain answer: the full decoder names what is wrong
            detail = where(self._area, self._db, self._start, size)
            try:
                data = protocol._read_reply(reply, self._ref, detail, size)
            except S7Error:
                raise
            except ProtocolError as exc:
                raise fail(ClientError.InvalidPlcAnswer, str(exc)) from exc
        self.result = data
        self.request = None
        return None


@attrs.frozen
class Var:
    """One variable of a multi-variable read or write (snap7's S7DataItem)."""

    area: int
    db_number: int = 0
    start: int = 0
    amount: int = 1
    transport_size: int | None = None  # default: TIMER for TM, COUNTER for CT, BYTE elsewhere
    data: bytes = b""

    @property
    def word_len(self) -> int:
        return _default_ts(self.area, self.transport_size)

    def spec(self) -> ItemSpec:
        return ItemSpec.for_access(
            self.area, self.db_number, self.start, self.amount, self.word_len
        )


@attrs.frozen
class ItemResult:
    """Outcome of one variable: `error` is a snap7 client error number (0 = ok)."""

    error: int
    return_code: int
    data: bytes = b""

    @property
    def ok(self) -> bool:
        return self.error == 0


def _default_ts(area: int, ts: int | None) -> int:
    if ts is not None:
        return ts
    return (
        TransportSize.TIMER
        if area == Area.TM
        else TransportSize.COUNTER
        if area == Area.CT
        else TransportSize.BYTE
    )


class DataOperations(ClientSession):
    """Reads and writes of areas: one variable split by the PDU, or up to 20 in one request."""

    def read_area(
        self, area: int, db_number: int, start: int, amount: int, transport_size: int | None = None
    ) -> Operation[bytes]:
        """Read `amount` elements; split into as many requests as the PDU needs."""
        if (
            (transport_size is None or transport_size == _BYTE)
            and area in _BYTE_AREAS
            and 0 < amount <= self.pdu_size - 18
            and 0 <= db_number <= 0xFFFF
            and 0 <= start
            and start + amount <= 0x1FFFFF
        ):
            return _ByteRead(self, area, db_number, start, amount)
        return Operation(
            self._read_area(area, db_number, start, amount, _default_ts(area, transport_size))
        )

    def _check_access(self, db_number: int, start: int, amount: int, ts: int) -> int:
        size = element_size(ts)
        if size == 0:
            raise fail(ClientError.InvalidWordLen, f"transport size 0x{ts:02X}")
        last = start + amount * self._step_of(ts, size)
        limit = (
            0xFFFFFF
            if ts in (TransportSize.BIT, TransportSize.TIMER, TransportSize.COUNTER)
            else 0x1FFFFF
        )
        if not 0 <= db_number <= 0xFFFF or start < 0 or not 1 <= amount <= 0xFFFF or last > limit:
            raise fail(ClientError.InvalidParams, f"db {db_number} start {start} amount {amount}")
        return size

    @staticmethod
    def _step_of(ts: int, size: int) -> int:
        """How far `start` moves per element (bit, element number or bytes)."""
        return 1 if ts in (TransportSize.BIT, TransportSize.TIMER, TransportSize.COUNTER) else size

    def _read_area(
        self, area: int, db_number: int, start: int, amount: int, ts: int
    ) -> Steps[bytes]:
        size = self._check_access(db_number, start, amount, ts)
        per_request = 1 if ts == TransportSize.BIT else max((self._require_pdu() - 18) // size, 1)
        step = self._step_of(ts, size)
        by_element = ts in (TransportSize.BIT, TransportSize.TIMER, TransportSize.COUNTER)
        bits = length_in_bits(data_transport_size_for(ts))
        db = db_number if area == Area.DB else 0
        out = b""
        done = 0
        while done < amount:
            n = min(per_request, amount - done)
            pos = start + done * step
            address = pos if by_element else pos * 8  # _check_access keeps it within 24 bits
            ref = self.next_ref()
            raw = yield read_job(ref, ts, n, db, area, address)
            nbytes = n * size
            data = self._read_ack(raw, ref, nbytes, bits)
            if data is None:  # not the plain answer: the full decoder names what is wrong
                data = self._read_reply(raw, ref, where(area, db_number, pos, nbytes), nbytes)
            out = data if not out and n == amount else out + data
            done += n
        return out

    @staticmethod
    def _read_ack(raw: bytes, ref: int, nbytes: int, bits: bool) -> bytes | None:
        """The data of a well-formed one-item Read Var answer of `nbytes`, else None."""
        if len(raw) != 18 + nbytes:
            return None
        proto, rosctr, _, got_ref, plen, dlen, error, function, count, code, _ts, length = (
            _READ_ACK.unpack_from(raw)
        )
        if (
            proto != PROTOCOL_ID
            or rosctr != _ACK_DATA
            or got_ref != ref
            or error
            or plen != 2
            or dlen != 4 + nbytes
            or function != _READ_VAR
            or count != 1
            or code != 0xFF
            or length != (nbytes * 8 if bits else nbytes)
        ):
            return None
        return raw[18:]

    def _read_reply(self, raw: bytes, ref: int, detail: str, nbytes: int) -> bytes:
        reply = self._job_reply(self._reply_to(raw, ref), _READ_VAR, detail)
        item = self._read_items(reply, 1)[0]
        if item.return_code != 0xFF:
            raise fail(cpu_error(item.return_code), f"{detail}, item code 0x{item.return_code:02X}")
        if len(item.data) != nbytes:
            raise fail(ClientError.InvalidDataSizeRecvd, f"{detail}, got {len(item.data)} bytes")
        return item.data

    @staticmethod
    def _read_items(reply: S7Pdu, count: int) -> list[DataItem]:
        if len(reply.params) < 2 or reply.params[1] != count:
            raise fail(ClientError.InvalidPlcAnswer, f"read reply does not carry {count} item(s)")
        return decode_data_items(reply.data, count, response=True)

    def write_area(
        self, area: int, db_number: int, start: int, data: bytes, transport_size: int | None = None
    ) -> Operation[None]:
        """Write `data` (a whole number of elements), split by the PDU size."""
        return Operation(
            self._write_area(area, db_number, start, bytes(data), _default_ts(area, transport_size))
        )

    def _write_area(
        self, area: int, db_number: int, start: int, data: bytes, ts: int
    ) -> Steps[None]:
        size = element_size(ts)
        if size and len(data) % size:
            raise fail(
                ClientError.InvalidParams, f"{len(data)} bytes is not a whole number of elements"
            )
        amount = len(data) // size if size else 0
        self._check_access(db_number, start, amount, ts)
        per_request = 1 if ts == TransportSize.BIT else max((self._require_pdu() - 28) // size, 1)
        done = 0
        while done < amount:
            n = min(per_request, amount - done)
            pos = start + done * self._step_of(ts, size)
            chunk = data[done * size : (done + n) * size]
            spec = ItemSpec.for_access(area, db_number, pos, n, ts)
            item = DataItem(
                0, data_transport_size_for(ts), chunk, 1 if ts == TransportSize.BIT else None
            )
            detail = where(area, db_number, pos, len(chunk))
            reply = yield from self._job(
                encode_item_specs(Function.WRITE_VAR, [spec]),
                encode_data_items([item]),
                detail=detail,
            )
            if len(reply.params) < 2 or reply.params[1] != 1 or len(reply.data) < 1:
                raise fail(
                    ClientError.InvalidPlcAnswer, f"{detail}, write reply without a return code"
                )
            if reply.data[0] != 0xFF:
                code = cpu_error(reply.data[0]) if done == 0 else ClientError.PartialDataWritten
                raise fail(code, f"{detail}, item code 0x{reply.data[0]:02X}")
            done += n
        return None

    def read_multi(self, variables: Sequence[Var]) -> Operation[list[ItemResult]]:
        """Read up to 20 variables in one request; item failures do not raise."""
        return Operation(self._read_multi(list(variables)))

    def _check_multi(self, variables: Sequence[Var]) -> list[ItemSpec]:
        if len(variables) > MAX_ITEMS:
            raise fail(ClientError.TooManyItems, f"{len(variables)} items")
        if not variables:
            raise fail(ClientError.InvalidParams, "no items")
        specs = []
        for var in variables:
            self._check_access(var.db_number, var.start, var.amount, var.word_len)
            specs.append(var.spec())
        return specs

    def _read_multi(self, variables: list[Var]) -> Steps[list[ItemResult]]:
        specs = self._check_multi(variables)
        pdu = self._require_pdu()
        answer = 14 + sum(4 + s.byte_length + (s.byte_length & 1) for s in specs)
        if 12 + 12 * len(specs) > pdu or answer > pdu:
            raise fail(
                ClientError.SizeOverPDU,
                f"{len(specs)} items need {max(answer, 12 + 12 * len(specs))} bytes",
            )
        reply = yield from self._job(encode_item_specs(Function.READ_VAR, specs))
        items = self._read_items(reply, len(specs))
        return [
            ItemResult(
                0 if it.return_code == 0xFF else cpu_error(it.return_code), it.return_code, it.data
            )
            for it in items
        ]

    def write_multi(self, variables: Sequence[Var]) -> Operation[list[ItemResult]]:
        """Write up to 20 variables in one request; item failures do not raise."""
        return Operation(self._write_multi(list(variables)))

    def _write_multi(self, variables: list[Var]) -> Steps[list[ItemResult]]:
        specs = self._check_multi(variables)
        items = []
        for var, spec in zip(variables, specs):
            if len(var.data) != spec.byte_length:
                raise fail(
                    ClientError.InvalidParams, f"{len(var.data)} bytes for {spec.byte_length}"
                )
            bits = 1 if spec.transport_size == TransportSize.BIT else None
            items.append(DataItem(0, data_transport_size_for(spec.transport_size), var.data, bits))
        data = encode_data_items(items)
        if 10 + 2 + 12 * len(specs) + len(data) > self._require_pdu():
            raise fail(ClientError.SizeOverPDU, f"write request of {len(data)} data bytes")
        reply = yield from self._job(encode_item_specs(Function.WRITE_VAR, specs), data)
        if len(reply.params) < 2 or reply.params[1] != len(specs) or len(reply.data) < len(specs):
            raise fail(
                ClientError.InvalidPlcAnswer,
                f"write reply does not carry {len(specs)} return codes",
            )
        return [ItemResult(0 if c == 0xFF else cpu_error(c), c) for c in reply.data[: len(specs)]]
