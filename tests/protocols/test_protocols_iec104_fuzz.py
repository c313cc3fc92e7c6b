"""Hypothesis over the IEC 104 codec: random bytes raise only `ProtocolError`s, any
chunking gives the same events, every type round-trips, and the link engine keeps k and
acknowledges within w or t2 whatever the traffic."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incore.protocols.errors import ProtocolError
from incore.protocols.iec104 import (
    CODECS,
    ApciDecoder,
    Asdu,
    AsduReceived,
    Cp24Time,
    Cp56Time,
    Iec104Link,
    LinkParameters,
    Role,
    SFrame,
    UFunction,
    decode_asdu,
    encode_asdu,
    i_frame,
    mirror,
    mirror_bytes,
    s_frame,
    u_frame,
)
from incore.protocols.iec104 import elements as el

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ioa = st.integers(0, 0xFFFFFF)
u8 = st.integers(0, 255)
cp56 = st.builds(
    Cp56Time,
    st.integers(0, 59999),
    st.integers(0, 59),
    st.integers(0, 23),
    st.integers(1, 31),
    st.integers(1, 12),
    st.integers(0, 99),
    st.integers(0, 7),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
cp24 = st.builds(Cp24Time, st.integers(0, 59999), st.integers(0, 59), st.booleans(), st.booleans())
siq = st.sampled_from([0, 0x10, 0x20, 0x40, 0x80, 0xF0])
qds = st.sampled_from([0, 1, 0x10, 0x20, 0x40, 0x80, 0xF1])
f32 = st.floats(width=32, allow_nan=False)
nva = st.integers(-32768, 32767).map(lambda raw: raw / 32768.0)
i16 = st.integers(-32768, 32767)
u32 = st.integers(0, 2**32 - 1)


def _monitor(cls, value, quality, time):
    return st.builds(cls, ioa, value, quality, time)


def element(type_id: int) -> st.SearchStrategy:
    """Valid information objects of `type_id`."""
    kind = CODECS[type_id].time_kind
    time = {0: st.none(), 24: cp24, 56: cp56}[kind]
    cls = CODECS[type_id].cls
    if cls is el.SinglePoint:
        return _monitor(cls, st.booleans(), siq, time)
    if cls is el.DoublePoint:
        return _monitor(cls, st.integers(0, 3), siq, time)
    if cls is el.StepPosition:
        return st.builds(cls, ioa, st.integers(-64, 63), st.booleans(), qds, time)
    if cls is el.Bitstring:
        return _monitor(cls, u32, qds, time)
    if cls is el.NormalizedValue:
        return _monitor(cls, nva, st.just(0) if type_id == 21 else qds, time)
    if cls is el.ScaledValue:
        return _monitor(cls, i16, qds, time)
    if cls is el.FloatValue:
        return _monitor(cls, f32, qds, time)
    if cls is el.IntegratedTotal:
        q = st.sampled_from([0, 0x20, 0x40, 0x80, 0xE0])
        return st.builds(cls, ioa, st.integers(-(2**31), 2**31 - 1), st.integers(0, 31), q, time)
    if cls is el.PackedSinglePoints:
        return st.builds(cls, ioa, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), qds, st.none())
    command_value = {
        el.SingleCommand: st.booleans(),
        el.DoubleCommand: st.integers(0, 3),
        el.StepCommand: st.integers(0, 3),
    }
    if cls in command_value:
        return st.builds(cls, ioa, command_value[cls], st.booleans(), st.integers(0, 31), time)
    setpoint_value = {el.SetpointNormalized: nva, el.SetpointScaled: i16, el.SetpointFloat: f32}
    if cls in setpoint_value:
        return st.builds(cls, ioa, setpoint_value[cls], st.booleans(), st.integers(0, 127), time)
    others = {
        el.BitstringCommand: st.builds(cls, ioa, u32, time),
        el.EndOfInitialization: st.builds(cls, ioa, st.integers(0, 127), st.booleans()),
        el.Interrogation: st.builds(cls, ioa, u8),
        el.CounterInterrogation: st.builds(cls, ioa, st.integers(0, 63), st.integers(0, 3)),
        el.ReadCommand: st.builds(cls, ioa),
        el.ClockSync: st.builds(cls, ioa, cp56),
        el.ResetProcess: st.builds(cls, ioa, u8),
        el.DelayAcquisition: st.builds(cls, ioa, st.integers(0, 0xFFFF)),
        el.TestCommand: st.builds(cls, ioa, st.integers(0, 0xFFFF), cp56),
    }
    return others[cls]


@st.composite
def asdus(draw) -> Asdu:
    type_id = draw(st.sampled_from(sorted(CODECS)))
    room = (249 - 6 - 3) // max(CODECS[type_id].size, 1)
    objects = draw(st.lists(element(type_id), min_size=1, max_size=min(8, room)))
    sequence = draw(st.booleans()) and objects[0].ioa + len(objects) <= 0xFFFFFF
    if sequence:
        objects = [o._replace(ioa=objects[0].ioa + i) for i, o in enumerate(objects)]
    return Asdu(
        type_id,
        draw(st.integers(0, 63)),
        draw(st.integers(0, 0xFFFF)),
        tuple(objects),
        draw(u8),
        draw(st.booleans()),
        draw(st.booleans()),
        sequence,
    )


@settings(max_examples=100, deadline=None)
@given(asdus())
def test_every_asdu_round_trips(asdu):
    assert decode_asdu(encode_asdu(asdu)) == asdu


@FAST
@given(st.binary(max_size=300))
def test_random_asdu_bytes_raise_only_protocol_errors(data):
    try:
        asdu = decode_asdu(data)
    except ProtocolError:
        return
    assert encode_asdu(asdu) and len(asdu.objects) == data[1] & 0x7F
    for obj in asdu.objects:
        if isinstance(getattr(obj, "value", None), float) and not math.isnan(obj.value):
            assert math.isfinite(obj.value) or math.isinf(obj.value)


@FAST
@given(st.binary(max_size=300), st.sampled_from(list(Role)))
def test_random_stream_bytes_raise_only_protocol_errors(data, role):
    link = Iec104Link(role, now=0.0)
    try:
        link.receive_data(data, 1.0)
        link.handle_timer(100.0)
    except ProtocolError:
        pass


@FAST
@given(st.lists(st.binary(min_size=1, max_size=20), max_size=20))
def test_random_frames_with_a_valid_start_raise_only_protocol_errors(bodies):
    stream = b"".join(bytes((0x68, len(b) + 4 if len(b) < 250 else 4)) + b for b in bodies)
    try:
        ApciDecoder().feed(stream)
    except ProtocolError:
        pass


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


@FAST
@given(st.lists(asdus(), min_size=1, max_size=6), st.lists(st.integers(0, 10_000), max_size=12))
def test_any_chunking_gives_the_same_events(sent, cuts):
    stream = u_frame(UFunction.STARTDT_ACT) + u_frame(UFunction.TESTFR_ACT)
    stream += b"".join(i_frame(n, 0, encode_asdu(a)) for n, a in enumerate(sent))
    stream += s_frame(0)

    def run(chunks: list[bytes]) -> tuple[list, bytes]:
        link = Iec104Link(Role.CONTROLLED, LinkParameters(w=3), now=0.0)
        events = [e for chunk in chunks for e in link.receive_data(chunk, 1.0)]
        return events, link.data_to_send()

    whole = run([stream])
    assert run(_cut(stream, cuts)) == whole
    assert run([bytes([b]) for b in stream])[0] == whole[0]
    assert [decode_asdu(e.payload) for e in whole[0][1:]] == sent


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 8),
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 40), st.floats(0.0, 4.0)),
        min_size=1,
        max_size=30,
    ),
)
def test_the_link_keeps_k_and_acknowledges_within_w_or_t2(k, w, steps):
    """A model of the client's duty: every received I-frame is acknowledged (S-frame N(R)
    past it) before w are pending and no later than t2 after it arrived."""
    params = LinkParameters(k=k, w=w)
    now = 0.0
    server = Iec104Link(Role.CONTROLLED, params, now=now)
    client = Iec104Link(Role.CONTROLLING, params, now=now)
    client.start(now)
    server.receive_data(client.data_to_send(), now)
    client.receive_data(server.data_to_send(), now)
    pending: list[tuple[int, float]] = []  # (N(S), arrival) received, not yet acknowledged
    in_flight = b""
    received = 0
    asdu = bytes.fromhex("0D0103000100E903000000BC4100")

    def client_sends() -> None:
        out = client.data_to_send()
        for frame in ApciDecoder().feed(out):
            if isinstance(frame, SFrame):
                pending[:] = [(ns, t) for ns, t in pending if ns >= frame.nr]
        server.receive_data(out, now)

    def check() -> None:
        assert server.outstanding <= k
        assert len(pending) < w
        if pending:
            assert client.next_deadline() <= pending[0][1] + params.t2

    for sends, cut, pause in steps:
        for _ in range(sends):
            server.send_pdu(asdu, now)
        in_flight += server.data_to_send()
        part, in_flight = in_flight[: cut * 7], in_flight[cut * 7 :]
        for event in client.receive_data(part, now):
            if isinstance(event, AsduReceived):
                pending.append((received, now))
                received += 1
        client_sends()
        check()
        now += pause
        if client.next_deadline() <= now:
            client.handle_timer(now)
            client_sends()
        if server.next_deadline() <= now:  # t3 (t1 cannot run out: t2 < t1)
            server.handle_timer(now)
            in_flight += server.data_to_send()
        check()


@given(asdus(), st.sampled_from([7, 9, 10, 44, 47]), st.booleans())
def test_mirror_bytes_is_mirror_without_decoding(asdu, cause, negative):
    """The station answers commands with `mirror_bytes` on the bytes it received: exactly
    what decoding, `mirror` and encoding again would send."""
    raw = encode_asdu(asdu)
    assert mirror_bytes(raw, cause, negative) == encode_asdu(mirror(asdu, cause, negative))
