"""Shared parts of the conformance matrix: our S7Server and a Snap7 C server holding the same
areas and data (one of each per module), a recording proxy in front of ours, and the
outcome of one operation in a form two servers' answers compare by.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import snap7

_TESTS = Path(__file__).resolve().parents[2]
for _extra in (_TESTS / "peers", _TESTS / "protocols"):
    if str(_extra) not in sys.path:
        sys.path.insert(0, str(_extra))

from s7_harness import Record, free_port, write_pcap  # noqa: E402, F401  (write_pcap: re-exported)
from snap7c import PeerError, Snap7CPeer  # noqa: E402
from test_s7_server_support import DB1, in_thread  # noqa: E402

from incore.core import EventLoop, set_loop  # noqa: E402
from incore.objects.s7 import S7Server, S7ServerArea  # noqa: E402

#: snap7's server area codes (SrvArea) of PE, PA, MK, CT, TM; DB is 5.
_SRV_AREAS = {"PE": 0, "PA": 1, "MK": 2, "CT": 3, "TM": 4}
SIZE = 256


def outcome(call: Callable[[], Any]) -> tuple:
    """`("ok", value)`, or `("error", exception type, text)`: two servers gave the same answer
    when the peer's client saw the same value or failed with the same error and text."""
    try:
        return ("ok", call())
    except PeerError as exc:  # the Snap7 C client's error: its number says it all
        return ("error", "snap7 C", exc.code, str(exc).split(" (code")[0])
    except Exception as exc:  # noqa: BLE001 - the failure is the outcome
        return ("error", type(exc).__name__, str(exc))


class RecordingProxy:
    """Forwards TCP connections to `port` and keeps every connection's bytes (for a pcap)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.conversations: list[list[Record]] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._accept = threading.Thread(target=self._accept_loop, daemon=True)
        self._accept.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target), timeout=10)
            record: list[Record] = []
            self.conversations.append(record)
            self._conns += [client, server]
            for src, dst, from_client in ((client, server, True), (server, client, False)):
                thread = threading.Thread(
                    target=self._pump, args=(src, dst, from_client, record), daemon=True
                )
                self._threads.append(thread)
                thread.start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, from_client: bool, record: list) -> None:
        try:
            while data := src.recv(65536):
                record.append((time.time(), from_client, data))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        self._sock.close()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        for thread in [self._accept, *self._threads]:
            thread.join(5)


@dataclass
class Servers:
    """Ours (reached through `proxy`) and the reference, with the same areas and data."""

    loop: EventLoop
    ours: S7Server
    proxy: RecordingProxy
    reference: int  # the Snap7 C server's port
    peer: Snap7CPeer
    notes: dict[str, Any] = field(default_factory=dict)

    def on_ours(self, call: Callable[[], Any]) -> tuple:
        """The outcome of `call` made while the loop runs (our server's objects live there)."""
        return in_thread(self.loop, lambda: outcome(call), timeout=30)


def our_areas() -> list[S7ServerArea]:
    areas = [S7ServerArea(area=a, size=SIZE) for a in _SRV_AREAS]
    return areas + [
        S7ServerArea(area="DB", index=1, data=DB1),
        S7ServerArea(area="DB", index=2, size=16),
    ]


def reference_areas() -> list[dict]:
    areas = [dict(area=code, size=SIZE) for code in _SRV_AREAS.values()]
    return areas + [
        dict(area=5, index=1, size=len(DB1), data=DB1.hex()),
        dict(area=5, index=2, size=16),
    ]


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    """One of each server for a whole module (each op puts back what it changes)."""
    loop = EventLoop()
    set_loop(loop)
    ours = S7Server(objects=our_areas(), networkAddress="127.0.0.1", localPort=0)
    peer = Snap7CPeer()
    proxy = None
    try:
        ours.complete()
        assert ours.status == S7Server.Running, ours.errorString
        proxy = RecordingProxy(ours.localPort)
        port = free_port()
        peer.call("server_start", port=port, areas=reference_areas())
        yield Servers(loop, ours, proxy, port, peer)
    finally:
        if proxy is not None:
            proxy.close()
        ours.shutdown()
        peer.close()
        set_loop(None)


def pysnap7_client(port: int) -> snap7.client.Client:
    client = snap7.client.Client()
    client.connect("127.0.0.1", 0, 2, port)
    return client
