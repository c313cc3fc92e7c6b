"""What IEC104Connection sends must dissect cleanly in Wireshark's iec60870_104 and
iec60870_asdu dissectors, as the server's does (test_iec104_server_tshark.py): a traced
session against c104's Server (STARTDT and the interrogation on connect, a group and a
counter interrogation, read, clock sync, a link test, STOPDT and STARTDT again, and a
command of every command type, with and without time tag, direct and select-before-operate)
is read back by `tshark`, which must flag nothing in either direction."""

# no `from __future__ import annotations`: the support module defines c104 callbacks

import sys
from pathlib import Path

from test_iec104_client_support import (  # noqa: F401  (fixtures)
    WAIT,
    loop,
    make_connection,
    needs_proc,
    station,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "transport"))
from test_trace import tshark  # noqa: E402

from incore.objects.iec104.point_types import COMMANDS, UNTIMED  # noqa: E402
from incore.transport import trace  # noqa: E402

pytestmark = needs_proc

#: A value each command type takes (set-points: 0.5 normalised, 7 scaled, 1.5 float).
_VALUE = {45: True, 46: 2, 47: 1, 48: 0.5, 49: 7, 50: 1.5, 51: 0xA5}


def test_tshark_finds_nothing_malformed_in_what_the_client_sends(
    loop, station, make_connection, tmp_path
):
    capture = tmp_path / "iec104-client.pcap"
    points = [dict(ioa=1001, type="M_ME_NC_1"), dict(ioa=1005, type="M_IT_NA_1")]
    for type_id in sorted(COMMANDS):  # c104 has none of these: each is refused, still sent
        mode = "SelectAndExecute" if type_id in (46, 59) else "Direct"
        points.append(dict(ioa=3000 + type_id, type=type_id, commandMode=mode))
    finished: list = []
    with trace.trace_to(str(capture)) as tracer:
        connection = make_connection(station.port, points)
        connection.commandFinished.connect(lambda p, ok, why: finished.append(p.ioa))
        for future in (
            connection.interrogation(group=1),
            connection.counterInterrogation(),
            connection.read(1001),
            connection.clockSync(),
            connection.test(),
            connection.mute(),
        ):
            assert loop.run_until(future.done, WAIT)
        assert loop.run_until(connection.unmute().done, WAIT)
        for type_id in sorted(COMMANDS):  # a time-tagged form is 13 above its plain one
            connection.getPoint(3000 + type_id).value = _VALUE[UNTIMED.get(type_id, type_id)]
        assert loop.run_until(lambda: len(finished) == len(COMMANDS), WAIT), finished
        connection.shutdown()
    assert tracer.flows == 1
    assert len(tshark(capture, "iec60870_104 && tcp.dstport == 2404")) >= 20
    assert tshark(capture, "tcp.len > 0 && !iec60870_104 && !tcp.reassembled_in") == []
    assert tshark(capture, "_ws.malformed || _ws.expert.severity >= warning") == []
    rows = tshark(capture, "iec60870_asdu && tcp.dstport == 2404", "iec60870_asdu.typeid")
    types = {int(kind) for row in rows for kind in row[0].split(",")}
    assert set(COMMANDS) | {100, 101, 102, 103} <= types, types
    rows = tshark(capture, "iec60870_104.utype && tcp.dstport == 2404", "iec60870_104.utype")
    utypes = {int(kind, 0) for row in rows for kind in row[0].split(",")}
    assert {0x01, 0x04, 0x10} <= utypes, utypes  # STARTDT, STOPDT and TESTFR act
