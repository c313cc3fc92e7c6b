"""Hypothesis against a live IEC104Server: a second client sends random APDUs (valid ASDUs
aimed at the station's own procedures and addresses, handled before the junk that follows:
raw bytes, frames with a valid start and random bodies, well-numbered I-frames of random
bytes, S-frames acknowledging anything) while a good client keeps getting its spontaneous
values and interrogation answers. Whatever the attacker sends, only its
own connection is answered or closed, no handler raises (the transport would log it with
a traceback), and the server stays Running without an error."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_iec104_server_support import (  # noqa: F401  (fixtures)
    POINTS,
    WAIT,
    RawMaster,
    _close_masters,
    connect,
    loop,
    make_server,
    point,
    wait,
)

from incore.objects.iec104 import IEC104Server
from incore.protocols.iec104 import (
    CODECS,
    Asdu,
    Cause,
    Interrogation,
    TypeId,
    UFrame,
    UFunction,
    encode_asdu,
    i_frame,
    s_frame,
    u_frame,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "protocols"))
from test_protocols_iec104_fuzz import element  # noqa: E402

GI = Asdu(TypeId.C_IC_NA_1, Cause.ACTIVATION, 1, (Interrogation(0, 20),))
KNOWN_IOAS = [ioa for ioa, *_ in POINTS]


#: The type ids a station acts on (commands and system commands), drawn more often.
HANDLED = [45, 46, 47, 48, 49, 50, 51, 58, 59, 60, 61, 62, 63, 64, 100, 101, 102, 103, 105, 107]


@st.composite
def aimed_asdu(draw) -> bytes:
    """A valid ASDU, usually one the station acts on, for station 1 and its points, with a
    cause it expects (else it is mostly refused unread)."""
    type_id = draw(st.sampled_from(HANDLED * 3 + sorted(CODECS)))
    objects = draw(st.lists(element(type_id), min_size=1, max_size=3))
    if draw(st.booleans()):
        ioa = draw(st.sampled_from([0, *KNOWN_IOAS]))
        objects = [o._replace(ioa=ioa + n) for n, o in enumerate(objects)]
    asdu = Asdu(
        type_id,
        draw(st.sampled_from([5, 6, 6, 6, 8, 10, 44])),
        draw(st.sampled_from([1, 1, 1, 1, 1, 0xFFFF, 9])),
        tuple(objects),
        draw(st.integers(0, 255)),
        draw(st.booleans()),
        draw(st.booleans()),
    )
    return encode_asdu(asdu)


#: A step of junk: ("raw", bytes), ("frame", body) with a valid start and length,
#: ("asdu", payload) of random bytes in a well-numbered I-frame, or ("s", n) an S-frame.
junk = st.one_of(
    st.tuples(st.just("raw"), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("frame"), st.binary(min_size=4, max_size=60)),
    st.tuples(st.just("asdu"), st.binary(min_size=1, max_size=60)),
    st.tuples(st.just("s"), st.integers(0, 0x7FFF)),
)


def _attack(port: int, start: bool, aimed: list[bytes], steps: list) -> None:
    """Valid ASDUs first, then a TESTFR whose answer says the station handled them all
    (frames are handled in order, and junk in the same segment would end the connection
    before they are), then junk."""
    bad = RawMaster(port)
    try:
        if start:
            bad.send_raw(u_frame(UFunction.STARTDT_ACT))
        for payload in aimed:
            bad.send(payload)
        bad.send_raw(u_frame(UFunction.TESTFR_ACT))
        deadline = time.monotonic() + WAIT
        while UFrame(UFunction.TESTFR_CON) not in bad.frames and time.monotonic() < deadline:
            if bad.closed.wait(0.002):  # closed: the station's answer to what it got
                break
        vs = bad.vs
        for kind, data in steps:
            if kind == "raw":
                frame = data
            elif kind == "frame":
                frame = b"\x68" + bytes([len(data)]) + data
            elif kind == "asdu":
                frame = i_frame(vs, bad.vr, data)
                vs = (vs + 1) % 32768
            else:
                frame = s_frame(data)
            bad.send_raw(frame)
    except OSError:
        pass  # the server closed this connection: that is its answer to bad input
    finally:
        bad.close()


def test_random_apdus_never_disturb_another_client(loop, caplog):
    caplog.set_level(logging.WARNING)
    server = make_server(selectTimeout=50)
    good = connect(loop, server)
    source = point(server, 202)
    rounds = [0]

    @settings(
        max_examples=80,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        start=st.sampled_from([True, True, True, False]),
        aimed=st.lists(aimed_asdu(), min_size=1, max_size=6),
        steps=st.lists(junk, max_size=4),
    )
    def attack(start: bool, aimed: list[bytes], steps: list) -> None:
        _attack(server.port, start, aimed, steps)
        wait(loop, lambda: server.openConnectionCount == 1)
        rounds[0] += 1
        value = 1000.0 + rounds[0]
        source.data = value
        wait(loop, lambda: any(o.value == value for a in good.find(13, 3) for o in a.objects))

    attack()
    good.send(GI)
    wait(loop, lambda: good.find(100, Cause.ACTIVATION_TERMINATION))
    assert not good.closed.is_set() and rounds[0] >= 80
    assert server.status == IEC104Server.Running and server.error == IEC104Server.NoError
    raised = [r for r in caplog.records if r.exc_info and r.name.startswith("incore")]
    assert raised == [], [r.getMessage() for r in raised]
