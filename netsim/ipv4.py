"""IPv4 in and out (ip_input.c, ip_output.c): martians, the netfilter hooks, local delivery,
forwarding, route and neighbour.

Written against netsim.stack.Stack, the simulation's narrow face; filtering and NAT happen only
in netsim.netfilter's hooks, the decision to forward only in netsim.forwarding.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from netsim import conntrack, forwarding, icmp, netfilter, routing, tcp, udp
from netsim.addresses import LOOPBACK_NET, v4_address
from netsim.conntrack import ORIGINAL
from netsim.frames import Frame, Icmp, Tcp, Udp
from netsim.neighbour import Parked
from netsim.netfilter import INPUT, OUTPUT, POSTROUTING, PREROUTING, RELATED, RELATED_REPLY, Skb

if TYPE_CHECKING:
    from netsim.netns import Namespace
    from netsim.stack import Stack

Packet = Tcp | Icmp | Udp
LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
ALL_HOSTS = ipaddress.IPv4Address("224.0.0.1")  # IGMP_ALL_HOSTS, which every device joins


def receive(
    stack: Stack, ns: Namespace, dev: str, packet: Packet, pkt_type: str = "host", skb: Skb | None = None
) -> None:
    """ip_rcv() -> PREROUTING -> routing -> ip_local_deliver() (INPUT) or ip_forward(). `pkt_type`:
    what the frame's destination MAC made it (Skb.pkt_type); lo's own packets are PACKET_HOST, and
    come with the skb they left in (`skb`), whose connection conntrack does not look up again."""
    # lo's packet keeps its skb (connection, direction, mark) and arrives as PACKET_HOST (loopback_xmit()).
    arrived = Skb(packet, pkt_type=pkt_type) if skb is None else replace(skb, packet=packet, pkt_type="host")
    verdict = netfilter.hook(stack, ns, PREROUTING, arrived)  # no rule netsim models reads the input device there
    if verdict.skb is None:
        return
    skb = verdict.skb
    # Routing comes after PREROUTING, so it sees the destination NAT gave the packet.
    src, dst = v4_address(skb.packet.src_ip), v4_address(skb.packet.dst_ip)
    if dev != "lo":
        way, why = _route_input(ns, dev, src, dst)
        if way == "drop":
            stack.event(why)
        elif way == "broadcast":
            _deliver_broadcast(stack, ns, dev, skb)
        elif way == "local":
            _deliver(stack, ns, dev, skb)
        else:
            _forward(stack, ns, dev, skb)
        return
    # A broadcast route is a /32 in the local table: it beats lo's prefixes (10.9.0.255 of a 10.9.0.0/24 put on lo).
    broadcast = dst.is_multicast or dst == LIMITED_BROADCAST or dst in ns.broadcast_addresses()
    # A prefix on lo is local unless a longer main-table route takes the address (routing.lookup()).
    hop = None if broadcast or int(dst) == 0 else route(ns, str(dst))
    if dst in ns.local_addresses() or (hop is not None and hop.kind == "local"):
        _deliver(stack, ns, dev, skb)
    elif broadcast:
        stack.event(f"{ns.label} drops a packet for {dst}: a broadcast or multicast address is not forwarded")
    else:
        _forward(stack, ns, dev, skb)


def _route_input(ns: Namespace, dev: str, src: ipaddress.IPv4Address, dst: ipaddress.IPv4Address) -> tuple[str, str]:
    """ip_route_input_rcu() and ip_route_input_slow() (net/ipv4/route.c), in their order, for a packet
    that arrived on `dev` (not lo): "local", "broadcast" (delivered here all the same, its route
    RTCF_BROADCAST or RTCF_MULTICAST), "forward", or "drop" with the story's line. fib_validate_source()
    (net/ipv4/fib_frontend.c; rp_filter and accept_local 0) refuses only a source that is one of the
    host's own addresses (inet_lookup_ifaddr_rcu())."""
    localnet = dev in ns.route_localnet
    own = ns.local_addresses()
    martian = f"{ns.label} drops a packet from {src} that arrived on {dev}: a martian source"
    own_source = f"{ns.label} drops a packet from its own address {src} that arrived on {dev}: a martian source"
    if dst.is_multicast:
        # ip_route_input_rcu(): a group is taken only if the device joined it (ip_check_mc_rcu()). Every
        # device joins 224.0.0.1 when it comes up (ip_mc_up(), net/ipv4/igmp.c); netsim models no other
        # membership and no multicast routing. ip_route_input_mc() -> ip_mc_validate_source(): no
        # multicast, limited-broadcast or (without route_localnet) 127/8 source; a zero source is
        # fine for a link-local group (224.0.0.0/24); any other goes to fib_validate_source().
        if dst != ALL_HOSTS:
            return "drop", f"{ns.label} drops a packet for {dst}: {dev} did not join that group"
        if src.is_multicast or src == LIMITED_BROADCAST or (src in LOOPBACK_NET and not localnet):
            return "drop", martian
        return ("drop", own_source) if src in own and int(src) else ("broadcast", "")
    if src.is_multicast or src == LIMITED_BROADCAST:
        return "drop", martian
    if dst == LIMITED_BROADCAST or (int(src) == 0 and int(dst) == 0):
        # brd_input, before the zero-source test: a DHCP client's 0.0.0.0 -> 255.255.255.255 is taken;
        # a non-zero source is validated (fib_validate_source()).
        return ("drop", own_source) if src in own else ("broadcast", "")
    if int(src) == 0:
        # ipv4_is_zeronet() is 0.0.0.0 alone now: a SYN from 0.0.0.0, as a host with no address to
        # send from makes (outsider3's 102), is never answered.
        return "drop", martian
    if int(dst) == 0:
        # martian_destination: dropped here, forwarding or not, and ip_error() never sees it (no ICMP).
        return "drop", f"{ns.label} drops a packet for 0.0.0.0 that arrived on {dev}: a martian destination"
    if (dst in LOOPBACK_NET or src in LOOPBACK_NET) and not localnet:
        # A 127/8 destination or source on any device but lo, unless IN_DEV_NET_ROUTE_LOCALNET(in_dev)
        # (net.ipv4.conf.DEV.route_localnet = 1).
        return "drop", f"{ns.label} drops a packet for {dst} that arrived on {dev}: 127/8 lives on lo only"
    if dst in ns.broadcast_addresses() and dst not in own:
        # The local table's broadcast route of any device, lo's included (fib_add_ifaddr()): brd_input,
        # delivered here and never forwarded (bc_forwarding is 0).
        return ("drop", own_source) if src in own else ("broadcast", "")
    if src in own:
        # fib_validate_source() for RTN_LOCAL, and __mkroute_input()'s for a packet to forward.
        return "drop", own_source
    if dst in own or ns.is_local(dst):
        # RTN_LOCAL: an own address, or 127/8 (with route_localnet) or a prefix on lo where no longer
        # main route takes the address (one trie for both tables, routing.lookup()).
        return "local", ""
    return "forward", ""


