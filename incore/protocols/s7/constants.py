"""Numbers of the S7 protocol and of the snap7 API built on it.

Kept in one place so the codecs, the engines and the object layer agree on
every code, and so an error number maps to one text.
"""

from __future__ import annotations

import enum

__all__ = [
    "PROTOCOL_ID",
    "MAX_ITEMS",
    "Rosctr",
    "Function",
    "Area",
    "TransportSize",
    "DataTransportSize",
    "ReturnCode",
    "HeaderError",
    "UserdataGroup",
    "UserdataMethod",
    "CpuStatus",
    "ClientError",
    "CLIENT_ERROR_TEXT",
    "client_error_text",
    "cpu_error",
    "SrvArea",
    "Event",
    "EventResult",
    "ControlCode",
    "EVC_ALL",
    "EVC_NONE",
    "EVENT_SUBCODE_GET_CLOCK",
    "EVENT_SUBCODE_SET_CLOCK",
    "EVENT_SUBCODE_BLOCK_LIST",
    "EVENT_SUBCODE_START_LIST_OF_TYPE",
    "EVENT_SUBCODE_LIST_OF_TYPE",
    "EVENT_SUBCODE_BLOCK_INFO",
    "BlockType",
    "BlockLanguage",
    "event_text",
    "element_size",
]

PROTOCOL_ID = 0x32
#: snap7's limit on items per read/write request (`MaxVars`).
MAX_ITEMS = 20


class Rosctr(enum.IntEnum):
    """PDU type (header byte 1)."""

    JOB = 0x01
    ACK = 0x02
    ACK_DATA = 0x03
    USERDATA = 0x07


class Function(enum.IntEnum):
    """First parameter byte of Job and Ack_Data PDUs."""

    READ_VAR = 0x04
    WRITE_VAR = 0x05
    REQUEST_DOWNLOAD = 0x1A
    DOWNLOAD_BLOCK = 0x1B
    DOWNLOAD_ENDED = 0x1C
    START_UPLOAD = 0x1D
    UPLOAD = 0x1E
    END_UPLOAD = 0x1F
    PI_SERVICE = 0x28
    PLC_STOP = 0x29
    SETUP_COMMUNICATION = 0xF0


class Area(enum.IntEnum):
    """Memory area codes of an S7-ANY item."""

    P = 0x80  # direct peripheral access
    PE = 0x81  # process inputs (I/E)
    PA = 0x82  # process outputs (Q/A)
    MK = 0x83  # flags / merkers (M)
    DB = 0x84  # data blocks
    DI = 0x85  # instance data blocks
    L = 0x86  # local data
    V = 0x87  # previous local data
    CT = 0x1C  # S7 counters (Z/C)
    TM = 0x1D  # S7 timers (T)


class TransportSize(enum.IntEnum):
    """Element type of a request item (snap7 calls it WordLen)."""

    BIT = 0x01
    BYTE = 0x02
    CHAR = 0x03
    WORD = 0x04
    INT = 0x05
    DWORD = 0x06
    DINT = 0x07
    REAL = 0x08
    DATE = 0x09
    TOD = 0x0A
    TIME = 0x0B
    S5TIME = 0x0C
    DATE_AND_TIME = 0x0F
    COUNTER = 0x1C
    TIMER = 0x1D


_ELEMENT_SIZE = {
    TransportSize.BIT: 1,
    TransportSize.BYTE: 1,
    TransportSize.CHAR: 1,
    TransportSize.WORD: 2,
    TransportSize.INT: 2,
    TransportSize.COUNTER: 2,
    TransportSize.TIMER: 2,
    TransportSize.DATE: 2,
    TransportSize.S5TIME: 2,
    TransportSize.DWORD: 4,
    TransportSize.DINT: 4,
    TransportSize.REAL: 4,
    TransportSize.TOD: 4,
    TransportSize.TIME: 4,
    TransportSize.DATE_AND_TIME: 8,
}


def element_size(transport_size: int) -> int:
    """Bytes per element of an item transport size; 0 if unknown.

    A BIT element travels as one whole byte holding 0 or 1.
    """
    return _ELEMENT_SIZE.get(transport_size, 0)  # type: ignore[call-overload]


class DataTransportSize(enum.IntEnum):
    """Transport size of a data item; decides whether its length counts bits or bytes."""

    NULL = 0x00
    BIT = 0x03
    BYTE = 0x04  # also WORD / DWORD
    INTEGER = 0x05
    DINTEGER = 0x06
    REAL = 0x07
    OCTET_STRING = 0x09


