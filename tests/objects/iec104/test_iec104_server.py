"""IEC104Server's procedures, judged by the frames on the wire (a RawMaster written with our
codec): interrogation (general, groups, counters), read, test, clock sync, commands direct
and select-before-operate, refusals, and the one negative frame for each unknown thing."""

from __future__ import annotations

import datetime
import threading

from test_iec104_server_support import (  # noqa: F401  (fixtures)
    WAIT,
    _close_masters,
    connect,
    loop,
    make_server,
    point,
    wait,
)

from incore.protocols.iec104 import (
    Asdu,
    Cause,
    ClockSync,
    CounterInterrogation,
    Cp56Time,
    DoubleCommand,
    Interrogation,
    ReadCommand,
    SetpointScaled,
    SingleCommand,
    StepCommand,
    TestCommand,
    TypeId,
)

ACT, CON, TERM = Cause.ACTIVATION, Cause.ACTIVATION_CON, Cause.ACTIVATION_TERMINATION


def values(asdus: list[Asdu]) -> dict[int, object]:
    return {o.ioa: o.value for a in asdus for o in a.objects}


def test_general_interrogation_answers_every_monitoring_point(loop):
    server = make_server()
    m = connect(loop, server)
    m.send(Asdu(TypeId.C_IC_NA_1, ACT, 1, (Interrogation(0, 20),)))
    wait(loop, lambda: m.find(100, TERM))
    kinds = [(a.type_id, a.cause) for a in m.asdus]
    assert kinds[0] == (100, CON) and kinds[-1] == (100, TERM)
    data = m.asdus[1:-1]
    assert {a.cause for a in data} == {20}
    # each point in its own type (a client that keys points by type sees one type per
    # point, as from c104's server); counters are not part of a general interrogation
    assert {a.type_id for a in data} == {1, 31, 5, 7, 9, 11, 13, 36}
    assert values(data) == {
        100: True,
        101: 2,
        102: -5,
        103: 0xDEADBEEF,
        200: 0.5,
        201: -1234,
        202: 23.5,
        203: 1.25,
    }
    assert [o.time is not None for a in data if a.type_id == 36 for o in a.objects] == [True]


def test_group_interrogation_answers_only_the_group(loop):
    server = make_server()
    m = connect(loop, server)
    m.send(Asdu(TypeId.C_IC_NA_1, ACT, 1, (Interrogation(0, 22),)))  # group 2
    wait(loop, lambda: m.find(100, TERM))
    data = [a for a in m.asdus if a.type_id != 100]
    assert {a.cause for a in data} == {22}
    assert values(data) == {101: 2, 200: 0.5}
    m.send(Asdu(TypeId.C_IC_NA_1, ACT, 1, (Interrogation(0, 37),)))  # no such group
    wait(loop, lambda: m.find(100, CON, negative=True))


def test_counter_interrogation(loop):
    server = make_server()
    m = connect(loop, server)
    m.send(Asdu(TypeId.C_CI_NA_1, ACT, 1, (CounterInterrogation(0, 5, 0),)))
    wait(loop, lambda: m.find(101, TERM))
    data = [a for a in m.asdus if a.type_id in (15, 37)]
    assert {a.cause for a in data} == {37}
    assert values(data) == {300: 1000, 301: 2000}
    m.send(Asdu(TypeId.C_CI_NA_1, ACT, 1, (CounterInterrogation(0, 1, 0),)))  # group 1
    wait(loop, lambda: len(m.find(101, TERM)) == 2)
    assert values(m.find(15, 38)) == {300: 1000} and not m.find(37, 38)


def test_read_answers_the_point_or_one_negative_frame(loop):
    server = make_server()
    m = connect(loop, server)
    m.send(Asdu(TypeId.C_RD_NA_1, Cause.REQUEST, 1, (ReadCommand(202),)))
    wait(loop, lambda: m.find(13, Cause.REQUEST))
    assert values(m.find(13, Cause.REQUEST)) == {202: 23.5}
    m.send(Asdu(TypeId.C_RD_NA_1, Cause.REQUEST, 1, (ReadCommand(9999),)))
    wait(loop, lambda: m.find(102, Cause.UNKNOWN_IOA, negative=True))
    loop.run_until(lambda: False, 0.1)
    assert [a.type_id for a in m.asdus] == [13, 102]  # exactly one frame for the unknown IOA


