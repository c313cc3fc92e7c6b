"""The examples of issue 12, each run by `incore run` as a user runs it, on free ports (moved
with `--set`), and checked with the peers a user would reach for: python-snap7, pymodbus and
c104 (through the helper subprocess of test_quickstart_gateway.py). The quickstart itself is
tests/cli/test_quickstart_gateway.py.
"""

import json
import socket
import subprocess
import sys
from pathlib import Path

from pymodbus.client import ModbusTcpClient
from test_quickstart_gateway import C104, WAIT, Lines, free_ports, until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
F32 = ModbusTcpClient.DATATYPE.FLOAT32


class App:
    """`incore run EXAMPLE --set ...` in `cwd`; its stdout lines, Ctrl-C, its exit status."""

    def __init__(self, example: str, *sets: str, cwd: Path = ROOT) -> None:
        args = [a for s in sets for a in ("--set", s)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "incore", "run", str(EXAMPLES / example), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        self.out = Lines(self.proc.stdout)
        self.err = Lines(self.proc.stderr)
        self.err.wait_for("INFO incore: started")

    def stop(self, interrupt: bool = True) -> str:
        """Ctrl-C (unless it ends by itself); status 0, nothing alarming on stderr."""
        if interrupt and self.proc.poll() is None:
            self.proc.send_signal(2)
        code = self.proc.wait(WAIT)
        self.err.wait_for("INFO incore: stopped")
        stderr = "\n".join(self.err.seen)
        assert code == 0, stderr
        assert "Traceback" not in stderr and "ERROR" not in stderr, stderr
        return stderr


def modbus(port: int) -> ModbusTcpClient:
    client = ModbusTcpClient("127.0.0.1", port=port)
    assert client.connect()
    return client


def test_the_tank_runs_ten_seconds_by_itself():
    result = subprocess.run(
        [sys.executable, "-m", "incore", "run", str(EXAMPLES / "tank.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("t= 0 s  level  40.0 %")
    assert "FAULT" in out and "ALARM  tank level high" in out
    assert "controller: pump off" in out  # the Connections handler ran
    assert out.rstrip().endswith("10 s are up: quitting")
    assert "started Tank demo" in result.stderr and "stopped Tank demo" in result.stderr
    assert "Traceback" not in result.stderr and "ERROR" not in result.stderr


def test_the_s7_to_modbus_bridge_reads_and_writes_the_plc():
    import snap7

    s7, mb = free_ports(2)
    app = App(
        "s7_to_modbus.yaml", f"sim.localPort={s7}", f"plc.port={s7}", f"modbus.networkPort={mb}"
    )
    client = modbus(mb)
    plc = snap7.client.Client()
    try:
        app.out.wait_for("values  level")
        assert client.read_discrete_inputs(100, count=1).bits[0] is True  # the S7 link
        level = ModbusTcpClient.convert_from_registers(
            client.read_input_registers(0, count=2).registers, F32
        )
        plc.connect("127.0.0.1", 0, 2, s7)
        assert abs(snap7.util.get_real(plc.db_read(1, 0, 4), 0) - level) < 3.0
        # a setpoint and a coil written over Modbus are written to the PLC
        client.write_registers(10, ModbusTcpClient.convert_to_registers(33.5, F32))
        client.write_coil(0, False)
        until(lambda: snap7.util.get_real(plc.db_read(1, 4, 4), 0) == 33.5)
        until(lambda: plc.db_read(1, 10, 1)[0] & 0b10 == 0)
        # the pump stops (the simulated PLC's logic), and Modbus reads it back from S7
        until(lambda: client.read_discrete_inputs(0, count=1).bits[0] is False)
        assert client.read_input_registers(4, count=1).registers == [0]  # 0 rpm
        app.out.wait_for("MODBUS  Holding 10 = 33.5: writing DB1.DBD4:REAL to the PLC")
    finally:
        plc.disconnect()
        client.close()
        app.stop()


def test_the_standalone_modbus_server_overlays_and_shuts_down_on_command():
    (port,) = free_ports(1)
    app = App("modbus_standalone.yaml", f"server.networkPort={port}")
    client = modbus(port)
    try:
        assert not client.write_coil(17, True).isError()
        assert client.read_holding_registers(1, count=1).registers == [0x0002]
        assert not client.write_register(0, 0b101).isError()
        assert client.read_coils(0, count=3).bits[:3] == [True, False, True]
        app.out.wait_for("coils 0-15 now 0000000000000101")
        first = client.read_input_registers(4096, count=1).registers[0]
        until(lambda: client.read_input_registers(4096, count=1).registers[0] != first)
    finally:
        client.close()
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        s.sendall(b"shutdown")
    app.out.wait_for("shutdown command from 127.0.0.1")
    app.stop(interrupt=False)  # it ended by itself, with status 0


def test_the_setpoints_survive_a_restart(tmp_path):
    (port,) = free_ports(1)
    app = App("setpoints.yaml", f"modbus.networkPort={port}", cwd=tmp_path)
    assert "level 60.0 %" in app.out.wait_for("setpoints:")
    client = modbus(port)
    try:
        client.write_registers(0, ModbusTcpClient.convert_to_registers(42.5, F32))
        client.write_register(4, 2)
        app.out.wait_for("saved pumpMode = 2")
    finally:
        client.close()
    file = tmp_path / "setpoints.json"

    def saved() -> list:
        text = file.read_text() if file.exists() else '{"objects": []}'
        return [o["data"] for o in json.loads(text)["objects"]]

    until(lambda: saved() == [42.5, 90.0, 2])  # saved on the change, not only at the end
    app.stop()

    app = App("setpoints.yaml", f"modbus.networkPort={port}", cwd=tmp_path)
    assert "level 42.5 %, high alarm 90.0 %, pump mode 2" in app.out.wait_for("setpoints:")
    client = modbus(port)
    try:
        registers = client.read_holding_registers(0, count=5).registers
        assert ModbusTcpClient.convert_from_registers(registers[:2], F32) == 42.5
        assert registers[4] == 2
    finally:
        client.close()
        app.stop()


def test_the_iec104_rtu_takes_commands_and_refuses_out_of_range():
    (port,) = free_ports(1)
    app = App("iec104_rtu.yaml", f"rtu.port={port}")
    peer = C104(port, "1001:M_ME_TF_1", "1010:M_DP_TB_1", "1011:M_ST_TB_1", "1012:M_ME_NC_1")
    try:
        assert peer.next(lambda m: "ready" in m)["ready"] is True
        assert peer.seen(lambda m: m["ioa"] == 1011)["value"] == 9  # tap 9
        assert peer.seen(lambda m: m["ioa"] == 1010)["value"] == 2  # breaker closed
        volts = peer.seen(lambda m: m["ioa"] == 1001)["value"]
        assert 19.9 < volts < 20.1

        # a tap step up, confirmed: the position and the voltage follow
        assert peer.command(2002, 2, "C_RC_NA_1") is True
        peer.seen(lambda m: m["ioa"] == 1011 and m["value"] == 10)
        peer.next(lambda m: m.get("ioa") == 1001 and m["value"] > 20.15)
        app.out.wait_for("COMMAND tap now 10")
        # a trip limit outside 100..600 A is refused and changes nothing; one inside is taken
        assert peer.command(2003, 50.0, "C_SE_NC_1") is False
        assert peer.command(2003, 550.0, "C_SE_NC_1") is True
        peer.seen(lambda m: m["ioa"] == 1012 and m["value"] == 550.0)
        assert [v["value"] for v in peer.values if v["ioa"] == 1012] == [400.0, 550.0]
        # the breaker, select before operate: open it
        assert peer.command(2001, 1, "C_DC_NA_1", sbo=True) is True
        peer.seen(lambda m: m["ioa"] == 1010 and m["value"] == 1)
        app.out.wait_for("COMMAND breaker opens")
        # stepping past the top is refused: from 10, seven steps reach 17, the eighth fails
        for _ in range(7):
            assert peer.command(2002, 2, "C_RC_NA_1") is True
        assert peer.command(2002, 2, "C_RC_NA_1") is False
        until(lambda: peer.latest(1011)["value"] == 17)
    finally:
        peer.close()
        app.stop()
