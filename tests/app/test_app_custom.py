"""Custom properties, signals and functions (§5)."""

from __future__ import annotations

import pytest
from app_types import XItem

from incore.core import Property, Signal


def test_custom_properties_with_types_values_and_change_signals(load, capsys) -> None:
    app = load("""\
    Application:
      objects:
        - DataObject:
            id: tank
            properties:
              setpoint: {type: float, value: 21.5}
              label: str
              enabled: bool
              count: {type: int, value: !bind setpoint * 2}
              items: list
              table: dict
              anything: var
              peer: {type: Timer, value: tick}
            onSetpointChanged: print("setpoint", value)
        - Timer: {id: tick}
    """)
    tank = app.ids["tank"]
    assert (tank.setpoint, tank.label, tank.enabled, tank.count) == (21.5, "", False, 43)
    assert (tank.items, tank.table, tank.anything, tank.peer) == ([], {}, None, app.ids["tick"])
    assert isinstance(type(tank).setpoint, Property)
    tank.setpoint = 10
    assert tank.count == 20 and capsys.readouterr().out == "setpoint 10.0\n"
    with pytest.raises(TypeError, match="expects a number"):
        tank.setpoint = "hot"
    assert type(tank).__name__ == "DataObject" and isinstance(tank, type(app.ids["tank"]))


def test_custom_signals_carry_named_arguments(load, capsys) -> None:
    app = load("""\
    Application:
      objects:
        - DataObject:
            id: tank
            signals:
              alarm: [level, text]
              reset:
            onAlarm: print("ALARM", level, text)
            onReset: print("reset")
    """)
    tank = app.ids["tank"]
    assert isinstance(type(tank).alarm, Signal) and type(tank).alarm.args == ("level", "text")
    tank.alarm.emit(95, "high")
    tank.reset()
    assert capsys.readouterr().out.splitlines() == ["ALARM 95 high", "reset"]


def test_custom_functions_are_methods_callable_everywhere(load, capsys) -> None:
    app = load("""\
    Application:
      objects:
        - DataObject:
            id: tank
            properties:
              setpoint: {type: float, value: 21.5}
            functions:
              reset: |
                self.setpoint = 21.5
              scaled(factor, offset): |
                return setpoint * factor + offset
              bump(by): |
                setpoint = scaled(1, by)
        - DataObject:
            id: user
            data: !bind tank.scaled(2, 1)
    """)
    tank, user = app.ids["tank"], app.ids["user"]
    assert user.data == 44.0
    tank.bump(0.5)
    assert tank.setpoint == 22.0 and user.data == 45.0
    tank.reset()
    assert tank.setpoint == 21.5
    assert "scaled" in type(tank)._methods


def test_objects_declaring_the_same_members_share_a_class(load) -> None:
    text = "\n".join(
        f"    - XItem: {{id: i{n}, properties: {{extra: int}}, extra: {n}}}" for n in range(3)
    )
    app = load(f"XRoot:\n  objects:\n{text}\n    - XItem: {{id: j, properties: {{extra: str}}}}\n")
    classes = {type(app.ids[f"i{n}"]) for n in range(3)}
    assert len(classes) == 1 and type(app.ids["j"]) not in classes
    assert [app.ids[f"i{n}"].extra for n in range(3)] == [0, 1, 2]
    assert issubclass(classes.pop(), XItem)


def test_client_and_variable_types_take_custom_properties_too(load) -> None:
    # their bases (LinkClient, LinkVariable) have a metaclass of their own, which the
    # declared class must be made with
    app = load("""\
    Application:
      objects:
        - S7Client:
            id: plc
            autoConnect: false
            properties:
              setpoint: {type: int, value: 5}
            objects:
              - S7Variable:
                  id: level
                  name: DB1.DBW0
                  properties: {scale: {type: float, value: 0.1}}
        - ModbusTcpClient:
            id: meter
            autoConnect: false
            properties: {line: {type: str, value: A}}
    """)
    plc, level, meter = app.ids["plc"], app.ids["level"], app.ids["meter"]
    assert (plc.setpoint, level.scale, meter.line) == (5, 0.1, "A")
    assert type(plc).__name__ == "S7Client" and level.parent is plc
    with pytest.raises(TypeError, match="S7Client.setpoint expects"):
        plc.setpoint = "high"
