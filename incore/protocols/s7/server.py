"""Sans-IO S7 server engine: one request PDU in, one reply PDU out.

Memory lives behind `AreaStore`, so the same engine serves registered
buffers and the object layer's "resourceless" callbacks.  CPU mode and clock
live in a `PlcState` that all connections of one server share.

The engine is a `PduEngine` (`S7ServerProtocol.receive_pdu`
and `pdus_to_send`, no timers) with one honest exception: the
store it calls may block (see `.store`), so it runs on a thread that may wait.

Client detection
----------------
Snap7 C and python-snap7 3.x agree on most layouts (both decode REAL items as
`0x07`/byte length and BIT items as `0x03`/one bit, and both use the
10-byte clock record), so one standard answer serves both.  Where they differ
the *request itself* tells them apart, so detection is per request and needs
no guessing about the connection:

* SZL 0x0131 and 0x0232 with **index 0**: only python-snap7 asks this (Snap7 C
  asks index 1 and 4, as Siemens tools do; no CPU defines index 0).
  python-snap7 reads the answer as bare words from offset 0, so index 0 gets
  that flat layout; index 1/4 get the standard record lists.
* Read Var with a **1-byte parameter part** (no item count): python-snap7's
  `get_cpu_state` probe.  It is answered with an empty Ack_Data (`04 00`).
* Set Clock with an **8-byte** record: python-snap7 before 3.3.  The
  connection then gets 8-byte records from Get Clock too; 10 bytes otherwise.

(The CR would also tell them apart - Snap7 C sends the 0xC0 parameter first,
python-snap7 sends 0xC1, 0xC2, 0xC0 - but nothing needs that.)

Block functions (userdata group 3) list and describe the blocks of a `BlockDirectory`
(`.blocks`): the one given, else a `MemoryAreaStore`'s DBs, else none.

Upload and download are refused as by a read/write protected CPU (0xD241), as Snap7 C
refuses them: the directory is visible, the blocks can not be read or changed. A PI
service that would insert or delete a block (`_INSE`, `_DELE`) gets the same refusal
(Snap7 C acknowledges it without deleting anything: a client would believe a block gone).

Limits: more than 20 items, or a reply that would not fit the negotiated PDU,
get a whole-request error (ROSCTR 2, 0x8104 / 0x8500) instead of data.
"""

from __future__ import annotations

from collections.abc import Callable

from ..contract import Untimed
from ..errors import AreaError, PduError, ProtocolError
from .blocks import AreaDirectory, BlockDirectory, EmptyDirectory
from .constants import (
    MAX_ITEMS,
    Area,
    ControlCode,
    CpuStatus,
    Event,
    EventResult,
    Function,
    HeaderError,
    ReturnCode,
    Rosctr,
    TransportSize,
)
from .items import (
    DataItem,
    ItemSpec,
    data_transport_size_for,
    decode_data_items,
    decode_item_specs,
    encode_data_items,
)
from .pdu import S7Pdu, SetupCommunication, decode_pdu, decode_setup, encode_setup
from .plc import PlcState
from .store import AreaStore, MemoryAreaStore, set_bit
from .userdata import UserdataHandler

__all__ = ["AreaStore", "MemoryAreaStore", "PlcState", "S7ServerProtocol", "EventTuple", "set_bit"]

EventTuple = tuple[int, int, int, int, int, int]
_MIN_PDU = 64
_DEFAULT_PDU = 240
_UPLOAD = frozenset({Function.START_UPLOAD, Function.UPLOAD, Function.END_UPLOAD})
_DOWNLOAD = frozenset({Function.REQUEST_DOWNLOAD, Function.DOWNLOAD_BLOCK, Function.DOWNLOAD_ENDED})
_BLOCK_EDITS = (b"_INSE", b"_DELE")
_WRITE_DATA_SIZES = frozenset({0x03, 0x04, 0x05, 0x06, 0x07, 0x09})
_EVENT_RESULT = {
    ReturnCode.OBJECT_DOES_NOT_EXIST: EventResult.ErrAreaNotFound,
    ReturnCode.ADDRESS_OUT_OF_RANGE: EventResult.ErrOutOfRange,
    ReturnCode.DATA_TYPE_NOT_SUPPORTED: EventResult.ErrTransportSize,
    ReturnCode.DATA_TYPE_INCONSISTENT: EventResult.DataSizeMismatch,
    ReturnCode.HARDWARE_FAULT: EventResult.ErrException,
}