def test_unknown_type_cause_common_address_and_ioa_each_get_one_negative_frame(loop):
    server = make_server()
    seen = []
    server.unexpectedMessage.connect(lambda message, cause: seen.append(cause))
    server.stop()
    server.start()  # the workers learn that someone listens at the start
    m = connect(loop, server)
    m.send(bytes([99, 1, 6, 0, 1, 0, 0, 0, 0, 0]))  # type 99 does not exist
    m.send(Asdu(TypeId.C_IC_NA_1, Cause.SPONTANEOUS, 1, (Interrogation(0, 20),)))
    m.send(Asdu(TypeId.C_IC_NA_1, ACT, 7, (Interrogation(0, 20),)))
    m.send(Asdu(TypeId.C_SC_NA_1, ACT, 1, (SingleCommand(7777, True),)))
    m.send(Asdu(TypeId.C_IC_NA_1, ACT, 1, (Interrogation(5, 20),)))
    m.send(Asdu(TypeId.C_SC_NA_1, ACT, 1, (SingleCommand(200, True),)))  # a float point
    wait(loop, lambda: len(m.asdus) >= 6)
    loop.run_until(lambda: False, 0.1)
    got = [(a.type_id, a.cause, a.negative) for a in m.asdus]
    assert got == [
        (99, Cause.UNKNOWN_TYPE, True),
        (100, Cause.UNKNOWN_CAUSE, True),
        (100, Cause.UNKNOWN_COMMON_ADDRESS, True),
        (45, Cause.UNKNOWN_IOA, True),
        (100, Cause.UNKNOWN_IOA, True),
        (45, Cause.UNKNOWN_TYPE, True),
    ]
    wait(loop, lambda: len(seen) == 6)
    assert seen == [
        "UnknownTypeId",
        "UnknownCause",
        "UnknownCommonAddress",
        "UnknownIoa",
        "UnknownIoa",
        "MismatchedTypeId",
    ]
    assert server.openConnectionCount == 1  # none of them closes the link


def test_direct_commands_change_data_and_confirm(loop):
    server = make_server()
    m = connect(loop, server)
    received = []
    point(server, 500).received.connect(lambda message: received.append(message.value))
    m.send(Asdu(TypeId.C_SC_NA_1, ACT, 1, (SingleCommand(500, True),)))
    m.send(Asdu(TypeId.C_DC_NA_1, ACT, 1, (DoubleCommand(501, 2),)))
    m.send(Asdu(TypeId.C_RC_NA_1, ACT, 1, (StepCommand(502, 2),)))
    wait(loop, lambda: len(m.find(47, TERM)) == 1)
    for tid in (45, 46, 47):
        assert [a.cause for a in m.asdus if a.type_id == tid] == [CON, TERM]
        assert not any(a.negative for a in m.asdus if a.type_id == tid)
    assert (point(server, 500).data, point(server, 501).data, point(server, 502).data) == (
        True,
        2,
        2,
    )
    assert received == [True]


def test_a_command_no_one_can_refuse_is_confirmed_at_once_and_terminated_once_stored(loop):
    """No received handler and no callback: the worker confirms the command without waiting
    for the loop (here busy: something is queued on it and nobody runs it); the loop stores
    the value, and only then does the termination go out."""
    server = make_server()
    m = connect(loop, server)
    loop.post(lambda: None)  # the loop is behind: the worker must not run the command itself
    m.send(Asdu(TypeId.C_SC_NA_1, ACT, 1, (SingleCommand(500, True),)))
    assert m.wait_until(lambda: m.find(45, CON))
    assert not m.find(45, CON)[0].negative
    assert point(server, 500).data is False and not m.find(45, TERM)  # the loop has not run
    wait(loop, lambda: m.find(45, TERM))
    assert point(server, 500).data is True
    assert [a.cause for a in m.asdus if a.type_id == 45] == [CON, TERM]


