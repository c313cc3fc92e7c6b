"""A live ModbusTcpServer fed malformed MBAP headers and random PDUs, while a well-behaved
pymodbus client keeps getting right answers: a bad header drops only its own connection, a
bad PDU gets an exception answer (or none for a broadcast), never a crash."""

from __future__ import annotations

import random
import socket
import struct
import threading

from test_modbus_server_support import WAIT, client, in_thread, loop, make_server  # noqa: F401

from incore.objects.modbus import ModbusRegister

BAD_HEADERS = [
    struct.pack(">HHHB", 1, 1, 6, 1) + bytes.fromhex("0300000001"),  # protocol id 1
    struct.pack(">HHHB", 2, 0, 1, 1),  # length 1: no function code
    struct.pack(">HHHB", 3, 0, 300, 1) + bytes(299),  # longer than 260 bytes
    struct.pack(">HHHB", 4, 0, 0xFFFF, 1) + bytes(50),  # a length that disagrees
]


def closed_after(port: int, data: bytes) -> bool:
    """Send `data`; True if the server closes the connection without an answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(data)
        try:
            return sock.recv(512) == b""
        except ConnectionResetError:
            return True


def test_bad_headers_and_random_pdus_never_disturb_a_good_client(loop) -> None:
    reg = ModbusRegister(address=100, count=3, data=[7, 8, 9])
    server = make_server(objects=[reg])
    port = server.networkPort
    stop = threading.Event()
    wrong: list = []
    answered = [0]

    def good_client() -> None:
        c = client(server)
        try:
            while not stop.is_set():
                regs = c.read_holding_registers(100, count=3).registers
                if regs != [7, 8, 9]:
                    wrong.append(regs)
                answered[0] += 1
        finally:
            c.close()

    def attacker() -> list:
        rng = random.Random(10)
        results = [closed_after(port, header) for header in BAD_HEADERS]
        # a truncated frame is waited for; closing mid-frame is just a disconnect
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            sock.sendall(struct.pack(">HHHB", 5, 0, 6, 1) + b"\x03\x00")
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            for tid in range(300):
                pdu = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
                if pdu[0] in (5, 6, 15, 16, 22, 23):
                    pdu = bytes([pdu[0] | 0x40]) + pdu[1:]  # keep the good client's data intact
                sock.sendall(struct.pack(">HHHB", tid, 0, len(pdu) + 1, 1) + pdu)
                head = sock.recv(7, socket.MSG_WAITALL)
                body = sock.recv(head[5] - 1 + (head[4] << 8), socket.MSG_WAITALL)
                tid_back, proto = struct.unpack(">HH", head[:4])
                assert (tid_back, proto) == (tid, 0)
                assert body[0] in (pdu[0], pdu[0] | 0x80)
        return results

    thread = threading.Thread(target=good_client, daemon=True)
    thread.start()
    try:
        results = in_thread(loop, attacker, 3 * WAIT)
    finally:
        stop.set()
        thread.join(WAIT)
    assert results == [True] * len(BAD_HEADERS)
    assert wrong == [] and answered[0] > 10
    assert server.status == server.Running
    c = in_thread(loop, lambda: client(server))
    assert c.read_holding_registers(100, count=3).registers == [7, 8, 9]
    c.close()
