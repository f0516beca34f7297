"""Frames as bytes on the wire: Ethernet II, ARP, IPv4 and TCP with real lengths and checksums.

Used by the capture (.pcap) renderer and the byte view of a step. The simulation itself never
needs bytes; this module only writes down what a trace's frames would look like.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from netsim.frames import ETH_P_ARP, ETH_P_IP, ETH_P_TEST, ICMP_WORDS, Arp, Icmp, Tcp
from netsim.trace import Hop

TEST_PAYLOAD = b"a note from the bottom six"
TCP_FLAGS = {"S": 0x02, "SA": 0x12, "A": 0x10, "RA": 0x14}
ICMP_TYPE_WORDS = {3: "destination unreachable", 11: "time exceeded"}
TCP_FLAG_NAMES = {0x02: "SYN", 0x12: "SYN, ACK", 0x10: "ACK", 0x14: "RST, ACK"}


@dataclass(frozen=True)
class Field:
    """One named run of bytes in a frame, for the byte view."""

    layer: str
    name: str
    start: int
    length: int
    value: str


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _ip(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): ones' complement of the ones' complement sum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _arp(arp: Arp) -> bytes:
    return struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, arp.op) + (
        _mac(arp.sender_mac) + _ip(arp.sender_ip) + _mac(arp.target_mac) + _ip(arp.target_ip)
    )


def _tcp_ip(seg: Tcp) -> bytes:
    window = 0 if seg.flags == "RA" else 64240
    header = struct.pack(
        "!HHIIBBHHH", seg.sport, seg.dport, seg.seq, seg.ack, 5 << 4, TCP_FLAGS[seg.flags], window, 0, 0
    )
    pseudo = _ip(seg.src_ip) + _ip(seg.dst_ip) + struct.pack("!BBH", 0, 6, len(header))
    tcp = header[:16] + struct.pack("!H", checksum(pseudo + header)) + header[18:]
    addresses = _ip(seg.src_ip) + _ip(seg.dst_ip)
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0x4000, seg.ttl, 6, 0) + addresses
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def _icmp_ip(icmp: Icmp) -> bytes:
    # Type, code, checksum, 4 unused bytes, then the offending IP header and its first 8 bytes.
    quoted = _tcp_ip(icmp.original)[:28]
    body = struct.pack("!BBHI", icmp.type, icmp.code, 0, 0) + quoted
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    addresses = _ip(icmp.src_ip) + _ip(icmp.dst_ip)
    ip = struct.pack("!BBHHHBBH", 0x45, 0xC0, 20 + len(body), 0, 0, icmp.ttl, 1, 0) + addresses
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + body


def encode(hop: Hop) -> bytes:
    """The bytes of the frame that crossed the bridge in `hop` (no FCS, as captures show)."""
    if isinstance(hop.payload, Arp):
        body, ethertype = _arp(hop.payload), ETH_P_ARP
    elif isinstance(hop.payload, Tcp):
        body, ethertype = _tcp_ip(hop.payload), ETH_P_IP
    elif isinstance(hop.payload, Icmp):
        body, ethertype = _icmp_ip(hop.payload), ETH_P_IP
    else:
        body, ethertype = TEST_PAYLOAD, ETH_P_TEST
    return _mac(hop.dst) + _mac(hop.src) + struct.pack("!H", ethertype) + body


def fields(hop: Hop) -> list[Field]:
    """Every named field of the frame, with where it sits in the bytes."""
    out = [
        Field("Ethernet", "destination MAC", 0, 6, hop.dst),
        Field("Ethernet", "source MAC", 6, 6, hop.src),
        Field("Ethernet", "EtherType", 12, 2, f"0x{hop.ethertype or ETH_P_TEST:04x}"),
    ]
    p = hop.payload
    if isinstance(p, Arp):
        out += [
            Field("ARP", "opcode", 20, 2, "1 (request)" if p.op == 1 else "2 (reply)"),
            Field("ARP", "sender MAC", 22, 6, p.sender_mac),
            Field("ARP", "sender IP", 28, 4, p.sender_ip),
            Field("ARP", "target MAC", 32, 6, p.target_mac),
            Field("ARP", "target IP", 38, 4, p.target_ip),
        ]
    elif isinstance(p, Tcp):
        out += [
            Field("IPv4", "time to live", 22, 1, str(p.ttl)),
            Field("IPv4", "source address", 26, 4, p.src_ip),
            Field("IPv4", "destination address", 30, 4, p.dst_ip),
            Field("TCP", "source port", 34, 2, str(p.sport)),
            Field("TCP", "destination port", 36, 2, str(p.dport)),
            Field("TCP", "sequence number", 38, 4, str(p.seq)),
            Field("TCP", "acknowledgement number", 42, 4, str(p.ack)),
            Field("TCP", "flags", 47, 1, TCP_FLAG_NAMES[TCP_FLAGS[p.flags]]),
        ]
    elif isinstance(p, Icmp):
        words = ICMP_WORDS.get((p.type, p.code))
        out += [
            Field("IPv4", "time to live", 22, 1, str(p.ttl)),
            Field("IPv4", "source address", 26, 4, p.src_ip),
            Field("IPv4", "destination address", 30, 4, p.dst_ip),
            Field("ICMP", "type", 34, 1, f"{p.type} ({ICMP_TYPE_WORDS.get(p.type, 'other')})"),
            Field("ICMP", "code", 35, 1, f"{p.code} ({words})" if words else str(p.code)),
            Field("ICMP", "quoted source address", 54, 4, p.original.src_ip),
            Field("ICMP", "quoted TCP ports", 62, 4, f"{p.original.sport} > {p.original.dport}"),
        ]
    else:
        out.append(Field("payload", "the note", 14, len(TEST_PAYLOAD), TEST_PAYLOAD.decode()))
    return out


def pcap(hops: list[Hop]) -> bytes:
    """A classic libpcap file (LINKTYPE_ETHERNET) of the frames, timestamped by the simulated clock.

    Frames at the same simulated instant are spaced one microsecond apart to keep their order.
    """
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    last = -1
    for hop in hops:
        micros = max(int(round(hop.time * 1_000_000)), last + 1)
        last = micros
        data = encode(hop)
        out.append(struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(data), len(data)) + data)
    return b"".join(out)
