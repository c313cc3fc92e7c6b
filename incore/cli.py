"""The `incore` command: run, validate, dump, schema, types.

Mistakes in an app file print one line `FILE:LINE:COL: message` on stderr, no traceback,
and exit with status 2 (like a usage error). An app that cannot start (a server that cannot
listen) prints one line naming the object's FILE:LINE and exits with status 1, so a service
manager notices. Each subcommand is a (setup, handler) pair in COMMANDS, so further
commands (e.g. `incore modbus-server`) plug in with one entry.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_APP_ERROR = 2
EXIT_INTERRUPTED = 130

LOG_LEVELS = ("debug", "info", "warning", "error")

log = logging.getLogger("incore")


# -- run -----------------------------------------------------------------------------------
def _add_overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        metavar="ID.PROP=VALUE",
        action="append",
        default=[],
        dest="overrides",
        help="set a property before the app starts (repeatable); "
        "VALUE is written as in the app file",
    )


def _setup_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("app", metavar="APP", help="the app file (.yaml or .json)")
    _add_overrides(p)
    p.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        type=str.lower,
        help="how much to log on stderr (default: info)",
    )
    p.add_argument(
        "--log-binding-removal",
        action="store_true",
        help="log every binding that an assignment removes, with its file:line",
    )
    p.add_argument(
        "--trace",
        metavar="FILE",
        help="write every frame the app sends and receives to FILE, for Wireshark or tshark "
        "(pcap; pcapng when FILE ends with .pcapng)",
    )
    p.add_argument(
        "--watch",
        metavar="ID.PROP",
        nargs="*",
        help="show a live table of these values (an ID alone: that object's values and "
        "connection state; none: every identified value and every connection); put it "
        "after APP",
    )
    p.add_argument(
        "--metrics",
        metavar="[ADDR:]PORT",
        type=_metrics_address,
        help="serve Prometheus metrics at http://ADDR:PORT/metrics (ADDR 127.0.0.1 unless "
        "given; PORT 0 picks a free one, logged as 'metrics on URL')",
    )


def _metrics_address(text: str) -> tuple[str, int]:
    from .cli_metrics import parse_address

    return parse_address(text)


def _run(args: argparse.Namespace) -> int:
    if args.trace:
        return _run_traced(args)
    from .app import load_app, run
    from .core import set_binding_removal_diagnostic

    _configure_logging(args.log_level)
    set_binding_removal_diagnostic(args.log_binding_removal)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # print() in handlers shows up at once
    app = load_app(args.app, overrides=tuple(args.overrides))
    watcher = _start_watch(app, args.watch)
    metrics = _start_metrics(app, args.metrics)
    try:
        code = run(app)
    finally:
        if watcher is not None:
            watcher.close()
        if metrics is not None:
            metrics.close()
    _exit_if_threads_hang(code)
    return code


def _start_watch(app: Any, names: list[str] | None) -> Any:
    """`--watch`: a name that names nothing is a usage error, one line, before the app starts."""
    if names is None:
        return None
    from .cli_watch import WatchError, start_watch
    from .core import get_loop

    try:
        return start_watch(app, names, get_loop(), sys.stdout)
    except WatchError as err:
        print(f"incore run: {err}", file=sys.stderr)
        raise SystemExit(EXIT_APP_ERROR) from None


def _start_metrics(app: Any, address: tuple[str, int] | None) -> Any:
    """`--metrics`: an address that cannot be served is one line and exit 1, before the app
    starts (see incore/cli_metrics.py)."""
    if address is None:
        return None
    from .cli_metrics import MetricsError, start_metrics
    from .core import get_loop

    try:
        return start_metrics(app, address, get_loop())
    except MetricsError as err:
        print(f"incore run: {err}", file=sys.stderr)
        raise SystemExit(EXIT_START_FAILED) from None


def _run_traced(args: argparse.Namespace) -> int:
    """`--trace FILE`: the whole run inside a trace (incore/transport/trace.py); a file that
    cannot be made is an OSError, one line and exit 2 like an unreadable app file."""
    from .transport import trace

    _configure_logging(args.log_level)
    trace.start(args.trace)
    try:
        return _run(argparse.Namespace(**{**vars(args), "trace": None}))
    finally:
        trace.stop()


def _exit_if_threads_hang(code: int) -> None:
    """A thread that shutdown could not end must not keep the process alive forever."""
    stuck = [
        t.name
        for t in threading.enumerate()
        if t is not threading.current_thread() and t.is_alive() and not t.daemon
    ]
    if stuck:
        log.error("exiting although threads are still running: %s", ", ".join(stuck))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


# -- validate --------------------------------------------------------------------------------
def _setup_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("app", metavar="APP", help="the app file to check")
    _add_overrides(p)


def _validate(args: argparse.Namespace) -> int:
    from .app import validate

    _configure_logging("warning")
    errors = validate(args.app, tuple(args.overrides))
    for err in errors:  # every mistake, one line each, in reading order
        print(err, file=sys.stderr)
    if errors:
        return EXIT_APP_ERROR
    print(f"{args.app}: OK")
    return EXIT_OK


# -- dump ------------------------------------------------------------------------------------
def _setup_dump(p: argparse.ArgumentParser) -> None:
    p.add_argument("app", metavar="APP", help="the app file to print as a JSON tree document")
    _add_overrides(p)


def _dump(args: argparse.Namespace) -> int:
    from .app import dumps, load_app

    _configure_logging("warning")
    app = load_app(args.app, tuple(args.overrides))  # loaded, never completed: nothing starts
    print(dumps(app.root))
    return EXIT_OK


# -- schema ----------------------------------------------------------------------------------
def _setup_schema(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write the schema to FILE instead of stdout"
    )


def _schema(args: argparse.Namespace) -> int:
    from .app import generate_schema

    text = json.dumps(generate_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


# -- types -----------------------------------------------------------------------------------
def _setup_types(p: argparse.ArgumentParser) -> None:
    p.add_argument("type", metavar="TYPE", nargs="?", help="one type to describe in full")
    p.add_argument("--json", action="store_true", help="print the description as JSON")


def _types(args: argparse.Namespace) -> int:
    from .core import registry

    if args.type is None:
        described = [registry.describe(t) for t in registry.types()]
        if args.json:
            print(json.dumps(described, indent=2, ensure_ascii=False))
        else:
            width = max(len(d["name"]) for d in described)
            for d in described:
                print(f"{d['name']:<{width}}  {_first_line(d['doc'])}")
        return EXIT_OK
    cls = registry.get(args.type)
    if cls is None:
        print(
            f"incore types: unknown type '{args.type}'"
            f"{registry.suggest(args.type, registry.names())}",
            file=sys.stderr,
        )
        return EXIT_APP_ERROR
    d = registry.describe(cls)
    print(json.dumps(d, indent=2, ensure_ascii=False) if args.json else format_type(d))
    return EXIT_OK


def _first_line(text: str) -> str:
    return text.strip().split("\n")[0] if text else ""


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows]


def _default_text(prop: dict[str, Any], enum_names: set[str]) -> str:
    if prop["type"] in enum_names and isinstance(prop["default"], str):
        return prop["default"]  # an enum value reads as in an app file: Holding, not "Holding"
    return json.dumps(prop["default"], ensure_ascii=False)


def format_type(d: dict[str, Any]) -> str:
    """A type's description as text: properties, methods, signals, enums."""
    inherits = f" (inherits {', '.join(d['inherits'])})" if d["inherits"] else ""
    lines = [f"{d['name']}{inherits}"]
    lines += [("  " + line.strip()).rstrip() for line in d["doc"].split("\n")] if d["doc"] else []
    enum_names = {e["name"] for e in d["enums"]}
    if d["accepts"]:
        lines += ["", "Children: " + ", ".join("any" if a == "Object" else a for a in d["accepts"])]
    lines += ["", "Properties:"]
    lines += _table(
        [["name", "type", "default", "access", "description"]]
        + [
            [
                p["name"],
                p["type"],
                _default_text(p, enum_names),
                "writable" if p["writable"] else "read-only",
                p["doc"],
            ]
            for p in d["properties"]
        ]
    )
    if d["methods"]:
        lines += ["", "Methods:"]
        lines += _table([[f"{m['name']}({', '.join(m['args'])})", m["doc"]] for m in d["methods"]])
    lines += ["", "Signals (and <property>Changed(value) for every property):"]
    lines += _table([[f"{s['name']}({', '.join(s['args'])})", s["doc"]] for s in d["signals"]])
    for e in d["enums"]:
        lines += ["", f"Enum {e['name']}:" + (f" {e['doc']}" if e["doc"] else "")]
        lines += [f"  {d['name']}.{v['name']} = {v['value']}" for v in e["values"]]
    return "\n".join(lines)


