"""The operations of the Snap7 C client (python-snap7 2.1's `snap7.client.Client` over
libsnap7), each as the driver's `steps`: `[method, *args]` calls made in order on one
connected client (see `op_steps` in `tests/peers/snap7c_driver.py` for the argument forms).
No tests here. As for python-snap7 3.x, what an op changes it puts back.
"""

from __future__ import annotations

from typing import Any

#: Argument shorthands of the driver.
DB = {"area": "DB"}
MK = {"area": "MK"}
TM = {"area": "TM"}
BLOCK_DB = {"block": "DB"}
BLOCK_OB = {"block": "OB"}


def buf(size: int, name: str = "b") -> dict:
    return {"buf": size, "name": name}


def data(raw: bytes) -> dict:
    return {"hex": raw.hex()}


def _write_back(method: str, start: int, raw: bytes, *, sized: bool) -> list[list[Any]]:
    """A write, its read back, and the zeros written again (tm/ct/eb/mb take a size)."""
    read = method.replace("write", "read")
    count = len(raw) // 2 if method[:2] in ("tm", "ct") else len(raw)
    size = [count] if sized else []
    return [
        [method, start, *size, data(raw)],
        [read, start, count],
        [method, start, *size, data(bytes(len(raw)))],
    ]


#: A bare S7 job: read DB1.DBB0..3 (header, one S7ANY item).
READ_DB1 = bytes.fromhex("320100000500000e00000401120a10020004000184000000")

