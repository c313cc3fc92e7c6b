"""The S7 server's hot path: a single-item byte read, answered without the general codecs.

Almost every request a polling client sends is "read N bytes of one area" in one TPKT frame
(python-snap7's db_read/read_area, Snap7 C's Cli_ReadArea). Decoding that through the
TPKT, COTP and S7 codecs costs about a hundred Python calls; this module recognises the
exact 31-byte frame and builds the same reply bytes with a few slices. Anything else (other
functions, several items, bit or typed items, timers and counters, errors, a reply that
needs splitting) returns None and goes the general way. tests/objects/s7/
test_s7_server_fastpath.py proves, frame by frame, that both ways give identical bytes and
events; keep the two in step when the engine changes.
"""

from __future__ import annotations

import struct
from datetime import datetime
from typing import Any

from ...protocols.s7.constants import Event
from .server_events import S7ServerEvent

FRAME_SIZE = 31
#: TPKT v3 length 31, COTP DT with EOT, S7 protocol id, Job, redundancy 0.
_HEAD = b"\x03\x00\x00\x1f\x02\xf0\x80\x32\x01\x00\x00"
#: Parameter length 14, data length 0, Read Var, 1 item, S7ANY spec, BYTE transport size.
_MIDDLE = b"\x00\x0e\x00\x00\x04\x01\x12\x0a\x10\x02"
_ITEM = struct.Struct(">HHBBH")  # count, DB number, area, address (high byte, low word)
_REPLY = struct.Struct(">BBH3s4s2s2sH2s2s2sH")
_AREAS = frozenset((0x81, 0x82, 0x83, 0x84))
_DATA_READ = int(Event.DataRead)


def fast_count(engine: Any, session: Any) -> int:
    """The most bytes a one-frame read reply carries, for the negotiated PDU and TPDU sizes."""
    return min(engine.effective_pdu - 18, session.tpdu_size - 21)


def whole_frames(data: bytes) -> bool:
    """True if `data` is a run of complete TPKT frames with no DT fragment awaiting more.

    A connection whose chunks always are keeps its ISO session empty between chunks, which
    is what lets `fast_read` bypass the session.
    """
    pos, end = 0, len(data)
    while pos + 7 <= end:
        length = data[pos + 2] << 8 | data[pos + 3]
        if length < 7 or (data[pos + 5] == 0xF0 and not data[pos + 6] & 0x80):
            return False
        pos += length
    return pos == end


def fast_read(conn: Any, data: bytes) -> bytes | None:
    """The reply frame to a single-item byte read, or None to take the general way.

    `conn` is the S7Connection (its session must be connected and empty, which the caller
    knows; `fast_count` is the most bytes one reply carries). Emits the DataRead event the
    engine would.
    """
    if not data.startswith(_HEAD) or not data.startswith(_MIDDLE, 13):
        return None
    count, db, area, high, low = _ITEM.unpack_from(data, 23)
    address = high << 16 | low
    if area not in _AREAS or address & 7 or not count or count > conn.fast_count:
        return None  # the engine answers with a PDU-size error, or the reply needs splitting
    core = conn.core
    if core.resourceless:
        return None  # a readWrite handler must run exactly once per access
    start = address >> 3
    index = db if area == 0x84 else 0
    try:
        payload = conn.access.read(area, index, start, count)
    except Exception:  # AreaError, or the connection closed while the area was locked:
        return None  # the engine reads again and answers (or fails) exactly as it would
    if len(payload) != count:
        return None
    if core.event_mask & _DATA_READ and core.listening():
        core.inbox.event(
            S7ServerEvent(
                datetime.now(), conn.sender, _DATA_READ, 0, area, index, start & 0xFFFF, count
            )
        )
    return (
        _REPLY.pack(
            3,
            0,
            25 + count,
            b"\x02\xf0\x80",
            b"\x32\x03\x00\x00",
            data[11:13],
            b"\x00\x02",
            4 + count,
            b"\x00\x00",
            b"\x04\x01",
            b"\xff\x04",
            count << 3,
        )
        + payload
    )
