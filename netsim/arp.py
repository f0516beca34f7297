"""ARP (net/ipv4/arp.c): asking the room who owns an address, and answering for yourself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsim.addresses import BROADCAST, ZERO_MAC
from netsim.frames import ARP_REPLY, ARP_REQUEST, Arp, Frame
from netsim.neighbour import (
    DELAY_FIRST_PROBE,
    MCAST_SOLICIT,
    RETRANS_TIME,
    UCAST_SOLICIT,
    Neighbour,
)

if TYPE_CHECKING:
    from netsim.netns import Namespace
    from netsim.simulation import Simulation


def receive(sim: Simulation, ns: Namespace, dev: str, arp: Arp) -> None:
    """arp_process(): learn from what is heard, answer requests for our own addresses."""
    iface = ns.ifaces[dev]
    mine = arp.target_ip in {str(a) for a in ns.local_addresses()}
    existing = ns.neigh.get(arp.sender_ip)
    if arp.op == ARP_REQUEST and mine:
        # The replier learns the asker (STALE), then answers unicast: it will need the way back.
        ns.neigh.update(arp.sender_ip, dev, arp.sender_mac, "STALE", sim.now, create=True)
        reply = Arp(ARP_REPLY, iface.mac, arp.target_ip, arp.sender_mac, arp.sender_ip)
        sim.event(f"{ns.label} answers: {arp.target_ip} is at {iface.mac}")
        sim.transmit(ns, dev, Frame(iface.mac, arp.sender_mac, reply))
        return
    if existing is None:
        # Bystanders and unsolicited replies create nothing (arp_accept is 0 by default).
        what = "a request for someone else" if arp.op == ARP_REQUEST else "a reply it never asked for"
        sim.event(f"{ns.label} ignores {what}")
        return
    was_waiting = existing.state in ("INCOMPLETE", "PROBE")
    state = "REACHABLE" if arp.op == ARP_REPLY else "STALE"
    ns.neigh.update(arp.sender_ip, dev, arp.sender_mac, state, sim.now, create=False)
    if was_waiting and existing.state == "REACHABLE":
        sim.event(f"{ns.label} learns {arp.sender_ip} is at {arp.sender_mac}")
        parked, existing.parked = existing.parked, []
        for out_dev, frame_for in parked:
            sim.transmit(ns, out_dev, frame_for(arp.sender_mac))


def resolve(sim: Simulation, ns: Namespace, dev: str, ip: str) -> Neighbour:
    """Find (or start finding) the MAC for `ip`; the kernel's neigh_event_send()."""
    entry = ns.neigh.get(ip)
    state = entry.current_state(sim.now) if entry else None
    if entry is not None and state == "STALE":
        # Using a stale entry is allowed; it is checked DELAY_FIRST_PROBE later unless confirmed.
        entry.state = "DELAY"
        sim.schedule(DELAY_FIRST_PROBE, lambda: _delay_expired(sim, ns, entry))
        return entry
    if entry is not None and state in ("REACHABLE", "DELAY", "PROBE", "INCOMPLETE"):
        return entry
    entry = ns.neigh.entries[ip] = Neighbour(ip, dev, None, "INCOMPLETE", reachable_time=ns.neigh.reachable_time)
    _solicit(sim, ns, entry)
    return entry


def _request(ns: Namespace, dev: str, ip: str, dst_mac: str) -> Frame:
    iface = ns.ifaces[dev]
    arp = Arp(ARP_REQUEST, iface.mac, ns.source_address(dev), ZERO_MAC, ip)
    return Frame(iface.mac, dst_mac, arp)


def _solicit(sim: Simulation, ns: Namespace, entry: Neighbour) -> None:
    """One more request: broadcast while INCOMPLETE, unicast to the old MAC while PROBE."""
    entry.probes += 1
    dst = BROADCAST if entry.state == "INCOMPLETE" else (entry.mac or BROADCAST)
    sim.transmit(ns, entry.dev, _request(ns, entry.dev, entry.ip, dst))
    sim.schedule(RETRANS_TIME, lambda: _retransmit(sim, ns, entry))


def _retransmit(sim: Simulation, ns: Namespace, entry: Neighbour) -> None:
    if entry.state not in ("INCOMPLETE", "PROBE") or ns.neigh.get(entry.ip) is not entry:
        return
    limit = MCAST_SOLICIT if entry.state == "INCOMPLETE" else UCAST_SOLICIT
    if entry.probes < limit:
        _solicit(sim, ns, entry)
        return
    entry.state = "FAILED"
    sim.event(f"{ns.label} gives up on {entry.ip} after {entry.probes} unanswered requests")
    entry.parked = []  # the waiting packets are dropped and their senders told EHOSTUNREACH
    sim.unreachable(ns, entry.ip)


def _delay_expired(sim: Simulation, ns: Namespace, entry: Neighbour) -> None:
    if entry.state != "DELAY":
        return  # confirmed in the meantime
    entry.state, entry.probes = "PROBE", 0
    _solicit(sim, ns, entry)
