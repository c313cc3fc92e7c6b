"""Interoperability with pymodbus 3.16.1: its `ModbusTcpClient` against our server engine
(behind the contract's minimal socket loop, as `drive()` in test_protocols_contract.py), every
function code and the exceptions it can provoke; and our client engine against pymodbus's
`ModbusTcpServer` (its asyncio server on a loop of its own thread, stopped cleanly)."""

from __future__ import annotations

import asyncio
import socket
import threading
import warnings
from collections.abc import Iterator

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.pdu import ExceptionResponse
from pymodbus.pdu.bit_message import ReadDiscreteInputsRequest, WriteMultipleCoilsRequest
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadWriteMultipleRegistersRequest,
    WriteMultipleRegistersRequest,
)
from test_protocols_contract import drive

from incore.protocols.modbus import (
    MemoryStore,
    ModbusClientProtocol,
    ModbusReply,
    ModbusServerProtocol,
    Table,
)
from incore.protocols.modbus import pdu as P

H = bytes.fromhex
IDENTITY = {
    0: "incore",
    1: "IC-MB",
    2: "0.1",
    3: "https://example.invalid/incore",
    4: "incore Modbus TCP",
    5: "sans-IO",
    6: "tests",
    0x80: "v" * 200,
    0x81: "w" * 100,
}


class IncoreServer:
    """Our engine behind a listener on 127.0.0.1 port 0: one thread per connection, each
    running the contract's loop; `close` stops the listener and joins every thread."""

    def __init__(self, store: MemoryStore, **options) -> None:
        self.store = store
        self.options = options
        self.seen: list = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.closing = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.closing:  # the wake-up connection of `close`
                conn.close()
                return
            engine = ModbusServerProtocol(self.store, **self.options)
            thread = threading.Thread(target=drive, args=(conn, engine, self.seen), daemon=True)
            thread.start()
            self.threads.append(thread)

    def close(self) -> None:
        self.closing = True
        socket.create_connection(("127.0.0.1", self.port), timeout=5).close()  # wakes accept
        self.acceptor.join(5)
        assert not self.acceptor.is_alive()
        self.listener.close()
        for thread in self.threads:
            thread.join(5)
            assert not thread.is_alive()


@pytest.fixture
def server() -> Iterator[IncoreServer]:
    store = MemoryStore(
        coils=3000,
        discrete_inputs=3000,
        input_registers=300,
        holding_registers=300,
        lock=threading.RLock(),
    )
    for n in range(300):
        store.write_registers(Table.Input, n, (1000 + n).to_bytes(2, "big"))
    store.write_bits(Table.DiscreteInput, 0, 16, H("A55A"))
    running = IncoreServer(store, identity=IDENTITY)
    yield running
    running.close()
    refused = [e for e in running.seen if isinstance(e, Exception)]
    assert refused == [], "our server refused pymodbus's bytes"


@pytest.fixture
def client(server: IncoreServer) -> Iterator[ModbusTcpClient]:
    pm = ModbusTcpClient("127.0.0.1", port=server.port, timeout=5, retries=0)
    assert pm.connect()
    yield pm
    pm.close()


def exception_code(response) -> int:
    assert response.isError() and isinstance(response, ExceptionResponse), response
    return response.exception_code


def test_pymodbus_reads_and_writes_every_table(client, server):
    assert client.read_discrete_inputs(0, count=16).bits == [
        bool(0x5AA5 >> n & 1) for n in range(16)
    ]
    assert client.read_input_registers(10, count=3).registers == [1010, 1011, 1012]
    assert not client.write_coil(7, True).isError()
    assert not client.write_coils(100, [True, False, True] * 600).isError()  # 1800 coils
    assert client.read_coils(100, count=2000).bits[:1800] == [True, False, True] * 600
    assert client.read_coils(6, count=3).bits[:3] == [False, True, False]
    assert not client.write_register(5, 0xBEEF).isError()
    assert not client.write_registers(20, list(range(123))).isError()
    assert client.read_holding_registers(20, count=125).registers == list(range(123)) + [0, 0]
    assert client.read_holding_registers(5, count=1).registers == [0xBEEF]


def test_pymodbus_mask_write_and_read_write_registers(client, server):
    client.write_register(4, 0x0012)
    assert not client.mask_write_register(address=4, and_mask=0x00F2, or_mask=0x0025).isError()
    assert client.read_holding_registers(4, count=1).registers == [0x0017]
    answer = client.readwrite_registers(
        read_address=3, read_count=6, write_address=5, values=[7, 8, 9]
    )
    assert answer.registers == [0, 0x0017, 7, 8, 9, 0]  # written before the read
    answer = client.readwrite_registers(
        read_address=0, read_count=1, write_address=0, values=list(range(121))
    )
    assert answer.registers == [0]