def _directory_of(store: AreaStore) -> BlockDirectory:
    """The blocks of a store that says nothing about them: its DBs if it keeps them in an
    `areas` mapping like `MemoryAreaStore`, else none."""
    if hasattr(store, "block_sizes"):
        return store  # type: ignore[return-value]
    areas = getattr(store, "areas", None)
    return AreaDirectory(areas) if isinstance(areas, dict) else EmptyDirectory()


class S7ServerProtocol(Untimed):
    """Per-connection S7 server: one request PDU in, its reply PDU out.

    Two ways to drive it, both doing the same: the contract's `receive_pdu` (returns
    the request's events, queues the reply for `pdus_to_send`), and `handle`,
    which returns the reply directly (the shortest way, for a caller that sends it at once).
    Events are `(code, retcode, p1, p2, p3, p4)` tuples, codes and results in snap7's
    numbering (see `Event`); `on_event` also gets
    each one the moment it happens, whichever way the engine is driven.  Malformed PDUs
    raise `PduError`; the connection should be closed.
    """

    def __init__(
        self,
        store: AreaStore,
        *,
        state: PlcState | None = None,
        max_pdu: int = 960,
        max_amq: int = 8,
        on_event: Callable[[EventTuple], None] | None = None,
        directory: BlockDirectory | None = None,
    ) -> None:
        self.store = store
        self.directory = directory if directory is not None else _directory_of(store)
        self.state = state if state is not None else PlcState()
        self.max_pdu = max_pdu
        self.max_amq = max_amq
        self.on_event = on_event
        self.pdu_size = 0
        self._userdata = UserdataHandler(self)
        self._events: list[EventTuple] | None = None  # collecting for receive_pdu
        self._outbox: list[bytes] = []

    @property
    def cpu_status(self) -> int:
        return self.state.cpu_status

    @cpu_status.setter
    def cpu_status(self, value: int) -> None:
        self.state.set_status(value)

    @property
    def effective_pdu(self) -> int:
        return self.pdu_size or _DEFAULT_PDU

    def emit(
        self, code: int, ret: int = 0, p1: int = 0, p2: int = 0, p3: int = 0, p4: int = 0
    ) -> None:
        sink, events = self.on_event, self._events
        if sink is None and events is None:
            return
        event = (
            int(code),
            int(ret),
            int(p1) & 0xFFFF,
            int(p2) & 0xFFFF,
            int(p3) & 0xFFFF,
            int(p4) & 0xFFFF,
        )
        if sink is not None:
            sink(event)
        if events is not None:
            events.append(event)

    def receive_pdu(self, pdu: bytes, now: float | None = None) -> list[EventTuple]:
        """Answer one request PDU: the reply goes to `pdus_to_send`, its events are
        returned.  May block, in the store (see `.store`); `now` is unused (no timers)."""
        events: list[EventTuple] = []
        self._events = events
        try:
            reply = self.handle(pdu)
        finally:
            self._events = None
        if reply is not None:
            self._outbox.append(reply)
        return events

    def pdus_to_send(self) -> list[bytes]:
        """Drain the replies `receive_pdu` queued."""
        out, self._outbox = self._outbox, []
        return out

    def handle(self, raw: bytes) -> bytes | None:
        """Reply bytes for one request PDU (what `receive_pdu` queues)."""
        try:
            pdu = decode_pdu(raw)
        except PduError:
            self.emit(Event.PDUincoming, EventResult.MalformedPDU, len(raw))
            raise
        if pdu.rosctr == Rosctr.JOB:
            reply = self._job(pdu)
        elif pdu.rosctr == Rosctr.USERDATA:
            reply = self._userdata.handle(pdu)
        else:
            self.emit(Event.PDUincoming, EventResult.CannotHandlePDU, len(raw))
            raise PduError(f"ROSCTR 0x{pdu.rosctr:02X} is not a request")
        return reply.encode()

    # -- jobs ---------------------------------------------------------------

    def _error(self, pdu: S7Pdu, error: int) -> S7Pdu:
        return S7Pdu(Rosctr.ACK, pdu.pdu_ref, error=error)

    def _ack(self, pdu: S7Pdu, params: bytes, data: bytes = b"") -> S7Pdu:
        return S7Pdu(Rosctr.ACK_DATA, pdu.pdu_ref, params, data)

    def _job(self, pdu: S7Pdu) -> S7Pdu:
        function = pdu.function
        if function == Function.SETUP_COMMUNICATION:
            return self._setup(pdu)
        if function == Function.READ_VAR:
            return self._read(pdu)
        if function == Function.WRITE_VAR:
            return self._write(pdu)
        if function == Function.PI_SERVICE:
            return self._pi_service(pdu)
        if function == Function.PLC_STOP:
            self.cpu_status = CpuStatus.STOP
            self.emit(Event.Control, EventResult.NoError, 3)
            return self._ack(pdu, bytes((Function.PLC_STOP,)))
        if function in _UPLOAD:
            self.emit(Event.Upload, EventResult.CannotUpload, 1)
            return self._error(pdu, HeaderError.NEED_PASSWORD)
        if function in _DOWNLOAD:
            self.emit(Event.Download, EventResult.CannotDownload, 1)
            return self._error(pdu, HeaderError.NEED_PASSWORD)
        self.emit(
            Event.PDUincoming, EventResult.CannotHandlePDU, len(pdu.params) + len(pdu.data) + 10
        )
        return self._error(pdu, HeaderError.FUNCTION_NOT_AVAILABLE)

    def _setup(self, pdu: S7Pdu) -> S7Pdu:
        req = decode_setup(pdu.params)
        self.pdu_size = max(min(req.pdu_length, self.max_pdu), _MIN_PDU)
        granted = SetupCommunication(
            max(1, min(req.max_amq_calling, self.max_amq)),
            max(1, min(req.max_amq_called, self.max_amq)),
            self.pdu_size,
        )
        self.emit(Event.NegotiatePDU, EventResult.NoError, self.pdu_size)
        return self._ack(pdu, encode_setup(granted))

    def _read(self, pdu: S7Pdu) -> S7Pdu:
        if len(pdu.params) < 2 or pdu.params[1] == 0:
            return self._ack(
                pdu, bytes((Function.READ_VAR, 0))
            )  # python-snap7's get_cpu_state probe
        specs = decode_item_specs(pdu.params)
        if len(specs) > MAX_ITEMS:
            return self._error(pdu, HeaderError.FUNCTION_NOT_AVAILABLE)
        items = [self._read_item(spec) for spec in specs]
        data = encode_data_items(items)
        if 14 + len(data) > self.effective_pdu:
            for spec in specs:
                self.emit(
                    Event.DataRead,
                    EventResult.ErrOverPDU,
                    spec.area,
                    spec.db_number,
                    spec.byte_offset,
                    spec.byte_length,
                )
            return self._error(pdu, HeaderError.PDU_SIZE)
        return self._ack(pdu, bytes((Function.READ_VAR, len(items))), data)

    def _locate(self, spec: ItemSpec) -> tuple[int, int, int]:
        """(index, byte start, byte size) of an item, or AreaError for bad addressing."""
        ts = spec.transport_size
        size = spec.element_size
        if size == 0:
            raise AreaError(ReturnCode.DATA_TYPE_NOT_SUPPORTED)
        if (spec.area == Area.TM) != (ts == TransportSize.TIMER) or (spec.area == Area.CT) != (
            ts == TransportSize.COUNTER
        ):
            raise AreaError(ReturnCode.ADDRESS_OUT_OF_RANGE)
        index = spec.db_number if spec.area in (Area.DB, Area.DI) else 0
        if ts in (TransportSize.TIMER, TransportSize.COUNTER):
            return index, spec.address * 2, spec.count * 2
        if ts == TransportSize.BIT:
            if spec.count != 1:
                raise AreaError(ReturnCode.ADDRESS_OUT_OF_RANGE)
            return index, spec.byte_offset, 1
        if spec.bit:
            raise AreaError(ReturnCode.ADDRESS_OUT_OF_RANGE)
        return index, spec.byte_offset, spec.count * size

    def _guarded(self, action: Callable[[], bytes | None]) -> tuple[int, bytes | None]:
        """Run a store access; map refusals and store bugs to return codes."""
        try:
            return ReturnCode.SUCCESS, action()
        except AreaError as exc:
            return exc.return_code, None
        except ProtocolError:
            raise
        except Exception:  # a faulty store must not kill the connection
            return ReturnCode.HARDWARE_FAULT, None

    def _read_item(self, spec: ItemSpec) -> DataItem:
        index, start, size = 0, 0, 0

        def action() -> bytes:
            nonlocal index, start, size
            index, start, size = self._locate(spec)
            data = bytes(self.store.read(spec.area, index, start, size, spec=spec))
            if len(data) != size:
                raise AreaError(ReturnCode.ADDRESS_OUT_OF_RANGE)
            return data

        code, data = self._guarded(action)
        self.emit(
            Event.DataRead,
            _EVENT_RESULT.get(code, EventResult.NoError),
            spec.area,
            index,
            start,
            size,
        )
        if data is None:
            return DataItem(code, 0x00, b"")
        if spec.transport_size == TransportSize.BIT:
            return DataItem(
                ReturnCode.SUCCESS,
                data_transport_size_for(TransportSize.BIT),
                bytes(((data[0] >> spec.bit) & 1,)),
                1,
            )
        return DataItem(ReturnCode.SUCCESS, data_transport_size_for(spec.transport_size), data)

    def _write(self, pdu: S7Pdu) -> S7Pdu:
        specs = decode_item_specs(pdu.params)
        if len(specs) > MAX_ITEMS:
            return self._error(pdu, HeaderError.FUNCTION_NOT_AVAILABLE)
        items = decode_data_items(pdu.data, len(specs), response=False)
        codes = bytes(self._write_item(spec, item) for spec, item in zip(specs, items))
        return self._ack(pdu, bytes((Function.WRITE_VAR, len(specs))), codes)

    def _write_item(self, spec: ItemSpec, item: DataItem) -> int:
        index, start, size = 0, 0, 0

        def action() -> None:
            nonlocal index, start, size
            index, start, size = self._locate(spec)
            if item.transport_size not in _WRITE_DATA_SIZES:
                raise AreaError(ReturnCode.DATA_TYPE_NOT_SUPPORTED)
            if len(item.data) != size:
                raise AreaError(ReturnCode.DATA_TYPE_INCONSISTENT)
            if spec.transport_size == TransportSize.BIT:  # the store's one atomic step
                self.store.write_bit(
                    spec.area, index, start, spec.bit, bool(item.data[0] & 1), spec=spec
                )
            else:
                self.store.write(spec.area, index, start, item.data, spec=spec)
            return None

        code, _ = self._guarded(action)
        self.emit(
            Event.DataWrite,
            _EVENT_RESULT.get(code, EventResult.NoError),
            spec.area,
            index,
            start,
            size,
        )
        return code

    def _pi_service(self, pdu: S7Pdu) -> S7Pdu:
        """PI service `0x28`: 7 bytes, block length, block, name length, name."""
        params = pdu.params
        name, block = b"", b""
        if len(params) >= 10:
            blen = int.from_bytes(params[8:10], "big")
            block = params[10 : 10 + blen]
            if 10 + blen < len(params):
                nlen = params[10 + blen]
                name = params[11 + blen : 11 + blen + nlen]
        if name == b"P_PROGRAM":
            cold = block.startswith(b"C")
            self.cpu_status = CpuStatus.RUN
            self.emit(Event.Control, EventResult.NoError, 1 if cold else 2)
            return self._ack(pdu, bytes((Function.PI_SERVICE,)))
        if name in (b"_GARB", b"_MODU"):
            self.emit(Event.Control, EventResult.NoError, 4 if name == b"_GARB" else 5)
            return self._ack(pdu, bytes((Function.PI_SERVICE,)))
        if name in _BLOCK_EDITS or params[-5:] in _BLOCK_EDITS:  # python-snap7: name last
            # Blocks are not changed: refused as by a protected CPU.
            self.emit(Event.Control, EventResult.NotImplemented, ControlCode.InsDel)
            return self._error(pdu, HeaderError.NEED_PASSWORD)
        self.emit(Event.Control, EventResult.CannotHandlePDU, 0)
        return self._error(pdu, HeaderError.FUNCTION_NOT_AVAILABLE)
