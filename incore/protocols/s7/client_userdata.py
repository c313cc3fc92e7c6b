"""The S7 client's userdata and control operations: SZL lists, the CPU clock, run/stop.

Each is an `Operation` on `ClientSession`'s userdata or job exchange; multi-fragment SZL
answers are followed up inside the operation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from . import szl as szl_mod
from .client_session import ClientSession
from .clock import decode_clock, encode_clock
from .constants import ClientError, CpuStatus, Function, Rosctr, UserdataGroup
from .operation import Operation, Steps, fail
from .pdu import UserdataData

__all__ = ["UserdataOperations"]

T = TypeVar("T")

_STOP = bytes((Function.PLC_STOP, 0, 0, 0, 0, 0, 9)) + b"P_PROGRAM"
_HOT_START = bytes((Function.PI_SERVICE, 0, 0, 0, 0, 0, 0, 0xFD, 0, 0, 9)) + b"P_PROGRAM"
_COLD_START = (
    bytes((Function.PI_SERVICE, 0, 0, 0, 0, 0, 0, 0xFD, 0, 2)) + b"C " + bytes((9,)) + b"P_PROGRAM"
)


class UserdataOperations(ClientSession):
    """System status lists, the clock and the CPU's run state."""

    def read_szl(self, szl_id: int, index: int = 0) -> Operation[szl_mod.SzlList]:
        """Read a whole system status list, following up on fragmented answers."""
        return Operation(self._read_szl(szl_id, index))

    def _read_szl(self, szl_id: int, index: int) -> Steps[szl_mod.SzlList]:
        request = UserdataData(0xFF, 0x09, szl_id.to_bytes(2, "big") + index.to_bytes(2, "big"))
        _, parts = yield from self._userdata_parts(UserdataGroup.CPU_FUNCTIONS, 1, request)
        first = szl_mod.parse_szl(parts[0])  # the SZL header comes with the first part only
        return szl_mod.SzlList(first.szl_id, first.index, first.data + b"".join(parts[1:]))

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
