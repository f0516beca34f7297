"""Netfilter (net/netfilter/, include/uapi/linux/netfilter.h): the five hooks of IPv4, in one place.

Every packet crosses some of them, in this order (net/ipv4/ip_input.c, ip_forward.c, ip_output.c):

    arriving:   PREROUTING -> routing -> INPUT (for this host)  or  FORWARD -> POSTROUTING
    leaving:    OUTPUT -> POSTROUTING

At each hook the registered functions run by priority, as the kernel's do: connection tracking
first (NF_IP_PRI_CONNTRACK, -200), destination NAT on PREROUTING and OUTPUT (NF_IP_PRI_NAT_DST,
-100), the filter table (0), source NAT on POSTROUTING and INPUT (NF_IP_PRI_NAT_SRC, 100), and
last the conntrack confirm (NF_IP_PRI_CONNTRACK_CONFIRM). Nothing outside this module filters or
rewrites a packet.

NAT works as nf_nat_core.c does: the first packet of a connection binds it once per kind
(destination at PREROUTING/OUTPUT, source at POSTROUTING/INPUT) by changing the connection's
reply tuple; every packet after that, either way, is rewritten from the tuples alone
(nf_nat_packet()). That is how a reply gets its addresses turned back without any rule.

Simplifications, named: TCP is tracked from its SYN, or picked up mid-stream from a bare ACK as
tcp_new() does with nf_conntrack_tcp_loose (below), and UDP (DNS here); the filter table has only the input rules
a scenario can state (drop, and three kinds of reject); NAT rules are masquerade and the published
ports netavark writes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from netsim import conntrack
from netsim.conntrack import DEFAULTS, ORIGINAL, REPLY, Conn, Table, Timeouts, Tuple, tuple_of
from netsim.frames import ICMP_DEST_UNREACH, ICMP_PKT_FILTERED, ICMP_PORT_UNREACH, Icmp, Tcp, Udp, initial_sequence

if TYPE_CHECKING:
    from netsim.netns import Namespace
    from netsim.stack import Stack

PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING = "prerouting", "input", "forward", "output", "postrouting"
HOOKS = (PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING)
Packet = Tcp | Icmp | Udp
SRC, DST = "src", "dst"  # enum nf_nat_manip_type
RELATED, RELATED_REPLY = "related", "related-reply"  # enum ip_conntrack_info
# HOOK2MANIP(): PREROUTING and OUTPUT change the destination, POSTROUTING and INPUT the source.
MANIP = {PREROUTING: DST, OUTPUT: DST, POSTROUTING: SRC, INPUT: SRC}
MASQ_MARK = 0x2000  # netavark's mark for "masquerade this" (src/firewall/nft.rs, MASK)
LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


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


@dataclass(frozen=True)
class PortForward:
    """One published port, in the shape netavark's nftables driver writes (src/firewall/nft.rs):

        PREROUTING, OUTPUT:      fib daddr type local jump NETAVARK-HOSTPORT-DNAT
        NETAVARK-HOSTPORT-DNAT:  [ip daddr HOST_IP] tcp dport PORT jump nv_..._dnat
        nv_..._dnat:             ip saddr SUBNET [ip daddr HOST_IP] tcp dport PORT jump NETAVARK-HOSTPORT-SETMARK
                                 ip saddr 127.0.0.1 [ip daddr HOST_IP] tcp dport PORT jump NETAVARK-HOSTPORT-SETMARK
                                 [ip daddr HOST_IP] tcp dport PORT dnat ip to TO_IP:TO_PORT
        NETAVARK-HOSTPORT-SETMARK: meta mark set meta mark | 0x2000
        POSTROUTING:             meta mark & 0x2000 == 0x2000 masquerade

    `snat` false leaves out the two SETMARK lines (a rule set netavark does not write), to show
    what they are for.
    """

    port: int
    to_ip: str
    to_port: int
    subnet: ipaddress.IPv4Network
    host_ip: str | None = None
    snat: bool = True

    def matches(self, packet: Tcp) -> bool:
        return packet.dport == self.port and self.host_ip in (None, packet.dst_ip)

    def marks(self, packet: Tcp) -> bool:
        src = ipaddress.IPv4Address(packet.src_ip)
        return self.snat and (src in self.subnet or src == LOOPBACK)


@dataclass
class Skb:
    """A packet on its way through one host, with the connection it belongs to (skb->_nfct)."""

    packet: Packet
    conn: Conn | None = None
    # ORIGINAL, REPLY, or for an ICMP error RELATED or RELATED_REPLY (the way the error travels:
    # RELATED_REPLY is an error about a packet of the original direction, coming back)
    direction: str | None = None
    mark: int = 0  # skb->mark, `meta mark` in nftables
    # skb->pkt_type as eth_type_trans() set it from the frame's destination MAC: "host" (ours),
    # "broadcast", "multicast" (a group address) or "otherhost". TCP, forwarding and every ICMP error
    # want PACKET_HOST (tcp_v4_rcv(), ip_forward(), __icmp_send()).
    pkt_type: str = "host"


@dataclass(frozen=True)
class Verdict:
    skb: Skb | None  # None: dropped (NF_DROP) or taken over (NF_STOLEN)
    answer: Packet | None = None  # what a reject sends back


@dataclass
class Netfilter:
    """One namespace's rules and its conntrack table."""

    masquerade: list[Masquerade] = field(default_factory=list)
    ports: list[PortForward] = field(default_factory=list)  # published ports, in the order added
    mark_masquerade: bool = False  # POSTROUTING: meta mark & 0x2000 == 0x2000 masquerade
    # Conntrack starts in a namespace when a rule needs it (nf_ct_netns_get()): here, NAT.
    conntrack: Table | None = None
    # The namespace's net.netfilter.nf_conntrack_*timeout* sysctls, which its table's entries live by.
    timeouts: Timeouts = DEFAULTS

    def add_masquerade(self, rule: Masquerade) -> None:
        self.masquerade.append(rule)
        self._start_conntrack()

    def add_port(self, rule: PortForward) -> None:
        self.ports.append(rule)
        self.mark_masquerade = True  # netavark adds it with the network, once
        self._start_conntrack()

    def _start_conntrack(self) -> None:
        if self.conntrack is None:
            self.conntrack = Table(timeouts=self.timeouts)


