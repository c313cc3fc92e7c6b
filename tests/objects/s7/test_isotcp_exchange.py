"""IsoLink.exchange takes a reply that is one whole frame as it is, and anything else
through the session: DT fragments, several frames in one chunk, a reply in pieces.

The peer is a raw socket thread speaking ISO-on-TCP through our server session, so each
test chooses exactly which bytes go out in which send().
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from incore.objects.s7.client_link import IsoLink, S7TimeoutError
from incore.protocols.isotcp import IsoClientSession, IsoData, IsoServerSession
from incore.protocols.isotcp.cotp import DataTransfer
from incore.protocols.isotcp.tpkt import encode_tpkt
from incore.transport.tcp_client import BlockingStream, open_connection

WAIT = 5.0
Reply = Callable[[bytes], list[bytes]]  # request PDU -> the chunks to send, one send() each


def dt(pdu: bytes, eot: bool = True) -> bytes:
    return encode_tpkt(DataTransfer(pdu, eot=eot).encode())


class RawPeer:
    """Accepts one connection, confirms it, then answers each request PDU with `reply`."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = IsoServerSession()
            while data := conn.recv(4096):
                for event in session.receive_data(data):
                    if isinstance(event, IsoData):
                        for chunk in self.reply(event.payload):
                            conn.sendall(chunk)
                out = session.data_to_send()  # the CC
                if out:
                    conn.sendall(out)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(WAIT)


@pytest.fixture
def link_to() -> Iterator[Callable[[Reply], IsoLink]]:
    made: list[tuple[IsoLink, RawPeer]] = []

    def make(reply: Reply) -> IsoLink:
        peer = RawPeer(reply)
        link = IsoLink(
            BlockingStream(open_connection("127.0.0.1", peer.port, WAIT), WAIT),
            IsoClientSession(),
            timeout=1.0,
        )
        link.handshake()
        made.append((link, peer))
        return link

    yield make
    for link, peer in made:
        link.stream.close()
        peer.close()


def test_a_reply_in_one_frame(link_to) -> None:
    link = link_to(lambda pdu: [dt(b"re:" + pdu)])
    assert link.exchange(b"one") == b"re:one"
    assert link.exchange(b"two") == b"re:two"


def test_a_reply_in_dt_fragments_sent_at_once(link_to) -> None:
    link = link_to(lambda pdu: [dt(b"first half, ", eot=False) + dt(b"second half of " + pdu)])
    assert link.exchange(b"x") == b"first half, second half of x"
    assert link.exchange(b"y") == b"first half, second half of y"  # and the session is clean


def test_a_reply_in_dt_fragments_sent_apart(link_to) -> None:
    link = link_to(lambda pdu: [dt(b"a", eot=False), dt(b"b", eot=False), dt(pdu)])
    assert link.exchange(b"c") == b"abc"


def test_a_frame_cut_in_pieces(link_to) -> None:
    def pieces(pdu: bytes) -> list[bytes]:
        frame = dt(b"whole " + pdu)
        return [frame[:3], frame[3:9], frame[9:]]

    link = link_to(pieces)
    for word in (b"p", b"q"):
        assert link.exchange(word) == b"whole " + word


def test_a_stale_frame_ahead_of_the_reply_is_returned_first(link_to) -> None:
    """Two frames in one chunk: the first one is what arrived first (the S7 engine then
    checks its PDU reference); nothing is lost or mixed up."""
    link = link_to(lambda pdu: [dt(b"stale") + dt(b"re:" + pdu)])
    assert link.exchange(b"1") == b"stale"
    assert link.receive_pdu() == b"re:1"


def test_no_reply_times_out_within_the_link_timeout(link_to) -> None:
    link = link_to(lambda pdu: [dt(b"partial", eot=False)])  # never finished
    with pytest.raises(S7TimeoutError):
        link.exchange(b"?")
