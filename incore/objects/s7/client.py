"""S7Client: InCore's S7 client object (connection, errors, identity) over a worker thread.

The connection life cycle (autoConnect, reconnect with backoff, probing an idle link,
connected/error reporting, running requests on the worker thread) is link.client.LinkClient's;
this module adds what is S7: the ISO-on-TCP + S7 handshake (client_link.py), the PLC's
identity, snap7's error numbers and texts, and the TSAP settings. The Python operations
(readArea, dbRead, plcStop, ...) live in client_ops.S7Operations and return futures;
S7Variable children are served by client_host.S7Variables.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from ...core import Property
from ...protocols.errors import S7Error
from ...protocols.s7 import Operation, S7ClientProtocol
from ...protocols.s7.constants import ClientError, client_error_text
from ...transport.link_stream import BlockingStream
from ...transport.trace import speaks
from ..errors import error_property
from ..link.client import PROBE_INTERVAL, LinkClient, port_property
from .client_host import S7Variables
from .client_link import (
    MAX_RACK,
    MAX_SLOT,
    LinkSettings,
    S7Link,
    S7NotConnectedError,
    not_connected,
    open_link,
    remote_tsap_for,
)
from .client_ops import S7Operations

__all__ = ["S7Client", "error_of", "PROBE_INTERVAL"]

T = TypeVar("T")


def error_of(exc: BaseException, host: str = "", port: int = 0) -> tuple[int, str, str]:
    """(snap7 error number, snap7 text, detail) for any failure of a client operation."""
    if isinstance(exc, S7Error):
        return exc.code, exc.text, exc.detail
    code = ClientError.ConnectError
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    where = f"{host}:{port}: " if host and str(port) not in str(exc) else ""
    return code, client_error_text(code), f"{where}{reason}"


def _error_enum() -> type[enum.IntEnum]:
    error = enum.IntEnum(
        "Error",
        [(e.name, e.value) for e in ClientError],
        module=__name__,
        qualname="S7Client.Error",
    )
    error.__doc__ = "snap7's client error numbers (the most recent one is in `error`)."
    return error


class S7Client(S7Operations, LinkClient):
    """A connection to a Siemens S7 PLC (InCore's S7Client), with S7Variable children.

    Connects on completion while `autoConnect` is true and reconnects after errors, waiting
    `reconnectInterval` at first and twice as long each time up to `maxReconnectInterval`;
    `connected` says whether the link is up and can be written to connect or disconnect.
    While it is down, the S7Variables it reads are Bad. `moduleName`, `moduleTypeName` and
    `serialNumber` are read from the PLC (SZL 0x001C) on every connect. Errors carry snap7's
    numbers and texts plus details. Python code reads and writes the PLC with
    readArea/dbRead/... which return futures.
    """

    Error = _error_enum()

    class ByteOrder(enum.IntEnum):
        """How multi-byte values are stored in the PLC (S7 itself is big-endian)."""

        BigEndian = 0
        LittleEndian = 1

    class ConnectionType(enum.IntEnum):
        """The kind of connection, the high byte of the remote TSAP."""

        PG = 1
        OP = 2
        Basic = 3

    __slots__ = ()

    accepts = ("S7Variable",)
    invalid_settings = (S7Error,)
    not_connected_error = S7NotConnectedError

    byteOrder = Property(
        ByteOrder,
        ByteOrder.BigEndian,
        doc="The byte order of multi-byte values read from or written to the PLC.",
    )
    connectionType = Property(
        ConnectionType,
        ConnectionType.PG,
        on_write="_settings_written",
        doc="The connection type used to compute the remote TSAP.",
    )
    error = error_property(Error)
    localTsap = Property(
        int,
        256,
        on_write="_settings_written",
        minimum=0,
        maximum=0xFFFF,
        doc="The local TSAP (0x0100 by default).",
    )
    moduleName = Property(str, "", readonly=True, doc="The PLC's module name (read on connect).")
    moduleTypeName = Property(
        str, "", readonly=True, doc="The PLC's module type name (read on connect)."
    )
    port = port_property(102, "The TCP port the PLC listens at.")
    rack = Property(
        int, 0, on_write="_settings_written", minimum=0, maximum=MAX_RACK, doc="The PLC's rack."
    )
    remoteTsap = Property(
        int,
        0,
        on_write="_settings_written",
        minimum=0,
        maximum=0xFFFF,
        doc="The remote TSAP; 0 computes it from connectionType, rack and slot.",
    )
    serialNumber = Property(
        str, "", readonly=True, doc="The PLC's serial number (read on connect)."
    )
    slot = Property(
        int, 0, on_write="_settings_written", minimum=0, maximum=MAX_SLOT, doc="The PLC's slot."
    )

    # -- LinkClient's hooks --------------------------------------------------------------------
    def _make_variables(self) -> S7Variables:
        return S7Variables(self)

    def _link_settings(self) -> LinkSettings:
        remote = self.remoteTsap or remote_tsap_for(self.connectionType, self.rack, self.slot)
        speaks(self.port, 102, "S7comm")  # a trace shows the PLC on S7's port
        return LinkSettings(
            self.hostname, self.port, self.localTsap, remote, max(self.timeout, 1) / 1000.0
        )

    def _open_link(self, stream: BlockingStream, settings: LinkSettings) -> S7Link:
        """On the worker thread: ISO + S7 handshake, then the PLC's identity."""
        return open_link(stream, settings)

    def _close_link(self, link: S7Link) -> None:
        link.iso.release()  # a DR, so the PLC frees the connection at once

    def _probe_link(self, link: S7Link) -> None:
        link.iso.probe()

    def _link_up(self, link: S7Link) -> None:
        identity = link.identity
        if identity is not None:
            self._update("moduleName", identity.module_name)
            self._update("moduleTypeName", identity.module_type_name)
            self._update("serialNumber", identity.serial_number)

    def _describe_failure(self, exc: BaseException) -> tuple[int, str, str]:
        return error_of(exc, self.hostname, self.port)

    def _invalid_settings(self, detail: str) -> BaseException:
        return S7Error(
            ClientError.InvalidParams, client_error_text(ClientError.InvalidParams), detail
        )

    def _not_connected(self) -> OSError:
        return not_connected(self._label)

    # -- running operations (any thread) -----------------------------------------------------
    def _submit(
        self,
        make: Callable[[S7ClientProtocol], Operation[T]],
        then: Callable[[Future], None] | None = None,
    ) -> Future:
        """Run one engine operation (see LinkClient._call); failures are reported on the
        client."""
        return self._call(lambda link: link.call(make(link.protocol)), then)

    @property
    def pdu_size(self) -> int:
        """The PDU size negotiated with the PLC (0 when not connected)."""
        link = self._link
        return link.pdu_size if link is not None and not link.closed else 0
