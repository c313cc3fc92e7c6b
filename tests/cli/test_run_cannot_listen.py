"""`incore run` when a server cannot listen: one line and a non-zero exit, or retries."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

from test_cli import WAIT, incore_cmd, running  # noqa: F401  (running: a fixture)

APP = """\
Application:
  name: plant
  objects:
    - S7Server:
        networkAddress: 127.0.0.1
        localPort: {port}
        retryListen: {retry}
"""


def taken_port() -> socket.socket:
    """A listening socket on a free port of 127.0.0.1: the port is taken while it is open."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def app_file(tmp_path: Path, port: int, retry: bool) -> Path:
    path = tmp_path / "plant.yaml"
    path.write_text(APP.format(port=port, retry=str(retry).lower()))
    return path


def test_a_port_in_use_ends_the_run_with_one_line_and_exit_1(tmp_path):
    with taken_port() as taken:
        port = taken.getsockname()[1]
        app = app_file(tmp_path, port, retry=False)
        result = incore_cmd("run", app)
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert re.fullmatch(
        rf"{re.escape(str(app))}:4: <S7Server>: cannot listen on "
        rf"127\.0\.0\.1:{port}: Address already in use \(set retryListen to "
        r"keep trying\)",
        lines[0],
    ), lines[0]


def test_with_retry_listen_the_run_waits_for_the_port(tmp_path, running):
    taken = taken_port()
    port = taken.getsockname()[1]
    try:
        run = running(app_file(tmp_path, port, retry=True))
        run.wait_for("cannot listen on")  # one warning, then quiet retries
    finally:
        taken.close()
    run.wait_for(f"listening on 127.0.0.1:{port}")
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT):
        pass
    run.proc.send_signal(signal.SIGTERM)
    code, lines = run.finish()
    assert code == 0, lines
    assert len([line for line in lines if "cannot listen on" in line]) == 1, lines
