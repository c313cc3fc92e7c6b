"""`incore run --watch`: the plain lines a pipe gets, the table a terminal gets, bad names.

The subprocess tests read stdout through a pipe, so they see the plain output (one line per
change); the table is tested in-process with a fake terminal size and a StringIO.
"""

from __future__ import annotations

import io
import re
import signal
import socket
import time
from pathlib import Path

import pytest
from test_cli import QUICKSTART, Running, incore_cmd, running  # noqa: F401  (a fixture)

from incore.app.watch import Selection, WatchError, age_text, render, short
from incore.cli_watch import Watcher, _Guarded
from incore.core import EventLoop, set_loop
from incore.objects.foundation import Application, DataObject

PLAIN = re.compile(
    r"^\d\d:\d\d:\d\d (?P<name>\S+) = (?P<value>.+?)(?: (?P<q>Good|Uncertain|Bad))?$"
)


def values_seen(proc: Running, name: str, count: int, timeout: float = 10.0) -> list[str]:
    """The first `count` distinct values of plain lines for `name` (fails after `timeout`)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        line = proc.wait_for(f" {name} = ", max(0.1, deadline - time.monotonic()))
        match = PLAIN.match(line)
        assert match, line
        if match["value"] not in seen:
            seen.append(match["value"])
    return seen


def line_with(proc: Running, text: str) -> str:
    """A line containing `text`, among those read already or the next ones."""
    return next((x for x in proc.seen if text in x), None) or proc.wait_for(text)


def stop(proc: Running) -> list[str]:
    proc.proc.send_signal(signal.SIGINT)
    code, lines = proc.finish()
    assert code == 0, lines
    assert any("stopped" in line for line in lines), lines
    assert not any("Traceback" in line for line in lines), lines
    return lines


def free_port() -> int:
    """A port nobody listens at (bound, then closed): connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def watch_app(tmp_path: Path) -> Path:
    app = tmp_path / "watched.yaml"
    app.write_text(
        "Application:\n"
        "  id: app\n"
        "  objects:\n"
        "    - DataObject: {id: counter, data: 0}\n"
        "    - DataObject: {id: stale, data: 1.5, quality: Bad}\n"
        "    - Timer:\n"
        "        interval: 50\n"
        "        onTriggered: counter.data = counter.data + 1\n"
        "    - ModbusTcpServer: {id: srv, networkAddress: 127.0.0.1, networkPort: 0}\n"
        "    - ModbusTcpClient:\n"
        "        id: dev\n"
        "        hostname: 127.0.0.1\n"
        "        networkPort: !bind srv.networkPort\n"
        "    - ModbusTcpClient:\n"
        f"        {{id: gone, hostname: 127.0.0.1, networkPort: {free_port()}}}\n"
    )
    return app


# -- through a pipe ------------------------------------------------------------------------
def test_an_example_watched_through_a_pipe_prints_values_with_quality_and_stops_on_ctrl_c(
    running,
):
    proc = running(QUICKSTART, "--watch")
    line = proc.wait_for(".data = ")
    assert PLAIN.match(line) and PLAIN.match(line)["q"] in ("Good", "Uncertain", "Bad"), line
    stop(proc)


def test_plain_lines_follow_changes_quality_and_connections(tmp_path, running):
    proc = running(watch_app(tmp_path), "--watch")
    first, second, third = values_seen(proc, "counter.data", 3)
    assert int(first) < int(second) < int(third)  # a changing value shows its new value
    assert PLAIN.match(line_with(proc, " stale.data = "))["q"] == "Bad"
    assert "status=Running" in line_with(proc, " srv: ")
    assert "connected=True state=Connected" in line_with(proc, " dev: connected=True")
    refused = line_with(proc, " gone: connected=False state=Connecting error: ")
    assert "refused" in refused, refused
    lines = stop(proc)
    stamps = [x.split()[0] for x in lines if " counter.data = " in x]
    assert len(stamps) == len(set(stamps)), lines  # at most one line a second


def test_named_values_and_an_id_alone_restrict_the_output(tmp_path, running):
    proc = running(watch_app(tmp_path), "--watch", "stale.quality", "dev")
    assert proc.wait_for("stale.quality = ").endswith("= Bad")  # quality as a plain value
    line_with(proc, " dev: connected=True")
    lines = stop(proc)
    shown = {m["name"] for m in map(PLAIN.match, lines) if m}
    assert shown == {"stale.quality"}, lines
    assert not any(x.split()[1:2] in (["srv:"], ["gone:"]) for x in lines), lines


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cunter.data", "--watch cunter.data: unknown id 'cunter' (did you mean 'counter'?)"),
        ("counter.dat", "--watch counter.dat: DataObject has no property 'dat'"),
        ("app", "--watch app: Application has no value to show"),
    ],
)
def test_a_bad_name_is_one_line_and_exit_2_before_the_app_starts(tmp_path, name, message):
    result = incore_cmd("run", watch_app(tmp_path), "--watch", "counter.data", name)
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"incore run: {message}"), lines[0]
    assert result.stdout == ""  # nothing ran: no value was shown, no handler printed


# -- the table -------------------------------------------------------------------------------
@pytest.fixture
def app_objects():
    set_loop(EventLoop())
    objs = {
        "level": DataObject(data=41.5),
        "alarm": DataObject(data=False, quality=DataObject.Bad),
        "label": DataObject(data="a rather long text that does not fit in the value column"),
    }
    yield objs, Application(objects=list(objs.values()))
    set_loop(None)


