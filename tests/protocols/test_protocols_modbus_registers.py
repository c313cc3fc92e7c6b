"""Register values held to pymodbus 3.16.1's converters, plus the layouts pymodbus lacks.

pymodbus's `ModbusTcpClient.convert_to_registers` / `convert_from_registers` take a
`data_type` and a `word_order` ("big" or "little") but have no byte-order switch: every
register is high byte first. So with `byteOrder` BigEndian our registers must equal
pymodbus's, `registerOrder` MostSignificantRegisterFirst matching "big" and
LeastSignificantRegisterFirst matching "little". For `byteOrder` LittleEndian the check is
that our registers are pymodbus's with the two bytes of every register swapped (and that
decoding such swapped registers gives pymodbus's value), which pins LittleEndian to
"the same layout, each register byte-swapped" and nothing else.
"""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymodbus.client import ModbusTcpClient
from pymodbus.pdu.utils import pack_bitstring, unpack_bitstring

from incore.objects.foundation.datatypes import DataType
from incore.protocols.modbus.registers import (
    ByteOrder,
    RegisterCodec,
    RegisterOrder,
    codec,
    decode,
    default_count,
    encode,
    pack_bits,
    unpack_bits,
)

PM = ModbusTcpClient.DATATYPE
MSRF = RegisterOrder.MostSignificantRegisterFirst
LSRF = RegisterOrder.LeastSignificantRegisterFirst
WORD_ORDER = {MSRF: "big", LSRF: "little"}

#: (our dataType, register count) -> pymodbus's data type, for every numeric layout we have.
NUMERIC = {
    (DataType.SignedSmallInteger, 1): PM.INT16,
    (DataType.UnsignedSmallInteger, 1): PM.UINT16,
    (DataType.SignedInteger, 1): PM.INT16,
    (DataType.UnsignedInteger, 1): PM.UINT16,
    (DataType.SignedInteger, 2): PM.INT32,
    (DataType.UnsignedInteger, 2): PM.UINT32,
    (DataType.SignedBigInteger, 1): PM.INT16,
    (DataType.UnsignedBigInteger, 1): PM.UINT16,
    (DataType.SignedBigInteger, 2): PM.INT32,
    (DataType.UnsignedBigInteger, 2): PM.UINT32,
    (DataType.SignedBigInteger, 4): PM.INT64,
    (DataType.UnsignedBigInteger, 4): PM.UINT64,
    (DataType.Float, 2): PM.FLOAT32,
    (DataType.Float, 4): PM.FLOAT64,
    (DataType.Double, 2): PM.FLOAT32,
    (DataType.Double, 4): PM.FLOAT64,
}
INT_RANGES = {
    "h": (-(1 << 15), (1 << 15) - 1),
    "H": (0, (1 << 16) - 1),
    "i": (-(1 << 31), (1 << 31) - 1),
    "I": (0, (1 << 32) - 1),
    "q": (-(1 << 63), (1 << 63) - 1),
    "Q": (0, (1 << 64) - 1),
}
LAYOUTS = sorted(NUMERIC, key=lambda k: (k[0], k[1]))
registers16 = st.integers(0, 0xFFFF)


def swap(registers):
    """Each register with its two bytes exchanged."""
    return [(r >> 8) | (r & 0xFF) << 8 for r in registers]


def values_for(pm_type):
    code, _ = pm_type.value
    if code in INT_RANGES:
        return st.integers(*INT_RANGES[code])
    if code == "f":
        return st.floats(width=32)
    return st.floats(allow_nan=True)


def same(a, b):
    """Equal values, NaN included (bit patterns for floats, so -0.0 != 0.0)."""
    if isinstance(a, float):
        return struct.pack(">d", a) == struct.pack(">d", b) or (math.isnan(a) and math.isnan(b))
    return a == b and type(a) is type(b)


@st.composite
def numeric_case(draw):
    data_type, count = draw(st.sampled_from(LAYOUTS))
    pm_type = NUMERIC[data_type, count]
    order = draw(st.sampled_from(list(RegisterOrder)))
    return data_type, count, pm_type, order, draw(values_for(pm_type))


