"""What every protocol's objects share, whatever the protocol (docs/dev/objects-link.md)."""
from .inbox import LoopInbox  # noqa: F401

__all__ = ["LoopInbox"]
