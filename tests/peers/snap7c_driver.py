"""JSON-lines driver for the Snap7 C library (run with python-snap7 2.x).

python-snap7 2.x bundles libsnap7 but shares the import name ``snap7`` with
the pure-Python 3.x used by the project, so tests run this script in its own
interpreter.  One JSON object per line on stdin: ``{"op": ..., ...}``; one
answer per line on stdout: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": text, "code": snap7_error_number}``.
"""

from __future__ import annotations

import ctypes
import json
import sys
from datetime import datetime

from snap7.client import Client
from snap7.server import Server
from snap7.type import Area, Parameter, S7DataItem, SrvArea, WordLen

STATE: dict = {"client": None, "server": None, "areas": {}, "rw": None, "rw_log": []}
#: Bytes per element of each word length (Snap7 C's DataSizeByte).
WIDTH = {1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 4, 8: 4, 0x1C: 2, 0x1D: 2}


def _client() -> Client:
    if STATE["client"] is None:
        STATE["client"] = Client()
    return STATE["client"]


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1").strip()


def _items(specs: list[dict]) -> tuple[ctypes.Array, list]:
    items = (S7DataItem * len(specs))()
    buffers = []
    for item, spec in zip(items, specs):
        data = bytes.fromhex(spec.get("data", ""))
        size = max(len(data), spec["amount"] * spec.get("width", 1), 1)
        buf = (ctypes.c_uint8 * size).from_buffer_copy(data.ljust(size, b"\x00"))
        buffers.append(buf)
        item.Area = spec["area"]
        item.WordLen = spec.get("wordlen", WordLen.Byte)
        item.DBNumber = spec.get("db", 0)
        item.Start = spec["start"]
        item.Amount = spec["amount"]
        item.pData = ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint8))
    return items, buffers


def op_connect(c: dict):
    old = STATE["client"]
    if old is not None:  # every connect starts from a fresh client object
        old.disconnect()
        old.destroy()
    cli = STATE["client"] = Client()
    if "local_tsap" in c:
        cli.set_param(Parameter.RemotePort, c["port"])
        cli.set_connection_type(c.get("conn_type", 1))
        cli.set_connection_params(c["host"], c["local_tsap"], c["remote_tsap"])
        res = cli._lib.Cli_Connect(cli._s7_client)  # noqa: SLF001 - 2.x exposes no wrapper for Cli_Connect
        if res:
            raise RuntimeError(res)
    else:
        cli.set_connection_type(c.get("conn_type", 1))
        cli.connect(c["host"], c["rack"], c["slot"], c["port"])
    return cli.get_pdu_length()


def op_read_area(c: dict):
    return _client().read_area(Area(c["area"]), c.get("db", 0), c["start"], c["size"]).hex()


def op_write_area(c: dict):
    return _client().write_area(
        Area(c["area"]), c.get("db", 0), c["start"], bytearray.fromhex(c["data"])
    )


def op_read_typed(c: dict):
    """Cli_ReadArea with an explicit word length (BIT, REAL, ...)."""
    cli = _client()
    size = c["amount"] * WIDTH[c["wordlen"]]
    buf = (ctypes.c_uint8 * size)()
    res = cli._lib.Cli_ReadArea(
        cli._s7_client,
        c["area"],
        c.get("db", 0),
        c["start"],
        c["amount"],
        c["wordlen"],  # noqa: SLF001
        ctypes.byref(buf),
    )
    if res:
        raise RuntimeError(res)
    return bytes(buf).hex()


def op_write_typed(c: dict):
    cli = _client()
    data = bytes.fromhex(c["data"])
    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    res = cli._lib.Cli_WriteArea(
        cli._s7_client,
        c["area"],
        c.get("db", 0),
        c["start"],
        c["amount"],
        c["wordlen"],  # noqa: SLF001
        ctypes.byref(buf),
    )
    if res:
        raise RuntimeError(res)
    return 0


def op_read_multi(c: dict):
    items, buffers = _items(c["items"])
    cli = _client()
    res = cli._lib.Cli_ReadMultiVars(cli._s7_client, ctypes.byref(items), len(items))  # noqa: SLF001
    if res:
        raise RuntimeError(res)
    out = []
    for item, buf, spec in zip(items, buffers, c["items"]):
        n = spec["amount"] * spec.get("width", 1)
        out.append({"result": item.Result, "data": bytes(buf)[:n].hex()})
    return out


