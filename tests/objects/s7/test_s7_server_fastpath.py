"""The server's fast path for single-item byte reads answers exactly as the S7 engine does.

One S7Connection over a real socket pair: for every generated read frame, the reply bytes
and the event of `fast_read` must equal what the general way (ISO session + S7 engine)
sends for the same frame, whenever the fast path takes the frame at all.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incore.objects.s7.server_connection import S7Connection, ServerCore
from incore.objects.s7.server_fastpath import fast_read, whole_frames
from incore.transport.tcp_server import Connection

CR = bytes.fromhex("0300001611e00000000100c0010ac1020100c2020102")
SETUP = bytes.fromhex("0300001902f08032010000000000080000f0000001000101e0")  # PDU 480


class Recorder:
    """Stands in for the loop inbox: keeps what the connection reports."""

    def __init__(self) -> None:
        self.events: list = []

    def event(self, ev) -> None:
        self.events.append(tuple(ev)[1:])  # all but the time

    def changed(self, *args) -> None:
        pass

    def status(self) -> None:
        pass


class Rig:
    def __init__(self) -> None:
        self.core = ServerCore(lambda *a: None, lambda job: None, lambda: True)
        self.core.inbox = Recorder()
        memory = self.core.memory
        memory.add(0x84, 1, bytes(i & 0xFF for i in range(600)))
        memory.add(0x83, 0, bytes(range(256)) * 2)
        memory.add(0x1D, 0, bytes(64))
        self.ours, self.peer = socket.socketpair()
        self.peer.settimeout(5)
        self.handler = S7Connection(self.core, Connection(self.ours, ("127.0.0.1", 1), 1))
        self.handler.data_received(CR)
        self.receive()
        self.handler.data_received(SETUP)
        self.receive()
        self.core.inbox.events.clear()

    def receive(self) -> bytes:
        head = self.peer.recv(4, socket.MSG_WAITALL)
        length = struct.unpack(">H", head[2:4])[0]
        return head + self.peer.recv(length - 4, socket.MSG_WAITALL)

    def general(self, frame: bytes) -> tuple[bytes, list]:
        self.handler._general(frame)
        return self.receive(), self.take_events()

    def take_events(self) -> list:
        events, self.core.inbox.events = self.core.inbox.events, []
        return events

    def close(self) -> None:
        self.ours.close()
        self.peer.close()


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    r = Rig()
    yield r
    r.close()


def read_frame(ref: int, ts: int, count: int, db: int, area: int, address: int) -> bytes:
    item = struct.pack(">BBBBHHB", 0x12, 0x0A, 0x10, ts, count, db, area) + address.to_bytes(
        3, "big"
    )
    s7 = struct.pack(">BBHHHH", 0x32, 0x01, 0, ref, 14, 0) + b"\x04\x01" + item
    return struct.pack(">BBH", 3, 0, 7 + len(s7)) + b"\x02\xf0\x80" + s7


refs = st.integers(0, 0xFFFF)
#: Reads a client sends (most of them fit and take the fast path) ...
plausible = st.builds(
    read_frame,
    refs,
    st.just(0x02),
    st.integers(1, 470),
    st.sampled_from([1, 1, 2]),
    st.sampled_from([0x84, 0x83]),
    st.integers(0, 520).map(lambda b: b * 8),
)
#: ... and reads no client should send.
odd = st.builds(
    read_frame,
    refs,
    st.sampled_from([0x02, 0x01, 0x04, 0x1D, 0x00]),
    st.integers(0, 1000),
    st.integers(0, 3),
    st.sampled_from([0x84, 0x83, 0x81, 0x1D, 0x85, 0x00]),
    st.integers(0, 0xFFFFFF),
)
frames = st.one_of(plausible, odd)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=frames, flips=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 255)), max_size=2))
def test_fast_path_replies_and_events_equal_the_engines(rig, frame, flips):
    data = bytearray(frame)
    for pos, value in flips:
        data[pos] = value
    data = bytes(data)
    fast = fast_read(rig.handler, data)
    fast_events = rig.take_events()
    if fast is None:
        assert fast_events == []
        return
    assert whole_frames(data)
    assert (fast, fast_events) == rig.general(data)


def test_a_python_snap7_db_read_takes_the_fast_path(rig):
    frame = read_frame(0x0102, 0x02, 64, 1, 0x84, 10 * 8)
    reply = fast_read(rig.handler, frame)
    assert reply is not None and reply[-64:] == bytes(range(10, 74))
    assert rig.take_events() == [("127.0.0.1", 0x20000, 0, 0x84, 1, 10, 64)]
    assert fast_read(rig.handler, read_frame(1, 0x02, 4, 9, 0x84, 0)) is None  # missing DB
    assert fast_read(rig.handler, read_frame(1, 0x02, 500, 1, 0x84, 0)) is None  # over the PDU


def test_whole_frames_spots_split_frames_and_fragments():
    frame = read_frame(1, 0x02, 4, 1, 0x84, 0)
    assert whole_frames(frame + frame)
    assert not whole_frames(frame[:20])
    assert not whole_frames(frame[:6] + b"\x00" + frame[7:])  # DT without EOT: more follows
