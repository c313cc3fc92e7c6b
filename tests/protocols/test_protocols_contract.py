"""The sans-IO contract (incore/protocols/contract.py): every engine has its shape, a Stack
makes TPKT/COTP + S7 one stream engine, and a loop that knows only the contract serves a
real python-snap7 client over a loopback socket."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import snap7

from incore.protocols.contract import Exchange, Framing, PduEngine, StreamEngine, Untimed, run
from incore.protocols.errors import PduError, ProtocolError
from incore.protocols.isotcp import (
    DisconnectConfirm,
    IsoClientSession,
    IsoConnected,
    IsoData,
    IsoDisconnected,
    IsoServerSession,
    decode_tpdu,
)
from incore.protocols.s7 import (
    Area,
    Event,
    MemoryAreaStore,
    S7ClientProtocol,
    S7ServerProtocol,
    TransportSize,
)
from incore.protocols.stack import Stack

H = bytes.fromhex


def _store() -> MemoryAreaStore:
    store = MemoryAreaStore()
    store.register(Area.DB, 1, bytearray(range(64)))
    store.register(Area.MK, 0, 16)
    return store


def _connected(stack: Stack) -> IsoClientSession:
    client = IsoClientSession()
    client.connect()
    assert [type(e) for e in stack.receive_data(client.data_to_send())] == [IsoConnected]
    assert [type(e) for e in client.receive_data(stack.data_to_send())] == [IsoConnected]
    return client


def test_every_engine_has_the_contract_shape():
    client = S7ClientProtocol()
    client.pdu_size = 480
    engine = S7ServerProtocol(_store())
    for framing in (IsoServerSession(), IsoClientSession()):
        assert isinstance(framing, Framing) and isinstance(framing, StreamEngine)
        assert not framing.can_send  # not connected yet
    assert isinstance(engine, PduEngine) and not isinstance(engine, StreamEngine)
    assert isinstance(Stack(IsoServerSession(), engine), StreamEngine)
    for operation in (
        client.read_area(Area.DB, 1, 0, 4),
        client.read_area(Area.DB, 1, 0, 4, TransportSize.WORD),
        client.setup_communication(),
    ):
        assert isinstance(operation, Exchange) and operation.request and not operation.done
    for untimed in (
        IsoServerSession(),
        IsoClientSession(),
        engine,
        Stack(IsoServerSession(), engine),
    ):
        assert untimed.next_deadline() is None
        assert untimed.handle_timer(1e9) == []


def test_receive_pdu_queues_the_reply_and_returns_the_events_on_event_also_gets():
    pushed: list = []
    engine = S7ServerProtocol(_store(), on_event=pushed.append)
    events = engine.receive_pdu(S7ClientProtocol().setup_communication().request)
    assert events == pushed == [(Event.NegotiatePDU, 0, 480, 0, 0, 0)]
    [reply] = engine.pdus_to_send()
    assert reply[:2] == H("32 03") and engine.pdus_to_send() == []
    with pytest.raises(PduError):
        engine.receive_pdu(H("32 03 00 00 00 01 00 00 00 00 00 00"))  # a reply is not a request
    assert engine.pdus_to_send() == []
    assert pushed[-1][0] == Event.PDUincoming  # the refusal is an event too, pushed at once


def test_a_stack_serves_an_s7_client_in_process():
    store = _store()
    stack = Stack(IsoServerSession(), S7ServerProtocol(store))
    iso = _connected(stack)
    seen: list = []

    def transfer(request: bytes) -> bytes:
        iso.send_pdu(request)
        seen.extend(stack.receive_data(iso.data_to_send(), 12.5))
        [reply] = iso.receive_data(stack.data_to_send())
        assert isinstance(reply, IsoData)
        return reply.payload

    client = S7ClientProtocol()
    assert run(client.setup_communication(), transfer) == 480
    run(client.write_area(Area.MK, 0, 2, b"\xab\xcd"), transfer)
    assert run(client.read_area(Area.MK, 0, 1, 4), transfer) == H("00 AB CD 00")
    assert store.areas[(Area.MK, 0)][2:4] == H("AB CD")
    assert seen == [
        (Event.NegotiatePDU, 0, 480, 0, 0, 0),
        (Event.DataWrite, 0, Area.MK, 0, 2, 2),
        (Event.DataRead, 0, Area.MK, 0, 1, 4),
    ]
    iso.disconnect()
    assert stack.receive_data(iso.data_to_send()) == [IsoDisconnected(0)]
    assert not stack.framing.can_send


def test_a_request_and_the_release_in_one_chunk_is_handled_and_not_answered():
    store = _store()
    stack = Stack(IsoServerSession(), S7ServerProtocol(store))
    iso = _connected(stack)
    client = S7ClientProtocol()
    client.pdu_size = 480
    iso.send_pdu(client.write_area(Area.MK, 0, 0, b"\x07").request)
    iso.disconnect()
    events = stack.receive_data(iso.data_to_send())
    assert events == [(Event.DataWrite, 0, Area.MK, 0, 0, 1), IsoDisconnected(0)]
    assert store.areas[(Area.MK, 0)][0] == 7
    out = stack.data_to_send()  # the DC, and nothing before it
    assert len(out) == out[3] and isinstance(decode_tpdu(out[4:]), DisconnectConfirm)


class Heartbeat(Untimed):
    """A test PDU engine with one timer: ``b"beat"`` after ``period`` seconds of silence.

    Not a stand-in for a protocol: it is the smallest engine with a deadline, to show how
    one passes through a Stack.
    """

    def __init__(self, period: float) -> None:
        self.period = period
        self.due: float | None = None
        self.outbox: list[bytes] = []

    def receive_pdu(self, pdu: bytes, now: float | None = None) -> list[bytes]:
        if now is not None:
            self.due = now + self.period
        return [pdu]

    def pdus_to_send(self) -> list[bytes]:
        out, self.outbox = self.outbox, []
        return out

    def next_deadline(self) -> float | None:
        return self.due

    def handle_timer(self, now: float) -> list[bytes]:
        if self.due is None or now < self.due:
            return []
        self.due = now + self.period
        self.outbox.append(b"beat")
        return [b"timer"]


def test_a_stack_takes_its_upper_layers_deadline_and_frames_what_its_timer_sends():
    stack = Stack(IsoServerSession(), Heartbeat(10.0))
    iso = _connected(stack)
    assert stack.next_deadline() is None
    iso.send_pdu(b"hello")
    assert stack.receive_data(iso.data_to_send(), 100.0) == [b"hello"]
    assert stack.next_deadline() == 110.0
    assert stack.handle_timer(109.0) == [] and stack.data_to_send() == b""
    assert stack.handle_timer(110.0) == [b"timer"]
    assert iso.receive_data(stack.data_to_send()) == [IsoData(b"beat")]
    assert stack.next_deadline() == 120.0


# -- a transport that knows nothing but the contract ---------------------------------------------
def drive(sock: socket.socket, engine: StreamEngine, seen: list) -> None:
    """Serve one connection: wait for bytes or the engine's deadline, feed it, send its bytes.

    This is all a transport has to do for any engine of the contract; it never looks at what
    the events mean (here it only records them).
    """
    try:
        while True:
            deadline = engine.next_deadline()
            sock.settimeout(None if deadline is None else max(deadline - time.monotonic(), 0.0))
            try:
                data = sock.recv(65536)
            except TimeoutError:
                seen.extend(engine.handle_timer(time.monotonic()))
            else:
                if not data:
                    return
                seen.extend(engine.receive_data(data, time.monotonic()))
            out = engine.data_to_send()
            if out:
                sock.sendall(out)
    except ProtocolError as exc:
        seen.append(exc)
    except ConnectionResetError:  # a peer that closes with our last bytes unread resets
        pass
    finally:
        sock.close()


def test_a_loop_that_knows_only_the_contract_serves_python_snap7():
    store = _store()
    seen: list = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        listener.settimeout(10)

        def serve() -> None:
            conn, _ = listener.accept()
            drive(conn, Stack(IsoServerSession(), S7ServerProtocol(store)), seen)

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        client = snap7.client.Client()
        client.connect("127.0.0.1", 0, 2, port)
        try:
            client.db_write(1, 4, bytearray(b"\x10\x20"))
            assert client.db_read(1, 2, 4) == bytearray(b"\x02\x03\x10\x20")
            assert client.get_cpu_info().ModuleName  # SZL 0x001C over Userdata
        finally:
            client.disconnect()
        server.join(timeout=10)
    assert not server.is_alive()
    assert isinstance(seen[0], IsoConnected)
    assert (Event.DataWrite, 0, Area.DB, 1, 4, 2) in seen and (
        Event.DataRead,
        0,
        Area.DB,
        1,
        2,
        4,
    ) in seen
    assert not [e for e in seen if isinstance(e, Exception)]
