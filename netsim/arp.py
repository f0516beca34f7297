"""ARP (net/ipv4/arp.c): asking the room who owns an address, and answering for yourself."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from netsim.addresses import BROADCAST, LOOPBACK_NET, ZERO_MAC
from netsim.frames import ARP_REPLY, ARP_REQUEST, Arp, Frame
from netsim.neighbour import LOCKTIME, UCAST_SOLICIT, Neighbour, Parked

LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
ANY = ipaddress.IPv4Address("0.0.0.0")

if TYPE_CHECKING:
    from netsim.netns import Namespace


class Link(Protocol):
    """The narrow interface ARP uses: the clock, a way onto the wire, a line for the story."""

    now: float

    def schedule(self, delay: float, callback: Callable[[], bool | None], name: str = "a timer") -> None: ...

    def transmit(self, ns: Namespace, dev: str, frame: Frame) -> None: ...

    def event(self, text: str) -> None: ...

    def refill(self, at: float, what: str) -> None: ...

    def passed_at(self, since: float, seconds: float, *, after: bool = False) -> float: ...

    def unreachable(self, ns: Namespace, packets: list[object]) -> None: ...


class ArpOps:
    """arp_hh_ops for one namespace: how the neighbour table probes, sends and gives up."""

    def __init__(self, link: Link, ns: Namespace) -> None:
        self.link, self.ns = link, ns

    def solicit(self, entry: Neighbour) -> None:
        """arp_solicit(): broadcast while INCOMPLETE; unicast to the old MAC while PROBE."""
        unicast = entry.probes < UCAST_SOLICIT and entry.mac is not None
        dst = entry.mac if unicast and entry.mac else BROADCAST
        iface = self.ns.ifaces[entry.dev]
        arp = Arp(ARP_REQUEST, iface.mac, self.sender_address(entry), ZERO_MAC, entry.ip)
        self.link.transmit(self.ns, entry.dev, Frame(iface.mac, dst, arp))

    def constructor(self, entry: Neighbour) -> None:
        """arp_constructor() (net/ipv4/arp.c): the entry's type is inet_addr_type_dev_table() of its
        address on its device. A multicast address is NUD_NOARP with its mapped MAC (arp_mc_map());
        a broadcast one (255.255.255.255, 0.0.0.0, or a broadcast route of the local table) is
        NUD_NOARP with the device's broadcast MAC. Such an entry is never asked for, never times
        out, and no ARP packet changes it (__neigh_update() without ADMIN). The lookup ignores the
        device (inet_addr_type_dev_table() passes NULL to __inet_dev_addr_type(), fib_frontend.c):
        the broadcast address of another interface's subnet is NOARP here too, so a request
        claiming it as its sender teaches nothing."""
        ip = ipaddress.IPv4Address(entry.ip)
        if ip.is_multicast:
            entry.state, entry.mac = "NOARP", multicast_mac(ip)
        elif ip in (LIMITED_BROADCAST, ANY) or ip in self.ns.broadcast_addresses():
            entry.state, entry.mac = "NOARP", BROADCAST

    def sender_address(self, entry: Neighbour) -> str:
        """The address a request says it is from: arp_solicit() with arp_announce 0 takes the source
        of the packet waiting last in arp_queue when that is any local address of the host (127.0.0.1
        included: inet_addr_type_dev_table() finds it RTN_LOCAL), else inet_select_addr() on the
        device. So a SYN from 127.0.0.1 let out by route_localnet asks "tell 127.0.0.1", and a SYN-ACK
        from an address of a prefix put on lo "tell" that address."""
        waiting = entry.parked[-1].packet if entry.parked else None
        src = getattr(waiting, "src_ip", None)
        if src is not None and self.ns.is_local(ipaddress.IPv4Address(src)):
            return str(src)
        return self.ns.source_address(entry.dev, entry.ip)

    def output(self, entry: Neighbour, parked: list[Parked]) -> None:
        if parked:
            self.link.event(f"{self.ns.label} learns {entry.ip} is at {entry.mac}")
        for packet in parked:
            # neigh_update_process_arp_queue() (net/core/neighbour.c) hands each one to n->output:
            # neigh_connected_output() once REACHABLE, but neigh_resolve_output() for an entry a
            # request or a broadcast reply made STALE, whose neigh_event_send() makes it DELAY at once.
            self.ns.neigh.output(entry, packet)
            assert entry.mac is not None
            self.link.transmit(self.ns, packet.dev, packet.frame_for(entry.mac))  # type: ignore[arg-type]

    def error_report(self, entry: Neighbour, parked: list[Parked]) -> None:
        self.link.event(f"{self.ns.label} gives up on {entry.ip}: nobody answered")
        self.link.unreachable(self.ns, [p.packet for p in parked])


def receive(link: Link, ns: Namespace, dev: str, arp: Arp, to_me: bool) -> None:
    """arp_process(): answer requests for our own addresses; update entries we already have.

    `to_me` is the frame's pkt_type: PACKET_HOST (unicast to this interface) or a broadcast.
    """
    iface = ns.ifaces[dev]
    own = {str(a) for a in ns.local_addresses()}
    target = ipaddress.IPv4Address(arp.target_ip)
    # ip_route_input_noref() (inet_addr_type_dev_table() for a probe) asks the local table, where 127/8
    # (past the check below only with route_localnet) and any prefix put on lo are RTN_LOCAL.
    mine = ns.is_local(target)
    if target.is_multicast or (target in LOOPBACK_NET and dev not in ns.route_localnet):
        # arp_process() drops "bad requests for 127.x.x.x and requests for multicast addresses"
        # (and replies naming such a target) before anything else: no answer, nothing learned.
        link.event(f"{ns.label} drops an ARP packet for {arp.target_ip}: no answer, nothing learned")
        return
    if arp.sender_ip == "0.0.0.0":
        # arp_process(): "IPv4 duplicate address detection packet (RFC2131)": a probe (arping -D)
        # is answered, to the prober's MAC and for 0.0.0.0, when the address is ours; nobody learns
        # anything from it (it returns before neigh_event_ns()).
        if arp.op == ARP_REQUEST and mine:
            reply = Arp(ARP_REPLY, iface.mac, arp.target_ip, arp.sender_mac, arp.sender_ip)
            link.event(f"{ns.label} answers a probe: {arp.target_ip} is at {iface.mac}")
            link.transmit(ns, dev, Frame(iface.mac, arp.sender_mac, reply))
        return
    answer = arp.op == ARP_REQUEST and mine
    if answer and _martian_sender(ns, dev, arp.sender_ip):
        # ip_route_input_noref(skb, tip, sip, ...) fails for a sender no packet may come from
        # (ip_route_input_slow(), net/ipv4/route.c: a 127/8 source without route_localnet on this
        # device, a multicast or limited broadcast one), so arp_process() does not answer; it goes
        # on to "Update our ARP tables", where only an entry it already has changes.
        link.event(f"{ns.label} does not answer a request from {arp.sender_ip}: a martian source on {dev}")
        answer = False
    elif answer and arp.sender_ip in own:
        # A request that claims one of our own addresses as its sender (someone announcing our
        # address): ip_route_input_noref() fails, fib_validate_source() finding the source local
        # (inet_lookup_ifaddr_rcu(): a martian source), so there is no answer (and no entry to update).
        link.event(f"{ns.label} hears its own address {arp.sender_ip} claimed by {arp.sender_mac}: no answer")
        answer = False
    if answer:
        # neigh_event_ns(): the replier learns the asker (STALE, overriding any old MAC) and answers
        # unicast; it will need the way back. The weak host model: any of its addresses counts.
        entry = ns.neigh.lookup(arp.sender_ip, dev)
        ns.neigh.update(entry, arp.sender_mac, "STALE", override=True)
        reply = Arp(ARP_REPLY, iface.mac, arp.target_ip, arp.sender_mac, arp.sender_ip)
        link.event(f"{ns.label} answers: {arp.target_ip} is at {iface.mac}")
        link.transmit(ns, dev, Frame(iface.mac, arp.sender_mac, reply))
        return
    entry = ns.neigh.get(arp.sender_ip, dev)
    if entry is None:
        # Bystanders and unsolicited replies create nothing (arp_accept is 0 by default).
        what = "a request for someone else" if arp.op == ARP_REQUEST else "a reply it never asked for"
        if not mine or arp.op != ARP_REQUEST:  # a request for us it did not answer has its line already
            link.event(f"{ns.label} ignores {what}")
        return
    # A gratuitous ARP (sender and target the same address) always overrides; any other different
    # answer only once `locktime` has passed since the entry last changed: the first answer wins.
    # The kernel asks time_after(jiffies, n->updated + locktime), in whole ticks: 251 at HZ 250.
    # arp_is_garp(): a gratuitous reply must also name its sender's MAC as the target's, and the
    # address must be a unicast one (inet_addr_type_dev_table(): RTN_UNICAST; the entry being there
    # already rules out our own addresses and the subnet's broadcast, NOARP).
    garp = arp.sender_ip == arp.target_ip and (arp.op == ARP_REQUEST or arp.target_mac == arp.sender_mac)
    unlocked = link.passed_at(entry.updated, LOCKTIME, after=True)
    override = link.now >= unlocked or garp
    # Only a unicast reply proves reachability; requests and broadcast replies leave it STALE.
    state = "REACHABLE" if arp.op == ARP_REPLY and to_me else "STALE"
    before = entry.mac
    if not ns.neigh.update(entry, arp.sender_mac, state, override=override) and before not in (None, arp.sender_mac):
        link.event(f"{ns.label} keeps {arp.sender_ip} at {before}: a different answer inside locktime is ignored")
        if not override:  # an answer a late timer sent after locktime had passed would have won (neigh_update())
            link.refill(unlocked, f"{ns.label}'s locktime for {arp.sender_ip} ran out")


def _martian_sender(ns: Namespace, dev: str, sender: str) -> bool:
    # ip_route_input_slow(): a multicast or limited-broadcast source goes to martian_source. A
    # subnet's broadcast address is no martian: it passes, and the asker's entry is made NOARP
    # (ArpOps.constructor()); nor is 0.1.2.3 to a current kernel, which takes 0.0.0.0/8 but 0.0.0.0
    # as unicast (the lab's 6.18 answers it and learns it STALE: lab scenario arp-senders-crafted).
    ip = ipaddress.IPv4Address(sender)
    loopback = ip in LOOPBACK_NET and dev not in ns.route_localnet
    return loopback or ip.is_multicast or ip == LIMITED_BROADCAST


def multicast_mac(ip: ipaddress.IPv4Address) -> str:
    """ip_eth_mc_map(): 01:00:5e, then the group's low 23 bits."""
    low = int(ip) & 0x7FFFFF
    return f"01:00:5e:{low >> 16:02x}:{(low >> 8) & 0xFF:02x}:{low & 0xFF:02x}"


def resolve(ns: Namespace, dev: str, ip: str, parked: Parked | None = None) -> Neighbour:
    """neigh_event_send() for `ip` on `dev`: use the entry, resolving it first if needed."""
    entry = ns.neigh.lookup(ip, dev)
    ns.neigh.event_send(entry, parked)
    return entry
