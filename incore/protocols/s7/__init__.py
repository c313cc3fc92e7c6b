"""S7comm (classic S7 over ISO-on-TCP), sans-IO: codecs and client/server engines."""

from .client import ItemResult, Operation, S7ClientProtocol, Var, run
from .clock import decode_clock, encode_clock
from .constants import (
    CLIENT_ERROR_TEXT,
    Area,
    ClientError,
    CpuStatus,
    Event,
    EventResult,
    Function,
    ReturnCode,
    Rosctr,
    TransportSize,
    client_error_text,
    cpu_error,
    event_text,
)
from .items import DataItem, ItemSpec
from .pdu import S7Pdu, decode_pdu
from .plc import PlcState
from .server import EventTuple, S7ServerProtocol
from .store import AreaStore, MemoryAreaStore
from .szl import CpInfo, CpuInfo, Identity, OrderCode, Protection, SzlList

__all__ = [
    "ItemResult",
    "Operation",
    "S7ClientProtocol",
    "Var",
    "run",
    "decode_clock",
    "encode_clock",
    "CLIENT_ERROR_TEXT",
    "Area",
    "ClientError",
    "CpuStatus",
    "Event",
    "EventResult",
    "Function",
    "ReturnCode",
    "Rosctr",
    "TransportSize",
    "client_error_text",
    "cpu_error",
    "event_text",
    "DataItem",
    "ItemSpec",
    "S7Pdu",
    "decode_pdu",
    "AreaStore",
    "EventTuple",
    "MemoryAreaStore",
    "PlcState",
    "S7ServerProtocol",
    "CpInfo",
    "CpuInfo",
    "Identity",
    "OrderCode",
    "Protection",
    "SzlList",
]
