"""What `tcpdump -ttttt -eni BRIDGE` prints for a trace's frames, in tcpdump 4.99's own words.

The lines are made from the frames netsim's trace holds (the bytes are netsim.wire's, the same the
capture file holds); tests/test_tcpdump.py runs the real tcpdump on that capture and compares every
line, so the format cannot drift. Where the words come from in tcpdump: print-ether.c (the -e part),
print-arp.c, print-tcp.c (flags, and sequence numbers made relative per conversation),
print-icmp.c, print-domain.c, and util-print.c's hex dump for an EtherType it does not know.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from netsim.addresses import is_valid_source
from netsim.frames import (
    ARP_REQUEST,
    DNS_NXDOMAIN,
    ETH_P_ARP,
    ETH_P_IP,
    ICMP_DEST_UNREACH,
    ICMP_HOST_UNREACH,
    ICMP_NET_UNREACH,
    ICMP_PKT_FILTERED,
    ICMP_PORT_UNREACH,
    ICMP_TIME_EXCEEDED,
    Arp,
    Dns,
    Icmp,
    Tcp,
    Udp,
)
from netsim.trace import Hop
from netsim.wire import dns_message, encode, icmp_quote, timestamps

SNAPLEN = 262144  # tcpdump's default snapshot length (MAXIMUM_SNAPLEN in netdissect.h)
ETHERTYPES = {ETH_P_IP: "IPv4", ETH_P_ARP: "ARP"}
FLAGS = {"S": "S", "SA": "S.", "A": ".", "RA": "R.", "R": "R", "FA": "F.", "PA": "P."}  # print-tcp.c's tcp_flag_values
SEEN_BY_ACK = {"SA", "A", "RA", "FA", "PA"}  # segments with ACK set: the ones print-tcp.c keys conversations on


def typed(bridge: str) -> str:
    """The command a reader types: -e for the MACs, -n for numbers, -ttttt for time since the first line."""
    return f"tcpdump -ttttt -eni {bridge}"


def banner(bridge: str) -> list[str]:
    """What tcpdump says on standard error before the first frame (a live capture, no -v)."""
    return [
        "tcpdump: verbose output suppressed, use -v[v]... for full protocol decode",
        f"listening on {bridge}, link-type EN10MB (Ethernet), snapshot length {SNAPLEN} bytes",
    ]


def seen_on(bridge: str, hops: Iterable[Hop]) -> list[Hop]:
    """The frames a capture on the bridge device sees. tcpdump makes the device promiscuous, and then
    br_handle_frame_finish() (net/bridge/br_input.c) passes every frame it handles up to the bridge
    device too (`local_rcv = !!(br->dev->flags & IFF_PROMISC)`), forwarded or flooded or not; the
    host's own frames are seen as they leave. A frame with a group or all-zero source is dropped by
    br_handle_frame() before that, so tcpdump never sees it."""
    return [hop for hop in hops if hop.bridge == bridge and is_valid_source(hop.src)]


def lines(hops: Sequence[Hop]) -> list[str]:
    """One line per frame (more for a frame tcpdump prints as a hex dump), time counted from the first."""
    out: list[str] = []
    conversations: dict[tuple, tuple[int, int]] = {}
    stamps = timestamps(hops)
    for hop, micros in zip(hops, stamps, strict=True):
        data = encode(hop)
        ethertype = struct.unpack("!H", data[12:14])[0]
        name = ETHERTYPES.get(ethertype, "Unknown")
        ether = f"{hop.src} > {hop.dst}, ethertype {name} (0x{ethertype:04x}), length {len(data)}"
        head = f"{_delta(micros - stamps[0])} {ether}: "
        p = hop.payload
        if isinstance(p, Arp):
            out.append(head + _arp(p))
        elif isinstance(p, Tcp):
            out.append(head + _tcp(p, conversations))
        elif isinstance(p, Icmp):
            out.append(head + _icmp(p))
        elif isinstance(p, Udp):
            out.append(head + _udp(p))
        else:  # no dissector for the EtherType: ND_DEFAULTPRINT, a hex and ASCII dump of what follows
            out.append(head)
            out.extend(hex_and_ascii(data[14:]))
    return out


def _delta(micros: int) -> str:
    # -ttttt: ts_hmsfrac_print() of the time since the first packet, after a space
    seconds, frac = divmod(micros, 1_000_000)
    return f" {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{frac:06d}"


def _arp(p: Arp) -> str:
    if p.op == ARP_REQUEST:
        asked = f" ({p.target_mac})" if p.target_mac != "00:00:00:00:00:00" else ""
        return f"Request who-has {p.target_ip}{asked} tell {p.sender_ip}, length 28"
    return f"Reply {p.sender_ip} is-at {p.sender_mac}, length 28"


def _tcp(p: Tcp, conversations: dict[tuple, tuple[int, int]]) -> str:
    seq, ack = p.seq, p.ack
    # print-tcp.c: a conversation is keyed by its two ends in one order (the lower port first); its
    # first segment with ACK records both initial numbers, and later ones print relative to them.
    rev = p.sport > p.dport or (p.sport == p.dport and _packed(p.src_ip) > _packed(p.dst_ip))
    key = (p.dst_ip, p.dport, p.src_ip, p.sport) if rev else (p.src_ip, p.sport, p.dst_ip, p.dport)
    if p.flags in SEEN_BY_ACK:
        if key not in conversations or "S" in p.flags:
            conversations[key] = (ack - 1, seq) if rev else (seq, ack - 1)
        else:
            first, second = conversations[key]
            seq, ack = (seq - second, ack - first) if rev else (seq - first, ack - second)
            seq, ack = seq & 0xFFFFFFFF, ack & 0xFFFFFFFF
    out = f"{p.src_ip}.{p.sport} > {p.dst_ip}.{p.dport}: Flags [{FLAGS[p.flags]}]"
    if p.data:  # data: its range of sequence numbers
        out += f", seq {seq}:{(seq + len(p.data)) & 0xFFFFFFFF}"
    elif p.flags != "A":  # SYN, FIN or RST: the sequence number is printed even with no data
        out += f", seq {seq}"
    if p.flags in SEEN_BY_ACK:
        out += f", ack {ack}"
    window = 0 if p.flags in ("RA", "R") else 64240  # netsim.wire.tcp_ip's window
    out += f", win {window}, length {len(p.data)}"
    if p.data.startswith(b"SSH-"):  # print-ssh.c: an identification line on port 22, without its CR LF
        out += ": SSH: " + p.data.decode().rstrip("\r\n")
    return out


def _packed(ip: str) -> bytes:
    return bytes(int(part) for part in ip.split("."))


def _icmp(p: Icmp) -> str:
    inner = p.original
    proto = "udp" if isinstance(inner, Udp) else "tcp"
    if (p.type, p.code) == (ICMP_DEST_UNREACH, ICMP_PORT_UNREACH):
        what = f"{inner.dst_ip} {proto} port {inner.dport} unreachable"
    elif (p.type, p.code) == (ICMP_DEST_UNREACH, ICMP_HOST_UNREACH):
        what = f"host {inner.dst_ip} unreachable"
    elif (p.type, p.code) == (ICMP_DEST_UNREACH, ICMP_NET_UNREACH):
        what = f"net {inner.dst_ip} unreachable"
    elif (p.type, p.code) == (ICMP_DEST_UNREACH, ICMP_PKT_FILTERED):
        what = f"host {inner.dst_ip} unreachable - admin prohibited filter"
    elif p.type == ICMP_TIME_EXCEEDED:
        what = "time exceeded in-transit"
    else:
        what = f"type-#{p.type}"
    # print-icmp.c prints the ICMP message's length: its 8-byte header and the packet it quotes
    return f"{p.src_ip} > {p.dst_ip}: ICMP {what}, length {8 + len(icmp_quote(p))}"


def _udp(p: Udp) -> str:
    return f"{p.src_ip}.{p.sport} > {p.dst_ip}.{p.dport}: {_dns(p.payload)}"


def _dns(msg: Dns) -> str:
    """print-domain.c's one line: id, flags, the question or the counts and answers, the length."""
    size = len(dns_message(msg))
    if not msg.response:
        return f"{msg.id}+ A? {msg.name}. ({size})"  # '+': recursion desired
    rcode = " NXDomain" if msg.rcode == DNS_NXDOMAIN else ""
    authority = "*" if msg.answers else ""  # netsim.wire: dnsmasq answers its own names with AA set
    answers = ",".join(f" A {address}" for address in msg.answers)
    return f"{msg.id}{rcode}{authority} {len(msg.answers)}/0/0{answers} ({size})"


def hex_and_ascii(data: bytes) -> list[str]:
    """util-print.c's hex_and_ascii_print(): 16 bytes a line in groups of two, then the printable ones."""
    out = []
    for at in range(0, len(data), 16):
        chunk = data[at : at + 16]
        groups = " ".join(chunk[i : i + 2].hex() for i in range(0, len(chunk), 2))
        text = "".join(chr(b) if 0x21 <= b <= 0x7E else "." for b in chunk)
        out.append(f"\t0x{at:04x}:  {groups:<39}  {text}")
    return out