class ReturnCode(enum.IntEnum):
    """Per-item return codes of read/write responses."""

    RESERVED = 0x00
    HARDWARE_FAULT = 0x01
    ACCESS_DENIED = 0x03
    ADDRESS_OUT_OF_RANGE = 0x05
    DATA_TYPE_NOT_SUPPORTED = 0x06
    DATA_TYPE_INCONSISTENT = 0x07
    OBJECT_DOES_NOT_EXIST = 0x0A
    SUCCESS = 0xFF


class HeaderError(enum.IntEnum):
    """Error class and code of Ack/Ack_Data headers, and userdata parameter errors."""

    NONE = 0x0000
    INVALID_CPU_STATE = 0x8001
    FUNCTION_NOT_AVAILABLE = 0x8104
    PDU_SIZE = 0x8500
    ITEM_NOT_AVAILABLE = 0xD209
    NEED_PASSWORD = 0xD241
    INVALID_SZL_ID = 0xD401
    INVALID_SZL_INDEX = 0xD402
    INVALID_PASSWORD = 0xD602
    NO_PASSWORD_TO_CLEAR = 0xD604
    NO_PASSWORD_TO_SET = 0xD605
    INVALID_VALUE = 0xDC01


class UserdataGroup(enum.IntEnum):
    PROGRAMMER = 0x1
    CYCLIC_DATA = 0x2
    BLOCK_FUNCTIONS = 0x3
    CPU_FUNCTIONS = 0x4  # SZL
    SECURITY = 0x5
    TIME = 0x7


class UserdataMethod(enum.IntEnum):
    REQUEST = 0x11
    RESPONSE = 0x12


class CpuStatus(enum.IntEnum):
    UNKNOWN = 0x00
    STOP = 0x04
    RUN = 0x08


class SrvArea(enum.IntEnum):
    """snap7 server area numbers (register_area), not the wire codes."""

    PE = 0
    PA = 1
    MK = 2
    CT = 3
    TM = 4
    DB = 5


class ClientError(enum.IntEnum):
    """snap7 client error numbers, named as in the S7Client `Error` enum."""

    InvalidObject = -2
    InvalidParam = -1
    NoError = 0
    ConnectError = 0x00010000
    DisconnectError = 0x00020000
    InvalidPDU = 0x00030000
    InvalidDataSize = 0x00040000
    NullPointer = 0x00050000
    ShortPacket = 0x00060000
    TooManyFragments = 0x00070000
    PduOverflow = 0x00080000
    SendPacket = 0x00090000
    RecvPacket = 0x000A0000
    InvalidTSAP = 0x000B0000
    NegotiatingPDU = 0x00100000
    InvalidParams = 0x00200000
    JobPending = 0x00300000
    TooManyItems = 0x00400000
    InvalidWordLen = 0x00500000
    PartialDataWritten = 0x00600000
    SizeOverPDU = 0x00700000
    InvalidPlcAnswer = 0x00800000
    AddressOutOfRange = 0x00900000
    InvalidTransportSize = 0x00A00000
    WriteDataSizeMismatch = 0x00B00000
    ItemNotAvailable = 0x00C00000
    InvalidValue = 0x00D00000
    CannotStartPLC = 0x00E00000
    AlreadyRun = 0x00F00000
    CannotStopPLC = 0x01000000
    CannotCopyRamToRom = 0x01100000
    CannotCompress = 0x01200000
    AlreadyStop = 0x01300000
    FunNotAvailable = 0x01400000
    UploadSequenceFailed = 0x01500000
    InvalidDataSizeRecvd = 0x01600000
    InvalidBlockType = 0x01700000
    InvalidBlockNumber = 0x01800000
    InvalidBlockSize = 0x01900000
    DownloadSequenceFailed = 0x01A00000
    InsertRefused = 0x01B00000
    DeleteRefused = 0x01C00000
    NeedPassword = 0x01D00000
    InvalidPassword = 0x01E00000
    NoPasswordToSetOrClear = 0x01F00000
    JobTimeout = 0x02000000
    PartialDataRead = 0x02100000
    BufferTooSmall = 0x02200000
    FunctionRefused = 0x02300000
    Destroying = 0x02400000
    InvalidParamNumber = 0x02500000
    CannotChangeParam = 0x02600000


