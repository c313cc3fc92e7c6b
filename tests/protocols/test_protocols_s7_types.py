"""S7 data types against python-snap7 3.3.0's `snap7.util`: the same bytes for every type.

Each type is checked both ways: what we encode is what snap7's setter writes into a buffer,
and what we decode from bytes is what snap7's getter reads. Arrays are elements one after
the other (bits packed), as snap7 lays them out when indexing by element size.
"""

from __future__ import annotations

import datetime as dt
import math
import struct

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from snap7 import util

from incore.protocols.errors import ProtocolError
from incore.protocols.s7 import types as T

INT_RANGES = {
    "Byte": (0, 0xFF),
    "USInt": (0, 0xFF),
    "SInt": (-128, 127),
    "Word": (0, 0xFFFF),
    "UInt": (0, 0xFFFF),
    "Int": (-(1 << 15), (1 << 15) - 1),
    "DWord": (0, 0xFFFFFFFF),
    "UDInt": (0, 0xFFFFFFFF),
    "DInt": (-(1 << 31), (1 << 31) - 1),
}
SNAP7 = {  # kind -> (getter, setter)
    "Byte": (util.get_byte, util.set_byte),
    "USInt": (util.get_usint, util.set_usint),
    "SInt": (util.get_sint, util.set_sint),
    "Word": (util.get_word, util.set_word),
    "UInt": (util.get_uint, util.set_uint),
    "Int": (util.get_int, util.set_int),
    "DWord": (util.get_dword, util.set_dword),
    "UDInt": (util.get_udint, util.set_udint),
    "DInt": (util.get_dint, util.set_dint),
    "Real": (util.get_real, util.set_real),
    "LReal": (util.get_lreal, util.set_lreal),
    "Char": (util.get_char, util.set_char),
    "DateAndTime": (util.get_date_time_object, util.set_dt),
    "DTL": (util.get_dtl, util.set_dtl),
}


def snap7_bytes(kind: str, value, size: int) -> bytes:
    buf = bytearray(size)
    SNAP7[kind][1](buf, 0, value)
    return bytes(buf)


def same(a, b) -> bool:
    return a == b or isinstance(a, float) and math.isnan(a) and math.isnan(b)


# -- the scalar kinds --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(INT_RANGES))
@given(data=st.data())
def test_integers_match_snap7(kind, data):
    low, high = INT_RANGES[kind]
    value = data.draw(st.integers(low, high))
    raw = T.encode(kind, value)
    assert raw == snap7_bytes(kind, value, T.element_size(kind))
    assert T.decode(kind, raw) == SNAP7[kind][0](bytearray(raw), 0) == value


@pytest.mark.parametrize("kind", sorted(INT_RANGES))
def test_integers_out_of_range_say_the_range(kind):
    low, high = INT_RANGES[kind]
    for bad in (low - 1, high + 1):
        with pytest.raises(ValueError, match=f"{low}..{high}"):
            T.encode(kind, bad)
    with pytest.raises(TypeError):
        T.encode(kind, True)
    with pytest.raises(TypeError):
        T.encode(kind, 1.5)
    assert T.encode(kind, 7.0) == T.encode(kind, 7)


@given(st.floats(width=32))
def test_real_matches_snap7(value):
    raw = T.encode("Real", value)
    assert raw == snap7_bytes("Real", value, 4)
    assert same(T.decode("Real", raw), util.get_real(bytearray(raw), 0))


@given(st.floats())
def test_lreal_matches_snap7(value):
    raw = T.encode("LReal", value)
    assert raw == snap7_bytes("LReal", value, 8)
    assert same(T.decode("LReal", raw), util.get_lreal(bytearray(raw), 0))
    assert same(T.decode("LReal", raw), value)


@given(st.binary(min_size=8, max_size=8))
def test_lreal_reads_any_bytes_like_snap7(raw):
    assert same(T.decode("LReal", raw), util.get_lreal(bytearray(raw), 0))


@given(st.integers(0, 7), st.integers(0, 255), st.booleans())
def test_bit_matches_snap7(bit, byte, value):
    assert T.decode("Bit", bytes((byte,)), bit=bit) == util.get_bool(bytearray((byte,)), 0, bit)
    buf = bytearray((byte,))
    util.set_bool(buf, 0, bit, value)
    stored = buf[0] >> bit & 1
    assert T.encode("Bit", value) == bytes((stored,))


@given(st.characters(max_codepoint=255))
def test_char_matches_snap7(char):
    raw = T.encode("Char", char)
    assert raw == snap7_bytes("Char", char, 1)
    assert T.decode("Char", raw) == util.get_char(bytearray(raw), 0) == char


