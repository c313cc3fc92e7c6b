"""The python floor: a measuring stick for the S7 server benchmark, NOT a server.

It does the least work any Python server can do per request, so its CPU per request is the
floor under every S7 server written in Python on this machine: one thread per connection,
one recv() and one send() per request, and a canned reply. Whatever a real server spends
above it goes to parsing, checking, and looking up data; whatever the floor itself spends
is the interpreter's and the kernel's share, which no Python server can avoid.

What it answers, and all it answers:

- the COTP connection request, with a connection confirm that echoes its parameters;
- the S7 setup-communication job, with an ack-data carrying the request's PDU reference,
  max AmQ 1/1 and the requested PDU size capped at 480;
- every later frame, with the same 64-byte db_read ack-data (64 zero bytes), the
  request's PDU reference copied in. Nothing else in the request is looked at.

Each recv() is taken to be one whole request, which holds for a client that waits for
every reply (python-snap7's does) on loopback; a pipelining client would confuse it.
Only the stdlib; bench/s7.py runs it as `--serve floor PORT`.
"""

from __future__ import annotations

import socket
import sys
import threading

PDU_SIZE = 480  # the largest PDU the floor agrees to, as a small PLC's
S7_HEADER = 7  # offset of the S7 header in a frame: TPKT (4 bytes) + COTP DT (3 bytes)
PDU_REF = slice(S7_HEADER + 4, S7_HEADER + 6)  # bytes 11..12 of a frame

_DT = bytes.fromhex("02f080")  # COTP data TPDU, last data unit
# ack-data header (PDU reference 0 until copied in), read-var parameter (1 item), then the
# item: return code 0xff (success), transport size 4 (bits), 512 bits, 64 zero bytes
_READ_REPLY = (
    bytes.fromhex("03000059")
    + _DT
    + bytes.fromhex("320300000000000200440000")
    + bytes.fromhex("0401")
    + bytes.fromhex("ff040200")
    + bytes(64)
)


def _recv_frame(conn: socket.socket) -> bytes:
    """One whole TPKT frame (only for the two handshake frames), b"" at EOF."""
    frame = b""
    size = 4
    while len(frame) < size:
        chunk = conn.recv(size - len(frame))
        if not chunk:
            return b""
        frame += chunk
        if len(frame) == 4:
            size = int.from_bytes(frame[2:4], "big")
    return frame


def connection_confirm(request: bytes) -> bytes:
    """The COTP CC for a CR: the CR with its code, references swapped, same parameters."""
    # TPKT (4) | length, 0xE0, destination ref (2), source ref (2), class, parameters...
    return request[:5] + b"\xd0" + request[8:10] + b"\x00\x01" + request[10:]


def setup_ack(request: bytes) -> bytes:
    """The ack-data for a setup-communication job: its PDU reference, AmQ 1/1, PDU <= 480."""
    ref = request[PDU_REF]
    # the job's parameter follows its 10-byte header: 0xf0, 0, AmQ calling, AmQ called, PDU
    pdu = min(int.from_bytes(request[S7_HEADER + 16 : S7_HEADER + 18], "big"), PDU_SIZE)
    return (
        bytes.fromhex("0300001b")
        + _DT
        + b"\x32\x03\x00\x00"
        + ref
        + bytes.fromhex("000800000000f00000010001")
        + pdu.to_bytes(2, "big")
    )


def _serve_connection(conn: socket.socket) -> None:
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = _recv_frame(conn)
        if not request:
            return
        conn.sendall(connection_confirm(request))
        request = _recv_frame(conn)
        if not request:
            return
        conn.sendall(setup_ack(request))
        # the measured loop: all the per-request work there is
        recv, send = conn.recv, conn.sendall
        head, tail = _READ_REPLY[: PDU_REF.start], _READ_REPLY[PDU_REF.stop :]
        while True:
            frame = recv(4096)
            if not frame:
                return
            send(head + frame[PDU_REF] + tail)
    except OSError:
        return  # the client went away mid-exchange: nothing to report for a measuring stick
    finally:
        conn.close()


def serve(port: int) -> None:
    """Serve on 127.0.0.1:port, say "ready", and stop when stdin ends (or sends a line)."""
    listener = socket.create_server(("127.0.0.1", port))

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed below
            threading.Thread(target=_serve_connection, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.readline()
    listener.close()
