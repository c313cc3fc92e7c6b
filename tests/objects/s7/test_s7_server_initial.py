"""An S7Server's initial memory from its app file, read back by python-snap7: the areas'
`data` (bytes, hex text, a list of byte values), the variables' literal `data` on top in
document order; and `eventMask` given by event names."""

from __future__ import annotations

import logging
import struct
import textwrap

import pytest
from test_s7_server_support import in_thread, loop  # noqa: F401

import incore
from incore.app.errors import AppError
from incore.objects.s7 import S7Server


def start(text: str) -> incore.App:
    app = incore.load_string(textwrap.dedent(text), "app.yaml")
    app.root.complete()
    return app


def server_app(objects: str, extra: str = "") -> str:
    return f"""
    Application:
      objects:
        - S7Server:
            id: plc
            networkAddress: 127.0.0.1
            localPort: 0
            {extra}
            objects:
{textwrap.indent(textwrap.dedent(objects), " " * 14)}
    """


def read_db(loop, server: S7Server, db: int, size: int) -> bytes:
    import snap7

    def read() -> bytes:
        client = snap7.client.Client()
        client.connect("127.0.0.1", 0, 2, server.localPort)
        try:
            return bytes(client.db_read(db, 0, size))
        finally:
            client.disconnect()

    return in_thread(loop, read)


def test_area_data_then_the_variables_literals_in_document_order(loop, caplog):
    app = start(
        server_app("""
        - S7Variable: {id: early, name: DB1.DBB0, data: 0x11}
        - S7ServerArea: {id: db1, area: DB, index: 1, size: 12, data: "AABBCCDDEEFF00112233"}
        - S7Variable: {id: word, name: DB1.DBW2, data: 1234}
        - S7Variable: {id: real, name: DB1.DBD4:REAL, data: 1.5}
        - S7Variable: {id: flag, name: DB1.DBX0.6, data: false}
        - S7Variable: {id: plain, name: DB1.DBW8}
        - S7Variable: {id: bound, name: DB1.DBW10, data: !bind word.data + 1}
        - S7ServerArea: {area: MK, data: [0x41, 0x20, 255]}
        - S7Variable: {id: mark, name: MB1, data: 0x42}
        """)
    )
    try:
        server = app.ids["plc"]
        expected = bytes.fromhex("11BB") + struct.pack(">hf", 1234, 1.5) + bytes.fromhex("2233")
        expected += struct.pack(">h", 1235)
        assert read_db(loop, server, 1, 12) == expected  # the area's 12 bytes, as a client sees
        assert app.ids["db1"].data == expected  # the area object follows its memory
        assert server.getArea(S7Server.srvAreaMK, 0) == b"\x41\x42\xff"
        ids = app.ids
        assert (ids["early"].data, ids["word"].data, ids["real"].data) == (0x11, 1234, 1.5)
        assert (ids["flag"].data, ids["plain"].data, ids["mark"].data) == (False, 0x2233, 0x42)
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    finally:
        app.root.shutdown()


def test_overlapping_literals_that_disagree_warn_and_the_later_wins(loop, caplog):
    caplog.set_level(logging.WARNING, logger="incore.s7server")
    app = start(
        server_app("""
        - S7ServerArea: {area: DB, index: 1, size: 4}
        - S7Variable: {id: whole, name: DB1.DBD0, data: 0x01020304}
        - S7Variable: {id: same, name: DB1.DBB1, data: 2}
        - S7Variable: {id: other, name: DB1.DBB3, data: 9}
        - S7Variable: {id: bit, name: DB1.DBX0.0, data: true}
        """)
    )
    try:
        assert read_db(loop, app.ids["plc"], 1, 4) == b"\x01\x02\x03\x09"
        assert app.ids["whole"].data == 0x01020309  # every overlapping variable follows
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, warnings  # DBB1 agrees, DBX0.0 agrees; DBB3 does not
        assert warnings[0].startswith("app.yaml:14: ")  # the later one, DBB3 ...
        assert "overrides the one of app.yaml:12: " in warnings[0]  # ... over DBD0
        assert "byte 3" in warnings[0]
    finally:
        app.root.shutdown()