def test_pymodbus_diagnostics_echo_and_counters(client):
    assert client.diag_query_data(b"\x12\x34").message == b"\x12\x34"
    assert not client.diag_clear_counters().isError()
    client.read_coils(0, count=1)
    assert client.diag_read_bus_message_count().message == 2
    assert exception_code(client.diag_restart_communication(False)) == 0x01
    assert exception_code(client.diag_read_bus_comm_error_count()) == 0x01


def test_pymodbus_reads_device_identification_streams_and_objects(client):
    basic = client.read_device_information(read_code=1)
    assert basic.information == {0: b"incore", 1: b"IC-MB", 2: b"0.1"}
    assert basic.conformity == 0x83 and not basic.more_follows
    regular = client.read_device_information(read_code=2, object_id=3)
    assert list(regular.information) == [3, 4, 5, 6]
    seen, next_id, answers = {}, 0, 0
    while True:  # the extended objects do not fit one answer
        part = client.read_device_information(read_code=3, object_id=next_id)
        seen.update(part.information)
        answers += 1
        if not part.more_follows:
            break
        next_id = part.next_object_id
    # 0..6 in one answer, 0x80 (200 bytes) alone, then 0x81
    assert seen == {key: value.encode() for key, value in IDENTITY.items()} and answers == 3
    assert client.read_device_information(read_code=4, object_id=0x81).information == {
        0x81: b"w" * 100
    }
    assert exception_code(client.read_device_information(read_code=4, object_id=0x42)) == 0x02


def unchecked(request):
    """A pymodbus request that skips pymodbus's own count check, to provoke exception 03."""
    request.verifyCount = lambda *args, **kwargs: None
    return request


def wide_write() -> ReadWriteMultipleRegistersRequest:
    """FC 23 announcing 122 registers to write (one more than allowed) in a frame that fits."""
    request = ReadWriteMultipleRegistersRequest(
        read_address=0, read_count=1, write_address=0, write_registers=[1], dev_id=1
    )
    request.write_count = 122
    return request


def test_pymodbus_gets_the_right_exceptions(client, server):
    assert exception_code(client.read_holding_registers(299, count=2)) == 0x02
    assert exception_code(client.read_input_registers(300, count=1)) == 0x02
    assert exception_code(client.read_coils(2999, count=2)) == 0x02
    assert exception_code(client.read_discrete_inputs(2999, count=2)) == 0x02
    assert exception_code(client.write_register(300, 1)) == 0x02
    assert exception_code(client.write_coil(3000, True)) == 0x02
    assert exception_code(client.write_coils(2990, [True] * 20)) == 0x02
    assert exception_code(client.write_registers(290, [1] * 11)) == 0x02
    assert exception_code(client.mask_write_register(address=300)) == 0x02
    answer = client.readwrite_registers(read_address=299, read_count=2, address=0, values=[1])
    assert exception_code(answer) == 0x02
    # quantities beyond the spec's limits: pymodbus checks most itself, so skip its check
    provoke = [
        ReadHoldingRegistersRequest(address=0, count=126, dev_id=1),
        ReadHoldingRegistersRequest(address=0, count=0, dev_id=1),
        ReadDiscreteInputsRequest(address=0, count=2001, dev_id=1),
        WriteMultipleCoilsRequest(address=0, bits=[True] * 1969, dev_id=1),
        WriteMultipleRegistersRequest(address=0, count=124, registers=[1], dev_id=1),
        ReadWriteMultipleRegistersRequest(
            read_address=0, read_count=126, write_address=0, write_registers=[1], dev_id=1
        ),
        wide_write(),
    ]
    for request in provoke:
        assert exception_code(client.execute(False, unchecked(request))) == 0x03, request
    assert client.read_holding_registers(0, count=1).registers == [0]  # still connected
    assert server.store.read_bits(Table.Coil, 0, 8) == b"\x00"  # nothing was written


def test_pymodbus_and_unit_ids(server):
    server.options["address"] = 5
    pm = ModbusTcpClient("127.0.0.1", port=server.port, timeout=5, retries=0)
    assert pm.connect()
    try:
        for unit in (5, 0, 255):
            assert pm.read_input_registers(0, count=1, device_id=unit).registers == [1000]
        assert exception_code(pm.read_input_registers(0, count=1, device_id=6)) == 0x0B
    finally:
        pm.close()