def _deliver_broadcast(stack: Stack, ns: Namespace, dev: str, skb: Skb) -> None:
    """ip_local_deliver() of a packet routed RTCF_BROADCAST or RTCF_MULTICAST: INPUT sees it (conntrack
    confirms its connection there, as `conntrack -L` shows), then nothing answers it. tcp_v4_conn_request()
    drops a SYN to such a route and tcp_v4_send_reset() sends nothing when the route is not RTN_LOCAL
    (net/ipv4/tcp_ipv4.c); icmp_rcv() drops an error sent to one; icmp_send() and nf_send_reset() answer
    none, so the firewall's reject and reset rules stay silent. netsim has no broadcast or multicast
    listeners to hand a datagram to."""
    verdict = netfilter.hook(stack, ns, INPUT, skb, indev=dev)
    dst = skb.packet.dst_ip
    if verdict.answer is not None:
        stack.event(f"{ns.label} sends no {verdict.answer.summary()}: its packet was for {dst}, a group address")
    if verdict.skb is not None:
        stack.event(f"{ns.label} drops a packet for {dst}: nothing here answers a broadcast or multicast address")


def _deliver(stack: Stack, ns: Namespace, dev: str, skb: Skb) -> None:
    verdict = netfilter.hook(stack, ns, INPUT, skb, indev=dev)
    if verdict.answer is not None:
        output(stack, ns, verdict.answer, about=skb)
    if verdict.skb is None:
        return
    packet = verdict.skb.packet
    if isinstance(packet, Icmp):
        # An ICMP error reaches the socket whose packet it quotes (icmp_unreach() -> tcp_v4_err()
        # or __udp4_lib_err()).
        if isinstance(packet.original, Udp):
            udp.error(stack, ns, packet)
        else:
            for again in tcp.error(stack, ns, packet).replies:
                output(stack, ns, again)
        return
    if isinstance(packet, Udp):
        for answer in udp.receive(stack, ns, packet):
            if isinstance(answer, Icmp) and verdict.skb.pkt_type != "host":
                # __icmp_send(): "no replies to physical multicast/broadcast", nor to another's MAC.
                stack.event(f"{ns.label} sends no {answer.summary()}: the datagram came in a frame not addressed to it")
                continue
            output(stack, ns, answer)
        return
    if verdict.skb.pkt_type != "host":
        # tcp_v4_rcv() (net/ipv4/tcp_ipv4.c): `if (skb->pkt_type != PACKET_HOST) goto discard_it;`, after
        # netfilter's INPUT: no socket sees it, nothing answers (no RST either).
        stack.event(f"{ns.label}'s TCP drops {packet.summary()}: it came in a {verdict.skb.pkt_type} frame")
        return
    result = tcp.receive(stack, ns, packet)
    for reply in result.replies:
        if output(stack, ns, reply) is None:
            # tcp_conn_request() and tcp_v4_send_reset() give up when there is no route back.
            stack.event(f"{ns.label} has no route back to {reply.dst_ip}: it drops {packet.summary()}")
            if result.request is not None and result.request not in ns.requests:
                # tcp_conn_request(): route_req() (inet_csk_route_req()) failed before the request
                # sock was hashed: drop_and_free, there is none. (A retransmitted SYN's failed
                # tcp_rtx_synack() leaves an existing request and its timer as they were.)
                _forget_request(ns, result.request)
        elif result.request is not None:
            _arm_request(stack, ns, result.request, reply)


