"""IEC104Server's settings that need more than a range: protocol parameters, allowed
clients, and the TLS context built from the tls* properties for the transport."""

from __future__ import annotations

import inspect
import ssl
from typing import Any

from ...protocols.iec104 import LinkParameters
from ...transport.tcp_server import TcpServer

__all__ = ["PARAMETERS", "check_clients", "check_parameters", "tls_context"]

PARAMETERS = {"k": 12, "w": 8, "t0": 30, "t1": 15, "t2": 10, "t3": 20}


def check_parameters(value: Any) -> None:
    """k, w (1..32767) and t0..t3 in seconds, t2 < t1"""
    unknown = set(value) - set(PARAMETERS)
    if unknown:
        raise ValueError(f"unknown protocol parameters {sorted(unknown)} (k, w, t0..t3)")
    LinkParameters(**{**PARAMETERS, **value})


def check_clients(value: Any) -> None:
    """A list of IP addresses (empty: every client)"""
    for ip in value:
        if not isinstance(ip, str):
            raise ValueError(f"allowedClients holds IP addresses, got {ip!r}")


def tls_context(server: Any) -> ssl.SSLContext | None:
    """The TLS context of `server`'s tls* properties (None without a certificate): TLS
    1.2 or newer, and with tlsVerifyPeer a client certificate signed by the CA is required."""
    if not server.tlsCertificate:
        return None
    if "ssl_context" not in inspect.signature(TcpServer.__init__).parameters:
        raise ValueError("TLS is configured but this transport has no TLS support yet")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(server.tlsCertificate, server.tlsPrivateKey or None)
    if server.tlsVerifyPeer:
        if not server.tlsCaCertificate:
            raise ValueError("tlsVerifyPeer needs tlsCaCertificate (the clients' CA)")
        context.verify_mode = ssl.CERT_REQUIRED
    if server.tlsCaCertificate:
        context.load_verify_locations(server.tlsCaCertificate)
    return context
