"""The operations of python-snap7 3.x's `snap7.client.Client`, each a function of a connected
client that returns something two servers' answers can be compared by (no tests here).

Every operation that changes the server puts back what it changed, or reads back what it
wrote, so the same sequence run against two servers leaves both alike. A value that can not
be equal between two servers (a clock, an execution time) is reduced to what must hold.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from snap7.client import Client
from snap7.type import S7SZL, Area, Block, Parameter, S7SZLList, WordLen

#: An operation: a connected client in, a comparable value out (or an exception).
Op = Callable[[Client], Any]


def plain(value: Any) -> Any:
    """`value` with bytes as hex, ctypes structures as dicts and arrays as lists."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, ctypes.Structure):
        return {name: plain(getattr(value, name)) for name, *_ in value._fields_}
    if isinstance(value, ctypes.Array):
        items = list(value)
        if items and isinstance(items[0], int) and value._type_ in (ctypes.c_ubyte, ctypes.c_byte):
            return bytes(b & 0xFF for b in items).hex()
        return [plain(v) for v in items]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _near_now(moment: datetime) -> bool:
    return abs(moment - datetime.now()) < timedelta(minutes=2)


def _write_read(area: Area, db: int, start: int, data: bytes, word_len: WordLen | None = None):
    def op(c: Client) -> Any:
        old = c.read_area(area, db, start, len(data) if word_len is None else 1, word_len)
        c.write_area(area, db, start, bytearray(data), word_len)
        back = c.read_area(area, db, start, len(data) if word_len is None else 1, word_len)
        c.write_area(area, db, start, old, word_len)  # put it back
        return back

    return op


def _as_read(name: str, *args: Any) -> Op:
    """An `as_*` read: the call, then `wait_as_completion`, then the buffer it filled."""

    def op(c: Client) -> Any:
        buffer = (ctypes.c_ubyte * 64)()
        rc = getattr(c, name)(*args, buffer)
        return rc, c.wait_as_completion(1000), bytes(buffer).hex()

    return op


def _as_call(name: str, *args: Any) -> Op:
    def op(c: Client) -> Any:
        rc = getattr(c, name)(*args)
        return rc, c.wait_as_completion(1000)

    return op


def _szl(ssl_id: int, index: int) -> Op:
    def op(c: Client) -> Any:
        szl = c.read_szl(ssl_id, index)
        return szl.Header.LengthDR, bytes(szl.Data[: szl.Header.LengthDR]).hex()

    return op


def _control(*calls: Callable[[Client], Any]) -> Op:
    def op(c: Client) -> Any:
        return [plain(call(c)) for call in calls]

    return op


def _as_szl(c: Client) -> Any:
    szl = S7SZL()
    rc = c.as_read_szl(0x0011, 0, szl, ctypes.sizeof(szl))
    return rc, c.wait_as_completion(1000), bytes(szl.Data[: szl.Header.LengthDR]).hex()


def _as_szl_list(c: Client) -> Any:
    lst = S7SZLList()
    rc = c.as_read_szl_list(lst, 0x200)
    return rc, c.wait_as_completion(1000), lst.Header.NDR, plain(lst.List)[: lst.Header.NDR]


def _as_write(c: Client) -> Any:
    data = (ctypes.c_ubyte * 4)(*b"\x11\x22\x33\x44")
    rc = c.as_db_write(2, 4, 4, data)
    done = c.wait_as_completion(1000)
    back = c.db_read(2, 4, 4)
    c.db_write(2, 4, bytearray(4))
    return rc, done, back.hex()


def _iso_exchange(c: Client) -> Any:
    # A read of DB1.DBB0..3 as a bare S7 job PDU (header, one S7ANY item).
    request = bytes.fromhex("320100000500000e00000401120a10020004000184000000")
    return c.iso_exchange_buffer(bytearray(request)).hex()


def _block_info(block: Block, number: int) -> Op:
    def op(c: Client) -> Any:
        info = plain(c.get_block_info(block, number))
        return info

    return op


def _upload_download(c: Client) -> Any:
    data = c.full_upload(Block.DB, 1)
    return plain(data)


def _pg_block_info(c: Client) -> Any:
    # A local parse of a block image; the server is not asked. The image is our own.
    image = bytearray(b"pp\x01\x01\x05\x0a\x00\x07" + bytes(40))
    return plain(c.get_pg_block_info(image))


def _datetime(c: Client) -> Any:
    return _near_now(c.get_plc_datetime())


