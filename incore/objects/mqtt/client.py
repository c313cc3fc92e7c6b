"""MqttClient: one connection to an MQTT broker, kept up while wanted, with a store for
the values that must not be lost while the broker is away.

The client is paho-mqtt's (session.py): incore decides when to connect, how long to wait
between attempts, what the errors say, and which messages go out again after a loss
(outbox.py, store.py). Why it is not a `LinkClient`: see docs/dev/mqtt.md. Its children
are MqttPublications (values out) and MqttSubscriptions (values and commands in).

Everything here runs on the loop thread; the network threads talk to it through the
inbox, with a session token on every report so that nothing of an old connection is
taken for the current one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from paho.mqtt.client import topic_matches_sub

from ...core import Object, Signal, get_loop, method, registry
from ...transport.reconnect import Backoff
from ..errors import about, error_property
from ..foundation.data import now_ms
from .client_base import ClientState, MqttClientBase
from .client_settings import ClientError, describe_failure, settings_of
from .outbox import Outbox
from .session import Connector, Inbox
from .store import Message, MessageStore, StoreFullPolicy

__all__ = ["MqttClient"]

log = logging.getLogger("incore.mqtt")


class MqttClient(MqttClientBase):
    """A connection to an MQTT broker (MQTT 3.1.1, over TCP or TLS) through paho-mqtt.

    Publications and subscriptions are its children. With `autoConnect` it connects on
    start and reconnects after a failure or a loss, first after `reconnectInterval`, then
    twice as long each time up to `maxReconnectInterval`. QoS 1 and 2 messages made while
    the broker is away wait in a store (`storeFile`, at most `storeLimit` messages) and go
    out in order, with their original timestamps, when it is back.
    """

    State = ClientState
    Error = ClientError
    StoreFullPolicy = StoreFullPolicy
    accepts = ("MqttPublication", "MqttSubscription")

    __slots__ = (
        "_connector",
        "_epoch",
        "_want",
        "_inbox",
        "_outbox",
        "_session",
        "_token",
        "_filters",
        "_snapshot",
        "_sub_mids",
        "_restart_posted",
        "_backlog_seen",
        "_acks_wanted",
    )

    error = error_property(ClientError)
    valuesDropped = Signal(
        "count",
        doc="Emitted when the store's bound dropped `count` messages (also counted in "
        "droppedCount and reported as StoreFullError).",
    )

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._connector: Connector | None = None
        self._epoch = 0
        self._want = False
        self._inbox: Inbox | None = None
        self._outbox: Outbox | None = None
        self._session: Any = None
        self._token = 0
        self._filters: dict[str, int] = {}
        self._snapshot: tuple[tuple[str, int], ...] = ()
        self._sub_mids: dict[int, tuple[str, ...]] = {}
        self._restart_posted = False
        self._backlog_seen = 0
        self._acks_wanted = False  # read by paho's thread: see _Events.acked
        super().__init__(parent, **properties)

    # -- methods -----------------------------------------------------------------------------
    @method
    def connectToHost(self) -> None:
        """Connect to the broker (and keep reconnecting while autoConnect is true)."""
        self._want = True
        if self.isLive and self.state == ClientState.Disconnected:
            self._start()

    @method
    def disconnectFromHost(self) -> None:
        """Close the connection (cleanly: the broker does not send the will) and stop
        reconnecting until connectToHost()."""
        self._want = False
        self._stop_connector()
        self._session_gone()
        self._update("state", ClientState.Disconnected)

    @method
    def publish(self, topic: str, payload: Any, qos: int = 0, retain: bool = False) -> None:
        """Publish one message (text or bytes) outside any MqttPublication; QoS 1 and 2 go
        through the store like a publication's."""
        data = payload.encode() if isinstance(payload, str) else bytes(payload or b"")
        self._send(Message(topic, data, int(qos), bool(retain), now_ms()))

    # -- life cycle --------------------------------------------------------------------------
    def _on_completed(self) -> None:
        self._inbox = Inbox(get_loop().post)
        self._ensure_outbox()
        self._refresh_filters()
        if self._want or self.autoConnect:
            self._want = True
            self._start()

    def _on_shutdown(self) -> None:
        connector = self._connector
        self._stop_connector()
        if connector is not None:
            connector.join(2.0)
        outbox, self._outbox = self._outbox, None
        if outbox is not None:
            outbox.link_down()  # unconfirmed messages wait in the file for the next run
            outbox.store.close()
        self._session = None

    def _check(self) -> Iterator[registry.Problem]:
        """MaxReconnectInterval is not less than reconnectInterval; a kept session
        (cleanSession false) has a name (clientId)."""
        if self.maxReconnectInterval < self.reconnectInterval:
            yield registry.Problem(
                self,
                "maxReconnectInterval",
                f"MqttClient.maxReconnectInterval ({self.maxReconnectInterval} ms) "
                f"is less than reconnectInterval ({self.reconnectInterval} ms)",
            )
        if not self.cleanSession and not self.clientId:
            yield registry.Problem(
                self, "cleanSession", "MqttClient.cleanSession false needs a clientId"
            )

    def _ensure_outbox(self) -> Outbox | None:
        """The outbox, made with the store on first use (children complete before their
        parent, and a publication may send on completion); None after shutdown."""
        if self._outbox is None and not self.isShutDown:
            self._outbox = Outbox(self._open_store(), self._publish_now, self._values_dropped)
            self._sync_counts()
        return self._outbox

    def _open_store(self) -> MessageStore:
        path = self.storeFile
        try:
            return MessageStore(path, self.storeLimit, self.storeFullPolicy)
        except Exception as exc:  # noqa: BLE001 - sqlite3.Error, OSError: keep going in memory
            self._report_error(
                ClientError.StoreError,
                f"store file {path} can not be used ({exc}); messages are kept in memory",
            )
            return MessageStore("", self.storeLimit, self.storeFullPolicy)

    # -- connecting --------------------------------------------------------------------------
    def _start(self) -> None:
        self._stop_connector()
        try:
            settings = settings_of(self)
        except ValueError as exc:
            self._update("state", ClientState.Disconnected)
            self._report_error(ClientError.ConfigurationError, str(exc))
            return
        epoch = self._epoch
        connector = Connector(
            settings,
            _Events(self, epoch),
            lambda: self._snapshot,
            self._backoff(),
            retry=self.autoConnect,
            name=f"incore-mqtt {settings.host}:{settings.port}",
        )
        self._connector = connector
        self._update("state", ClientState.Connecting)
        connector.start()

    def _stop_connector(self) -> None:
        self._epoch += 1
        connector, self._connector = self._connector, None
        if connector is not None:
            connector.stop()

    def _backoff(self) -> Backoff:
        first = self.reconnectInterval / 1000.0
        return Backoff(first, 2.0, max(first, self.maxReconnectInterval / 1000.0))

    def _where(self) -> str:
        return f"{self.hostname}:{self.port}"

    # -- what the network threads report (through the inbox, on the loop) --------------------
    def _up(self, epoch: int, token: int, session: Any, filters: tuple, mid: int) -> None:
        if epoch != self._epoch or self._outbox is None:
            return
        self._session, self._token = session, token
        if mid:
            self._sub_mids[mid] = tuple(f for f, _ in filters)
        if filters != self._snapshot:
            self._subscribe_changes(dict(filters))
        self._outbox.link_up(session, token)
        self._update("state", ClientState.Connected)
        self._update("connected", True)
        if self.error:
            self._clear_error()
        self._sync_counts()
        for child in self.children():
            link_up = getattr(child, "_mqtt_link_up", None)
            if link_up is not None:
                link_up()

    def _failed(self, epoch: int, exc: BaseException, retry_in: float | None) -> None:
        if epoch != self._epoch:
            return
        code, text = describe_failure(exc)
        more = f"{self._where()}; retry in {retry_in:.2f} s" if retry_in else self._where()
        if retry_in is None:
            self._update("state", ClientState.Disconnected)
        self._report_error(code, f"{text} ({more})")

    def _lost(self, epoch: int, token: int, exc: BaseException) -> None:
        if epoch != self._epoch or token != self._token:
            return
        self._session_gone()
        retrying = self.autoConnect and self._want
        self._update("state", ClientState.Connecting if retrying else ClientState.Disconnected)
        code, text = describe_failure(exc)
        self._report_error(code, f"{text} ({self._where()})")

    def _session_gone(self) -> None:
        self._session = None
        self._token = 0
        if self._outbox is not None:
            self._outbox.link_down()
            self._sync_counts()
        self._update("connected", False)

    def _message(self, epoch: int, token: int, topic: str, payload: bytes, retain: bool) -> None:
        if epoch != self._epoch:
            return
        self._update("receivedCount", self.receivedCount + 1)
        for child in self.children():
            receive = getattr(child, "_mqtt_receive", None)
            if receive is not None and child._mqtt_matches(topic, topic_matches_sub):
                receive(topic, payload, retain)
        inbox = self._inbox
        if inbox is not None and inbox.dropped != self._backlog_seen:
            lost, self._backlog_seen = inbox.dropped - self._backlog_seen, inbox.dropped
            self._report_error(
                ClientError.MessageBacklogError,
                f"{lost} received messages dropped: handlers are slower than the broker",
            )

    def _acked(self, epoch: int, token: int, mid: int) -> None:
        outbox = self._outbox
        if epoch == self._epoch and outbox is not None and outbox.acked(token, mid):
            self._update("publishedCount", self.publishedCount + 1)
            self._sync_counts()

    def _subscribed(self, epoch: int, token: int, mid: int, refused: bool) -> None:
        filters = self._sub_mids.pop(mid, ())
        if epoch == self._epoch and token == self._token and refused:
            self._report_error(
                ClientError.SubscribeError,
                f"the broker refused the subscription to {', '.join(filters) or '?'}",
            )

    # -- sending -----------------------------------------------------------------------------
    def _send(self, message: Message) -> bool:
        """Publish `message` now or (QoS 1, 2) store it; False: a QoS 0 message was not
        sent because the broker is away (its publication sends its latest on connect)."""
        if message.qos:
            outbox = self._ensure_outbox()
            if outbox is None:
                return False
            outbox.put(message)
            self._sync_counts()
            return True
        session = self._session
        if session is None:
            return False
        info = session.publish(message.topic, message.payload, 0, message.retain)
        if info.rc:
            return False
        self._update("publishedCount", self.publishedCount + 1)
        return True

    def _publish_now(self, session: Any, message: Message) -> int:
        """The outbox's way out: hand `message` to paho, return its message id."""
        self._acks_wanted = True  # before paho has the message, so its PUBACK is reported
        return session.publish(message.topic, message.payload, message.qos, message.retain).mid

    def _values_dropped(self, count: int) -> None:
        self._update("droppedCount", self.droppedCount + count)
        self.valuesDropped.emit(count)
        self._report_error(
            ClientError.StoreFullError,
            f"the store is full ({self.storeLimit} messages): {count} dropped "
            f"({StoreFullPolicy(self.storeFullPolicy).name})",
        )

    def _sync_counts(self) -> None:
        outbox = self._outbox
        if outbox is not None:
            self._update("storedCount", len(outbox.store))

    # -- subscriptions -----------------------------------------------------------------------
    def _refresh_filters(self) -> None:
        """Collect the subscriptions' filters; (un)subscribe the difference when online."""
        wanted: dict[str, int] = {}
        for child in self.children():
            entry = getattr(child, "_mqtt_filter", None)
            found = entry() if entry is not None else None
            if found is not None:
                wanted[found[0]] = max(found[1], wanted.get(found[0], 0))
        if wanted == self._filters:
            return
        if self._session is not None:
            self._subscribe_changes(wanted)
        self._filters = wanted
        self._snapshot = tuple(wanted.items())

    def _subscribe_changes(self, wanted: dict[str, int]) -> None:
        session, old = self._session, self._filters
        new = [(f, q) for f, q in wanted.items() if old.get(f) != q]
        gone = [f for f in old if f not in wanted]
        if new:
            result, mid = session.subscribe(new)
            self._sub_mids[mid] = tuple(f for f, _ in new)
        if gone:
            session.unsubscribe(gone)

    # -- what the base's property hooks call -------------------------------------------------
    def _restart(self) -> None:
        self._restart_posted = False
        if self.isShutDown or not self._want:
            return
        self._stop_connector()
        self._session_gone()
        self._start()

    def _warn(self, text: str) -> None:
        log.warning("%s: %s", about(self), text)


