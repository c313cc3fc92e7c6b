"""What every protocol's objects share, whatever the protocol (docs/dev/objects-link.md)."""
from .address import PeerAddress  # noqa: F401
from .host import ClientVariables, HostedVariable, PollingClient, VariableHost  # noqa: F401
from .inbox import LoopInbox  # noqa: F401
from .variable import LinkVariable  # noqa: F401

__all__ = ["ClientVariables", "HostedVariable", "LinkVariable", "LoopInbox", "PeerAddress",
           "PollingClient", "VariableHost"]
