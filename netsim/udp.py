"""UDP's half of the story (net/ipv4/udp.c): which socket a datagram finds, and what happens when none.

Two kinds of socket exist in netsim: a DNS server bound to ADDRESS:53 (netsim.dns) and a resolver's
socket waiting for its answer. A datagram nobody is bound to gets ICMP port unreachable back
(__udp4_lib_rcv() -> icmp_send(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH)); on a connected socket (the C
library connects its DNS socket to the nameserver) that error ends the wait with ECONNREFUSED.
Like TCP, UDP never sends on its own: it answers IP (netsim.ipv4) with the packets to send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from netsim.frames import (
    DNS_PORT,
    ICMP_DEST_UNREACH,
    ICMP_PARAMETERPROB,
    ICMP_PORT_UNREACH,
    ICMP_TIME_EXCEEDED,
    ICMP_WORDS,
    Dns,
    Icmp,
    Udp,
)

if TYPE_CHECKING:
    from netsim.netns import Namespace
    from netsim.stack import Stack


@dataclass
class Waiting:
    """A resolver's connected UDP socket: its query, and what came back (an answer, or an error that
    ended the wait: `refused`)."""

    query: Udp
    answer: Dns | None = None
    refused: bool = False

    @property
    def done(self) -> bool:
        return self.answer is not None or self.refused


def receive(stack: Stack, ns: Namespace, packet: Udp) -> list[Udp | Icmp]:
    """__udp4_lib_rcv(): hand the datagram to its socket; the packets to send back."""
    server = ns.dns_servers.get(packet.dst_ip) if packet.dport == DNS_PORT else None
    if server is not None and not packet.payload.response:
        reply = server.answer(packet.payload)
        stack.event(f"{ns.label}'s DNS server on {server.listen} answers: {reply.summary()}")
        return [Udp(packet.dst_ip, packet.src_ip, DNS_PORT, packet.sport, reply)]
    waiting = ns.udp_waiting.get((packet.dst_ip, packet.dport))
    if waiting is not None and (packet.src_ip, packet.sport) == (waiting.query.dst_ip, waiting.query.dport):
        waiting.answer = packet.payload
        return []
    stack.event(f"nobody in {ns.label} listens on UDP {packet.dst_ip}:{packet.dport}: port unreachable")
    return [Icmp(packet.dst_ip, packet.src_ip, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, packet)]


def error(stack: Stack, ns: Namespace, icmp: Icmp) -> None:
    """__udp4_lib_err(): an ICMP error about a datagram reaches its connected socket.

    The C library turns on IP_RECVERR for its DNS sockets (glibc's __res_enable_icmp(), res_send.c, since
    2.30), so every error ends the wait, not just the "hard" ones (port unreachable): a host or network
    unreachable and a time exceeded too (sk->sk_err, then send_dg() goes on to the next nameserver).
    """
    sent = icmp.original
    waiting = ns.udp_waiting.get((sent.src_ip, sent.sport))
    if waiting is None or icmp.type not in (ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED, ICMP_PARAMETERPROB):
        return
    waiting.refused = True
    if icmp.type == ICMP_DEST_UNREACH and icmp.code == ICMP_PORT_UNREACH:
        stack.event(f"{ns.label}'s resolver hears: nobody answers DNS at {sent.dst_ip} (connection refused)")
    else:
        words = ICMP_WORDS.get((icmp.type, icmp.code), f"ICMP {icmp.type}/{icmp.code}")
        stack.event(f"{ns.label}'s resolver hears an ICMP error about {sent.dst_ip} ({words}): it asks no more there")
