"""The quickstart's gateway written in plain Python: the same objects as examples/quickstart.yaml,
built with their Python API instead of an app file. Runs until Ctrl-C.

    .venv/bin/python examples/gateway.py
    .venv/bin/python examples/gateway.py --s7-port 11102 --modbus-port 15020 --iec104-port 12404

A simulated S7 PLC (a tank, a pump, a valve) is read by an S7Client; a volume and an alarm
are computed from what it read; a Modbus TCP server and an IEC 104 station serve it all. A
Modbus client's write of the setpoint and an IEC 104 pump command reach the PLC as S7
writes. Once a minute (`--outage-every`, 0 for never) the PLC leaves the network for 5 s and
the served values are Bad meanwhile: exception 04 on Modbus, IV on IEC 104.

Each object takes its properties as keyword arguments and its children as `objects=[...]`;
`obj.bind("prop", fn)` is `!bind`, and `obj.<signal>.connect(fn)` is an `on<Signal>:` handler.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import incore
from incore.objects.foundation import Application, DataObject, Measurement, Polling, Timer
from incore.objects.iec104 import IEC104Point, IEC104Server, IEC104Station
from incore.objects.modbus import ModbusRegister, ModbusTcpServer
from incore.objects.s7 import S7Client, S7Server, S7ServerArea, S7Variable

HOST = "127.0.0.1"


def simulated_plc(port: int) -> tuple[S7Server, list[Timer]]:
    """The PLC: DB1 as the quickstart lays it out, and the Timers that play the tank."""
    level = S7Variable(name="DB1.DBD0:REAL", data=50.0)
    setpoint = S7Variable(name="DB1.DBD4:REAL", data=60.0)
    release = S7Variable(name="DB1.DBX8.0", data=True)
    running = S7Variable(name="DB1.DBX8.1", data=False)
    valve = S7Variable(name="DB1.DBX8.2", data=True)
    plc = S7Server(
        networkAddress=HOST,
        localPort=port,
        objects=[
            S7ServerArea(area="DB", index=1, size=16),
            level,
            setpoint,
            release,
            running,
            valve,
        ],
    )

    def process() -> None:  # every 100 ms: the PLC's pump logic and the tank
        if not release.data or level.data > setpoint.data + 2.0:
            running.data = False
        elif level.data < setpoint.data - 2.0:
            running.data = True
        change = ((6.0 if running.data else 0.0) - (3.0 if valve.data else 0.5)) * 0.1
        level.data = round(min(100.0, max(0.0, level.data + change)), 3)

    tank = Timer(interval=100)
    tank.triggered.connect(process)
    consumer = Timer(interval=8000)
    consumer.triggered.connect(lambda: setattr(valve, "data", not valve.data))
    return plc, [tank, consumer]


def polled(name: str) -> S7Variable:
    """An S7Variable of the gateway, read every 250 ms."""
    return S7Variable(name=name, objects=[Polling(on="data", interval=250)])


def bound(register_or_point: Any, source: DataObject) -> Any:
    """`register_or_point` with its `data` bound to `source.data` (quality comes along)."""
    register_or_point.bind("data", lambda: source.data)
    return register_or_point


def build(s7_port: int, modbus_port: int, iec104_port: int, outage_every: float) -> Application:
    """The whole gateway as one Application."""
    plc, simulation = simulated_plc(s7_port)

    # -- the gateway's S7 side ----------------------------------------------------------------
    level, setpoint = polled("DB1.DBD0:REAL"), polled("DB1.DBD4:REAL")
    release, running, valve = polled("DB1.DBX8.0"), polled("DB1.DBX8.1"), polled("DB1.DBX8.2")
    s7 = S7Client(
        hostname=HOST,
        port=s7_port,
        rack=0,
        slot=2,
        maxReconnectInterval=1000,
        objects=[level, setpoint, release, running, valve],
    )
    s7.connectedChanged.connect(
        lambda up: print("S7      gateway", "connected to" if up else "lost", "the PLC")
    )

    # -- derived values: None until the first read, never a made-up number ---------------------
    volume = Measurement(unit="l", decimals=0)
    volume.bind("data", lambda: None if level.data is None else level.data * 20.0)
    alarm = DataObject()
    alarm.bind("data", lambda: level.data is not None and not 10.0 <= level.data <= 90.0)
    raised = [False]  # printed "ALARM" already: the first value (None -> False) clears nothing

    def on_alarm(value: bool) -> None:
        if value and not raised[0]:
            print(f"ALARM   tank level {level.data:.1f} % is outside 10..90 %")
        elif not value and raised[0]:
            print("ALARM   cleared")
        raised[0] = bool(value)

    alarm.dataChanged.connect(on_alarm)

    # -- Modbus TCP ---------------------------------------------------------------------------
    setpoint_register = bound(
        ModbusRegister(type="Holding", address=10, dataType="Float"), setpoint
    )
    modbus = ModbusTcpServer(
        networkAddress=HOST,
        networkPort=modbus_port,
        idleTimeout=60000,
        objects=[
            bound(ModbusRegister(type="Input", address=0, dataType="Float"), level),
            bound(ModbusRegister(type="Input", address=2, dataType="Float"), volume),
            setpoint_register,
            bound(ModbusRegister(type="DiscreteInput", address=0), release),
            bound(ModbusRegister(type="DiscreteInput", address=1), running),
            bound(ModbusRegister(type="DiscreteInput", address=2), valve),
            bound(ModbusRegister(type="DiscreteInput", address=3), alarm),
        ],
    )

    def client_wrote(index: int) -> None:  # only clients' writes fire it, not the bindings
        if modbus.objects[index] is setpoint_register:
            print(
                f"MODBUS  a client wrote setpoint {setpoint_register.data:.1f} %: writing the PLC"
            )
            setpoint.data = setpoint_register.data

    modbus.registersDataChanged.connect(client_wrote)

    # -- IEC 104 ------------------------------------------------------------------------------
    command = IEC104Point(ioa=2001, type="C_SC_NA_1")

    def check(message: Any) -> None:
        if not s7.connected:
            message.refuse("the PLC is unreachable")

    def pump_command(value: bool) -> None:
        print("IEC104  a client", "released" if value else "blocked", "the pump: writing the PLC")
        release.data = value

    command.received.connect(check)
    command.dataChanged.connect(pump_command)
    points = [
        bound(IEC104Point(ioa=1001, type="M_ME_TF_1", keepLatest=True), level),
        bound(IEC104Point(ioa=1002, type="M_ME_TF_1", keepLatest=True), volume),
        bound(IEC104Point(ioa=1003, type="M_ME_TF_1"), setpoint),
        bound(IEC104Point(ioa=1010, type="M_SP_TB_1"), release),
        bound(IEC104Point(ioa=1011, type="M_SP_TB_1"), running),
        bound(IEC104Point(ioa=1012, type="M_SP_TB_1"), valve),
        bound(IEC104Point(ioa=1020, type="M_SP_TB_1"), alarm),
        command,
    ]
    iec104 = IEC104Server(
        ip=HOST, port=iec104_port, objects=[IEC104Station(commonAddress=1, objects=points)]
    )

    # -- what you see -------------------------------------------------------------------------
    def show() -> None:
        if level.data is None:
            print("values  waiting for the first read of the PLC")
            return
        good = level.quality == DataObject.Good
        print(
            f"values  level {level.data:5.1f} %  volume {volume.displayString:>6}"
            f"  setpoint {setpoint.data:4.1f} %"
            f"  pump {'released' if release.data else 'blocked '}"
            f" {'running' if running.data else 'stopped'}"
            f"  valve {'open  ' if valve.data else 'closed'}"
            f"  alarm {'YES' if alarm.data else 'no '}"
            f"  {'Good' if good else f'BAD ({level.qualityReason})'}"
        )

    display = Timer(interval=1000)
    display.triggered.connect(show)

    # -- the outage -----------------------------------------------------------------------------
    outage_end = Timer(interval=5000, repeat=False, running=False)
    outage = Timer(interval=max(1, int(outage_every * 1000)), running=outage_every > 0)

    def go_away() -> None:
        print("OUTAGE  the PLC is off the network for 5 s: the gateway's values turn Bad")
        plc.stop()
        outage_end.start()

    def come_back() -> None:
        plc.retryListen = True  # should its port be taken meanwhile, keep trying
        plc.start()
        print("OUTAGE  over: the PLC is back on the network")

    outage.triggered.connect(go_away)
    outage_end.triggered.connect(come_back)

    app = Application(
        name="Tank gateway (Python)",
        objects=[plc, *simulation, s7, volume, alarm, modbus, iec104, display, outage, outage_end],
    )
    app.completed.connect(
        lambda: print(
            f"Tank gateway in Python: S7 {HOST}:{s7_port} (rack 0, slot 2, DB1), "
            f"Modbus {HOST}:{modbus_port}, IEC 104 {HOST}:{iec104_port} (station 1); "
            "the same map and commands as examples/quickstart.yaml. Ctrl-C stops it."
        )
    )
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--s7-port", type=int, default=10102)
    parser.add_argument("--modbus-port", type=int, default=5020)
    parser.add_argument("--iec104-port", type=int, default=2404)
    parser.add_argument(
        "--outage-every", type=float, default=60.0, help="seconds between outages (0: none)"
    )
    args = parser.parse_args()
    logging.basicConfig(  # the log lines `incore run` writes
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    app = build(args.s7_port, args.modbus_port, args.iec104_port, args.outage_every)
    return incore.run(app)  # until Ctrl-C or SIGTERM; every object shuts down cleanly


if __name__ == "__main__":
    raise SystemExit(main())
