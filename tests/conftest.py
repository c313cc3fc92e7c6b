"""What every test shares: tests/support on the import path (import its modules by name),
and the objects' owner put back after each test.

The owner (incore.core.engine: the thread whose writes apply at once, and where other
threads post theirs) is process-wide. A test that ends while another thread owns the
objects, for instance a server it left running that lent itself the loop, would otherwise
hand every later test an owner that is no thread of theirs: their writes would be posted to
a loop nobody runs.
"""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from incore.core import engine

_SUPPORT = str(Path(__file__).parent / "support")
if _SUPPORT not in sys.path:
    sys.path.insert(0, _SUPPORT)


@pytest.fixture(autouse=True)
def _owner_put_back() -> Iterator[None]:
    before = (engine.state.owner, engine.state.post)
    yield
    engine.set_owner(*before)
