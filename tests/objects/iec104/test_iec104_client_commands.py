"""Commands from IEC104Connection's points: writing a command point's value sends the
command, direct or select-before-operate (`commandMode`), and the outcome is the
station's: confirmed (a positive actcon) leaves the point without error, refused (a
negative actcon from c104's command callback, an unknown address) or unanswered (a station
that never confirms) sets the point's `error` to CommandError with the reason. Judged by
what c104's Server received and its callback saw."""

# no `from __future__ import annotations`: the support module defines c104 callbacks

from test_iec104_client_support import (  # noqa: F401  (fixtures)
    WAIT,
    loop,
    make_connection,
    needs_proc,
    quiet_station,
    record_errors,
    station,
    until,
)

from incore.core import engine
from incore.objects.iec104.point import IEC104Point
from incore.protocols.iec104 import Cause, TypeId

pytestmark = needs_proc

COMMANDS = [
    dict(ioa=2001, type="C_SC_NA_1"),
    dict(ioa=2002, type="C_SE_NC_1"),
    dict(ioa=2003, type="C_DC_NA_1", commandMode="SelectAndExecute"),
]


def _finished(connection):
    """Every commandFinished of `connection` as (ioa, ok, reason)."""
    seen = []
    connection.commandFinished.connect(lambda p, ok, why: seen.append((p.ioa, ok, why)))
    return seen


def _commands(station, type_id, count=1):
    """The commands of `type_id` c104 received, once there are `count` (its raw-frame
    callback may run after its command callback)."""
    found = []

    def enough():
        found[:] = [a for a in station.asdus_received() if a.type_id == type_id]
        return len(found) >= count

    until(enough)
    return found


def _answers(station, type_id, count=1):
    """The frames of `type_id` c104 sent, once there are `count`."""
    found = []

    def enough():
        found[:] = [a for a in station.asdus_sent() if a.type_id == type_id]
        return len(found) >= count

    until(enough)
    return found


def test_direct_commands_are_sent_once_and_confirmed(loop, station, make_connection):
    connection = make_connection(station.port, COMMANDS)
    finished = _finished(connection)
    switch, setpoint = connection.getPoint(2001), connection.getPoint(2002)
    switch.value = True
    setpoint.data = 42.5
    assert loop.run_until(lambda: len(finished) == 2, WAIT), finished
    assert sorted(finished) == [(2001, True, ""), (2002, True, "")]
    assert sorted(station.commands) == [(2001, True, False), (2002, 42.5, False)]
    (sent,) = _commands(station, TypeId.C_SC_NA_1)
    assert sent.cause == Cause.ACTIVATION and sent.common_address == 1
    assert (sent.objects[0].value, sent.objects[0].select) == (True, False)
    (sent,) = _commands(station, TypeId.C_SE_NC_1)
    assert sent.objects[0].value == 42.5
    confirms = _answers(station, 45)
    assert [(a.cause, a.negative) for a in confirms][0] == (Cause.ACTIVATION_CON, False)
    assert switch.error == IEC104Point.NoError and setpoint.error == IEC104Point.NoError
    # the same value again is a command again (a pulse, a repeated set-point)
    switch.value = True
    assert loop.run_until(lambda: len(finished) == 3, WAIT)
    assert len(_commands(station, TypeId.C_SC_NA_1, 2)) == 2


def test_select_before_operate(loop, station, make_connection):
    connection = make_connection(station.port, COMMANDS)
    finished = _finished(connection)
    breaker = connection.getPoint(2003)
    breaker.value = 2  # ON
    assert loop.run_until(lambda: finished, WAIT)
    assert finished == [(2003, True, "")]
    sent = _commands(station, TypeId.C_DC_NA_1, 2)
    assert [(a.objects[0].select, a.objects[0].value) for a in sent] == [(True, 2), (False, 2)]
    answers = _answers(station, TypeId.C_DC_NA_1, 2)
    assert [(a.cause, a.negative, a.objects[0].select) for a in answers][:2] == [
        (Cause.ACTIVATION_CON, False, True),
        (Cause.ACTIVATION_CON, False, False),
    ]
    # c104 answers the select itself; its callback sees the execute only
    assert [(ioa, select) for ioa, _, select in station.commands] == [(2003, False)]


