"""S7 address grammar: every documented form, the inverse, and clear errors."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incore.objects.s7.address import Address, AddressError, Type, format_address, parse_address


@pytest.mark.parametrize(
    "text, expected",
    [
        ("DB1.DBX0.3", Address(1, 0, 3, Type.DataBit)),
        ("DB1.DBB0", Address(1, 0, 0, Type.DataByte)),
        ("DB1.DBW2", Address(1, 2, 0, Type.DataWord)),
        ("DB1.DBD4", Address(1, 4, 0, Type.DataDWord)),
        ("DB10.DBD4:REAL", Address(10, 4, 0, Type.DataReal)),
        ("db2.dbw6 int", Address(2, 6, 0, Type.DataInt)),
        ("DB2.DBD8:DINT", Address(2, 8, 0, Type.DataDInt)),
        ("I0.1", Address(0, 0, 1, Type.InputBit)),
        ("E0.1", Address(0, 0, 1, Type.InputBit)),
        ("IB2", Address(0, 2, 0, Type.InputByte)),
        ("IW2", Address(0, 2, 0, Type.InputWord)),
        ("ID2", Address(0, 2, 0, Type.InputDWord)),
        ("Q0.0", Address(0, 0, 0, Type.OutputBit)),
        ("A0.0", Address(0, 0, 0, Type.OutputBit)),
        ("QB1", Address(0, 1, 0, Type.OutputByte)),
        ("AW4", Address(0, 4, 0, Type.OutputWord)),
        ("QD8:REAL", Address(0, 8, 0, Type.OutputReal)),
        ("M0.0", Address(0, 0, 0, Type.MemoryBit)),
        ("MB3", Address(0, 3, 0, Type.MemoryByte)),
        ("MW10:INT", Address(0, 10, 0, Type.MemoryInt)),
        ("MD12", Address(0, 12, 0, Type.MemoryDWord)),
    ],
)
def test_parses_every_documented_form(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("DB1.DBX0", "needs a bit number"),
        ("DB1.DBX0.8", "bit number must be 0..7"),
        ("MW2.1", "only bit addresses"),
        ("DB1.DBW2:REAL", "type REAL does not fit a Word address"),
        ("Z7", "is not an S7 address"),
        ("", "is not an S7 address"),
    ],
)
def test_errors_say_what_is_wrong(text, message):
    with pytest.raises(AddressError, match=message):
        parse_address(text)


@given(st.sampled_from(list(Type)), st.integers(0, 65535), st.integers(1, 65535), st.integers(0, 7))
def test_format_is_the_inverse_of_parse(t, offset, db, bit):
    from incore.objects.s7.address import area_of, width_of

    db = db if area_of(t) == "Data" else 0
    bit = bit if width_of(t) == "Bit" else 0
    assert parse_address(format_address(db, offset, bit, t)) == Address(db, offset, bit, t)
