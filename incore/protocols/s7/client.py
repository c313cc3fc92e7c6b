"""Sans-IO S7 client engine: builds request PDUs and interprets the replies.

Every operation is an `Operation`, the contract's
`Exchange`: send its `request`,
`feed` the reply, repeat until it returns `None` and read
`result` (`run` does that over a blocking transfer).
Operations that need several exchanges (large reads split by the negotiated PDU,
SZL follow-up fragments) hide that behind the same loop.  Every failure is an `S7Error`
carrying snap7's client error number.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Generator, Sequence
from datetime import datetime
from typing import Generic, TypeVar

import attrs

from ..contract import run
from ..errors import ProtocolError, S7Error
from . import szl as szl_mod
from .clock import decode_clock, encode_clock
from .constants import (
    MAX_ITEMS,
    PROTOCOL_ID,
    Area,
    ClientError,
    CpuStatus,
    Function,
    Rosctr,
    TransportSize,
    UserdataGroup,
    UserdataMethod,
    client_error_text,
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
from .pdu import (
    USERDATA_REQUEST_TYPE,
    S7Pdu,
    SetupCommunication,
    UserdataData,
    UserdataParams,
    decode_pdu,
    decode_setup,
    encode_setup,
)

__all__ = ["S7ClientProtocol", "Operation", "Var", "ItemResult", "run", "fail"]

T = TypeVar("T")
Steps = Generator[bytes, bytes, T]

_STOP = bytes((Function.PLC_STOP, 0, 0, 0, 0, 0, 9)) + b"P_PROGRAM"
_HOT_START = bytes((Function.PI_SERVICE, 0, 0, 0, 0, 0, 0, 0xFD, 0, 0, 9)) + b"P_PROGRAM"
_COLD_START = (
    bytes((Function.PI_SERVICE, 0, 0, 0, 0, 0, 0, 0xFD, 0, 2)) + b"C " + bytes((9,)) + b"P_PROGRAM"
)
#: A whole one-item Read Var job: header, function + count, S7-ANY (24-bit address as B + H).
_READ_JOB = struct.Struct(">BBHHHHBBBBBBHHBBH")
#: The head of its Ack_Data: header with error word, function + count, data item header.
_READ_ACK = struct.Struct(">BBHHHHHBBBBH")
_JOB, _ACK_DATA, _READ_VAR = int(Rosctr.JOB), int(Rosctr.ACK_DATA), int(Function.READ_VAR)
_BYTE, _DB = int(TransportSize.BYTE), int(Area.DB)
#: Areas a byte read may address (timers and counters are read as elements).
_BYTE_AREAS = frozenset(int(a) for a in (Area.PE, Area.PA, Area.MK, Area.DB))
_AREA_NAMES = {Area.PE: "PE", Area.PA: "PA", Area.MK: "MK", Area.CT: "CT", Area.TM: "TM"}


def fail(code: int, detail: str = "") -> S7Error:
    """An `S7Error` with snap7's text for `code`."""
    return S7Error(code, client_error_text(code), detail)


def _where(area: int, db_number: int, start: int, size: int) -> str:
    name = f"DB{db_number}" if area == Area.DB else _AREA_NAMES.get(area, f"area 0x{area:02X}")  # type: ignore[call-overload]
    return f"{name} offset {start} size {size}"


class Operation(Generic[T]):
    """One client operation driven by its caller's I/O (an `Exchange`).

    The steps are a generator that yields each request and is sent its reply, so an
    operation of several exchanges reads as one function; the S7 client has no timers (the
    transport bounds each wait).
    """

    def __init__(self, steps: Steps[T]) -> None:
        self._steps = steps
        self.result: T | None = None
        self.done = False
        self.request: bytes | None = self._step(None)

    def _step(self, reply: bytes | None) -> bytes | None:
        try:
            return self._steps.send(reply)  # type: ignore[arg-type]
        except StopIteration as stop:
            self.done = True
            self.result = stop.value
            return None
        except S7Error:
            self.done = True
            raise
        except ProtocolError as exc:  # malformed reply: report it the snap7 way
            self.done = True
            raise fail(ClientError.InvalidPlcAnswer, str(exc)) from exc

    def feed(self, reply: bytes) -> bytes | None:
        """Hand over the reply to `request`; return the next request, or `None` when done."""
        if self.done:
            raise fail(ClientError.InvalidParams, "operation already finished")
        self.request = self._step(reply)
        return self.request


