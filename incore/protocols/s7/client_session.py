"""What every S7 client operation stands on: PDU references, the job and userdata
exchanges with their reply checks, and the PDU size negotiated by Setup Communication.

`S7ClientProtocol` (`client.py`) is this plus the data operations (`client_data.py`) and
the userdata ones (`client_userdata.py`).
"""

from __future__ import annotations

from ..contract import Reply, sequence_verdict
from ..errors import ProtocolError, S7Error
from .constants import PROTOCOL_ID, ClientError, Rosctr, UserdataMethod, cpu_error
from .operation import Operation, Steps, fail
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

__all__ = ["ClientSession", "STALE_WINDOW", "match_reply"]

#: How many requests back a late answer may be dropped as stale: a window, not the whole ring
#: of references, so a corrupt reference reads as the link being out of step.
STALE_WINDOW = 64
#: The ROSCTRs whose header has the error word (12 bytes, not 10).
_ACKS = frozenset((Rosctr.ACK, Rosctr.ACK_DATA))


def match_reply(request: bytes, reply: bytes) -> Reply:
    """The contract's `ReplyMatch` for S7: by PDU reference (1..65535, wrapping). A reply
    that is not one whole S7 PDU (its header's lengths disagree with its size, as in Snap7 C
    server's refusal of block info for a missing block) answers nothing."""
    size = len(reply)
    if size < 10 or reply[0] != PROTOCOL_ID:
        return Reply.FOREIGN
    header = 12 if reply[1] in _ACKS else 10
    if header + (reply[6] << 8 | reply[7]) + (reply[8] << 8 | reply[9]) != size:
        return Reply.FOREIGN  # not one whole PDU: a corrupt frame, whatever its reference says
    if reply[4:6] == request[4:6]:  # the answer, as nearly always
        return Reply.MINE
    got, expected = int.from_bytes(reply[4:6], "big"), int.from_bytes(request[4:6], "big")
    return sequence_verdict(got, expected, 0xFFFF, STALE_WINDOW)


class ClientSession:
    """Request builder and reply checks shared by every operation of one S7 connection."""

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

    def _userdata_parts(
        self, group: int, sub: int, request: UserdataData
    ) -> Steps[tuple[UserdataParams, list[bytes]]]:
        """A userdata request and its follow-ups while the answer says more data units
        follow: the first reply's parameters and every part's payload, in order."""
        rp, rd = yield from self._userdata(group, sub, request)
        first = rp
        parts = [rd.payload]
        for _ in range(0xFFFF):
            if not rp.last_data_unit:
                break
            rp, rd = yield from self._userdata(
                group, sub, UserdataData.null_ack(), sequence=rp.sequence, follow_up=True
            )
            parts.append(rd.payload)
        return first, parts
