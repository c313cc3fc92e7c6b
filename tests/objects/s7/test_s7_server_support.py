"""Shared fixtures and helpers of the S7Server object tests (imported by the test modules).

The server object runs under a real event loop driven by the test's main thread
(`loop.run_until`), while the peer — python-snap7 in a thread, or the Snap7 C client in a
subprocess — talks to it over a real socket on 127.0.0.1.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import snap7

import incore  # noqa: F401  (registers every type)
from incore.core import EventLoop, set_loop
from incore.objects.s7 import S7Server, S7ServerArea

for _extra in (Path(__file__).resolve().parents[2] / "peers",):
    if str(_extra) not in sys.path:
        sys.path.insert(0, str(_extra))

logging.getLogger("snap7").setLevel(logging.WARNING)

#: Upper bound of every wait; waits end as soon as their condition holds.
WAIT = 10.0
DB1 = bytes(i & 0xFF for i in range(1024))


def server_threads() -> list[str]:
    """Names of the threads an S7Server runs (its TcpServer's hub and workers)."""
    return [t.name for t in threading.enumerate() if t.name.startswith("s7server")]


_made: list[S7Server] = []


@pytest.fixture
def loop() -> Iterator[EventLoop]:
    """A fresh loop; every server a test made is shut down after it, whatever happened."""
    lp = EventLoop()
    set_loop(lp)
    yield lp
    while _made:
        _made.pop().shutdown()
    set_loop(None)


def make_server(**props: Any) -> S7Server:
    """A completed (so listening, unless autoStart is false) server on a free port of
    127.0.0.1 with every area unless `objects` says otherwise."""
    areas = props.pop("objects", None)
    if areas is None:
        areas = [S7ServerArea(area=a, size=256) for a in ("PE", "PA", "MK", "CT", "TM")]
        areas += [
            S7ServerArea(area="DB", index=1, data=DB1),
            S7ServerArea(area="DB", index=2, size=16),
        ]
    props.setdefault("networkAddress", "127.0.0.1")
    props.setdefault("localPort", 0)
    server = S7Server(objects=areas, **props)
    _made.append(server)
    server.complete()
    assert server.status == (S7Server.Running if server.autoStart else S7Server.Stopped), (
        server.errorString
    )
    return server


@pytest.fixture
def server(loop: EventLoop) -> Iterator[S7Server]:
    srv = make_server()
    try:
        yield srv
    finally:
        srv.shutdown()
        assert server_threads() == []


def area(server: S7Server, name: str, index: int = 0) -> S7ServerArea:
    for child in server.objects:
        if (
            isinstance(child, S7ServerArea)
            and child.area.name == name
            and (name != "DB" or child.index == index)
        ):
            return child
    raise LookupError(name)


def in_thread(loop: EventLoop, fn: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Run `fn()` on a thread while this thread runs the loop; its result, or its exception."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the test below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    assert loop.run_until(lambda: not thread.is_alive(), timeout), "the peer did not finish"
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("result")


class Background:
    """A peer call running on a thread, for tests that must see it wait."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.box: dict[str, Any] = {}
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self.box["result"] = fn()
        except BaseException as exc:
            self.box["error"] = exc

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    def result(self) -> Any:
        self.thread.join(WAIT)
        if "error" in self.box:
            raise self.box["error"]
        return self.box.get("result")


def pysnap7(server: S7Server) -> snap7.client.Client:
    client = snap7.client.Client()
    client.connect("127.0.0.1", 0, 2, server.localPort)
    return client


def codes(events: list) -> list[int]:
    return [int(e.EvtCode) for e in events]