def test_the_table_fits_a_narrow_terminal_and_colours_quality():
    rows = [("level.data", "41.5", "Good", "0.2s"), ("alarm.data", "False", "Bad", "3.0s")]
    links = [("plc", "connected=False state=Connecting", "ConnectionError: refused")]
    lines = render(rows, links, width=40, height=24, colour=True)
    plain = [re.sub(r"\x1b\[\d+m", "", x) for x in lines]
    assert all(len(x) < 40 for x in plain), plain
    assert plain[0].split() == ["NAME", "VALUE", "QUALITY", "AGE"]
    assert plain[1].split() == ["level.data", "41.5", "Good", "0.2s"]
    assert "\x1b[32mGood\x1b[0m" in lines[1] and "\x1b[31mBad\x1b[0m" in lines[2]
    assert plain[3].startswith("CONNECTION") and plain[4].startswith("plc ")
    assert render(rows, links, width=40, height=24, colour=False) == plain


def test_a_short_terminal_shows_what_fits_and_counts_the_rest():
    rows = [(f"v{i}.data", str(i), "Good", "-") for i in range(50)]
    lines = render(rows, [], width=80, height=10, colour=False)
    assert len(lines) == 9
    assert lines[-1] == "... 43 more lines: name what to watch"


def test_the_watcher_redraws_a_changed_value_in_place(app_objects, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setenv("LINES", "20")
    objs, root = app_objects
    out = io.StringIO()
    watcher = Watcher(Selection(objs, root, []), out, tty=True, colour=False)
    watcher.draw(time.monotonic())
    first = out.getvalue()
    assert re.search(r"^level\.data +41\.5 +Good +\d\.\ds$", first, re.M), first
    assert re.search(r"^alarm\.data +False +Bad", first, re.M), first
    assert "..." in first and all(len(x) < 60 for x in first.splitlines())

    objs["level"].data = 42.25
    watcher.draw(time.monotonic())
    again = out.getvalue()[len(first) :]
    assert again.startswith("\r\x1b[4A\x1b[J"), repr(again)  # up over the 4 lines, clear
    assert re.search(r"^level\.data +42\.25 +Good", again, re.M), again

    watcher.draw(time.monotonic())  # nothing changed within a second: nothing written
    assert out.getvalue() == first + again


def test_a_line_the_app_prints_takes_the_tables_place(app_objects):
    objs, root = app_objects
    out = io.StringIO()
    watcher = Watcher(Selection(objs, root, ["level"]), out, tty=True, colour=False)
    watcher.draw(time.monotonic())
    table = out.getvalue()
    _Guarded(watcher, out).write("hello from a handler\n")
    assert out.getvalue() == table + "\r\x1b[2A\x1b[Jhello from a handler\n"
    watcher.draw(time.monotonic())  # drawn again below the printed line
    below = out.getvalue().split("hello from a handler\n")[1]
    assert re.fullmatch(r"NAME +VALUE +QUALITY +AGE\nlevel\.data +41\.5 +Good +\S+\n", below)


def test_watching_adds_no_subscriber_to_any_object(app_objects):
    objs, root = app_objects
    before = [obj._obs for obj in root.walk()]
    watcher = Watcher(Selection(objs, root, []), io.StringIO(), tty=False)
    watcher.print_changes(time.monotonic())
    assert [obj._obs for obj in root.walk()] == before  # a change costs the app nothing more


def test_plain_output_prints_only_what_changed(app_objects):
    objs, root = app_objects
    out = io.StringIO()
    watcher = Watcher(Selection(objs, root, ["level.data", "alarm"]), out, tty=False)
    watcher.print_changes(time.monotonic())
    assert [x.split(" ", 1)[1] for x in out.getvalue().splitlines()] == [
        "level.data = 41.5 Good",
        "alarm.data = False Bad",
    ]
    objs["alarm"].quality = DataObject.Good
    watcher.print_changes(time.monotonic())
    assert out.getvalue().splitlines()[2].endswith(" alarm.data = False Good")
    watcher.print_changes(time.monotonic())
    assert len(out.getvalue().splitlines()) == 3


def test_names_are_checked_against_the_app(app_objects):
    objs, root = app_objects
    with pytest.raises(WatchError, match=r"unknown id 'levl' \(did you mean 'level'\?\)"):
        Selection(objs, root, ["levl.data"])
    with pytest.raises(WatchError, match="DataObject has no property 'dta'"):
        Selection(objs, root, ["level.dta"])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (40.0, "40.0"),
        (0.1 + 0.2, "0.3"),
        (1e-9, "1e-09"),
        (7, "7"),
        ("a b", "'a b'"),
        (b"\x01\xff", "01 ff"),
        (DataObject.Bad, "Bad"),
        ("x" * 100, "'" + "x" * 28 + "..."),
    ],
)
def test_values_are_short(value, text):
    assert short(value) == text


def test_ages_are_short():
    assert [age_text(s) for s in (None, 0.04, 9.96, 42, 600, 7200, 200000)] == [
        "-",
        "0.0s",
        "10.0s",
        "42s",
        "10m",
        "2h",
        "2d",
    ]
