"""A traced IEC104Server session, read back by tshark's iec60870_104 and iec60870_asdu
dissectors: STARTDT, an interrogation, commands and spontaneous values, every segment
dissected and none flagged.

The peer is tests/objects/iec104's RawMaster (a plain socket: only the server's end is
traced). The server says itself which port speaks IEC 104 (`speaks` in its `_started`).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "objects" / "iec104"))

from test_iec104_server_support import (  # noqa: E402, F401  (fixtures)
    _close_masters,
    connect,
    loop,
    make_server,
    point,
    wait,
)
from test_trace import tshark  # noqa: E402

from incore.protocols.iec104 import (  # noqa: E402
    Asdu,
    Cause,
    Interrogation,
    SingleCommand,
    TypeId,
)
from incore.transport import trace  # noqa: E402


def test_an_iec104_server_session_dissects_cleanly(loop, tmp_path: Path):
    capture = tmp_path / "iec104.pcap"
    with trace.trace_to(str(capture)) as tracer:
        server = make_server()
        master = connect(loop, server)
        master.send(Asdu(TypeId.C_IC_NA_1, Cause.ACTIVATION, 1, (Interrogation(0, 20),)))
        master.send(Asdu(TypeId.C_SC_NA_1, Cause.ACTIVATION, 1, (SingleCommand(505, True),)))
        for n, value in enumerate((1.5, 2.5, 3.5), 1):
            point(server, 202).data = value
            wait(loop, lambda n=n: len(master.find(13, Cause.SPONTANEOUS)) >= n)
        wait(loop, lambda: master.find(45, Cause.ACTIVATION_CON))
        master.close()
        server.shutdown()
    assert tracer.flows == 1
    sent = tshark(capture, "iec60870_104 && tcp.srcport == 2404")
    received = tshark(capture, "iec60870_104 && tcp.dstport == 2404")
    assert len(sent) >= 6 and len(received) >= 3
    assert tshark(capture, "tcp.len > 0 && !iec60870_104 && !tcp.reassembled_in") == []
    assert tshark(capture, "_ws.malformed || _ws.expert.severity >= warning") == []
    rows = tshark(capture, "iec60870_asdu", "iec60870_asdu.typeid")
    types = {kind for row in rows for kind in row[0].split(",")}
    assert {"13", "45", "100"} <= types
