"""The `incore` command, run as a subprocess exactly as a user runs it."""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import incore

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"
BROKEN = ROOT / "tests" / "app" / "broken"
WAIT = 20.0
ERROR_LINE = re.compile(r"^(?P<file>[^\n]+?):(?P<line>\d+):(?P<col>\d+): (?P<message>\S.*)$")


def incore_cmd(
    *args: str, cwd: Path | None = None, timeout: float = WAIT
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "incore", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Running:
    """`incore run` in the background, its stdout and stderr lines readable as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "incore", "run", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, args=(s,), daemon=True)
            for s in (self.proc.stdout, self.proc.stderr)
        ]
        for r in self.readers:
            r.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = WAIT) -> str:
        """The first line containing `text` (from either stream); fails after `timeout`."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no line with {text!r} in {timeout} s; saw {self.seen}"
                ) from None
            self.seen.append(line)
            if text in line:
                return line

    def finish(self, timeout: float = WAIT) -> tuple[int, list[str]]:
        code = self.proc.wait(timeout)
        for r in self.readers:
            r.join(timeout)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code, self.seen

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)


@pytest.fixture
def running():
    started: list[Running] = []

    def start(*args: str) -> Running:
        r = Running(*args)
        started.append(r)
        return r

    yield start
    for r in started:
        r.kill()


def assert_one_error_line(result: subprocess.CompletedProcess, file: str) -> re.Match:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    match = ERROR_LINE.match(lines[0])
    assert match and match["file"] == file, lines[0]
    return match


