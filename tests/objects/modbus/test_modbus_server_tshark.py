"""What ModbusTcpServer sends must dissect cleanly in Wireshark's mbtcp/modbus dissectors.

pymodbus's client records every frame it sends and receives (`trace_packet`); the harness of
the S7 test (tests/protocols/s7_harness.py) writes them as a pcap on port 502, and
`tshark -r` dissects it: every function, exception answers, FC 8 and FC 43/14 with "more
follows", and nothing malformed or flagged as a warning.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from pymodbus.client import ModbusTcpClient
from test_modbus_server_support import in_thread, loop, make_server  # noqa: F401

from incore.objects.modbus import ModbusRegister

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "protocols"))
from s7_harness import write_pcap  # noqa: E402


def tshark(pcap: str, display_filter: str, *fields: str) -> list[list[str]]:
    exe = shutil.which("tshark")
    assert exe, "tshark is required for this test (Debian package 'tshark')"
    args = [exe, "-r", pcap, "-Y", display_filter, "-T", "fields"]
    for field in fields or ("frame.number",):
        args += ["-e", field]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def session(port: int) -> list:
    records: list = []

    def trace(sending: bool, data: bytes) -> bytes:
        records.append((time.time(), sending, bytes(data)))
        return data

    c = ModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0, trace_packet=trace)
    assert c.connect()
    try:
        c.read_coils(0, count=20)
        c.read_discrete_inputs(0, count=9)
        c.read_holding_registers(0, count=10)
        c.read_input_registers(0, count=3)
        c.write_coil(3, True)
        c.write_register(1, 0x1234)
        c.write_coils(0, [True, False] * 5)
        c.write_registers(0, [1, 2, 3])
        c.mask_write_register(address=1, and_mask=0xF0F0, or_mask=0x0101)
        c.readwrite_registers(read_address=0, read_count=4, write_address=5, values=[9, 9])
        c.diag_read_bus_message_count()
        c.diag_query_data(0x1234)
        c.read_device_information(read_code=3)
        c.read_device_information(read_code=4, object_id=0x81)
        c.read_holding_registers(60000, count=10)  # exception 02
        c.read_device_information(read_code=4, object_id=0x99)  # exception 02
        c.read_holding_registers(0, count=1, device_id=9)  # exception 0B
    finally:
        c.close()
    return records


def test_tshark_finds_nothing_malformed_in_our_answers(loop, tmp_path) -> None:
    server = make_server(
        holdingRegisterCount=1000,
        address=1,
        deviceObjects={0x80: "a" * 200, 0x81: "b" * 100},
        objects=[ModbusRegister(dataType="Float", address=2, data=1.5)],
    )
    records = in_thread(loop, lambda: session(server.networkPort))
    pcap = str(tmp_path / "modbus.pcap")
    write_pcap(pcap, [records], server_port=502)
    answers = tshark(pcap, "mbtcp && tcp.srcport == 502", "modbus.func_code")
    assert len(answers) == 17, answers
    assert tshark(pcap, "_ws.malformed || _ws.expert.severity >= warning") == []
    codes = tshark(pcap, "modbus.exception_code", "modbus.exception_code")
    assert sorted(row[0] for row in codes) == ["11", "2", "2"]
    more = tshark(pcap, "modbus.mei && tcp.srcport == 502", "modbus.more_follows")
    assert more and more[0][0] in ("255", "0xff", "0x000000ff", "1")
    # the check can fail: the same capture with one answer cut short is flagged
    cut = list(records)
    at = next(i for i, (_, sent, data) in enumerate(cut) if not sent and data[7:8] == b"\x03")
    stamp, sent, data = cut[at]
    cut[at] = (stamp, sent, data[:4] + b"\x00\x02" + data[6:8])
    bad = str(tmp_path / "cut.pcap")
    write_pcap(bad, [cut], server_port=502)
    assert len(tshark(bad, "_ws.malformed || _ws.expert.severity >= warning")) == 1