class _ByteRead(Operation[bytes]):
    """A byte read that fits one request: the poll every S7 client sends most.

    The same request and the same outcome as the general read (a generator that can split
    and loop), without the generator: building and driving it cost several times the
    exchange's own Python work. tests/protocols/test_protocols_s7_byte_read.py holds the two
    ways to identical requests, results and errors.
    """

    def __init__(
        self, protocol: S7ClientProtocol, area: int, db_number: int, start: int, size: int
    ) -> None:
        self._protocol = protocol
        self._ref = ref = protocol.next_ref()
        self._area, self._db, self._start, self._size = area, db_number, start, size
        address = start << 3
        self.result = None
        self.done = False
        self.request = _READ_JOB.pack(
            PROTOCOL_ID,
            _JOB,
            0,
            ref,
            14,
            0,
            _READ_VAR,
            1,
            0x12,
            0x0A,
            0x10,
            _BYTE,
            size,
            db_number if area == _DB else 0,
            area,
            address >> 16,
            address & 0xFFFF,
        )

    def feed(self, reply: bytes) -> bytes | None:
        if self.done:
            raise fail(ClientError.InvalidParams, "operation already finished")
        self.done = True
        protocol, size = self._protocol, self._size
        data = protocol._read_ack(reply, self._ref, size, True)
        if data is None:  # not the plain answer: the full decoder names what is wrong
            where = _where(self._area, self._db, self._start, size)
            try:
                data = protocol._read_reply(reply, self._ref, where, size)
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


