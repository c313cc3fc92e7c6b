"""What can go wrong in IEC 60870-5-104, as exception types a transport can tell apart.

Every one is a `ProtocolError`, so a transport that knows no IEC 104 still drops the
connection on any of them. `ApciError` means the byte stream lost its framing;
`AsduError` a frame whose application data we cannot read (the link itself is fine, and
the station may answer with a negative confirmation); `LinkError` a rule of the link layer
broken (sequence numbers, t1, an I-frame before STARTDT): the standard says close.
"""

from __future__ import annotations

from ..errors import FramingError, ProtocolError, SessionError

__all__ = [
    "ApciError",
    "AsduError",
    "Iec104Error",
    "LinkError",
    "NotStartedError",
    "SequenceError",
    "TimeoutExpired",
    "UnknownTypeError",
]


class Iec104Error(ProtocolError):
    """Base of the IEC 104 errors that are not about framing."""


class ApciError(FramingError):
    """A start byte other than 0x68, a length outside 4..253 or an unknown control field."""


class AsduError(Iec104Error):
    """An ASDU that cannot be decoded (or encoded): short, wrong size or impossible field."""


class UnknownTypeError(AsduError):
    """An ASDU whose type id this codec does not know: answer it with COT 44, keep the link.

    `type_id` is the unknown id; the raw ASDU is still in the event that carried it, so
    `negative_mirror` can build the answer.
    """

    def __init__(self, type_id: int) -> None:
        self.type_id = type_id
        super().__init__(f"unknown ASDU type id {type_id}")


class LinkError(SessionError, Iec104Error):
    """A link-layer rule was broken; the connection must be closed.

    `reason` says which rule; `events` holds the events the same call completed before the
    failure, so a transport that logs them loses nothing.
    """

    def __init__(self, reason: str, events: list | None = None) -> None:  # type: ignore[type-arg]
        self.reason = reason
        self.events = list(events or ())
        super().__init__(reason)


class SequenceError(LinkError):
    """A wrong N(S), or an N(R) that acknowledges I-frames never sent."""


class TimeoutExpired(LinkError):
    """t1 ran out: an I-frame or a U-frame act went unconfirmed."""


class NotStartedError(LinkError):
    """An I-frame arrived while data transfer was stopped (before STARTDT, after STOPDT)."""