def hook(
    stack: Stack,
    ns: Namespace,
    where: str,
    skb: Skb,
    indev: str | None = None,
    outdev: str | None = None,
    nexthop: str | None = None,
) -> Verdict:
    """NF_HOOK(): run everything registered at `where` in this namespace, in priority order.

    `indev`: the device the packet came in by, at INPUT, where the firewall's port rules skip lo; no
    other rule netsim models matches an input interface. `nexthop`: at POSTROUTING, the next hop of the
    packet's route (rt_nexthop(): its gateway, or the destination on-link), whose subnet masquerade
    takes its address from."""
    nf: Netfilter = ns.netfilter
    table = nf.conntrack
    if where in (PREROUTING, OUTPUT) and table is not None:
        if not _conntrack_in(stack, table, skb):
            return Verdict(None)
        _nat(stack, ns, skb, where, outdev)
    if where == INPUT and indev != "lo" and isinstance(skb.packet, Tcp):
        seg = skb.packet
        if seg.dport in ns.drop_tcp_ports:
            stack.event(f"{ns.label}'s firewall silently drops {seg.summary()}")
            return Verdict(None)
        if seg.dport in ns.reject_tcp_ports:
            # nft's `reject with icmp type port-unreachable` (nf_reject_ipv4.c, nf_send_unreach()).
            stack.event(f"{ns.label}'s firewall rejects {seg.summary()} with ICMP port unreachable")
            return Verdict(None, Icmp(seg.dst_ip, seg.src_ip, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, seg))
        if seg.dport in ns.prohibit_tcp_ports:
            # `reject with icmpx admin-prohibited`: nft_reject_inet maps it to ICMP code 13 for IPv4
            # (NFT_REJECT_ICMPX_ADMIN_PROHIBITED -> ICMP_PKT_FILTERED, net/netfilter/nft_reject.c).
            stack.event(f"{ns.label}'s firewall rejects {seg.summary()} with ICMP admin prohibited")
            return Verdict(None, Icmp(seg.dst_ip, seg.src_ip, ICMP_DEST_UNREACH, ICMP_PKT_FILTERED, seg))
        if seg.dport in ns.reset_tcp_ports:
            if "R" in seg.flags:
                # The rule drops it all the same, and nf_send_reset() sends nothing: nf_reject_ip_tcphdr_get()
                # returns NULL for a RST.
                stack.event(f"{ns.label}'s firewall drops {seg.summary()}: a reset rule answers no reset")
                return Verdict(None)
            # `reject with tcp reset` (nf_reject_ipv4.c, nf_send_reset() -> nf_reject_ip_tcphdr_put()),
            # from the address the segment was sent to. A segment with ACK (a SYN-ACK answering this
            # host's own connect) gets a bare RST whose sequence number is that ACK, in the sender's
            # window, so a listener's request sock is dropped (tcp_check_req()); one without ACK (a
            # SYN) gets RST|ACK acknowledging seq + 1: byte for byte what tcp_v4_send_reset() sends.
            stack.event(f"{ns.label}'s firewall rejects {seg.summary()} with a TCP reset")
            if "A" in seg.flags:
                return Verdict(None, Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "R", seg.ack, 0))
            syn_fin = ("S" in seg.flags) + ("F" in seg.flags)
            return Verdict(None, Tcp(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, "RA", 0, seg.seq + syn_fin))
    if where in (POSTROUTING, INPUT) and table is not None and not _nat(stack, ns, skb, where, outdev, nexthop):
        return Verdict(None)
    if where in (INPUT, POSTROUTING) and table is not None and skb.conn is not None and skb.direction != RELATED_REPLY:
        # __nf_conntrack_confirm(): an error attached to a connection in the reply direction (an
        # ICMP about a SYN that never got through) does not confirm it.
        table.confirm(skb.conn, stack.now)
    return Verdict(skb)


