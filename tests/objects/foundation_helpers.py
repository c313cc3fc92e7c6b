"""Shared fixtures of the foundation-type tests: a fresh event loop per test.

Imported by the test modules (not a conftest, so other tests in tests/objects are untouched).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from incore.core import EventLoop, set_loop

#: Upper bound for any wait in these tests; waits end as soon as their condition holds.
WAIT = 5.0


@pytest.fixture
def loop() -> Iterator[EventLoop]:
    """A new default loop (what objects schedule on), dropped after the test."""
    lp = EventLoop()
    set_loop(lp)
    yield lp
    set_loop(None)