def _set_datetime(c: Client) -> Any:
    rc = c.set_plc_datetime(datetime(2031, 2, 3, 4, 5, 6))
    return rc, c.set_plc_system_datetime(), _near_now(c.get_plc_datetime())


def _multi_read(c: Client) -> Any:
    items = [dict(area=Area.DB, db_number=1, start=i * 40, size=30) for i in range(3)] + [
        dict(area=Area.MK, start=0, size=2),
        dict(area=Area.DB, db_number=9, start=0, size=2),
    ]
    code, results = c.read_multi_vars(items)
    return code, plain(results)


def _multi_write(c: Client) -> Any:
    c.write_multi_vars(
        [
            dict(area=Area.DB, db_number=2, start=0, data=bytearray(b"xy")),
            dict(area=Area.MK, start=5, data=bytearray(b"z")),
        ]
    )
    back = c.db_read(2, 0, 2) + c.mb_read(5, 1)
    c.db_write(2, 0, bytearray(2))
    c.mb_write(5, 1, bytearray(1))
    return back.hex()


def _password(c: Client) -> Any:
    return c.set_session_password("secret"), c.clear_session_password()


def _params(c: Client) -> Any:
    names = (Parameter.RemotePort, Parameter.PingTimeout, Parameter.PDURequest, Parameter.SrcRef)
    values = {p.name: c.get_param(p) for p in names}
    values["RemotePort"] = values["RemotePort"] == c.port  # the port differs per server
    c.set_param(Parameter.PingTimeout, 800)
    values["after set"] = c.get_param(Parameter.PingTimeout)
    return values


def _typed_helpers(c: Client) -> Any:
    c.db_write_real(2, 0, 1.5)
    c.db_write_int(2, 4, -7)
    c.db_write_bool(2, 6, 3, True)
    c.db_write_string(2, 8, "hi", max_length=4)
    out = [c.db_read_real(2, 0), c.db_read_int(2, 4), c.db_read_bool(2, 6, 3)]
    out.append(c.db_read_string(2, 8))
    c.db_write(2, 0, bytearray(16))
    return out


def _tags(c: Client) -> Any:
    c.write_tag("DB2.DBW2:INT", 1234)
    values = c.read_tags(["DB2.DBW2:INT", "DB1.DBB4:BYTE", "MB0:BYTE"])
    c.write_tag("DB2.DBW2:INT", 0)
    return values


def _arrays(c: Client) -> Any:
    c.db_write_array(2, 0, [1.0, 2.0], ">f")
    values = c.db_read_array(2, 0, 2, ">f")
    c.db_write(2, 0, bytearray(8))
    return values


def _force(c: Client) -> Any:
    c.force_bit(Area.PA, 3, 2, True)
    after = c.ab_read(3, 1)
    c.cancel_force(Area.PA, 3, 2)
    return after.hex(), c.ab_read(3, 1).hex()


def _element_write(kind: str) -> Op:
    """tm_write/ct_write of one element, read back, then zeroed again."""

    def op(c: Client) -> Any:
        write, read = getattr(c, f"{kind}_write"), getattr(c, f"{kind}_read")
        rc = write(4, 1, bytearray(b"\x00\x07"))
        back = read(4, 1).hex()
        write(4, 1, bytearray(2))
        return rc, back

    return op


def _neighbours(c: Client) -> Any:
    """Two neighbouring timers written with different values: each keeps its own."""
    c.tm_write(4, 2, bytearray(b"\x00\x04\x00\x05"))
    back = [c.tm_read(4, 1).hex(), c.tm_read(5, 1).hex(), c.tm_read(0, 8).hex()]
    c.tm_write(0, 8, bytearray(16))
    return back


