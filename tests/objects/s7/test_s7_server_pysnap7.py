"""The S7Server object against python-snap7 3.x's client (in-process, on a thread)."""

from __future__ import annotations

import errno
import socket
from datetime import datetime, timedelta

import pytest
from snap7.type import Area as PyArea
from test_s7_server_support import (
    DB1,
    WAIT,
    Background,
    area,
    codes,
    in_thread,
    loop,  # noqa: F401
    make_server,
    pysnap7,
    server,
    server_threads,
)

from incore.objects.s7 import S7Server, S7ServerArea
from incore.protocols.s7.constants import Event, EventResult

AREAS = [
    (PyArea.PE, "PE", 1),
    (PyArea.PA, "PA", 1),
    (PyArea.MK, "MK", 1),
    (PyArea.DB, "DB", 1),
    (PyArea.TM, "TM", 2),
    (PyArea.CT, "CT", 2),
]


@pytest.mark.parametrize("py_area, name, width", AREAS)
def test_every_area_is_read_and_written_and_its_data_follows(loop, server, py_area, name, width):
    client = pysnap7(server)
    db = 1 if name == "DB" else 0
    data = bytearray(range(100, 100 + 4 * width))
    in_thread(loop, lambda: client.write_area(py_area, db, 6, data))
    assert in_thread(loop, lambda: client.read_area(py_area, db, 6, 4)) == data
    offset = 12 if width == 2 else 6  # timer/counter N is at byte 2N
    obj = area(server, name, db)
    assert loop.run_until(lambda: obj.data[offset : offset + len(data)] == data, WAIT)
    assert server.getArea(S7Server.Area(obj.area), db)[offset : offset + len(data)] == data
    client.disconnect()


def test_multi_var_read_and_write(loop, server):
    client = pysnap7(server)
    items = [dict(area=PyArea.DB, db_number=1, start=i * 40, size=30) for i in range(12)]
    code, results = in_thread(loop, lambda: client.read_multi_vars(items))
    assert code == 0 and [bytes(r) for r in results] == [
        DB1[i * 40 : i * 40 + 30] for i in range(12)
    ]
    in_thread(
        loop,
        lambda: client.write_multi_vars(
            [
                dict(area=PyArea.DB, db_number=2, start=0, data=bytearray(b"xy")),
                dict(area=PyArea.MK, start=5, data=bytearray(b"z")),
            ]
        ),
    )
    assert server.getArea(S7Server.srvAreaDB, 2)[:2] == b"xy"
    assert server.getArea(S7Server.srvAreaMK, 0)[5:6] == b"z"
    client.disconnect()


def test_szl_lists_cpu_info_and_order_code(loop, server):
    client = pysnap7(server)
    info = in_thread(loop, client.get_cpu_info)
    assert info.ModuleTypeName.rstrip(b"\x00") == b"CPU 315-2 PN/DP"
    assert info.ASName.rstrip(b"\x00") == b"INCORE"
    szl = in_thread(loop, lambda: client.read_szl(0x0011, 0))
    assert szl.Header.LengthDR == 4 + 3 * 28  # python-snap7 counts the list header in
    assert in_thread(loop, client.read_szl_list)[:4] == b"\x00\x02\x00\x08"  # 8 SZL IDs
    assert in_thread(loop, client.get_order_code).OrderCode.rstrip(b"\x00").startswith(b"6ES7")
    client.disconnect()


def test_clock_read_and_set_with_events(loop, server):
    events: list = []
    server.event.connect(events.append)
    client = pysnap7(server)
    target = datetime(2030, 5, 6, 7, 8, 9)
    in_thread(loop, lambda: client.set_plc_datetime(target))
    read = in_thread(loop, client.get_plc_datetime)
    assert abs(read - target) < timedelta(seconds=5)
    assert loop.run_until(lambda: codes(events).count(Event.Clock) == 2, WAIT)
    clock = [e for e in events if e.EvtCode == Event.Clock]
    assert [e.EvtParam1 for e in clock] == [2, 1]  # set, then read
    assert "Clock set" in server.eventText(clock[0])
    client.disconnect()


def test_a_clients_stop_and_start_change_cpu_status_on_the_loop(loop, server):
    events: list = []
    server.event.connect(events.append)
    seen: list = []
    server.cpuStatusChanged.connect(seen.append)
    client = pysnap7(server)
    in_thread(loop, client.plc_stop)
    assert loop.run_until(lambda: server.cpuStatus == S7Server.Stop, WAIT)
    in_thread(loop, client.plc_hot_start)
    assert loop.run_until(lambda: server.cpuStatus == S7Server.Run, WAIT)
    assert seen == [S7Server.Stop, S7Server.Run]
    assert loop.run_until(lambda: codes(events).count(Event.Control) == 2, WAIT)
    assert "stop" in server.eventText([e for e in events if e.EvtCode == Event.Control][0])
    client.disconnect()