#: snap7's text for each `ClientError` (as in the S7Client reference).
CLIENT_ERROR_TEXT: dict[int, str] = {
    ClientError.InvalidObject: "LIB: Invalid object supplied.",
    ClientError.InvalidParam: "LIB: Invalid param supplied.",
    ClientError.NoError: "No error occurred or was detected.",
    ClientError.ConnectError: "ISO: Connection error.",
    ClientError.DisconnectError: "ISO: Disconnect error.",
    ClientError.InvalidPDU: "ISO: Bad PDU format.",
    ClientError.InvalidDataSize: "ISO: Datasize passed to send/recv buffer is invalid.",
    ClientError.NullPointer: "ISO: Null passed as pointer.",
    ClientError.ShortPacket: "ISO: A short packet received.",
    ClientError.TooManyFragments: "ISO: Too many packets without EoT flag.",
    ClientError.PduOverflow: "ISO: The sum of fragments data exceded maximum packet size.",
    ClientError.SendPacket: "ISO: An error occurred during send.",
    ClientError.RecvPacket: "ISO: An error occurred during recv.",
    ClientError.InvalidTSAP: "ISO: Invalid connection params (wrong TSAPs).",
    ClientError.NegotiatingPDU: "CPU:Error in PDU negotiation.",
    ClientError.InvalidParams: "CLI:invalid param(s) supplied.",
    ClientError.JobPending: "CLI:Job pending.",
    ClientError.TooManyItems: "CLI:too may items (>20) in multi read/write.",
    ClientError.InvalidWordLen: "CLI:invalid WordLength.",
    ClientError.PartialDataWritten: "CLI:Partial data written.",
    ClientError.SizeOverPDU: "CPU:total data exceeds the PDU size.",
    ClientError.InvalidPlcAnswer: "CLI:invalid CPU answer.",
    ClientError.AddressOutOfRange: "CPU:Address out of range.",
    ClientError.InvalidTransportSize: "CPU:Invalid Transport size.",
    ClientError.WriteDataSizeMismatch: "CPU:Data size mismatch.",
    ClientError.ItemNotAvailable: "CPU:Item not available.",
    ClientError.InvalidValue: "CPU:Invalid value supplied.",
    ClientError.CannotStartPLC: "CPU:Cannot start PLC.",
    ClientError.AlreadyRun: "CPU:PLC already RUN.",
    ClientError.CannotStopPLC: "CPU:Cannot stop PLC.",
    ClientError.CannotCopyRamToRom: "CPU:Cannot copy RAM to ROM.",
    ClientError.CannotCompress: "CPU:Cannot compress.",
    ClientError.AlreadyStop: "CPU:PLC already STOP.",
    ClientError.FunNotAvailable: "CPU:Function not available.",
    ClientError.UploadSequenceFailed: "CPU:Upload sequence failed.",
    ClientError.InvalidDataSizeRecvd: "CLI:Invalid data size received.",
    ClientError.InvalidBlockType: "CLI:Invalid block type.",
    ClientError.InvalidBlockNumber: "CLI:Invalid block number.",
    ClientError.InvalidBlockSize: "CLI:Invalid block size.",
    ClientError.DownloadSequenceFailed: "CPU:Download sequence failed.",
    ClientError.InsertRefused: "CPU:block insert refused.",
    ClientError.DeleteRefused: "CPU:block delete refused.",
    ClientError.NeedPassword: "CPU:Function not authorized for current protection level.",
    ClientError.InvalidPassword: "CPU:Invalid password.",
    ClientError.NoPasswordToSetOrClear: "CPU:No password to set or clear.",
    ClientError.JobTimeout: "CLI:Job Timeout.",
    ClientError.PartialDataRead: "CLI:Partial data read.",
    ClientError.BufferTooSmall: "CLI:The buffer supplied is too small to accomplish the operation.",
    ClientError.FunctionRefused: "CLI:function refused by CPU (Unknown error).",
    ClientError.Destroying: "CLI:Cannot perform (destroying).",
    ClientError.InvalidParamNumber: "CLI:Invalid Param Number.",
    ClientError.CannotChangeParam: "CLI:Cannot change this param now.",
}


def client_error_text(code: int) -> str:
    """snap7 text of a client error number."""
    return CLIENT_ERROR_TEXT.get(code, f"CLI:unknown error 0x{code:08X}")


