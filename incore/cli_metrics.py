"""`incore run --metrics [ADDR:]PORT`: Prometheus' text format over HTTP, for a fleet's
monitoring to scrape (incore/app/metrics.py says what is in it).

The server is the standard library's, on a daemon thread of its own, bound to 127.0.0.1
unless an address is given (the metrics name hosts and ports of the plant: exposing them
is a choice). A scrape posts the object collection to the event loop and waits for it at
most `SCRAPE_TIMEOUT` seconds; a loop that does not answer in time (a handler that does not
return, a flood) still gets a page: the process's metrics, the loop's lag (overdue by then)
and `incore_loop_responsive 0`. Scrapes that come while a collection is pending wait for
that one instead of posting another, so a stuck loop piles nothing up.
"""

from __future__ import annotations

import argparse
import logging
import socket
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import __version__
from .app.metrics import LagProbe, Sample, collect_objects, exposition, process_samples
from .core import EventLoop

__all__ = ["MetricsServer", "parse_address", "start_metrics"]

log = logging.getLogger("incore.metrics")

#: Seconds a scrape waits for the loop to read the objects.
SCRAPE_TIMEOUT = 2.0
#: The address served when `--metrics` gives a port only.
DEFAULT_HOST = "127.0.0.1"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsError(Exception):
    """The metrics server cannot listen: one line, and `incore run` exits 1."""


def parse_address(text: str) -> tuple[str, int]:
    """`PORT`, `HOST:PORT` or `[IPv6]:PORT` as (host, port); the argparse type of `--metrics`."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host = DEFAULT_HOST
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host or not host:
        raise argparse.ArgumentTypeError(f"{text!r}: write [ADDR:]PORT (an IPv6 ADDR in [])")
    if not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: the port is a number 0..65535")
    return host, int(port)


class Scraper:
    """What a scrape returns: it asks the loop for the objects' samples and waits, bounded."""

    def __init__(self, app: Any, loop: EventLoop, timeout: float = SCRAPE_TIMEOUT) -> None:
        self.root = getattr(app, "root", app)  # an App from load_app, or a root Object
        self.ids = getattr(app, "ids", {})
        self.loop = loop
        self.timeout = timeout
        self.lag = LagProbe()
        self.lock = threading.Lock()
        self.pending: Future | None = None

    def start(self) -> None:
        self.lag.start(self.loop)

    def close(self) -> None:
        self.lag.stop()

    def page(self) -> str:
        """The whole exposition; object metrics only if the loop answered in time."""
        objects = self._objects()
        samples = [Sample("incore_info", (("version", __version__),), 1.0)]
        samples.append(Sample("incore_loop_responsive", (), float(objects is not None)))
        samples += self.lag.samples()
        samples.append(Sample("incore_loop_backlog", (), float(self.loop.backlog)))
        samples += objects or []
        samples += process_samples()
        return exposition(samples)

    def _objects(self) -> list[Sample] | None:
        with self.lock:
            future = self.pending
            if future is None or future.done():
                if self.loop.backlog >= self.loop.backlog_limit:
                    return None  # post() would hold this thread until the loop catches up
                future = self.pending = Future()
                self.loop.post(self._collect, future)
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            return None
        except Exception:
            log.exception("collecting the metrics failed")
            return None

    def _collect(self, future: Future) -> None:
        """Loop thread."""
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(collect_objects(self.root, self.ids))
        except Exception as exc:  # noqa: BLE001  (handed to the scraping thread)
            future.set_exception(exc)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, self.server.scraper.page(), CONTENT_TYPE)
        elif path == "/":
            self._send(200, "incore: the metrics are at /metrics\n", "text/plain; charset=utf-8")
        else:
            self._send(404, "not found: the metrics are at /metrics\n", "text/plain")

    def _send(self, status: int, text: str, content_type: str) -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base's name)
        log.debug("%s %s", self.address_string(), format % args)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], scraper: Scraper) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.scraper = scraper
        super().__init__(address, _Handler)


class MetricsServer:
    """The HTTP server and its thread; `url` is where it serves (the real port of port 0)."""

    def __init__(self, app: Any, loop: EventLoop, address: tuple[str, int]) -> None:
        self.scraper = Scraper(app, loop)
        try:
            self.http = _HttpServer(address, self.scraper)
        except OSError as err:
            host, port = address
            raise MetricsError(f"--metrics {host}:{port}: {err.strerror or err}") from None
        host, port = self.http.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        self.url = f"http://{shown}:{port}/metrics"
        self.thread = threading.Thread(
            target=self.http.serve_forever, args=(0.1,), name="incore metrics", daemon=True
        )

    def start(self) -> None:
        self.scraper.start()
        self.thread.start()
        log.info("metrics on %s", self.url)

    def close(self) -> None:
        """Stop serving and close the socket (waits at most the serve loop's 0.1 s poll)."""
        self.scraper.close()
        if self.thread.is_alive():
            self.http.shutdown()
        self.http.server_close()


def start_metrics(app: Any, address: tuple[str, int], loop: EventLoop) -> MetricsServer:
    """Serve the metrics of `app` (an App from `load_app`, or a root Object) at `address`
    until `close()`; MetricsError if it cannot listen."""
    server = MetricsServer(app, loop, address)
    server.start()
    return server
