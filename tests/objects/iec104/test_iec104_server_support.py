"""Shared fixtures and helpers of the IEC104Server tests (no tests here).

The server runs under a real event loop driven by the test's thread (`loop.run_until`).
Its peers are real sockets on 127.0.0.1: `RawMaster`, a controlling station written with
our APCI codec frame by frame (so a test decides when to acknowledge and sees every frame
the server sent, in order), and c104 2.2.1's Client where the test is about interop.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import incore  # noqa: E402,F401  (registers every type)
from incore.core import EventLoop, set_loop  # noqa: E402
from incore.objects.iec104 import IEC104Point, IEC104Server, IEC104Station  # noqa: E402
from incore.protocols.iec104 import (  # noqa: E402
    ApciDecoder,
    Asdu,
    IFrame,
    SFrame,
    UFrame,
    UFunction,
    UnknownTypeError,
    decode_asdu,
    encode_asdu,
    i_frame,
    s_frame,
    u_frame,
)

#: Upper bound of every wait; waits end as soon as their condition holds.
WAIT = 10.0

_made: list[IEC104Server] = []


@pytest.fixture
def loop() -> Iterator[EventLoop]:
    """A fresh loop; every server a test made is shut down after it."""
    lp = EventLoop()
    set_loop(lp)
    yield lp
    while _made:
        _made.pop().shutdown()
    set_loop(None)


#: The points of `make_server`'s station 1: (ioa, type, data, extra properties).
POINTS = [
    (100, "M_SP_NA_1", True, {"groups": [1]}),
    (101, "M_DP_TB_1", 2, {"groups": [1, 2]}),
    (102, "M_ST_NA_1", -5, {}),
    (103, "M_BO_NA_1", 0xDEADBEEF, {}),
    (200, "M_ME_NA_1", 0.5, {"groups": [2]}),
    (201, "M_ME_NB_1", -1234, {}),
    (202, "M_ME_NC_1", 23.5, {}),
    (203, "M_ME_TF_1", 1.25, {}),
    (300, "M_IT_NA_1", 1000, {"groups": [1]}),
    (301, "M_IT_TB_1", 2000, {}),
    (500, "C_SC_NA_1", False, {}),
    (501, "C_DC_NA_1", 1, {}),
    (502, "C_RC_NA_1", None, {}),
    (503, "C_SE_NC_1", 0.0, {}),
    (504, "C_SE_NB_1", 0, {"commandMode": "SelectAndExecute"}),
    (505, "C_SC_NA_1", False, {"relatedIoa": 100}),
]


def make_server(points: list | None = None, ca: int = 1, **props: Any) -> IEC104Server:
    """A completed server on a free port of 127.0.0.1 with one station `ca` and `points`
    (default POINTS); its points are reachable as `server.point[ioa]`."""
    props.setdefault("ip", "127.0.0.1")
    props.setdefault("port", 0)
    server = IEC104Server(**props)
    station = IEC104Station(commonAddress=ca)
    server.appendChild(station)
    for ioa, kind, data, extra in POINTS if points is None else points:
        station.appendChild(IEC104Point(ioa=ioa, type=kind, data=data, **extra))
    _made.append(server)
    server.complete()
    if server.autoStart:
        assert server.isRunning, server.errorString
    return server


def point(server: IEC104Server, ioa: int, ca: int = 1) -> IEC104Point:
    return server.getStation(ca).getPoint(ioa)


def read_asdu(payload: bytes) -> Asdu:
    """The ASDU, or for a type our codec does not know, its header with no objects."""
    try:
        return decode_asdu(payload)
    except UnknownTypeError:
        cot = payload[2]
        ca = payload[4] | payload[5] << 8
        return Asdu(payload[0], cot & 0x3F, ca, (), payload[3], bool(cot & 0x40), bool(cot & 0x80))


class RawMaster:
    """A controlling station over a real socket, frame by frame: a reader thread records
    every frame (and the ASDUs decoded); `auto_ack` acknowledges each I-frame at once."""

    def __init__(self, port: int, auto_ack: bool = True) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.auto_ack = auto_ack
        self.frames: list[Any] = []
        self.asdus: list[Asdu] = []
        self.closed = threading.Event()
        self.vs = 0
        self.vr = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        decoder = ApciDecoder()
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                for frame in decoder.feed(data):
                    if isinstance(frame, IFrame):
                        with self._lock:
                            self.vr = (self.vr + 1) % 32768
                            if self.auto_ack:
                                self.sock.sendall(s_frame(self.vr))
                        self.asdus.append(read_asdu(frame.asdu))
                    self.frames.append(frame)
                    with self._arrived:
                        self._arrived.notify_all()
        except OSError:
            pass
        finally:
            self.closed.set()

    def wait_until(self, condition: Callable[[], Any], timeout: float = WAIT) -> bool:
        """Wait for frames until `condition()` holds, without running any loop."""
        with self._arrived:
            return self._arrived.wait_for(lambda: bool(condition()), timeout)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def startdt(self) -> None:
        self.send_raw(u_frame(UFunction.STARTDT_ACT))

    def stopdt(self) -> None:
        self.send_raw(u_frame(UFunction.STOPDT_ACT))

    def ack(self) -> None:
        with self._lock:
            self.sock.sendall(s_frame(self.vr))

    def send(self, asdu: Asdu | bytes) -> None:
        """One I-frame carrying `asdu` (an Asdu, or ASDU bytes as they are)."""
        payload = asdu if isinstance(asdu, bytes) else encode_asdu(asdu)
        with self._lock:
            self.sock.sendall(i_frame(self.vs, self.vr, payload))
            self.vs = (self.vs + 1) % 32768

    def started(self) -> bool:
        return UFrame(UFunction.STARTDT_CON) in self.frames

    def acked(self) -> int:
        """The highest N(R) the server sent in an S-frame."""
        return max((f.nr for f in self.frames if isinstance(f, SFrame)), default=0)

    def find(
        self, type_id: int | None, cause: int | None = None, negative: bool | None = None
    ) -> list:
        """The ASDUs received of `type_id` (None: any), `cause` and P/N, in order."""
        return [
            a
            for a in list(self.asdus)
            if (type_id is None or a.type_id == type_id)
            and (cause is None or a.cause == cause)
            and (negative is None or a.negative == negative)
        ]

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._reader.join(WAIT)


def connect(loop: EventLoop, server: IEC104Server, start: bool = True, **kw: Any) -> RawMaster:
    """A RawMaster connected to `server` (and with data transfer on, if `start`)."""
    master = RawMaster(server.port, **kw)
    _masters.append(master)
    if start:
        master.startdt()
        assert loop.run_until(master.started, WAIT), master.frames
        assert loop.run_until(lambda: server.activeConnectionCount >= 1, WAIT)
    return master


_masters: list[RawMaster] = []


@pytest.fixture(autouse=True)
def _close_masters() -> Iterator[None]:
    yield
    while _masters:
        _masters.pop().close()


def wait(loop: EventLoop, condition: Callable[[], Any], timeout: float = WAIT) -> None:
    assert loop.run_until(lambda: bool(condition()), timeout), "condition not met in time"