def test_a_settings_write_never_undoes_a_clients_stop_in_flight(loop, server):
    client = pysnap7(server)
    stopping = Background(client.plc_stop)
    assert stopping.thread.join(WAIT) is None and stopping.done  # answered; loop not run yet
    assert server.cpuStatus == S7Server.Run  # the property follows on the next loop turn ...
    server.eventMask = 0xFFFF  # ... and writing another setting meanwhile must not revert it
    assert loop.run_until(lambda: server.cpuStatus == S7Server.Stop, WAIT)
    client.disconnect()


def test_a_missing_db_is_an_item_error_with_its_event(loop, server):
    events: list = []
    server.event.connect(events.append)
    client = pysnap7(server)
    with pytest.raises(Exception, match="(?i)does not exist"):
        in_thread(loop, lambda: client.db_read(99, 0, 4))
    assert in_thread(loop, lambda: client.db_read(1, 2, 2)) == DB1[2:4]  # still served
    assert loop.run_until(lambda: codes(events).count(Event.DataRead) == 2, WAIT)
    failed = [e for e in events if e.EvtCode == Event.DataRead][0]
    assert (failed.EvtRetCode, failed.EvtParam1, failed.EvtParam2) == (
        EventResult.ErrAreaNotFound,
        0x84,
        99,
    )
    assert failed.EvtSender == "127.0.0.1"
    assert "DB99" in server.eventText(failed) and "not found" in server.eventText(failed)
    client.disconnect()


def test_events_follow_the_event_mask(loop, server):
    events: list = []
    server.event.connect(events.append)
    server.eventMask = int(S7Server.evcDataWrite | S7Server.evcClientDisconnected)
    client = pysnap7(server)
    in_thread(loop, lambda: client.db_write(2, 0, bytearray(b"\x01")))
    in_thread(loop, lambda: client.db_read(2, 0, 1))
    client.disconnect()
    assert loop.run_until(lambda: Event.ClientDisconnected in codes(events), WAIT)
    assert codes(events) == [Event.DataWrite, Event.ClientDisconnected]
    write = events[0]
    assert (write.EvtParam1, write.EvtParam2, write.EvtParam3, write.EvtParam4) == (0x84, 2, 0, 1)
    assert server.eventText(write).endswith("Write DB2, start 0, size 1: OK")


def test_max_clients_refuses_the_extra_client_with_its_event(loop):
    server = make_server(maxClients=1)
    events: list = []
    server.event.connect(events.append)
    first = pysnap7(server)
    assert loop.run_until(lambda: server.clientsCount == 1, WAIT)
    with pytest.raises(Exception):
        in_thread(loop, lambda: pysnap7(server))
    assert loop.run_until(lambda: Event.ClientRejected in codes(events), WAIT)
    rejected = [e for e in events if e.EvtCode == Event.ClientRejected][0]
    assert rejected.EvtSender == "127.0.0.1" and "refused" in server.eventText(rejected)
    assert in_thread(loop, lambda: first.db_read(1, 0, 3)) == DB1[:3]  # the first still served
    assert server.clientsCount == 1
    first.disconnect()
    assert loop.run_until(lambda: server.clientsCount == 0, WAIT)
    server.shutdown()


def test_lock_area_holds_clients_off_until_unlock(loop, server):
    client = pysnap7(server)
    assert server.lockArea(S7Server.srvAreaDB, 1)
    reading = Background(lambda: client.db_read(1, 0, 4))
    # Held: the read does not come back while the area is locked (bounded wait).
    assert not loop.run_until(lambda: reading.done, 0.5)
    # The application, which holds the lock, still writes the area.
    assert server.setArea(S7Server.srvAreaDB, 1, b"LOCK")
    assert not reading.done
    assert server.unlockArea(S7Server.srvAreaDB, 1)
    assert loop.run_until(lambda: reading.done, WAIT)
    assert reading.result() == bytearray(b"LOCK")
    # Other areas were never held.
    assert in_thread(loop, lambda: client.db_read(2, 0, 1)) == bytearray(1)
    client.disconnect()