def op_write_multi(c: dict):
    items, _buffers = _items(c["items"])
    cli = _client()
    res = cli._lib.Cli_WriteMultiVars(cli._s7_client, ctypes.byref(items), len(items))  # noqa: SLF001
    if res:
        raise RuntimeError(res)
    return [item.Result for item in items]


def op_cpu_info(c: dict):
    info = _client().get_cpu_info()
    return {
        k: _text(getattr(info, k))
        for k in ("ModuleTypeName", "SerialNumber", "ASName", "Copyright", "ModuleName")
    }


class _CpInfo(ctypes.Structure):
    """TS7CpInfo as the C library fills it (python-snap7 2.x declares 16-bit fields)."""

    _fields_ = [
        ("MaxPduLength", ctypes.c_int),
        ("MaxConnections", ctypes.c_int),
        ("MaxMpiRate", ctypes.c_int),
        ("MaxBusRate", ctypes.c_int),
    ]


def op_cp_info(c: dict):
    cli = _client()
    info = _CpInfo()
    res = cli._lib.Cli_GetCpInfo(cli._s7_client, ctypes.byref(info))  # noqa: SLF001
    if res:
        raise RuntimeError(res)
    return [info.MaxPduLength, info.MaxConnections, info.MaxMpiRate, info.MaxBusRate]


def op_order_code(c: dict):
    oc = _client().get_order_code()
    return {"code": _text(oc.OrderCode), "version": [oc.V1, oc.V2, oc.V3]}


def op_protection(c: dict):
    p = _client().get_protection()
    return [p.sch_schal, p.sch_par, p.sch_rel, p.bart_sch, p.anl_sch]


def op_read_szl(c: dict):
    szl = _client().read_szl(c["id"], c.get("index", 0))
    return bytes(b & 0xFF for b in szl.Data[: szl.Header.LengthDR * max(szl.Header.NDR, 1)]).hex()


def op_get_clock(c: dict):
    return _client().get_plc_datetime().isoformat()


def op_set_clock(c: dict):
    return _client().set_plc_datetime(datetime.fromisoformat(c["iso"]))


def op_server_start(c: dict):
    if STATE["server"] is not None:
        STATE["server"].stop()
        STATE["server"].destroy()
        STATE["areas"].clear()
    srv = Server(log=False)
    for spec in c.get("areas", []):
        buf = (ctypes.c_uint8 * spec["size"]).from_buffer_copy(
            bytes.fromhex(spec.get("data", "")).ljust(spec["size"], b"\x00")
        )
        STATE["areas"][(spec["area"], spec.get("index", 0))] = buf
        srv.register_area(SrvArea(spec["area"]), spec.get("index", 0), buf)
    if c.get("resourceless"):
        _answer_resourceless(srv)
    srv.start_to("127.0.0.1", c["port"])
    STATE["server"] = srv
    return c["port"]


class _Tag(ctypes.Structure):
    """TS7Tag, what Srv_SetRWAreaCallback's callback gets."""

    _fields_ = [(name, ctypes.c_int) for name in ("Area", "DBNumber", "Start", "Size", "WordLen")]


_RW_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.POINTER(_Tag),
    ctypes.POINTER(ctypes.c_uint8),
)


def _answer_resourceless(srv: Server) -> None:
    """Resourceless mode (python-snap7 2.x has no wrapper for it): every access calls back with
    the tag; it is logged, with a write's bytes, and a read gets byte i = (Start + i) & 0xFF."""

    def on_rw(_usr, _sender, operation, tag_p, data):
        tag = tag_p.contents
        size = tag.Size * WIDTH.get(tag.WordLen, 1)
        entry = [operation, tag.Area, tag.DBNumber, tag.Start, tag.Size, tag.WordLen]
        if operation == 0:
            for i in range(size):
                data[i] = (tag.Start + i) & 0xFF
            entry.append("")
        else:
            entry.append(bytes(data[:size]).hex())
        STATE["rw_log"].append(entry)
        return 0

    STATE["rw"] = _RW_CALLBACK(on_rw)  # kept alive as long as the server may call it
    STATE["rw_log"].clear()
    srv._lib.Srv_SetRWAreaCallback(srv._s7_server, STATE["rw"], None)  # noqa: SLF001


