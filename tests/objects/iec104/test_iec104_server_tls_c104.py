"""c104's TLS client (TransportSecurity, lib60870 over mbedTLS) against our IEC104Server
over TLS with mutual authentication: STARTDT, a general interrogation answered with our
values and a command confirmed; and a c104 client whose certificate comes from another CA,
refused in the handshake (our server logs it) so that its connection never opens.

c104 2.2.1's TLS client fails every handshake (see the strict xfail in
tests/transport/test_tls_client.py), so the peer is c104 2.2.0 in an interpreter of its own
(`make test` builds `.venv-c104tls`; `INCORE_C104TLS_PYTHON` names it) driven through
tests/peers/c104tls_driver.py. c104 races on its own threads, so the frames it received
decide, not its return values. Certificates are made by the openssl command at test time.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from test_iec104_server_support import WAIT, loop, make_server, point, wait  # noqa: F401
from test_iec104_server_tls import make_ca, make_cert

from incore.protocols.iec104 import Asdu, Cause, IFrame, UFrame, UFunction, decode_asdu
from incore.protocols.iec104.apci import Frame, decode_frame

REPO = Path(__file__).resolve().parents[3]
DRIVER = REPO / "tests" / "peers" / "c104tls_driver.py"
PYTHON = os.environ.get("INCORE_C104TLS_PYTHON") or str(REPO / ".venv-c104tls" / "bin" / "python")

pytestmark = [
    pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command"),
    pytest.mark.skipif(
        not Path(PYTHON).exists(), reason=f"no c104 2.2.0 interpreter at {PYTHON} (make test)"
    ),
]

CON, TERM = Cause.ACTIVATION_CON, Cause.ACTIVATION_TERMINATION
OPEN = ("OPEN_MUTED", "OPEN")


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "other")
    make_cert(d, "ca", "server")
    make_cert(d, "ca", "client")
    make_cert(d, "other", "stranger")
    return d


class C104Tls:
    """The driver subprocess; `call` runs the test's event loop until the answer comes, since
    the c104 side waits on our server, which runs on that loop."""

    def __init__(self, loop: Any, log: Path) -> None:
        self.loop = loop
        self._log = log.open("w")  # mbedTLS's certificate dumps and any traceback
        self.proc = subprocess.Popen(
            [PYTHON, str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self._lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")

    def call(self, op: str, **args: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        if op == "seen":  # answered at once, and asked from inside the loop's waits
            line = self._lines.get(timeout=WAIT)
        else:
            answered = self.loop.run_until(lambda: not self._lines.empty(), WAIT + 5)
            assert answered, f"{op}: no answer"
            line = self._lines.get()
        assert line, f"the driver exited during {op}"
        answer = json.loads(line)
        assert answer["ok"], answer["error"]
        return answer["result"]

    def frames(self) -> list[Frame]:
        """Every APDU c104 received, decoded with our codec."""
        return [decode_frame(bytes.fromhex(h)) for h in self.call("seen")["frames"]]

    def asdus(self) -> list[Asdu]:
        return [decode_asdu(f.asdu) for f in self.frames() if isinstance(f, IFrame)]

    def has(self, type_id: int, cause: int, negative: bool = False) -> bool:
        return any(
            (a.type_id, a.cause, a.negative) == (type_id, cause, negative) for a in self.asdus()
        )

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                assert self.proc.stdin is not None
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(WAIT)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(WAIT)
        finally:
            self._log.close()


@pytest.fixture
def c104tls(loop, tmp_path):
    peers: list[C104Tls] = []

    def make() -> C104Tls:
        peers.append(C104Tls(loop, tmp_path / f"c104tls-{len(peers)}.log"))
        return peers[-1]

    yield make
    for peer in peers:
        peer.close()


def tls_server(certs: Path):
    return make_server(
        tlsCertificate=str(certs / "server.pem"),
        tlsPrivateKey=str(certs / "server.key"),
        tlsCaCertificate=str(certs / "ca.pem"),
    )


def identity(certs: Path, name: str, port: int) -> dict:
    return {
        "port": port,
        "cert": str(certs / f"{name}.pem"),
        "key": str(certs / f"{name}.key"),
        "ca": str(certs / "ca.pem"),
    }


def open_and_start(loop: Any, certs: Path, c104tls: Any, server: Any) -> C104Tls:
    """A c104 TLS client with the CA's client certificate, its link open and STARTDT
    confirmed (the confirmation seen in what it received)."""
    peer = c104tls()
    assert peer.call("connect", **identity(certs, "client", server.port)) in OPEN
    wait(loop, lambda: server.openConnectionCount == 1)
    peer.call("unmute")
    wait(loop, lambda: UFrame(UFunction.STARTDT_CON) in peer.frames())
    wait(loop, lambda: server.activeConnectionCount == 1)
    return peer


def test_c104s_tls_client_with_mutual_authentication_commands(loop, certs, c104tls):
    server = tls_server(certs)
    peer = open_and_start(loop, certs, c104tls, server)
    peer.call("command", ioa=500, value=True)
    wait(loop, lambda: peer.has(45, CON))
    assert not peer.has(45, CON, negative=True)
    assert point(server, 500).data is True
    seen = peer.call("seen")
    assert seen["state"] == "OPEN", seen


# lib60870 reads one APDU each time its socket is readable: were several APDUs in one TLS
# record, those after the first would wait in mbedTLS's buffer (c104 would see the
# interrogation's confirmation and nothing after it). Our server sends an APDU per record.
def test_c104s_tls_client_with_mutual_authentication_interrogates(loop, certs, c104tls):
    server = tls_server(certs)
    peer = open_and_start(loop, certs, c104tls, server)
    peer.call("interrogation")
    wait(loop, lambda: peer.has(100, CON))
    # bounded at 5 s: when every APDU comes through, this takes milliseconds
    wait(loop, lambda: peer.has(100, TERM), timeout=5.0)
    station = Cause.INTERROGATED_BY_STATION
    values = {o.ioa: o.value for a in peer.asdus() if a.cause == station for o in a.objects}
    assert values[100] is True
    assert values[202] == 23.5
    assert values[201] == -1234


def test_c104s_tls_client_with_a_stranger_certificate_is_refused(loop, certs, c104tls, caplog):
    """With TLS 1.3 the client's handshake ends before the server has checked its
    certificate, so c104 may say `OPEN_MUTED` for a moment; the server's alert then closes
    it. Refused means: our server logged it and never had the connection, and c104 never
    got a frame nor started data transfer (`OPEN`)."""
    server = tls_server(certs)
    counts: list[int] = []
    server.openConnectionCountChanged.connect(counts.append)
    peer = c104tls()
    peer.call("connect", timeout=0, **identity(certs, "stranger", server.port))
    wait(loop, lambda: "certificate" in caplog.text)  # our server refused it in the handshake
    wait(loop, lambda: peer.call("seen")["state"] not in OPEN)  # c104 saw the link end
    seen = peer.call("seen")
    assert "OPEN" not in seen["states"], seen
    assert seen["frames"] == [], seen
    assert server.openConnectionCount == 0 and not any(counts), counts
