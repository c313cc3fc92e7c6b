"""S7Variables under an S7Server map its memory (the VariableHost interface), every Type."""

from __future__ import annotations

import datetime as dt
import struct

import pytest
from snap7.type import Area as PyArea
from test_s7_server_support import WAIT, in_thread, loop, make_server, pysnap7  # noqa: F401

from incore.objects.foundation import DataObject
from incore.objects.s7 import S7Server, S7ServerArea, S7Variable
from incore.objects.s7.address import Type, area_of, width_of

PY_AREA = {
    "Data": (PyArea.DB, 1),
    "Input": (PyArea.PE, 0),
    "Output": (PyArea.PA, 0),
    "Memory": (PyArea.MK, 0),
}
PREFIX = {"Input": "I", "Output": "Q", "Memory": "M"}
#: width -> (address letter, suffix, value a client writes, value the app writes, struct format)
WIDTHS = {
    "Bit": ("X", "", True, False, None),
    "Byte": ("B", "", 200, 7, ">B"),
    "Word": ("W", "", 0xBEEF, 0x1234, ">H"),
    "DWord": ("D", "", 0xDEADBEEF, 0x01020304, ">I"),
    "Int": ("W", ":INT", -1234, 4321, ">h"),
    "DInt": ("D", ":DINT", -123456789, 987654321, ">i"),
    "Real": ("D", ":REAL", 1.5, -2.25, ">f"),
}
OFFSET, BIT = 20, 3


def address_of(t: Type) -> str:
    area, width = area_of(t), width_of(t)
    letter, suffix = WIDTHS[width][0], WIDTHS[width][1]
    if area == "Data":
        head = f"DB1.DB{letter}{OFFSET}"
    else:
        head = f"{PREFIX[area]}{'' if letter == 'X' else letter}{OFFSET}"
    return head + (f".{BIT}" if width == "Bit" else "") + suffix


def encoded(width: str, value, current: int = 0) -> bytes:
    fmt = WIDTHS[width][4]
    if fmt is None:  # a bit inside the byte that holds it
        return bytes(((current | 1 << BIT) if value else (current & ~(1 << BIT)) & 0xFF,))
    return struct.pack(fmt, value)


@pytest.mark.parametrize("t", list(Type), ids=lambda t: t.name)
def test_every_type_follows_client_writes_and_writes_the_memory(loop, t):
    var = S7Variable(name=address_of(t))
    server = make_server(
        objects=[S7ServerArea(area=a, size=64) for a in ("PE", "PA", "MK")]
        + [S7ServerArea(area="DB", index=1, size=64), var]
    )
    assert var.type == t and var.host is server and var.error == S7Variable.NoError
    width = width_of(t)
    py_area, db = PY_AREA[area_of(t)]
    from_client, from_app = WIDTHS[width][2], WIDTHS[width][3]
    client = pysnap7(server)
    in_thread(
        loop,
        lambda: client.write_area(
            py_area, db, OFFSET, bytearray(encoded(width, from_client, 0x41))
        ),
    )
    assert loop.run_until(lambda: var.data == from_client, WAIT), (var.data, var.errorString)
    var.data = from_app
    size = len(encoded(width, from_app))
    read = in_thread(loop, lambda: client.read_area(py_area, db, OFFSET, size))
    assert bytes(read) == encoded(width, from_app, 0x41 | 1 << BIT)
    client.disconnect()


def test_a_bit_write_keeps_the_other_bits_and_overlapping_variables_follow(loop):
    bit = S7Variable(name="DB1.DBX0.1")
    byte = S7Variable(name="DB1.DBB0")
    word = S7Variable(name="DB1.DBW0")
    area = S7ServerArea(area="DB", index=1, data=b"\x80\x01")
    make_server(objects=[area, bit, byte, word])
    assert (bit.data, byte.data, word.data) == (False, 0x80, 0x8001)
    bit.data = True
    assert area.data == b"\x82\x01"
    assert (byte.data, word.data) == (0x82, 0x8201)
    word.data = 0x0502
    assert (bit.data, byte.data, area.data) == (False, 0x05, b"\x05\x02")
    word.data = 0x0702
    assert (bit.data, byte.data, area.data) == (True, 0x07, b"\x07\x02")


def test_a_variable_without_its_area_reports_until_the_area_exists(loop):
    var = S7Variable(name="DB9.DBW0")
    server = make_server(objects=[var])
    assert var.error == S7Variable.ReadError and "no area DB9" in var.errorString
    assert server.registerArea(S7Server.srvAreaDB, 9, b"\x00\x2a")
    assert var.data == 0x2A and var.error == S7Variable.NoError
    far = S7Variable(name="DB9.DBD10")
    server.appendChild(far)
    far.complete()
    assert far.error == S7Variable.ReadError and "do not fit" in far.errorString


def test_poll_data_reads_the_memory_and_a_bound_value_writes_it_at_start(loop):
    setpoint = DataObject(data=21)
    bound = S7Variable(name="MW2")
    bound.bind("data", lambda: setpoint.data * 10)
    polled = S7Variable(name="MB0")
    server = make_server(objects=[S7ServerArea(area="MK", size=4), bound, polled])
    assert server.getArea(S7Server.srvAreaMK, 0) == b"\x00\x00\x00\xd2"  # 210 at MW2
    setpoint.data = 22
    assert server.getArea(S7Server.srvAreaMK, 0)[2:4] == b"\x00\xdc"
    server.setArea(S7Server.srvAreaMK, 0, b"\x05")
    assert polled.data == 5  # the app's own write reaches mapped variables at once
    client = pysnap7(server)
    in_thread(loop, lambda: client.mb_write(0, 1, bytearray(b"\x06")))
    assert loop.run_until(lambda: polled.data == 6, WAIT)
    polled.pollData()
    assert polled.data == 6
    client.disconnect()


def test_detached_variables_no_longer_follow(loop):
    var = S7Variable(name="DB1.DBB0")
    server = make_server(objects=[S7ServerArea(area="DB", index=1, size=2), var])
    var.shutdown()
    server.setArea(S7Server.srvAreaDB, 1, b"\x09")
    assert var.data == 0


def test_a_value_the_app_writes_ends_a_read_error_of_its_bytes(loop):
    var = S7Variable(name="DB1.DBB0:DTL")  # zeroed memory is no DTL: month 0
    make_server(objects=[S7ServerArea(area="DB", index=1, size=64), var])
    assert loop.run_until(lambda: var.error == S7Variable.ReadError, WAIT), var.error
    assert var.quality == DataObject.Bad
    var.data = dt.datetime(2024, 5, 6, 7, 8, 9)
    assert loop.run_until(lambda: var.error == S7Variable.NoError, WAIT), var.errorString
    assert var.quality == DataObject.Good
