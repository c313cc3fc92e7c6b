"""IEC104Server over TLS (the transport's `ssl_context`, built from the tls* properties):
a client with a certificate signed by the CA gets its STARTDT confirmed; one without a
certificate, or with one from another CA, is refused during the handshake (logged), and
the first client keeps its data. Certificates are made by the openssl command."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from test_iec104_server_support import WAIT, loop, make_server, point  # noqa: F401

from incore.protocols.iec104 import ApciDecoder, IFrame, UFunction, u_frame

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command")


def _run(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(d: Path, name: str) -> None:
    _run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        "-keyout",
        str(d / f"{name}.key"),
        "-out",
        str(d / f"{name}.pem"),
    )


def make_cert(d: Path, ca: str, name: str) -> None:
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(d / f"{name}.key"),
        "-out",
        str(d / f"{name}.csr"),
    )
    _run(
        "x509",
        "-req",
        "-in",
        str(d / f"{name}.csr"),
        "-CA",
        str(d / f"{ca}.pem"),
        "-CAkey",
        str(d / f"{ca}.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        str(d / f"{name}.pem"),
        "-extfile",
        str(d / "ext.cnf"),
    )


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "other")
    make_cert(d, "ca", "server")
    make_cert(d, "ca", "client")
    make_cert(d, "other", "stranger")
    return d


def handshake(port: int, d: Path, cert: str | None, out: dict, key: str) -> None:
    context = ssl.create_default_context(cafile=str(d / "ca.pem"))
    if cert:
        context.load_cert_chain(str(d / f"{cert}.pem"), str(d / f"{cert}.key"))
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    try:
        tls = context.wrap_socket(sock, server_hostname="127.0.0.1")
        tls.sendall(u_frame(UFunction.STARTDT_ACT))
        data = b""
        decoder = ApciDecoder()
        frames: list = []
        while not any(isinstance(f, IFrame) for f in frames):
            data = tls.recv(4096)
            if not data:
                break
            frames += decoder.feed(data)
        out[key] = frames
    except (ssl.SSLError, OSError) as exc:
        out[key] = exc
    finally:
        sock.close()


def test_mutual_tls(loop, certs, caplog):
    server = make_server(
        tlsCertificate=str(certs / "server.pem"),
        tlsPrivateKey=str(certs / "server.key"),
        tlsCaCertificate=str(certs / "ca.pem"),
    )
    out: dict = {}
    for cert in ("client", None, "stranger"):
        key = cert or "none"
        thread = threading.Thread(target=handshake, args=(server.port, certs, cert, out, key))
        thread.start()
        if cert == "client":  # a spontaneous value for the accepted client
            assert loop.run_until(lambda: server.activeConnectionCount == 1, WAIT)
            point(server, 202).data = 5.5
        assert loop.run_until(lambda t=thread: not t.is_alive(), WAIT)
    frames = out["client"]
    assert isinstance(frames, list) and frames[0].function == UFunction.STARTDT_CON
    assert any(isinstance(f, IFrame) for f in frames)
    assert isinstance(out["none"], (ssl.SSLError, OSError))
    assert isinstance(out["stranger"], (ssl.SSLError, OSError))
    assert "certificate" in caplog.text


def test_verify_peer_needs_a_ca(loop, certs):
    server = make_server(
        autoStart=False,
        tlsCertificate=str(certs / "server.pem"),
        tlsPrivateKey=str(certs / "server.key"),
    )
    assert not server.start() and "tlsCaCertificate" in server.errorString
