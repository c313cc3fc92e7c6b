"""A tiny line protocol, test-local: shows the link pieces work for a protocol that is not S7.

Wire: the client sends ``HELLO`` and the server answers ``WELCOME <name>``; ``READ k1 k2``
is answered ``VALUES <hex|?> <hex|?>`` (``?`` for a key the server does not have) and
``WRITE k <hex>`` with ``OK``. Every line ends with a newline. The server is a real TCP
server on 127.0.0.1 (port 0, then held across stop() and start()), one thread per client.

The objects: TinyClient (a LinkClient), TinyVariables (a PolledVariables taking at most
`TinyVariables.MAX_ITEMS` keys per READ), TinyVariable (a LinkVariable holding a one-byte
unsigned value at a key) and TinyAddress (a PeerAddress).
"""

from __future__ import annotations

import enum
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # tests/objects: shared fixtures
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from incore.core import Property
from incore.objects.errors import error_property
from incore.objects.link import (
    ItemError,
    LinkClient,
    LinkVariable,
    PeerAddress,
    PolledVariables,
    port_property,
)

# -- the peer ---------------------------------------------------------------------------------


class TinyServer:
    """Serves `values` (key -> bytes); `requests` counts the READ lines it answered."""

    def __init__(self, name: str = "tiny") -> None:
        self.name = name
        self.values: dict[str, bytes] = {}
        self.requests: list[list[str]] = []
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.start()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(8)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._spawn(self._accept, listener)

    def stop(self) -> None:
        """Close the listener and every connection (the clients see them closed)."""
        listener, self._listener = self._listener, None
        with self._lock:
            conns, self._conns = self._conns, []
        for sock in [listener, *conns]:
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(5.0)

    def _spawn(self, fn: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=fn, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                if self._listener is not listener:
                    conn.close()
                    return
                self._conns.append(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            try:
                for line in stream:
                    stream.write(self._answer(line.decode().split()).encode() + b"\n")
                    stream.flush()
            except OSError:
                return

    def _answer(self, words: list[str]) -> str:
        if words == ["HELLO"]:
            return f"WELCOME {self.name}"
        if words and words[0] == "READ":
            self.requests.append(words[1:])
            return "VALUES " + " ".join(
                self.values[k].hex() if k in self.values else "?" for k in words[1:]
            )
        if len(words) == 3 and words[0] == "WRITE":
            self.values[words[1]] = bytes.fromhex(words[2])
            return "OK"
        return "ERROR"


class Doorman:
    """A port that accepts each connection and closes it at once, noting when: the times
    connection attempts arrive, measured where they arrive."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.arrived = threading.Condition()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self.arrived:
                self.arrivals.append(time.monotonic())
                self.arrived.notify_all()
            conn.close()

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self._thread.join(5.0)


# -- the client side ----------------------------------------------------------------------------


class TinyLink:
    """One connection: a request is a line out and a line back."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.peer_name = ""
        self._rest = b""

    @property
    def closed(self) -> bool:
        return self.stream.closed

    def request(self, line: str) -> list[str]:
        self.stream.send(line.encode() + b"\n")
        while b"\n" not in self._rest:
            self._rest += self.stream.recv_some()
        answer, self._rest = self._rest.split(b"\n", 1)
        return answer.decode().split()


class Target(NamedTuple):
    host: str
    port: int
    timeout: float


@dataclass(frozen=True, slots=True)
class TinyAddress(PeerAddress):
    protocol: ClassVar[str] = "tiny"

    key: str

    def __str__(self) -> str:
        return f"@{self.key}"


class TinyVariables(PolledVariables):
    MAX_ITEMS = 3

    __slots__ = ()

    def batches(self, variables: list[Any]) -> Iterator[list[Any]]:
        for start in range(0, len(variables), self.MAX_ITEMS):
            yield variables[start : start + self.MAX_ITEMS]

    def read_batch(self, batch: list[Any], then: Callable[[Future], None]) -> None:
        keys = [v.peer_address.key for v in batch]

        def job(link: TinyLink) -> list:
            words = link.request("READ " + " ".join(keys))
            return [
                ItemError(f"no key {k}") if w == "?" else bytes.fromhex(w)
                for k, w in zip(keys, words[1:])
            ]

        self.client._call(job, then)

    def write_item(self, var: Any, raw: bytes, then: Callable[[Future], None]) -> None:
        line = f"WRITE {var.peer_address.key} {raw.hex()}"
        self.client._call(lambda link: link.request(line), then)


class TinyClient(LinkClient, register=False):
    class Error(enum.IntEnum):
        NoError = 0
        ConnectError = 1
        SettingsError = 2

    __slots__ = ()

    accepts = ("Object",)
    error = error_property(Error)
    port = port_property(1)
    peerName = Property(str, "", readonly=True)
    probe_interval = None  # the protocol has no probe: a poll finds a dead link

    def _make_variables(self) -> TinyVariables:
        return TinyVariables(self)

    def _link_settings(self) -> Target:
        return Target(self.hostname, self.port, self.timeout / 1000.0)

    def _open_link(self, stream: Any, settings: Any) -> TinyLink:
        link = TinyLink(stream)
        words = link.request("HELLO")
        if words[:1] != ["WELCOME"]:
            raise ConnectionError(f"not a tiny server: {words}")
        link.peer_name = words[1]
        return link

    def _link_up(self, link: TinyLink) -> None:
        self._update("peerName", link.peer_name)

    def _describe_failure(self, exc: BaseException) -> tuple[int, str, str]:
        if isinstance(exc, ValueError):
            return self.SettingsError, "bad settings", str(exc)
        return self.ConnectError, "no link", str(exc) or type(exc).__name__


class TinyVariable(LinkVariable, register=False):
    class Error(enum.IntEnum):
        NoError = 0
        InvalidClientError = 1
        ReadError = 2
        WriteError = 3

    __slots__ = ()

    accepts = ("Polling",)
    client = Property(TinyClient, None, on_write="_client_written")
    key = Property(str, "")
    error = error_property(Error)

    @property
    def peer_address(self) -> TinyAddress:
        return TinyAddress(self.key)

    def _decode(self, raw: bytes) -> int:
        if len(raw) != 1:
            raise ValueError(f"{len(raw)} bytes for a one-byte value")
        return raw[0]

    def _encode(self, value: Any) -> bytes:
        return bytes([int(value)])

    def _missing_host_text(self) -> str:
        return f"TinyVariable {self.key} has no client"
