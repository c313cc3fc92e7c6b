"""What the matrix changed in the sans-IO server engine: upload, download and block
insert/delete are refused as by a read/write protected CPU (0xD241), as Snap7 C refuses
upload and download, each with its event; other PI services are answered as before."""

from __future__ import annotations

import pytest

from incore.protocols.s7 import MemoryAreaStore, S7ServerProtocol
from incore.protocols.s7.constants import ControlCode, Event, EventResult
from incore.protocols.s7.pdu import decode_pdu


def _job(params: bytes) -> bytes:
    return bytes((0x32, 1, 0, 0, 0, 7)) + len(params).to_bytes(2, "big") + b"\x00\x00" + params


def _pi(block: bytes, name: bytes) -> bytes:
    """A PI service request in the standard layout (as Snap7 C sends it)."""
    head = b"\x28" + bytes(6) + b"\xfd" + len(block).to_bytes(2, "big")
    return _job(head + block + bytes((len(name),)) + name)


def _engine() -> tuple[S7ServerProtocol, list]:
    events: list = []
    store = MemoryAreaStore()
    store.register(0x84, 1, 8)
    return S7ServerProtocol(store, on_event=events.append), events


REFUSED = {
    "start upload": _job(bytes.fromhex("1d000000000000000900095f304130303030314150")),
    "upload": _job(bytes.fromhex("1e0000000000000007")),
    "end upload": _job(bytes.fromhex("1f0000000000000007")),
    "request download": _job(
        bytes.fromhex("1a000100000000000900095f3041303030303150") + b"\x0d1000088000080"
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_upload_and_download_are_refused_as_a_protected_cpu(name: str) -> None:
    engine, events = _engine()
    raw = REFUSED[name]
    reply = decode_pdu(engine.handle(raw))
    assert (reply.rosctr, reply.error, reply.params, reply.data) == (2, 0xD241, b"", b"")
    upload = raw[10] in (0x1D, 0x1E, 0x1F)
    code, result = (
        (Event.Upload, EventResult.CannotUpload)
        if upload
        else (Event.Download, EventResult.CannotDownload)
    )
    assert events == [(code, result, 1, 0, 0, 0)]


@pytest.mark.parametrize(
    "raw",
    [
        _pi(b"0A00001P", b"_DELE"),  # the standard layout
        _pi(b"0A00001P", b"_INSE"),
        # python-snap7 3.x's own layout: lengths first, the service name last
        _job(b"\x28" + bytes(5) + b"\x08\x05\x00" + b"4100001P" + b"_DELE"),
    ],
)
def test_a_block_delete_or_insert_is_refused_and_nothing_is_deleted(raw: bytes) -> None:
    engine, events = _engine()
    reply = decode_pdu(engine.handle(raw))
    assert (reply.rosctr, reply.error) == (2, 0xD241)
    assert events == [(Event.Control, EventResult.NotImplemented, ControlCode.InsDel, 0, 0, 0)]
    assert engine.store.read(0x84, 1, 0, 8) == bytes(8)  # DB1 is still there


@pytest.mark.parametrize(
    "name, code", [(b"_GARB", ControlCode.Compress), (b"_MODU", ControlCode.CopyRamToRom)]
)
def test_compress_and_copy_ram_to_rom_are_still_acknowledged(name: bytes, code: int) -> None:
    engine, events = _engine()
    reply = decode_pdu(engine.handle(_pi(b"", name)))
    assert (reply.rosctr, reply.error, reply.params) == (3, 0, b"\x28")
    assert events == [(Event.Control, EventResult.NoError, code, 0, 0, 0)]


def test_an_unknown_pi_service_is_still_function_not_available() -> None:
    engine, events = _engine()
    reply = decode_pdu(engine.handle(_pi(b"", b"_XXXX")))
    assert (reply.rosctr, reply.error) == (2, 0x8104)
    assert events == [(Event.Control, EventResult.CannotHandlePDU, 0, 0, 0, 0)]
