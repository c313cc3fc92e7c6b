"""Shared pieces of the MQTT tests (no tests here): a real Mosquitto per test, and paho
consumers that see what incore publishes.

`Broker` starts `mosquitto -c CONFIG` on a free 127.0.0.1 port with a config written for
it (anonymous clients, no persistence unless asked, TLS with the run's certificates if
given) and waits until the port accepts connections; `stop()`/`start()` restart it on the
same port, which is how the store-and-forward tests take the broker away mid-stream.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from waiting import listening, until

_HERE = Path(__file__).resolve().parent
for extra in (_HERE.parent, _HERE.parents[1] / "transport"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from foundation_helpers import loop  # noqa: E402,F401  (fixture)
from test_tls_contexts import Certs, certificates  # noqa: E402,F401

MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None
)
needs_mosquitto = pytest.mark.skipif(
    MOSQUITTO is None, reason="needs Mosquitto (Debian's package mosquitto; `make tools`)"
)
#: Upper bound of any wait; waits end as soon as their condition holds.
WAIT = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A Mosquitto process of this test, on 127.0.0.1:`port`."""

    def __init__(self, root: Path, certs: Certs | None = None, persistence: bool = False):
        self.root = root
        self.certs = certs
        self.persistence = persistence
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.config = root / "mosquitto.conf"
        self.log = root / "mosquitto.log"

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.root}/",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "max_queued_messages 100000",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to `mosquitto`, who can't read tmp
        if self.certs is not None:
            lines += [
                f"cafile {self.certs.ca}",
                f"certfile {self.certs.server}",
                f"keyfile {self.certs.server_key}",
                "tls_version tlsv1.2",
            ]
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self._write_config()
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        proc = self.proc
        if not until(lambda: listening(self.port) or proc.poll() is not None, WAIT):
            raise TimeoutError(f"mosquitto does not listen on port {self.port} after {WAIT} s")
        if proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {proc.stderr.read().decode()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # graceful: it saves persistence on the way
            try:
                proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc is not None and proc.stderr is not None:
            proc.stderr.close()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


class Consumer:
    """A paho client that records every message of `topics` (topic, payload, retain)."""

    def __init__(
        self,
        port: int,
        topics: str | list[str],
        qos: int = 1,
        client_id: str = "",
        clean: bool = True,
        tls: Any = None,
    ) -> None:
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.seen: list[tuple[str, bytes, bool]] = []
        self.subscribed = threading.Event()
        topics = [topics] if isinstance(topics, str) else topics
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean
        )
        if tls is not None:
            self.client.tls_set_context(tls)

        def on_connect(client, _u, _f, reason, _p):
            if not reason.is_failure:
                client.subscribe([(t, qos) for t in topics])

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.put(
            (m.topic, bytes(m.payload), bool(m.retain))
        )
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        assert self.subscribed.wait(WAIT), "the consumer did not subscribe"

    def wait_for(self, predicate: Callable[[list], bool], timeout: float = WAIT) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate(self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self.seen.append(self.messages.get(timeout=left))
            except queue.Empty:
                return False
        return True

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_once(port: int, topic: str, payload: bytes | str, qos: int = 1, retain=False) -> None:
    """Publish one message with a paho client of its own and wait until the broker has it."""
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos, retain)
        info.wait_for_publish(WAIT)
    finally:
        client.disconnect()
        client.loop_stop()


def received(loop: Any, consumer: Consumer, n: int, timeout: float = WAIT) -> bool:
    """Run the incore loop until `consumer` has seen at least `n` messages."""
    return loop.run_until(lambda: consumer.wait_for(lambda s: len(s) >= n, 0.01), timeout)
