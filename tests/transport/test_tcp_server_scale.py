"""TcpServer with a thousand clients: a bounded thread count, every one answered.

The clients are raw sockets driven by one selector (tests/peers/crowd.py), so the burst of
connects reaches the listen queue at once, and the thread count measured is the server's.
"""

from __future__ import annotations

import threading

from crowd import burst_connect, close_all, exchange_all, fixed_length, open_fds, raise_fd_limit
from transport_helpers import WAIT, Echo

from incore.transport.tcp_server import TcpServer

CLIENTS = 1000
MAX_WORKERS = 16


def test_a_thousand_connections_are_all_answered_by_a_bounded_number_of_threads() -> None:
    raise_fd_limit(4 * CLIENTS)
    threads_before = threading.active_count()
    with TcpServer(
        Echo, host="127.0.0.1", name="crowd", workers=4, max_workers=MAX_WORKERS
    ) as server:
        socks = burst_connect(server.address, CLIENTS, WAIT)
        try:
            for round_ in range(2):  # the second round finds every connection parked
                requests = [f"request {round_}.{i:04d}".encode() for i in range(CLIENTS)]
                replies = exchange_all(socks, requests, fixed_length(len(requests[0])), WAIT)
                assert replies == requests
                assert server.connection_count == CLIENTS
                threads = threading.active_count() - threads_before
                assert threads <= 1 + MAX_WORKERS, [t.name for t in server.threads()]
            fds = open_fds()  # the clients' and the server's sockets, and little else
            assert fds < 2 * CLIENTS + 100
            print(
                f"\n{CLIENTS} connections: {threads} server threads "
                f"({len(server.threads())} now), {fds} descriptors open in the process"
            )
        finally:
            close_all(socks)
