"""What an MqttClient's properties mean to a connection: its settings, and its failures' words.

Kept apart from client.py so the object stays about life cycle and values: this module turns
properties into a `SessionSettings` (with the TLS context, where a bad file fails at once
with its name), and any failure into the error code and the sentence `errorString` shows.
"""

from __future__ import annotations

import enum
import ssl
from typing import Any

from ...transport.tls import client_context, describe_tls_error
from .session import ConnectionLost, ConnectRefused, SessionSettings

__all__ = ["ClientError", "settings_of", "describe_failure"]

#: CONNACK return codes of MQTT 3.1.1 that mean "who you are is not welcome".
_NOT_AUTHORIZED = (4, 5, 0x86, 0x87)


class ClientError(enum.IntEnum):
    """What went wrong with the broker, the settings or the store."""

    NoError = 0
    ConfigurationError = 1  # settings that can not work (a TLS file, a missing hostname)
    ConnectError = 2  # no TCP connection (refused, unreachable, unknown host)
    TimeoutError = 3  # no connection or no CONNACK in time
    TlsError = 4  # the TLS handshake failed (a certificate refused, either way)
    NotAuthorizedError = 5  # CONNACK: bad user name or password, not authorized
    ConnectRefusedError = 6  # CONNACK: any other refusal (client id, protocol, unavailable)
    ConnectionLostError = 7  # an established connection ended
    SubscribeError = 8  # the broker refused a subscription (SUBACK failure)
    StoreError = 9  # the store's file can not be used (the store is kept in memory)
    StoreFullError = 10  # the store's bound dropped messages (see droppedCount)
    MessageBacklogError = 11  # received messages dropped: the loop fell too far behind


def settings_of(client: Any) -> SessionSettings:
    """The session settings of `client`'s properties; ValueError (TlsConfigError for TLS)
    for settings that can not work."""
    if not client.hostname:
        raise ValueError("hostname is empty")
    if not client.cleanSession and not client.clientId:
        raise ValueError("cleanSession false needs a clientId (the session's name)")
    tls = None
    if client.tls:
        verify = client.verifyPeer
        tls = client_context(
            client.caCertificate or None,
            client.certificate or None,
            client.privateKey or None,
            verify_peer=verify,
            check_hostname=verify and client.checkHostname,
        )
    will = None
    if client.willTopic:
        will = (client.willTopic, client.willPayload.encode(), client.willQos, client.willRetain)
    return SessionSettings(
        host=client.hostname,
        port=client.port,
        client_id=client.clientId,
        clean_session=client.cleanSession,
        keepalive=client.keepAlive,
        username=client.username or None,
        password=client.password or None,
        will=will,
        tls=tls,
        timeout=client.timeout / 1000.0,
    )


def describe_failure(exc: BaseException) -> tuple[ClientError, str]:
    """The error code and the sentence for a failure to connect or a loss."""
    if isinstance(exc, ConnectRefused):
        code = (
            ClientError.NotAuthorizedError
            if exc.code in _NOT_AUTHORIZED
            else ClientError.ConnectRefusedError
        )
        return code, f"the broker refused the connection: {exc}"
    if isinstance(exc, ConnectionLost):
        return ClientError.ConnectionLostError, str(exc)
    if isinstance(exc, ssl.SSLError):
        return ClientError.TlsError, f"TLS: {describe_tls_error(exc)}"
    if isinstance(exc, TimeoutError):
        return ClientError.TimeoutError, f"timed out: {exc}" if str(exc) else "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return ClientError.ConnectError, "connection refused"
    if isinstance(exc, OSError):
        return ClientError.ConnectError, exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, ValueError):
        return ClientError.ConfigurationError, str(exc)
    return ClientError.ConnectError, f"{type(exc).__name__}: {exc}"
