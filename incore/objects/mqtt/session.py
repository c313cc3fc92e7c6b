"""The network side of an MqttClient: paho sessions on threads, one per connection.

paho-mqtt owns the socket, the MQTT handshake and its own network thread (`loop_start`);
what incore adds is the connection's life: connect, wait for CONNACK, report, back off,
connect again. The `Connector` thread does that with a *new* paho client for every
connection, made with `reconnect_on_failure=False`, so paho never reconnects or resends on
its own: which messages go out again after a loss is the outbox's decision (outbox.py),
made from what the broker acknowledged, and it can not be doubled by paho's in-memory
queue. The delays are incore's `Backoff` (reconnectInterval doubling up to
maxReconnectInterval), as for every other client.

Nothing here touches an Object. paho's callbacks (on its thread) and the connector's
reports go to a `Listener`, which the client implements by putting them in its `Inbox`:
one post to the event loop per batch, in order. Every report carries the session's
`token`, so the loop can tell a late message of an old session from the current one's.
"""

from __future__ import annotations

import itertools
import logging
import ssl
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from ...core import engine
from ...transport.reconnect import Backoff

__all__ = [
    "Connector",
    "Inbox",
    "Listener",
    "SessionSettings",
    "ConnectRefused",
    "ConnectionLost",
    "MESSAGE_BACKLOG",
]

log = logging.getLogger("incore.mqtt")

#: Received messages waiting for the loop, at most; beyond it they are dropped and counted.
MESSAGE_BACKLOG = 10_000
#: Items one loop turn takes from the inbox, so timers get their turn between batches.
BATCH = 500

_tokens = itertools.count(1)


class SessionSettings(NamedTuple):
    """What one connection needs, captured on the loop thread when connecting starts."""

    host: str
    port: int
    client_id: str
    clean_session: bool
    keepalive: int
    username: str | None
    password: str | None
    will: tuple[str, bytes, int, bool] | None  # topic, payload, qos, retain
    tls: ssl.SSLContext | None
    timeout: float  # seconds: TCP connect, TLS handshake's start and CONNACK