def _conntrack_in(stack: Stack, table: Table, skb: Skb) -> bool:
    """nf_conntrack_in(): find the packet's connection, or start one for a SYN. False: kill it."""
    packet = skb.packet
    if skb.conn is not None:
        # nf_conntrack_in(): "Previously seen (loopback or untracked)? Ignore." A packet looped through lo
        # keeps the connection OUTPUT gave it; an ICMP error, the one nf_ct_attach() gave it where it was made.
        return True
    if isinstance(packet, Icmp):
        # nf_conntrack_inet_error(): an error is RELATED to the connection of the packet it quotes,
        # found by that packet's tuple inverted; RELATED_REPLY when that is the reply tuple.
        found = table.find(tuple_of(packet.original).invert(), stack.now)
        if found is not None:
            skb.conn, skb.direction = found[0], RELATED_REPLY if found[1] == REPLY else RELATED
        return True
    found = table.find(tuple_of(packet), stack.now)
    if found is not None and isinstance(packet, Tcp) and conntrack.reopens(found[0], found[1], packet):
        stack.event(f"conntrack forgets {found[0].original.show()}: a new SYN after its reset starts it afresh")
        table.kill(found[0])
        found = None
    if found is None:
        if isinstance(packet, Tcp) and conntrack.conntrack_index(packet) not in ("SYN", "ACK"):
            return True  # tcp_new(): tcp_conntracks[ORIGINAL][index][sNO] is sIV: a SYN-ACK, FIN or RST goes untracked
        t = tuple_of(packet)
        # tcp_new() (net/netfilter/nf_conntrack_proto_tcp.c): a SYN starts SYN_SENT; with nf_conntrack_tcp_loose
        # (1 by default) an ACK with no entry is picked up mid-stream as ESTABLISHED, both sides liberal: a bare
        # ACK or one carrying data (a PSH-ACK such as sshd's banner: get_conntrack_index() reads only the flags
        # RST, SYN, FIN and ACK, so PSH makes no other index).
        state = conntrack.UDP if isinstance(packet, Udp) else "SYN_SENT" if packet.flags == "S" else "ESTABLISHED"
        conn = Conn(t, t.invert(), state=state, expires=stack.now, stream_ts=stack.now + conntrack.UDP_STREAM_AFTER)
        if isinstance(packet, Tcp) and "S" in packet.flags:
            conn.orig_end = (packet.seq + 1) & conntrack.SEQ_MASK  # tcp_new(): seen[0].td_end
        skb.conn, skb.direction = conn, ORIGINAL
        return True
    conn, direction = found
    if isinstance(packet, Tcp) and conntrack.invalid(conn, direction, packet):
        stack.event(f"conntrack finds {packet.summary()} invalid for {conn.original.show()}: it goes on untracked")
        return True
    skb.conn, skb.direction = conn, direction
    if isinstance(packet, Udp):
        conntrack.track_udp(conn, direction, stack.now, table.timeouts)
        return True
    if not conntrack.track(conn, direction, packet, stack.now, table.timeouts):
        stack.event(f"conntrack forgets {conn.original.show()}: its first answer was a reset")
        table.kill(conn)
    return True