def test_a_refused_command_sets_the_point_error(loop, station, make_connection):
    connection = make_connection(station.port, COMMANDS)
    finished = _finished(connection)
    switch, breaker = connection.getPoint(2001), connection.getPoint(2003)
    errors = record_errors(switch)
    station.refuse.update({2001, 2003})
    switch.value = False
    assert loop.run_until(lambda: finished, WAIT)
    assert finished[0][:2] == (2001, False) and "negative" in finished[0][2]
    assert switch.error == IEC104Point.CommandError and len(errors) == 1
    assert "CA 1 IOA 2001" in switch.errorString
    refusal = _answers(station, TypeId.C_SC_NA_1)
    assert [(a.cause, a.negative) for a in refusal] == [(Cause.ACTIVATION_CON, True)]
    # select and execute: c104 confirms the select itself and refuses the execute
    breaker.value = 1
    assert loop.run_until(lambda: len(finished) == 2, WAIT)
    assert finished[1][:2] == (2003, False) and breaker.error == IEC104Point.CommandError
    sent = _commands(station, TypeId.C_DC_NA_1, 2)
    assert [a.objects[0].select for a in sent] == [True, False]
    answers = _answers(station, TypeId.C_DC_NA_1, 2)
    # (c104 may follow the refusal with an actterm, COT 10: a quirk our client ignores)
    assert [(a.cause, a.negative) for a in answers][:2] == [(7, False), (7, True)]
    # accepted again: the error is over
    station.refuse.clear()
    switch.value = True
    assert loop.run_until(lambda: len(finished) == 3, WAIT)
    assert finished[2] == (2001, True, "") and switch.error == IEC104Point.NoError
    assert connection.error == connection.NoError  # the station refused, the link is fine


def test_a_command_to_an_unknown_address_is_refused(loop, station, make_connection):
    connection = make_connection(station.port, [dict(ioa=7777, type="C_SC_NA_1")])
    finished = _finished(connection)
    unexpected = []
    connection.unexpectedMessage.connect(lambda m, why: unexpected.append((m.cause, why)))
    connection.getPoint(7777).value = True
    assert loop.run_until(lambda: finished, WAIT)
    assert finished[0][:2] == (7777, False)
    # c104 answers twice (a negative actcon, then COT 47): the second is unexpected
    assert until(lambda: any(a.cause == Cause.UNKNOWN_IOA for a in station.asdus_sent()))
    assert loop.run_until(lambda: unexpected, WAIT)
    assert unexpected[0][0] == Cause.UNKNOWN_IOA


def test_a_command_nobody_confirms_times_out(loop, quiet_station, make_connection):
    connection = make_connection(quiet_station.port, COMMANDS, timeout=300)
    finished = _finished(connection)
    switch = connection.getPoint(2001)
    switch.value = True
    assert loop.run_until(lambda: finished, WAIT)
    assert finished[0][:2] == (2001, False) and "no confirmation" in finished[0][2]
    assert switch.error == IEC104Point.CommandError
    assert [a.objects[0].ioa for a in quiet_station.commands] == [2001]
    assert connection.connected  # a missing confirmation does not close the link


def test_a_command_without_a_link_fails_at_once(loop, make_connection):
    connection = make_connection(1, COMMANDS, connect=False, autoConnect=False)
    finished = _finished(connection)
    switch = connection.getPoint(2001)
    switch.value = True
    assert loop.run_until(lambda: finished, WAIT)
    assert finished[0][:2] == (2001, False) and "not connected" in finished[0][2]
    assert switch.error == IEC104Point.CommandError


def test_python_api_command_future(loop, station, make_connection):
    connection = make_connection(station.port, COMMANDS)
    future = connection.command(connection.getPoint(2002), -3.25)
    assert loop.run_until(future.done, WAIT)
    assert future.result().ok and station.commands == [(2002, -3.25, False)]
    future = connection.command(connection.getPoint(2001), True, select=True)
    assert loop.run_until(future.done, WAIT)
    # c104's point 2001 is direct only: it refuses a select, and no execute follows
    assert not future.result().ok and "negative" in future.result().reason
    sent = _commands(station, TypeId.C_SC_NA_1)
    assert [a.objects[0].select for a in sent] == [True]
    switch = connection.getPoint(2001)  # (the future is done before its `then` ran)
    assert loop.run_until(lambda: switch.error == IEC104Point.CommandError, WAIT)


def test_every_write_is_a_command_in_the_order_written(loop, station, make_connection):
    connection = make_connection(station.port, COMMANDS)
    finished = _finished(connection)
    switch = connection.getPoint(2001)

    def pulse():  # a handler that pulses the switch: two writes in one wave
        switch.value = True
        switch.value = False

    engine.schedule_call(pulse, ())
    assert loop.run_until(lambda: len(finished) == 2, WAIT), finished
    assert station.commands == [(2001, True, False), (2001, False, False)]
    assert [a.objects[0].value for a in _commands(station, TypeId.C_SC_NA_1, 2)] == [True, False]
    # ...and one write is one command: a third write, a third command, not a fourth
    switch.value = True
    assert loop.run_until(lambda: len(finished) == 3, WAIT), finished
    assert len(_commands(station, TypeId.C_SC_NA_1, 3)) == 3
    assert len(station.commands) == 3 and switch.error == IEC104Point.NoError
