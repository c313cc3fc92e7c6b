"""The worked example of docs/dev/object-types.md runs as the page says."""

from __future__ import annotations

import re
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import incore
from incore.core import EventLoop, set_loop

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "dev" / "object-types.md"
WAIT = 5.0


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", GUIDE.read_text(), re.S)


@pytest.fixture(scope="module")
def ramp_module() -> Iterator[types.ModuleType]:
    """The page's Python block as a module of its own (it registers the type Ramp)."""
    module = types.ModuleType("dev_guide_ramp")
    sys.modules[module.__name__] = module
    exec(compile(blocks("python")[0], str(GUIDE), "exec"), module.__dict__)
    yield module
    del sys.modules[module.__name__]
    incore.registry._types.pop("Ramp")  # later tests see only the package's own types


@pytest.fixture
def loop() -> Iterator[EventLoop]:
    loop = EventLoop()
    set_loop(loop)
    yield loop
    set_loop(None)


def test_the_ramp_moves_at_its_rate_and_says_so(ramp_module, loop) -> None:
    Ramp = ramp_module.Ramp
    ramp = Ramp(rate=50.0, step=10)
    seen, directions = [], []
    ramp.reached.connect(seen.append)
    ramp.directionChanged.connect(directions.append)
    ramp.target = 1.0
    assert ramp.data is None and not seen  # nothing moves before complete()
    ramp.complete()
    assert ramp.direction == Ramp.Rising
    assert loop.run_until(lambda: seen, WAIT)
    assert ramp.data == 1.0 and seen == [1.0]
    assert directions == [Ramp.Rising, Ramp.Holding]
    ramp.target = -1.0
    assert ramp.direction == Ramp.Falling
    ramp.jump()
    assert ramp.data == -1.0 and ramp.direction == Ramp.Holding
    ramp.target = 5.0
    ramp.shutdown()
    loop.run_until(lambda: False, 0.05)
    assert ramp.data == -1.0  # nothing moves after shutdown()


def test_the_app_file_of_the_page_runs(ramp_module, capsys) -> None:
    app = incore.load_string(blocks("yaml")[0], "ramp.yaml")
    incore.run(app, install_signal_handlers=False, timeout=WAIT)
    assert capsys.readouterr().out == "reached 2.0 Holding\n"  # app.quit() ended it


def test_the_declared_rules_reach_app_files_and_python(ramp_module) -> None:
    text = textwrap.dedent("""\
        Application:
          objects:
            - Ramp: {rate: 0}
        """)
    with pytest.raises(incore.AppError) as err:
        incore.load_string(text, "bad.yaml")
    assert str(err.value) == "bad.yaml:3:20: Ramp.rate expects 0.001 or more, got 0.0"
    with pytest.raises(ValueError, match="Ramp.step expects 10 or more"):
        ramp_module.Ramp(step=1)


def test_a_misspelt_hook_fails_when_the_class_is_built() -> None:
    with pytest.raises(TypeError, match="on_write names '_nowhere'"):

        class Broken(incore.Object, register=False):
            value = incore.Property(int, 0, on_write="_nowhere")