_CPU_ERRORS = {
    0x0000: ClientError.NoError,
    ReturnCode.ADDRESS_OUT_OF_RANGE: ClientError.AddressOutOfRange,
    ReturnCode.DATA_TYPE_NOT_SUPPORTED: ClientError.InvalidTransportSize,
    ReturnCode.DATA_TYPE_INCONSISTENT: ClientError.WriteDataSizeMismatch,
    ReturnCode.OBJECT_DOES_NOT_EXIST: ClientError.ItemNotAvailable,
    HeaderError.ITEM_NOT_AVAILABLE: ClientError.ItemNotAvailable,
    HeaderError.INVALID_VALUE: ClientError.InvalidValue,
    HeaderError.FUNCTION_NOT_AVAILABLE: ClientError.FunNotAvailable,
    HeaderError.PDU_SIZE: ClientError.SizeOverPDU,
    HeaderError.NEED_PASSWORD: ClientError.NeedPassword,
    HeaderError.INVALID_PASSWORD: ClientError.InvalidPassword,
    HeaderError.NO_PASSWORD_TO_CLEAR: ClientError.NoPasswordToSetOrClear,
    HeaderError.NO_PASSWORD_TO_SET: ClientError.NoPasswordToSetOrClear,
}


def cpu_error(code: int) -> ClientError:
    """Map an item return code or header/parameter error to a client error, as snap7 does."""
    return _CPU_ERRORS.get(code, ClientError.FunctionRefused)


# ---------------------------------------------------------------------------
# Server events (node-snap7 / snap7 numbering)


class Event(enum.IntFlag):
    """Server event codes; also the bits of a server's event mask."""

    ServerStarted = 0x00000001
    ServerStopped = 0x00000002
    ListenerCannotStart = 0x00000004
    ClientAdded = 0x00000008
    ClientRejected = 0x00000010
    ClientNoRoom = 0x00000020
    ClientException = 0x00000040
    ClientDisconnected = 0x00000080
    ClientTerminated = 0x00000100
    ClientsDropped = 0x00000200
    PDUincoming = 0x00010000
    DataRead = 0x00020000
    DataWrite = 0x00040000
    NegotiatePDU = 0x00080000
    ReadSZL = 0x00100000
    Clock = 0x00200000
    Upload = 0x00400000
    Download = 0x00800000
    Directory = 0x01000000
    Security = 0x02000000
    Control = 0x04000000


EVC_ALL = 0xFFFFFFFF
EVC_NONE = 0x00000000


class EventResult(enum.IntEnum):
    """Second element of an event tuple (snap7 `evr*`)."""

    NoError = 0x00
    FragmentRejected = 0x01
    MalformedPDU = 0x02
    SparseBytes = 0x03
    CannotHandlePDU = 0x04
    NotImplemented = 0x05
    ErrException = 0x06
    ErrAreaNotFound = 0x07
    ErrOutOfRange = 0x08
    ErrOverPDU = 0x09
    ErrTransportSize = 0x0A
    InvalidGroupUData = 0x0B
    InvalidSZL = 0x0C
    DataSizeMismatch = 0x0D
    CannotUpload = 0x0E
    CannotDownload = 0x0F
    UploadInvalidID = 0x10
    ResNotFound = 0x11


class ControlCode(enum.IntEnum):
    """First parameter of a Control event: what the client asked the CPU to do."""

    Unknown = 0
    ColdStart = 1
    WarmStart = 2
    Stop = 3
    Compress = 4
    CopyRamToRom = 5
    InsDel = 6


EVENT_SUBCODE_GET_CLOCK = 0x0001
EVENT_SUBCODE_SET_CLOCK = 0x0002
#: First parameter of a Directory event (snap7's evsGetBlockList ... evsGetBlockInfo).
EVENT_SUBCODE_BLOCK_LIST = 0x0001
EVENT_SUBCODE_START_LIST_OF_TYPE = 0x0002
EVENT_SUBCODE_LIST_OF_TYPE = 0x0003
EVENT_SUBCODE_BLOCK_INFO = 0x0004


class BlockType(enum.IntEnum):
    """Block type codes of the block functions (userdata group 3): ASCII letters on the wire."""

    OB = 0x38
    DB = 0x41
    SDB = 0x42
    FC = 0x43
    SFC = 0x44
    FB = 0x45
    SFB = 0x46


class BlockLanguage(enum.IntEnum):
    """The language byte of a block (list of a type, block info)."""

    AWL = 0x01
    KOP = 0x02
    FUP = 0x03
    SCL = 0x04
    DB = 0x05
    GRAPH = 0x06
    SDB = 0x07