def test_an_idle_loop_is_lent_to_the_worker_that_received_a_command(loop):
    """Nothing queued on the loop and no thread running it: the worker that received the
    command runs the loop's part itself (EventLoop.run_or_post), so it is stored and
    terminated, and its handlers ran, before this thread dispatches anything at all."""
    server = make_server()
    m = connect(loop, server)
    ran_on: list[int] = []
    point(server, 500).dataChanged.connect(lambda value: ran_on.append(threading.get_ident()))
    point(server, 501).setReceivedCallback(lambda p, message: True)
    m.send(Asdu(TypeId.C_SC_NA_1, ACT, 1, (SingleCommand(500, True),)))
    m.send(Asdu(TypeId.C_DC_NA_1, ACT, 1, (DoubleCommand(501, 2),)))
    assert m.wait_until(lambda: m.find(46, TERM))  # no wait(loop, ...): nobody dispatches
    assert [(a.type_id, a.cause) for a in m.asdus] == [(45, CON), (45, TERM), (46, CON), (46, TERM)]
    assert point(server, 500).data is True and point(server, 501).data == 2
    assert ran_on and ran_on[0] != threading.get_ident()


def test_a_handler_or_callback_refuses_a_command(loop):
    server = make_server()
    m = connect(loop, server)
    point(server, 500).received.connect(lambda message: message.refuse("interlocked"))
    point(server, 501).setReceivedCallback(lambda p, message: message.value != 2)
    m.send(Asdu(TypeId.C_SC_NA_1, ACT, 1, (SingleCommand(500, True),)))
    m.send(Asdu(TypeId.C_DC_NA_1, ACT, 1, (DoubleCommand(501, 2),)))
    m.send(Asdu(TypeId.C_DC_NA_1, ACT, 1, (DoubleCommand(501, 1),)))
    wait(loop, lambda: m.find(46, TERM))
    assert [(a.type_id, a.cause, a.negative) for a in m.asdus] == [
        (45, CON, True),
        (46, CON, True),
        (46, CON, False),
        (46, TERM, False),
    ]
    assert point(server, 500).data is False and point(server, 501).data == 1


def test_select_before_operate(loop):
    server = make_server(selectTimeout=300)
    m = connect(loop, server)
    sbo = point(server, 504)
    execute = Asdu(TypeId.C_SE_NB_1, ACT, 1, (SetpointScaled(504, 77),))
    select = Asdu(TypeId.C_SE_NB_1, ACT, 1, (SetpointScaled(504, 77, select=True),))
    m.send(execute)  # not selected: refused
    wait(loop, lambda: m.find(49, CON))
    assert m.asdus[-1].negative and sbo.data == 0
    m.send(select)
    wait(loop, lambda: len(m.find(49, CON)) == 2)
    assert not m.asdus[-1].negative and m.asdus[-1].objects[0].select and sbo.data == 0
    m.send(execute)
    wait(loop, lambda: m.find(49, TERM))
    assert sbo.data == 77
    assert [a.negative for a in m.find(49, CON)] == [True, False, False]
    # a selection times out
    m.send(select._replace(objects=(SetpointScaled(504, 5, select=True),)))
    wait(loop, lambda: len(m.find(49, CON)) == 4)
    loop.run_until(lambda: False, 0.4)
    m.send(execute._replace(objects=(SetpointScaled(504, 5),)))
    wait(loop, lambda: len(m.find(49, CON)) == 5)
    assert m.find(49, CON)[-1].negative and sbo.data == 77
    # deactivation cancels a selection
    m.send(select)
    wait(loop, lambda: len(m.find(49, CON)) == 6)
    m.send(select._replace(cause=Cause.DEACTIVATION))
    wait(loop, lambda: m.find(49, Cause.DEACTIVATION_CON))
    assert not m.find(49, Cause.DEACTIVATION_CON)[0].negative
    m.send(execute)
    wait(loop, lambda: len(m.find(49, CON)) == 7)
    assert m.find(49, CON)[-1].negative and sbo.data == 77


def test_a_selection_belongs_to_one_client(loop):
    server = make_server(selectTimeout=5000)
    a, b = connect(loop, server), connect(loop, server)
    select = Asdu(TypeId.C_SE_NB_1, ACT, 1, (SetpointScaled(504, 9, select=True),))
    a.send(select)
    wait(loop, lambda: a.find(49, CON))
    b.send(select)
    wait(loop, lambda: b.find(49, CON))
    assert not a.find(49, CON)[0].negative and b.find(49, CON)[0].negative
    b.send(Asdu(TypeId.C_SE_NB_1, ACT, 1, (SetpointScaled(504, 9),)))
    wait(loop, lambda: len(b.find(49, CON)) == 2)
    assert b.find(49, CON)[1].negative and point(server, 504).data == 0


