"""Fixtures for the protocol tests: the socket harness and the Snap7 C peer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for extra in (_HERE, _HERE.parent / "peers"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from s7_harness import S7TestServer, fill_store  # noqa: E402
from snap7c import Snap7CPeer  # noqa: E402


@pytest.fixture
def s7_server():
    server = S7TestServer()
    fill_store(server)
    try:
        yield server
    finally:
        server.close()
    assert server.errors == [], "the server engine refused a peer's bytes"


@pytest.fixture(scope="module")
def snap7c():
    peer = Snap7CPeer()
    try:
        yield peer
    finally:
        peer.close()
