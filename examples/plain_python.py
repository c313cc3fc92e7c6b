"""incore without YAML: the objects of the tank demo, built and wired in plain Python.

    python examples/plain_python.py

Everything an app file does is available from Python: construct objects with keyword
properties, connect handlers to signals, bind properties to callables or to expressions,
run the event loop and stop it. And an app file can be loaded and driven from Python too.
"""

from __future__ import annotations

from pathlib import Path

import incore
from incore.objects.foundation import Application, DataObject, Measurement, Timer


def tank_in_python() -> None:
    print("-- a tank built in Python")
    # Construct with keyword properties (enum values by name or as DataObject.Double).
    level = Measurement(name="Tank level", unit="%", decimals=1, dataType="Double", data=40.0)
    pump = DataObject(name="Pump on", data=True)
    inflow = Measurement(unit="%/s", decimals=1)
    outflow = Measurement(unit="%/s", decimals=1)

    # Bind a property to a callable: recalculated whenever what it reads changes.
    inflow.bind("data", lambda: 12.0 if pump.data else 0.0)
    # ... or to an expression string, as `!bind` in an app file; `scope` names the objects.
    outflow.bind("data", "4.0 + level.data / 20", scope={"level": level})

    # Connect to change signals: the controller switches the pump off at 50 %, on at 45 %.
    def control(value: float) -> None:
        if value >= 50 and pump.data:
            pump.data = False
        elif value <= 45 and not pump.data:
            pump.data = True

    level.dataChanged.connect(control)
    pump.dataChanged.connect(
        lambda on: print("pump", "on" if on else "off", "at", level.displayString)
    )

    # A timer integrates the flows; after 30 steps (3 s) the application quits.
    simulation = Timer(interval=100)
    steps = []

    def step() -> None:
        level.data = level.data + (inflow.data - outflow.data) * 0.1
        steps.append(level.data)
        if len(steps) == 30:
            app.quit()

    simulation.triggered.connect(step)

    app = Application(name="Tank in Python", objects=[level, pump, inflow, outflow, simulation])
    incore.run(app)  # completes the tree, runs until quit(), shuts everything down
    print(f"after {len(steps)} steps: level {level.displayString}, outflow {outflow.displayString}")


def app_file_from_python() -> None:
    print("-- the tank demo's app file, driven from Python")
    # Overrides are the same as `incore run --set ID.PROP=VALUE`.
    app = incore.load_app(
        Path(__file__).with_name("tank.yaml"), overrides=["display.running=false"]
    )
    level = app.ids["level"]  # every `id:` of the file
    seen: list[float] = []
    level.dataChanged.connect(lambda value: value >= 50 and not seen and seen.append(value))

    # Run the loop and stop it from Python after 1.5 s (the app alone would run 10 s).
    loop = incore.get_loop()
    loop.call_later(1.5, loop.stop)
    incore.run(app)
    print(
        f"reached {seen[0]:.1f} % first; level now {level.displayString}; "
        f"pump {'on' if app.ids['pump'].data else 'off'}"
    )


if __name__ == "__main__":
    tank_in_python()
    app_file_from_python()