@settings(max_examples=400, deadline=None)
@given(numeric_case(), st.sampled_from(list(ByteOrder)))
def test_numbers_to_registers_agree_with_pymodbus(case, byte_order):
    data_type, count, pm_type, order, value = case
    theirs = ModbusTcpClient.convert_to_registers(value, pm_type, WORD_ORDER[order])
    c = codec(data_type, count, byte_order, order)
    ours = list(c.encode(value))
    assert ours == (theirs if byte_order is ByteOrder.BigEndian else swap(theirs))
    wire = struct.pack(f">{count}H", *ours)
    assert c.encode_bytes(value) == wire
    assert same(c.decode(ours), value)
    assert same(c.decode_bytes(b"\x99" + wire, 1), value)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(LAYOUTS),
    st.sampled_from(list(RegisterOrder)),
    st.sampled_from(list(ByteOrder)),
    st.lists(registers16, min_size=4, max_size=4),
)
def test_registers_to_numbers_agree_with_pymodbus(layout, order, byte_order, raw):
    data_type, count = layout
    theirs_regs = raw[:count]
    theirs = ModbusTcpClient.convert_from_registers(theirs_regs, NUMERIC[layout], WORD_ORDER[order])
    ours_regs = theirs_regs if byte_order is ByteOrder.BigEndian else swap(theirs_regs)
    c = codec(data_type, count, byte_order, order)
    assert same(c.decode(ours_regs), theirs)
    assert same(c.decode_bytes(struct.pack(f">{count}H", *ours_regs)), theirs)
    if not (isinstance(theirs, float) and math.isnan(theirs)):
        assert list(c.encode(theirs)) == ours_regs


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20).map(
    lambda s: s.rstrip("\0")
)


@settings(max_examples=300, deadline=None)
@given(
    text, st.integers(0, 3), st.sampled_from(list(RegisterOrder)), st.sampled_from(list(ByteOrder))
)
def test_strings_agree_with_pymodbus(value, spare, order, byte_order):
    """Pymodbus pads a string to whole registers; a larger `count` adds NUL registers."""
    theirs = ModbusTcpClient.convert_to_registers(value, PM.STRING, WORD_ORDER[order])
    count = max(1, len(theirs)) + spare
    c = codec("String", count, byte_order, order)
    ours = list(c.encode(value))
    padded = ours if byte_order is ByteOrder.BigEndian else swap(ours)
    if spare == 0 and theirs:
        assert padded == theirs
    zeros = [0] * (count - len(theirs))
    assert padded == (theirs + zeros if order is MSRF else zeros + theirs)
    back = ModbusTcpClient.convert_from_registers(padded, PM.STRING, WORD_ORDER[order])
    assert back == value
    assert c.decode(ours) == value
    assert c.decode_bytes(c.encode_bytes(value)) == value


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), max_size=300))
def test_coils_agree_with_pymodbus_bit_packing(bits):
    """Pymodbus's BITS data type packs bools into registers, which InCore's registers never
    do (a Boolean coil is one bit of the coil table); its bit packing is what FC 1, 2 and 15
    carry, so that is what coils are held to."""
    packed = pack_bits(bits)
    assert packed == pack_bitstring(bits)
    assert unpack_bits(packed, len(bits)) == bits
    assert unpack_bitstring(packed)[: len(bits)] == bits


def test_bit_packing_example_from_the_spec():
    assert pack_bits([1, 0, 1, 1, 0, 0, 1, 1, 1, 0]) == bytes.fromhex("CD01")
    assert unpack_bits(bytes.fromhex("CD01"), 10) == [True, False, True, True, False] + [
        False,
        True,
        True,
        True,
        False,
    ]
    assert pack_bits([]) == b""
    with pytest.raises(ValueError, match="2 bytes hold at most 16 bits"):
        unpack_bits(b"\0\0", 17)


