"""The client's one-request byte read against the general read it shortcuts.

`S7ClientProtocol.read_area` answers a byte read that fits one request with a small
operation of its own instead of the general generator. Both must send the same bytes and
come to the same result or the same error for any reply, which hypothesis checks here on
well-formed answers, PLC error answers and mutated garbage.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incore.protocols.errors import S7Error
from incore.protocols.s7 import Area, MemoryAreaStore, PlcState, S7ClientProtocol, S7ServerProtocol
from incore.protocols.s7.client import Operation, _ByteRead
from incore.protocols.s7.constants import TransportSize

BYTE_AREAS = [Area.PE, Area.PA, Area.MK, Area.DB]


def pair(pdu_size: int, ref: int) -> tuple[S7ClientProtocol, S7ClientProtocol]:
    """Two engines in the same state: the shortcut's and the general way's."""
    made = []
    for _ in range(2):
        protocol = S7ClientProtocol()
        protocol.pdu_size = pdu_size
        protocol._ref = ref
        made.append(protocol)
    return made[0], made[1]


def outcome(operation: Operation[bytes], reply: bytes) -> Any:
    try:
        assert operation.feed(reply) is None
    except S7Error as exc:
        return ("error", exc.code, str(exc))
    assert operation.done
    return ("data", operation.result)


def served(request: bytes, memory: dict[tuple[int, int], bytearray], pdu: int) -> bytes:
    """Our server engine's answer to ``request`` (real S7 answers, errors included)."""
    store = MemoryAreaStore()
    store.areas.update(memory)
    server = S7ServerProtocol(store, state=PlcState(), max_pdu=pdu)
    server.pdu_size = pdu
    return server.handle(request)


reads = st.tuples(
    st.sampled_from(BYTE_AREAS),
    st.integers(0, 3),
    st.integers(0, 600),
    st.integers(1, 1000),
    st.sampled_from([240, 480, 960]),
    st.integers(0, 0xFFFF),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    read=reads,
    mutation=st.one_of(
        st.none(),
        st.tuples(st.integers(0, 200), st.integers(0, 255)),
        st.integers(0, 200),
        st.binary(max_size=40),
    ),
)
def test_the_shortcut_sends_and_concludes_exactly_as_the_general_read(read, mutation) -> None:
    area, db, start, amount, pdu, ref = read
    fast, general = pair(pdu, ref)
    op = fast.read_area(area, db, start, amount)
    reference = Operation(general._read_area(area, db, start, amount, TransportSize.BYTE))
    assert isinstance(op, _ByteRead) == (amount <= pdu - 18)
    if not isinstance(op, _ByteRead):
        return  # the general way itself: nothing to compare
    assert op.request == reference.request
    memory = {
        (int(Area.DB), 1): bytearray(range(256)) * 3,
        (int(Area.MK), 0): bytearray(700),
        (int(Area.PE), 0): bytearray(b"\x5a" * 700),
    }
    reply = served(op.request, memory, pdu)
    if isinstance(mutation, tuple):  # flip one byte
        pos, value = mutation
        if pos < len(reply):
            reply = reply[:pos] + bytes((value,)) + reply[pos + 1 :]
    elif isinstance(mutation, int):  # cut short
        reply = reply[:mutation]
    elif isinstance(mutation, bytes):  # garbage
        reply = mutation
    assert outcome(op, reply) == outcome(reference, reply)


def test_bits_timers_and_oversized_reads_take_the_general_way() -> None:
    protocol = S7ClientProtocol()
    protocol.pdu_size = 480
    assert not isinstance(protocol.read_area(Area.DB, 1, 0, 1, TransportSize.BIT), _ByteRead)
    assert not isinstance(protocol.read_area(Area.TM, 0, 0, 2), _ByteRead)
    assert not isinstance(protocol.read_area(Area.DB, 1, 0, 4, TransportSize.REAL), _ByteRead)
    assert not isinstance(protocol.read_area(Area.DB, 1, 0, 463), _ByteRead)  # two requests
    assert isinstance(protocol.read_area(Area.DB, 1, 0, 462), _ByteRead)
    assert isinstance(protocol.read_area(Area.MK, 0, 10, 4, TransportSize.BYTE), _ByteRead)


def test_an_unnegotiated_connection_fails_the_same_way() -> None:
    fast, general = S7ClientProtocol(), S7ClientProtocol()
    errors = []
    for make in (
        lambda: fast.read_area(Area.DB, 1, 0, 4),
        lambda: Operation(general._read_area(Area.DB, 1, 0, 4, TransportSize.BYTE)),
    ):
        try:
            make()
        except S7Error as exc:
            errors.append((exc.code, str(exc)))
    assert len(errors) == 2 and errors[0] == errors[1]


def test_a_finished_read_refuses_a_second_reply() -> None:
    protocol = S7ClientProtocol()
    protocol.pdu_size = 480
    op = protocol.read_area(Area.DB, 1, 0, 4)
    reply = served(op.request, {(int(Area.DB), 1): bytearray(8)}, 480)
    assert op.feed(reply) is None and op.result == bytes(4)
    try:
        op.feed(reply)
    except S7Error as exc:
        assert "already finished" in str(exc)
    else:
        raise AssertionError("a second reply was taken")