class _Events:
    """The connector's reports for one connection attempt series (`epoch`), into the inbox."""

    __slots__ = ("_client", "_epoch", "_inbox")

    def __init__(self, client: MqttClient, epoch: int) -> None:
        self._client = client
        self._epoch = epoch
        self._inbox = client._inbox

    def session_up(self, token: int, session: Any, present: bool, filters: tuple, mid: int) -> None:
        self._inbox.put(self._client._up, self._epoch, token, session, filters, mid)

    def session_failed(self, exc: BaseException, retry_in: float | None) -> None:
        self._inbox.put(self._client._failed, self._epoch, exc, retry_in)

    def session_lost(self, token: int, exc: BaseException) -> None:
        self._inbox.put(self._client._lost, self._epoch, token, exc)

    def message(self, token: int, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self._inbox.put(
            self._client._message, self._epoch, token, topic, payload, retain, message=True
        )

    def acked(self, token: int, mid: int) -> None:
        # paho also reports every QoS 0 message written to the socket, on the thread that
        # delivers them all: no news until a QoS 1/2 message went out (the flag is set
        # before the first is handed to paho and never cleared), so skip the inbox then.
        if self._client._acks_wanted:
            self._inbox.put(self._client._acked, self._epoch, token, mid)

    def subscribed(self, token: int, mid: int, refused: bool) -> None:
        self._inbox.put(self._client._subscribed, self._epoch, token, mid, refused)