#: name -> operation, in the order they run (state-changing ones put things back).
PYSNAP7_OPS: dict[str, Op] = {
    "get_connected": lambda c: c.get_connected(),
    "is_alive": lambda c: c.is_alive,
    "get_pdu_length": lambda c: c.get_pdu_length(),
    "get_exec_time": lambda c: isinstance(c.get_exec_time(), int),
    "get_last_error": lambda c: c.get_last_error(),
    "error_text": lambda c: c.error_text(0x0003),
    "get_param/set_param": _params,
    "set_connection_type/params": lambda c: (
        c.set_connection_type(2),
        c.set_connection_params(c.host, 0x0100, 0x0102),
    ),
    "db_read": lambda c: c.db_read(1, 10, 20).hex(),
    "db_read, 900 bytes (parts)": lambda c: c.db_read(1, 50, 900).hex(),
    "db_read, missing DB": lambda c: c.db_read(99, 0, 4),
    "db_read, out of range": lambda c: c.db_read(2, 10, 10),
    "db_write": _write_read(Area.DB, 2, 3, b"abc"),
    "db_get": lambda c: c.db_get(1).hex(),
    "db_get, missing DB": lambda c: c.db_get(99),
    "db_fill": lambda c: (c.db_fill(2, 0x5A), c.db_read(2, 0, 16).hex(), c.db_fill(2, 0)),
    "read_area PE": lambda c: c.read_area(Area.PE, 0, 0, 8).hex(),
    "read_area PA": lambda c: c.read_area(Area.PA, 0, 0, 8).hex(),
    "read_area MK": lambda c: c.read_area(Area.MK, 0, 0, 8).hex(),
    "read_area DB": lambda c: c.read_area(Area.DB, 1, 0, 8).hex(),
    "read_area TM": lambda c: c.read_area(Area.TM, 0, 0, 4).hex(),
    "read_area CT": lambda c: c.read_area(Area.CT, 0, 0, 4).hex(),
    "read_area DB as REAL": lambda c: c.read_area(Area.DB, 1, 4, 8, WordLen.Real).hex(),
    "read_area DB as BIT": lambda c: c.read_area(Area.DB, 1, 3 * 8 + 1, 1, WordLen.Bit).hex(),
    "write_area PE": _write_read(Area.PE, 0, 1, b"\x01\x02"),
    "write_area PA": _write_read(Area.PA, 0, 1, b"\x03\x04"),
    "write_area MK": _write_read(Area.MK, 0, 1, b"\x05\x06"),
    "write_area DB": _write_read(Area.DB, 2, 1, b"\x07\x08"),
    "write_area TM": _write_read(Area.TM, 0, 1, b"\x00\x09"),
    "write_area CT": _write_read(Area.CT, 0, 1, b"\x00\x0a"),
    "write_area DB as BIT": _write_read(Area.DB, 2, 5 * 8 + 2, b"\x01", WordLen.Bit),
    "write_area DB, missing DB": lambda c: c.write_area(Area.DB, 99, 0, bytearray(b"x")),
    "ab_read": lambda c: c.ab_read(0, 4).hex(),
    "ab_write": lambda c: (c.ab_write(8, bytearray(b"AB")), c.ab_read(8, 2).hex()),
    "eb_read": lambda c: c.eb_read(0, 4).hex(),
    "eb_write": lambda c: (c.eb_write(8, 2, bytearray(b"EB")), c.eb_read(8, 2).hex()),
    "mb_read": lambda c: c.mb_read(0, 4).hex(),
    "mb_write": lambda c: (c.mb_write(8, 2, bytearray(b"MB")), c.mb_read(8, 2).hex()),
    "tm_read": lambda c: c.tm_read(0, 2).hex(),
    "tm_write": _element_write("tm"),
    "ct_read": lambda c: c.ct_read(0, 2).hex(),
    "ct_write": _element_write("ct"),
    "tm_write, timers 4 and 5": _neighbours,
    "db_read_*/db_write_* typed helpers": _typed_helpers,
    "db_read_array/db_write_array": _arrays,
    "read_tag/write_tag/read_tags": _tags,
    "read_multi_vars": _multi_read,
    "write_multi_vars": _multi_write,
    "force_bit/cancel_force": _force,
    "read_force_table": lambda c: plain(c.read_force_table()),
    "list_blocks": lambda c: plain(c.list_blocks()),
    "list_blocks_of_type DB": lambda c: c.list_blocks_of_type(Block.DB, 100),
    "list_blocks_of_type OB": lambda c: c.list_blocks_of_type(Block.OB, 100),
    "get_block_info DB1": _block_info(Block.DB, 1),
    "get_block_info DB2": _block_info(Block.DB, 2),
    "get_block_info DB99 (missing)": _block_info(Block.DB, 99),
    "get_block_info OB1 (missing)": _block_info(Block.OB, 1),
    "get_pg_block_info (local parse)": _pg_block_info,
    "upload": lambda c: c.upload(1).hex(),
    "full_upload": _upload_download,
    "download": lambda c: c.download(bytearray(b"pp\x01\x01\x05\x0a\x00\x07" + bytes(80)), 7),
    "delete": lambda c: c.delete(Block.DB, 7),
    "compress": lambda c: c.compress(1000),
    "copy_ram_to_rom": lambda c: c.copy_ram_to_rom(1000),
    "set/clear_session_password": _password,
    "get_cpu_state": lambda c: c.get_cpu_state(),
    "plc_stop/hot_start": _control(
        lambda c: c.plc_stop(), lambda c: c.get_cpu_state(), lambda c: c.plc_hot_start()
    ),
    "plc_stop/cold_start": _control(
        lambda c: c.plc_stop(), lambda c: c.plc_cold_start(), lambda c: c.get_cpu_state()
    ),
    "get_cpu_info": lambda c: plain(c.get_cpu_info()),
    "get_order_code": lambda c: plain(c.get_order_code()),
    "get_cp_info": lambda c: plain(c.get_cp_info()),
    "get_protection": lambda c: plain(c.get_protection()),
    "read_szl 0x0000": _szl(0x0000, 0),
    "read_szl 0x0011": _szl(0x0011, 0),
    "read_szl 0x0111/1": _szl(0x0111, 0x0001),
    "read_szl 0x001C": _szl(0x001C, 0),
    "read_szl 0x011C/1": _szl(0x011C, 0x0001),
    "read_szl 0x0131/1": _szl(0x0131, 0x0001),
    "read_szl 0x0232/4": _szl(0x0232, 0x0004),
    "read_szl 0x0424": _szl(0x0424, 0),
    "read_szl 0x0F99 (unknown)": _szl(0x0F99, 0),
    "read_szl_list": lambda c: c.read_szl_list().hex(),
    "read_diagnostic_buffer": lambda c: c.read_diagnostic_buffer(),
    "get_plc_datetime": _datetime,
    "set_plc_datetime/set_plc_system_datetime": _set_datetime,
    "iso_exchange_buffer": _iso_exchange,
    "as_db_read": _as_read("as_db_read", 1, 0, 8),
    "as_db_write": _as_write,
    "as_db_get": lambda c: _as_call("as_db_get", 2, (ctypes.c_ubyte * 16)(), 16)(c),
    "as_db_fill": _as_call("as_db_fill", 2, 0),
    "as_read_area": _as_read("as_read_area", Area.DB, 1, 8, 8, WordLen.Byte),
    "as_write_area": lambda c: (
        c.as_write_area(Area.MK, 0, 20, 2, WordLen.Byte, bytearray(b"wa")),
        c.wait_as_completion(1000),
        c.mb_read(20, 2).hex(),
    ),
    "as_ab_read": _as_read("as_ab_read", 0, 4),
    "as_ab_write": _as_call("as_ab_write", 12, bytearray(b"ab")),
    "as_eb_read": _as_read("as_eb_read", 0, 4),
    "as_eb_write": _as_call("as_eb_write", 12, 2, bytearray(b"eb")),
    "as_mb_read": _as_read("as_mb_read", 0, 4),
    "as_mb_write": _as_call("as_mb_write", 12, 2, bytearray(b"mb")),
    "as_tm_read": _as_read("as_tm_read", 0, 2),
    "as_tm_write": _as_call("as_tm_write", 6, 1, bytearray(b"\x00\x01")),
    "as_ct_read": _as_read("as_ct_read", 0, 2),
    "as_ct_write": _as_call("as_ct_write", 6, 1, bytearray(b"\x00\x02")),
    "as_read_szl": _as_szl,
    "as_read_szl_list": _as_szl_list,
    "as_list_blocks_of_type": lambda c: _as_call(
        "as_list_blocks_of_type", Block.DB, (ctypes.c_uint16 * 8)(), 8
    )(c),
    "as_upload": lambda c: _as_call("as_upload", 1, (ctypes.c_ubyte * 64)(), 64)(c),
    "as_full_upload": _as_call("as_full_upload", Block.DB, 1),
    "as_download": _as_call("as_download", bytearray(b"pp\x01\x01\x05\x0a\x00\x07"), 7),
    "as_compress": _as_call("as_compress", 1000),
    "as_copy_ram_to_rom": _as_call("as_copy_ram_to_rom", 1000),
    "check_as_completion": lambda c: (c.check_as_completion(ctypes.c_int(5)),),
    "set_as_callback": lambda c: c.set_as_callback(lambda *a: None),
    "connect, rack 0 slot 1": lambda c: (
        c.disconnect(),
        c.connect(c.host, 0, 1, c.port).pdu_length,
    ),
    "connect_routed": lambda c: (
        c.disconnect(),
        c.connect_routed(c.host, 0, 2, 0x0001, 0, 3, c.port).get_connected(),
    ),
    "create/destroy": lambda c: (c.create(), c.destroy(), c.get_connected()),
    "disconnect": lambda c: (c.disconnect(), c.get_connected()),
}
