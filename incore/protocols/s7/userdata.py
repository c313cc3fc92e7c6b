"""Server side of Userdata PDUs: SZL reads (with fragmentation), clock, security, blocks.

Split from `.server` to keep each module small.  The handler needs the engine's
state, PDU size and event sink, which `UserdataHost` names, so this module does not
import the engine's (the engine imports this one).
"""

from __future__ import annotations

from typing import Protocol

from ..errors import PduError
from . import blocks, szl
from .clock import LEGACY_CLOCK_SIZE, decode_clock, encode_clock, encode_legacy_clock
from .constants import (
    EVENT_SUBCODE_BLOCK_INFO,
    EVENT_SUBCODE_BLOCK_LIST,
    EVENT_SUBCODE_GET_CLOCK,
    EVENT_SUBCODE_LIST_OF_TYPE,
    EVENT_SUBCODE_SET_CLOCK,
    EVENT_SUBCODE_START_LIST_OF_TYPE,
    Event,
    EventResult,
    HeaderError,
    Rosctr,
    UserdataGroup,
    UserdataMethod,
)
from .pdu import USERDATA_RESPONSE_TYPE, S7Pdu, UserdataData, UserdataParams
from .plc import PlcState

__all__ = ["UserdataHandler", "UserdataHost"]

_SZL_READ = 0x01
_CLOCK_GET = 0x01
_CLOCK_SET = 0x02
_HEADROOM = 10 + 12 + 4  # header + response parameters + data header
_BLOCK_FUNCTIONS = (
    blocks.SUBFUNCTION_LIST_ALL,
    blocks.SUBFUNCTION_LIST_OF_TYPE,
    blocks.SUBFUNCTION_BLOCK_INFO,
)


class UserdataHost(Protocol):
    """What the handler uses of its server engine (`S7ServerProtocol`)."""

    state: PlcState
    pdu_size: int
    directory: blocks.BlockDirectory

    @property
    def effective_pdu(self) -> int: ...

    def emit(
        self, code: int, ret: int = 0, p1: int = 0, p2: int = 0, p3: int = 0, p4: int = 0
    ) -> None: ...