def test_stop_wakes_a_client_held_by_a_locked_area(loop, server):
    client = pysnap7(server)
    server.lockArea("srvAreaMK", 0)
    reading = Background(lambda: client.mb_read(0, 2))
    assert not loop.run_until(lambda: reading.done, 0.3)
    assert server.stop()
    assert server_threads() == []
    assert loop.run_until(lambda: reading.done, WAIT)
    with pytest.raises(Exception):
        reading.result()


def test_resourceless_mode_answers_from_a_readwrite_handler(loop):
    server = make_server(resourceless=True, objects=[])
    calls: list = []

    def on_read_write(sender, operation, tag, buffer):
        calls.append((sender, operation, tag, bytes(buffer)))
        if operation == S7Server.operationRead:
            buffer[:] = bytes((tag.Start + i) & 0xFF for i in range(len(buffer)))

    server.readWrite.connect(on_read_write)
    client = pysnap7(server)
    assert in_thread(loop, lambda: client.db_read(7, 10, 4)) == bytearray(b"\x0a\x0b\x0c\x0d")
    in_thread(loop, lambda: client.db_write(3, 2, bytearray(b"abc")))
    assert in_thread(loop, lambda: client.read_area(PyArea.TM, 0, 3, 2)) == bytearray(
        b"\x03\x04\x05\x06"
    )
    (s1, op1, tag1, _), (s2, op2, tag2, buf2), (_, _, tag3, _) = calls
    assert (s1, op1, tuple(tag1)) == ("127.0.0.1", S7Server.operationRead, (0x84, 7, 10, 4, 0x02))
    assert (op2, tuple(tag2), buf2) == (S7Server.operationWrite, (0x84, 3, 2, 3, 0x02), b"abc")
    assert tuple(tag3) == (0x1D, 0, 3, 2, 0x1D)  # timers: element number and count
    client.disconnect()
    server.shutdown()


def test_resourceless_without_a_handler_or_an_answer_fails_the_item(loop):
    server = make_server(resourceless=True, readWriteTimeout=200, objects=[])
    client = pysnap7(server)
    with pytest.raises(Exception, match="(?i)does not exist"):  # nobody handles readWrite
        in_thread(loop, lambda: client.db_read(1, 0, 2))
    server.readWrite.connect(lambda s, o, t, buffer: buffer.__setitem__(slice(None), b"ok"))
    assert in_thread(loop, lambda: client.db_read(1, 0, 2)) == bytearray(b"ok")
    # The loop is not run now: the handler can not answer, the client's wait is bounded.
    reading = Background(lambda: client.db_read(1, 0, 2))
    assert reading.thread.join(WAIT) is None and reading.done
    with pytest.raises(Exception):
        reading.result()
    # A client waiting for the loop is woken by stop(), which joins its thread.
    server.readWriteTimeout = 60_000  # before the request: it waits with the bound it finds
    waiting = Background(lambda: client.db_read(1, 0, 2))
    assert not waiting.thread.join(0.2) and not waiting.done
    server.stop()
    assert server_threads() == [] and waiting.thread.join(WAIT) is None and waiting.done
    server.shutdown()


def test_python_callable_answers_resourceless_reads(loop):
    server = make_server(resourceless=True, objects=[])
    server.setReadWriteCallback(lambda sender, op, tag, buffer: b"\x42" * tag.Size)
    client = pysnap7(server)
    assert in_thread(loop, lambda: client.mb_read(0, 3)) == bytearray(b"\x42\x42\x42")
    client.disconnect()
    server.shutdown()


def test_area_data_written_by_the_app_is_what_clients_read(loop, server):
    db2 = area(server, "DB", 2)
    db2.data = bytes(range(16))
    client = pysnap7(server)
    assert in_thread(loop, lambda: client.db_read(2, 4, 4)) == bytearray(b"\x04\x05\x06\x07")
    with pytest.raises(ValueError, match="16 bytes"):
        db2.data = b"short"
    assert db2.data == bytes(range(16))
    client.disconnect()


