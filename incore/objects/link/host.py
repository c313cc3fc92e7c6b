"""The interfaces between variables and the objects that host them, for every protocol.

A variable (S7Variable; ModbusRegister and IEC104Point to come) never talks to a socket: it
asks its host, a client that polls a peer or a server that maps its own memory. Keeping the
two sides to these small interfaces is what lets one variable type live under either host,
and lets the client side be written once for all protocols:

- `VariableHost`: what a variable asks of its host (attach, detach, read, write);
- `HostedVariable`: what a host may do to a variable (deliver bytes, report a failure,
  say the link is lost, confirm a write), and where the value lives (`peer_address`);
- `ClientVariables`: a `VariableHost` that a `LinkClient` also tells when its link comes
  and goes (link/polled.py implements it for request/response protocols);
- `PollingClient`: what that polled host needs of its client.

Everything here runs on the loop thread unless it says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

from .address import PeerAddress

__all__ = ["VariableHost", "HostedVariable", "ClientVariables", "PollingClient", "is_variable_host"]


class HostedVariable(Protocol):
    """A variable as its host sees it (implemented by link.variable.LinkVariable)."""

    @property
    def peer_address(self) -> PeerAddress:
        """Where the value lives; equal addresses are the same place."""

    def _deliver(self, raw: bytes) -> None:
        """Bytes read from the peer (or the server's memory) become data, quality Good."""

    def _fail(self, error: Any, text: str) -> None:
        """A read or write failed ("ReadError", "WriteError"); a failed read makes the
        value Bad with `text` as the reason."""

    def _lost(self, reason: str) -> None:
        """The link to the peer is down: the value is Bad with `reason` until it is read
        again (data is kept: it is the last value known)."""

    def _confirm_write(self) -> None:
        """A write reached the peer: an earlier write error is over."""

    def _became_memory(self) -> None:
        """A server host stored the app's value in its memory: earlier read and write
        errors of those bytes are over, and the value is Good."""


@runtime_checkable
class VariableHost(Protocol):
    """What a variable asks of the client or server it lives under (loop thread)."""

    def attach_variable(self, var: HostedVariable) -> None:
        """The variable completed under this host, or chose it (client written)."""

    def detach_variable(self, var: HostedVariable) -> None:
        """The variable shuts down or moves to another host: forget it."""

    def read_variable(self, var: HostedVariable) -> None:
        """pollData(): read now and answer later with var._deliver() or var._fail()."""

    def write_variable(self, var: HostedVariable, raw: bytes) -> None:
        """The variable's data was written: store `raw` (its encoded value) in the peer."""


class ClientVariables(VariableHost, Protocol):
    """The variable host a LinkClient owns: also told how its link is doing."""

    def resume(self) -> None:
        """The link is up (again): read what was asked for while it was down."""

    def link_down(self, reason: str) -> None:
        """The link is down or could not be made: every variable read through it is Bad."""

    def clear(self) -> None:
        """The client shuts down: forget every variable."""


class PollingClient(Protocol):
    """What a polled-variable host needs of its client (link.client.LinkClient has it)."""

    @property
    def online(self) -> bool:
        """Connected, with a link that can carry a request now."""

    @property
    def link_label(self) -> str:
        """How errors name the link ("S7Client 10.0.0.5:102")."""

    def _loop_post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) on the loop thread, after what is already queued."""

    def _call(
        self, job: Callable[[Any], Any], then: Callable[[Future], None] | None = None
    ) -> Future:
        """Run job(link) on the link's worker; then(future) on the loop when it is done."""


def is_variable_host(obj: Any) -> bool:
    """Whether `obj` can host variables (a parent a variable may use without being told)."""
    return obj is not None and isinstance(obj, VariableHost)