# -- run -------------------------------------------------------------------------------------
def test_the_quickstart_runs_until_ctrl_c(running):
    """`make run`: the gateway prints its banner and a line of values a second until Ctrl-C
    (tests/cli/test_quickstart_gateway.py checks its ports with the peers)."""
    import socket

    socks = [socket.socket() for _ in range(3)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    s7, mb, iec = (s.getsockname()[1] for s in socks)
    for s in socks:
        s.close()
    moved = [f"plc.localPort={s7}", f"s7.port={s7}", f"modbus.networkPort={mb}"]
    moved += [f"iec104.port={iec}", "outage.running=false"]
    app = running(QUICKSTART, *(a for m in moved for a in ("--set", m)))
    app.wait_for("started Tank gateway")
    # the banner (stdout) and the log line (stderr) come through two pipes, in either order
    for text in ("Tank gateway: ", f"127.0.0.1:{mb}"):
        if not any(text in line for line in app.seen):
            app.wait_for(text)
    first = app.wait_for("values  level")
    assert first.endswith("Good"), first
    app.wait_for("values  level")  # a second one, a second later: it keeps running
    app.proc.send_signal(signal.SIGINT)
    code, seen = app.finish()
    assert code == 0, seen
    assert any("stopped Tank gateway" in line for line in seen), seen
    text = "\n".join(seen)
    assert "Traceback" not in text and "ERROR" not in text and "WARNING" not in text, text


def test_set_overrides_a_property_before_the_app_starts(tmp_path):
    app = tmp_path / "app.yaml"
    app.write_text(
        "Application:\n"
        "  objects:\n"
        "    - DataObject: {id: setpoint, data: 1}\n"
        "    - DataObject: {id: label, data: x}\n"
        "  onCompleted: |\n"
        "    print('setpoint', setpoint.data, 'label', label.data)\n"
        "    quit()\n"
    )
    result = incore_cmd("run", app, "--set", "setpoint.data=42.5", "--set", "label.data=on")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "setpoint 42.5 label on"


def test_a_bad_set_is_an_app_error(tmp_path):
    app = tmp_path / "app.yaml"
    app.write_text("Application: {}\n")
    result = incore_cmd("run", app, "--set", "nosuch.data=1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown id 'nosuch'" in result.stderr


def state_app(tmp_path: Path) -> tuple[Path, Path]:
    """An app that runs until stopped and saves its state when it shuts down."""
    state = tmp_path / "state.json"
    app = tmp_path / "service.yaml"
    app.write_text(
        "Application:\n"
        "  name: service\n"
        "  objects:\n"
        "    - DataObject: {id: counter, data: 0}\n"
        "    - Serializer:\n"
        f"        source: counter\n"
        f"        file: {json.dumps(str(state))}\n"
        "        mode: SerializePeriodically\n"
        "        interval: 3600000\n"
        "    - Timer:\n"
        "        interval: 10\n"
        "        onTriggered: |\n"
        "          counter.data = counter.data + 1\n"
        "          if counter.data == 3:\n"
        "              print('counted to 3')\n"
    )
    return app, state


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_shuts_the_app_down_cleanly_with_exit_0(tmp_path, running, signum):
    app, state = state_app(tmp_path)
    proc = running(app)
    proc.wait_for("started service")
    proc.wait_for("counted to 3")
    proc.proc.send_signal(signum)
    code, lines = proc.finish()
    assert code == 0, lines
    assert any(f"stopping service ({signum.name})" in line for line in lines), lines
    assert any("stopped service" in line for line in lines), lines
    assert not any("Traceback" in line for line in lines), lines
    # The Serializer's shutdown ran: it saved the counter on the way out.
    assert json.loads(state.read_text())["data"] >= 3


def test_log_level_warning_hides_the_start_and_stop_lines(tmp_path):
    app = tmp_path / "app.yaml"
    app.write_text("Application:\n  onCompleted: quit()\n")
    quiet = incore_cmd("run", app, "--log-level", "warning")
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = incore_cmd("run", app, "--log-level", "DEBUG")
    assert loud.returncode == 0 and "started" in loud.stderr


def test_log_binding_removal_names_the_binding_that_an_assignment_removed(tmp_path):
    app = tmp_path / "app.yaml"
    app.write_text(
        "Application:\n"
        "  objects:\n"
        "    - DataObject: {id: a, data: 1}\n"
        "    - DataObject: {id: b, data: !bind a.data + 1}\n"
        "  onCompleted: |\n"
        "    b.data = 5\n"
        "    quit()\n"
    )
    result = incore_cmd("run", app.name, "--log-binding-removal", cwd=tmp_path)
    assert result.returncode == 0
    assert re.search(
        r"app\.yaml:4: binding of DataObject\.data \(`a\.data \+ 1`\) removed", result.stderr
    ), result.stderr
    assert "binding of" not in incore_cmd("run", app.name, cwd=tmp_path).stderr


STUCK_THREAD_SCRIPT = """
import sys, threading
from incore.app import runner
from incore.cli import main
from incore.core import Object

runner.THREAD_JOIN_BOUND = 0.1

class Stuck(Object):
    def _on_completed(self):  # a thread its object never ends (a bug in some driver)
        threading.Thread(target=threading.Event().wait, name="stuck-driver").start()

sys.exit(main(["run", sys.argv[1]]))
"""


def test_a_thread_that_never_ends_does_not_keep_the_process_alive(tmp_path):
    app = tmp_path / "app.yaml"
    app.write_text("Application:\n  objects: [Stuck: {}]\n  onCompleted: quit()\n")
    result = subprocess.run(
        [sys.executable, "-c", STUCK_THREAD_SCRIPT, str(app)],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert result.returncode == 0, result.stderr
    assert "threads still running after shutdown: stuck-driver" in result.stderr
    assert "exiting although threads are still running: stuck-driver" in result.stderr


# -- app errors --------------------------------------------------------------------------------
MISTAKES = {
    "unknown_property.yaml": (
        "Application:\n  objects:\n    - Timer: {intervall: 5}\n",
        "Timer has no property 'intervall'",
    ),
    "syntax.yaml": ("Application:\n  name: [unclosed\n", "YAML"),
    "unknown_type.yaml": ("Application:\n  objects:\n    - Timerr: {}\n", "Timerr"),
    "bad_enum.yaml": ("Application:\n  objects:\n    - DataObject: {dataType: Flaot}\n", "Flaot"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
@pytest.mark.parametrize("command", ["run", "validate", "dump"])
def test_an_app_error_is_one_line_file_line_col_and_exit_2(tmp_path, name, command):
    text, expected = MISTAKES[name]
    (tmp_path / name).write_text(text)
    result = incore_cmd(command, name, cwd=tmp_path)
    match = assert_one_error_line(result, name)
    assert expected in match["message"]
    assert result.stdout == ""


def test_a_missing_app_file_is_an_app_error(tmp_path):
    result = incore_cmd("run", "nothere.yaml", cwd=tmp_path)
    match = assert_one_error_line(result, "nothere.yaml")
    assert "not found" in match["message"]


def broken_corpus() -> list:
    """The app layer's corpus of broken apps (tests/app/broken), with each expected line.

    Call with tests/app as the current directory: paths are spelled relative to it.
    """
    module = sys.modules.get("app_corpus")
    if module is None:
        spec = importlib.util.spec_from_file_location("app_corpus", BROKEN.parent / "app_corpus.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["app_corpus"] = module  # its dataclass looks itself up there
        spec.loader.exec_module(module)
    return module.broken_cases("broken")  # paths relative to tests/app, as the commands see them


def test_every_broken_app_gives_its_one_error_line_and_exit_2(monkeypatch):
    """The whole corpus through `incore run`, as subprocesses (a few at a time)."""
    monkeypatch.chdir(BROKEN.parent)
    cases = broken_corpus()
    assert len(cases) >= 20

    def run_case(case) -> tuple:
        overrides = [arg for o in case.overrides for arg in ("--set", o)]
        return case, incore_cmd("run", case.path, *overrides, cwd=BROKEN.parent)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run_case, cases))
    for case, result in results:
        assert result.returncode == 2, (case.name, result.stderr)
        assert "Traceback" not in result.stderr, case.name
        assert result.stderr.splitlines() == [case.expected], case.name
        assert result.stdout == "", case.name


def test_validate_reports_the_corpus_errors_first_in_each_file(capsys, monkeypatch):
    from incore.cli import main

    monkeypatch.chdir(BROKEN.parent)
    for case in broken_corpus():
        overrides = [arg for o in case.overrides for arg in ("--set", o)]
        assert main(["validate", case.path, *overrides]) == 2, case.name
        lines = capsys.readouterr().err.splitlines()
        assert lines[0] == case.expected, case.name
        assert all(ERROR_LINE.match(line) for line in lines), lines


# -- validate, dump, schema, types -------------------------------------------------------------
def test_validate_a_good_file():
    result = incore_cmd("validate", QUICKSTART)
    assert result.returncode == 0 and result.stdout.strip().endswith(": OK")


def test_validate_lists_every_mistake(tmp_path):
    (tmp_path / "two.yaml").write_text(
        "Application:\n  objects:\n    - Timer: {intervall: 5}\n    - Timer: {repet: 1}\n"
    )
    result = incore_cmd("validate", "two.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert [ERROR_LINE.match(line)["line"] for line in lines] == ["3", "4"]


def test_dump_prints_the_tree_document_and_starts_nothing(tmp_path):
    app = tmp_path / "app.yaml"
    marker = tmp_path / "started.txt"
    app.write_text(
        "Application:\n"
        "  name: dumped\n"
        "  objects:\n"
        "    - DataObject: {id: a, data: 2}\n"
        "    - DataObject: {id: b, data: !bind a.data * 2}\n"
        f"  onCompleted: open({json.dumps(str(marker))}, 'w').close()\n"
    )
    result = incore_cmd("dump", app)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["Application"]["name"] == "dumped"
    assert {"$bind": "a.data * 2"} in [
        o["DataObject"].get("data") for o in doc["Application"]["objects"]
    ]
    assert not marker.exists()
    tree = incore.loads(result.stdout)
    assert incore.dumps(tree) == incore.dumps(incore.loads(incore.dumps(tree)))


def test_schema_to_stdout_and_to_a_file(tmp_path):
    out = incore_cmd("schema")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    assert schema == incore.generate_schema()
    result = incore_cmd("schema", "-o", tmp_path / "s.json")
    assert result.returncode == 0 and result.stdout == ""
    assert (tmp_path / "s.json").read_text() == out.stdout


def test_types_lists_every_registered_type():
    result = incore_cmd("types")
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    for name in (
        "Application",
        "DataObject",
        "Measurement",
        "Timer",
        "Polling",
        "Serializer",
        "Connections",
        "ObjectArray",
    ):
        assert name in names
    assert names == sorted(names)


def test_types_describes_one_type():
    result = incore_cmd("types", "Timer")
    assert result.returncode == 0
    out = result.stdout
    assert re.search(r"^  interval\s+int\s+1000\s+writable\s+Milliseconds", out, re.M)
    assert re.search(r"^  parent\s+Object\s+null\s+read-only", out, re.M)
    assert re.search(r"^  restart\(\)\s+Start the timer anew", out, re.M)
    assert re.search(r"^  triggered\(\)\s+Emitted", out, re.M)
    polling = incore_cmd("types", "Polling").stdout
    assert "Polling.NotSupportedError = 1" in polling
    assert re.search(r"^  error\s+Error\s+NoError\s+read-only", polling, re.M)


def test_types_as_json_is_the_registry_description():
    result = incore_cmd("types", "Serializer", "--json")
    assert json.loads(result.stdout) == incore.registry.describe(incore.registry.get("Serializer"))


def test_an_unknown_type_suggests_the_closest():
    result = incore_cmd("types", "Timr")
    assert result.returncode == 2
    assert result.stderr.strip() == "incore types: unknown type 'Timr' (did you mean 'Timer'?)"


def test_python_dash_m_and_the_console_script_are_the_same_program():
    script = Path(sys.executable).with_name("incore")
    via_script = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=WAIT
    )
    via_module = incore_cmd("--version")
    assert via_module.returncode == 0 and via_module.stdout == f"incore {incore.__version__}\n"
    assert (via_script.returncode, via_script.stdout) == (0, via_module.stdout)


def test_no_command_is_a_usage_error():
    result = incore_cmd()
    assert result.returncode == 2 and "usage: incore" in result.stderr


def test_main_in_process_returns_the_exit_status(tmp_path, capsys):
    from incore.cli import main

    (tmp_path / "bad.yaml").write_text("Application:\n  nmae: x\n")
    assert main(["validate", str(tmp_path / "bad.yaml")]) == 2
    assert os.path.basename(capsys.readouterr().err.split(":")[0]) == "bad.yaml"
