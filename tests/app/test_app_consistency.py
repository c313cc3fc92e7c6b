"""Consistent reads and change handlers in running apps: a handler that writes an input and
reads a binding right after sees the bound value; a handler of `fooChanged` sees the value
of its own change (as `value` and as `foo`), even when a later write changed it again.

Each program runs as users run it (`incore run` in a subprocess), loaded in-process, and
written in plain Python.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import incore
from incore.core import EventLoop, Property, set_loop
from incore.objects.foundation import Application, Connections, DataObject, Timer

WAIT = 20.0

READS_APP = """\
Application:
  id: app
  objects:
    - DataObject: {id: x, data: 1}
    - DataObject: {id: y, data: !bind x.data * 10}
    - DataObject: {id: sel, data: false}
    - DataObject: {id: p, data: 1}
    - DataObject: {id: q, data: 100}
    - DataObject: {id: r, data: !bind q.data if sel.data else p.data}
    - Connections: {target: x, onDataChanged: print(data)}
    - Timer:
        interval: 100
        repeat: false
        onTriggered: |
          x.data = 5
          print("y", y.data)        # must print 50
          sel.data = True
          q.data = 200
          print("r", r.data)        # must print 200
          app.quit()
"""
READS_OUT = ["y 50", "r 200", "5"]

SETPOINT_APP = """\
Application:
  id: app
  objects:
    - DataObject:
        id: tank
        properties: {setpoint: {type: float, value: 21.5}}
        functions: {reset: "self.setpoint = 21.5\\n"}
        onSetpointChanged: print("SP", setpoint)
    - Connections:
        target: tank
        onSetpointChanged: print("C", setpoint)
    - Timer:
        interval: 100
        repeat: false
        onTriggered: |
          tank.setpoint = 30.0
          tank.reset()
          print("now", tank.setpoint)
          app.quit()
"""
SETPOINT_OUT = ["now 21.5", "SP 30.0", "C 30.0", "SP 21.5", "C 21.5"]


def incore_run(app: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "incore", "run", app.name],
        cwd=app.parent,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


@pytest.fixture
def loop() -> Iterator[EventLoop]:
    lp = EventLoop()
    set_loop(lp)
    yield lp
    set_loop(None)


def run_in_process(app) -> None:
    assert incore.run(app, install_signal_handlers=False, timeout=WAIT) == 0


# -- reads right after writes --------------------------------------------------------------
def runs_cleanly(tmp_path, text: str) -> list[str]:
    """`incore run` of `text` as a subprocess: its printed lines (no warning, no traceback)."""
    app = tmp_path / "app.yaml"
    app.write_text(text)
    result = incore_run(app)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "WARNING" not in result.stderr
    return result.stdout.splitlines()


def test_reads_after_writes_with_incore_run(tmp_path):
    assert runs_cleanly(tmp_path, READS_APP) == READS_OUT


def test_reads_after_writes_in_process(load, loop, capsys):
    run_in_process(load(READS_APP))
    assert capsys.readouterr().out.splitlines() == READS_OUT


def test_reads_after_writes_in_plain_python(loop):
    x, y = DataObject(data=1), DataObject()
    y.bind("data", lambda: x.data * 10)
    sel, p, q = DataObject(data=False), DataObject(data=1), DataObject(data=100)
    r = DataObject()
    r.bind("data", lambda: q.data if sel.data else p.data)
    seen = []
    connections = Connections(target=x)
    connections.connect("dataChanged", lambda value: seen.append(("x", value)))
    timer = Timer(interval=100, repeat=False)
    app = Application(objects=[x, y, sel, p, q, r, connections, timer])

    def triggered() -> None:
        x.data = 5
        seen.append(("y", y.data))
        sel.data = True
        q.data = 200
        seen.append(("r", r.data))
        app.quit()

    timer.triggered.connect(triggered)
    run_in_process(app)
    assert seen == [("y", 50), ("r", 200), ("x", 5)]


def test_every_write_is_seen_by_handlers_and_connections(load, capsys):
    app = load("""\
    Application:
      objects:
        - DataObject:
            id: x
            data: 1
            onDataChanged: print("own", data, value)
        - DataObject: {id: y, data: !bind x.data * 10}
        - Connections:
            target: x
            onDataChanged: print("conn", data, value)
        - Connections:
            target: y
            onDataChanged: print("y", data, value)
        - Timer:
            id: timer
            onTriggered: |
              x.data = 5
              print("read", y.data)
              x.data = 6
              print("read", y.data)
              x.data = 6
              x.data = 7
              print("read", y.data, "x", x.data)
    """)
    app.ids["timer"].triggered.emit()
    assert capsys.readouterr().out.splitlines() == [
        "read 50",
        "read 60",
        "read 70 x 7",
        "own 5 5",
        "conn 5 5",
        "y 50 50",
        "own 6 6",
        "conn 6 6",
        "y 60 60",
        "own 7 7",
        "conn 7 7",
        "y 70 70",
    ]


# -- a change handler sees its own change -------------------------------------------------
def test_change_handlers_see_their_change_with_incore_run(tmp_path):
    assert runs_cleanly(tmp_path, SETPOINT_APP) == SETPOINT_OUT


def test_change_handlers_see_their_change_in_process(load, loop, capsys):
    run_in_process(load(SETPOINT_APP))
    assert capsys.readouterr().out.splitlines() == SETPOINT_OUT


class Tank(DataObject, register=False):
    setpoint = Property(float, 21.5)

    def reset(self) -> None:
        self.setpoint = 21.5


def test_change_handlers_see_their_change_in_plain_python(loop):
    tank = Tank()
    seen = []
    tank.setpointChanged.connect(lambda value: seen.append(("SP", value, tank.setpoint)))
    connections = Connections(target=tank)
    connections.connect("setpointChanged", lambda value: seen.append(("C", value)))
    timer = Timer(interval=100, repeat=False)
    app = Application(objects=[tank, connections, timer])

    def triggered() -> None:
        tank.setpoint = 30.0
        tank.reset()
        seen.append(("now", tank.setpoint))
        app.quit()

    timer.triggered.connect(triggered)
    run_in_process(app)
    # each call gets the value of its own change; a read gives the current value
    assert seen == [("now", 21.5), ("SP", 30.0, 21.5), ("C", 30.0), ("SP", 21.5, 21.5), ("C", 21.5)]


def test_a_function_and_a_handler_writing_the_same_property(load, capsys):
    """Changes made by a function called from a handler, and by the handler itself, are
    each handled once, in order, after the handler that made them returns."""
    app = load(
        textwrap.dedent("""\
    Application:
      objects:
        - DataObject:
            id: tank
            properties: {setpoint: {type: float, value: 21.5}}
            functions:
              bump: |
                self.setpoint = setpoint + 1
                print("bumped", setpoint)
            onSetpointChanged: print("SP", setpoint, value)
        - Timer:
            id: timer
            onTriggered: |
              tank.bump()
              tank.bump()
              tank.setpoint = 10.0
              tank.bump()
              print("done", tank.setpoint)
    """)
    )
    app.ids["timer"].triggered.emit()
    assert capsys.readouterr().out.splitlines() == [
        "bumped 22.5",
        "bumped 23.5",
        "bumped 11.0",
        "done 11.0",
        "SP 22.5 22.5",
        "SP 23.5 23.5",
        "SP 10.0 10.0",
        "SP 11.0 11.0",
    ]