def _icmp_reply_translation(stack: Stack, ns: Namespace, skb: Skb, where: str) -> None:
    """nf_nat_icmp_reply_translation() (net/netfilter/nf_nat_proto.c), at every NAT hook: an ICMP
    error related to a NATed connection gets the packet it quotes turned back into what its sender
    sent, and its own header turned to match, so the error reaches the socket it is about.

    With `dir` the way the error travels, the hook's manipulation applies when the connection has
    that kind of NAT, taken the other way round for RELATED_REPLY (statusbit ^= IPS_NAT_MASK); the
    quote gets the other manipulation (!manip) from the tuple of the other direction, the outer
    header this hook's manipulation from that tuple inverted. So a router's error about a
    masqueraded SYN is turned back at PREROUTING, the host's own error about one (its ARP for the
    next hop failed) at OUTPUT, and its error about a SYN it sent to a published port's container at
    POSTROUTING."""
    conn, packet = skb.conn, skb.packet
    assert conn is not None and isinstance(packet, Icmp)
    manip = MANIP[where]
    applies = manip if skb.direction == RELATED else (SRC if manip == DST else DST)
    if not (conn.snat if applies == SRC else conn.dnat):
        return
    other = conn.original if skb.direction == RELATED_REPLY else conn.reply  # ct->tuplehash[!dir]
    target = other.invert()
    inner = packet.original
    if manip == DST:  # the quote's source, the outer destination
        inner = replace(inner, src_ip=other.src, sport=other.sport)
        after = replace(packet, dst_ip=target.dst, original=inner)
    else:  # the quote's destination, the outer source
        inner = replace(inner, dst_ip=other.dst, dport=other.dport)
        after = replace(packet, src_ip=target.src, original=inner)
    if after != packet:
        skb.packet = after
        _rewritten(stack, ns, where, packet, after)


def _nat(stack: Stack, ns: Namespace, skb: Skb, where: str, outdev: str | None, nexthop: str | None = None) -> bool:
    """nf_nat_inet_fn(): bind a new connection once for this hook's kind, then nf_nat_packet().
    False: the packet is dropped (its masqueraded connection changed device)."""
    conn, packet = skb.conn, skb.packet
    if conn is not None and skb.direction in (RELATED, RELATED_REPLY) and isinstance(packet, Icmp):
        _icmp_reply_translation(stack, ns, skb, where)  # nf_nat_inet_fn(): IP_CT_RELATED{,_REPLY}
        return True
    if conn is None or not isinstance(packet, Tcp | Udp):
        return True
    # CTINFO2DIR(): a related TCP packet (nf_send_reset()'s RST, which nf_ct_attach() gave the
    # connection) takes the NEW case, consulting the rules only where this hook's kind is not yet
    # decided, and nf_nat_packet() rewrites it as a packet of its direction: RELATED the original
    # way, RELATED_REPLY the reply way (so a reset behind a DNAT leaves from the published address).
    direction = {RELATED: ORIGINAL, RELATED_REPLY: REPLY}.get(skb.direction or "", skb.direction)
    if direction not in (ORIGINAL, REPLY):
        return True
    manip = MANIP[where]
    new = direction == ORIGINAL or skb.direction == RELATED_REPLY
    first = new and not conn.confirmed and manip not in conn.bound
    if not first and where == POSTROUTING and direction == ORIGINAL and conn.masq_dev not in (None, outdev):
        # nf_nat_oif_changed() (include/net/netfilter/nf_nat.h): a masqueraded connection's packet of the
        # original direction leaving by another device than the one masquerade took its address from
        # (nat->masq_index) kills the entry (nf_ct_kill_acct()) and is dropped (NF_DROP); the next
        # packet starts a new entry, masqueraded on its new device.
        table = ns.netfilter.conntrack
        assert table is not None
        table.kill(conn)
        stack.event(
            f"{ns.label}'s conntrack forgets {conn.original.show()} and drops {packet.summary()}: "
            f"masqueraded on {conn.masq_dev}, it now leaves by {outdev}"
        )
        return False
    if first:
        # Only an unconfirmed connection consults the rules; without a matching one it gets a
        # null binding (nf_nat_alloc_null_binding()) and no rule is asked again.
        conn.bound.add(manip)
        if manip == DST and isinstance(packet, Tcp):  # published ports are TCP (netavark's, for TCP)
            _destination_rules(stack, ns, skb, conn, packet)
        elif where == POSTROUTING and outdev is not None:
            _source_rules(stack, ns, skb, conn, packet, outdev, nexthop or packet.dst_ip)
        if manip == SRC and not conn.snat:
            _null_binding(stack, ns, conn)
    # nf_nat_packet(): a reply undergoes the other kind's manipulation (statusbit ^= IPS_NAT_MASK).
    kind = manip if direction == ORIGINAL else (SRC if manip == DST else DST)
    if not (conn.snat if kind == SRC else conn.dnat):
        return True
    # The packet is made to look like the other direction's tuple, inverted (nf_nat_manip_pkt()).
    target = (conn.reply if direction == ORIGINAL else conn.original).invert()
    if manip == SRC:
        after = replace(packet, src_ip=target.src, sport=target.sport)
    else:
        after = replace(packet, dst_ip=target.dst, dport=target.dport)
    if after != packet:
        skb.packet = after
        _rewritten(stack, ns, where, packet, after)
    return True


