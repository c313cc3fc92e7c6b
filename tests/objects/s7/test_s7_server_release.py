"""A client that sends its last request and its release (COTP DR) in one segment: the request
is served (its event comes, the memory is written) and the client counts as disconnected,
not as a client that failed."""

from __future__ import annotations

import socket

from test_s7_server_support import WAIT, codes, loop, make_server  # noqa: F401  (fixture)

from incore.objects.s7 import S7Server
from incore.protocols.isotcp import IsoClientSession, IsoConnected
from incore.protocols.s7 import Area, Event, S7ClientProtocol


def _exchange(sock: socket.socket, session: IsoClientSession, pdu: bytes) -> None:
    session.send_pdu(pdu)
    sock.sendall(session.data_to_send())
    while not session.receive_data(sock.recv(4096)):
        pass


def test_a_request_and_the_release_in_one_segment(loop):
    server = make_server()
    events: list = []
    server.event.connect(events.append)
    session, protocol = IsoClientSession(), S7ClientProtocol()
    with socket.create_connection(("127.0.0.1", server.localPort), WAIT) as sock:
        sock.settimeout(WAIT)
        session.connect()
        sock.sendall(session.data_to_send())
        while not any(isinstance(e, IsoConnected) for e in session.receive_data(sock.recv(4096))):
            pass
        setup = protocol.setup_communication()
        session.send_pdu(setup.request)
        sock.sendall(session.data_to_send())
        while not (answers := session.receive_data(sock.recv(4096))):
            pass
        setup.feed(answers[0].payload)
        write = protocol.write_area(Area.DB, 2, 0, b"\x12\x34")
        session.send_pdu(write.request)
        session.disconnect()  # the DR right behind the request, in the same segment
        sock.sendall(session.data_to_send())
        assert loop.run_until(lambda: Event.ClientDisconnected in codes(events), WAIT), events
    assert Event.DataWrite in codes(events)
    assert Event.ClientException not in codes(events)
    assert bytes(server.getArea(S7Server.srvAreaDB, 2)[:2]) == b"\x12\x34"