#: name -> steps, in the order they run.
SNAP7C_OPS: dict[str, list[list[Any]]] = {
    "get_connected": [["get_connected"]],
    "get_pdu_length": [["get_pdu_length"]],
    "get_exec_time": [["db_read", 1, 0, 4], ["get_exec_time"]],  # a time: only that it is one
    "get_last_error": [["get_last_error"]],
    "error_text": [["error_text", 0x00100000]],
    "get_param/set_param": [
        ["get_param", {"param": "PingTimeout"}],
        ["set_param", {"param": "PingTimeout"}, 800],
        ["get_param", {"param": "PingTimeout"}],
        ["get_param", {"param": "PDURequest"}],
    ],
    "set_connection_type": [["set_connection_type", 2]],
    "db_read": [["db_read", 1, 10, 20]],
    "db_read, 900 bytes (parts)": [["db_read", 1, 50, 900]],
    "db_read, missing DB": [["db_read", 99, 0, 4]],
    "db_read, out of range": [["db_read", 2, 10, 10]],
    "db_write": [
        ["db_write", 2, 3, data(b"abc")],
        ["db_read", 2, 3, 3],
        ["db_write", 2, 3, data(bytes(3))],
    ],
    "db_get": [["db_get", 2]],
    "db_get, missing DB": [["db_get", 99]],
    "db_fill": [["db_fill", 2, 0x5A], ["db_read", 2, 0, 16], ["db_fill", 2, 0]],
    **{
        f"read_area {name}": [["read_area", {"area": name}, 1 if name == "DB" else 0, 0, 8]]
        for name in ("PE", "PA", "MK", "DB")
    },
    "read_area TM": [["read_area", TM, 0, 0, 4]],
    "read_area CT": [["read_area", {"area": "CT"}, 0, 0, 4]],
    "write_area DB": [
        ["write_area", DB, 2, 1, data(b"\x07\x08")],
        ["read_area", DB, 2, 1, 2],
        ["write_area", DB, 2, 1, data(bytes(2))],
    ],
    "write_area MK": [
        ["write_area", MK, 0, 1, data(b"\x05\x06")],
        ["read_area", MK, 0, 1, 2],
        ["write_area", MK, 0, 1, data(bytes(2))],
    ],
    "write_area, missing DB": [["write_area", DB, 99, 0, data(b"x")]],
    "ab_read": [["ab_read", 0, 4]],
    "ab_write": _write_back("ab_write", 8, b"AB", sized=False),
    "eb_read": [["eb_read", 0, 4]],
    "eb_write": _write_back("eb_write", 8, b"EB", sized=True),
    "mb_read": [["mb_read", 0, 4]],
    "mb_write": _write_back("mb_write", 8, b"MB", sized=True),
    "tm_read": [["tm_read", 0, 2]],
    "tm_write": _write_back("tm_write", 4, b"\x00\x07", sized=True),
    "ct_read": [["ct_read", 0, 2]],
    "ct_write": _write_back("ct_write", 4, b"\x00\x08", sized=True),
    "list_blocks": [["list_blocks"]],
    "list_blocks_of_type DB": [["list_blocks_of_type", BLOCK_DB, 100]],
    "list_blocks_of_type OB": [["list_blocks_of_type", BLOCK_OB, 100]],
    "get_block_info DB1": [["get_block_info", BLOCK_DB, 1]],
    "get_block_info DB2": [["get_block_info", BLOCK_DB, 2]],
    "get_block_info DB99 (missing)": [["get_block_info", BLOCK_DB, 99]],
    "get_block_info OB1 (missing)": [["get_block_info", BLOCK_OB, 1]],
    # The Snap7 C client checks a block image's size fields before it parses one (or before
    # it sends one: download), and refuses this one locally with both servers alike.
    "get_pg_block_info (local parse)": [
        ["get_pg_block_info", data(b"pp\x01\x01\x05\x0a\x00\x07" + bytes(40))]
    ],
    "upload": [["upload", 1]],
    "full_upload": [["full_upload", BLOCK_DB, 1]],
    "download": [["download", data(b"pp\x01\x01\x05\x0a\x00\x07" + bytes(80)), 7]],
    "delete": [["delete", BLOCK_DB, 7]],
    "compress": [["compress", 1000]],
    "copy_ram_to_rom": [["copy_ram_to_rom", 1000]],
    "set_session_password": [["set_session_password", "secret"]],
    "clear_session_password": [["clear_session_password"]],
    "get_cpu_state": [["get_cpu_state"]],
    "plc_stop/hot_start": [["plc_stop"], ["get_cpu_state"], ["plc_hot_start"], ["get_cpu_state"]],
    "plc_stop/cold_start": [["plc_stop"], ["plc_cold_start"], ["get_cpu_state"]],
    "get_cpu_info": [["get_cpu_info"]],
    "get_order_code": [["get_order_code"]],
    "get_cp_info": [["get_cp_info"]],
    "get_protection": [["get_protection"]],
    **{
        f"read_szl 0x{szl:04X}/{index}": [["read_szl", szl, index]]
        for szl, index in (
            (0x0000, 0),
            (0x0011, 0),
            (0x0111, 1),
            (0x001C, 0),
            (0x011C, 1),
            (0x0131, 1),
            (0x0232, 4),
            (0x0424, 0),
            (0x0F99, 0),
        )
    },
    "read_szl_list": [["read_szl_list"]],
    "get_plc_datetime": [["get_plc_datetime"]],
    "set_plc_datetime": [["set_plc_datetime", {"iso": "2031-02-03T04:05:06"}]],
    "set_plc_system_datetime": [["set_plc_system_datetime"]],
    "iso_exchange_buffer": [["iso_exchange_buffer", data(READ_DB1)]],
    "read_multi_vars": [],  # the driver's read_multi (Cli_ReadMultiVars): see the test
    "write_multi_vars": [],  # the driver's write_multi
    "as_db_read": [["as_db_read", 1, 0, 8, buf(8)], ["wait_as_completion", 1000]],
    "as_db_write": [
        ["as_db_write", 2, 4, 4, {"buf": 4, "name": "w"}],
        ["wait_as_completion", 1000],
        ["db_read", 2, 4, 4],
    ],
    "as_db_get": [["as_db_get", 2, buf(16), 16], ["wait_as_completion", 1000]],
    "as_db_fill": [["as_db_fill", 2, 0], ["wait_as_completion", 1000]],
    "as_read_area": [
        ["as_read_area", DB, 1, 8, 8, {"wordlen": "Byte"}, buf(8)],
        ["wait_as_completion", 1000],
    ],
    "as_write_area": [
        ["as_write_area", MK, 0, 20, 2, {"wordlen": "Byte"}, buf(2)],
        ["wait_as_completion", 1000],
    ],
    "as_ab_read": [["as_ab_read", 0, 4, buf(4)], ["wait_as_completion", 1000]],
    "as_ab_write": [["as_ab_write", 12, data(b"\x00\x00")], ["wait_as_completion", 1000]],
    "as_eb_read": [["as_eb_read", 0, 4, buf(4)], ["wait_as_completion", 1000]],
    "as_eb_write": [["as_eb_write", 12, 2, data(b"\x00\x00")], ["wait_as_completion", 1000]],
    "as_mb_read": [["as_mb_read", 0, 4, buf(4)], ["wait_as_completion", 1000]],
    "as_mb_write": [["as_mb_write", 12, 2, data(b"\x00\x00")], ["wait_as_completion", 1000]],
    "as_tm_read": [["as_tm_read", 0, 2, buf(4)], ["wait_as_completion", 1000]],
    "as_tm_write": [["as_tm_write", 6, 1, data(b"\x00\x00")], ["wait_as_completion", 1000]],
    "as_ct_read": [["as_ct_read", 0, 2, buf(4)], ["wait_as_completion", 1000]],
    "as_ct_write": [["as_ct_write", 6, 1, data(b"\x00\x00")], ["wait_as_completion", 1000]],
    "as_read_szl": [
        ["as_read_szl", 0x0111, 1, {"szl": 1, "name": "s"}, 1024],
        ["wait_as_completion", 1000],
    ],
    "as_read_szl_list": [
        ["as_read_szl_list", {"szl_list": 1, "name": "l"}, 0x200],
        ["wait_as_completion", 1000],
    ],
    "as_list_blocks_of_type": [
        ["as_list_blocks_of_type", BLOCK_DB, {"words": 8, "name": "w"}, 8],
        ["wait_as_completion", 1000],
    ],
    "as_upload": [["as_upload", 1, buf(64), 64], ["wait_as_completion", 1000]],
    "as_full_upload": [["as_full_upload", BLOCK_DB, 1], ["wait_as_completion", 1000]],
    "as_download": [
        ["as_download", data(b"pp\x01\x01\x05\x0a\x00\x07" + bytes(80)), 7],
        ["wait_as_completion", 1000],
    ],
    "as_compress": [["as_compress", 1000], ["wait_as_completion", 1000]],
    "as_copy_ram_to_rom": [["as_copy_ram_to_rom", 1000], ["wait_as_completion", 2000]],
    "check_as_completion": [["as_db_read", 1, 0, 4, buf(4)], ["wait_as_completion", 1000]],
    "disconnect": [["disconnect"], ["get_connected"]],
}
