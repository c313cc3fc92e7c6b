"""MqttPublication: a value that goes to a topic whenever it changes (or when asked).

A publication is a DataObject whose `data` is usually bound to a PLC variable; its quality
and timestamp follow the binding's inputs, so the JSON payload says how far the value can
be trusted and when it was taken. A noisy value must not flood the broker: `deadband`
ignores small moves, and `minInterval` holds back changes that come too fast, sending the
latest when the interval is over (so the last value always gets out).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterator
from typing import Any

from ...core import Object, Property, TimerHandle, get_loop, method, registry
from ..errors import ErrorReporting, error_property
from ..foundation.data import DataObject, Quality
from .client import MqttClient
from .formats import PayloadError, PayloadFormat, encode
from .store import Message

__all__ = ["MqttPublication"]

_NOTHING: Any = object()


def _publish_topic(topic: str) -> None:
    """A topic name without wildcards (`+`, `#`), not empty."""
    if not topic:
        raise ValueError("the topic is empty")
    if "+" in topic or "#" in topic:
        raise ValueError(f"a publication's topic has no wildcards: {topic!r}")


class MqttPublication(ErrorReporting, DataObject):
    """A value published to `topic` through its parent MqttClient whenever it changes.

    It publishes when data moves beyond `deadband` (or its quality changes), at most once
    per `minInterval`, and on publish().

    QoS 1 and 2 messages made while the broker is away wait in the client's store and go
    out in order when it is back. A QoS 0 value made then is not sent; the publication
    sends its latest value as soon as the client is connected again.
    """

    Format = PayloadFormat

    class Error(enum.IntEnum):
        """Why a value was not published."""

        NoError = 0
        NoClientError = 1  # not a child of an MqttClient
        EncodeError = 2  # the format can not carry the value

    __slots__ = ("_last", "_last_at", "_timer", "_unsent")

    topic = Property(str, "", check=_publish_topic, doc="The topic the value is published to.")
    qos = Property(
        int,
        0,
        minimum=0,
        maximum=2,
        doc="0: at most once; 1: at least once; 2: exactly once. 1 and 2 are stored while "
        "the broker is away.",
    )
    retain = Property(
        bool, False, doc="The broker keeps the last value for subscribers that come later."
    )
    enabled = Property(
        bool,
        True,
        on_write="_enabled_written",
        doc="Publish on changes; false: only publish() sends.",
    )
    format = Property(
        PayloadFormat,
        PayloadFormat.Json,
        doc="Json (value, quality and timestamp), Text (the value alone) or Raw (bytes).",
    )
    deadband = Property(
        float,
        0.0,
        minimum=0.0,
        doc="A number that moved by this much or less since the last published value is "
        "not published (0: every change is).",
    )
    minInterval = Property(
        int,
        0,
        minimum=0,
        unit="ms",
        doc="The least time between two messages; a change within it is sent when it is "
        "over (the latest value then).",
    )
    publishCount = Property(
        int, 0, readonly=True, doc="Messages this publication sent or stored for the broker."
    )
    error = error_property(Error)

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._last: Any = _NOTHING  # (value, quality) last published
        self._last_at = 0.0
        self._timer: TimerHandle | None = None
        self._unsent = False
        super().__init__(parent, **properties)
        # A quality written on its own (data unbound) is news too; a bound data's quality
        # changes with a write of data, which `_data_written` already considered.
        self.qualityChanged.connect(self._quality_changed)

    @property
    def client(self) -> MqttClient | None:
        parent = self.parent
        return parent if isinstance(parent, MqttClient) else None

    @method
    def publish(self) -> None:
        """Publish the current value now, whatever deadband, minInterval and enabled say."""
        self._send()

    # -- life cycle --------------------------------------------------------------------------
    def _on_completed(self) -> None:
        if self.client is None:
            self._report_error(self.Error.NoClientError, "not a child of an MqttClient")
        elif self.enabled and self.data is not None:
            self._consider()

    def _on_shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> Iterator[registry.Problem]:
        """A publication is a child of an MqttClient and has a topic."""
        if not isinstance(self.parent, MqttClient):
            yield registry.Problem(self, "topic", "MqttPublication must be a child of MqttClient")
        if not self.topic:
            yield registry.Problem(self, "topic", "MqttPublication.topic is empty")

    # -- deciding ----------------------------------------------------------------------------
    def _data_written(self, value: Any) -> None:
        super()._data_written(value)
        if self.isLive and self.enabled:
            self._consider()

    def _quality_changed(self, *_: Any) -> None:
        if self.isLive and self.enabled and self.data is not None:
            self._consider()

    def _enabled_written(self, value: bool) -> None:
        if value and self.isLive and self.data is not None:
            self._consider()

    def _consider(self) -> None:
        """Publish if the value moved beyond the deadband or its quality changed, now or
        when minInterval is over."""
        if self._timer is not None or not self._differs(self.data, self.quality):
            return
        interval = self.minInterval
        if interval and self._last is not _NOTHING:
            wait = interval / 1000.0 - (time.monotonic() - self._last_at)
            if wait > 0:
                self._timer = get_loop().call_later(wait, self._interval_over)
                return
        self._send()

    def _interval_over(self) -> None:
        self._timer = None
        if self.isLive and self.enabled:
            self._consider()

    def _differs(self, value: Any, quality: Quality) -> bool:
        if self._last is _NOTHING:
            return True
        last, last_quality = self._last
        if quality != last_quality:
            return True
        numbers = (int, float)
        if (
            self.deadband > 0
            and isinstance(value, numbers)
            and isinstance(last, numbers)
            and not isinstance(value, bool)
            and not isinstance(last, bool)
        ):
            return abs(value - last) > self.deadband
        return bool(value != last)

    # -- sending -----------------------------------------------------------------------------
    def _send(self) -> None:
        client = self.client
        if client is None:
            self._report_error(self.Error.NoClientError, "not a child of an MqttClient")
            return
        value, quality, stamp = self.data, self.quality, self.timestamp
        try:
            payload = encode(self.format, value, quality, stamp)
        except PayloadError as exc:
            self._report_error(self.Error.EncodeError, str(exc))
            return
        self._last = (value, quality)
        self._last_at = time.monotonic()
        sent = client._send(Message(self.topic, payload, self.qos, self.retain, stamp))
        self._unsent = not sent
        if sent:
            self._update("publishCount", self.publishCount + 1)
        if self.error:
            self._clear_error()

    def _mqtt_link_up(self) -> None:
        """The client is connected: a QoS 0 value that could not go out goes now."""
        if self._unsent and self.isLive:
            self._send()