def test_register_get_set_and_unregister_areas_and_their_errors(loop, server):
    assert server.registerArea(S7Server.srvAreaDB, 5, b"\x01\x02\x03")
    assert server.lastError == 0
    client = pysnap7(server)
    assert in_thread(loop, lambda: client.db_read(5, 0, 3)) == bytearray(b"\x01\x02\x03")
    assert not server.registerArea(S7Server.srvAreaDB, 5, 8)
    assert (
        server.lastError == S7Server.AreaAlreadyExists
        and server.error == S7Server.AreaAlreadyExists
    )
    assert server.errorText(server.lastError) == "SRV : Cannot register area since already exists"
    assert not server.registerArea(9, 0, 8) and server.error == S7Server.UnknownArea
    assert not server.registerArea("srvAreaMK", 0, 0) and server.error == S7Server.InvalidParams
    assert server.setArea(S7Server.srvAreaDB, 5, b"\xff", 2)
    assert server.getArea(S7Server.srvAreaDB, 5) == b"\x01\x02\xff"
    assert not server.setArea(S7Server.srvAreaDB, 5, b"\xff\xff", 2)  # does not fit
    assert server.unregisterArea(S7Server.srvAreaDB, 5)
    with pytest.raises(Exception, match="(?i)does not exist"):
        in_thread(loop, lambda: client.db_read(5, 0, 3))
    assert server.getArea(S7Server.srvAreaDB, 5) is None and server.error == S7Server.UnknownArea
    client.disconnect()


def test_params_by_number_and_name(loop, server):
    assert server.getParam(S7Server.PDURequest) == 480
    assert server.setParam(10, 240) and server.pduRequest == 240
    client = pysnap7(server)  # a new connection gets the new PDU size
    assert client.get_pdu_length() == 240
    client.disconnect()
    assert server.getParam("MaxClients") == 1024
    assert not server.setParam(S7Server.LocalPort, 2000)
    assert server.lastError == S7Server.CannotChangeParam
    assert server.getParam(99) is False and server.error == S7Server.InvalidParamNumber
    assert server.errorText(0x00700000) == "SRV : Invalid Param Number"


def test_start_on_a_port_in_use_sets_error_status(loop):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        server = make_server(localPort=taken.getsockname()[1], autoStart=False)
        events: list = []
        server.event.connect(events.append)
        assert server.status == S7Server.Stopped
        assert server.start() is False
        assert server.status == S7Server.Error and server.error == S7Server.CannotStart
        assert server.lastError == S7Server.CannotStart | errno.EADDRINUSE
        assert server.errorText(server.lastError).startswith("SRV : Server cannot start TCP : ")
        assert loop.run_until(lambda: Event.ListenerCannotStart in codes(events), WAIT)
        assert "listener cannot start" in server.eventText(events[-1])
    assert server.startTo("127.0.0.1") and server.status == S7Server.Running
    assert server.error == S7Server.NoError
    server.shutdown()


def test_stop_ends_every_client_and_joins_every_thread(loop, server):
    events: list = []
    server.event.connect(events.append)
    clients = [pysnap7(server) for _ in range(3)]
    assert loop.run_until(lambda: server.clientsCount == 3, WAIT)
    assert 2 <= len(server_threads()) <= 1 + 4  # the hub and some of the pool's 4 workers
    assert server.stop()
    assert server_threads() == []
    assert server.status == S7Server.Stopped and server.clientsCount == 0
    assert loop.run_until(lambda: Event.ServerStopped in codes(events), WAIT)
    tail = codes(events)[-4:]
    assert tail == [Event.ClientTerminated] * 3 + [Event.ServerStopped]
    assert server.start() and server.status == S7Server.Running  # and it starts again
    for client in clients:
        client.disconnect()
    with pytest.raises(Exception):  # the dropped clients' sockets are closed
        in_thread(loop, lambda: clients[0].db_read(1, 0, 1))


def test_a_server_in_python_code_with_registered_memory(loop):
    """Without S7ServerArea children: registerArea in Python, like node-snap7."""
    server = make_server(autoStart=False, objects=[])
    assert server.registerArea("DB", 1, bytearray(b"\x10\x20"))
    assert server.start()
    client = pysnap7(server)
    assert in_thread(loop, lambda: client.db_read(1, 0, 2)) == bytearray(b"\x10\x20")
    client.disconnect()
    server.shutdown()
    assert server_threads() == []


def test_s7serverarea_takes_its_size_from_data_and_moves_on_change(loop):
    db = S7ServerArea(area="DB", index=3, data=b"\x01\x02")
    server = make_server(objects=[db])
    assert db.size == 2
    client = pysnap7(server)
    assert in_thread(loop, lambda: client.db_read(3, 0, 2)) == bytearray(b"\x01\x02")
    db.index = 4
    db.size = 4
    assert db.data == b"\x01\x02\x00\x00"
    assert in_thread(loop, lambda: client.db_read(4, 0, 4)) == bytearray(b"\x01\x02\x00\x00")
    with pytest.raises(Exception, match="(?i)does not exist"):
        in_thread(loop, lambda: client.db_read(3, 0, 2))
    client.disconnect()
    server.shutdown()