def test_the_four_layouts_of_a_32_bit_value():
    expected = {
        (ByteOrder.BigEndian, MSRF): (0xAABB, 0xCCDD),
        (ByteOrder.BigEndian, LSRF): (0xCCDD, 0xAABB),
        (ByteOrder.LittleEndian, MSRF): (0xBBAA, 0xDDCC),
        (ByteOrder.LittleEndian, LSRF): (0xDDCC, 0xBBAA),
    }
    for (byte_order, order), registers in expected.items():
        assert encode(0xAABBCCDD, "UnsignedInteger", 2, byte_order, order) == registers
        assert decode(registers, DataType.UnsignedInteger, None, byte_order, order) == 0xAABBCCDD


def test_booleans():
    for count in (1, 2, 4):
        c = codec(DataType.Boolean, count)
        assert c.encode(True) == (0,) * (count - 1) + (1,)
        assert c.encode(False) == (0,) * count
        assert c.decode([0] * count) is False
        assert c.decode([0x8000] + [0] * (count - 1)) is True
        assert c.decode_bytes(b"\0" * (2 * count - 1) + b"\2") is True
    assert codec("Boolean", 1, "LittleEndian").encode(True) == (0x0100,)
    assert codec("Boolean").encode(1) == (1,)
    with pytest.raises(ValueError, match="2 does not fit Boolean"):
        codec("Boolean").encode(2)
    with pytest.raises(TypeError, match="Boolean takes true or false, got str 'yes'"):
        codec("Boolean").encode("yes")


def test_default_counts_follow_the_type_width():
    widths = {
        DataType.Boolean: 1,
        DataType.SignedSmallInteger: 1,
        DataType.UnsignedSmallInteger: 1,
        DataType.SignedInteger: 2,
        DataType.UnsignedInteger: 2,
        DataType.SignedBigInteger: 4,
        DataType.UnsignedBigInteger: 4,
        DataType.Float: 2,
        DataType.Double: 4,
        DataType.String: None,
    }
    for data_type, width in widths.items():
        assert default_count(data_type) == width
        assert default_count(data_type.name) == width
        if width:
            assert codec(data_type).count == width
    for data_type in (DataType.Date, DataType.Time, DataType.DateTime, DataType.StringList):
        with pytest.raises(ValueError, match=f"dataType {data_type.name} has no Modbus"):
            codec(data_type)
    with pytest.raises(ValueError, match="dataType Invalid has no Modbus"):
        default_count(DataType.Invalid)


@pytest.mark.parametrize(
    ("data_type", "count", "message"),
    [
        ("String", None, "dataType String needs a register count"),
        ("String", 0, "register count must be a positive integer, got 0"),
        ("SignedSmallInteger", 2, "SignedSmallInteger takes 1 register"),
        ("UnsignedInteger", 4, "UnsignedInteger takes 1, 2 register"),
        ("SignedBigInteger", 3, "SignedBigInteger takes 1, 2, 4 register"),
        ("Float", 1, "Float takes 2 .float32. or 4 .float64. registers, not 1"),
        ("Boolean", 3, "Boolean takes 1, 2 or 4 registers, not 3"),
    ],
)
def test_impossible_layouts_are_refused(data_type, count, message):
    with pytest.raises(ValueError, match=message):
        RegisterCodec(data_type, count)


def test_orders_by_member_name_or_number():
    a = codec("SignedInteger", 2, ByteOrder.LittleEndian, LSRF)
    assert codec("SignedInteger", 2, "LittleEndian", "LeastSignificantRegisterFirst").encode(
        -2
    ) == a.encode(-2)
    assert RegisterCodec("SignedInteger", 2, 1, 1).encode(-2) == a.encode(-2)
    assert codec("SignedInteger", 2) is codec("SignedInteger", 2)
    with pytest.raises(
        ValueError, match="ByteOrder is one of BigEndian, LittleEndian, not 'Middle'"
    ):
        RegisterCodec("SignedInteger", 2, "Middle")
    with pytest.raises(ValueError, match="RegisterOrder is one of MostSignificantRegisterFirst"):
        RegisterCodec("SignedInteger", 2, "BigEndian", 7)


