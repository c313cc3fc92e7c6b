"""Payload formats: what a publication encodes, a subscription decodes to the same value,
quality and timestamp; any bytes a peer sends either decode or raise PayloadError."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from incore.objects.foundation.data import Quality
from incore.objects.mqtt.formats import PayloadError, PayloadFormat, decode, encode

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@given(json_values, st.sampled_from(list(Quality)), st.integers(0, 2**53))
def test_json_round_trips_value_quality_and_timestamp(value, quality, stamp):
    decoded = decode(PayloadFormat.Json, encode(PayloadFormat.Json, value, quality, stamp))
    assert decoded == (value, quality, stamp)


@given(st.binary(max_size=64), st.sampled_from(list(PayloadFormat)))
def test_any_payload_decodes_or_raises_payload_error(payload, fmt):
    try:
        decode(fmt, payload)
    except PayloadError:
        pass


@given(st.text())
def test_text_and_raw_carry_text_unchanged(text):
    assert (
        decode(PayloadFormat.Text, encode(PayloadFormat.Text, text, Quality.Good, 0)).value == text
    )
    assert decode(PayloadFormat.Raw, encode(PayloadFormat.Raw, text, Quality.Good, 0)).value == (
        text.encode()
    )


def test_text_spells_values_as_other_tools_do_and_json_reads_bare_values():
    assert encode(PayloadFormat.Text, True, Quality.Good, 0) == b"true"
    assert encode(PayloadFormat.Text, 2.5, Quality.Good, 0) == b"2.5"
    assert encode(PayloadFormat.Text, None, Quality.Good, 0) == b""
    assert decode(PayloadFormat.Json, b"42") == (42, None, None)
    assert decode(PayloadFormat.Json, b'{"value": 1, "quality": 2}') == (1, Quality.Bad, None)
    doc = json.loads(encode(PayloadFormat.Json, b"\x00\x01", Quality.Uncertain, 5))
    assert doc == {"value": "AAE=", "quality": "Uncertain", "timestamp": 5}


def test_what_a_format_cannot_carry_is_a_payload_error():
    for bad in (
        lambda: encode(PayloadFormat.Json, float("nan"), Quality.Good, 0),
        lambda: encode(PayloadFormat.Json, object(), Quality.Good, 0),
        lambda: encode(PayloadFormat.Raw, 42, Quality.Good, 0),
        lambda: decode(PayloadFormat.Json, b'{"value": 1, "quality": "Fine"}'),
        lambda: decode(PayloadFormat.Json, b'{"value": 1, "timestamp": "noon"}'),
        lambda: decode(PayloadFormat.Text, b"\xff"),
        lambda: decode(PayloadFormat.Json, b"[" * 100_000),
    ):
        try:
            bad()
        except PayloadError:
            continue
        raise AssertionError("no PayloadError")