def test_char_refuses_what_a_byte_can_not_hold():
    for bad in ("", "ab", "€"):
        with pytest.raises((TypeError, ValueError)):
            T.encode("Char", bad)


# -- STRING ------------------------------------------------------------------------------------
LATIN1 = st.text(st.characters(max_codepoint=255), max_size=T.STRING_MAX)


@given(st.data())
def test_string_matches_snap7(data):
    length = data.draw(st.integers(1, T.STRING_MAX))
    text = data.draw(st.text(st.characters(max_codepoint=255), max_size=length))
    raw = T.encode("String", text, length=length)
    buf = bytearray(length + 2)
    util.set_string(buf, 0, text, length)
    assert raw == bytes(buf)
    assert T.decode("String", raw, length=length) == util.get_string(bytearray(raw), 0) == text


@given(st.integers(0, 255), st.integers(0, 255), st.integers(1, T.STRING_MAX))
def test_a_string_header_is_refused_where_snap7_refuses_it(declared, actual, length):
    raw = bytes((declared, actual)) + b"x" * length
    try:
        expected = util.get_string(bytearray(raw), 0)
    except (TypeError, ValueError):
        expected = None
    if actual > length:  # more than the variable's buffer: snap7 would read past it
        expected = None
    try:
        got = T.decode("String", raw, length=length)
    except T.S7ValueError as exc:
        assert isinstance(exc, ProtocolError) and isinstance(exc, ValueError)
        got = None
    assert got == expected


def test_string_too_long_or_not_latin1():
    with pytest.raises(ValueError, match="do not fit a STRING.4"):
        T.encode("String", "hello", length=4)
    with pytest.raises(ValueError, match="Latin-1"):
        T.encode("String", "€", length=4)
    with pytest.raises(TypeError):
        T.encode("String", 5, length=4)
    assert T.decode("String", bytes(6), length=4) == ""  # a fresh (zeroed) area


# -- TIME --------------------------------------------------------------------------------------
@given(st.integers(-(1 << 31), (1 << 31) - 1))
def test_time_matches_snap7(ms):
    raw = T.encode("Time", ms)
    assert raw == struct.pack(">i", ms)
    text = util.get_time(bytearray(raw), 0)  # snap7 reads TIME as 'days:hours:min:sec.ms'
    try:
        back = util.set_time(bytearray(4), 0, text)
    except ValueError:  # snap7's setter takes only part of the 24-day range
        assume(False)
    assert bytes(back) == raw
    assert T.decode("Time", raw) == ms
    assert T.encode("Time", dt.timedelta(milliseconds=ms)) == raw


def test_time_takes_whole_milliseconds():
    with pytest.raises(ValueError, match="whole milliseconds"):
        T.encode("Time", dt.timedelta(microseconds=1500))
    with pytest.raises(ValueError, match="does not fit a Time"):
        T.encode("Time", 1 << 31)


# -- DATE_AND_TIME and DTL ---------------------------------------------------------------------
DT_MOMENTS = st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2089, 12, 31, 23, 59, 59, 999999))
DTL_MOMENTS = st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2262, 4, 11, 23, 47, 16, 854775))


@given(DT_MOMENTS)
def test_date_and_time_matches_snap7(moment):
    raw = T.encode("DateAndTime", moment)
    assert raw == snap7_bytes("DateAndTime", moment, 8)
    read = T.decode("DateAndTime", raw)
    assert read == util.get_date_time_object(bytearray(raw), 0)
    assert read == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert util.get_dt(bytearray(raw), 0) == read.isoformat(timespec="microseconds")