def _is_local(ns: Namespace, addr: str) -> bool:
    """`fib daddr type local` (nft_fib4_eval_type() -> inet_dev_addr_type(), no device): one of the
    namespace's own addresses, 127/8, or any address of a prefix put on lo (RTN_LOCAL,
    fib_add_ifaddr()), but not such a prefix's broadcast address: 10.9.0.255 of a 10.9.0.1/24 on lo,
    or 127.255.255.255, is RTN_BROADCAST, and a SYN there is not DNATed."""
    return ns.is_local(ipaddress.IPv4Address(addr))


def _destination_rules(stack: Stack, ns: Namespace, skb: Skb, conn: Conn, packet: Tcp) -> None:
    """The published ports: netavark's chains, first match wins (nft_nat_eval() -> nf_nat_setup_info())."""
    if not _is_local(ns, packet.dst_ip):
        return
    rule = next((r for r in ns.netfilter.ports if r.matches(packet)), None)
    if rule is None:
        return
    if rule.marks(packet):
        skb.mark |= MASQ_MARK
    r = conn.reply
    conn.reply, conn.dnat = Tuple(rule.to_ip, rule.to_port, r.dst, r.dport), True
    marked = " and marks it for masquerade" if skb.mark & MASQ_MARK else ""
    stack.event(
        f"{ns.label} sends what comes for {packet.dst_ip}:{packet.dport} to {rule.to_ip}:{rule.to_port}{marked}"
    )


def _source_rules(
    stack: Stack, ns: Namespace, skb: Skb, conn: Conn, packet: Tcp | Udp, outdev: str, nexthop: str
) -> None:
    nf: Netfilter = ns.netfilter
    marked = nf.mark_masquerade and skb.mark & MASQ_MARK
    if marked or any(r.matches(packet, outdev) for r in nf.masquerade):
        _masquerade(stack, ns, conn, outdev, nexthop)


def _masquerade(stack: Stack, ns: Namespace, conn: Conn, outdev: str, nexthop: str) -> None:
    """nf_nat_masquerade_ipv4(): the source becomes the outgoing interface's own address, the one
    on the next hop's subnet (inet_select_addr(out, rt_nexthop(rt, daddr), RT_SCOPE_UNIVERSE),
    net/netfilter/nf_nat_masquerade.c): for a route via a gateway, the gateway's, not the destination's.

    get_unique_tuple() keeps the source port when no other connection's reply would look the
    same; otherwise nf_nat_l4proto_unique_tuple() tries ports from a random offset in 1024-65535.
    Simplification, named: netsim's offset comes from a hash, so the same scenario gives the same
    port; the lab compares only that the port changed.
    """
    new_src = ns.source_address(outdev, nexthop)  # inet_select_addr(out, nh, RT_SCOPE_UNIVERSE)
    o, far = conn.original, conn.reply  # the far end as it stands after any destination NAT
    port = _unique_port(ns, conn, new_src, stack.now)
    conn.reply, conn.snat, conn.masq_dev = Tuple(far.src, far.sport, new_src, port, far.proto), True, outdev
    stack.event(f"{ns.label} masquerades {o.src}:{o.sport} as {new_src}:{port} on {outdev}")


