"""TLS settings from file paths, and the client's handshake, with the standard library's `ssl`.

Object layers (IEC104Server, IEC104Connection, later others) hold TLS settings as properties:
a certificate, its key, a CA file, whether to verify the peer and whether client
certificates are required. `server_context` and `client_context` turn those into an
`ssl.SSLContext` for `TcpServer(ssl_context=...)` and `ClientWorker.connect(ssl_context=...)`,
and a bad setting fails here, at configuration time, with the file it is about in the
message (`TlsConfigError`), not later as a handshake that fails for every peer.

Defaults are the safe ones: TLS 1.2 at least (IEC 62351-3 asks for it), peers verified.
"""

from __future__ import annotations

import os
import ssl

__all__ = [
    "TlsConfigError",
    "server_context",
    "client_context",
    "describe_tls_error",
    "is_certificate_refusal",
]


class TlsConfigError(ValueError):
    """A TLS setting cannot be used; `path` is the file it is about ("" if none)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


def server_context(
    certificate: str,
    key: str | None = None,
    ca: str | None = None,
    *,
    verify_peer: bool = True,
    mutual: bool = False,
    password: str | None = None,
) -> ssl.SSLContext:
    """A context for a TLS server presenting `certificate` (PEM; `key` if not in it).

    `mutual`: every client must present a certificate that `ca` signed (needs `ca`).
    Otherwise, with `ca` and `verify_peer`, a client certificate is checked if one is
    sent; `verify_peer=False` accepts any client.
    """
    if mutual and not verify_peer:
        raise TlsConfigError("mutual TLS needs verify_peer: a client certificate nobody checks")
    if mutual and not ca:
        raise TlsConfigError("mutual TLS needs a CA file to check client certificates against")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _harden(context)
    _load_chain(context, certificate, key, password)
    if ca and verify_peer:
        _load_ca(context, ca)
        context.verify_mode = ssl.CERT_REQUIRED if mutual else ssl.CERT_OPTIONAL
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def client_context(
    ca: str | None = None,
    certificate: str | None = None,
    key: str | None = None,
    *,
    verify_peer: bool = True,
    check_hostname: bool | None = None,
    password: str | None = None,
) -> ssl.SSLContext:
    """A context for a TLS client: the server's certificate is checked against `ca` (the
    system's CAs when None) unless `verify_peer` is False; `certificate` (and `key`) is
    presented to servers that ask for one (mutual TLS).

    `check_hostname` (default: `verify_peer`) also requires the server's certificate to
    name the host or IP address connected to (its subjectAltName); field devices often
    have certificates without one, so it can be turned off on its own.
    """
    if check_hostname is None:
        check_hostname = verify_peer
    if check_hostname and not verify_peer:
        raise TlsConfigError("check_hostname needs verify_peer")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _harden(context)
    context.check_hostname = check_hostname
    if verify_peer:
        context.verify_mode = ssl.CERT_REQUIRED
        if ca:
            _load_ca(context, ca)
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        context.verify_mode = ssl.CERT_NONE
    if certificate:
        _load_chain(context, certificate, key, password)
    elif key:
        raise TlsConfigError(f"key {key} given without a certificate", key)
    return context


def is_certificate_refusal(exc: BaseException) -> bool:
    """Whether a handshake failed because a certificate was refused (ours or the peer's),
    as opposed to a peer that does not speak TLS or a broken connection."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True
    reason = getattr(exc, "reason", None) or ""
    return "CERTIFICATE" in reason or reason.endswith(("UNKNOWN_CA", "BAD_CERTIFICATE"))


def describe_tls_error(exc: BaseException) -> str:
    """A short sentence for a log line: OpenSSL's reason without its library noise."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate refused: {exc.verify_message}"
    reason = getattr(exc, "reason", None)
    if reason:
        text = reason.lower().replace("_", " ")
        if "alert" in text:
            return f"the peer sent an alert: {text.split('alert', 1)[1].strip()}"
        return text
    text = exc.args[1] if isinstance(exc, OSError) and len(exc.args) > 1 else str(exc)
    return str(text).removeprefix("[SSL] ").split(" (_ssl.c", 1)[0] or type(exc).__name__


# -- internals --------------------------------------------------------------------------
def _harden(context: ssl.SSLContext) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION


def _readable(path: str, what: str) -> None:
    if not os.path.isfile(path):
        raise TlsConfigError(f"{what} {path}: no such file", path)
    if not os.access(path, os.R_OK):
        raise TlsConfigError(f"{what} {path}: not readable (permissions)", path)


def _load_chain(
    context: ssl.SSLContext, certificate: str, key: str | None, password: str | None
) -> None:
    _readable(certificate, "certificate")
    _holds(certificate, "CERTIFICATE", f"certificate {certificate}: no PEM certificate in it")
    if key:
        _readable(key, "key")
        _holds(key, "PRIVATE KEY", f"key {key}: no PEM private key in it")
    else:
        _holds(
            certificate,
            "PRIVATE KEY",
            f"certificate {certificate}: no private key in it, and no key file given",
        )
    try:
        context.load_cert_chain(certificate, key, password)
    except ssl.SSLError as exc:
        where = f"certificate {certificate}" + (f" with key {key}" if key else "")
        if "KEY_VALUES_MISMATCH" in (exc.reason or ""):
            raise TlsConfigError(
                f"{where}: the key does not belong to the certificate", key or certificate
            ) from None
        raise TlsConfigError(
            f"{where}: cannot load it (an encrypted key without its password, or a wrong "
            f"one?): {describe_tls_error(exc)}",
            key or certificate,
        ) from exc
    except OSError as exc:
        raise TlsConfigError(
            f"certificate {certificate}: {exc.strerror or exc}", certificate
        ) from exc


def _holds(path: str, label: str, complaint: str) -> None:
    """A PEM file names what it holds (`-----BEGIN CERTIFICATE-----`): say which is missing
    instead of OpenSSL's "PEM lib"."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            text = f.read(1 << 20)
    except OSError as exc:
        raise TlsConfigError(f"{path}: {exc.strerror or exc}", path) from exc
    if f"-----BEGIN {label}" not in text and not (
        label == "PRIVATE KEY" and "PRIVATE KEY-----" in text
    ):
        raise TlsConfigError(complaint, path)


def _load_ca(context: ssl.SSLContext, ca: str) -> None:
    _readable(ca, "CA file")
    _holds(ca, "CERTIFICATE", f"CA file {ca}: no PEM certificate in it")
    try:
        context.load_verify_locations(cafile=ca)
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(
            f"CA file {ca}: cannot load ({describe_tls_error(exc)}); PEM certificates expected",
            ca,
        ) from exc
    if not context.cert_store_stats().get("x509_ca") and not context.cert_store_stats().get("x509"):
        raise TlsConfigError(f"CA file {ca}: holds no certificate", ca)
