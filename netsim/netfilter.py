"""Netfilter (net/netfilter/, include/uapi/linux/netfilter.h): the five hooks of IPv4, in one place.

Every packet crosses some of them, in this order (net/ipv4/ip_input.c, ip_forward.c, ip_output.c):

    arriving:   PREROUTING -> routing -> INPUT (for this host)  or  FORWARD -> POSTROUTING
    leaving:    OUTPUT -> POSTROUTING

At each hook the registered functions run by priority, as the kernel's do: connection tracking
first (NF_IP_PRI_CONNTRACK, -200), then NAT's reverse mapping on PREROUTING, the filter table
(0), source NAT on POSTROUTING (NF_IP_PRI_NAT_SRC, 100), and last the conntrack confirm
(NF_IP_PRI_CONNTRACK_CONFIRM). Nothing outside this module filters or rewrites a packet.

Simplifications, named: only TCP is tracked (UDP, DNS here, passes untracked), and only from its
SYN (the kernel also picks up connections mid-stream); the filter table has only the two input
rules a scenario can state; NAT is only masquerade.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from netsim import conntrack
from netsim.conntrack import ORIGINAL, REPLY, Conn, Table, Tuple, tuple_of
from netsim.frames import ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, Icmp, Tcp, Udp, initial_sequence

if TYPE_CHECKING:
    from netsim.netns import Namespace
    from netsim.stack import Stack

PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING = "prerouting", "input", "forward", "output", "postrouting"
HOOKS = (PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING)
Packet = Tcp | Icmp | Udp


@dataclass(frozen=True)
class Masquerade:
    """`nft add rule ip nat postrouting ip saddr NET [oifname DEV] masquerade`."""

    saddr: ipaddress.IPv4Network
    oifname: str | None = None

    def matches(self, packet: Packet, outdev: str) -> bool:
        if self.oifname is not None and self.oifname != outdev:
            return False
        return ipaddress.IPv4Address(packet.src_ip) in self.saddr

    def nft(self) -> str:
        out = f" oifname {self.oifname}" if self.oifname else ""
        return f"ip saddr {self.saddr}{out} masquerade"


@dataclass
class Skb:
    """A packet on its way through one host, with the connection it belongs to (skb->_nfct)."""

    packet: Packet
    conn: Conn | None = None
    direction: str | None = None  # ORIGINAL, REPLY, or "related" (an ICMP error about a reply)


@dataclass(frozen=True)
class Verdict:
    skb: Skb | None  # None: dropped (NF_DROP) or taken over (NF_STOLEN)
    answer: Icmp | None = None  # what a reject sends back


@dataclass
class Netfilter:
    """One namespace's rules and its conntrack table."""

    masquerade: list[Masquerade] = field(default_factory=list)
    # Conntrack starts in a namespace when a rule needs it (nf_ct_netns_get()): here, NAT.
    conntrack: Table | None = None

    def add_masquerade(self, rule: Masquerade) -> None:
        self.masquerade.append(rule)
        if self.conntrack is None:
            self.conntrack = Table()


def hook(
    stack: Stack, ns: Namespace, where: str, skb: Skb, indev: str | None = None, outdev: str | None = None
) -> Verdict:
    """NF_HOOK(): run everything registered at `where` in this namespace, in priority order."""
    nf: Netfilter = ns.netfilter
    table = nf.conntrack
    if where in (PREROUTING, OUTPUT) and table is not None:
        if not _conntrack_in(stack, table, skb):
            return Verdict(None)
        if where == PREROUTING:
            _nat_reverse(stack, ns, skb)
    if where == INPUT and indev != "lo" and isinstance(skb.packet, Tcp):
        seg = skb.packet
        if seg.dport in ns.drop_tcp_ports:
            stack.event(f"{ns.label}'s firewall silently drops {seg.summary()}")
            return Verdict(None)
        if seg.dport in ns.reject_tcp_ports:
            # nft's `reject with icmp type port-unreachable` (nf_reject_ipv4.c, nf_send_unreach()).
            stack.event(f"{ns.label}'s firewall rejects {seg.summary()} with ICMP port unreachable")
            return Verdict(None, Icmp(seg.dst_ip, seg.src_ip, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, seg))
    if where == POSTROUTING and outdev is not None:
        _source_nat(stack, ns, skb, outdev)
    if where in (INPUT, POSTROUTING) and table is not None and skb.conn is not None:
        table.confirm(skb.conn, stack.now)
    return Verdict(skb)


