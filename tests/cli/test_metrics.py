"""`incore run --metrics`: Prometheus' text format, scraped over HTTP from a running app.

Every page is read by a small parser of the exposition format written here (HELP and TYPE
before a family's samples, each family once, escaped label values, cumulative histogram
buckets), so a page that monitoring would reject fails the test. The app serves S7 and
Modbus TCP to its own clients, and one more S7Client talks to python-snap7's server in this
process, which the test stops to see that client's connection go down.
"""

from __future__ import annotations

import math
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from snap7.server import Server as PyServer
from snap7.type import SrvArea
from test_cli import WAIT, incore_cmd, running  # noqa: F401  (a fixture)

from incore.app.metrics import Sample, collect_objects, escape_label, exposition
from incore.cli_metrics import Scraper, parse_address
from incore.core import EventLoop, Object, Property, set_loop

# -- a small parser of the text format -------------------------------------------------------
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^(?P<name>{_NAME})(?:\{{(?P<labels>.*)\}})? (?P<value>\S+)$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}

Labels = tuple[tuple[str, str], ...]


def parse_labels(text: str) -> Labels:
    out = []
    pos = 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        assert m, f"bad labels at {text[pos:]!r}"
        value = re.sub(r"\\[\\\"n]", lambda e: _UNESCAPE[e.group()], m.group(2))
        out.append((m.group(1), value))
        pos = m.end()
    names = [k for k, _ in out]
    assert len(names) == len(set(names)), f"a label twice: {text!r}"
    return tuple(out)


def parse_value(text: str) -> float:
    special = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    return special[text] if text in special else float(text)


def parse(page: str) -> dict[str, dict[Labels, float]]:
    """Sample name -> {labels: value}; asserts the format's rules on the way."""
    assert page.endswith("\n")
    types: dict[str, str] = {}
    helped: set[str] = set()
    samples: dict[str, dict[Labels, float]] = {}
    family = None
    for line in page[:-1].split("\n"):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helped, f"HELP twice: {line}"
            helped.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name in helped and name not in types, line
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            types[name] = kind
            family = name
            continue
        assert not line.startswith("#"), line
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name = m["name"]
        assert family is not None and (
            name == family
            or (types[family] == "histogram" and name in {f"{family}_{s}" for s in SUFFIXES})
        ), f"{name} outside its family ({family})"
        labels = parse_labels(m["labels"] or "")
        assert labels not in samples.setdefault(name, {}), f"a sample twice: {line}"
        samples[name][labels] = parse_value(m["value"])
    for name, kind in types.items():
        if kind == "histogram":
            check_histogram(samples, name)
    return samples


SUFFIXES = ("bucket", "sum", "count")


def check_histogram(samples: dict[str, dict[Labels, float]], name: str) -> None:
    """Buckets grow with `le`, and the +Inf one is the count."""
    series: dict[Labels, list[tuple[float, float]]] = {}
    for labels, value in samples[f"{name}_bucket"].items():
        le = dict(labels)["le"]
        rest = tuple(kv for kv in labels if kv[0] != "le")
        series.setdefault(rest, []).append((parse_value(le), value))
    for rest, buckets in series.items():
        buckets.sort()
        counts = [n for _, n in buckets]
        assert counts == sorted(counts), (rest, buckets)
        assert buckets[-1][0] == math.inf
        assert samples[f"{name}_count"][rest] == counts[-1]
        assert rest in samples[f"{name}_sum"]


def value(page: dict, name: str, **labels: str) -> float:
    """The one sample of `name` whose labels include `labels`."""
    found = [v for ls, v in page.get(name, {}).items() if labels.items() <= dict(ls).items()]
    assert len(found) == 1, (name, labels, page.get(name))
    return found[0]


# -- the format, in process ------------------------------------------------------------------
def test_label_values_are_escaped_and_read_back():
    odd = 'a "quoted" \\ back\nslash'
    text = exposition(
        [
            Sample("incore_connection_up", (("object", odd), ("type", "S7Client")), 1.0),
            Sample("incore_loop_lag_seconds", (), 0.25),
            Sample("incore_request_seconds_bucket", (("object", "x"), ("le", "0.5")), 2),
            Sample("incore_request_seconds_bucket", (("object", "x"), ("le", "+Inf")), 3),
            Sample("incore_request_seconds_sum", (("object", "x"),), 1.5),
            Sample("incore_request_seconds_count", (("object", "x"),), 3),
        ]
    )
    assert escape_label(odd) in text and "\n" not in escape_label(odd)
    page = parse(text)
    assert value(page, "incore_connection_up", object=odd) == 1
    assert value(page, "incore_loop_lag_seconds") == 0.25
    assert text.index("# TYPE incore_loop_lag_seconds gauge") < text.index(
        "# TYPE incore_connection_up gauge"
    )  # families in their declared order, whatever the samples' order