def _unique_port(ns: Namespace, conn: Conn, new_src: str, now: float) -> int:
    """get_unique_tuple() (net/netfilter/nf_nat_core.c) for a source manip to `new_src`.

    1) When the source is not already `new_src` (masquerade), find_appropriate_src(): the newest live
       connection from the same source address and port whose source manip is done (nf_nat_bysource)
       lends its mapping's port, if that is to `new_src`. 2) and 3) That port (the original one when
       no mapping was lent) when no other entry would look like the reply (nf_nat_used_tuple());
       else the first free one of nf_nat_l4proto_unique_tuple()'s search from an offset in that
       port's own range: 1-511 for a port below 512, 600-1023 for one below 1024, else 1024-65535."""
    table = ns.netfilter.conntrack
    assert table is not None
    o, far = conn.original, conn.reply

    def free(port: int) -> bool:
        return not table.taken(Tuple(far.src, far.sport, new_src, port, far.proto), now, ignore=conn)

    port = o.sport
    if far.dst != new_src:
        for other in reversed(table.conns):  # hlist_add_head_rcu(): the newest mapping first
            if other is conn or other.expires <= now or SRC not in other.bound:
                continue
            theirs = other.original
            same_src = (theirs.src, theirs.sport, theirs.proto) == (far.dst, o.sport, far.proto)
            if same_src and other.reply.dst == new_src:  # in_range(): the mapping is to this address
                # find_appropriate_src() wrote the mapping's port into the tuple: when it is taken,
                # the search starts from it (its range), the original port is not tried again.
                port = other.reply.dport
                break
    if free(port):
        return port
    low, size = (1, 511) if port < 512 else (600, 424) if port < 1024 else (1024, 64512)
    offset = initial_sequence(o.src, o.dst, o.sport, o.dport) % size
    for i in range(size):
        port = low + (offset + i) % size
        if free(port):
            return port
    return o.sport


def _null_binding(stack: Stack, ns: Namespace, conn: Conn) -> None:
    """nf_nat_alloc_null_binding(): a connection no source rule matched still gets a source manip to
    its own address (the reply's destination), and get_unique_tuple() may give it another port: the
    host's own socket on a port masquerade already gave a container's connection to the same server,
    or one phone port reaching one container through two published addresses. IPS_SRC_NAT only if
    the tuple changed."""
    far = conn.reply
    port = _unique_port(ns, conn, far.dst, stack.now)
    if port != far.dport:
        conn.reply, conn.snat = Tuple(far.src, far.sport, far.dst, port, far.proto), True
        o = conn.original
        stack.event(f"{ns.label} gives {o.src}:{o.sport} the port {port}: {far.dst}:{o.sport} is another connection's")


def masquerade_gone(stack: Stack, ns: Namespace, dev: str, address: str | None = None) -> None:
    """nf_nat_masquerade.c: when the device masquerade took an address from goes down
    (masq_device_event(), NETDEV_DOWN) or that address is deleted from it (masq_inet_event()),
    every connection masqueraded there is deleted (nf_nat_masq_schedule() -> device_cmp(),
    inet_cmp(): the same device, and the reply's destination that address): its address is gone."""
    table = ns.netfilter.conntrack
    if table is None:
        return
    gone = [c for c in table.conns if c.masq_dev == dev and (address is None or c.reply.dst == address)]
    for conn in gone:
        table.kill(conn)
        stack.event(f"{ns.label}'s conntrack forgets {conn.original.show()}: its masquerade address went with {dev}")


def masquerade_renamed(ns: Namespace, old: str, new: str) -> None:
    """dev_change_name(): a masqueraded connection holds its device by ifindex (nat->masq_index, which
    nf_nat_oif_changed() compares), so it stays the renamed device's."""
    table = ns.netfilter.conntrack
    for conn in table.conns if table is not None else []:
        if conn.masq_dev == old:
            conn.masq_dev = new


def _rewritten(stack: Stack, ns: Namespace, where: str, before: Packet, after: Packet) -> None:
    stack.rewrite(ns.name, where, before, after)
