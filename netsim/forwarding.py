"""A host as a router: what happens to a packet that is not for this host.

The decision of net/ipv4/route.c (ip_route_input_slow(), ip_error()) and ip_forward.c
(ip_forward()), without the sending: netsim.ipv4 acts on the answer.

- Forwarding off (net.ipv4.ip_forward = 0, a new namespace's default): the packet is dropped
  without a word; ip_error() sends ICMP only when the device forwards.
- No route to the destination: ICMP destination unreachable, code network unreachable.
- TTL 1 or less: ICMP time exceeded; the packet is not forwarded.
- Otherwise: TTL minus one, out of the interface the route names, to its gateway or on-link.

ICMP is never sent about an ICMP error (icmp.c, icmp_send()), so errors die quietly.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from netsim import routing
from netsim.frames import (
    ICMP_DEST_UNREACH,
    ICMP_EXC_TTL,
    ICMP_HOST_UNREACH,
    ICMP_NET_UNREACH,
    ICMP_TIME_EXCEEDED,
    Icmp,
    Tcp,
    Udp,
)

if TYPE_CHECKING:
    from netsim.netns import Namespace


@dataclass(frozen=True)
class Forward:
    packet: Tcp | Icmp | Udp  # with its TTL already decremented
    dev: str
    neighbour: str


@dataclass(frozen=True)
class Refuse:
    why: str
    answer: Icmp | None = None  # the router's own ICMP error, if it sends one
    no_route: bool = False  # ip_error()'s answer, which has its own rate limit (netsim.icmp.ip_error_allow())


def decide(ns: Namespace, indev: str, packet: Tcp | Icmp | Udp) -> Forward | Refuse:
    """What this host does with a packet that arrived on `indev` for someone else."""
    if not ns.ip_forward:
        return Refuse(f"{ns.label} does not forward (net.ipv4.ip_forward is 0): the packet is dropped")
    hop = routing.lookup(ipaddress.IPv4Address(packet.dst_ip), ns.local_addresses(), ns.routes)
    if hop is None or hop.neighbour is None:
        why = f"{ns.label} has no route to {packet.dst_ip}"
        return Refuse(why, _error(ns, packet, ICMP_DEST_UNREACH, ICMP_NET_UNREACH), no_route=True)
    if packet.ttl <= 1:
        # ip_forward(): "if (ip_hdr(skb)->ttl <= 1) goto too_many_hops;"
        why = f"the packet's time to live runs out at {ns.label}"
        return Refuse(why, _error(ns, packet, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL))
    return Forward(replace(packet, ttl=packet.ttl - 1), hop.dev, hop.neighbour)


def host_unreachable(ns: Namespace, packet: Tcp | Icmp | Udp) -> Icmp | None:
    """The router's answer when the next hop never answered ARP: neigh_invalidate() hands each
    waiting packet to arp_error_report() -> ipv4_link_failure(), which sends ICMP destination
    unreachable, code host unreachable (net/core/neighbour.c, net/ipv4/arp.c, route.c)."""
    return _error(ns, packet, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH)


def _error(ns: Namespace, packet: Tcp | Icmp | Udp, kind: int, code: int) -> Icmp | None:
    if isinstance(packet, Icmp):
        return None
    # icmp_send() with icmp_errors_use_inbound_ifaddr = 0: the source is picked by the route back.
    back = routing.lookup(ipaddress.IPv4Address(packet.src_ip), set(), ns.routes)
    if back is None:
        return None
    # icmp_send(): saddr 0 for a packet not for us, so the route back picks it (fib_select_path():
    # its src, else inet_select_addr() toward its gateway, fib_result_prefsrc()).
    return Icmp(back.src or ns.source_address(back.dev, back.toward), packet.src_ip, kind, code, packet)
