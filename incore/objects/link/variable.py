"""LinkVariable: a DataObject whose value lives in a peer, read and written through a host.

S7Variable (and ModbusRegister, IEC104Point to come) differ in their addresses and in how
their bytes become values; how they find their host, poll, write, report errors and carry
quality is the same, and written here once:

- the host is the `client` property, else the parent if it is a VariableHost (a client or
  a server); it is told when the variable completes, moves or shuts down;
- `pollData()` asks the host to read; writing `data` encodes it and asks the host to write
  (delivered data is never written back);
- the variable is its value's source, so it sets quality: Good with every delivered value,
  Bad with the reason when a read fails or the host says the link is lost. Data and quality
  change in one wave: a handler never sees a fresh value marked Bad, or the reverse.

A subclass declares `client = Property("TheClient", None, on_write="_client_written")`, an
`Error` enum with (at least) InvalidClientError, ReadError and WriteError, and
`error = error_property(Error)`, and implements `peer_address`, `_decode`, `_encode` and
`_missing_host_text` (and `_address_problem` if an address can be unusable).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...core import Object, Property, Signal, engine, method, registry
from ..errors import ErrorReporting
from ..foundation.data import DataObject, Quality, now_ms
from .address import PeerAddress
from .host import VariableHost, is_variable_host
from .shared import SharedBase

__all__ = ["LinkVariable"]


class LinkVariable(DataObject, metaclass=SharedBase, register=False, shared=True):
    """Base of protocol variables: host, polling, writes, errors and quality (see the module)."""

    __slots__ = ("_host",)

    enabled = Property(
        bool,
        True,
        doc="Whether pollData() reads and writing data writes (false: the peer is left alone).",
    )
    # The error convention, shared with ErrorReporting without inheriting it twice from Object.
    errorString = Property(str, "", readonly=True, doc=ErrorReporting.errorString.doc)
    errorOccurred = Signal(doc="Emitted on every error, also when the same error repeats.")
    _report_error = ErrorReporting._report_error
    _clear_error = ErrorReporting._clear_error
    _apply_error = ErrorReporting._apply_error

    def __init__(self, parent: Object | None = None, **properties: Any) -> None:
        self._host: Any = None
        super().__init__(parent, **properties)

    # -- the protocol's hooks --------------------------------------------------------------
    @property
    def peer_address(self) -> PeerAddress:
        """Where the value lives in the peer (hosts find it by this alone)."""
        raise NotImplementedError

    def _decode(self, raw: bytes) -> Any:
        """The value `raw` holds; ValueError says why it does not fit."""
        raise NotImplementedError

    def _encode(self, value: Any) -> bytes:
        """The bytes to write for `value`; TypeError/ValueError say why it does not fit."""
        raise NotImplementedError

    def _address_problem(self) -> str:
        """Why the address can not be used now ("" if it can)."""
        return ""

    def _missing_host_text(self) -> str:
        raise NotImplementedError

    @property
    def host(self) -> Any:
        """The client or server this variable is attached to (None if none)."""
        return self._host

    # -- InCore API ------------------------------------------------------------------------
    @method
    def pollData(self) -> None:
        """Read the variable now; data is updated when the answer arrives."""
        host = self._usable_host(self.ReadError)
        if host is not None:
            host.read_variable(self)

    def _usable_host(self, error: Any) -> VariableHost | None:
        """The host, if this variable may use it now; else None (reporting `error` if the
        address is what stands in the way)."""
        if not self.enabled or not self.isLive:
            return None
        host = self._require_host()
        if host is None:
            return None
        problem = self._address_problem()
        if problem:
            self._report_error(error, problem)
            return None
        return host

    # -- called by the host (loop thread; link/host.py HostedVariable) ------------------------
    def _deliver(self, raw: bytes) -> None:
        """Bytes read from the peer (or the server's memory) become data (no write-back)."""
        try:
            value = self._decode(raw)
        except ValueError as exc:
            self._fail(self.ReadError, f"{self.peer_address}: {exc}")
            return
        engine.run_on_owner(self._store, value)

    def _fail(self, error: Any, text: str) -> None:
        """Report an error of the host's read or write (enum member, name or number); a
        failed read also makes the value Bad, in the same wave."""
        engine.run_on_owner(self._apply_failure, error, text)

    def _lost(self, reason: str) -> None:
        """The link is down: the last value is kept, marked Bad until it is read again."""
        engine.run_on_owner(self._source_quality, Quality.Bad, reason)

    def _confirm_write(self) -> None:
        if self.error == self.WriteError:
            self._clear_error()

    def _became_memory(self) -> None:
        """A host that holds the memory itself (a server) stored the app's value: those bytes
        are what clients read now, so an earlier failure to read them is over too."""
        if self.error in (self.WriteError, self.ReadError):
            self._clear_error()
            self._source_quality(Quality.Good, "")

    def _store(self, value: Any) -> None:
        try:
            self._update("data", value)
        except (TypeError, ValueError) as exc:
            self._apply_failure(self.ReadError, f"{self.peer_address}: {exc}")
            return
        self._update("timestamp", now_ms())
        self._source_quality(Quality.Good, "")
        if self.error == self.ReadError:
            self._clear_error()

    def _apply_failure(self, error: Any, text: str) -> None:
        self._apply_error(error, text, True)
        if self.error == self.ReadError:
            self._source_quality(Quality.Bad, text)

    def _source_quality(self, quality: Quality, reason: str) -> None:
        """Set quality as the value's source, unless the app binds it (then it is theirs)."""
        if self.binding("quality") is None:
            self._set_quality(quality, reason)

    # -- writes ----------------------------------------------------------------------------
    def _data_written(self, value: Any) -> None:
        super()._data_written(value)
        host = self._usable_host(self.WriteError)
        if host is None:
            return
        try:
            raw = self._encode(value)
        except (TypeError, ValueError) as exc:
            self._report_error(self.WriteError, f"{self.peer_address}: {exc}")
            return
        host.write_variable(self, raw)

    # -- the host ----------------------------------------------------------------------------
    def _on_completed(self) -> None:
        self._attach()

    def _on_shutdown(self) -> None:
        host, self._host = self._host, None
        if host is not None:
            host.detach_variable(self)

    def _resolve_host(self) -> Any:
        client = type(self).client.peek(self)
        if client is not None:
            return client
        parent = self.parent
        return parent if is_variable_host(parent) else None

    def _attach(self) -> None:
        host = self._resolve_host()
        old = self._host
        if host is not old:
            if old is not None:
                old.detach_variable(self)
            self._host = host
            if host is not None:
                if isinstance(host, type(self).client.type) and self.client is None:
                    self._update("client", host)  # the default: the parent client
                host.attach_variable(self)
        if host is None:
            self._report_missing_host()
        elif self.error == self.InvalidClientError:
            self._clear_error()

    def _require_host(self) -> Any:
        if self._host is None:
            self._report_missing_host()
        return self._host

    def _report_missing_host(self) -> None:
        self._report_error(self.InvalidClientError, self._missing_host_text())

    def _check(self) -> Iterator[registry.Problem]:
        """It has a host (a parent client or server, or client)."""
        if self._resolve_host() is None and self.binding("client") is None:
            yield registry.Problem(self, "client", self._missing_host_text())

    def _client_written(self, _client: Any) -> None:
        if self.isLive:
            self._attach()
