"""`incore modbus-server`: MBLogic's MBAsyncServer on the command line.

A ModbusTcpServer with every table at full size, run until Ctrl-C (or SIGTERM, or the
remote shutdown command): `-p PORT`, `-d s|o` (separate or overlaid data table), `-q WORD`
(a client sending WORD on the Modbus port stops the server), `-h HOST` (the address to
listen on). `-h` is the host, as in MBAsyncServer, so help is `--help` only. It prints
MBAsyncServer's lines (a version line, `Starting server on port N. <time>`, `Server
running...`, and at Ctrl-C `Operator terminated server at <time>`, the time written as
MBLogic's help shows it), and exits 0 when stopped, 1 if it cannot listen.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

__all__ = ["add_modbus_server", "now_text"]

HELP = "run a Modbus TCP server (MBAsyncServer's options) until Ctrl-C"


def add_modbus_server(sub: Any) -> argparse.ArgumentParser:
    """Add the `modbus-server` command to the `incore` parser's subcommands."""
    p = sub.add_parser("modbus-server", help=HELP, description=HELP, add_help=False)
    p.add_argument("--help", action="help", help="show this help message and exit")
    p.add_argument("-p", dest="port", type=int, default=502, help="the TCP port (default 502)")
    p.add_argument(
        "-d",
        dest="table",
        choices=("s", "o"),
        default="s",
        help="data table: s separate (default), o overlaid (coils and discrete inputs "
        "packed 16 per register into registers 0..4095)",
    )
    p.add_argument(
        "-q", dest="shutdown", default="", metavar="WORD", help="remote shutdown command (off)"
    )
    p.add_argument(
        "-h",
        dest="host",
        default="0.0.0.0",
        metavar="HOST",
        help="address to listen on (default 0.0.0.0: every interface)",
    )
    p.set_defaults(handler=run_modbus_server)
    return p


def _say(text: str) -> None:
    print(text, flush=True)


def now_text(when: time.struct_time | None = None) -> str:
    """The time (default: now) as MBAsyncServer prints it: `Fri Jan 02 18:53:36 2009`, the
    day of the month zero-padded where `time.ctime()` pads it with a space."""
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime() if when is None else when)


def run_modbus_server(args: argparse.Namespace) -> int:
    """Serve until stopped; 0 when the operator or a client ended it."""
    import logging

    from . import __version__
    from .app import run
    from .core import get_loop
    from .objects.modbus import ModbusTcpServer

    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s: %(message)s"
    )
    server = ModbusTcpServer(
        networkAddress=args.host,
        networkPort=args.port,
        dataTable="Overlaid" if args.table == "o" else "Separate",
        shutdownCommand=args.shutdown,
    )
    remote: list[str] = []

    def running(status: Any) -> None:
        if status == ModbusTcpServer.Running:
            _say(f"incore modbus-server version {__version__}")
            _say(f"Starting server on port {server.networkPort}. {now_text()}")
            _say("Server running...")

    def shut_down(address: str) -> None:
        remote.append(address)
        get_loop().stop()

    server.statusChanged.connect(running)
    server.shutdownReceived.connect(shut_down)
    run(server)
    if remote:
        _say(f"Remote shutdown command from {remote[0]}: server terminated at {now_text()}")
    else:
        _say(f"Operator terminated server at {now_text()}")
    return 0