# -- the program -----------------------------------------------------------------------------
Handler = Callable[[argparse.Namespace], int]
#: name -> (help, setup, handler). More commands (`modbus-server`) are added here.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {
    "run": ("run an app until Ctrl-C, SIGTERM or Application.quit()", _setup_run, _run),
    "validate": ("check an app file without starting it", _setup_validate, _validate),
    "dump": ("print an app's object tree as a JSON document", _setup_dump, _dump),
    "schema": ("print the JSON Schema of app files (for editors)", _setup_schema, _schema),
    "types": ("list the object types, or describe one", _setup_types, _types),
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="incore",
        description="Declarative, reactive industrial apps: run and inspect incore app files.",
    )
    parser.add_argument("--version", action="version", version=f"incore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, setup, handler) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        setup(p)
        p.set_defaults(handler=handler)
    from .cli_modbus import add_modbus_server

    add_modbus_server(sub)
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The `incore` program; returns the exit status."""
    args = build_parser().parse_args(argv)
    from .app.errors import AppError
    from .objects.errors import StartError

    try:
        return args.handler(args)
    except AppError as err:
        print(err, file=sys.stderr)
        return EXIT_APP_ERROR
    except StartError as err:  # raised while completing; the run has shut down already
        print(err, file=sys.stderr)
        _exit_if_threads_hang(EXIT_START_FAILED)
        return EXIT_START_FAILED
    except KeyboardInterrupt:
        print("incore: interrupted", file=sys.stderr)
        if args.handler is _run:  # aborted: threads the app left must not delay the exit
            _exit_if_threads_hang(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    except OSError as err:  # an unreadable app file or schema destination
        print(f"incore: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_APP_ERROR
