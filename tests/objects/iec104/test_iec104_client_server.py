"""Our IEC104Connection against our IEC104Server: the pairing c104 cannot test for us.
Group interrogation (c104's server lacks it), a Bad value arriving as IV and Bad, every
command type with and without time tag (the bitstring commands have no S/E bit and are
always sent direct), select-before-operate, and a handler's refusal as the point's error."""

from __future__ import annotations

from test_iec104_client_support import make_connection  # noqa: F401  (fixture)
from test_iec104_server_support import WAIT, loop, make_server, point  # noqa: F401

from incore.core import engine
from incore.objects.foundation.data import Quality
from incore.objects.iec104 import IEC104Point
from incore.objects.iec104.point_types import COMMANDS, UNTIMED

#: A value each command type takes, by its form without time tag.
_VALUE = {45: True, 46: 2, 47: 1, 48: 0.5, 49: 7, 50: 1.5, 51: 0xA5}


def _commands() -> list:
    return [
        (3000 + t, t, None, {"commandMode": "SelectAndExecute"} if t in (46, 62) else {})
        for t in sorted(COMMANDS)
    ]


def test_group_interrogation_and_a_bad_value(loop, make_connection):
    server = make_server()
    connection = make_connection(server.port, interrogateOnConnect=False)
    assert loop.run_until(connection.interrogation(group=2).done, WAIT)
    assert loop.run_until(lambda: len(connection.points) == 2, WAIT)
    assert sorted(p.ioa for p in connection.points) == [101, 200]  # group 2 only
    mirrored = connection.getPoint(200)
    assert mirrored.data == 0.5 and mirrored.quality == Quality.Good
    source = point(server, 200)
    source._set_quality(Quality.Bad, "sensor lost")  # sent spontaneously with IV
    assert loop.run_until(lambda: mirrored.quality == Quality.Bad, WAIT)
    assert mirrored.qualityFlags & IEC104Point.Flag.IV


def test_every_command_type_is_confirmed_and_stored(loop, make_connection):
    server = make_server(_commands(), selectTimeout=2000)
    points = [dict(ioa=ioa, type=t, **extra) for ioa, t, _, extra in _commands()]
    connection = make_connection(server.port, points)
    finished: list = []
    connection.commandFinished.connect(lambda p, ok, why: finished.append((p.ioa, ok, why)))
    for ioa, type_id, _, _ in _commands():
        connection.getPoint(ioa).value = _VALUE[UNTIMED.get(type_id, type_id)]
    assert loop.run_until(lambda: len(finished) == len(COMMANDS), WAIT), finished
    assert [f for f in finished if not f[1]] == []
    # a command finishes with its actcon; the station stores it after confirming it
    expected = {ioa: _VALUE[UNTIMED.get(type_id, type_id)] for ioa, type_id, _, _ in _commands()}
    stored = lambda: {ioa: point(server, ioa).data for ioa in expected}  # noqa: E731
    assert loop.run_until(lambda: stored() == expected, WAIT), stored()


def test_a_refused_command_is_the_points_error_until_one_is_accepted(loop, make_connection):
    server = make_server()
    pump = point(server, 500)
    refuse = [True]

    def decide(message):
        if refuse[0]:
            message.refuse("the level is low")

    pump.received.connect(decide)
    connection = make_connection(server.port, [dict(ioa=500, type="C_SC_NA_1")])
    mirror = connection.getPoint(500)
    mirror.value = True
    assert loop.run_until(lambda: mirror.error == IEC104Point.CommandError, WAIT)
    assert pump.data is False and "negative" in mirror.errorString
    refuse[0] = False
    engine.schedule_call(setattr, (mirror, "value", True))
    assert loop.run_until(lambda: pump.data is True, WAIT)
    assert loop.run_until(lambda: mirror.error == IEC104Point.NoError, WAIT)