BCD = st.integers(0, 99).map(lambda n: (n // 10) << 4 | n % 10)


@given(st.lists(BCD, min_size=7, max_size=7), st.integers(0, 9), st.integers(0, 15))
def test_date_and_time_reads_bcd_like_snap7_or_refuses_it(head, ms_last, weekday):
    raw = bytes((*head, ms_last << 4 | weekday))
    try:
        expected = util.get_date_time_object(bytearray(raw), 0)
    except ValueError:  # a month 13, a February 30th, an hour 25...
        expected = None
    try:
        got = T.decode("DateAndTime", raw)
    except T.S7ValueError:
        got = None
    assert got == expected


@given(st.binary(min_size=8, max_size=8))
def test_date_and_time_refuses_what_is_not_bcd(raw):
    assume(any(b >> 4 > 9 or b & 15 > 9 for b in raw[:7]) or raw[7] >> 4 > 9)
    with pytest.raises(T.S7ValueError):
        T.decode("DateAndTime", raw)


@given(DTL_MOMENTS)
def test_dtl_matches_snap7(moment):
    raw = T.encode("DTL", moment)
    assert raw == snap7_bytes("DTL", moment, 12)
    assert T.decode("DTL", raw) == util.get_dtl(bytearray(raw), 0) == moment


@given(st.binary(min_size=12, max_size=12))
def test_dtl_reads_any_bytes_like_snap7_or_refuses_them(raw):
    try:
        got = T.decode("DTL", raw)
    except T.S7ValueError:
        got = None
    try:
        expected = util.get_dtl(bytearray(raw), 0)
    except ValueError:
        expected = None
    if struct.unpack(">I", raw[8:])[0] > 999_999_999:
        assert got is None  # snap7 turns a second's worth of nanoseconds into an error too
    elif expected is not None and expected.year >= 1:
        assert got == expected
    else:
        assert got is None or got.year > 2554


def test_dates_outside_their_range_or_of_the_wrong_type():
    with pytest.raises(ValueError, match="1990..2089"):
        T.encode("DateAndTime", dt.datetime(1989, 12, 31))
    with pytest.raises(ValueError, match="DTL's range"):
        T.encode("DTL", dt.datetime(1969, 12, 31))
    with pytest.raises(TypeError):
        T.encode("DTL", 5)
    assert T.encode("DTL", "2024-02-29T12:00:00") == T.encode("DTL", dt.datetime(2024, 2, 29, 12))
    with pytest.raises(T.S7ValueError):
        T.decode("DateAndTime", bytes.fromhex("2413010000000000"))  # month 13


# -- byte order and arrays -----------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, value", [("UInt", 0x1234), ("UDInt", 0x12345678), ("LReal", 1.5), ("Time", -2)]
)
def test_little_endian_swaps_numbers_only(kind, value):
    big = T.encode(kind, value)
    assert T.encode(kind, value, big_endian=False) == big[::-1]
    assert T.decode(kind, big[::-1], big_endian=False) == value
    moment = dt.datetime(2024, 5, 6, 7, 8, 9)
    assert T.encode("DTL", moment) == T.encode("DTL", moment, big_endian=False)


ARRAY_KINDS = {
    "Int": st.integers(-(1 << 15), (1 << 15) - 1),
    "UDInt": st.integers(0, 0xFFFFFFFF),
    "LReal": st.floats(allow_nan=False),
    "Char": st.characters(max_codepoint=255),
    "DateAndTime": DT_MOMENTS.map(lambda m: m.replace(microsecond=m.microsecond // 1000 * 1000)),
    "DTL": DTL_MOMENTS,
}


@pytest.mark.parametrize("kind", sorted(ARRAY_KINDS))
@given(data=st.data())
def test_arrays_are_snap7_elements_one_after_the_other(kind, data):
    values = data.draw(st.lists(ARRAY_KINDS[kind], min_size=1, max_size=12))
    size = T.element_size(kind)
    buf = bytearray(size * len(values))
    for i, v in enumerate(values):
        SNAP7[kind][1](buf, i * size, v)
    raw = T.encode_array(kind, values, len(values))
    assert raw == bytes(buf)
    assert T.decode_array(kind, raw, len(values)) == values
    assert [SNAP7[kind][0](buf, i * size) for i in range(len(values))] == values


@given(st.data())
def test_string_arrays_match_snap7(data):
    length = data.draw(st.integers(1, 30))
    texts = data.draw(st.lists(st.text(st.characters(max_codepoint=255), max_size=length)))
    assume(texts)
    buf = bytearray((length + 2) * len(texts))
    for i, text in enumerate(texts):
        util.set_string(buf, i * (length + 2), text, length)
    raw = T.encode_array("String", texts, len(texts), length=length)
    assert raw == bytes(buf)
    assert T.decode_array("String", raw, len(texts), length=length) == texts


@given(st.integers(0, 7), st.lists(st.booleans(), min_size=1, max_size=40), st.binary(min_size=6))
def test_bit_arrays_are_packed_from_the_first_bit(bit, values, background):
    size = T.span("Bit", len(values), bit=bit)
    buf = bytearray(background[:size].ljust(size, b"\0"))
    for i, v in enumerate(values):
        util.set_bool(buf, (bit + i) // 8, (bit + i) % 8, v)
    assert T.decode_array("Bit", bytes(buf), len(values), bit=bit) == values
    assert T.encode_array("Bit", values, len(values)) == bytes(values)


def test_arrays_take_exactly_count_values():
    with pytest.raises(ValueError, match="takes 3 values, got 2"):
        T.encode_array("Int", [1, 2], 3)
    with pytest.raises(TypeError):
        T.encode_array("Int", 5, 1)
    assert T.encode_array("Char", "abc", 3) == b"abc"
    with pytest.raises(T.S7ValueError):
        T.decode_array("Int", b"\0\0\0", 2)
