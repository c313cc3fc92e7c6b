"""TLS for an IEC104Connection (IEC 62351-3 style): the connection's TLS properties as the
transport's client context, and a listening worker that connects with it.

The context (`incore.transport.tls.client_context`) verifies the station by default: its
certificate must chain to `caCertificate` (or the system's CAs) and, with `checkHostname`,
name the address connected to (or `serverName`). A client certificate and key make the
link mutual. A setting that cannot work fails when connecting starts, naming the file,
as a ConfigurationError; a refused certificate fails the connect as a TlsError.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, NamedTuple

from ...transport.link_stream import BlockingStream
from ...transport.link_worker import ListeningWorker
from ...transport.tls import client_context, describe_tls_error

__all__ = ["TlsSettings", "TlsWorker", "context_of", "describe_tls_error"]


class TlsSettings(NamedTuple):
    """The TLS properties of a connection (file names; empty: not given)."""

    certificate: str = ""
    private_key: str = ""
    ca_certificate: str = ""
    verify_peer: bool = True
    check_hostname: bool = True


def context_of(settings: TlsSettings) -> ssl.SSLContext:
    """The client context of `settings`; `TlsConfigError` (a ValueError) for files that
    cannot be used."""
    return client_context(
        settings.ca_certificate or None,
        settings.certificate or None,
        settings.private_key or None,
        verify_peer=settings.verify_peer,
        check_hostname=settings.verify_peer and settings.check_hostname,
    )


class TlsWorker(ListeningWorker):
    """A `ListeningWorker` that connects with `tls` (an SSLContext and the name the
    station's certificate must carry) when it is set."""

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
        if tls is not None:
            options.setdefault("ssl_context", tls[0])
            options.setdefault("server_hostname", tls[1])
        return super().connect(host, port, timeout, setup, then, **options)
