"""A station session's answers from the loop: sent from the loop's thread with a send that
never waits, the rest left to the connection's worker, nothing lost or out of order."""

from __future__ import annotations

import socket
import time

import pytest

from incore.core import EventLoop, set_loop
from incore.objects.iec104 import IEC104Point, IEC104Server, IEC104Station
from incore.objects.iec104.server_session import StationSession
from incore.protocols.iec104 import (
    ApciDecoder,
    Asdu,
    Cause,
    SingleCommand,
    TypeId,
    UFunction,
    decode_asdu,
    encode_asdu,
    mirror_bytes,
    u_frame,
)
from incore.transport.server.connection import Connection


@pytest.fixture
def session():
    loop = EventLoop()
    set_loop(loop)
    server = IEC104Server(ip="127.0.0.1", port=0, autoStart=False)
    station = IEC104Station(server, commonAddress=1)
    IEC104Point(station, ioa=100, type="C_SC_NA_1")
    server.complete()
    ours, peer = socket.socketpair()
    conn = Connection(ours, ("127.0.0.1", 2404), 1)
    sess = StationSession(server._core, conn)
    sess.data_received(u_frame(UFunction.STARTDT_ACT))
    yield sess, peer
    conn.close()
    peer.close()
    server.shutdown()
    set_loop(None)


def _read(peer: socket.socket, size: int | None = None) -> bytes:
    """What the peer can read now (`size`: exactly that many bytes, waiting for them)."""
    if size is not None:
        peer.settimeout(5)
        data = b""
        while len(data) < size:
            data += peer.recv(size - len(data))
        return data
    peer.setblocking(False)
    data = b""
    try:
        while chunk := peer.recv(65536):
            data += chunk
    except BlockingIOError:
        pass
    return data


def test_a_reply_the_socket_cannot_take_at_once_is_sent_whole_and_in_order_later(session):
    """The loop's send never waits: with the socket full, the actcons stay in `_unsent`
    (the loop returns at once), and the worker sends them whole and in order once the peer
    reads again."""
    sess, peer = session
    _read(peer)  # STARTDT con
    filler = 0
    sock = sess.conn._sock
    try:  # fill the socket as a client that stopped reading would
        while True:
            filler += sock.send(b"\0" * 65536, socket.MSG_DONTWAIT)
    except BlockingIOError:
        pass
    act = encode_asdu(Asdu(TypeId.C_SC_NA_1, Cause.ACTIVATION, 1, (SingleCommand(100, True),)))
    started = time.monotonic()
    for _ in range(3):
        sess.reply(mirror_bytes(act, Cause.ACTIVATION_CON))  # as the loop replies
    assert time.monotonic() - started < 0.5  # the loop did not wait for the peer
    assert sess._unsent and sess.deadline() == 0.0  # the worker is due to send the rest
    assert _read(peer, filler) == b"\0" * filler  # the peer reads again
    sess.timer_expired(time.monotonic())  # the worker's turn
    frames = ApciDecoder().feed(_read(peer))
    assert [f.ns for f in frames] == [0, 1, 2]
    assert all(decode_asdu(f.asdu).cause == Cause.ACTIVATION_CON for f in frames)
    assert not sess._unsent and not sess.buffer.pending