def _forget_request(ns: Namespace, key: tuple[str, int, str, int]) -> None:
    """A request sock that never was: its listener's entries for it go (tcp.receive() made the first
    three with it; the last only an out-of-turn answer makes)."""
    del ns.half_open[key], ns.request_isn[key], ns.request_snt_isn[key]
    ns.request_oow_ack.pop(key, None)


def _max_synack_retries(ns: Namespace, listener: str) -> int:
    """reqsk_timer_handler() (net/ipv4/inet_connection_sock.c): a listener whose request socks fill more
    than half its backlog (qlen << 1 > max(8, sk_max_ack_backlog)) keeps half the room for young ones (not
    yet past their first timeout) and prunes the old: tcp_synack_retries (5) drops by one, down to 2, for
    each doubling of the young count that still does not exceed qlen; syn_ack_recalc() then expires a
    request whose num_timeout reached it."""
    retries = tcp.SYNACK_RETRIES
    mine = [k for k, owner in ns.half_open.items() if owner == listener]
    qlen = len(mine)
    if qlen << 1 > max(8, tcp.listen_backlog(ns, listener)):
        # Every request in half_open has its timer's entry by the time a timer runs: _arm_request() makes
        # it right after the first SYN-ACK, and a cookie's ACK completes its handshake in the same receive.
        young = sum(1 for k in mine if ns.requests[k][0] == 0) << 1
        while retries > 2 and qlen >= young:
            retries -= 1
            young <<= 1
    return retries