@pytest.mark.parametrize(
    ("data_type", "count", "value", "error", "message"),
    [
        (
            "SignedSmallInteger",
            1,
            32768,
            ValueError,
            r"32768 does not fit SignedSmallInteger over 1",
        ),
        ("SignedSmallInteger", 1, -32769, ValueError, r"-32768\.\.32767"),
        ("UnsignedSmallInteger", 1, -1, ValueError, r"-1 does not fit UnsignedSmallInteger"),
        ("UnsignedInteger", 1, 65536, ValueError, r"65536 does not fit UnsignedInteger over 1"),
        ("UnsignedInteger", 2, 1 << 32, ValueError, r"0\.\.4294967295"),
        ("SignedBigInteger", 4, 1 << 63, ValueError, r"does not fit SignedBigInteger over 4"),
        ("UnsignedBigInteger", 4, -1, ValueError, r"-1 does not fit UnsignedBigInteger"),
        ("SignedInteger", 2, 1e30, ValueError, r"1e\+30 does not fit SignedInteger"),
        (
            "SignedInteger",
            2,
            1.5,
            TypeError,
            r"SignedInteger over 2 register\(s\) takes an integer",
        ),
        ("SignedInteger", 2, "7", TypeError, r"takes an integer, got str '7'"),
        (
            "Float",
            2,
            1e39,
            ValueError,
            r"1e\+39 does not fit Float over 2 register\(s\) \(float32\)",
        ),
        ("Double", 2, 10**400, ValueError, r"does not fit Double over 2 register"),
        ("Double", 4, "1.0", TypeError, r"Double over 4 register\(s\) takes a number, got str"),
        ("String", 2, "hello", ValueError, r"'hello' does not fit String over 2 register\(s\)"),
        ("String", 2, 12, TypeError, r"String register takes a str, got int 12"),
    ],
)
def test_values_that_do_not_fit(data_type, count, value, error, message):
    for byte_order in ByteOrder:
        for order in RegisterOrder:
            c = codec(data_type, count, byte_order, order)
            with pytest.raises(error, match=message):
                c.encode(value)
            with pytest.raises(error, match=message):
                c.encode_bytes(value)


def test_integral_floats_are_written_as_integers():
    assert codec("SignedInteger", 2).encode(-3.0) == (0xFFFF, 0xFFFD)
    assert codec("UnsignedSmallInteger", 1).encode_bytes(258.0) == b"\x01\x02"
    assert codec("Float", 2).encode(1) == (0x3F80, 0)
    assert codec("Double", 4).encode(float("inf")) == (0x7FF0, 0, 0, 0)


def test_string_padding_truncation_and_bad_bytes():
    c = codec("String", 3)
    assert c.encode("ab") == (0x6162, 0, 0)
    assert codec("String", 3, "LittleEndian").encode("abc") == (0x6261, 0x63, 0)
    assert codec("String", 3, "BigEndian", LSRF).encode("abc") == (0, 0x6300, 0x6162)
    assert c.decode([0x6162, 0x6300, 0]) == "abc"
    assert c.decode([0x6100, 0x6200, 0]) == "a\0b", "only trailing NULs are dropped"
    assert c.decode([0xFF61, 0, 0]) == "\ufffda", "bytes that are not UTF-8 never raise"
    cut = codec("String", 2, truncate=True)
    assert cut.encode("abcdef") == (0x6162, 0x6364)
    assert cut.decode(cut.encode("abcé")) == "abc", "never half a character"
    assert codec("String", 2, encoding="latin-1").encode("é") == (0xE900, 0)
    with pytest.raises(ValueError, match=r"5 bytes as utf-8, room for 4"):
        codec("String", 2).encode("abcé")
    with pytest.raises(ValueError, match=r"unknown text encoding 'klingon'"):
        codec("String", 2, encoding="klingon")
