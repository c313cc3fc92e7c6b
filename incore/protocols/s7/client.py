"""Sans-IO S7 client engine: builds request PDUs and interprets the replies.

`S7ClientProtocol` is one connection's client: `ClientSession` (PDU references, reply
checks, the negotiated PDU size) with the data operations of `client_data.py`, the
userdata and control ones of `client_userdata.py` and the block functions of
`client_blocks.py`. Each method returns an `Operation`
(the contract's `Exchange`) that the caller drives over its own I/O.
"""

from __future__ import annotations

from ..contract import run
from .client_blocks import BlockOperations
from .client_data import DataOperations, ItemResult, Var, _ByteRead
from .client_userdata import UserdataOperations
from .operation import Operation, fail

__all__ = ["S7ClientProtocol", "Operation", "Var", "ItemResult", "run", "fail", "_ByteRead"]


class S7ClientProtocol(DataOperations, UserdataOperations, BlockOperations):
    """Request builder and reply parser for one S7 connection."""