def _conntrack_in(stack: Stack, table: Table, skb: Skb) -> bool:
    """nf_conntrack_in(): find the packet's connection, or start one for a SYN. False: kill it."""
    packet = skb.packet
    if isinstance(packet, Udp) or isinstance(packet, Icmp) and isinstance(packet.original, Udp):
        return True  # simplification, named above: only TCP is tracked
    if isinstance(packet, Icmp):
        # nf_conntrack_inet_error(): an error is RELATED to the connection of the packet it quotes.
        found = table.find(tuple_of(packet.original).invert(), stack.now)
        if found is not None and found[1] == REPLY:
            skb.conn, skb.direction = found[0], "related"
        return True
    found = table.find(tuple_of(packet), stack.now)
    if found is None:
        if packet.flags != "S":
            return True  # simplification: not tracked (the kernel would pick it up)
        t = tuple_of(packet)
        skb.conn, skb.direction = Conn(t, t.invert(), expires=stack.now), ORIGINAL
        return True
    conn, direction = found
    skb.conn, skb.direction = conn, direction
    if not conntrack.track(conn, direction, packet, stack.now):
        stack.event(f"conntrack forgets {conn.original.show()}: its first answer was a reset")
        table.kill(conn)
    return True


def _nat_reverse(stack: Stack, ns: Namespace, skb: Skb) -> None:
    """nf_nat_ipv4_pre_routing(): a reply to a masqueraded connection gets its true destination."""
    conn = skb.conn
    if conn is None or not conn.nat:
        return
    packet = skb.packet
    home = conn.original  # where the connection really started
    if skb.direction == REPLY and isinstance(packet, Tcp):
        skb.packet = replace(packet, dst_ip=home.src, dport=home.sport)
    elif skb.direction == "related" and isinstance(packet, Icmp):
        # nf_nat_icmp_reply_translation(): the outer header and the quoted one are both turned back.
        inner = replace(packet.original, src_ip=home.src, sport=home.sport)
        skb.packet = replace(packet, dst_ip=home.src, original=inner)
    else:
        return
    _rewritten(stack, ns, PREROUTING, packet, skb.packet)


def _source_nat(stack: Stack, ns: Namespace, skb: Skb, outdev: str) -> None:
    """nf_nat_inet_fn() at POSTROUTING: bind a new connection once, then rewrite by the binding."""
    conn, packet = skb.conn, skb.packet
    if conn is None or skb.direction != ORIGINAL or not isinstance(packet, Tcp):
        return
    nf: Netfilter = ns.netfilter
    if not conn.confirmed and not conn.nat:
        rule = next((r for r in nf.masquerade if r.matches(packet, outdev)), None)
        if rule is not None:
            _masquerade(stack, ns, conn, outdev, packet)
    if conn.nat:
        seen_as = conn.reply.invert()  # how the far end sees this connection
        after = replace(packet, src_ip=seen_as.src, sport=seen_as.sport)
        skb.packet = after
        _rewritten(stack, ns, POSTROUTING, packet, after)


def _masquerade(stack: Stack, ns: Namespace, conn: Conn, outdev: str, packet: Tcp) -> None:
    """nf_nat_masquerade_ipv4(): the source becomes the outgoing interface's own address.

    get_unique_tuple() keeps the source port when no other connection's reply would look the
    same; otherwise nf_nat_l4proto_unique_tuple() tries ports from a random offset in 1024-65535.
    Simplification, named: netsim's offset comes from a hash, so the same scenario gives the same
    port; the lab compares only that the port changed.
    """
    table = ns.netfilter.conntrack
    assert table is not None
    new_src = ns.source_address(outdev, packet.dst_ip)  # inet_select_addr(out, nh, RT_SCOPE_UNIVERSE)
    o = conn.original
    port = o.sport
    if table.taken(Tuple(o.dst, o.dport, new_src, port), stack.now, ignore=conn):
        offset = initial_sequence(o.src, o.dst, o.sport, o.dport) % 64512
        for i in range(64512):
            port = 1024 + (offset + i) % 64512
            if not table.taken(Tuple(o.dst, o.dport, new_src, port), stack.now, ignore=conn):
                break
    conn.reply, conn.nat = Tuple(o.dst, o.dport, new_src, port), True
    stack.event(f"{ns.label} masquerades {o.src}:{o.sport} as {new_src}:{port} on {outdev}")


def _rewritten(stack: Stack, ns: Namespace, where: str, before: Packet, after: Packet) -> None:
    stack.rewrite(ns.name, where, before, after)
