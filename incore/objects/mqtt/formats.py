"""Payload formats: how a value with its quality and timestamp becomes MQTT bytes and back.

MQTT carries opaque bytes, so publisher and subscriber must agree on a layout. `Json` (the
default) keeps what makes a plant value trustworthy with it: `{"value": 21.5, "quality":
"Good", "timestamp": 1712345678901}` (milliseconds since the epoch, the time the value was
taken, which store-and-forward keeps when it replays a value hours later). `Text` is the
value alone as text (`21.5`, `true`), what dashboards and `mosquitto_pub -m` speak; `Raw`
is bytes as they are. A subscription decodes with the same rules, so two incore processes
pass quality and timestamp through a broker unchanged.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
import math
from typing import Any, NamedTuple

from ..foundation.data import Quality

__all__ = ["PayloadFormat", "PayloadError", "Decoded", "encode", "decode"]


class PayloadFormat(enum.IntEnum):
    """How values are laid out in a message's payload."""

    Json = 0
    Text = 1
    Raw = 2


class PayloadError(ValueError):
    """A value that the format cannot carry, or a payload that is not in the format."""


class Decoded(NamedTuple):
    """A received payload: the value, and the quality and timestamp if the payload had them."""

    value: Any
    quality: Quality | None = None
    timestamp: int | None = None


def encode(fmt: PayloadFormat, value: Any, quality: Quality, timestamp: int) -> bytes:
    """The payload of `value` in `fmt`; PayloadError for a value the format cannot carry."""
    if fmt == PayloadFormat.Json:
        name = _QUALITY_NAMES.get(quality) or Quality(quality).name
        document = {"value": value, "quality": name, "timestamp": timestamp}
        try:
            return _JSON.encode(document).encode()
        except (TypeError, ValueError) as exc:
            raise PayloadError(f"{value!r} has no JSON form: {exc}") from None
    if fmt == PayloadFormat.Text:
        return _text(value).encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    if value is None:
        return b""
    raise PayloadError(f"Raw carries bytes or text, not {type(value).__name__} {value!r}")


def decode(fmt: PayloadFormat, payload: bytes) -> Decoded:
    """The value in `payload`; PayloadError if it is not in `fmt`."""
    if fmt == PayloadFormat.Raw:
        return Decoded(bytes(payload))
    try:
        text = bytes(payload).decode()
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    if fmt == PayloadFormat.Text:
        return Decoded(text)
    try:
        document = json.loads(text)
    except RecursionError:
        raise PayloadError("JSON nested too deeply") from None
    except ValueError as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    if not (isinstance(document, dict) and "value" in document):
        return Decoded(document)  # a bare JSON value: 42, "on", [1, 2]
    return Decoded(
        document["value"], _quality(document.get("quality")), _stamp(document.get("timestamp"))
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).lower()  # nan, inf, -inf
    return str(value)


def _json_default(value: Any) -> Any:
    """JSON for the values a DataObject may hold beyond JSON's own (dates, bytes, sets)."""
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, enum.Enum):
        return value.name
    raise TypeError(f"{type(value).__name__} is not JSON")


#: One encoder for every message (json.dumps with options makes a new one each call), and
#: the qualities' names without an enum call: a publication encodes on every change.
_JSON = json.JSONEncoder(default=_json_default, allow_nan=False)
_QUALITY_NAMES = {q: q.name for q in Quality}


def _quality(raw: Any) -> Quality | None:
    """A quality given by name ("Good") or number (0); PayloadError for anything else."""
    if raw is None:
        return None
    try:
        if isinstance(raw, str):
            return Quality[raw]
        if isinstance(raw, int) and not isinstance(raw, bool):
            return Quality(raw)
    except (KeyError, ValueError):
        pass
    raise PayloadError(f"quality {raw!r} is none of Good, Uncertain, Bad")


def _stamp(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
        return int(raw)
    raise PayloadError(f"timestamp {raw!r} is not milliseconds since the epoch")