def _arm_request(stack: Stack, ns: Namespace, key: tuple[str, int, str, int], synack: Tcp) -> None:
    """The request sock's timer (reqsk_timer_handler(), net/ipv4/inet_connection_sock.c): armed
    with the first SYN-ACK, re-armed from now by a retransmitted SYN (tcp_check_req()); each time
    it fires the SYN-ACK goes again (tcp_rtx_synack(); inet_rtx_syn_ack() before 6.17) and the
    timeout doubles, until tcp_synack_retries firings, when the request is dropped. The handshake's
    ACK stops it."""
    state = ns.requests.setdefault(key, [0, 0])  # [num_timeout, which arming is current]
    state[1] += 1
    arming = state[1]

    def fire() -> bool:
        if ns.requests.get(key) is not state or state[1] != arming:
            return False  # the handshake completed, or a retransmitted SYN re-armed it
        if key not in ns.half_open or state[0] >= _max_synack_retries(ns, ns.half_open[key]):
            del ns.requests[key]
            ns.half_open.pop(key, None)
            stack.event(f"{ns.label} drops the half-open connection from {key[0]}:{key[1]}: no ACK came")
            return True
        state[0] += 1
        stack.event(f"{ns.label} sends its SYN-ACK to {key[0]}:{key[1]} again: no ACK came")
        if output(stack, ns, synack) is not None:
            _arm_request(stack, ns, key, synack)
        else:  # tcp_rtx_synack() failed (no route): the request is dropped
            del ns.requests[key]
            ns.half_open.pop(key, None)
        return True

    delay = tcp.request_timeout(state[0])
    stack.schedule(
        delay,
        fire,
        f"{ns.label}'s SYN-ACK retransmission to {key[0]}:{key[1]} "
        "(reqsk_timer_handler(), net/ipv4/inet_connection_sock.c)",
    )


def _forward(stack: Stack, ns: Namespace, dev: str, skb: Skb) -> None:
    decision = forwarding.decide(ns, dev, skb.packet)
    if skb.pkt_type != "host":
        # ip_forward() (net/ipv4/ip_forward.c) drops a packet that was not PACKET_HOST before anything;
        # with no route, ip_error() runs instead and spends its tokens, and __icmp_send() sends nothing
        # about a packet that came in a broadcast, multicast or another's frame.
        if isinstance(decision, forwarding.Refuse) and decision.no_route:
            icmp.ip_error_allow(ns.icmp_peers, skb.packet.src_ip, stack.tick_at(stack.now))
        stack.event(f"{ns.label} does not forward {skb.packet.summary()}: it came in a {skb.pkt_type} frame")
        return
    if isinstance(decision, forwarding.Refuse):
        stack.event(decision.why)
        jiffies = stack.tick_at(stack.now)  # the buckets count whole ticks (now = jiffies)
        if decision.no_route and not icmp.ip_error_allow(ns.icmp_peers, skb.packet.src_ip, jiffies):
            # ip_error() (net/ipv4/route.c) spends its tokens first, even for a packet icmp_send() would
            # not answer; with none left it sends nothing.
            stack.event(f"{ns.label} sends no ICMP about it: ip_error()'s rate limit for {skb.packet.src_ip} is spent")
            src, what = skb.packet.src_ip, f"{ns.label}'s ip_error() rate limit for {skb.packet.src_ip}"
            stack.refill(jiffies + icmp.wait(ns.icmp_peers, src, icmp.ERROR_COST), f"{what} held a token again")
            if decision.answer is not None and icmp.limited(decision.answer.type, decision.answer.code):
                # icmp_send() spends its own token of the same bucket right after (icmpv4_xrlim_allow())
                cost = icmp.ERROR_COST + icmp.RATELIMIT
                stack.refill(jiffies + icmp.wait(ns.icmp_peers, src, cost), f"{what} held two tokens again")
            return
        if decision.answer is not None:
            stack.event(f"{ns.label} answers {decision.answer.summary()}")
            output(stack, ns, decision.answer, about=skb)
        elif ns.ip_forward and isinstance(skb.packet, Icmp):  # __icmp_send(): no error about an ICMP error
            stack.event(f"{ns.label} sends no ICMP about it: it is an ICMP error itself")
        return
    skb.packet = decision.packet
    stack.event(f"{ns.label} forwards {skb.packet.summary()} out of {decision.dev} (TTL now {skb.packet.ttl})")
    # FORWARD: no rule netsim models sits at that hook (the firewall's port rules are INPUT's, NAT and
    # conntrack PREROUTING's and POSTROUTING's), so every packet passes it and nothing is called.
    _finish(stack, ns, skb, decision.dev, decision.neighbour)


