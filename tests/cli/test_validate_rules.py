"""`incore validate` and `incore run` apply the types' declared rules alike (issue 7).

Each mistake of the issue is one line `FILE:LINE:COL: message` at the value, from validate
and from run (which then starts nothing); what an object still reports while it runs names
the line the object was declared at.
"""

from __future__ import annotations

import signal
import socket

from test_cli import Running, incore_cmd

# Every mistake of issue 7 in one file; the expected line of each, in reading order.
MISTAKES = """\
Application:
  objects:
    - S7Server:
        localPort: 70000
        maxClients: -5
        objects:
          - S7ServerArea: {area: DB, index: 1, size: -8}
          - S7ServerArea: {area: DB, index: 2, size: 4}
          - S7ServerArea: {area: DB, index: 2, size: 4}
    - S7Client:
        hostname: 127.0.0.1
        port: 99999
        rack: 12
        timeout: -1
        objects:
          - S7Variable: {name: DB1.DBQ0}
          - S7Variable: {name: "DB1.DBD0:REEL"}
          - S7Variable:
              name: DB1.DBX0.9
          - S7Variable:
              name: DB1.DBW0
              objects:
                - Polling: {on: dta}
    - Timer: {interval: -5, onTriggered: print("tick", interval)}
"""
COMMA = " (inside {...} a comma ends the value: quote it or write it as a block with |)"
EXPECTED = [
    "plant.yaml:4:20: S7Server.localPort expects 0..65535, got 70000",
    "plant.yaml:5:21: S7Server.maxClients expects 0 or more, got -5",
    "plant.yaml:7:54: S7ServerArea.size expects 0..2097152, got -8",
    "plant.yaml:9:45: S7Server already has area DB2 (first declared at 8:45)",
    "plant.yaml:12:15: S7Client.port expects 1..65535, got 99999",
    "plant.yaml:13:15: S7Client.rack expects 0..7, got 12",
    "plant.yaml:14:18: S7Client.timeout expects 1 or more, got -1",
    "plant.yaml:16:32: S7Variable.name: 'DB1.DBQ0' is not an S7 address (expected e.g. "
    "DB1.DBX0.3, DB1.DBW2, DB1.DBD4:REAL, DB1.DBB0:STRING[20], I0.1, IB2, QW4, M0.0, MD8, "
    "or Node-RED's DB1,REAL0, DB1,X0.1, DB1,S10.20, MR4)",
    "plant.yaml:17:32: S7Variable.name: 'DB1.DBD0:REEL': unknown type REEL "
    "(e.g. INT, REAL, STRING[20], DTL)",
    "plant.yaml:19:21: S7Variable.name: 'DB1.DBX0.9': bit number must be 0..7",
    "plant.yaml:23:33: S7Variable has no property 'dta' to poll (did you mean 'data'?)",
    "plant.yaml:24:25: Timer.interval expects 0 or more, got -5",
    f"plant.yaml:24:47: syntax error: '(' was never closed{COMMA}",
    f"plant.yaml:24:56: Timer has no property 'interval)'{COMMA}",
]


def test_validate_reports_each_mistake_once_at_its_value(tmp_path):
    (tmp_path / "plant.yaml").write_text(MISTAKES)
    result = incore_cmd("validate", "plant.yaml", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == EXPECTED  # and no WARNING line: nothing ran


def test_run_refuses_the_same_file_with_its_first_line_and_starts_nothing(tmp_path):
    (tmp_path / "plant.yaml").write_text(MISTAKES)
    result = incore_cmd("run", "plant.yaml", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == EXPECTED[:1]


def test_a_server_on_port_0_is_valid_and_listens_on_a_free_port(tmp_path):
    (tmp_path / "free.yaml").write_text(
        "Application:\n  objects:\n    - S7Server:\n        localPort: 0\n"
        "        networkAddress: 127.0.0.1\n"
        "        onStatusChanged: print('PORT', localPort)\n"
        "        objects:\n          - S7ServerArea: {index: 1, size: 4}\n"
        "  onCompleted: quit()\n"
    )
    assert incore_cmd("validate", "free.yaml", cwd=tmp_path).returncode == 0
    result = incore_cmd("run", "free.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    port = int(result.stdout.split("PORT", 1)[1].split()[0])
    assert 0 < port <= 65535


def test_a_run_time_warning_names_the_file_and_line_of_its_object(tmp_path):
    with socket.socket() as closed:  # bound but not listening: every connect is refused
        closed.bind(("127.0.0.1", 0))
        app = tmp_path / "plant.yaml"
        app.write_text(
            "Application:\n  objects:\n    - DataObject: {id: level}\n"
            "    - S7Client:\n        hostname: 127.0.0.1\n"
            f"        port: {closed.getsockname()[1]}\n"
        )
        run = Running(app)
        try:
            line = run.wait_for("ConnectError")
            run.proc.send_signal(signal.SIGINT)
            code, _ = run.finish()
        finally:
            run.kill()
    assert f"WARNING incore.objects: {app}:4: <S7Client>: ConnectError:" in line
    assert code == 0
