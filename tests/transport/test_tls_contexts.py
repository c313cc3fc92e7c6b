"""TLS settings from paths (incore.transport.tls), and the certificates the TLS tests use.

The certificates are made at test time with the `openssl` command, not committed: a
committed set expires (or gets a validity so long that some verifiers frown on it) and
commits private keys; making them takes about 0.1 s (EC P-256 keys). `certificates()`
makes one set per test run: a CA, a server certificate for 127.0.0.1 and localhost
(subjectAltName), a client certificate from the CA, and a client certificate from
another CA, which the server must refuse.
"""

from __future__ import annotations

import atexit
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from incore.transport.tls import TlsConfigError, client_context, server_context

OPENSSL = shutil.which("openssl")


@dataclass(frozen=True)
class Certs:
    """Paths (str) of one run's PEM files."""

    ca: str
    server: str
    server_key: str
    client: str
    client_key: str
    other_ca: str
    stranger: str  # a client certificate from other_ca
    stranger_key: str
    server_bundle: str  # server certificate and key in one file


_made: list[Certs] = []


def certificates() -> Certs:
    """The run's certificates, made on first use (the test is skipped without openssl)."""
    if _made:
        return _made[0]
    if OPENSSL is None:
        pytest.skip("the openssl command is needed to make test certificates")
    root = Path(tempfile.mkdtemp(prefix="incore-tls-"))
    atexit.register(shutil.rmtree, root, True)

    def run(*args: str) -> None:
        subprocess.run([OPENSSL, *args], cwd=root, check=True, capture_output=True, timeout=30)

    def key_and_csr(name: str, subject: str) -> None:
        run(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
        )  # fmt: skip

    def ca(name: str) -> None:
        key_and_csr(name, f"/CN=incore test {name}")
        (root / f"{name}.ext").write_text(
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
        )
        run(
            "x509", "-req", "-in", f"{name}.csr", "-signkey", f"{name}.key", "-days", "30",
            "-out", f"{name}.pem", "-extfile", f"{name}.ext",
        )  # fmt: skip

    def leaf(name: str, issuer: str, ext: str) -> None:
        key_and_csr(name, f"/CN=incore test {name}")
        (root / f"{name}.ext").write_text(ext)
        run(
            "x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey",
            f"{issuer}.key", "-CAcreateserial", "-days", "30", "-out", f"{name}.pem",
            "-extfile", f"{name}.ext",
        )  # fmt: skip

    ca("ca")
    ca("other-ca")
    leaf(
        "server",
        "ca",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    leaf("client", "ca", "extendedKeyUsage=clientAuth\n")
    leaf("stranger", "other-ca", "extendedKeyUsage=clientAuth\n")
    bundle = root / "server-bundle.pem"
    bundle.write_text((root / "server.pem").read_text() + (root / "server.key").read_text())
    made = Certs(
        ca=str(root / "ca.pem"),
        server=str(root / "server.pem"),
        server_key=str(root / "server.key"),
        client=str(root / "client.pem"),
        client_key=str(root / "client.key"),
        other_ca=str(root / "other-ca.pem"),
        stranger=str(root / "stranger.pem"),
        stranger_key=str(root / "stranger.key"),
        server_bundle=str(bundle),
    )
    _made.append(made)
    return made


@pytest.fixture
def certs() -> Certs:
    return certificates()


def test_server_context_defaults_verify_clients_when_given_a_ca(certs: Certs):
    plain = server_context(certs.server, certs.server_key)
    assert plain.verify_mode == ssl.CERT_NONE  # no CA: nothing to check a client against
    checked = server_context(certs.server, certs.server_key, certs.ca)
    assert checked.verify_mode == ssl.CERT_OPTIONAL
    mutual = server_context(certs.server, certs.server_key, certs.ca, mutual=True)
    assert mutual.verify_mode == ssl.CERT_REQUIRED
    assert mutual.minimum_version >= ssl.TLSVersion.TLSv1_2
    bundled = server_context(certs.server_bundle)  # the key in the certificate's file
    assert bundled.protocol == ssl.PROTOCOL_TLS_SERVER


def test_client_context_verifies_the_server_by_default(certs: Certs):
    context = client_context(certs.ca)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    loose = client_context(certs.ca, check_hostname=False)
    assert loose.verify_mode == ssl.CERT_REQUIRED and not loose.check_hostname
    blind = client_context(verify_peer=False)
    assert blind.verify_mode == ssl.CERT_NONE and not blind.check_hostname
    with_cert = client_context(certs.ca, certs.client, certs.client_key)
    assert with_cert.protocol == ssl.PROTOCOL_TLS_CLIENT


def test_errors_name_the_file(certs: Certs, tmp_path: Path):
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(TlsConfigError, match="certificate .*nope.pem: no such file") as info:
        server_context(missing, certs.server_key)
    assert info.value.path == missing
    with pytest.raises(TlsConfigError, match="key .*nope.pem: no such file"):
        server_context(certs.server, missing)
    with pytest.raises(TlsConfigError, match="CA file .*nope.pem: no such file"):
        client_context(missing)
    with pytest.raises(TlsConfigError, match="the key does not belong") as info:
        server_context(certs.server, certs.client_key)
    assert info.value.path == certs.client_key
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TlsConfigError, match="garbage.pem: no PEM certificate in it") as info:
        server_context(str(garbage), certs.server_key)
    assert info.value.path == str(garbage)
    with pytest.raises(TlsConfigError, match="key .*garbage.pem: no PEM private key") as info:
        server_context(certs.server, str(garbage))
    assert info.value.path == str(garbage)
    with pytest.raises(TlsConfigError, match="CA file .*garbage.pem: no PEM certificate"):
        client_context(str(garbage))
    with pytest.raises(TlsConfigError, match="server.pem: no private key in it"):
        server_context(certs.server)
    with pytest.raises(TlsConfigError, match="mutual TLS needs a CA file"):
        server_context(certs.server, certs.server_key, mutual=True)
    with pytest.raises(TlsConfigError, match="without a certificate"):
        client_context(certs.ca, key=certs.client_key)


def test_an_encrypted_key_needs_its_password(certs: Certs, tmp_path: Path):
    locked = str(tmp_path / "locked.key")
    subprocess.run(
        [OPENSSL, "pkey", "-in", certs.server_key, "-out", locked, "-aes256"]
        + ["-passout", "pass:s3cret"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    context = server_context(certs.server, locked, password="s3cret")
    assert context.protocol == ssl.PROTOCOL_TLS_SERVER
    with pytest.raises(TlsConfigError, match="locked.key: cannot load it .*wrong one") as info:
        server_context(certs.server, locked, password="guess")
    assert info.value.path == locked