def output(stack: Stack, ns: Namespace, packet: Packet, about: Skb | None = None) -> routing.NextHop | None:
    """Send a locally made packet: route it, OUTPUT, then lo or POSTROUTING and the neighbour.

    `about`: for an ICMP error, the packet it is about, whose connection it belongs to at once:
    icmp_glue_bits() calls nf_ct_attach() (net/ipv4/icmp.c), so an error about a packet whose
    connection is not yet confirmed (a DNATed SYN whose TTL ran out here) is RELATED to it too."""
    if about is not None and isinstance(packet, Icmp) and about.pkt_type != "host":
        # __icmp_send(): "no replies to physical multicast/broadcast" (skb_in->pkt_type != PACKET_HOST),
        # before its rate limit: an nft reject of a packet in a broadcast frame sends nothing.
        stack.event(f"{ns.label} sends no {packet.summary()}: its packet came in a {about.pkt_type} frame")
        return None
    hop = route(ns, packet.dst_ip)
    if hop is None:
        return None
    if isinstance(packet, Udp) and hop.kind == "multicast":
        # udp_sendmsg(): a datagram to a group gets the socket's multicast TTL, 1 unless set
        # (inet->mc_ttl, IP_MULTICAST_TTL).
        packet = replace(packet, ttl=1)
    if isinstance(packet, Tcp) and not owns(ns, packet.src_ip):
        # A socket's source the host no longer has (its address was deleted): ip_route_output_key_hash_rcu()
        # (net/ipv4/route.c) wants a non-zero saddr to be local (__ip_dev_find(): an address of a device,
        # or the local table's 127/8), else -ENETUNREACH: nothing leaves, not even an ARP request; TCP's
        # timer tries again (outsider3's 56: netsim sent the SSH connection's segment from the deleted address).
        stack.event(f"{ns.label} has no address {packet.src_ip} any more: {packet.summary()} finds no route")
        return None
    if not _localnet_allows(ns, packet.src_ip, hop):
        # The route lookup itself fails: no RST from TCP (ip_send_unicast_reply()) or from the
        # firewall (nf_send_reset() -> ip_route_me_harder()), no SYN-ACK (inet_csk_route_req(): no
        # request sock), no ICMP (icmp_route_lookup()); nothing leaves, not even an ARP request.
        stack.event(
            f"{ns.label} may not send from {packet.src_ip} out of {hop.dev} (route_localnet is 0): "
            f"{packet.summary()} finds no route"
        )
        return None
    limited = isinstance(packet, Icmp) and hop.kind != "local" and icmp.limited(packet.type, packet.code)
    jiffies = stack.tick_at(stack.now)  # the bucket counts whole ticks (now = jiffies)
    if limited and not icmp.allow(ns.icmp_peers, packet.dst_ip, jiffies):
        # icmp_send() -> icmpv4_xrlim_allow(): this destination's burst is spent (netsim.icmp)
        stack.event(f"{ns.label} sends no {packet.summary()}: its ICMP rate limit for {packet.dst_ip} is spent")
        again = jiffies + icmp.wait(ns.icmp_peers, packet.dst_ip, icmp.RATELIMIT)
        stack.refill(again, f"{ns.label}'s ICMP rate limit for {packet.dst_ip} held a token again")
        return hop
    skb = Skb(packet)
    if about is not None and about.conn is not None:
        # nf_ct_attach() (nf_conntrack_attach()): an ICMP error (icmp_glue_bits()) or the firewall's
        # TCP reset (nf_send_reset(), net/ipv4/netfilter/nf_reject_ipv4.c) belongs to the connection of
        # the packet it answers, RELATED_REPLY when that went the original way, else RELATED;
        # conntrack does not look it up again and NAT rewrites it by that direction.
        original = about.direction in (ORIGINAL, RELATED)
        skb.conn, skb.direction = about.conn, RELATED_REPLY if original else RELATED
        if isinstance(packet, Tcp):
            # nf_send_reset() -> nf_ct_set_closing(): the reset closes the connection it answers.
            conntrack.set_closing(about.conn, stack.now, ns.netfilter.timeouts)
    verdict = netfilter.hook(stack, ns, OUTPUT, skb, outdev=hop.dev)
    if verdict.skb is None:
        return hop
    skb = verdict.skb
    if skb.packet.dst_ip != packet.dst_ip:
        # nf_nat_ipv4_local_fn(): a new destination needs a new route (ip_route_me_harder()). When it
        # fails, NF_DROP_ERR() drops the packet, but the sender had its route: the first hop is what it
        # gets back, not None (a connect() goes on to retransmit; tcp_connect() ignores the error).
        rerouted = route(ns, skb.packet.dst_ip)
        if rerouted is None:
            stack.event(f"{ns.label} has no route to {skb.packet.dst_ip}: the packet is dropped")
            return hop
        if not _localnet_allows(ns, skb.packet.src_ip, rerouted):
            stack.event(
                f"{ns.label} may not send from {skb.packet.src_ip} out of {rerouted.dev} (route_localnet is 0): "
                "the packet is dropped"
            )
            return hop
        hop = rerouted
    if hop.kind == "local":
        # ip_output() passes POSTROUTING on the way to lo too (where conntrack confirms), before the
        # device: a SYN lost to a lo that is down has its conntrack entry all the same (outsider3's 58).
        verdict = netfilter.hook(stack, ns, POSTROUTING, skb, outdev="lo")
        if verdict.skb is None:
            return hop
        if not ns.lo_up():
            # The local route still points at lo; __dev_queue_xmit() drops for a device that is down.
            stack.event(f"{ns.label} sends {packet.summary()} through lo, which is down: it is dropped")
            return hop
        stack.event(f"{ns.label} sends {packet.summary()} through lo")
        stack.loopback(ns, verdict.skb.packet, verdict.skb)  # the skb keeps its connection (skb->_nfct) across lo
        return hop
    if hop.kind == "broadcast":
        # connect() never gets here (tcp_v4_connect() refuses such a route: ENETUNREACH), but an answer
        # can: a SYN whose source is a subnet's broadcast address is no martian, and its SYN-ACK goes
        # back to that address (outsider's 72). __mkroute_output() makes the route RTN_BROADCAST and
        # ip_finish_output2() hands the packet to the address's own neighbour entry, which
        # arp_constructor() made NUD_NOARP with ff:ff:ff:ff:ff:ff: it leaves at once, unasked.
        # (ip_mc_output() also loops a copy back to the host itself, where TCP drops it as not
        # PACKET_HOST; that copy never reaches the wire.)
        _finish(stack, ns, skb, hop.dev, str(skb.packet.dst_ip))
        return hop
    if hop.kind == "multicast":
        # A datagram to a group from a socket with a source (the resolver connect()s its socket):
        # ip_route_output_key_hash_rcu() (net/ipv4/route.c) sends it out of the device that holds the
        # source, with no gateway, whatever route matches ("Special hack: user can direct multicasts
        # ... via necessary interface"), and arp_constructor() gives the group's neighbour entry its
        # mapped MAC (NUD_NOARP, ip_eth_mc_map()). The host joined no group: no copy loops back.
        src = v4_address(skb.packet.src_ip)
        held = [i.name for i in ns.ifaces.values() if i.kind != "loopback" and src in {a.ip for a in i.addresses}]
        _finish(stack, ns, skb, held[0] if held else hop.dev, str(skb.packet.dst_ip))
        return hop
    assert hop.neighbour is not None
    _finish(stack, ns, skb, hop.dev, hop.neighbour)
    return hop


