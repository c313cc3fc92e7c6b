"""ModbusRegister's address and wire form, checked against pymodbus's own conversions."""

from __future__ import annotations

import pytest
from pymodbus.client.mixin import ModbusClientMixin as Mixin

from incore.objects.modbus import ModbusAddress, ModbusRegister
from incore.protocols.modbus.store import Table

DT = Mixin.DATATYPE


def regs(raw: bytes) -> list[int]:
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


@pytest.mark.parametrize(
    ("data_type", "value", "pm_type", "width"),
    [
        ("Float", 1.5, DT.FLOAT32, 2),
        ("Double", -2.25, DT.FLOAT64, 4),
        ("SignedSmallInteger", -7, DT.INT16, 1),
        ("UnsignedSmallInteger", 65000, DT.UINT16, 1),
        ("SignedInteger", -123456, DT.INT32, 2),
        ("UnsignedInteger", 4000000000, DT.UINT32, 2),
        ("SignedBigInteger", -(1 << 40), DT.INT64, 4),
        ("UnsignedBigInteger", 1 << 63, DT.UINT64, 4),
    ],
)
@pytest.mark.parametrize("order", ["MostSignificantRegisterFirst", "LeastSignificantRegisterFirst"])
def test_register_layouts_match_pymodbus(data_type, value, pm_type, width, order) -> None:
    reg = ModbusRegister(dataType=data_type, address=10, registerOrder=order)
    assert reg.peer_address == ModbusAddress(Table.Holding, 10, width)
    raw = reg._encode(value)
    word = "big" if order.startswith("Most") else "little"
    assert regs(raw) == Mixin.convert_to_registers(value, pm_type, word_order=word)
    assert reg._decode(raw) == value


def test_string_needs_a_count_and_pads_with_nul() -> None:
    reg = ModbusRegister(dataType="String")
    assert "needs count" in reg._address_problem()
    reg.count = 3
    assert reg._address_problem() == ""
    assert reg._encode("abc") == b"abc\0\0\0"
    assert reg._decode(b"abc\0\0\0") == "abc"
    with pytest.raises(ValueError):
        reg._encode("toolongtext")


def test_bits_and_raw_registers() -> None:
    coil = ModbusRegister(type="Coil", address=3, count=10)
    assert coil.peer_address.bits and coil.peer_address.size == 2
    assert str(coil.peer_address) == "Coil 3..12"
    bits = [True, False] * 5
    assert coil._decode(coil._encode(bits)) == bits
    one = ModbusRegister(type="DiscreteInput")
    assert one._decode(b"\x01") is True and not one.writable
    raw = ModbusRegister(type="Input", count=2)
    assert raw._decode(b"\x00\x01\xff\xff") == [1, 65535]
    with pytest.raises(ValueError):
        raw._encode([1, 70000])
    with pytest.raises(ValueError):
        coil._encode([True])


def test_unusable_layouts_are_named() -> None:
    assert (
        "dataType must be Boolean"
        in ModbusRegister(type="Coil", dataType="Float")._address_problem()
    )
    assert "passes the end" in ModbusRegister(address=65535, dataType="Float")._address_problem()
    assert "takes 2" in ModbusRegister(dataType="Float", count=3)._address_problem()


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "cp1252", "ascii"])
def test_string_encoding_matches_pymodbus(encoding) -> None:
    """`stringEncoding` lays a text out as pymodbus's `string_encoding` does."""
    text = "Tank 1" if encoding == "ascii" else "Tank 20°C"
    reg = ModbusRegister(dataType="String", count=6, stringEncoding=encoding)
    raw = reg._encode(text)
    expected = Mixin.convert_to_registers(text, DT.STRING, string_encoding=encoding)
    assert regs(raw)[: len(expected)] == expected
    assert reg._decode(raw) == text


def test_an_unknown_string_encoding_is_named() -> None:
    reg = ModbusRegister(dataType="String", count=2, stringEncoding="klingon")
    assert "unknown text encoding 'klingon'" in reg._address_problem()
