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

import functools
import ipaddress
import struct
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


_TCP = struct.Struct("!HHIIBBHHH")
_IPV4 = struct.Struct("!BBHHHBBH")
_IPV6 = struct.Struct("!IHBB")


@functools.lru_cache(maxsize=1024)
def _address_sum(addresses: bytes) -> int:
    """The 16-bit words of both addresses added up (the same for every packet of a flow)."""
    return sum(struct.unpack(f"!{len(addresses) // 2}H", addresses))


def _payload_sum(data: bytes) -> int:
    """The payload's 16-bit words added up in one's complement: the payload read as one
    big-endian number, modulo 0xFFFF (2**16 is 1 there), which is one C loop, not one
    Python step per word."""
    if len(data) % 2:
        data += b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


def _complement(total: int) -> int:
    """The Internet checksum (RFC 1071) of words that add up to `total`."""
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


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
    """One Ethernet frame holding one TCP segment from `src` to `dst`, checksums right."""
    sport, dport, v6 = src[1], dst[1], src[2]
    addresses = src[0] + dst[0]
    seq &= 0xFFFFFFFF
    ack = ack & 0xFFFFFFFF if flags & ACK else 0
    length = 20 + len(payload)
    words = _address_sum(addresses) + 6 + length  # the pseudo-header
    words += sport + dport + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
    words += (5 << 12 | flags) + 65535 + _payload_sum(payload)
    tcp = _TCP.pack(sport, dport, seq, ack, 5 << 4, flags, 65535, _complement(words), 0)
    mac = (_MAC_SERVER + _MAC_CLIENT) if from_client else (_MAC_CLIENT + _MAC_SERVER)
    if v6:
        return mac + _ETH_IPV6 + _IPV6.pack(6 << 28, length, 6, 64) + addresses + tcp + payload
    ident &= 0xFFFF
    total = 20 + length
    check = _complement(0x4500 + total + ident + 0x4000 + (64 << 8 | 6) + _address_sum(addresses))
    ip = _IPV4.pack(0x45, 0, total, ident, 0x4000, 64, 6, check)
    return mac + _ETH_IPV4 + ip + addresses + tcp + payload


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