_RESULT_TEXT = {
    EventResult.NoError: "OK",
    EventResult.FragmentRejected: "fragment rejected",
    EventResult.MalformedPDU: "malformed PDU",
    EventResult.SparseBytes: "stray bytes",
    EventResult.CannotHandlePDU: "request not supported",
    EventResult.NotImplemented: "not implemented",
    EventResult.ErrException: "internal exception",
    EventResult.ErrAreaNotFound: "area not found",
    EventResult.ErrOutOfRange: "address out of range",
    EventResult.ErrOverPDU: "answer would exceed the PDU",
    EventResult.ErrTransportSize: "unsupported transport size",
    EventResult.InvalidGroupUData: "unknown userdata group",
    EventResult.InvalidSZL: "SZL not available",
    EventResult.DataSizeMismatch: "data size mismatch",
    EventResult.CannotUpload: "upload refused",
    EventResult.CannotDownload: "download refused",
    EventResult.UploadInvalidID: "unknown upload id",
    EventResult.ResNotFound: "resource not found",
}

_AREA_TEXT = {
    Area.PE: "PE",
    Area.PA: "PA",
    Area.MK: "MK",
    Area.CT: "CT",
    Area.TM: "TM",
    Area.DB: "DB",
}
_CONTROL_TEXT = {
    ControlCode.Unknown: "unknown control request",
    ControlCode.ColdStart: "cold start",
    ControlCode.WarmStart: "warm (hot) start",
    ControlCode.Stop: "stop",
    ControlCode.Compress: "memory compress",
    ControlCode.CopyRamToRom: "copy RAM to ROM",
    ControlCode.InsDel: "block insert/delete",
}


def _area_name(area: int, index: int) -> str:
    name = _AREA_TEXT.get(area, f"area 0x{area:02X}")  # type: ignore[call-overload]
    return f"DB{index}" if area == Area.DB else name


def event_text(event: tuple[int, int, int, int, int, int]) -> str:
    """Human-readable line for an event tuple `(code, retcode, p1, p2, p3, p4)`."""
    code, ret, p1, p2, p3, p4 = event
    result = _RESULT_TEXT.get(ret, f"result 0x{ret:04X}")  # type: ignore[call-overload]
    if code == Event.DataRead or code == Event.DataWrite:
        verb = "Read" if code == Event.DataRead else "Write"
        return f"{verb} {_area_name(p1, p2)}, start {p3}, size {p4}: {result}"
    if code == Event.NegotiatePDU:
        return f"PDU size negotiated: {p1} bytes: {result}"
    if code == Event.ReadSZL:
        return f"SZL read, ID 0x{p1:04X} index 0x{p2:04X}: {result}"
    if code == Event.Clock:
        what = {EVENT_SUBCODE_GET_CLOCK: "read", EVENT_SUBCODE_SET_CLOCK: "set"}.get(p1, "request")
        return f"Clock {what}: {result}"
    if code == Event.Control:
        return f"CPU control, {_CONTROL_TEXT.get(p1, 'unknown request')}: {result}"  # type: ignore[call-overload]
    if code == Event.Security:
        what = {1: "password set", 2: "password cleared"}.get(p1, "security request")
        return f"Security, {what}: {result}"
    if code == Event.Directory:
        return _directory_text(p1, p2, p3, result)
    if code == Event.PDUincoming:
        return f"Incoming PDU ({p1} bytes) refused: {result}"
    try:
        name = Event(code).name
    except ValueError:
        name = f"event 0x{code:08X}"
    return f"{name}: {result}"


def _block_name(block_type: int) -> str:
    try:
        return BlockType(block_type).name
    except ValueError:
        return f"block type 0x{block_type:02X}"


def _directory_text(sub: int, block_type: int, number: int, result: str) -> str:
    if sub == EVENT_SUBCODE_BLOCK_LIST:
        return f"Block list requested: {result}"
    if sub in (EVENT_SUBCODE_START_LIST_OF_TYPE, EVENT_SUBCODE_LIST_OF_TYPE):
        more = " (continued)" if sub == EVENT_SUBCODE_LIST_OF_TYPE else ""
        return f"List of {_block_name(block_type)} blocks requested{more}: {result}"
    if sub == EVENT_SUBCODE_BLOCK_INFO:
        return f"Block info of {_block_name(block_type)}{number} requested: {result}"
    return f"Directory request: {result}"