HEAD = "# HELP incore_loop_backlog x\n# TYPE incore_loop_backlog gauge\n"


@pytest.mark.parametrize(
    "bad",
    [
        HEAD + 'incore_loop_backlog{object="a} 1\n',  # an unterminated label value
        HEAD + 'incore_loop_backlog{object="a\\q"} 1\n',  # an escape the format has not
        HEAD + "incore_loop_backlog\n",  # no value
        HEAD + "incore_loop_backlog 1\nincore_loop_backlog 2\n",  # the same series twice
        HEAD + HEAD + "incore_loop_backlog 1\n",  # the family twice
        "incore_loop_backlog 1\n",  # no TYPE before it
        HEAD + "incore_loop_backlog 1",  # no newline at the end
    ],
)
def test_the_parser_rejects_what_monitoring_would(bad):
    parse(HEAD + "incore_loop_backlog 1\n")
    with pytest.raises((AssertionError, KeyError, ValueError)):
        parse(bad)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("9102", ("127.0.0.1", 9102)),
        ("0", ("127.0.0.1", 0)),
        ("0.0.0.0:9102", ("0.0.0.0", 9102)),
        ("[::1]:0", ("::1", 0)),
        ("localhost:80", ("localhost", 80)),
    ],
)
def test_addresses(text, address):
    assert parse_address(text) == address


class _Queue(Object, register=False):
    """Stands for a type this module does not know (an MQTT client's store and forward)."""

    storedMessages = Property(int, 0, readonly=True)
    droppedCount = Property(int, 0, readonly=True)
    lostEventCount = Property(int, 0, readonly=True)
    settingCount = Property(int, 3)  # writable: a setting, not a count the object keeps
    flag = Property(bool, False, readonly=True)


@pytest.fixture
def loop():
    fresh = EventLoop()
    set_loop(fresh)
    yield fresh
    set_loop(None)


def test_counts_are_found_by_their_names_on_any_object(loop):
    root = Object()
    queue = _Queue(root)
    queue._update("storedMessages", 5)
    queue._update("droppedCount", 2)
    _Queue(root)  # no id, no file: labelled by its type, made unique
    page = parse(exposition(collect_objects(root, {"outbox": queue})))
    assert value(page, "incore_object_count", object="outbox", property="storedMessages") == 5
    dropped = page["incore_dropped_total"]
    assert (
        dropped[
            (("object", "outbox"), ("type", "_Queue"), ("kind", ""), ("property", "droppedCount"))
        ]
        == 2
    )
    assert value(page, "incore_dropped_total", object="outbox", kind="events") == 0
    assert {dict(ls)["object"] for ls in dropped} == {"outbox", "_Queue"}
    assert "settingCount" not in str(page) and "flag" not in str(page)


def test_a_loop_that_does_not_answer_still_gets_a_page_of_process_metrics(loop):
    # The loop does not run yet: nothing posted to it is done.
    app = type("App", (), {"root": Object(), "ids": {}})()
    scraper = Scraper(app, loop, timeout=0.3)
    scraper.start()
    started = time.monotonic()
    page = parse(scraper.page())
    parse(scraper.page())  # a second scrape waits on the same pending collection
    assert time.monotonic() - started < 3.0
    assert loop.backlog == 1
    assert value(page, "incore_loop_responsive") == 0
    assert "incore_connection_up" not in page
    assert value(page, "process_resident_memory_bytes") > 1_000_000
    assert value(page, "process_threads") >= 1
    assert value(page, "process_open_fds") >= 3
    time.sleep(0.25)  # the probe timer is overdue by now: the loop cannot fire it
    assert value(parse(scraper.page()), "incore_loop_lag_seconds") > 0.1
    runs = threading.Thread(target=loop.run, args=(WAIT,))
    runs.start()  # the loop runs at last: the stale collection, then a fresh one in time
    try:
        page = parse(scraper.page())
    finally:
        loop.stop()
        runs.join(WAIT)
        scraper.close()
    assert value(page, "incore_loop_responsive") == 1
    assert loop.backlog == 0