class ConnectRefused(ConnectionError):
    """The broker answered CONNACK with a refusal (`code`: MQTT's return code)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


class ConnectionLost(ConnectionError):
    """An established session ended without being asked to."""


class Listener(Protocol):
    """What the connector reports, on its thread or paho's (the client's side)."""

    def session_up(
        self, token: int, session: paho.Client, present: bool, filters: tuple, mid: int
    ) -> None: ...
    def session_failed(self, exc: BaseException, retry_in: float | None) -> None: ...
    def session_lost(self, token: int, exc: BaseException) -> None: ...
    def message(self, token: int, topic: str, payload: bytes, qos: int, retain: bool) -> None: ...
    def acked(self, token: int, mid: int) -> None: ...
    def subscribed(self, token: int, mid: int, refused: bool) -> None: ...


class _Session:
    """One paho client and what its connector waits on."""

    __slots__ = ("client", "token", "answered", "ended", "refusal", "up")

    def __init__(self, client: paho.Client, token: int) -> None:
        self.client = client
        self.token = token
        self.answered = threading.Event()  # CONNACK came (either way) or the socket closed
        self.ended = threading.Event()  # the session is over
        self.refusal: BaseException | None = None
        self.up = False


class Connector:
    """Keeps one MQTT session up: connect, wait for CONNACK, wait for the end, back off.

    `retry` false (autoConnect off) makes one attempt and stops after a failure or a loss.
    `filters()` gives the (topic filter, qos) pairs to subscribe to on every connect; it
    is called on paho's thread and must be safe there (the client returns a tuple it
    replaces, never mutates).
    """

    def __init__(
        self,
        settings: SessionSettings,
        listener: Listener,
        filters: Callable[[], tuple[tuple[str, int], ...]],
        backoff: Backoff,
        retry: bool,
        name: str,
    ) -> None:
        self.settings = settings
        self.backoff = backoff
        self._listener = listener
        self._filters = filters
        self.retry = retry
        self._stop = threading.Event()
        self._session: _Session | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the session (a DISCONNECT, so the broker does not send the will) and end
        the thread; returns at once (see `join`)."""
        self._stop.set()
        session = self._session
        if session is not None:
            try:
                session.client.disconnect()
            except Exception:  # noqa: BLE001 - a client that is half made: the thread ends anyway
                pass
            session.answered.set()
            session.ended.set()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- the connector thread ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                session = self._connect()
            except Exception as exc:  # noqa: BLE001 - every failure is reported, none ends the thread
                if self._stop.is_set():
                    break
                delay = self.backoff.next() if self.retry else None
                self._listener.session_failed(exc, delay)
                if delay is None:
                    break
                self._stop.wait(delay)
                continue
            self.backoff.reset()
            session.ended.wait()
            self._close(session)
            if not self.retry or self._stop.is_set():
                break
            self._stop.wait(self.backoff.next())  # a loss waits reconnectInterval first
        self._session = None

    def _connect(self) -> _Session:
        s = self.settings
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            clean_session=s.clean_session,
            reconnect_on_failure=False,
        )
        client.connect_timeout = s.timeout
        if s.username:
            client.username_pw_set(s.username, s.password or None)
        if s.will is not None:
            client.will_set(*s.will)
        if s.tls is not None:
            client.tls_set_context(s.tls)
        session = _Session(client, next(_tokens))
        self._wire(session)
        self._session = session
        if self._stop.is_set():
            raise ConnectionAbortedError("stopped")
        try:
            client.connect(s.host, s.port, s.keepalive)  # TCP, TLS, CONNECT sent
            client.loop_start()
            if not session.answered.wait(s.timeout):
                raise TimeoutError(f"no CONNACK within {s.timeout:g} s")
            if self._stop.is_set():
                raise ConnectionAbortedError("stopped")
            if session.refusal is not None:
                raise session.refusal
            if not session.up:
                raise ConnectionLost("the broker closed the connection before CONNACK")
        except BaseException:
            self._close(session)
            raise
        return session

    def _close(self, session: _Session) -> None:
        if self._session is session:
            self._session = None
        try:
            session.client.disconnect()
        except Exception:  # noqa: BLE001 - already closed
            pass
        session.client.loop_stop()  # joins paho's thread (it ends with the socket)

    def _wire(self, session: _Session) -> None:
        """Paho's callbacks (on paho's thread) for `session`."""
        listener, token = self._listener, session.token

        def on_connect(client: paho.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
            if reason.is_failure:
                session.refusal = ConnectRefused(reason.value, str(reason))
            else:
                filters = self._filters()
                mid = client.subscribe(list(filters))[1] if filters else 0
                session.up = True
                listener.session_up(token, client, bool(flags.session_present), filters, mid)
            session.answered.set()

        def on_disconnect(_c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if session.up and not self._stop.is_set() and not session.ended.is_set():
                listener.session_lost(token, ConnectionLost(f"connection lost ({reason})"))
            session.answered.set()
            session.ended.set()

        def on_message(_c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
            listener.message(token, msg.topic, msg.payload, msg.qos, bool(msg.retain))

        def on_publish(_c: paho.Client, _u: Any, mid: int, _r: Any, _p: Any) -> None:
            listener.acked(token, mid)

        def on_subscribe(_c: paho.Client, _u: Any, mid: int, codes: list, _p: Any) -> None:
            listener.subscribed(token, mid, any(code.is_failure for code in codes))

        client = session.client
        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        client.on_publish = on_publish
        client.on_subscribe = on_subscribe


class Inbox:
    """Reports from network threads on their way to the loop: one post per batch, in order.

    Each item runs as a change wave of its own (`engine.run_on_owner`), so a handler sees
    every message, not only a batch's last. Received messages beyond MESSAGE_BACKLOG are
    dropped and counted (`dropped`); session reports and acknowledgements never are.
    """

    __slots__ = ("_post", "_items", "_lock", "_posted", "_messages", "dropped")

    def __init__(self, post: Callable[..., None]) -> None:
        self._post = post
        self._items: deque[tuple[Callable[..., Any], tuple, bool]] = deque()
        self._lock = threading.Lock()
        self._posted = False
        self._messages = 0
        self.dropped = 0

    def put(self, fn: Callable[..., Any], *args: Any, message: bool = False) -> None:
        with self._lock:
            if message:
                if self._messages >= MESSAGE_BACKLOG:
                    self.dropped += 1
                    return
                self._messages += 1
            self._items.append((fn, args, message))
            if self._posted:
                return
            self._posted = True
        self._post(self._flush)

    def _flush(self) -> None:
        with self._lock:
            n = min(len(self._items), BATCH)
            batch = [self._items.popleft() for _ in range(n)]
            self._messages -= sum(1 for item in batch if item[2])
            more = bool(self._items)
            self._posted = more
        if more:
            self._post(self._flush)
        for fn, args, _ in batch:
            engine.run_on_owner(fn, *args)
