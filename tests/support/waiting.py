"""Waiting for what announces nothing: a peer library's state (c104 offers no event), a
server's internal flag, a process that starts to listen. Tests wait on events where there
are any; for the rest, this is the one bounded poll.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def until(condition: Callable[[], object], timeout: float, step: float = 0.01) -> bool:
    """Poll `condition` every `step` seconds until it is true (True) or `timeout` passed
    (its last answer)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return bool(condition())
        time.sleep(step)
    return True


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on host:port now (the connection is closed)."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True