def _localnet_allows(ns: Namespace, src: str, hop: routing.NextHop) -> bool:
    """__mkroute_output() (net/ipv4/route.c): a 127/8 source may leave by a device other than lo only
    with that device's route_localnet; otherwise the output route lookup fails (-EINVAL)."""
    if ipaddress.IPv4Address(src) not in LOOPBACK_NET:
        return True
    return hop.kind == "local" or hop.dev == "lo" or hop.dev in ns.route_localnet


def owns(ns: Namespace, ip: str) -> bool:
    """__ip_dev_find(): `ip` is an address of one of the host's devices, or in lo's 127/8."""
    address = ipaddress.IPv4Address(ip)
    if address in ns.local_addresses() or address == ipaddress.IPv4Address(0):
        return True  # a zero saddr is not checked: the route picks one, or none (outsider3's 102)
    lo = ns.ifaces.get("lo")
    in_lo = address in LOOPBACK_NET and lo is not None and any(address in a.network for a in lo.addresses)
    return in_lo or ns.on_lo(address)  # __ip_dev_find() asks the local table: a prefix on lo


def _finish(stack: Stack, ns: Namespace, skb: Skb, dev: str, neighbour: str) -> None:
    """ip_output() -> POSTROUTING -> ip_finish_output2(): hand the packet to the neighbour layer."""
    verdict = netfilter.hook(stack, ns, POSTROUTING, skb, outdev=dev, nexthop=neighbour)
    if verdict.skb is None:
        return
    packet = verdict.skb.packet
    if dev == "lo":
        # A unicast route out of lo (its gateway 127.0.0.1 or in a prefix on lo: fib_check_nh_v4_gw() gave
        # it dev lo, scope host). lo is IFF_NOARP (arp_constructor(): NUD_NOARP, nothing is asked), and
        # loopback_xmit() (drivers/net/loopback.c) hands the packet back with its output route, which
        # delivers it here (__mkroute_output(): RTCF_LOCAL for dev lo), forwarding on or not; but it is for
        # none of the host's addresses: no reset answers it (tcp_v4_send_reset(): the route is not
        # RTN_LOCAL), and a listener's SYN-ACK from that address finds no route (ip_route_output_key_hash_rcu():
        # __ip_dev_find() fails). Seen in the lab as silence; netsim drops it here.
        stack.event(f"{ns.label} sends {packet.summary()} out of lo: it is for none of its addresses, it is lost")
        return
    iface = ns.ifaces[dev]

    def frame_for(mac: str) -> Frame:
        return Frame(iface.mac, mac, packet)

    send_via_neighbour(stack, ns, dev, neighbour, frame_for, packet)


