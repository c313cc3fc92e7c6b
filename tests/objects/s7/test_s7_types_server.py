"""S7Variables of every S7 type under an S7Server: a python-snap7 client's bytes (written with
`snap7.util`'s setters) become the variable's value, and the value an app writes is the bytes
snap7 would have written."""

from __future__ import annotations

import pytest
from snap7 import util
from snap7.type import Area as PyArea
from test_s7_server_support import WAIT, in_thread, loop, make_server, pysnap7  # noqa: F401
from test_s7_types_support import CASES, expected_bytes

from incore.objects.foundation.data import Quality
from incore.objects.s7 import S7ServerArea, S7Variable


def in_db2(address: str) -> str:
    return address.replace("DB1", "DB2", 1)


def test_every_type_follows_a_clients_bytes_and_writes_snap7s_bytes(loop):
    from_client = [S7Variable(name=case.address) for case in CASES]
    from_app = [S7Variable(name=in_db2(case.address)) for case in CASES]
    server = make_server(
        objects=[S7ServerArea(area="DB", index=i, size=256) for i in (1, 2)]
        + from_client
        + from_app
    )
    client = pysnap7(server)
    try:
        image = bytearray(256)
        for case in CASES:
            case.write(image, case.offset)
        in_thread(loop, lambda: client.db_write(1, 0, image))
        assert loop.run_until(
            lambda: [v.data for v in from_client] == [c.value for c in CASES], WAIT
        ), [(v.name, v.data, v.errorString) for v in from_client]
        assert all(v.error == S7Variable.NoError for v in from_client)
        assert all(v.quality == Quality.Good for v in from_client)
        for var, case in zip(from_app, CASES):
            var.data = case.value  # (a DT or DTL keeps the read error zeroed memory gave it)
            assert var.error != S7Variable.WriteError, (var.name, var.errorString)
        memory = in_thread(loop, lambda: client.db_read(2, 0, 256))
        for case in CASES:
            assert memory[case.offset : case.offset + case.size] == expected_bytes(case), case
    finally:
        client.disconnect()


def test_zeroed_memory_is_no_date_until_one_is_written(loop):
    moment = S7Variable(name="DB1.DBB0:DTL")
    text = S7Variable(name="DB1,S20.10")
    make_server(objects=[S7ServerArea(area="DB", index=1, size=64), moment, text])
    assert moment.error == S7Variable.ReadError and moment.quality == Quality.Bad
    assert "DTL" in moment.errorString
    assert text.data == "" and text.error == S7Variable.NoError  # a zeroed STRING is empty


def test_bit_arrays_keep_their_neighbours_and_long_values_are_read_in_parts(loop):
    bits = S7Variable(name="M0.6:BOOL[3]")
    reals = S7Variable(name="DB1,REAL0.100")  # 400 bytes: two answers at PDU 240
    server = make_server(
        pduRequest=240,
        objects=[S7ServerArea(area="MK", size=16), S7ServerArea(area="DB", index=1, size=512)]
        + [bits, reals],
    )
    client = pysnap7(server)
    try:
        in_thread(loop, lambda: client.mb_write(0, 2, bytearray(b"\xff\xff")))
        assert loop.run_until(lambda: bits.data == [True, True, True], WAIT)
        bits.data = [False, True, False]
        assert bytes(in_thread(loop, lambda: client.mb_read(0, 2))) == bytes((0b10111111, 0xFE))
        values = bytearray(400)
        for i in range(100):
            util.set_real(values, 4 * i, i * 1.5)
        in_thread(loop, lambda: client.db_write(1, 0, values))
        assert loop.run_until(lambda: reals.data == [i * 1.5 for i in range(100)], WAIT)
        reals.data = [-1.0] * 100
        read = in_thread(loop, lambda: client.db_read(1, 0, 400))
        assert [util.get_real(read, 4 * i) for i in range(100)] == [-1.0] * 100
    finally:
        client.disconnect()


@pytest.mark.parametrize("value", ["toolong", 5, ["a"]])
def test_a_value_that_does_not_fit_leaves_the_memory_alone(loop, value):
    var = S7Variable(name="DB1.DBB0:STRING[4]")
    server = make_server(objects=[S7ServerArea(area="DB", index=1, size=16), var])
    var.data = "ok"
    var.data = value
    assert var.error == S7Variable.WriteError
    client = pysnap7(server)
    try:
        assert util.get_string(in_thread(loop, lambda: client.db_read(1, 0, 6)), 0) == "ok"
    finally:
        client.disconnect()
