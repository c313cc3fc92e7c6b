"""The reactive object model: properties, signals, bindings, the registry and the event loop.

Knows nothing of YAML, files or protocols.
"""

from . import registry
from .engine import Binding
from .loop import EventLoop, TimerHandle, get_loop, set_loop
from .object import Object, binding_removed, set_binding_removal_diagnostic
from .property import Property
from .registry import method
from .signal import Signal

__all__ = [
    "Binding",
    "EventLoop",
    "Object",
    "Property",
    "Signal",
    "TimerHandle",
    "binding_removed",
    "get_loop",
    "method",
    "registry",
    "set_binding_removal_diagnostic",
    "set_loop",
]
