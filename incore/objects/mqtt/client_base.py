"""The properties of an MqttClient and what writing them does.

Declared on a shared base (link.shared.SharedBase) so that client.py holds the behaviour
and this module the surface: names, defaults, units, rules and docs. Messages still name
`MqttClient.port`, never this base. The names follow the other clients (LinkClient's
`autoConnect`, `reconnectInterval`, `maxReconnectInterval`, `timeout`; IEC104Connection's
`tls`, `caCertificate`, `certificate`, `privateKey`, `verifyPeer`, `checkHostname`).
"""

from __future__ import annotations

import enum
from typing import Any

from ...core import Property, get_loop
from ..errors import ErrorReporting
from ..link.shared import SharedBase
from .store import StoreFullPolicy

__all__ = ["ClientState", "MqttClientBase", "MIN_RECONNECT_INTERVAL"]

#: The smallest reconnect interval (ms): a broker that is down is not hammered.
MIN_RECONNECT_INTERVAL = 10


class ClientState(enum.IntEnum):
    """Where the connection is."""

    Disconnected = 0  # not wanted, or given up (autoConnect off)
    Connecting = 1  # connecting, or waiting to retry
    Connected = 2  # CONNACK accepted: messages flow


def _setting(type_: Any, default: Any, doc: str, **rules: Any) -> Property:
    """A connection setting: writing it while connected reconnects with the new value."""
    return Property(type_, default, on_write="_settings_written", doc=doc, **rules)


class MqttClientBase(ErrorReporting, metaclass=SharedBase, register=False, shared=True):
    """MqttClient's properties (see client.py for what the client does with them)."""

    __slots__ = ()

    hostname = _setting(str, "", "The broker's host name or IP address.")
    port = _setting(int, 1883, "The broker's TCP port (8883 is usual with TLS).", minimum=1,
                    maximum=65535)  # fmt: skip
    clientId = _setting(
        str,
        "",
        "The client identifier; empty lets the broker choose one (only with cleanSession).",
    )
    username = _setting(str, "", "The user name to log in with (empty: none).")
    password = _setting(str, "", "The password to log in with (empty: none).")
    keepAlive = _setting(
        int,
        60,
        "Seconds of silence after which client and broker check the other is there.",
        unit="s",
        minimum=1,
        maximum=65535,
    )
    cleanSession = _setting(
        bool,
        True,
        "Start each connection with a fresh session; false keeps subscriptions and queued "
        "QoS 1/2 messages at the broker between connections (needs clientId).",
    )
    timeout = _setting(
        int,
        3000,
        "How long to wait for the TCP connection, and then for the broker's CONNACK.",
        unit="ms",
        minimum=1,
    )
    tls = _setting(bool, False, "Connect with TLS (1.2 or newer).")
    caCertificate = _setting(
        str, "", "The CA certificate(s) (PEM file) the broker's must chain to; empty: the system's."
    )
    certificate = _setting(
        str, "", "This client's certificate (PEM file), for brokers that ask for one."
    )
    privateKey = _setting(str, "", "The key of certificate (PEM file), if not in its file.")
    verifyPeer = _setting(
        bool, True, "Check the broker's certificate (off only for a test bench: anyone could "
        "pose as the broker)."
    )  # fmt: skip
    checkHostname = _setting(
        bool, True, "With verifyPeer, the broker's certificate must also name hostname."
    )
    willTopic = _setting(
        str,
        "",
        "The topic of the last will, which the broker publishes if this client vanishes "
        "without disconnecting (empty: no will).",
    )
    willPayload = _setting(str, "", "The payload of the last will (text).")
    willQos = _setting(int, 0, "The QoS of the last will.", minimum=0, maximum=2)
    willRetain = _setting(bool, False, "Whether the broker retains the last will.")

    autoConnect = Property(
        bool,
        True,
        on_write="_auto_connect_written",
        doc="Connect on start, and reconnect after a failure or a lost connection.",
    )
    connected = Property(
        bool,
        False,
        serializable=False,
        on_write="_connected_written",
        doc="Whether the broker accepted the connection; write true/false to connect or "
        "disconnect.",
    )
    state = Property(
        ClientState,
        ClientState.Disconnected,
        readonly=True,
        doc="Disconnected, Connecting (also while waiting to retry) or Connected.",
    )
    reconnectInterval = Property(
        int,
        100,
        unit="ms",
        minimum=MIN_RECONNECT_INTERVAL,
        on_write="_backoff_written",
        doc="The wait before the first reconnect after a failure or a loss; each further "
        "attempt waits twice as long, up to maxReconnectInterval.",
    )
    maxReconnectInterval = Property(
        int,
        5000,
        unit="ms",
        minimum=MIN_RECONNECT_INTERVAL,
        on_write="_backoff_written",
        doc="The longest wait between reconnect attempts (not less than reconnectInterval).",
    )

    storeFile = Property(
        str,
        "",
        on_write="_store_file_written",
        doc="The sqlite file where QoS 1/2 messages wait while the broker is away (read at "
        "start; relative to the working directory). Empty: kept in memory, lost on exit.",
    )
    storeLimit = Property(
        int,
        100_000,
        minimum=0,
        on_write="_store_written",
        doc="The most messages the store holds; 0 turns store-and-forward off (QoS 1/2 "
        "messages made while the broker is away are dropped and counted).",
    )
    storeFullPolicy = Property(
        StoreFullPolicy,
        StoreFullPolicy.DropOldest,
        on_write="_store_written",
        doc="At storeLimit: DropOldest makes room for the new message, DropNewest refuses it.",
    )
    storedCount = Property(
        int, 0, readonly=True, doc="Messages in the store now, waiting for the broker."
    )
    droppedCount = Property(
        int, 0, readonly=True, doc="Messages the store's bound dropped since the start."
    )
    publishedCount = Property(
        int,
        0,
        readonly=True,
        doc="Messages the broker has: QoS 0 ones sent, QoS 1/2 ones acknowledged.",
    )
    receivedCount = Property(int, 0, readonly=True, doc="Messages received since the start.")

    # -- what writing them does (the methods named here are client.py's) ---------------------
    def _connected_written(self, value: bool) -> None:
        if value:
            self.connectToHost()
        else:
            self.disconnectFromHost()

    def _auto_connect_written(self, value: bool) -> None:
        if not self.isLive:
            return
        if value and self.state == ClientState.Disconnected:
            self.connectToHost()
        elif not value and self._connector is not None:
            if self.state == ClientState.Connecting:  # stop retrying now
                self._stop_connector()
                self._update("state", ClientState.Disconnected)
            else:  # keep this connection, but do not reconnect after it
                self._connector.retry = False

    def _settings_written(self, _value: Any) -> None:
        """Reconnect with the new settings, once for a burst of writes."""
        if self.isLive and self._want and not self._restart_posted:
            self._restart_posted = True
            get_loop().post(self._restart)

    def _backoff_written(self, _value: int) -> None:
        connector = self._connector
        if connector is not None and self.reconnectInterval <= self.maxReconnectInterval:
            connector.backoff = self._backoff()

    def _store_written(self, _value: Any) -> None:
        outbox = self._outbox
        if outbox is not None:
            outbox.store.policy = self.storeFullPolicy
            outbox.resize(self.storeLimit)
            self._sync_counts()

    def _store_file_written(self, _value: str) -> None:
        if self.isLive:
            self._warn("storeFile is read when the client starts: restart the app to move it")