def op_server_rw_log(c: dict):
    """The resourceless callbacks since the last call: [operation, Area, DBNumber, Start, Size,
    WordLen, written bytes hex]."""
    log, STATE["rw_log"] = STATE["rw_log"], []
    return log


def op_server_area(c: dict):
    return bytes(STATE["areas"][(c["area"], c.get("index", 0))]).hex()


def op_server_cpu_status(c: dict):
    srv = STATE["server"]
    if "status" in c:
        srv.set_cpu_status(c["status"])
    return srv.get_status()[1]


SIMPLE = {
    "cpu_state": lambda c: _client().get_cpu_state(),
    "plc_stop": lambda c: _client().plc_stop(),
    "plc_hot_start": lambda c: _client().plc_hot_start(),
    "plc_cold_start": lambda c: _client().plc_cold_start(),
    "pdu_length": lambda c: _client().get_pdu_length(),
    "disconnect": lambda c: _client().disconnect(),
}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        op = command["op"]
        if op == "quit":
            break
        handler = SIMPLE.get(op) or globals().get(f"op_{op}")
        try:
            if handler is None:
                raise KeyError(f"unknown op {op}")
            answer = {"ok": True, "result": handler(command)}
        except Exception as exc:  # report every failure to the test, which decides
            if exc.args and isinstance(exc.args[0], int):
                code = exc.args[0]
            elif STATE["client"] is not None:
                code = STATE["client"].get_last_error()
            else:
                code = None
            answer = {"ok": False, "error": str(exc), "code": code}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    if STATE["server"] is not None:
        STATE["server"].stop()
        STATE["server"].destroy()


# -- generic calls (the conformance matrix): any method of the 2.x Client ------------------------


def _plain(value):
    """A JSON form of what a 2.x Client method returns: bytes as hex, structures as dicts."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, ctypes.Structure):
        return {name: _plain(getattr(value, name)) for name, *_ in value._fields_}
    if isinstance(value, ctypes.Array):
        if value._type_ in (ctypes.c_ubyte, ctypes.c_byte, ctypes.c_char):
            return bytes(b & 0xFF for b in bytearray(value)).hex()
        return [_plain(v) for v in value]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, ctypes._SimpleCData):
        return value.value
    return value


def _arg(spec, made: dict):
    """An argument: plain JSON, or {"buf": n} (bytes buffer), {"words": n} (uint16 buffer),
    {"hex": ...} (bytearray), {"block"/"area"/"wordlen"/"param": name}, {"szl": 1},
    {"szl_list": 1}, {"int": 0} (a c_int); {"ref": name} names a buffer made earlier."""
    from snap7.type import S7SZL, Block, S7SZLList

    if not isinstance(spec, dict):
        return spec
    if "ref" in spec:
        return made[spec["ref"]]
    kind, value = next(iter(spec.items()))
    if kind == "buf":
        made[spec.get("name", f"#{len(made)}")] = obj = (ctypes.c_ubyte * value)()
    elif kind == "words":
        made[spec.get("name", f"#{len(made)}")] = obj = (ctypes.c_uint16 * value)()
    elif kind == "szl":
        made[spec.get("name", f"#{len(made)}")] = obj = S7SZL()
    elif kind == "szl_list":
        made[spec.get("name", f"#{len(made)}")] = obj = S7SZLList()
    elif kind == "int":
        made[spec.get("name", f"#{len(made)}")] = obj = ctypes.c_int(value)
    elif kind == "hex":
        return bytearray.fromhex(value)
    elif kind == "iso":
        return datetime.fromisoformat(value)
    else:
        enum = {"block": Block, "area": Area, "wordlen": WordLen, "param": Parameter}[kind]
        return enum[value]
    return obj


def op_steps(c: dict):
    """Call `steps` ([method, *args], ...) on the client in order; the results, then every
    buffer made (by name), as JSON. A failing step fails the whole command with its code."""
    made: dict = {}
    results = []
    for method, *args in c["steps"]:
        values = [_arg(a, made) for a in args]
        results.append(_plain(getattr(_client(), method)(*values)))
    return {"results": results, "buffers": {k: _plain(v) for k, v in made.items()}}


if __name__ == "__main__":
    main()
