"""What every protocol's objects share: the client life cycle, the polled-variable host,
the variable base, the server's loop inbox, and the interfaces between variables and hosts.

Protocol packages (objects/s7; Modbus and IEC 104 to come) supply only their codecs,
handshakes and address kinds (see docs/dev/objects-link.md).
"""

from .address import PeerAddress  # noqa: F401
from .client import LinkClient, port_property  # noqa: F401
from .host import ClientVariables, HostedVariable, PollingClient, VariableHost  # noqa: F401
from .inbox import LoopInbox  # noqa: F401
from .polled import ItemError, PolledVariables  # noqa: F401
from .variable import LinkVariable  # noqa: F401

__all__ = [
    "ClientVariables",
    "HostedVariable",
    "ItemError",
    "LinkClient",
    "LinkVariable",
    "LoopInbox",
    "PeerAddress",
    "PolledVariables",
    "PollingClient",
    "VariableHost",
    "port_property",
]
