"""What a station answers, on the worker that received the ASDU (iec104.md section 6).

Interrogation, counter interrogation, read and test are answered here from the points'
current information objects (`PointEntry.info`), without a trip through the loop.
Commands and clock synchronisation need the application's word (handlers that may refuse),
so they go to the loop (`core.on_command`, `core.on_clock_sync`), which replies through the
session's buffer. Select-before-operate is checked here: a selection belongs to one
connection, for `selectTimeout`, for one value.

Every refusal is one frame with the cause the standard gives (44 unknown type, 45 unknown
cause, 46 unknown common address, 47 unknown address, or a negative actcon), and reaches
the server's `unexpectedMessage` signal. An ASDU that cannot be read at all (a wrong
length for its type) raises `AsduError`: the session closes that connection.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ...protocols.iec104 import (
    Asdu,
    AsduError,
    Cause,
    UnknownTypeError,
    decode_asdu,
    encode_asdu,
    mirror,
    mirror_bytes,
    negative_mirror,
    pack_objects,
    qoi_group,
)
from .point_types import COMMANDS, UNTIMED, Iec104Message
from .server_core import Selection

__all__ = ["handle_asdu", "message_of", "Unexpected"]

BROADCAST = 0xFFFF
ACT, DEACT = Cause.ACTIVATION, Cause.DEACTIVATION
_COUNTERS = (15, 37)
_SELECT_AND_EXECUTE = 1


class Unexpected:
    """Why a message was unexpected (the `cause` of `unexpectedMessage`; c104's Umc)."""

    UnknownTypeId = "UnknownTypeId"
    UnknownCause = "UnknownCause"
    UnknownCommonAddress = "UnknownCommonAddress"
    UnknownIoa = "UnknownIoa"
    InvalidTypeId = "InvalidTypeId"
    MismatchedTypeId = "MismatchedTypeId"
    UnimplementedGroup = "UnimplementedGroup"
    NotSelected = "NotSelected"


def message_of(asdu: Asdu | None, payload: bytes, peer: str) -> Iec104Message:
    """A message for handlers from a decoded ASDU (or only the raw header)."""
    if asdu is None:
        return Iec104Message(
            typeId=payload[0],
            cause=payload[2] & 0x3F,
            originatorAddress=payload[3],
            commonAddress=int.from_bytes(payload[4:6], "little"),
            ioa=int.from_bytes(payload[6:9], "little") if len(payload) >= 9 else 0,
            isTest=bool(payload[2] & 0x80),
            isNegative=bool(payload[2] & 0x40),
            isSelect=False,
            peer=peer,
            raw=bytes(payload),
        )
    obj = asdu.objects[0]
    time = getattr(obj, "time", None)
    try:
        when = time.to_datetime() if time is not None else None
    except AsduError:
        when = None
    return Iec104Message(
        typeId=asdu.type_id,
        cause=asdu.cause,
        commonAddress=asdu.common_address,
        originatorAddress=asdu.originator,
        ioa=obj.ioa,
        value=getattr(obj, "value", None),
        isSelect=bool(getattr(obj, "select", False)),
        qualifier=getattr(obj, "qualifier", 0),
        time=when,
        isTest=asdu.test,
        isNegative=asdu.negative,
        peer=peer,
        raw=bytes(payload),
        info=obj,
    )


def refuse(session: Any, payload: bytes, asdu: Asdu | None, cause: int, why: str) -> None:
    """One negative frame with `cause`, and the server's unexpectedMessage."""
    session.reply(negative_mirror(payload, cause))
    if session.core.unexpected:
        session.core.inbox.event(("unexpected", message_of(asdu, payload, session.peer), why))


def handle_asdu(session: Any, payload: bytes, now: float) -> None:
    """Answer one received ASDU (see the module docstring)."""
    try:
        asdu = decode_asdu(payload)
    except UnknownTypeError:
        refuse(session, payload, None, Cause.UNKNOWN_TYPE, Unexpected.UnknownTypeId)
        return
    tid = asdu.type_id
    handler = _HANDLERS.get(tid)
    if handler is None and tid not in COMMANDS:  # monitoring types, 101-only types
        refuse(session, payload, asdu, Cause.UNKNOWN_TYPE, Unexpected.InvalidTypeId)
        return
    stations = session.core.stations
    ca = asdu.common_address
    if ca == BROADCAST and tid in (100, 101, 103):
        targets = sorted(stations)
    elif ca in stations:
        targets = [ca]
    else:
        refuse(
            session, payload, asdu, Cause.UNKNOWN_COMMON_ADDRESS, Unexpected.UnknownCommonAddress
        )
        return
    (handler or _command)(session, payload, asdu, targets, now)


def _station_command(session: Any, payload: bytes, asdu: Asdu, causes: tuple) -> bool:
    """The checks of a station command (IOA 0): True if it may be served."""
    if asdu.cause not in causes:
        refuse(session, payload, asdu, Cause.UNKNOWN_CAUSE, Unexpected.UnknownCause)
        return False
    if asdu.objects[0].ioa != 0:
        refuse(session, payload, asdu, Cause.UNKNOWN_IOA, Unexpected.UnknownIoa)
        return False
    return True


def _interrogation(session: Any, payload: bytes, asdu: Asdu, targets: list, now: float) -> None:
    if not _station_command(session, payload, asdu, (ACT, DEACT)):
        return
    group = qoi_group(asdu.objects[0].qoi)
    if asdu.cause == DEACT or group is None:
        answer = Cause.DEACTIVATION_CON if asdu.cause == DEACT else Cause.ACTIVATION_CON
        session.reply(encode_asdu(mirror(asdu, answer, negative=True)))
        if group is None and session.core.unexpected:
            message = message_of(asdu, payload, session.peer)
            session.core.inbox.event(("unexpected", message, Unexpected.UnimplementedGroup))
        return
    stations = session.core.stations
    for ca in targets:
        head = asdu._replace(common_address=ca)
        session.reply(encode_asdu(mirror(head, Cause.ACTIVATION_CON)), urgent=False)
        by_type: dict[int, list] = defaultdict(list)
        for entry in stations[ca].values():
            tid = entry.type_id
            if tid in COMMANDS or tid in _COUNTERS or entry.info is None:
                continue
            if group == 0 or group in entry.groups:
                by_type[tid].append(entry.info)  # its own type, as c104's server does
        for tid in sorted(by_type):
            infos = sorted(by_type[tid], key=lambda o: o.ioa)
            for part in pack_objects(tid, Cause.INTERROGATED_BY_STATION + group, ca, infos):
                session.reply(encode_asdu(part), urgent=False)
        session.reply(encode_asdu(mirror(head, Cause.ACTIVATION_TERMINATION)), urgent=False)


def _counter_interrogation(
    session: Any, payload: bytes, asdu: Asdu, targets: list, now: float
) -> None:
    if not _station_command(session, payload, asdu, (ACT,)):
        return
    request = asdu.objects[0]
    rqt, freeze = request.request, request.freeze
    if not 1 <= rqt <= 5:
        session.reply(encode_asdu(mirror(asdu, Cause.ACTIVATION_CON, negative=True)))
        return
    stations = session.core.stations
    for ca in targets:
        head = asdu._replace(common_address=ca)
        session.reply(encode_asdu(mirror(head, Cause.ACTIVATION_CON)), urgent=False)
        if freeze == 0:  # read; freezing and resetting leave nothing to send now
            by_type: dict[int, list] = defaultdict(list)
            for entry in stations[ca].values():
                if entry.type_id in _COUNTERS and entry.info is not None:
                    if rqt == 5 or rqt in entry.groups:
                        by_type[entry.type_id].append(entry.info)
            cause = Cause.REQUESTED_BY_GENERAL_COUNTER + (0 if rqt == 5 else rqt)
            for tid in sorted(by_type):
                infos = sorted(by_type[tid], key=lambda o: o.ioa)
                for part in pack_objects(tid, cause, ca, infos):
                    session.reply(encode_asdu(part), urgent=False)
        session.reply(encode_asdu(mirror(head, Cause.ACTIVATION_TERMINATION)), urgent=False)


def _read(session: Any, payload: bytes, asdu: Asdu, targets: list, now: float) -> None:
    if asdu.cause != Cause.REQUEST:
        refuse(session, payload, asdu, Cause.UNKNOWN_CAUSE, Unexpected.UnknownCause)
        return
    ca = targets[0]
    entry = session.core.stations[ca].get(asdu.objects[0].ioa)
    if entry is None or entry.type_id in COMMANDS or entry.info is None:
        refuse(session, payload, asdu, Cause.UNKNOWN_IOA, Unexpected.UnknownIoa)
        return
    answer = Asdu(entry.type_id, Cause.REQUEST, ca, (entry.info,), asdu.originator)
    session.reply(encode_asdu(answer), urgent=False)


def _clock_sync(session: Any, payload: bytes, asdu: Asdu, targets: list, now: float) -> None:
    if _station_command(session, payload, asdu, (ACT,)):
        message = message_of(asdu, payload, session.peer)
        session.core.post(session.core.on_clock_sync, session, asdu, targets, message)


def _test(session: Any, payload: bytes, asdu: Asdu, targets: list, now: float) -> None:
    if _station_command(session, payload, asdu, (ACT,)):
        session.reply(encode_asdu(mirror(asdu, Cause.ACTIVATION_CON)))


def _reset_process(session: Any, payload: bytes, asdu: Asdu, targets: list, now: float) -> None:
    """C_RP_NA_1: a station object has no process to reset; refused, not ignored."""
    if _station_command(session, payload, asdu, (ACT,)):
        session.reply(encode_asdu(mirror(asdu, Cause.ACTIVATION_CON, negative=True)))


def _command(session: Any, payload: bytes, asdu: Asdu, targets: list, now: float) -> None:
    core = session.core
    tid, ca = asdu.type_id, targets[0]
    if asdu.cause not in (ACT, DEACT):
        refuse(session, payload, asdu, Cause.UNKNOWN_CAUSE, Unexpected.UnknownCause)
        return
    obj = asdu.objects[0]
    entry = core.stations[ca].get(obj.ioa)
    if entry is None:
        refuse(session, payload, asdu, Cause.UNKNOWN_IOA, Unexpected.UnknownIoa)
        return
    if UNTIMED.get(entry.type_id, entry.type_id) != UNTIMED.get(tid, tid):
        refuse(session, payload, asdu, Cause.UNKNOWN_TYPE, Unexpected.MismatchedTypeId)
        return
    key = (ca, obj.ioa)
    select = bool(getattr(obj, "select", False))
    if asdu.cause == DEACT:  # cancel a selection
        with core.lock:
            selection = core.selections.get(key)
            mine = selection is not None and selection.session is session
            if mine:
                del core.selections[key]
        session.reply(encode_asdu(mirror(asdu, Cause.DEACTIVATION_CON, negative=not mine)))
        return
    if select:
        with core.lock:
            held = core.selections.get(key)
            if held is not None and held.session is not session and held.until > now:
                taken = True
            else:
                taken = False
                until = now + core.select_timeout
                core.selections[key] = Selection(session, tid, obj.value, until)
        if taken:
            session.reply(encode_asdu(mirror(asdu, Cause.ACTIVATION_CON, negative=True)))
            return
    elif entry.command_mode == _SELECT_AND_EXECUTE:
        with core.lock:
            held = core.selections.pop(key, None)
        if (
            held is None
            or held.session is not session
            or held.until < now
            or held.value != obj.value
            or UNTIMED.get(held.type_id, held.type_id) != UNTIMED.get(tid, tid)
        ):
            session.reply(encode_asdu(mirror(asdu, Cause.ACTIVATION_CON, negative=True)))
            if core.unexpected:
                message = message_of(asdu, payload, session.peer)
                core.inbox.event(("unexpected", message, Unexpected.NotSelected))
            return
    message = message_of(asdu, payload, session.peer)
    if core.decided_on_loop(entry):
        session.post_after_pump(core.on_command, session, asdu, entry, message)
        return
    # Nothing on the loop can refuse it: confirmed now (a select has nothing to execute), and
    # terminated in the same send, since executing it is storing a value of the point's own
    # type, which the loop does next; with return information to send (relatedIoa) the loop
    # sends that and the termination once the value is stored.
    session.reply(mirror_bytes(payload, Cause.ACTIVATION_CON), pumped=True)
    if not select:
        session.post_after_pump(core.on_confirmed, session, asdu, entry, message)


_HANDLERS = {
    100: _interrogation,
    101: _counter_interrogation,
    102: _read,
    103: _clock_sync,
    105: _reset_process,
    107: _test,
}
