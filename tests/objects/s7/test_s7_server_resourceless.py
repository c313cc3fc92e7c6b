"""Resourceless mode: each item a client asks reaches `readWrite` once, as the client asked it.

Snap7 C (which node-snap7 wraps) calls its callback once per item with the item's own
address, element count and word length; a BIT write is one call with one byte. These tests
hold our server to that with python-snap7 3.x, our S7Client and the Snap7 C client, and
compare the tags with the Snap7 C server's own (python-snap7 2.1 in the driver subprocess).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from snap7.type import Area as PyArea
from snap7.type import WordLen
from test_s7_client_support import free_port, snap7c  # noqa: F401  (fixture)
from test_s7_server_support import WAIT, area, in_thread, loop, make_server, pysnap7  # noqa: F401

from incore.objects.s7 import S7Client, S7Server
from incore.protocols.s7 import Var

DB, MK, PE, TM, CT = 0x84, 0x83, 0x81, 0x1D, 0x1C
BIT, BYTE, WORD, INT, DWORD, REAL = 0x01, 0x02, 0x04, 0x05, 0x06, 0x08


class Recorder:
    """A readWrite handler: logs [operation, Area, DBNumber, Start, Size, WordLen, written
    hex] per call and answers a read with byte i = (Start + i) & 0xFF (as the driver does)."""

    def __init__(self) -> None:
        self.log: list[list] = []

    def __call__(self, sender: str, operation: int, tag: Any, buffer: bytearray) -> None:
        written = "" if operation == S7Server.operationRead else bytes(buffer).hex()
        self.log.append([int(operation), *tag, written])
        if operation == S7Server.operationRead:
            buffer[:] = bytes((tag.Start + i) & 0xFF for i in range(len(buffer)))

    def take(self) -> list[list]:
        log, self.log = self.log, []
        return log


@pytest.fixture
def recorded(loop) -> tuple[S7Server, Recorder]:
    server = make_server(resourceless=True, objects=[])
    recorder = Recorder()
    server.readWrite.connect(recorder)
    return server, recorder


@pytest.fixture
def connect(loop) -> Iterator[Any]:
    """connect(server): our S7Client, connected to it; shut down after the test."""
    made: list[S7Client] = []

    def make(server: S7Server) -> S7Client:
        client = S7Client(hostname="127.0.0.1", port=server.localPort)
        made.append(client)
        client.complete()
        assert loop.run_until(lambda: client.connected, WAIT), client.errorString
        return client

    yield make
    for client in made:
        client.shutdown()


@pytest.fixture
def s7client(recorded, connect) -> S7Client:
    return connect(recorded[0])


def done(loop, request: Callable[[], Future]) -> Any:
    """The result of an S7Client request made from a loop callback, so that the client's
    worker sends it and the loop stays free to run the readWrite handler meanwhile."""
    made: list[Future] = []
    loop.post(lambda: made.append(request()))
    assert loop.run_until(lambda: bool(made) and made[0].done(), WAIT), "no answer"
    return made[0].result(0)


def test_python_snap7_typed_items_reach_the_handler_as_asked(loop, recorded):
    server, recorder = recorded
    client = pysnap7(server)
    assert in_thread(loop, lambda: client.read_area(PyArea.DB, 1, 4, 2, WordLen.Real)) == bytearray(
        range(4, 12)
    )  # 2 REALs: 8 bytes from byte 4
    in_thread(
        loop, lambda: client.write_area(PyArea.MK, 0, 6, bytearray(b"\xab\xcd"), WordLen.Word)
    )
    assert in_thread(loop, lambda: client.read_area(PyArea.TM, 0, 3, 2)) == bytearray(
        b"\x03\x04\x05\x06"
    )
    assert in_thread(
        loop, lambda: client.read_area(PyArea.DB, 1, 8 * 3 + 5, 1, WordLen.Bit)
    ) == bytearray(b"\x00")  # bit 5 of 29 (0b11101)
    assert recorder.take() == [
        [0, DB, 1, 4, 2, REAL, ""],
        [1, MK, 0, 6, 1, WORD, "abcd"],
        [0, TM, 0, 3, 2, TM, ""],
        [0, DB, 1, 29, 1, BIT, ""],
    ]
    client.disconnect()


def test_a_bit_write_is_one_handler_call_with_the_bit_address(loop, recorded, s7client):
    _, recorder = recorded
    assert done(loop, lambda: s7client.readArea("DB", 1, 8 * 3 + 3, 1, wordLen="BIT")) == b"\x01"
    assert (
        done(loop, lambda: s7client.writeArea("DB", 1, 8 * 3 + 5, b"\x01", wordLen="BIT")) is None
    )
    assert (
        done(loop, lambda: s7client.writeArea("MK", 0, 8 * 10 + 3, b"\x00", wordLen="BIT")) is None
    )
    assert recorder.take() == [
        [0, DB, 1, 27, 1, BIT, ""],
        [1, DB, 1, 29, 1, BIT, "01"],
        [1, MK, 0, 83, 1, BIT, "00"],
    ]


def test_a_multi_item_request_is_one_handler_call_per_item(loop, recorded, s7client):
    _, recorder = recorded
    results = done(
        loop,
        lambda: s7client.readMultiVars(
            [
                Var(DB, 2, 1, 3),
                Var(MK, 0, 8 * 10 + 4, 1, BIT),
                Var(DB, 1, 8, 1, DWORD),
                Var(CT, 0, 4, 2),
            ]
        ),
    )
    assert [(r.error, r.data) for r in results] == [
        (0, b"\x01\x02\x03"),
        (0, b"\x01"),
        (0, bytes(range(8, 12))),
        (0, b"\x04\x05\x06\x07"),
    ]
    codes = done(
        loop,
        lambda: s7client.writeMultiVars(
            [Var(DB, 2, 1, 2, INT, b"\x00\x01\x00\x02"), Var(MK, 0, 8 * 10 + 3, 1, BIT, b"\x01")]
        ),
    )
    assert [r.error for r in codes] == [0, 0]
    assert recorder.take() == [
        [0, DB, 2, 1, 3, BYTE, ""],
        [0, MK, 0, 84, 1, BIT, ""],
        [0, DB, 1, 8, 1, DWORD, ""],
        [0, CT, 0, 4, 2, CT, ""],
        [1, DB, 2, 1, 2, INT, "00010002"],
        [1, MK, 0, 83, 1, BIT, "01"],
    ]


def test_a_handler_that_leaves_the_wrong_size_fails_the_item(loop):
    server = make_server(resourceless=True, objects=[])
    server.setReadWriteCallback(lambda sender, op, tag, buffer: b"\x42" * tag.Size)
    client = pysnap7(server)
    assert in_thread(loop, lambda: client.read_area(PyArea.MK, 0, 0, 3)) == bytearray(b"\x42" * 3)
    with pytest.raises(Exception, match=r"\(0x05\)"):  # out of range: 2 REALs are 8 bytes, not 2
        in_thread(loop, lambda: client.read_area(PyArea.DB, 1, 0, 2, WordLen.Real))
    client.disconnect()


def test_memory_bit_write_waits_for_a_locked_area_and_changes_only_its_bit(loop, connect):
    server = make_server()
    client = connect(server)
    db2 = area(server, "DB", 2)
    assert server.lockArea(S7Server.srvAreaDB, 2)
    made: list[Future] = []
    loop.post(lambda: made.append(client.writeArea("DB", 2, 8 * 3 + 1, b"\x01", wordLen="BIT")))
    assert not loop.run_until(lambda: bool(made) and made[0].done(), 0.2)  # held off by lockArea
    assert server.setArea(S7Server.srvAreaDB, 2, b"\xf0", 3)  # the app keeps access meanwhile
    assert server.unlockArea(S7Server.srvAreaDB, 2)
    assert loop.run_until(made[0].done, WAIT) and made[0].result(0) is None
    assert server.getArea(S7Server.srvAreaDB, 2)[2:5] == b"\x00\xf2\x00"
    assert loop.run_until(lambda: db2.data[3] == 0xF2, WAIT)  # the area object hears of it
    assert done(loop, lambda: client.writeArea("DB", 2, 8 * 3 + 7, b"\x00", wordLen="BIT")) is None
    assert server.getArea(S7Server.srvAreaDB, 2)[3] == 0x72


# -- against the Snap7 C server's own resourceless callback ------------------------------------

REQUESTS = [
    ("read_typed", dict(area=DB, db=1, start=4, amount=2, wordlen=REAL)),
    ("read_typed", dict(area=DB, db=1, start=29, amount=1, wordlen=BIT)),
    ("read_typed", dict(area=DB, db=1, start=27, amount=1, wordlen=BIT)),
    ("write_typed", dict(area=DB, db=1, start=29, amount=1, wordlen=BIT, data="01")),
    ("write_typed", dict(area=MK, start=6, amount=1, wordlen=WORD, data="abcd")),
    ("read_typed", dict(area=TM, start=3, amount=2, wordlen=TM)),
    ("write_typed", dict(area=CT, start=2, amount=1, wordlen=CT, data="0102")),
    ("read_area", dict(area=PE, start=3, size=5)),
    (
        "read_multi",
        dict(
            items=[
                dict(area=DB, db=2, start=1, amount=3),
                dict(area=MK, start=83, amount=1, wordlen=BIT),
                dict(area=DB, db=1, start=8, amount=2, wordlen=INT, width=2),
            ]
        ),
    ),
    (
        "write_multi",
        dict(
            items=[
                dict(area=DB, db=2, start=1, amount=3, data="010203"),
                dict(area=MK, start=83, amount=1, wordlen=BIT, data="00"),
                dict(area=DB, db=1, start=12, amount=1, wordlen=REAL, width=4, data="3f800000"),
            ]
        ),
    ),
]


def test_the_handler_sees_what_the_snap7_c_servers_callback_sees(loop, recorded, snap7c):
    server, recorder = recorded
    c_port = free_port()
    snap7c.call("server_start", port=c_port, areas=[], resourceless=True)
    answers: dict[str, list] = {}
    logs: dict[str, list] = {}
    for name, port in (("snap7-c", c_port), ("incore", server.localPort)):
        answers[name] = [
            in_thread(loop, lambda op=op, args=args: snap7c.call(op, **args))
            for op, args in [("connect", dict(host="127.0.0.1", port=port, rack=0, slot=2))]
            + REQUESTS
        ]
        in_thread(loop, lambda: snap7c.call("disconnect"))
        logs[name] = snap7c.call("server_rw_log") if name == "snap7-c" else recorder.take()
    assert len(logs["snap7-c"]) == 14  # one callback per item, none more
    assert logs["incore"] == logs["snap7-c"]
    assert answers["snap7-c"][2:4] == ["00", "01"]  # bit 5 of 29, bit 3 of 27
    assert answers["incore"] == answers["snap7-c"]
