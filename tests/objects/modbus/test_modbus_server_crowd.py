"""ModbusTcpServer under a crowd: a thousand clients each asking at once, answered by a
bounded number of threads (raw sockets driven by one selector, tests/peers/crowd.py)."""

from __future__ import annotations

import struct
import threading

from test_modbus_server_support import WAIT, crowd, in_thread, loop, make_server  # noqa: F401

from incore.objects.modbus import ModbusRegister

CLIENTS = 1000


def mbap_length(buf: bytes) -> int | None:
    return 6 + (buf[4] << 8 | buf[5]) if len(buf) >= 6 else None


def test_a_thousand_connections_each_answered_with_bounded_threads_and_fds(loop) -> None:
    crowd.raise_fd_limit(4 * CLIENTS)
    threads_before = threading.active_count()
    reg = ModbusRegister(address=0, count=4, data=[1, 2, 3, 4])
    server = make_server(objects=[reg])
    address = ("127.0.0.1", server.networkPort)
    socks = in_thread(loop, lambda: crowd.burst_connect(address, CLIENTS, WAIT), 2 * WAIT)
    try:
        for _round in range(2):  # the second round finds every connection parked
            requests = [
                struct.pack(">HHHBBHH", i, 0, 6, 1, 3, 0, 4)
                if i % 2
                else struct.pack(">HHHBBHH", i, 0, 6, 1, 6, 4, i)  # odd ones read, even ones write
                for i in range(CLIENTS)
            ]
            replies = in_thread(
                loop, lambda r=requests: crowd.exchange_all(socks, r, mbap_length, WAIT), 2 * WAIT
            )
            for i, reply in enumerate(replies):
                if i % 2:
                    assert reply == struct.pack(">HHHBBB4H", i, 0, 11, 1, 3, 8, 1, 2, 3, 4)
                else:
                    assert reply == requests[i]  # a write is echoed
            assert loop.run_until(lambda: server.connectionCount == CLIENTS, WAIT)
            threads = threading.active_count() - threads_before
            assert threads <= 1 + 64, threads  # the hub and at most max_workers
        fds = crowd.open_fds()
        assert fds < 2 * CLIENTS + 100
        print(f"\n{CLIENTS} Modbus connections: {threads} server threads, {fds} descriptors")
        assert reg.data == [1, 2, 3, 4]  # writes went to register 4, which nothing maps
    finally:
        crowd.close_all(socks)
    assert loop.run_until(lambda: server.connectionCount == 0, WAIT)
