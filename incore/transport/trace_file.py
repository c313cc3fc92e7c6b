"""The capture file `incore.transport.trace` writes: synthetic Ethernet/IP/TCP around the bytes.

The tap sees payload, not packets, so each recorded send or receive becomes one TCP segment
(more when it is larger than an IP packet holds) with headers made up here: addresses and
ports from the connection, sequence and acknowledgement numbers from the byte counts of each
direction, so Wireshark reassembles frames that span several reads exactly as on the wire.
Checksums are right, so a reader that checks them finds nothing to flag.

Classic pcap is what every tool reads; pcapng (chosen by the file name, `.pcapng`) also
carries a comment on each connection's first packet, which is where a replaced port is said.
"""

from __future__ import annotations

import array
import ipaddress
import struct
import sys
from typing import BinaryIO

__all__ = [
    "ACK",
    "FIN",
    "MAX_SEGMENT",
    "PSH",
    "SYN",
    "CaptureWriter",
    "Endpoint",
    "endpoint",
    "segment",
]

SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10

#: Payload per synthetic segment: an IPv4 packet's 65,535 bytes less its headers, rounded down.
MAX_SEGMENT = 65_000

LINKTYPE_ETHERNET = 1
SNAPLEN = 262_144

_MAC_CLIENT = b"\x02\x00\x00\x00\x00\x01"
_MAC_SERVER = b"\x02\x00\x00\x00\x00\x02"
_ETH_IPV4 = b"\x08\x00"
_ETH_IPV6 = b"\x86\xdd"

#: (packed address, port, True for IPv6)
Endpoint = tuple[bytes, int, bool]


def endpoint(host: str, port: int) -> Endpoint:
    """An address as the headers want it; an IPv4-mapped IPv6 address becomes IPv4, and a
    name that is no address at all (never seen on a connected socket) 0.0.0.0."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return b"\0\0\0\0", port, False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.packed, port, ip.version == 6


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071), summed in the machine's byte order and swapped
    back: the one's-complement sum does not care which order its words are read in."""
    if len(data) % 2:
        data += b"\0"
    total = sum(array.array("H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    total = ~total & 0xFFFF
    if sys.byteorder == "little":
        total = ((total & 0xFF) << 8) | (total >> 8)
    return total


def segment(
    src: Endpoint,
    dst: Endpoint,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    ident: int = 0,
    from_client: bool = True,
) -> bytes:
    """One Ethernet frame holding one TCP segment from `src` to `dst`."""
    src_ip, sport, v6 = src
    dst_ip, dport = dst[0], dst[1]
    tcp = bytearray(
        struct.pack(
            "!HHIIBBHHH",
            sport,
            dport,
            seq & 0xFFFFFFFF,
            ack & 0xFFFFFFFF if flags & ACK else 0,
            5 << 4,
            flags,
            65535,
            0,
            0,
        )
    )
    length = len(tcp) + len(payload)
    pseudo = (
        src_ip
        + dst_ip
        + (struct.pack("!IxxxB", length, 6) if v6 else struct.pack("!xBH", 6, length))
    )
    struct.pack_into("!H", tcp, 16, _checksum(pseudo + tcp + payload))
    mac = (_MAC_SERVER, _MAC_CLIENT) if from_client else (_MAC_CLIENT, _MAC_SERVER)  # dst, src
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, length, 6, 64) + src_ip + dst_ip
        return mac[0] + mac[1] + _ETH_IPV6 + ip + tcp + payload
    ip = bytearray(
        struct.pack("!BBHHHBBH", 0x45, 0, 20 + length, ident & 0xFFFF, 0x4000, 64, 6, 0)
        + src_ip
        + dst_ip
    )
    struct.pack_into("!H", ip, 10, _checksum(bytes(ip)))
    return mac[0] + mac[1] + _ETH_IPV4 + ip + tcp + payload


class CaptureWriter:
    """Frames into a file, classic pcap or pcapng (microsecond timestamps either way)."""

    def __init__(self, file: BinaryIO, pcapng: bool = False) -> None:
        self.file = file
        self.pcapng = pcapng
        if pcapng:
            shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
            self._block(0x0A0D0D0A, shb)
            self._block(1, struct.pack("<HHI", LINKTYPE_ETHERNET, 0, SNAPLEN))
        else:
            file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))

    def packet(self, stamp: float, frame: bytes, comment: str | None = None) -> None:
        """One frame at `stamp` (time.time()); the comment only reaches a pcapng file."""
        micros = int(stamp * 1_000_000)
        if not self.pcapng:
            self.file.write(
                struct.pack(
                    "<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)
                )
            )
            self.file.write(frame)
            return
        body = struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(frame), len(frame))
        body += _padded(frame)
        if comment:
            text = comment.encode()
            body += struct.pack("<HH", 1, len(text)) + _padded(text) + b"\0\0\0\0"
        self._block(6, body)

    def _block(self, kind: int, body: bytes) -> None:
        size = 12 + len(body)
        self.file.write(struct.pack("<II", kind, size) + body + struct.pack("<I", size))


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)