def route(ns: Namespace, dst: str) -> routing.NextHop | None:
    return routing.lookup(v4_address(dst), ns.local_addresses(), ns.routes, ns.broadcast_addresses())


def send_via_neighbour(
    stack: Stack, ns: Namespace, dev: str, ip: str, frame_for: Callable[[str], Frame], packet: object = None
) -> None:
    """ip_finish_output2() then neigh_output(): through the neighbour entry; a packet waits in
    arp_queue while INCOMPLETE. A segment that carries a pending confirmation (an ACK to a SYN-ACK,
    Tcp.pending_confirm) confirms the entry first (sock_confirm_neigh(), include/net/sock.h), here
    and at every router that forwards it: the bit travels with the skb (outsider's 87: a DNATed
    ACK kept the laptop's DELAY entry for the container from probing)."""
    entry = ns.neigh.lookup(ip, dev)
    if isinstance(packet, Tcp) and packet.pending_confirm:
        ns.neigh.confirm_entry(entry)
    if ns.neigh.output(entry, Parked(dev, frame_for, packet)):
        return
    assert entry.mac is not None
    stack.transmit(ns, dev, frame_for(entry.mac))


def nexthop(ns: Namespace, ip: str) -> str:
    """The neighbour a packet for `ip` is handed to: the gateway, or `ip` itself on-link."""
    hop = route(ns, ip)
    return hop.neighbour if hop is not None and hop.neighbour else ip
