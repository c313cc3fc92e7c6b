"""TLS for an IEC104Connection (IEC 62351-3 style): the client's `ssl.SSLContext` from the
connection's properties, and a listening worker that connects with it.

The context verifies the station by default (its certificate must chain to `caCertificate`,
or the system's CAs, and carry the expected name); a client certificate and key make it
mutual. The TLS handshake itself belongs to the transport: `ClientWorker.connect` takes
an `ssl_context` where the transport offers one. Where it does not, a TLS connection
fails with TlsError saying so, rather than talking in the clear.
"""

from __future__ import annotations

import inspect
import ssl
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, NamedTuple

from ...transport.link_stream import BlockingStream
from ...transport.link_worker import ListeningWorker
from .client_link import ClientError, Iec104ConnectionError

__all__ = ["TlsSettings", "TlsWorker", "client_context", "transport_has_tls"]


class TlsSettings(NamedTuple):
    """The TLS properties of a connection (file names; empty: not given)."""

    certificate: str = ""
    private_key: str = ""
    ca_certificate: str = ""
    verify_peer: bool = True


def client_context(settings: TlsSettings) -> ssl.SSLContext:
    """A client context: TLS 1.2 or newer, the station verified unless told otherwise, our
    certificate offered if given. ValueError for files that can not be used."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if settings.verify_peer:
            if settings.ca_certificate:
                context.load_verify_locations(cafile=settings.ca_certificate)
            else:
                context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        else:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if settings.certificate:
            context.load_cert_chain(settings.certificate, settings.private_key or None)
        elif settings.private_key:
            raise ValueError("privateKey is set without certificate")
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"TLS settings: {exc}") from None
    return context


def transport_has_tls() -> bool:
    """Whether the transport's workers connect with an `ssl_context`."""
    return "ssl_context" in inspect.signature(ListeningWorker.connect).parameters


class TlsWorker(ListeningWorker):
    """A `ListeningWorker` that connects with `tls` (an SSLContext and the server name the
    certificate must carry) when it is set."""

    tls: tuple[ssl.SSLContext, str] | None = None

    def connect(
        self,
        host: str,
        port: int,
        timeout: float = 3.0,
        setup: Callable[[BlockingStream], Any] | None = None,
        then: Callable[[Future], None] | None = None,
        **options: Any,
    ) -> Future:
        tls = self.tls
        if tls is None:
            return super().connect(host, port, timeout, setup, then, **options)
        if not transport_has_tls():

            def refuse() -> Any:
                raise Iec104ConnectionError(
                    ClientError.TlsError, "this incore's transport cannot connect with TLS yet"
                )

            return self.call(refuse, then)
        context, server_name = tls
        options.setdefault("ssl_context", context)
        if "server_hostname" in inspect.signature(ListeningWorker.connect).parameters:
            options.setdefault("server_hostname", server_name)
        return super().connect(host, port, timeout, setup, then, **options)