def test_after_the_start_a_variable_reads_the_memory_and_writes_write_it(loop):
    app = start(server_app("- S7ServerArea: {area: DB, index: 1, data: [1, 2, 3, 4]}"))
    try:
        server = app.ids["plc"]
        late = incore.objects.s7.S7Variable(server, name="DB1.DBW0", data=7)
        late.complete()  # added at run time: its data is the memory's, not an initial value
        assert late.data == 0x0102 and server.getArea(S7Server.srvAreaDB, 1) == b"\x01\x02\x03\x04"
        late.data = 0x0A0B
        assert read_db(loop, server, 1, 4) == b"\x0a\x0b\x03\x04"
    finally:
        app.root.shutdown()


def test_a_literal_that_does_not_fit_its_type_is_the_variables_error(loop):
    app = start(
        server_app("""
        - S7ServerArea: {area: DB, index: 1, data: [5, 6]}
        - S7Variable: {id: big, name: DB1.DBB0, data: 300}
        """)
    )
    try:
        big = app.ids["big"]
        assert big.error == big.WriteError and "300" in big.errorString
        assert app.ids["plc"].getArea(S7Server.srvAreaDB, 1) == b"\x05\x06"
        assert big.data == 5  # then it reads what the memory holds
    finally:
        app.root.shutdown()


@pytest.mark.parametrize(
    "data, where, index, element",
    [
        ("[0x41, 0x100]", "10:54", 1, "256"),
        ("[1, 2, -3]", "10:54", 2, "-3"),
        ("[7, x]", "10:54", 1, "x"),
    ],
)
def test_a_byte_list_element_out_of_range_is_named(data, where, index, element):
    text = server_app(f"- S7ServerArea: {{area: DB, index: 1, data: {data}}}")
    with pytest.raises(AppError) as caught:
        start(text)
    message = str(caught.value)
    assert f"element {index} " in message and element in message
    assert message.startswith(f"app.yaml:{where}: ")  # the file, line and column of the list


def test_binary_area_data():
    app = start(server_app("- S7ServerArea: {id: a, area: DB, index: 1, data: !!binary QUIK}"))
    try:
        assert app.ids["a"].data == b"AB\n"
    finally:
        app.root.shutdown()


@pytest.mark.parametrize(
    "mask, value",
    [
        ("[evcClientAdded, evcDataRead]", 0x00020008),
        ("[ClientAdded, 0x10, S7Server.evcDataWrite]", 0x00040018),
        ("evcDataRead | evcDataWrite", 0x00060000),
        ("!bind S7Server.evcDataRead | S7Server.evcDataWrite", 0x00060000),
        ("!bind plc.evcReadSZL", 0x00100000),
        ("[evcAll]", 0xFFFFFFFF),
        ("[]", 0),
        ("0x000000B8", 0xB8),
    ],
)
def test_event_mask_takes_event_names_and_constants(mask, value):
    app = start(server_app("- S7ServerArea: {area: MK, size: 2}", f"eventMask: {mask}"))
    try:
        assert app.ids["plc"].eventMask == value
    finally:
        app.root.shutdown()


def test_an_unknown_event_name_is_a_load_error_that_suggests():
    with pytest.raises(AppError) as caught:
        start(server_app("- S7ServerArea: {area: MK, size: 2}", "eventMask: [evcDataRaed]"))
    message = str(caught.value)
    assert message.startswith("app.yaml:8:20:") and "unknown event 'evcDataRaed'" in message
    assert "evcDataRead" in message


def test_event_names_from_python_too(loop):
    server = S7Server(localPort=0, networkAddress="127.0.0.1", autoStart=False)
    server.eventMask = ["evcClientAdded", "evcClientDisconnected"]
    assert server.eventMask == 0x88
    with pytest.raises(ValueError, match="unknown event 'evcNope'"):
        server.eventMask = ["evcNope"]
    assert server.eventMask == 0x88