def test_related_point_is_sent_back_with_return_remote(loop):
    server = make_server()
    m = connect(loop, server)
    m.send(Asdu(TypeId.C_SC_NA_1, ACT, 1, (SingleCommand(505, True),)))
    wait(loop, lambda: m.find(45, TERM))
    kinds = [(a.type_id, a.cause) for a in m.asdus]
    assert kinds == [(45, CON), (1, Cause.RETURN_REMOTE), (45, TERM)]


def test_clock_sync_signal_and_refusal(loop):
    server = make_server()
    synced = []
    server.clockSync.connect(lambda ip, dateTime: synced.append((ip, dateTime)))
    m = connect(loop, server)
    moment = datetime.datetime(2024, 3, 15, 14, 30, 45, 123000, tzinfo=datetime.timezone.utc)
    sync = Asdu(TypeId.C_CS_NA_1, ACT, 1, (ClockSync(0, Cp56Time.from_datetime(moment)),))
    m.send(sync)
    wait(loop, lambda: m.find(103, CON))
    assert not m.find(103, CON)[0].negative
    assert synced == [("127.0.0.1", moment)]
    server.setClockSyncCallback(lambda srv, ip, when: False)
    m.send(sync)
    wait(loop, lambda: len(m.find(103, CON)) == 2)
    assert m.find(103, CON)[1].negative and len(synced) == 1


def test_test_command_is_mirrored(loop):
    server = make_server()
    m = connect(loop, server)
    now = Cp56Time.from_datetime(datetime.datetime(2024, 1, 2, 3, 4, 5))
    m.send(Asdu(TypeId.C_TS_TA_1, ACT, 1, (TestCommand(0, 0x55AA, now),)))
    wait(loop, lambda: m.find(107, CON))
    assert m.find(107, CON)[0].objects == (TestCommand(0, 0x55AA, now),)


def test_broadcast_interrogation_answers_every_station(loop):
    server = make_server([(1, "M_SP_NA_1", True, {})])
    server.addStation(2).addPoint(7, "M_ME_NC_1")
    m = connect(loop, server)
    m.send(Asdu(TypeId.C_IC_NA_1, ACT, 0xFFFF, (Interrogation(0, 20),)))
    wait(loop, lambda: len(m.find(100, TERM)) == 2)
    assert [(a.common_address, a.cause) for a in m.find(100)] == [
        (1, CON),
        (1, TERM),
        (2, CON),
        (2, TERM),
    ]
    answer = m.find(13, 20)[0].objects[0]
    assert answer.ioa == 7 and answer.quality & 0x80  # no value yet: invalid
    m.send(Asdu(TypeId.C_RD_NA_1, Cause.REQUEST, 0xFFFF, (ReadCommand(1),)))
    wait(loop, lambda: m.find(102, Cause.UNKNOWN_COMMON_ADDRESS, negative=True))


def test_connection_counts(loop):
    server = make_server()
    assert WAIT and server.openConnectionCount == 0 and not server.hasOpenConnections
    m = connect(loop, server, start=False)
    wait(loop, lambda: server.openConnectionCount == 1)
    assert server.hasOpenConnections and not server.hasActiveConnections
    m.startdt()
    wait(loop, lambda: server.activeConnectionCount == 1)
    m.stopdt()
    wait(loop, lambda: server.activeConnectionCount == 0)
    m.close()
    wait(loop, lambda: server.openConnectionCount == 0)


def test_explain_bytes_and_the_raw_signals(loop):
    server = make_server()
    received, sent = [], []
    server.receiveRaw.connect(received.append)
    server.sendRaw.connect(sent.append)
    server.stop()
    server.start()  # the workers learn that someone listens at the start
    m = connect(loop, server)
    m.send(Asdu(TypeId.C_RD_NA_1, Cause.REQUEST, 1, (ReadCommand(202),)))
    wait(loop, lambda: m.find(13, Cause.REQUEST))
    wait(loop, lambda: len(sent) >= 2)
    assert received[0] == bytes.fromhex("680407000000")  # STARTDT act, as the client sent it
    assert server.explainBytes(received[0]) == "U-frame STARTDT_ACT"
    answer = server.explainBytes(sent[-1])
    assert answer.startswith("I-frame N(S) 0 N(R) 1: M_ME_NC_1 cause REQUEST CA 1")
    assert "IOA 202 value=23.5" in answer
    assert server.explainBytes(b"\x68\x01").startswith("not an APDU")
    assert "INTERROGATED_BY_GROUP_2" in server.explainBytes(
        bytes.fromhex("680e0000000001011600010000010000")
    )
