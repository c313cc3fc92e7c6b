"""examples/plain_python.py runs as a user runs it and shows what it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plain_python.py"


def test_the_plain_python_example_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "-- a tank built in Python"
    # The controller connected in Python switched the pump both ways.
    assert re.fullmatch(r"pump off at 5\d\.\d %", lines[1]), lines
    assert re.fullmatch(r"pump on at 4\d\.\d %", lines[2]), lines
    # 30 timer steps, and the expression binding followed the level (4 + level / 20).
    steps = re.fullmatch(r"after 30 steps: level (\d+\.\d) %, outflow (\d+\.\d) %/s", lines[3])
    assert steps and abs(4.0 + float(steps[1]) / 20 - float(steps[2])) < 0.11
    assert lines[4] == "-- the tank demo's app file, driven from Python"
    # The loaded app ran (its display timer switched off by the override) and was stopped.
    loaded = re.fullmatch(r"reached (\d+\.\d) % first; level now (\d+\.\d) %; pump on", lines[5])
    assert loaded and 50 <= float(loaded[1]) <= float(loaded[2]) < 60, lines
    assert len(lines) == 6
