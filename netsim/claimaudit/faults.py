"""Deliberate faults in netsim, one or two per mechanism, for the claim audit.

Each fault swaps one function or constant of a mechanism module for a wrong version, for as long
as the audit runs one simulation under it. Names say what the broken simulator would believe.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from netsim import (
    arp,
    bridge,
    dns,
    fdb,
    ipv4,
    neighbour,
    netfilter,
    resolver,
    routing,
    simulation,
    sshforward,
    tcp,
    udp,
)
from netsim.frames import ARP_REQUEST, DNS_NXDOMAIN, Dns, Icmp, Tcp

Patch = tuple[Any, str, Any]  # (object, attribute, replacement)


@dataclass(frozen=True)
class Fault:
    name: str
    mechanism: str
    what: str  # the wrong belief, in words
    patches: Callable[[], list[Patch]]

    @contextmanager
    def applied(self) -> Iterator[None]:
        patches = self.patches()
        for obj, attr, _ in patches:  # a renamed mechanism must not leave a fault that patches nothing
            if not hasattr(obj, attr):
                raise AttributeError(f"fault {self.name} patches {getattr(obj, '__name__', obj)}.{attr}, which is gone")
        saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in patches]
        try:
            for obj, attr, value in patches:
                setattr(obj, attr, value)
            yield
        finally:
            for obj, attr, value in reversed(saved):
                setattr(obj, attr, value)


# --- bridge ------------------------------------------------------------------------------------


def _no_learning() -> list[Patch]:
    return [(fdb.Fdb, "learn", lambda self, mac, port, now: "")]


def _never_forgets() -> list[Patch]:
    return [(fdb.Fdb, "expired", lambda self, entry, now: False)]


def _refresh_keeps_time() -> list[Patch]:
    original = fdb.Fdb.learn

    def learn(self: fdb.Fdb, mac: str, port: str, now: float) -> str:
        entry = self.entries.get(mac)
        kept = entry.updated if entry is not None else None
        result = original(self, mac, port, now)
        if kept is not None and mac in self.entries:
            self.entries[mac].updated = kept
        return result

    return [(fdb.Fdb, "learn", learn)]


def _flood_back_out() -> list[Patch]:
    def flood_everywhere(self: bridge.Bridge, in_port: str | None, flag: str | None) -> tuple[str, ...]:
        # flag None: every enabled port (a frame the host itself sends), as _flood_ports() reads it
        return tuple(
            name
            for name, flags in reversed(self.ports.items())
            if (flag is None or getattr(flags, flag)) and flags.enabled
        )

    return [(bridge.Bridge, "_flood_ports", flood_everywhere)]


def _unknown_dropped() -> list[Patch]:
    original = bridge.Bridge.receive

    def receive(self: bridge.Bridge, frame: Any, in_port: str, now: float) -> bridge.Decision:
        d = original(self, frame, in_port, now)
        if d.decision == "flood" and not d.to_host:
            return bridge.Decision("drop", (), "unknown destination dropped", d.learned)
        return d

    return [(bridge.Bridge, "receive", receive)]


def _broadcast_as_unicast() -> list[Patch]:
    return [(bridge, "is_broadcast", lambda mac: False), (bridge, "is_group", lambda mac: False)]


def _group_to_host_only() -> list[Patch]:
    original = bridge.Bridge.receive

    def receive(self: bridge.Bridge, frame: Any, in_port: str, now: float) -> bridge.Decision:
        d = original(self, frame, in_port, now)
        if bridge.is_group(frame.dst) and d.decision == "flood":
            return bridge.Decision("local", (), "group frames are for the host", d.learned, self.name)
        return d

    return [(bridge.Bridge, "receive", receive)]


def _group_source_accepted() -> list[Patch]:
    return [(bridge, "is_valid_source", lambda mac: True)]


def _group_address_worn() -> list[Patch]:
    return [(simulation, "refuses_as_address", lambda mac: False)]  # as if is_valid_ether_addr() passed all


# --- ARP and the neighbour table -------------------------------------------------------------------


def _replier_forgets_asker() -> list[Patch]:
    original = arp.receive

    def receive(link: Any, ns: Any, dev: str, packet: Any, to_me: bool) -> None:
        known = ns.neigh.get(packet.sender_ip, dev) is not None
        original(link, ns, dev, packet, to_me)
        if packet.op == ARP_REQUEST and not known:
            ns.neigh.entries.pop((packet.sender_ip, dev), None)  # answers, but notes nothing

    return [(arp, "receive", receive)]


def _bystanders_learn() -> list[Patch]:
    original = arp.receive

    def receive(link: Any, ns: Any, dev: str, packet: Any, to_me: bool) -> None:
        if packet.op == ARP_REQUEST and ns.neigh.get(packet.sender_ip, dev) is None:
            entry = ns.neigh.lookup(packet.sender_ip, dev)
            ns.neigh.update(entry, packet.sender_mac, "STALE", override=True)
        original(link, ns, dev, packet, to_me)

    return [(arp, "receive", receive)]


def _answer_leaves_stale() -> list[Patch]:
    original = neighbour.NeighbourTable.update

    def update(self: neighbour.NeighbourTable, entry: Any, mac: str, new: str, *, override: bool) -> bool:
        return original(self, entry, mac, "STALE" if new == "REACHABLE" else new, override=override)

    return [(neighbour.NeighbourTable, "update", update)]


def _one_question_only() -> list[Patch]:
    return [(neighbour.NeighbourTable, "_max_probes", lambda self, entry: 1)]


def _slow_questions() -> list[Patch]:
    return [(neighbour, "RETRANS_TIME", 3.0)]


# --- sockets, TCP and ICMP --------------------------------------------------------------------------


def _lookup_ignores_address() -> list[Patch]:
    def any_address(listeners: set[tuple[str, int]], dst_ip: str, dport: int) -> tuple[str, int] | None:
        return next((entry for entry in sorted(listeners) if entry[1] == dport), None)

    return [(tcp, "find_listener", any_address)]


def _wildcard_first() -> list[Patch]:
    def wildcard_first(listeners: set[tuple[str, int]], dst_ip: str, dport: int) -> tuple[str, int] | None:
        if ("0.0.0.0", dport) in listeners:
            return ("0.0.0.0", dport)
        return (dst_ip, dport) if (dst_ip, dport) in listeners else None

    return [(tcp, "find_listener", wildcard_first)]


def _no_wildcard() -> list[Patch]:
    def exact_only(listeners: set[tuple[str, int]], dst_ip: str, dport: int) -> tuple[str, int] | None:
        return (dst_ip, dport) if (dst_ip, dport) in listeners else None

    return [(tcp, "find_listener", exact_only)]


def _nonlocal_bind() -> list[Patch]:
    original = tcp.bind_error

    def bind_error(local: set[str], listeners: set[tuple[str, int]], addr: str, port: int, *rest: Any) -> str | None:
        return original(local | {addr}, listeners, addr, port, *rest)  # as with ip_nonlocal_bind=1

    return [(tcp, "bind_error", bind_error)]


def _wildcard_shares_port() -> list[Patch]:
    original = tcp.bind_error

    def bind_error(local: set[str], listeners: set[tuple[str, int]], addr: str, port: int, *rest: Any) -> str | None:
        same = {(a, p) for a, p in listeners if a == addr}
        return original(local, same, addr, port, *rest)  # only an identical address conflicts

    return [(tcp, "bind_error", bind_error)]


def _no_reset() -> list[Patch]:
    original = tcp.receive

    def receive(stack: Any, ns: Any, seg: Tcp) -> Any:
        if seg.flags == "S" and tcp.find_listener(ns.listeners, seg.dst_ip, seg.dport) is None:
            return tcp.Answer()  # a host that says nothing when nobody listens
        return original(stack, ns, seg)

    return [(tcp, "receive", receive)]


def _icmp_ignored() -> list[Patch]:
    return [(tcp, "error", lambda sim, ns, icmp: tcp.Answer())]


def _classic_doubling() -> list[Patch]:
    times, timeout = tcp.retransmit_times, tcp.syn_timeout
    return [
        (tcp, "retransmit_times", lambda retries, linear=0: times(retries, 0)),
        (tcp, "syn_timeout", lambda retries, linear=0: timeout(retries, 0)),
    ]


def _answered_with_port_unreachable(ports: str) -> Callable[[], list[Patch]]:
    """A firewall whose rule for the ports in `ns.<ports>` answers with ICMP port unreachable."""

    def patches() -> list[Patch]:
        original = netfilter.hook

        def hook(
            stack: Any, ns: Any, where: str, skb: Any, indev: Any = None, outdev: Any = None, nexthop: Any = None
        ) -> Any:
            seg = skb.packet
            if where == netfilter.INPUT and indev != "lo" and isinstance(seg, Tcp) and seg.dport in getattr(ns, ports):
                return netfilter.Verdict(None, Icmp(seg.dst_ip, seg.src_ip, 3, 3, seg))
            return original(stack, ns, where, skb, indev, outdev, nexthop)

        return [(netfilter, "hook", hook)]

    return patches


_drop_answers = _answered_with_port_unreachable("drop_tcp_ports")
_reset_as_icmp = _answered_with_port_unreachable("reset_tcp_ports")


def _prohibited_as_refused() -> list[Patch]:
    table = dict(tcp.ICMP_OUTCOME)
    table[(3, 13)] = "refused"
    return [(tcp, "ICMP_OUTCOME", table)]


def _deadline_ignored() -> list[Patch]:
    return [(simulation, "application_deadline", lambda connect: None)]


def _close_keeps_knocking() -> list[Patch]:
    original = simulation.Simulation._retransmit_syn

    def retransmit(self: Any, ns: Any, conn: Any, syn: Tcp, times: list[float], armed: int) -> None:
        if conn.state == "deadline":  # as if close() left the retransmit timer running
            ipv4.output(self, ns, syn)
            self._arm_syn(ns, conn, syn, times)
            return
        original(self, ns, conn, syn, times, armed)

    return [(simulation.Simulation, "_retransmit_syn", retransmit)]


def _close_keeps_listening() -> list[Patch]:
    def close(self: Any, sock: Any) -> None:  # as if close() on a listener left it in the socket table
        self.event(f"{self.namespaces[sock.by].label} stops listening on {sock.bind}")

    return [(simulation.Simulation, "_step_close", close)]


def _no_local_table() -> list[Patch]:
    original = routing.lookup

    def lookup(dst: Any, local: Any, routes: Any, broadcasts: Any = None) -> Any:
        return original(dst, set(), routes)  # as if only the main table existed

    return [(ipv4.routing, "lookup", lookup)]


def _gateway_ignored() -> list[Patch]:
    original = routing.lookup

    def lookup(*args: Any, **kw: Any) -> Any:
        hop = original(*args, **kw)
        if hop is not None and hop.kind == "link":
            return routing.NextHop("link", hop.dev, str(args[0]))
        return hop

    return [(ipv4.routing, "lookup", lookup)]


def _default_everywhere() -> list[Patch]:
    original = routing.lookup

    def lookup(dst: Any, local: Any, routes: Any, broadcasts: Any = None) -> Any:
        hop = original(dst, local, routes, broadcasts)
        if hop is None and routes:
            return routing.NextHop("link", routes[0].dev, str(dst))  # "it just goes out the card"
        return hop

    return [(ipv4.routing, "lookup", lookup)]


def _martians_accepted() -> list[Patch]:
    original = ipv4.receive
    loopback = ipaddress.IPv4Network("127.0.0.0/8")

    def receive(stack: Any, ns: Any, dev: str, packet: Any, pkt_type: str = "host", skb: Any = None) -> None:
        if ipaddress.IPv4Address(packet.dst_ip) in loopback:
            original(stack, ns, "lo", packet, pkt_type, skb)  # as if route_localnet were on everywhere
            return
        original(stack, ns, dev, packet, pkt_type, skb)

    return [(ipv4, "receive", receive)]


def _strong_host() -> list[Patch]:
    original = ipv4.receive

    def receive(stack: Any, ns: Any, dev: str, packet: Any, pkt_type: str = "host", skb: Any = None) -> None:
        iface = ns.ifaces.get(dev)
        if dev != "lo" and iface is not None and packet.dst_ip not in {str(a.ip) for a in iface.addresses}:
            return  # only the address of the interface it came in on
        original(stack, ns, dev, packet, pkt_type, skb)

    return [(ipv4, "receive", receive)]


def _lo_born_up() -> list[Patch]:
    original = simulation.Simulation._add_namespace
    return [(simulation.Simulation, "_add_namespace", lambda self, name, lo_up: original(self, name, True))]


def _shared_loopback() -> list[Patch]:
    def loopback(self: simulation.Simulation, ns: Any, seg: Tcp, skb: Any = None) -> None:
        first = next(iter(self.namespaces.values()))  # the first host: the laptop, in every post
        # Through the simulator's own backlog (_later), as the real loopback() queues it: a patch
        # that wrote to the backlog by hand crashed every run part way and so caught no claim.
        self._later(lambda: ipv4.receive(self, first, "lo", seg))

    return [(simulation.Simulation, "loopback", loopback)]


def _lo_comes_up_empty() -> list[Patch]:
    original = simulation.Simulation._step_link_set

    def link_set(self: simulation.Simulation, change: Any) -> None:
        original(self, change)
        iface = self.namespaces[change.by].ifaces[change.dev]
        if iface.kind == "loopback":
            iface.addresses = []

    return [(simulation.Simulation, "_step_link_set", link_set)]


def _move_arrives_up() -> list[Patch]:
    original = simulation.Simulation._step_link_move

    def move(self: simulation.Simulation, step: Any) -> None:
        original(self, step)
        self.namespaces[step.to].ifaces[step.dev].up = True

    return [(simulation.Simulation, "_step_link_move", move)]


def _rename_draws_a_new_badge() -> list[Patch]:
    original = simulation.Simulation._step_link_rename

    def rename(self: simulation.Simulation, step: Any) -> None:
        original(self, step)
        iface = self.namespaces[step.by].ifaces[step.name]
        first, rest = iface.mac.split(":", 1)  # a new, still unicast, locally administered badge
        iface.mac = f"{int(first, 16) ^ 0x04:02x}:{rest}"

    return [(simulation.Simulation, "_step_link_rename", rename)]


# --- NAT ------------------------------------------------------------------------------------------


def _reply_not_turned_back() -> list[Patch]:
    original = netfilter._nat

    def nat(stack: Any, ns: Any, skb: Any, where: str, outdev: str | None, nexthop: str | None = None) -> bool:
        if skb.direction != netfilter.REPLY:  # only the first direction is ever rewritten
            return original(stack, ns, skb, where, outdev, nexthop)
        return True

    return [(netfilter, "_nat", nat)]


def _hairpin_unmarked() -> list[Patch]:
    return [(netfilter.PortForward, "marks", lambda self, packet: False)]


def _localnet_everywhere() -> list[Patch]:
    return [(ipv4, "LOOPBACK_NET", ipaddress.IPv4Network("0.0.0.0/32"))]


def _question_to_nobody() -> list[Patch]:
    return [(arp, "BROADCAST", "02:00:00:00:00:00")]


# --- ssh -L ------------------------------------------------------------------------------------


def _far_end_unchecked() -> list[Patch]:
    def answer(
        stack: Any, tunnel: sshforward.Tunnel, server: Any, n: int, heard: Callable[[sshforward.Accepted], None]
    ) -> None:
        heard(sshforward.Accepted(n, "connected", ()))  # never asks the server

    return [(sshforward, "answer", answer)]


def _gateway_ports_default() -> list[Patch]:
    original = sshforward.bind_addresses

    def bind_addresses(forward: sshforward.Forward, gateway_ports: bool) -> tuple[str, int]:
        return original(forward, True) if forward.bind is None else original(forward, gateway_ports)

    return [(sshforward, "bind_addresses", bind_addresses)]


# --- names ---------------------------------------------------------------------------------------

NAMES = "name resolution"


def _hosts_file_ignored() -> list[Patch]:
    return [(resolver, "files", lambda lines, name: None)]


def _server_knows_nothing() -> list[Patch]:
    def answer(self: dns.Server, query: Dns) -> Dns:
        return Dns(query.id, query.name, response=True, rcode=DNS_NXDOMAIN)

    return [(dns.Server, "answer", answer)]


def _empty_names_do_not_exist() -> list[Patch]:
    # Before RFC 8020 many servers said NXDOMAIN for a name that has names below it and no data.
    original = dns.Server.answer

    def answer(self: dns.Server, query: Dns) -> Dns:
        reply = original(self, query)
        return reply if reply.answers else Dns(query.id, query.name, response=True, rcode=DNS_NXDOMAIN)

    return [(dns.Server, "answer", answer)]


def _udp_stays_silent() -> list[Patch]:
    original = udp.receive

    def receive(stack: Any, ns: Any, packet: Any) -> list[Any]:
        return [p for p in original(stack, ns, packet) if not isinstance(p, Icmp)]

    return [(udp, "receive", receive)]


FAULTS: tuple[Fault, ...] = (
    Fault("no-learning", "learning", "the bridge never writes a source into its table", _no_learning),
    Fault("far-end-unchecked", "ssh -L", "a tunnel's far end always connects, ssh never closes", _far_end_unchecked),
    Fault("wildcard-by-default", "ssh -L", "with no bind address ssh listens on every address", _gateway_ports_default),
    Fault("never-forgets", "ageing", "learned entries never expire", _never_forgets),
    Fault("refresh-keeps-time", "ageing", "seeing a badge again does not restart its clock", _refresh_keeps_time),
    Fault("flood-back-out", "flooding", "a flood also goes back out of the port it came in by", _flood_back_out),
    Fault("unknown-dropped", "flooding", "a frame for an unknown badge is dropped, not flooded", _unknown_dropped),
    Fault("broadcast-as-unicast", "broadcast", "ff:ff:ff:ff:ff:ff is looked up like any badge", _broadcast_as_unicast),
    Fault("group-to-host-only", "broadcast", "a frame for everyone goes up to the host alone", _group_to_host_only),
    Fault("group-source-accepted", "broadcast", "a frame signed with a group badge is learned", _group_source_accepted),
    Fault("group-address-worn", "MAC addresses", "a card may be given a group or all-zero MAC", _group_address_worn),
    Fault("question-to-nobody", "ARP asker", "the question goes to one unknown badge, not to all", _question_to_nobody),
    Fault("replier-forgets-asker", "ARP replier", "the replier does not note the asker", _replier_forgets_asker),
    Fault("bystanders-learn", "ARP bystander", "everyone who hears a question notes the asker", _bystanders_learn),
    Fault("answer-leaves-stale", "neighbour states", "an answer leaves the entry STALE", _answer_leaves_stale),
    Fault("one-question", "neighbour states", "one unanswered question means FAILED", _one_question_only),
    Fault("slow-questions", "neighbour states", "questions go 3 s apart instead of 1 s", _slow_questions),
    Fault("lookup-ignores-address", "listener lookup", "any socket on the port answers", _lookup_ignores_address),
    Fault("wildcard-first", "listener lookup", "0.0.0.0 is matched before the exact address", _wildcard_first),
    Fault("no-wildcard", "listener lookup", "0.0.0.0 matches nothing", _no_wildcard),
    Fault("nonlocal-bind", "sockets", "a socket may be bound to an address the host does not have", _nonlocal_bind),
    Fault("wildcard-shares-port", "sockets", "0.0.0.0 and a specific address share a port", _wildcard_shares_port),
    Fault(
        "close-keeps-listening", "sockets", "a listener the application closed still answers", _close_keeps_listening
    ),
    Fault("no-reset", "RST/ICMP", "a host with no listener stays silent", _no_reset),
    Fault("icmp-ignored", "RST/ICMP", "the client ignores ICMP port unreachable", _icmp_ignored),
    Fault("drop-answers", "RST/ICMP", "a dropping firewall answers like a rejecting one", _drop_answers),
    Fault("reset-as-icmp", "RST/ICMP", "a firewall's reset is sent as ICMP port unreachable", _reset_as_icmp),
    Fault("prohibited-as-refused", "RST/ICMP", "ICMP admin prohibited reads as refused", _prohibited_as_refused),
    Fault("deadline-ignored", "application deadline", "the application waits as long as the kernel", _deadline_ignored),
    Fault(
        "close-keeps-knocking",
        "application deadline",
        "the kernel goes on sending SYNs for a socket the application closed",
        _close_keeps_knocking,
    ),
    Fault("classic-doubling", "retransmission timing", "SYNs double from the start (before 6.5)", _classic_doubling),
    Fault("no-local-table", "routing", "own addresses and 127/8 are routed like any others", _no_local_table),
    Fault("gateway-ignored", "routing", "a gateway route is used as if on-link", _gateway_ignored),
    Fault("default-everywhere", "routing", "with no route, a packet goes out of the first card", _default_everywhere),
    Fault("martians-accepted", "routing", "127.0.0.1 is accepted on any interface", _martians_accepted),
    Fault("strong-host", "routing", "a host answers only on the address of the ingress interface", _strong_host),
    Fault("lo-born-up", "namespaces", "a new namespace's lo is up with 127.0.0.1 at once", _lo_born_up),
    Fault("shared-loopback", "namespaces", "every namespace's 127.0.0.1 is the first host's lo", _shared_loopback),
    Fault("lo-comes-up-empty", "namespaces", "lo gets no 127.0.0.1 when it first comes up", _lo_comes_up_empty),
    Fault("move-arrives-up", "namespaces", "an interface moved into a namespace arrives up", _move_arrives_up),
    Fault("rename-draws-a-new-badge", "namespaces", "a renamed interface gets a new MAC", _rename_draws_a_new_badge),
    Fault("reply-not-turned-back", "NAT", "an answer keeps the addresses it was sent with", _reply_not_turned_back),
    Fault(
        "hairpin-unmarked",
        "NAT",
        "a published port never masquerades its hairpin or loopback knocks",
        _hairpin_unmarked,
    ),
    Fault("localnet-everywhere", "NAT", "127/8 may arrive on and leave by any interface", _localnet_everywhere),
    Fault("hosts-file-ignored", NAMES, "getaddrinfo() skips /etc/hosts and asks DNS", _hosts_file_ignored),
    Fault("server-knows-nothing", NAMES, "the DNS server answers NXDOMAIN for every name", _server_knows_nothing),
    Fault(
        "empty-names-do-not-exist",
        NAMES,
        "a name with names below it and no address of its own is NXDOMAIN, not NODATA",
        _empty_names_do_not_exist,
    ),
    Fault("udp-stays-silent", NAMES, "a datagram to a closed UDP port gets no ICMP back", _udp_stays_silent),
)
