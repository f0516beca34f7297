"""Ethernet frames and the payloads netsim carries: ARP, TCP segments, ICMP errors and UDP datagrams
(DNS, the only thing netsim sends over UDP)."""

from __future__ import annotations

from dataclasses import dataclass, field

from netsim.addresses import BROADCAST

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ETH_P_TEST = 0x88B5  # IEEE "local experimental" EtherType: the raw frames a scenario sends

ARP_REQUEST = 1
ARP_REPLY = 2


@dataclass(frozen=True)
class Arp:
    op: int
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str

    def summary(self) -> str:
        if self.op == ARP_REQUEST:
            return f"ARP who-has {self.target_ip} tell {self.sender_ip}"
        return f"ARP {self.sender_ip} is-at {self.sender_mac}"


# sshd's version line (RFC 4253 section 4.2), as the lab's OpenSSH 9.2 sends it less its distribution's
# addendum: sent as soon as sshd accepts (kex_exchange_identification(), OpenSSH's kex.c).
SSH_BANNER = b"SSH-2.0-OpenSSH_9.2\r\n"


@dataclass(frozen=True)
class Tcp:
    src_ip: str
    dst_ip: str
    sport: int
    dport: int
    flags: str  # "S", "SA", "A", "RA", "R", "FA", "PA": the letters tcpdump prints
    seq: int = 0
    ack: int = 0
    ttl: int = 64  # the IP header's time to live: net.ipv4.ip_default_ttl, minus one per router
    # skb->dst_pending_confirm: tcp_transmit_skb() copies the socket's sk_dst_pending_confirm (set by
    # tcp_ack() when the peer answered) into the segment, and every ip_finish_output2() the segment
    # passes confirms the neighbour it is handed to (sock_confirm_neigh(), include/net/sock.h). The
    # bit is the skb's: skb_scrub_packet() (net/core/skbuff.c), which a veth crossing into another
    # namespace runs, leaves it, so a router forwarding the segment confirms its own next hop too.
    # Not part of what the wire shows: left out of equality.
    pending_confirm: bool = field(default=False, compare=False)

    @property
    def data(self) -> bytes:
        """The segment's data: sshd's version banner. netsim's data segments ("PA") are the banner and
        the SSH connection's own messages (a channel open, sshd's answer), whose bytes are not modelled."""
        return SSH_BANNER if self.flags == "PA" else b""

    def summary(self) -> str:
        return f"TCP {self.src_ip}:{self.sport} > {self.dst_ip}:{self.dport} {TCP_FLAG_WORDS[self.flags]}"


DNS_PORT = 53
DNS_NOERROR = 0
DNS_NXDOMAIN = 3
DNS_RCODES = {DNS_NOERROR: "NOERROR", DNS_NXDOMAIN: "NXDOMAIN"}


@dataclass(frozen=True)
class Dns:
    """A DNS message with one question for an A record (RFC 1035 4.1), and its answers if a reply."""

    id: int
    name: str
    response: bool = False
    answers: tuple[str, ...] = ()  # IPv4 addresses, one A record each
    rcode: int = DNS_NOERROR
    ttl: int = 0  # the answers' time to live in seconds (dnsmasq's local-ttl for its own records: 0)

    def summary(self) -> str:
        if not self.response:
            return f"DNS query A? {self.name}"
        if self.rcode != DNS_NOERROR:
            return f"DNS answer {self.name}: {DNS_RCODES.get(self.rcode, self.rcode)}"
        if not self.answers:  # NODATA: the name exists, with no A record (RFC 2308)
            return f"DNS answer {self.name}: NOERROR, no address"
        return f"DNS answer {self.name} A {', '.join(self.answers)}"


@dataclass(frozen=True)
class Udp:
    """A UDP datagram; netsim's only UDP payload is DNS."""

    src_ip: str
    dst_ip: str
    sport: int
    dport: int
    payload: Dns
    ttl: int = 64

    def summary(self) -> str:
        return f"UDP {self.src_ip}:{self.sport} > {self.dst_ip}:{self.dport} {self.payload.summary()}"


ICMP_DEST_UNREACH = 3
ICMP_NET_UNREACH = 0
ICMP_HOST_UNREACH = 1
ICMP_PORT_UNREACH = 3
ICMP_PKT_FILTERED = 13  # "communication administratively prohibited" (RFC 1812), nft's admin-prohibited
ICMP_TIME_EXCEEDED = 11
ICMP_PARAMETERPROB = 12  # tcp_v4_err() names it; netsim never sends one
ICMP_EXC_TTL = 0
ICMP_WORDS = {
    (ICMP_DEST_UNREACH, ICMP_NET_UNREACH): "network unreachable",
    (ICMP_DEST_UNREACH, ICMP_HOST_UNREACH): "host unreachable",
    (ICMP_DEST_UNREACH, ICMP_PORT_UNREACH): "port unreachable",
    (ICMP_DEST_UNREACH, ICMP_PKT_FILTERED): "admin prohibited",
    (ICMP_TIME_EXCEEDED, ICMP_EXC_TTL): "time exceeded",
}


@dataclass(frozen=True)
class Icmp:
    """An ICMP error, carrying the packet it complains about: the whole of it, up to 576 bytes in
    all (__icmp_send(), net/ipv4/icmp.c; RFC 792 asks only for the IP header and 8 bytes more)."""

    src_ip: str
    dst_ip: str
    type: int
    code: int
    original: Tcp | Udp
    ttl: int = 64

    def summary(self) -> str:
        what = ICMP_WORDS.get((self.type, self.code), f"type {self.type} code {self.code}")
        return f"ICMP {self.src_ip} > {self.dst_ip} {what}"


TCP_FLAG_WORDS = {
    "S": "SYN",
    "SA": "SYN-ACK",
    "A": "ACK",
    "RA": "RST",
    "R": "RST",
    "FA": "FIN-ACK",
    "PA": "PSH-ACK",  # data: tcp_push() marks the last segment of a write() with PSH
}


def carries(payload: Arp | Tcp | Icmp | Udp | None) -> str:
    """What a frame carries, in the words a post uses: 'ARP request', 'SYN', 'RST', ...

    The lab names a captured frame the same way (netsim.lab.capture.carries), so the two compare.
    """
    if isinstance(payload, Arp):
        return "ARP request" if payload.op == ARP_REQUEST else "ARP reply"
    if isinstance(payload, Tcp):
        return TCP_FLAG_WORDS[payload.flags]
    if isinstance(payload, Icmp):
        return "ICMP " + ICMP_WORDS.get((payload.type, payload.code), f"type {payload.type} code {payload.code}")
    if isinstance(payload, Udp):
        return "DNS answer" if payload.payload.response else "DNS query"
    return "test frame"


def initial_sequence(src_ip: str, dst_ip: str, sport: int, dport: int) -> int:
    """A deterministic stand-in for the kernel's random initial sequence number."""
    digest = 2166136261
    for ch in f"{src_ip}:{sport}>{dst_ip}:{dport}":
        digest = ((digest ^ ord(ch)) * 16777619) & 0xFFFFFFFF
    return digest


@dataclass(frozen=True)
class Frame:
    src: str
    dst: str
    payload: Arp | Tcp | Icmp | Udp | None = None

    @property
    def ethertype(self) -> int:
        if isinstance(self.payload, Arp):
            return ETH_P_ARP
        return ETH_P_IP if isinstance(self.payload, Tcp | Icmp | Udp) else ETH_P_TEST

    def summary(self) -> str:
        if self.payload is not None:
            return self.payload.summary()
        return "test frame" + (" (broadcast)" if self.dst == BROADCAST else "")
