"""JSON-lines driver for c104's TLS client, run under c104 2.2.0 (`.venv-c104tls`).

c104 2.2.1, the project's c104, cannot finish a TLS handshake as a client (its mbedTLS 3.6
wants a host name that c104 never sets); 2.2.0 can. Both share the import name `c104`, so
the older one lives in an interpreter of its own and tests drive it through this script.

One JSON object per line on stdin, `{"op": ..., ...}`; one answer per line on stdout,
`{"ok": true, "result": ...}` or `{"ok": false, "error": text}`. lib60870 and mbedTLS print
to the process's stdout from C (a certificate dump on every handshake), so the answers go
to a private copy of stdout and file descriptor 1 is pointed at stderr.
"""

# no `from __future__ import annotations`: c104 checks callback annotations as real types

import json
import os
import sys
import threading
import time
from typing import Any

import c104

OPEN = (c104.ConnectionState.OPEN_MUTED, c104.ConnectionState.OPEN)


class Peer:
    """One c104 Client with one TLS connection, its station 1, and what it saw: every raw
    frame it received (hex) and every connection state it went through."""

    def __init__(self) -> None:
        self.client: Any = None
        self.connection: Any = None
        self.station: Any = None
        self.frames: list[str] = []
        self.states: list[str] = []
        self.lock = threading.Lock()

    def _on_raw(self, connection: c104.Connection, data: bytes) -> None:
        with self.lock:
            self.frames.append(bytes(data).hex())

    def _on_state(self, connection: c104.Connection, state: c104.ConnectionState) -> None:
        with self.lock:
            self.states.append(state.name)

    def connect(self, c: dict) -> str:
        """Start the client with mutual TLS and wait (bounded) until the link is open or
        `timeout` has passed; the state it is in then is the answer."""
        security = c104.TransportSecurity(validate=True, only_known=False)
        security.set_certificate(cert=c["cert"], key=c["key"])
        security.set_ca_certificate(cert=c["ca"])
        self.client = c104.Client(
            tick_rate_ms=50, command_timeout_ms=3000, transport_security=security
        )
        # Init.NONE: the test sends STARTDT itself (c104's Init.ALL sometimes never does)
        self.connection = self.client.add_connection(
            ip="127.0.0.1", port=c["port"], init=c104.Init.NONE
        )
        self.station = self.connection.add_station(common_address=1)
        self.connection.on_receive_raw(callable=self._on_raw)
        self.connection.on_state_change(callable=self._on_state)
        self.client.start()
        deadline = time.monotonic() + c.get("timeout", 10.0)
        while self.connection.state not in OPEN and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.connection.state.name

    def unmute(self, c: dict) -> bool:
        """STARTDT, unless c104 sent it on its own already."""
        if self.connection.state == c104.ConnectionState.OPEN:
            return True
        return bool(self.connection.unmute())

    def interrogation(self, c: dict) -> bool:
        """A general interrogation, sent without waiting: the test reads what comes back."""
        return bool(self.connection.interrogation(c.get("ca", 1), wait_for_response=False))

    def command(self, c: dict) -> bool:
        """A single command (C_SC_NA_1), direct; the answer is c104's own verdict."""
        point = self.station.get_point(io_address=c["ioa"])
        if point is None:
            point = self.station.add_point(io_address=c["ioa"], type=c104.Type.C_SC_NA_1)
        point.value = bool(c["value"])
        return bool(point.transmit(cause=c104.Cot.ACTIVATION))

    def seen(self, c: dict) -> dict:
        with self.lock:
            return {
                "frames": list(self.frames),
                "states": list(self.states),
                "state": self.connection.state.name if self.connection else None,
            }

    def stop(self) -> None:
        if self.client is not None:
            self.client.stop()


def main() -> None:
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # C-level prints go to stderr, never between the answers
    peer = Peer()
    ops = {
        "connect": peer.connect,
        "unmute": peer.unmute,
        "interrogation": peer.interrogation,
        "command": peer.command,
        "seen": peer.seen,
    }
    try:
        for line in sys.stdin:
            c = json.loads(line)
            if c["op"] == "quit":
                break
            try:
                answer = {"ok": True, "result": ops[c["op"]](c)}
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the test
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps(answer) + "\n")
    finally:
        peer.stop()


if __name__ == "__main__":
    main()