class PymodbusServer:
    """pymodbus's asyncio `ModbusTcpServer` on its own thread and loop, on port 0."""

    def __init__(self) -> None:
        from pymodbus.datastore import (
            ModbusDeviceContext,
            ModbusSequentialDataBlock,
            ModbusServerContext,
        )

        block = ModbusSequentialDataBlock  # its addresses start at 1 (0 on the wire)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            device = ModbusDeviceContext(
                co=block(1, [False] * 100),
                di=block(1, [n % 2 == 0 for n in range(100)]),
                hr=block(1, list(range(100))),
                ir=block(1, list(range(1000, 1100))),
            )
            self.context = ModbusServerContext(devices=device, single=True)
        self.identity = ModbusDeviceIdentification(
            info_name={"VendorName": "pymodbus", "ProductCode": "PM", "MajorMinorRevision": "3"}
        )
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),))
        self.thread.start()
        assert self.ready.wait(10), "pymodbus's server did not start"

    async def _run(self) -> None:
        from pymodbus.server import ModbusTcpServer

        self.stop = asyncio.Event()
        server = ModbusTcpServer(self.context, address=("127.0.0.1", 0), identity=self.identity)
        await server.listen()
        self.port = server.transport.sockets[0].getsockname()[1]
        self.ready.set()
        await self.stop.wait()
        await server.shutdown()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)
        assert not self.thread.is_alive()
        self.loop.close()


class Connection:
    """Our client engine on a blocking socket: send, then receive until the reply comes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.engine = ModbusClientProtocol(unit=1)

    def ask(self, request: P.Request) -> ModbusReply:
        tid = self.engine.send(request)
        self.sock.sendall(self.engine.data_to_send())
        while True:
            data = self.sock.recv(4096)
            assert data, "pymodbus closed the connection"
            for reply in self.engine.receive_data(data):
                assert reply.tid == tid
                return reply

    def result(self, request: P.Request) -> object:
        reply = self.ask(request)
        assert reply.error is None, reply.error
        return reply.result


@pytest.fixture(scope="module")
def pymodbus_server() -> Iterator[PymodbusServer]:
    running = PymodbusServer()
    yield running
    running.close()


def test_our_client_against_pymodbus_server(pymodbus_server):
    link = Connection(pymodbus_server.port)
    try:
        assert link.result(P.read_input_registers(0, 3)) == [1000, 1001, 1002]
        assert link.result(P.read_discrete_inputs(0, 4)) == [True, False, True, False]
        assert link.result(P.write_single_register(0, 77)) is None
        assert link.result(P.write_multiple_registers(10, [1, 2, 3])) is None
        assert link.result(P.read_holding_registers(9, 5)) == [9, 1, 2, 3, 13]
        assert link.result(P.mask_write_register(0, 0x00FF, 0x0100)) is None
        assert link.result(P.read_holding_registers(0, 1)) == [77 | 0x100]
        assert link.result(P.read_write_multiple_registers(1, 3, 2, [5, 6])) == [1, 5, 6]
        assert link.result(P.write_single_coil(3, True)) is None
        assert link.result(P.write_multiple_coils(0, [True, False, True])) is None
        assert link.result(P.read_coils(0, 5)) == [True, False, True, True, False]
        assert link.result(P.diagnostics(0, H("1234"))) == H("1234")
        ident = link.result(P.read_device_identification(1, 0))
        assert ident.objects == {0: b"pymodbus", 1: b"PM", 2: b"3"}
        refused = link.ask(P.read_holding_registers(99, 2))
        assert refused.error is not None and refused.error.code == 0x02
        assert link.result(P.read_holding_registers(0, 1)) == [77 | 0x100]  # still fine
    finally:
        link.sock.close()


def test_our_client_drops_a_stale_answer_from_pymodbus(pymodbus_server):
    link = Connection(pymodbus_server.port)
    try:
        tid = link.engine.send(P.read_input_registers(5, 1))
        link.sock.sendall(link.engine.data_to_send())
        link.engine.cancel(tid)  # as if it had timed out
        while not link.engine.stale:  # its answer comes late: dropped, not handed over
            assert link.engine.receive_data(link.sock.recv(4096)) == []
        assert link.result(P.read_input_registers(6, 1)) == [1006]  # not 1005
    finally:
        link.sock.close()
