"""IPv4 in and out (ip_input.c, ip_output.c): martians, local delivery, route and neighbour."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING

from netsim import routing, tcp
from netsim.addresses import LOOPBACK_NET
from netsim.frames import ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, Frame, Icmp, Tcp
from netsim.neighbour import Parked

if TYPE_CHECKING:
    from netsim.netns import Namespace
    from netsim.simulation import Simulation


def receive(sim: Simulation, ns: Namespace, dev: str, seg: Tcp) -> None:
    src, dst = ipaddress.IPv4Address(seg.src_ip), ipaddress.IPv4Address(seg.dst_ip)
    if dev != "lo" and (src in LOOPBACK_NET or dst in LOOPBACK_NET):
        # A martian: 127/8 belongs to lo alone (route_localnet is 0 by default).
        sim.event(f"{ns.label} drops a packet for {dst} that arrived on {dev}: 127/8 lives on lo only")
        return
    if dst not in ns.local_addresses() and dst not in LOOPBACK_NET:
        # Simplification: netsim hosts do not forward (ip_forward is 0), so this is dropped.
        sim.event(f"{ns.label} drops a packet for {dst}: not one of its addresses")
        return
    if dev != "lo" and seg.dport in ns.drop_tcp_ports:
        sim.event(f"{ns.label}'s firewall silently drops {seg.summary()}")
        return
    if dev != "lo" and seg.dport in ns.reject_tcp_ports:
        # nft's `reject with icmp type port-unreachable`: a polite no, from the firewall this time.
        sim.event(f"{ns.label}'s firewall rejects {seg.summary()} with ICMP port unreachable")
        output(sim, ns, Icmp(seg.dst_ip, seg.src_ip, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, seg))
        return
    tcp.receive(sim, ns, dev, seg)


def receive_icmp(sim: Simulation, ns: Namespace, dev: str, icmp: Icmp) -> None:
    """An ICMP error reaches the socket whose packet it quotes (tcp_v4_err)."""
    if icmp.dst_ip not in {str(a) for a in ns.local_addresses()}:
        return
    tcp.error(sim, ns, icmp)


def output(sim: Simulation, ns: Namespace, seg: Tcp | Icmp) -> routing.NextHop | None:
    """Send a segment: route it, then hand it to lo or to the neighbour layer."""
    hop = route(ns, seg.dst_ip)
    if hop is None:
        return None
    if hop.kind == "local":
        if not ns.lo_up():
            # The local route still points at lo; __dev_queue_xmit() drops for a device that is down.
            sim.event(f"{ns.label} sends {seg.summary()} through lo, which is down: it is dropped")
            return hop
        sim.event(f"{ns.label} sends {seg.summary()} through lo")
        sim.loopback(ns, seg)
        return hop
    iface = ns.ifaces[hop.dev]
    assert hop.neighbour is not None

    def frame_for(mac: str) -> Frame:
        return Frame(iface.mac, mac, seg)

    send_via_neighbour(sim, ns, hop.dev, hop.neighbour, frame_for, seg)
    return hop


def route(ns: Namespace, dst: str) -> routing.NextHop | None:
    return routing.lookup(ipaddress.IPv4Address(dst), ns.local_addresses(), ns.routes)


def send_via_neighbour(
    sim: Simulation, ns: Namespace, dev: str, ip: str, frame_for: Callable[[str], Frame], packet: object = None
) -> None:
    """neigh_output(): through the neighbour entry; a packet waits in arp_queue while INCOMPLETE."""
    entry = ns.neigh.lookup(ip, dev)
    if ns.neigh.event_send(entry, Parked(dev, frame_for, packet)):
        return
    assert entry.mac is not None
    sim.transmit(ns, dev, frame_for(entry.mac))


def nexthop(ns: Namespace, ip: str) -> str:
    """The neighbour a packet for `ip` is handed to: the gateway, or `ip` itself on-link."""
    hop = route(ns, ip)
    return hop.neighbour if hop is not None and hop.neighbour else ip