class UserdataHandler:
    """Answers one connection's Userdata requests."""

    def __init__(self, engine: UserdataHost) -> None:
        self.engine = engine
        self.legacy_clock = False
        self._fragments: dict[int, list[bytes]] = {}
        self._next_sequence = 0
        self._listing: tuple[int, list[blocks.BlockEntry]] | None = None

    def handle(self, pdu: S7Pdu) -> S7Pdu:
        params = UserdataParams.decode(pdu.params)
        if params.group == UserdataGroup.CPU_FUNCTIONS and params.subfunction == _SZL_READ:
            return self._szl(pdu, params)
        if params.group == UserdataGroup.TIME and params.subfunction in (_CLOCK_GET, _CLOCK_SET):
            return self._clock(pdu, params)
        if params.group == UserdataGroup.BLOCK_FUNCTIONS and params.subfunction in _BLOCK_FUNCTIONS:
            return self._blocks(pdu, params)
        if params.group == UserdataGroup.SECURITY and params.subfunction in (1, 2):
            self.engine.emit(Event.Security, EventResult.NoError, params.subfunction)
            return self._reply(pdu, params, UserdataData.null_ack())
        self.engine.emit(Event.PDUincoming, EventResult.InvalidGroupUData, params.group)
        return self._reply(
            pdu, params, UserdataData.null_ack(), error=HeaderError.FUNCTION_NOT_AVAILABLE
        )

    def _reply(
        self,
        pdu: S7Pdu,
        req: UserdataParams,
        data: UserdataData,
        *,
        error: int = 0,
        sequence: int | None = None,
        more: bool = False,
        data_unit_ref: int | None = None,
    ) -> S7Pdu:
        params = UserdataParams(
            UserdataMethod.RESPONSE,
            USERDATA_RESPONSE_TYPE,
            req.group,
            req.subfunction,
            req.sequence if sequence is None else sequence,
            (sequence or 0) if data_unit_ref is None else data_unit_ref,
            1 if more else 0,
            error,
            long_form=True,
        )
        return S7Pdu(Rosctr.USERDATA, pdu.pdu_ref, params.encode(), data.encode())

    # -- SZL ----------------------------------------------------------------

    def _szl(self, pdu: S7Pdu, req: UserdataParams) -> S7Pdu:
        if req.sequence:  # follow-up: send the next stored fragment
            parts = self._fragments.get(req.sequence)
            if not parts:
                self.engine.emit(Event.ReadSZL, EventResult.InvalidSZL, 0, 0)
                return self._reply(
                    pdu, req, UserdataData.null_ack(), error=HeaderError.INVALID_SZL_INDEX
                )
            chunk = parts.pop(0)
            if not parts:
                del self._fragments[req.sequence]
            self.engine.emit(Event.ReadSZL, EventResult.NoError, 0, 0)
            return self._reply(
                pdu, req, UserdataData(0xFF, 0x09, chunk), sequence=req.sequence, more=bool(parts)
            )
        data = UserdataData.decode(pdu.data)
        if len(data.payload) < 4:
            raise PduError("SZL request without ID and index")
        szl_id = int.from_bytes(data.payload[0:2], "big")
        index = int.from_bytes(data.payload[2:4], "big")
        body = self._szl_list(szl_id, index)
        if body is None:
            self.engine.emit(Event.ReadSZL, EventResult.InvalidSZL, szl_id, index)
            known = szl_id in szl.SERVED_SZL_IDS
            error = HeaderError.INVALID_SZL_INDEX if known else HeaderError.INVALID_SZL_ID
            return self._reply(pdu, req, UserdataData.null_ack(), error=error)
        self.engine.emit(Event.ReadSZL, EventResult.NoError, szl_id, index)
        payload = data.payload[0:4] + body
        room = max(self.engine.effective_pdu - _HEADROOM, 8)
        if len(payload) <= room:
            return self._reply(pdu, req, UserdataData(0xFF, 0x09, payload))
        sequence = self._allocate_sequence()
        rest = payload[room:]
        self._fragments[sequence] = [rest[i : i + room] for i in range(0, len(rest), room)]
        return self._reply(
            pdu, req, UserdataData(0xFF, 0x09, payload[:room]), sequence=sequence, more=True
        )

    def _allocate_sequence(self) -> int:
        self._next_sequence = self._next_sequence % 255 + 1
        self._fragments.pop(self._next_sequence, None)
        return self._next_sequence

    def _szl_list(self, szl_id: int, index: int) -> bytes | None:
        state = self.engine.state
        ident = state.identity
        pdu = self.engine.pdu_size
        if szl_id == 0x0000:
            return szl.szl_0000()
        if szl_id == 0x0011:
            return szl.szl_0011(ident)
        if szl_id == 0x0111:
            return szl.szl_0111(ident, index)
        if szl_id == 0x001C:
            return szl.szl_001c(ident)
        if szl_id == 0x011C:
            return szl.szl_011c(ident, index)
        if szl_id == 0x0131:
            return szl.flat_cp_info(ident, pdu) if index == 0 else szl.szl_0131(ident, index, pdu)
        if szl_id == 0x0232:
            return szl.flat_protection(ident) if index == 0 else szl.szl_0232(ident, index)
        if szl_id == 0x0424:
            return szl.szl_0424(state.cpu_status, state.status_changed)
        return None

    # -- block functions ------------------------------------------------------

    def _blocks(self, pdu: S7Pdu, req: UserdataParams) -> S7Pdu:
        """List blocks, list the blocks of a type (in parts), block info: as Snap7 C answers
        them (see `.blocks`), the blocks being what the engine's `directory` holds."""
        directory = self.engine.directory
        if req.subfunction == blocks.SUBFUNCTION_LIST_ALL:
            counts = {kind: len(directory.block_sizes(kind)) for kind in blocks.LIST_ALL_ORDER}
            self.engine.emit(Event.Directory, EventResult.NoError, EVENT_SUBCODE_BLOCK_LIST)
            return self._reply(pdu, req, UserdataData(0xFF, 0x09, blocks.encode_list_all(counts)))
        if req.subfunction == blocks.SUBFUNCTION_LIST_OF_TYPE:
            return self._list_of_type(pdu, req, directory)
        kind, number = blocks.decode_block_info_request(UserdataData.decode(pdu.data).payload)
        size = directory.block_sizes(kind).get(number) if number is not None else None
        shown = number if number is not None else 0xFFFF
        if size is None or kind != blocks.BlockType.DB:
            self.engine.emit(
                Event.Directory, EventResult.ResNotFound, EVENT_SUBCODE_BLOCK_INFO, kind, shown
            )
            return self._reply(
                pdu, req, UserdataData.null_ack(), error=blocks.ERROR_BLOCK_NOT_FOUND
            )
        info = blocks.encode_block_info(blocks.db_block_info(shown, size))
        self.engine.emit(
            Event.Directory, EventResult.NoError, EVENT_SUBCODE_BLOCK_INFO, kind, shown
        )
        return self._reply(pdu, req, UserdataData(0xFF, 0x09, info))

    def _list_of_type(
        self, pdu: S7Pdu, req: UserdataParams, directory: blocks.BlockDirectory
    ) -> S7Pdu:
        """A short (first) request starts a list; a long-form one (the follow-up of both
        peers) takes the next part of the list under way."""
        if not req.long_form:
            kind = blocks.decode_list_of_type_request(UserdataData.decode(pdu.data).payload)
            language = blocks.BlockLanguage.DB if kind == blocks.BlockType.DB else 0x01
            numbers = sorted(directory.block_sizes(kind))
            self._listing = (kind, [blocks.BlockEntry(n, 0x22, language) for n in numbers])
            subcode = EVENT_SUBCODE_START_LIST_OF_TYPE
        else:
            kind = self._listing[0] if self._listing is not None else 0
            subcode = EVENT_SUBCODE_LIST_OF_TYPE
        listing = self._listing
        if listing is None or not listing[1]:
            self._listing = None
            self.engine.emit(Event.Directory, EventResult.ResNotFound, subcode, kind)
            return self._reply(pdu, req, UserdataData.null_ack(), error=blocks.ERROR_NO_BLOCKS)
        room = blocks.list_capacity(self.engine.effective_pdu)
        part, rest = listing[1][:room], listing[1][room:]
        self._listing = (kind, rest) if rest else None
        self.engine.emit(Event.Directory, EventResult.NoError, subcode, kind)
        return self._reply(
            pdu,
            req,
            UserdataData(0xFF, 0x09, blocks.encode_list_of_type(part)),
            more=bool(rest),
            data_unit_ref=blocks.LIST_DATA_UNIT_REF,
        )

    # -- clock --------------------------------------------------------------

    def _clock(self, pdu: S7Pdu, req: UserdataParams) -> S7Pdu:
        state = self.engine.state
        if req.subfunction == _CLOCK_GET:
            now = state.now()
            record = encode_legacy_clock(now) if self.legacy_clock else encode_clock(now)
            self.engine.emit(Event.Clock, EventResult.NoError, EVENT_SUBCODE_GET_CLOCK)
            return self._reply(pdu, req, UserdataData(0xFF, 0x09, record))
        data = UserdataData.decode(pdu.data)
        try:
            moment = decode_clock(data.payload)
        except PduError:
            self.engine.emit(Event.Clock, EventResult.ErrOutOfRange, EVENT_SUBCODE_SET_CLOCK)
            return self._reply(pdu, req, UserdataData.null_ack(), error=HeaderError.INVALID_VALUE)
        self.legacy_clock = len(data.payload) == LEGACY_CLOCK_SIZE
        state.set_time(moment)
        self.engine.emit(Event.Clock, EventResult.NoError, EVENT_SUBCODE_SET_CLOCK)
        return self._reply(pdu, req, UserdataData.null_ack())
