"""MqttSubscription: messages from a topic filter as a value, and as a signal per message.

This is the way in: another system (a SCADA, a dashboard, another incore process) publishes
and a subscription's `data` follows, decoded with the same formats a publication encodes
with, so a JSON value brings its quality and timestamp along. Binding a PLC variable's data
to a subscription's (or writing it in `onMessageReceived`) is how a remote system commands
a PLC through incore.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any

from ...core import Property, Signal, registry
from ..errors import ErrorReporting, error_property
from ..foundation.data import DataObject, Quality
from .client import MqttClient
from .formats import PayloadError, PayloadFormat, decode

__all__ = ["MqttSubscription"]


def _topic_filter(text: str) -> None:
    """A topic filter: levels split by `/`, `+` alone in a level, `#` alone and last."""
    if not text:
        raise ValueError("the topic filter is empty")
    levels = text.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(f"'#' must be a whole level at the end: {text!r}")
        if "+" in level and level != "+":
            raise ValueError(f"'+' must be a whole level: {text!r}")


class MqttSubscription(ErrorReporting, DataObject):
    """The messages of a topic filter, received through its parent MqttClient.

    `topicFilter` may have `+` and `#` wildcards; `data` is the last payload, decoded by
    `format`; `topic` is where it came from; `messageReceived(topic, payload)` fires for
    every message.

    The client subscribes on every connect, so a broker that forgot the session (or a new
    one) still delivers. A payload the format can not read sets DecodeError and leaves
    data as it was; messageReceived still fires with the raw payload.
    """

    Format = PayloadFormat

    class Error(enum.IntEnum):
        """Why a message did not become data."""

        NoError = 0
        NoClientError = 1  # not a child of an MqttClient
        DecodeError = 2  # the payload is not in format (or not of dataType)

    topicFilter = Property(
        str,
        "",
        check=_topic_filter,
        on_write="_filter_written",
        doc="The topics to receive: `plant/+/level` (one level), `plant/#` (all below).",
    )
    qos = Property(
        int,
        0,
        minimum=0,
        maximum=2,
        on_write="_filter_written",
        doc="The most QoS the broker uses to deliver (a message comes at the lower of this "
        "and its publisher's).",
    )
    enabled = Property(
        bool, True, on_write="_filter_written", doc="Subscribed; false unsubscribes."
    )
    format = Property(
        PayloadFormat,
        PayloadFormat.Json,
        doc="How payloads are read: Json (a bare value, or value/quality/timestamp), Text "
        "(a string) or Raw (bytes).",
    )
    topic = Property(str, "", readonly=True, doc="The topic of the last message.")
    retained = Property(
        bool,
        False,
        readonly=True,
        doc="Whether the last message was one the broker kept (retained), sent on "
        "subscribing rather than just published.",
    )
    messageReceived = Signal(
        "topic", "payload", doc="Emitted for every message: its topic and payload (bytes)."
    )
    error = error_property(Error)

    @property
    def client(self) -> MqttClient | None:
        parent = self.parent
        return parent if isinstance(parent, MqttClient) else None

    def _on_completed(self) -> None:
        if self.client is None:
            self._report_error(self.Error.NoClientError, "not a child of an MqttClient")

    def _check(self) -> Iterator[registry.Problem]:
        """A subscription is a child of an MqttClient and has a topic filter."""
        if not isinstance(self.parent, MqttClient):
            yield registry.Problem(
                self, "topicFilter", "MqttSubscription must be a child of MqttClient"
            )
        if not self.topicFilter:
            yield registry.Problem(self, "topicFilter", "MqttSubscription.topicFilter is empty")

    def _filter_written(self, _value: Any) -> None:
        client = self.client
        if client is not None and client.isLive:
            client._refresh_filters()

    # -- what the client calls ---------------------------------------------------------------
    def _mqtt_filter(self) -> tuple[str, int] | None:
        """(topic filter, qos) to subscribe to, or None."""
        text = self.topicFilter
        if not self.enabled or not text:
            return None
        try:
            _topic_filter(text)
        except ValueError:
            return None
        return text, self.qos

    def _mqtt_matches(self, topic: str, matches: Callable[[str, str], bool]) -> bool:
        text = self.topicFilter
        return bool(self.enabled and text and matches(text, topic))

    def _mqtt_receive(self, topic: str, payload: bytes, retain: bool) -> None:
        """One message, on the loop thread in a wave of its own."""
        self._update("topic", topic)
        self._update("retained", retain)
        try:
            decoded = decode(self.format, payload)
            self.data = decoded.value
        except (PayloadError, TypeError, ValueError) as exc:
            self._report_error(self.Error.DecodeError, f"{topic}: {exc}")
        else:
            if decoded.timestamp is not None:
                self._update("timestamp", decoded.timestamp)
            self._set_quality(decoded.quality or Quality.Good, "")
            if self.error:
                self._clear_error()
        self.messageReceived.emit(topic, payload)
