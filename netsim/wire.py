"""Frames as bytes on the wire: Ethernet II, ARP, IPv4, TCP, ICMP, UDP and DNS with real lengths and
checksums.

Used by the capture (.pcap) renderer and the byte view of a step. The simulation itself never
needs bytes; this module only writes down what a trace's frames would look like.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from netsim.frames import DNS_RCODES, ETH_P_ARP, ETH_P_IP, ETH_P_TEST, ICMP_WORDS, Arp, Dns, Icmp, Tcp, Udp
from netsim.trace import Hop

TEST_PAYLOAD = b"a note from the bottom six"
TCP_FLAGS = {"S": 0x02, "SA": 0x12, "A": 0x10, "RA": 0x14, "R": 0x04, "FA": 0x11, "PA": 0x18}
ICMP_TYPE_WORDS = {3: "destination unreachable", 11: "time exceeded"}
TCP_FLAG_NAMES = {
    0x02: "SYN",
    0x12: "SYN, ACK",
    0x10: "ACK",
    0x14: "RST, ACK",
    0x04: "RST",
    0x11: "FIN, ACK",
    0x18: "PSH, ACK",
}
# What a segment's two ports are, by who sends it: a SYN comes from the caller and a SYN-ACK answers
# it from the door knocked on; any other segment may go either way, so it is named by its sender.
PORT_WORDS = {
    "S": ("The caller's door number.", "The door knocked on."),
    "SA": ("The door that was knocked on, answering.", "The caller's door number."),
}
NEUTRAL_PORTS = ("The sending side's door number.", "The receiving side's door number.")


@dataclass(frozen=True)
class Field:
    """One named run of bytes in a frame, for the byte view: every byte belongs to one field."""

    layer: str
    name: str
    start: int
    length: int
    value: str
    means: str = ""  # one plain sentence for a reader
    post: str = ""  # the post that explains it (its file under posts/)


POST_ONE, POST_THREE, POST_SIX = "margarets-room.html", "three-ways-to-say-no.html", "a-name-for-the-host.html"
# DNS header flags (RFC 1035 4.1.1), as seen on the wire in the lab (tests/test_capture.py keeps the
# bytes). The C library's query asks for recursion (RD) and nothing else; dnsmasq answers a name of its
# own records as an authority (QR, AA, RD, RA: 0x8580) and a name it has no data for without AA (0x8183).
DNS_QUERY_FLAGS = 0x0100
DNS_ANSWER_FLAGS = 0x8580
DNS_NO_DATA_FLAGS = 0x8180
QTYPE_A, QCLASS_IN = 1, 1


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


def tcp_ip(seg: Tcp) -> bytes:
    """The IPv4 packet carrying `seg`, both checksums right (the lab sends a hand-made SYN with it)."""
    window = 0 if seg.flags in ("RA", "R") else 64240
    header = struct.pack(
        "!HHIIBBHHH", seg.sport, seg.dport, seg.seq, seg.ack, 5 << 4, TCP_FLAGS[seg.flags], window, 0, 0
    )
    segment = header + seg.data
    pseudo = _ip(seg.src_ip) + _ip(seg.dst_ip) + struct.pack("!BBH", 0, 6, len(segment))
    tcp = header[:16] + struct.pack("!H", checksum(pseudo + segment)) + segment[18:]
    addresses = _ip(seg.src_ip) + _ip(seg.dst_ip)
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0x4000, seg.ttl, 6, 0) + addresses
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def _ip_header(src: str, dst: str, proto: int, ttl: int, length: int, tos: int = 0, df: bool = True) -> bytes:
    ip = struct.pack("!BBHHHBBH", 0x45, tos, 20 + length, 0, 0x4000 if df else 0, ttl, proto, 0) + _ip(src) + _ip(dst)
    return ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]


def dns_message(msg: Dns) -> bytes:
    """A DNS message (RFC 1035 4.1): header, one question for an A record, and its answers."""
    if not msg.response:
        flags = DNS_QUERY_FLAGS
    else:
        flags = (DNS_ANSWER_FLAGS if msg.answers else DNS_NO_DATA_FLAGS) | msg.rcode
    header = struct.pack("!HHHHHH", msg.id, flags, 1, len(msg.answers), 0, 0)
    question = _qname(msg.name) + struct.pack("!HH", QTYPE_A, QCLASS_IN)
    # Each answer names the question's name by a pointer to offset 12 (message compression, 4.1.4).
    answers = b"".join(struct.pack("!HHHIH", 0xC00C, QTYPE_A, QCLASS_IN, msg.ttl, 4) + _ip(a) for a in msg.answers)
    return header + question + answers


def _qname(name: str) -> bytes:
    labels = [label.encode("ascii") for label in name.rstrip(".").split(".")]
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\0"


def _udp_ip(dgram: Udp) -> bytes:
    body = dns_message(dgram.payload)
    header = struct.pack("!HHHH", dgram.sport, dgram.dport, 8 + len(body), 0)
    pseudo = _ip(dgram.src_ip) + _ip(dgram.dst_ip) + struct.pack("!BBH", 0, 17, 8 + len(body))
    # A computed checksum of 0 is sent as 0xffff (RFC 768): 0 means "no checksum".
    check = checksum(pseudo + header + body) or 0xFFFF
    udp = header[:6] + struct.pack("!H", check) + body
    return _ip_header(dgram.src_ip, dgram.dst_ip, 17, dgram.ttl, len(udp)) + udp


def decode_dns(data: bytes) -> Dns | None:
    """The DNS message of a captured Ethernet frame (UDP port 53 either way), or None: for the lab."""
    if len(data) < 42 or int.from_bytes(data[12:14], "big") != ETH_P_IP or data[23] != 17:
        return None
    ihl = (data[14] & 0x0F) * 4
    udp = data[14 + ihl :]
    if 53 not in (int.from_bytes(udp[0:2], "big"), int.from_bytes(udp[2:4], "big")):
        return None
    msg = udp[8:]
    try:
        ident, flags, qdcount, ancount = struct.unpack("!HHHH", msg[:8])
        labels, at = [], 12
        while msg[at]:
            labels.append(msg[at + 1 : at + 1 + msg[at]].decode("ascii"))
            at += 1 + msg[at]
        at += 5  # the zero byte, QTYPE and QCLASS
        answers = []
        for _ in range(ancount):
            at += 2 if msg[at] & 0xC0 == 0xC0 else msg.index(b"\0", at) + 1 - at
            rtype, _rclass, ttl, length = struct.unpack("!HHIH", msg[at : at + 10])
            if rtype == QTYPE_A:
                answers.append(".".join(map(str, msg[at + 10 : at + 14])))
            at += 10 + length
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    if qdcount != 1:
        return None
    return Dns(ident, ".".join(labels), bool(flags & 0x8000), tuple(answers), flags & 0x000F)


# __icmp_send() (net/ipv4/icmp.c) quotes "as much as we can without exceeding 576 bytes": the
# whole offending packet, cut to 576 less its own IP and ICMP headers (RFC 1812 4.3.2.3). RFC 792's
# "IP header plus 64 bits" is only the least a sender may quote.
ICMP_ROOM = 576 - 20 - 8


def icmp_quote(icmp: Icmp) -> bytes:
    """The offending packet as the ICMP error carries it (the whole of it, for netsim's packets)."""
    original = icmp.original
    return (_udp_ip(original) if isinstance(original, Udp) else tcp_ip(original))[:ICMP_ROOM]


def icmp_ident(quoted: bytes) -> int:
    """The ICMP error's IP ID. The kernel sends its errors without DF (icmp_sk_init(): pmtudisc
    IP_PMTUDISC_DONT), so ip_select_ident() draws the ID from a hashed per-destination counter that
    starts at a random point; netsim cannot know that counter and makes up a fixed stand-in from
    the quoted packet, non-zero as real ones almost always are."""
    return zlib.crc32(quoted) % 0xFFFF + 1


def _icmp_ip(icmp: Icmp) -> bytes:
    # Type, code, checksum, 4 unused bytes, then the offending packet (icmp_quote()). TOS 0xc0:
    # __icmp_send() marks errors IPTOS_PREC_INTERNETCONTROL; no DF (see icmp_ident()).
    quoted = icmp_quote(icmp)
    body = struct.pack("!BBHI", icmp.type, icmp.code, 0, 0) + quoted
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    addresses = _ip(icmp.src_ip) + _ip(icmp.dst_ip)
    ip = struct.pack("!BBHHHBBH", 0x45, 0xC0, 20 + len(body), icmp_ident(quoted), 0, icmp.ttl, 1, 0) + addresses
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + body


def encode(hop: Hop) -> bytes:
    """The bytes of the frame that crossed the bridge in `hop` (no FCS, as captures show)."""
    if isinstance(hop.payload, Arp):
        body, ethertype = _arp(hop.payload), ETH_P_ARP
    elif isinstance(hop.payload, Tcp):
        body, ethertype = tcp_ip(hop.payload), ETH_P_IP
    elif isinstance(hop.payload, Icmp):
        body, ethertype = _icmp_ip(hop.payload), ETH_P_IP
    elif isinstance(hop.payload, Udp):
        body, ethertype = _udp_ip(hop.payload), ETH_P_IP
    else:
        body, ethertype = TEST_PAYLOAD, ETH_P_TEST
    return _mac(hop.dst) + _mac(hop.src) + struct.pack("!H", ethertype) + body


def _arp_parties(p: Arp) -> list[Field]:
    """Sender and target swap roles between a question and its answer (arp_process() in
    net/ipv4/arp.c answers with the asker as target): in a reply the sender is the one answering."""
    F = Field
    if p.op == 1:
        words = (
            "The asker's badge.",
            "The asker's address.",
            "Zeros: this badge is what is asked for.",
            "The address whose badge is asked for.",
        )
    else:
        words = (
            "The answer: the badge that goes with the sender IP.",
            "The address that was asked about.",
            "The asker's badge: the answer goes straight back to it.",
            "The asker's address.",
        )
    return [
        F("ARP", "sender MAC", 22, 6, p.sender_mac, words[0], POST_ONE),
        F("ARP", "sender IP", 28, 4, p.sender_ip, words[1], POST_ONE),
        F("ARP", "target MAC", 32, 6, p.target_mac, words[2], POST_ONE),
        F("ARP", "target IP", 38, 4, p.target_ip, words[3], POST_ONE),
    ]


def fields(hop: Hop) -> list[Field]:
    """Every field of the frame, with where it sits in the bytes: together they cover every byte once.

    Short frames stay short: a veth never pads (drivers/net/veth.c hands the skb to its peer as
    it is); only a physical NIC's driver pads to Ethernet's 60 bytes (eth_skb_pad), so a capture
    on a bridge or veth shows a 42-byte ARP, and so does this view.
    """
    data = encode(hop)
    F = Field
    out = [
        F("Ethernet", "destination MAC", 0, 6, hop.dst, "The badge this frame is addressed to.", POST_ONE),
        F(
            "Ethernet",
            "source MAC",
            6,
            6,
            hop.src,
            "The sender's own badge; a bridge that takes the frame in notes it against that seat.",
            POST_ONE,
        ),
        F("Ethernet", "EtherType", 12, 2, f"0x{hop.ethertype or ETH_P_TEST:04x}", "What the rest carries.", POST_ONE),
    ]
    p = hop.payload
    if isinstance(p, Arp):
        out += [
            F("ARP", "hardware type", 14, 2, "1 (Ethernet)", "The kind of address asked about: Ethernet.", POST_ONE),
            F("ARP", "protocol type", 16, 2, "0x0800 (IPv4)", "The kind of address asked with: IPv4.", POST_ONE),
            F("ARP", "hardware size", 18, 1, "6", "A MAC is 6 bytes long.", POST_ONE),
            F("ARP", "protocol size", 19, 1, "4", "An IPv4 address is 4 bytes long.", POST_ONE),
            F(
                "ARP",
                "opcode",
                20,
                2,
                "1 (request)" if p.op == 1 else "2 (reply)",
                "A question or its answer.",
                POST_ONE,
            ),
            *_arp_parties(p),
        ]
    elif isinstance(p, Tcp | Icmp | Udp):
        out += _ipv4_fields(data, p.ttl, p.src_ip, p.dst_ip)
    if isinstance(p, Udp):
        out += _udp_fields(data, p)
    if isinstance(p, Tcp):
        flags = TCP_FLAG_NAMES[TCP_FLAGS[p.flags]]
        window = int.from_bytes(data[48:50], "big")
        from_words, to_words = PORT_WORDS.get(p.flags, NEUTRAL_PORTS)
        out += [
            F("TCP", "source port", 34, 2, str(p.sport), from_words, POST_THREE),
            F("TCP", "destination port", 36, 2, str(p.dport), to_words, POST_THREE),
            F("TCP", "sequence number", 38, 4, str(p.seq), "Where this side's bytes start counting.", POST_THREE),
            F(
                "TCP",
                "acknowledgement number",
                42,
                4,
                str(p.ack),
                "The next byte expected from the other side.",
                POST_THREE,
            ),
            F("TCP", "header length", 46, 1, "20 bytes", _tcp_options_words(p.flags), POST_THREE),
            F("TCP", "flags", 47, 1, flags, "What this segment says: a knock, a yes, a no.", POST_THREE),
            F("TCP", "window", 48, 2, str(window), "How many bytes the sender may be sent next.", POST_THREE),
            F("TCP", "checksum", 50, 2, f"0x{data[50:52].hex()}", "Guards the segment and both addresses.", POST_THREE),
            F("TCP", "urgent pointer", 52, 2, "0", "Unused: nothing urgent.", POST_THREE),
        ]
    elif isinstance(p, Icmp):
        words = ICMP_WORDS.get((p.type, p.code))
        out += [
            F(
                "ICMP",
                "type",
                34,
                1,
                f"{p.type} ({ICMP_TYPE_WORDS.get(p.type, 'other')})",
                "What went wrong.",
                POST_THREE,
            ),
            F(
                "ICMP",
                "code",
                35,
                1,
                f"{p.code} ({words})" if words else str(p.code),
                "Which kind of that.",
                POST_THREE,
            ),
            F("ICMP", "checksum", 36, 2, f"0x{data[36:38].hex()}", "Guards the message.", POST_THREE),
            F("ICMP", "unused", 38, 4, "0", "Four bytes this message leaves empty.", POST_THREE),
            *_quoted_fields(data, p),
        ]
    elif not isinstance(p, Arp | Udp):
        out.append(
            F("payload", "the note", 14, len(TEST_PAYLOAD), TEST_PAYLOAD.decode(), "The words carried.", POST_ONE)
        )
    return out


def _quoted_fields(data: bytes, p: Icmp) -> list[Field]:
    """The packet an ICMP error quotes, from byte 42 to the end (icmp_quote()): its IP header, then
    the TCP or UDP header and whatever followed it."""
    F, inner = Field, p.original
    quoted = len(data) - 42
    out = [
        F(
            "ICMP",
            "quoted IPv4 header",
            42,
            20,
            f"{inner.src_ip} > {inner.dst_ip}",
            "The packet that failed, quoted whole (as much as fits in 576 bytes): first its IP header.",
            POST_THREE,
        )
    ]
    if isinstance(inner, Udp):
        out.append(
            F(
                "ICMP",
                "quoted UDP header",
                62,
                8,
                f"{inner.sport} > {inner.dport}",
                "Its ports, length and checksum.",
                POST_THREE,
            )
        )
        if quoted > 28:
            out.append(
                F(
                    "ICMP",
                    "quoted DNS message",
                    70,
                    quoted - 28,
                    inner.payload.name,
                    "The question it carried.",
                    POST_SIX,
                )
            )
        return out
    flags = TCP_FLAG_NAMES[TCP_FLAGS[inner.flags]]
    out.append(
        F(
            "ICMP",
            "quoted TCP segment",
            62,
            quoted - 20,
            f"{inner.sport} > {inner.dport}, {flags}, seq {inner.seq}",
            "The whole TCP segment; its first 8 bytes, the ports and the sequence number, tell the sender's "
            "kernel which connection failed (tcp_v4_err()).",
            POST_THREE,
        )
    )
    return out


# What an IPv4 header's TOS byte and flags say, for the values netsim sends; any other is said plainly.
TOS_WORDS = {
    0x00: "Ordinary traffic: no special queueing, no congestion mark.",
    0xC0: "Network control (class selector 6): Linux marks its ICMP errors so (__icmp_send()).",
}
FRAG_WORDS = {
    0x4000: "Do not fragment: too big for a link, it is dropped and its sender told (path MTU discovery).",
    0x0000: "May be fragmented, and is not: Linux sends its ICMP errors without do-not-fragment.",
}


def _ipv4_fields(data: bytes, ttl: int, src: str, dst: str) -> list[Field]:
    F, post = Field, POST_THREE
    proto = {6: "6 (TCP)", 1: "1 (ICMP)", 17: "17 (UDP)"}.get(data[23], str(data[23]))
    tos, frag, ident = data[15], int.from_bytes(data[20:22], "big"), int.from_bytes(data[18:20], "big")
    return [
        F("IPv4", "version and header length", 14, 1, "4, 20 bytes", "IPv4, with a 20-byte header.", post),
        F("IPv4", "DSCP and ECN", 15, 1, f"0x{tos:02x}", TOS_WORDS.get(tos, f"DSCP {tos >> 2}, ECN {tos & 3}."), post),
        F("IPv4", "total length", 16, 2, str(int.from_bytes(data[16:18], "big")), "Bytes from here to the end.", post),
        F("IPv4", "identification", 18, 2, str(ident), _ident_words(ident, frag), post),
        F(
            "IPv4",
            "flags and fragment offset",
            20,
            2,
            f"0x{frag:04x}",
            FRAG_WORDS.get(frag, f"Flags 0x{frag >> 13:x}, fragment offset {frag & 0x1FFF}."),
            post,
        ),
        F("IPv4", "time to live", 22, 1, str(ttl), "How many routers it may still cross.", post),
        F("IPv4", "protocol", 23, 1, proto, "What the packet carries.", post),
        F("IPv4", "header checksum", 24, 2, f"0x{data[24:26].hex()}", "Guards this header.", post),
        F("IPv4", "source address", 26, 4, src, "Who sent the packet.", post),
        F("IPv4", "destination address", 30, 4, dst, "Who it is for.", post),
    ]


def _tcp_options_words(flags: str) -> str:
    if "S" in flags:  # tcp_syn_options(), tcp_synack_options(): MSS, SACK, timestamps, window scale
        return (
            "Five 4-byte words: no options. A real SYN carries 20 bytes of them (MSS, timestamps…); "
            "netsim leaves them out."
        )
    return "Five 4-byte words: no options here."


def _ident_words(ident: int, frag: int) -> str:
    if frag & 0x4000:
        return (
            f"Names the pieces of a split, and this packet may not be split. netsim writes {ident}; a real "
            "connection's packets show a number here (ip_select_ident_segs())."
        )
    return (
        "Names the pieces if it is split. Linux draws it from a hashed counter (ip_select_ident()), "
        "so yours will differ; netsim makes one up."
    )


def _udp_fields(data: bytes, p: Udp) -> list[Field]:
    F, post = Field, POST_SIX
    msg = p.payload
    asker, server = "The asker's port, picked at random.", "Port 53: DNS."
    # An answer goes back the way the question came: from port 53 to the asker's port.
    from_words, to_words = ("Port 53: DNS, answering.", asker) if msg.response else (asker, server)
    out = [
        F("UDP", "source port", 34, 2, str(p.sport), from_words, post),
        F("UDP", "destination port", 36, 2, str(p.dport), to_words, post),
        F("UDP", "length", 38, 2, str(int.from_bytes(data[38:40], "big")), "Bytes of UDP header and data.", post),
        F("UDP", "checksum", 40, 2, f"0x{data[40:42].hex()}", "Guards the datagram and both addresses.", post),
    ]
    flags = int.from_bytes(data[44:46], "big")
    kind = f"answer, {DNS_RCODES.get(msg.rcode, msg.rcode)}" if msg.response else "query, recursion desired"
    out += [
        F("DNS", "id", 42, 2, str(msg.id), "A random number the answer must repeat.", post),
        F("DNS", "flags", 44, 2, f"0x{flags:04x} ({kind})", "Question or answer, and how it went.", post),
        F("DNS", "counts", 46, 8, f"1 question, {len(msg.answers)} answers", "How many of each section follow.", post),
    ]
    qlen = len(_qname(msg.name))
    out += [
        F("DNS", "name asked", 54, qlen, msg.name, "The name, one length-prefixed label at a time.", post),
        F("DNS", "type and class", 54 + qlen, 4, "A, IN", "An IPv4 address, on the Internet.", post),
    ]
    at = 58 + qlen
    for address in msg.answers:
        out += [
            F("DNS", "answer's name", at, 2, "pointer to byte 12", "The same name, by reference.", post),
            F("DNS", "answer's type, class, TTL", at + 2, 8, f"A, IN, {msg.ttl} s", "Keep it this long.", post),
            F("DNS", "address length", at + 10, 2, "4", "An IPv4 address follows.", post),
            F("DNS", "address", at + 12, 4, address, "The answer.", post),
        ]
        at += 16
    return out


def pcap(hops: list[Hop], epoch: int = 0) -> bytes:
    """A classic libpcap file (LINKTYPE_ETHERNET) of the frames, timestamped by the simulated clock.

    Frames at the same simulated instant are spaced one microsecond apart to keep their order.
    `epoch` moves the clock's zero to that many seconds after 1970 (tcpdump's -ttttt takes a first
    packet stamped 0 for "no first packet yet").
    """
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for hop, micros in zip(hops, timestamps(hops), strict=True):
        data = encode(hop)
        seconds = epoch + micros // 1_000_000
        out.append(struct.pack("<IIII", seconds, micros % 1_000_000, len(data), len(data)) + data)
    return b"".join(out)


def timestamps(hops: Sequence[Hop]) -> list[int]:
    """Each frame's time in microseconds on the simulated clock, frames at the same instant one
    microsecond apart so that their order survives (the capture's and tcpdump's lines share them)."""
    out: list[int] = []
    for hop in hops:
        out.append(max(int(round(hop.time * 1_000_000)), out[-1] + 1 if out else 0))
    return out
