"""Server side of Userdata PDUs: SZL reads (with fragmentation), clock, security.

Split from `.server` to keep each module small.  The handler needs the engine's
state, PDU size and event sink, which `UserdataHost` names, so this module does not
import the engine's (the engine imports this one).
"""

from __future__ import annotations

from typing import Protocol

from ..errors import PduError
from . import szl
from .clock import LEGACY_CLOCK_SIZE, decode_clock, encode_clock, encode_legacy_clock
from .constants import (
    EVENT_SUBCODE_GET_CLOCK,
    EVENT_SUBCODE_SET_CLOCK,
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


class UserdataHost(Protocol):
    """What the handler uses of its server engine (`S7ServerProtocol`)."""

    state: PlcState
    pdu_size: int

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

    def handle(self, pdu: S7Pdu) -> S7Pdu:
        params = UserdataParams.decode(pdu.params)
        if params.group == UserdataGroup.CPU_FUNCTIONS and params.subfunction == _SZL_READ:
            return self._szl(pdu, params)
        if params.group == UserdataGroup.TIME and params.subfunction in (_CLOCK_GET, _CLOCK_SET):
            return self._clock(pdu, params)
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
    ) -> S7Pdu:
        params = UserdataParams(
            UserdataMethod.RESPONSE,
            USERDATA_RESPONSE_TYPE,
            req.group,
            req.subfunction,
            req.sequence if sequence is None else sequence,
            sequence or 0,
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
