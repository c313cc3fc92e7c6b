"""examples/gateway.py, the quickstart's gateway in plain Python, run as a user runs it
(`python examples/gateway.py` with its ports moved to free ones) and checked as the app
file is: python-snap7 on the PLC, pymodbus on the registers (a setpoint written there
reaches the PLC), c104 on the station (a pump command reaches the PLC), and Bad values
answered with exception 04 while the PLC is off the network.
"""

import subprocess
import sys
from pathlib import Path

from pymodbus.client import ModbusTcpClient
from test_quickstart_gateway import C104, WAIT, Lines, free_ports, plc_db, until

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "gateway.py"
F32 = ModbusTcpClient.DATATYPE.FLOAT32


class Script:
    """`python examples/gateway.py` on free ports, until Ctrl-C."""

    def __init__(self, outage_every: float) -> None:
        self.s7, self.modbus, self.iec104 = free_ports(3)
        ports = ["--s7-port", self.s7, "--modbus-port", self.modbus]
        ports += ["--iec104-port", self.iec104, "--outage-every", outage_every]
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), *map(str, ports)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out = Lines(self.proc.stdout)
        self.err = Lines(self.proc.stderr)
        banner = self.out.wait_for("Tank gateway in Python")
        assert f"Modbus 127.0.0.1:{self.modbus}" in banner, banner
        self.out.wait_for("values  level")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
        assert self.proc.wait(WAIT) == 0
        self.err.wait_for("stopped Tank gateway (Python)")
        stderr = "\n".join(self.err.seen)
        assert "Traceback" not in stderr and "ERROR" not in stderr, stderr


def test_the_python_gateway_serves_and_commands_reach_the_plc():
    gw = Script(outage_every=0)
    peer = C104(gw.iec104)
    client = ModbusTcpClient("127.0.0.1", port=gw.modbus)
    try:
        assert client.connect()
        level = plc_db(gw.s7)[0]
        registers = client.read_input_registers(0, count=4).registers
        assert abs(ModbusTcpClient.convert_from_registers(registers[:2], F32) - level) < 5.0
        client.write_registers(10, ModbusTcpClient.convert_to_registers(66.5, F32))
        until(lambda: plc_db(gw.s7)[1] == 66.5)
        assert peer.next(lambda m: "ready" in m)["ready"] is True
        assert peer.command(2001, False) is True
        until(lambda: plc_db(gw.s7)[2] is False)
        peer.seen(lambda m: m["ioa"] == 1010 and m["value"] is False)
        gw.out.wait_for("IEC104  a client blocked the pump")
    finally:
        client.close()
        peer.close()
        gw.stop()


def test_the_python_gateway_answers_exception_04_while_the_plc_is_away():
    gw = Script(outage_every=2)
    client = ModbusTcpClient("127.0.0.1", port=gw.modbus)
    try:
        assert client.connect()
        assert not client.read_input_registers(0, count=2).isError()
        gw.out.wait_for("OUTAGE  the PLC is off the network")
        until(lambda: client.read_input_registers(0, count=2).exception_code == 4)
        gw.out.wait_for("OUTAGE  over")
        until(lambda: not client.read_input_registers(0, count=2).isError())
    finally:
        client.close()
        gw.stop()