# -- incore run --metrics ----------------------------------------------------------------------
APP = """\
Application:
  id: app
  objects:
    - S7Server:
        id: plc
        networkAddress: 127.0.0.1
        localPort: 0
        objects:
          - S7ServerArea: {{area: DB, index: 1, size: 8}}
    - S7Client:
        id: line
        hostname: 127.0.0.1
        port: !bind plc.localPort
        slot: 2
        objects:
          - S7Variable:
              name: DB1.DBD0:REAL
              objects:
                - Polling: {{on: data, interval: 20}}
    - S7Client:
        id: remote
        hostname: 127.0.0.1
        port: {remote}
        slot: 2
        timeout: 500
        reconnectInterval: 50
        maxReconnectInterval: 200
        objects:
          - S7Variable:
              name: DB1.DBW0
              objects:
                - Polling: {{on: data, interval: 20}}
    - ModbusTcpServer:
        id: device
        networkAddress: 127.0.0.1
        networkPort: 0
        objects:
          - ModbusRegister: {{type: Holding, address: 0, data: 7}}
    - ModbusTcpClient:
        id: controller
        networkAddress: 127.0.0.1
        networkPort: !bind device.networkPort
        objects:
          - ModbusSlave:
              address: 1
              objects:
                - Polling: {{on: registers, interval: 20}}
                - ModbusRegister: {{type: Holding, address: 0}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url: str) -> tuple[dict[str, dict[Labels, float]], str]:
    with urllib.request.urlopen(url, timeout=WAIT) as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = reply.read().decode("utf-8")
    return parse(text), text


def scrape_until(url: str, check, timeout: float = WAIT) -> dict:
    """Scrape until `check(page)` is true (fails with the last page after `timeout`)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        page, text = scrape(url)
        if check(page):
            return page
        assert time.monotonic() < deadline, text
        pause.wait(0.1)


def _up(page: dict, obj: str) -> float | None:
    series = page.get("incore_connection_up", {})
    return next((v for ls, v in series.items() if ("object", obj) in ls), None)


@pytest.fixture
def plc():
    """python-snap7's server with DB1, in this process: the peer the test stops."""
    server = PyServer(log=False)
    server.register_area(SrvArea.DB, 1, bytearray(8))
    port = free_port()
    server.start_to("127.0.0.1", port)
    yield server, port
    server.stop()
    server.destroy()


def test_a_scraped_app_shows_its_connections_requests_and_a_peer_going_down(tmp_path, running, plc):
    server, port = plc
    app = tmp_path / "app.yaml"
    app.write_text(APP.format(remote=port))
    proc = running(app, "--metrics", "0")
    url = re.search(r"metrics on (http://\S+)", proc.wait_for("metrics on http://"))[1]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
    clients = ("line", "remote", "controller")
    first = scrape_until(
        url,
        lambda p: (
            all(_up(p, c) == 1 for c in clients)
            and all(value(p, "incore_requests_total", object=c) > 0 for c in clients)
        ),
    )
    assert value(first, "incore_loop_responsive") == 1
    assert 0 <= value(first, "incore_loop_lag_seconds") < 1
    assert value(first, "incore_server_connections", object="plc", type="S7Server") == 1
    assert value(first, "incore_server_connections", object="device") == 1
    assert value(first, "incore_state", object="plc", state="Running") == 1
    assert value(first, "incore_state", object="plc", state="Stopped") == 0
    assert value(first, "incore_error_code", object="line") == 0
    assert value(first, "incore_dropped_total", object="line", kind="replies") == 0
    assert value(first, "incore_dropped_total", object="plc", kind="events") == 0
    for c in clients:
        assert value(first, "incore_request_errors_total", object=c) == 0
        count = value(first, "incore_request_seconds_count", object=c)
        assert 0 < value(first, "incore_request_seconds_sum", object=c) < count * 1.0
    assert value(first, "process_resident_memory_bytes") > 10_000_000
    assert value(first, "process_threads") > 3

    # Polling goes on: the counters grow between two scrapes.
    second = scrape_until(
        url,
        lambda p: all(
            value(p, "incore_requests_total", object=c)
            > value(first, "incore_requests_total", object=c)
            for c in clients
        ),
    )
    assert value(second, "process_cpu_seconds_total") >= value(first, "process_cpu_seconds_total")

    # The peer stops: that client's connection is down, its requests fail; the others go on.
    server.stop()
    down = scrape_until(url, lambda p: _up(p, "remote") == 0)
    assert value(down, "incore_error_code", object="remote") != 0
    assert _up(down, "line") == 1 and _up(down, "controller") == 1
    scrape_until(url, lambda p: value(p, "incore_request_errors_total", object="remote") > 0)

    proc.proc.send_signal(signal.SIGINT)
    code, lines = proc.finish()
    assert code == 0, lines
    assert not any("Traceback" in line for line in lines), lines
    with pytest.raises(urllib.error.URLError):  # the server went with the app
        urllib.request.urlopen(url, timeout=2)


def test_a_port_that_is_taken_is_one_line_and_exit_1(tmp_path):
    app = tmp_path / "app.yaml"
    app.write_text("Application:\n  id: app\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = incore_cmd("run", app, "--metrics", f"127.0.0.1:{port}")
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert lines == [f"incore run: --metrics 127.0.0.1:{port}: Address already in use"]


def test_a_malformed_address_is_a_usage_error(tmp_path):
    result = incore_cmd("run", tmp_path / "app.yaml", "--metrics", "host:port")
    assert result.returncode == 2
    assert "--metrics" in result.stderr and "0..65535" in result.stderr