class S7ClientProtocol:
    """Request builder and reply parser for one S7 connection."""

    def __init__(self, *, pdu_request: int = 480, max_amq: int = 1) -> None:
        self.pdu_request = pdu_request
        self.max_amq = max_amq
        self.pdu_size = 0
        self._ref = 0

    # -- plumbing -----------------------------------------------------------

    def next_ref(self) -> int:
        """Next PDU reference (1..65535, wrapping)."""
        self._ref = self._ref % 0xFFFF + 1
        return self._ref

    def _exchange(self, rosctr: int, params: bytes, data: bytes = b"") -> Steps[S7Pdu]:
        ref = self.next_ref()
        raw = yield S7Pdu(rosctr, ref, params, data).encode()
        return self._reply_to(raw, ref)

    @staticmethod
    def _reply_to(raw: bytes, ref: int) -> S7Pdu:
        reply = decode_pdu(raw)
        if reply.pdu_ref != ref:
            raise fail(
                ClientError.InvalidPlcAnswer, f"reply to PDU {reply.pdu_ref}, expected {ref}"
            )
        return reply

    def _job(self, params: bytes, data: bytes = b"", *, detail: str = "") -> Steps[S7Pdu]:
        reply = yield from self._exchange(Rosctr.JOB, params, data)
        return self._job_reply(reply, params[0], detail)

    @staticmethod
    def _job_reply(reply: S7Pdu, function: int, detail: str = "") -> S7Pdu:
        if reply.rosctr not in (Rosctr.ACK, Rosctr.ACK_DATA):
            raise fail(ClientError.InvalidPlcAnswer, f"ROSCTR 0x{reply.rosctr:02X} answers a job")
        if reply.error:
            raise fail(
                cpu_error(reply.error),
                f"{detail + ', ' if detail else ''}error 0x{reply.error:04X}",
            )
        if not reply.params or reply.params[0] != function:
            raise fail(
                ClientError.InvalidPlcAnswer, f"reply function does not match 0x{function:02X}"
            )
        return reply

    def _require_pdu(self) -> int:
        if not self.pdu_size:
            raise fail(
                ClientError.InvalidParams, "PDU size not negotiated (run setup_communication first)"
            )
        return self.pdu_size

    # -- setup --------------------------------------------------------------

    def setup_communication(self) -> Operation[int]:
        """Negotiate the PDU size; the result is the granted size."""
        return Operation(self._setup())

    def _setup(self) -> Steps[int]:
        request = SetupCommunication(self.max_amq, self.max_amq, self.pdu_request)
        try:
            reply = yield from self._job(encode_setup(request))
            granted = decode_setup(reply.params)
        except (S7Error, ProtocolError) as exc:
            raise fail(ClientError.NegotiatingPDU, str(exc)) from exc
        if granted.pdu_length < 64:
            raise fail(ClientError.NegotiatingPDU, f"implausible PDU size {granted.pdu_length}")
        self.pdu_size = granted.pdu_length
        return self.pdu_size

    # -- read / write -------------------------------------------------------

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
            raw = yield _READ_JOB.pack(
                PROTOCOL_ID,
                _JOB,
                0,
                ref,
                14,
                0,
                _READ_VAR,
                1,
                0x12,
                0x0A,
                0x10,
                ts,
                n,
                db,
                area,
                address >> 16,
                address & 0xFFFF,
            )
            nbytes = n * size
            data = self._read_ack(raw, ref, nbytes, bits)
            if data is None:  # not the plain answer: the full decoder names what is wrong
                data = self._read_reply(raw, ref, _where(area, db_number, pos, nbytes), nbytes)
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
            detail = _where(area, db_number, pos, len(chunk))
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

    # -- userdata: SZL, clock -------------------------------------------------

    def _userdata(
        self,
        group: int,
        sub: int,
        data: UserdataData,
        *,
        null_ok: bool = False,
        sequence: int = 0,
        follow_up: bool = False,
    ) -> Steps[tuple[UserdataParams, UserdataData]]:
        params = UserdataParams(
            UserdataMethod.RESPONSE if follow_up else UserdataMethod.REQUEST,
            USERDATA_REQUEST_TYPE,
            group,
            sub,
            sequence,
            long_form=follow_up,
        )
        reply = yield from self._exchange(Rosctr.USERDATA, params.encode(), data.encode())
        if reply.rosctr != Rosctr.USERDATA:
            if reply.error:
                raise fail(
                    cpu_error(reply.error),
                    f"userdata group {group} refused, error 0x{reply.error:04X}",
                )
            raise fail(
                ClientError.InvalidPlcAnswer, f"ROSCTR 0x{reply.rosctr:02X} answers userdata"
            )
        rp = UserdataParams.decode(reply.params)
        rd = UserdataData.decode(reply.data)
        if rp.group != group or rp.subfunction != sub:
            raise fail(
                ClientError.InvalidPlcAnswer,
                f"userdata reply for group {rp.group}/{rp.subfunction}",
            )
        if rp.error:
            code = cpu_error(rp.error)
            if code == ClientError.FunctionRefused and rd.return_code not in (0xFF, 0x00):
                code = cpu_error(rd.return_code)
            raise fail(code, f"group {group} subfunction {sub}, error 0x{rp.error:04X}")
        if rd.return_code != 0xFF and not (null_ok and rd.return_code == 0x0A):
            raise fail(
                cpu_error(rd.return_code),
                f"group {group} subfunction {sub}, code 0x{rd.return_code:02X}",
            )
        return rp, rd

    def read_szl(self, szl_id: int, index: int = 0) -> Operation[szl_mod.SzlList]:
        """Read a whole system status list, following up on fragmented answers."""
        return Operation(self._read_szl(szl_id, index))

    def _read_szl(self, szl_id: int, index: int) -> Steps[szl_mod.SzlList]:
        request = UserdataData(0xFF, 0x09, szl_id.to_bytes(2, "big") + index.to_bytes(2, "big"))
        rp, rd = yield from self._userdata(UserdataGroup.CPU_FUNCTIONS, 1, request)
        first = szl_mod.parse_szl(rd.payload)
        data = bytearray(first.data)
        for _ in range(0xFFFF):
            if not rp.last_data_unit:
                break
            rp, rd = yield from self._userdata(
                UserdataGroup.CPU_FUNCTIONS,
                1,
                UserdataData.null_ack(),
                sequence=rp.sequence,
                follow_up=True,
            )
            data += rd.payload
        return szl_mod.SzlList(first.szl_id, first.index, bytes(data))

    def _szl_then(self, szl_id: int, index: int, parse: Callable[[szl_mod.SzlList], T]) -> Steps[T]:
        szl = yield from self._read_szl(szl_id, index)
        return parse(szl)

    def read_szl_ids(self) -> Operation[list[int]]:
        return Operation(self._szl_then(0x0000, 0, szl_mod.parse_szl_ids))

    def get_cpu_state(self) -> Operation[int]:
        """CPU mode from SZL 0x0424 (`CpuStatus` RUN/STOP/UNKNOWN)."""
        return Operation(self._szl_then(0x0424, 0, lambda s: CpuStatus(szl_mod.parse_cpu_state(s))))

    def get_order_code(self) -> Operation[szl_mod.OrderCode]:
        return Operation(self._szl_then(0x0011, 0, szl_mod.parse_order_code))

    def get_cpu_info(self) -> Operation[szl_mod.CpuInfo]:
        return Operation(self._szl_then(0x001C, 0, szl_mod.parse_cpu_info))

    def get_cp_info(self) -> Operation[szl_mod.CpInfo]:
        return Operation(self._szl_then(0x0131, 1, szl_mod.parse_cp_info))

    def get_protection(self) -> Operation[szl_mod.Protection]:
        return Operation(self._szl_then(0x0232, 4, szl_mod.parse_protection))

    def get_clock(self) -> Operation[datetime]:
        return Operation(self._get_clock())

    def _get_clock(self) -> Steps[datetime]:
        _, rd = yield from self._userdata(UserdataGroup.TIME, 1, UserdataData.null_ack())
        return decode_clock(rd.payload)

    def set_clock(self, moment: datetime) -> Operation[None]:
        """Set the CPU clock (10-byte record with the 0x19 marker snap7 servers expect)."""
        try:
            record = encode_clock(moment, century=0x19)
        except ValueError as exc:
            raise fail(ClientError.InvalidParams, str(exc)) from None
        return Operation(self._set_clock(record))

    def _set_clock(self, record: bytes) -> Steps[None]:
        yield from self._userdata(
            UserdataGroup.TIME, 2, UserdataData(0xFF, 0x09, record), null_ok=True
        )
        return None

    # -- control ------------------------------------------------------------

    def plc_stop(self) -> Operation[None]:
        return Operation(
            self._control(_STOP, ClientError.CannotStopPLC, 0x07, ClientError.AlreadyStop)
        )

    def plc_hot_start(self) -> Operation[None]:
        return Operation(
            self._control(_HOT_START, ClientError.CannotStartPLC, 0x03, ClientError.AlreadyRun)
        )

    def plc_cold_start(self) -> Operation[None]:
        return Operation(
            self._control(_COLD_START, ClientError.CannotStartPLC, 0x03, ClientError.AlreadyRun)
        )

    def _control(self, params: bytes, refused: int, already_code: int, already: int) -> Steps[None]:
        reply = yield from self._exchange(Rosctr.JOB, params)
        if reply.rosctr not in (Rosctr.ACK, Rosctr.ACK_DATA):
            raise fail(
                ClientError.InvalidPlcAnswer, f"ROSCTR 0x{reply.rosctr:02X} answers a control job"
            )
        if reply.error:
            detail = f"error 0x{reply.error:04X}"
            if (
                len(reply.params) >= 2
                and reply.params[0] == params[0]
                and reply.params[1] == already_code
            ):
                raise fail(already, detail)
            raise fail(refused, detail)
        if reply.params[:1] != params[:1]:
            raise fail(ClientError.InvalidPlcAnswer, "control reply for another function")
        return None
