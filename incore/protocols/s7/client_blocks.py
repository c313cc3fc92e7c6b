"""The S7 client's block functions (userdata group 3): list the blocks, list those of one
type, and one block's info, as snap7's `ListBlocks`, `ListBlocksOfType` and `GetAgBlockInfo`.

The request and reply layouts live in `blocks.py`, shared with the server; here they become
`Operation`s. A list of a type longer than one PDU comes in parts, followed up inside the
operation as SZL answers are.
"""

from __future__ import annotations

from .blocks import (
    SUBFUNCTION_BLOCK_INFO,
    SUBFUNCTION_LIST_ALL,
    SUBFUNCTION_LIST_OF_TYPE,
    BlockEntry,
    BlockInfo,
    block_info_request,
    list_all_request,
    list_of_type_request,
    parse_block_info,
    parse_list_all,
    parse_list_of_type,
)
from .client_session import ClientSession
from .constants import ClientError, UserdataGroup
from .operation import Operation, Steps, fail
from .pdu import UserdataData

__all__ = ["BlockOperations"]

_GROUP = UserdataGroup.BLOCK_FUNCTIONS


class BlockOperations(ClientSession):
    """What blocks the PLC holds, and what one of them is."""

    def list_blocks(self) -> Operation[dict[int, int]]:
        """Block type (`BlockType`) -> how many the PLC has, every type listed."""
        return Operation(self._list_blocks())

    def _list_blocks(self) -> Steps[dict[int, int]]:
        _, parts = yield from self._userdata_parts(_GROUP, SUBFUNCTION_LIST_ALL, list_all_request())
        return parse_list_all(b"".join(parts))

    def list_blocks_of_type(self, block_type: int) -> Operation[list[BlockEntry]]:
        """The blocks of one type, in the PLC's order (an empty type fails: snap7's
        ItemNotAvailable, as a CPU says it)."""
        try:
            request = list_of_type_request(block_type)
        except ValueError as exc:
            raise fail(ClientError.InvalidParams, str(exc)) from None
        return Operation(self._list_of_type(request))

    def _list_of_type(self, request: UserdataData) -> Steps[list[BlockEntry]]:
        _, parts = yield from self._userdata_parts(_GROUP, SUBFUNCTION_LIST_OF_TYPE, request)
        return parse_list_of_type(b"".join(parts))

    def block_info(self, block_type: int, number: int) -> Operation[BlockInfo]:
        """One block's info (sizes, language, dates, author, family, header name)."""
        try:
            request = block_info_request(block_type, number)
        except ValueError as exc:
            raise fail(ClientError.InvalidParams, str(exc)) from None
        return Operation(self._block_info(request))

    def _block_info(self, request: UserdataData) -> Steps[BlockInfo]:
        _, parts = yield from self._userdata_parts(_GROUP, SUBFUNCTION_BLOCK_INFO, request)
        return parse_block_info(b"".join(parts))
