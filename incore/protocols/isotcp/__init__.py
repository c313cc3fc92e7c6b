"""ISO-on-TCP (RFC 1006 TPKT + ISO 8073 class 0 COTP), sans-IO."""

from .cotp import (
    ConnectionConfirm,
    ConnectionRequest,
    DataTransfer,
    DisconnectConfirm,
    DisconnectRequest,
    DtReassembler,
    Tpdu,
    decode_tpdu,
    tpdu_size_bytes,
    tpdu_size_code,
    tsap,
    tsap_to_int,
)
from .session import (
    IsoClientSession,
    IsoConnected,
    IsoData,
    IsoDisconnected,
    IsoEvent,
    IsoServerSession,
    IsoState,
)
from .tpkt import TpktDecoder, encode_tpkt

__all__ = [
    "ConnectionConfirm",
    "ConnectionRequest",
    "DataTransfer",
    "DisconnectConfirm",
    "DisconnectRequest",
    "DtReassembler",
    "Tpdu",
    "decode_tpdu",
    "tpdu_size_bytes",
    "tpdu_size_code",
    "tsap",
    "tsap_to_int",
    "IsoClientSession",
    "IsoConnected",
    "IsoData",
    "IsoDisconnected",
    "IsoEvent",
    "IsoServerSession",
    "IsoState",
    "TpktDecoder",
    "encode_tpkt",
]
