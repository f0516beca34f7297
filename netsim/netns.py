"""A network namespace: its own lo, interfaces, routes, neighbours, sockets and firewall."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from netsim.addresses import LOOPBACK_NET, prefix_routed
from netsim.dns import Server as DnsServer
from netsim.frames import Tcp
from netsim.icmp import Peer as IcmpPeer
from netsim.neighbour import NeighbourTable
from netsim.netfilter import Netfilter
from netsim.routing import RouteEntry
from netsim.scenario import HostsLine
from netsim.udp import Waiting


@dataclass(eq=False)
class Iface:
    name: str
    mac: str
    addresses: list[ipaddress.IPv4Interface]  # in the order added; the first of a subnet is its primary
    kind: str  # "loopback", "veth" or "bridge" (the bridge device, the host's own seat in the room)
    ns: str = ""  # the namespace it is in now
    up: bool = True
    peer: Iface | None = None  # the other end of a veth cable
    master: str | None = None  # the bridge this interface is a port of; its name is the port's name
    carrier: bool = True  # what the kernel last saw of the link (netif_carrier_ok)

    def primary_of(self, network: ipaddress.IPv4Network) -> ipaddress.IPv4Interface | None:
        """The subnet's primary address here: the first one added in `network` (__inet_insert_ifa()
        makes any later one in the same subnet and mask a secondary)."""
        return next((a for a in self.addresses if a.network == network), None)


@dataclass
class Connection:
    """A socket in SYN_SENT, waiting for the answer that decides connect()'s result."""

    src_ip: str
    sport: int
    dst_ip: str
    dport: int
    state: str = "SYN_SENT"  # or one of tcp.OUTCOMES
    ttl: int = 64  # IP_TTL of the socket: what its packets leave with
    reads: str | None = None  # what a read() after connecting got: "eof" once the peer sent FIN
    sent: float = 0.0  # when its SYN last left (tcp_skb_timestamp of the retransmit queue's head)
    firings: int = 0  # how often the retransmit timer fired (icsk_retransmits, tp->total_rto)
    isn: int = 0  # the sequence number its SYN carries (snd_una until a SYN-ACK acknowledges it)
    armed: int = 0  # which arming of its retransmission timer is current (a re-arm makes older ones stale)
    syn: Tcp | None = None  # the SYN it sends again
    schedule: list[float] = field(default_factory=list)  # its retransmissions' times, from the last one's
    blocking: bool = False  # a blocking connect(): its caller holds the socket while the first SYN leaves
    soft_error: str | None = None  # sk_err_soft: an ICMP error heard while the caller held the socket


@dataclass(frozen=True)
class Settled:
    """What a non-blocking connect() came to (Stack.start_connection())."""

    outcome: str  # connected, or one of tcp.OUTCOMES
    four: tuple[str, int, str, int]  # its own address and port, then the peer's
    at_once: bool  # connect() itself failed, before any SYN left, rather than on an answer or a timer


@dataclass
class Namespace:
    name: str
    label: str
    ifaces: dict[str, Iface] = field(default_factory=dict)
    routes: list[RouteEntry] = field(default_factory=list)
    neigh: NeighbourTable = field(default_factory=NeighbourTable)
    listeners: set[tuple[str, int]] = field(default_factory=set)
    reuseport: set[tuple[str, int]] = field(default_factory=set)  # listeners with SO_REUSEPORT
    listener_count: dict[tuple[str, int], int] = field(default_factory=dict)  # more than one: a reuseport group
    half_open: dict[tuple[str, int, str, int], str] = field(default_factory=dict)  # SYN-ACK sent: by which listener
    # Their request socks' retransmission timers: how often each fired (num_timeout) and which
    # arming is current (mod_timer() replaces the pending one; netsim's older timers find it stale).
    requests: dict[tuple[str, int, str, int], list[int]] = field(default_factory=dict)
    # Each request's rcv_isn (the SYN's sequence number it was made from) and last_oow_ack_time
    # (tcp_check_req(): a SYN with another number is out of the request's window).
    request_isn: dict[tuple[str, int, str, int], int] = field(default_factory=dict)
    # Each request's snt_isn: its SYN-ACK's sequence number (secure_tcp_seq()), sent again by each
    # retransmission, and what tcp_req_err() holds an ICMP error's quote to.
    request_snt_isn: dict[tuple[str, int, str, int], int] = field(default_factory=dict)
    request_oow_ack: dict[tuple[str, int, str, int], float] = field(default_factory=dict)
    # SYN cookies sent by a listener whose SYN queue was full: the four -> (listener, the cookie, the
    # SYN-ACK's sequence number); no request sock stands behind them (tcp_conn_request(), want_cookie).
    syn_cookies: dict[tuple[str, int, str, int], tuple[str, int]] = field(default_factory=dict)
    # Established connections, either end: (local ip, port, peer ip, port) -> when the socket last
    # sent a challenge ACK (tcp_send_challenge_ack(); tcp_oow_rate_limited() allows one per 500 ms)
    established: dict[tuple[str, int, str, int], float] = field(default_factory=dict)
    # Their rcv_nxt: the peer's initial sequence number + 1 (no data flows in netsim), what an RST must
    # carry to reset the socket and what its ACKs acknowledge (tcp_validate_incoming()).
    rcv_nxt: dict[tuple[str, int, str, int], int] = field(default_factory=dict)
    # The established ones whose sk_dst_pending_confirm is set: tcp_ack() saw the peer acknowledge what
    # this socket sent (sk_dst_confirm(), net/ipv4/tcp_input.c: an accepted socket from the handshake's
    # last ACK on) and the socket has sent nothing since; its next segment carries it (tcp.carry_confirm()).
    dst_pending_confirm: set[tuple[str, int, str, int]] = field(default_factory=set)
    # The established ones that are SSH connections (an ssh -L's, either end): their segments carry
    # SSH's messages, which the simulation reads (Stack.ssh_segment).
    ssh_sessions: set[tuple[str, int, str, int]] = field(default_factory=set)
    drop_tcp_ports: set[int] = field(default_factory=set)
    reject_tcp_ports: set[int] = field(default_factory=set)
    reset_tcp_ports: set[int] = field(default_factory=set)
    prohibit_tcp_ports: set[int] = field(default_factory=set)
    tcp_syn_retries: int = 6
    connections: list[Connection] = field(default_factory=list)
    ip_forward: bool = False  # net.ipv4.ip_forward: a new namespace does not route for others
    netfilter: Netfilter = field(default_factory=Netfilter)
    # The connections completed since a program last accepted: (listener, (local ip, port, peer ip,
    # port)); those between SYN-ACK and ACK (the kernel's request socks) are in half_open above.
    accepted: list[tuple[tuple[str, int], tuple[str, int, str, int]]] = field(default_factory=list)
    route_localnet: set[str] = field(default_factory=set)  # devices with net.ipv4.conf.DEV.route_localnet = 1
    # The local fib table exists: fib_new_table() makes it with its first route, the first address anywhere
    # (lo's 127.0.0.1 when lo first comes up). A fresh namespace has none (Simulation._bindable()).
    local_table: bool = True
    # Name resolution: what the namespace's private mount namespace shows at /etc/hosts and
    # /etc/resolv.conf, the DNS servers running in it (by listening address), and resolver sockets
    # waiting for an answer (by their own address and port).
    hosts_file: list[HostsLine] = field(default_factory=list)
    nameservers: list[str] = field(default_factory=list)
    dns_servers: dict[str, DnsServer] = field(default_factory=dict)
    udp_waiting: dict[tuple[str, int], Waiting] = field(default_factory=dict)
    icmp_peers: dict[str, IcmpPeer] = field(default_factory=dict)  # ICMP error rate limit per destination

    def local_addresses(self) -> set[ipaddress.IPv4Address]:
        """The `local` routes: every address of every interface, up or down (weak host model).

        fib_add_ifaddr() adds a local route per address and a link going down keeps it (only the
        connected and broadcast routes go), so a host's own address stays its own.
        """
        return {a.ip for i in self.ifaces.values() for a in i.addresses}

    def broadcast_addresses(self) -> dict[ipaddress.IPv4Address, str]:
        """The local table's broadcast routes: each subnet's broadcast address on an interface that
        is up, for a prefix shorter than /31 whose network is not 0.0.0.0 (fib_add_ifaddr(),
        prefix_routed(); a link going down takes them). lo's prefixes too: 127.255.255.255 and the top
        of any prefix put on lo are RTN_BROADCAST while lo is up (`ip route get 127.255.255.255` says
        broadcast), and connect() there is ENETUNREACH."""
        return {
            a.network.broadcast_address: i.name
            for i in self.ifaces.values()
            if i.up
            for a in i.addresses
            if a.network.prefixlen < 31 and prefix_routed(a)
        }

    def lo_up(self) -> bool:
        lo = self.ifaces.get("lo")
        return lo is not None and lo.up

    def source_address(self, dev: str, toward: str | None = None) -> str:
        """inet_select_addr(): the device's address on the same network as `toward`, else its first
        of scope universe: a 127/8 address has scope host (iproute2's default_scope()) and is skipped
        for a destination elsewhere (`ifa->ifa_scope > scope`)."""
        iface = self.ifaces.get(dev)
        universe = [a for a in iface.addresses if a.ip not in LOOPBACK_NET] if iface is not None else []
        if iface is None or not universe:
            # No address on the device (or only 127/8 ones, host scope: lo's, as masquerade asks when a
            # connection to one's own address leaves by lo): inet_select_addr() (net/ipv4/devinet.c) walks every device,
            # lo first, and in_dev_select_addr() takes the first address whose scope is not link and
            # within the route's: a 127/8 address has scope host, wider than a route's scope link or
            # universe allows, so it is skipped (outsider3's 69: an unnumbered eth0 sends from eth1's).
            # With none anywhere it gives 0: an ARP probe from 0.0.0.0, SYNs from 0.0.0.0 (outsider3's 102).
            others = sorted(self.ifaces.values(), key=lambda i: i.name != "lo")
            for other in others:
                for address in other.addresses:
                    if address.ip not in LOOPBACK_NET:
                        return str(address.ip)
            return "0.0.0.0"
        if toward is not None:
            for address in universe:
                if ipaddress.IPv4Address(toward) in address.network:
                    return str(address.ip)
        return str(universe[0].ip)

    def on_lo(self, ip: ipaddress.IPv4Address, link_scope: bool = False) -> bool:
        """Within a prefix on lo, 127.0.0.1/8 too, that no longer route takes elsewhere: fib_add_ifaddr() makes
        a prefix on lo RTN_LOCAL, and the local table keeps it while lo is down (fib_sync_down_dev() spares
        local routes). Without policy rules the local table shares the main table's trie (fib_new_table(),
        net/ipv4/fib_frontend.c: RT_TABLE_LOCAL is an alias of RT_TABLE_MAIN), so fib_lookup() and
        inet_addr_type_table() are one longest-prefix match over both; of one prefix in both, the local
        alias comes first (fib_insert_alias(): tb_id descending). `link_scope`: the lookup
        fib_check_nh_v4_gw() makes for a new route's gateway (net/ipv4/fib_semantics.c: flowi4_scope
        RT_SCOPE_LINK), which skips routes through a gateway (scope universe)."""
        # The local table's prefix routes (RouteEntry.local), which fib_add_ifaddr() adds only once lo is
        # up (a prefix put on lo while it is down makes only its own address local), and 127/8 once lo
        # has 127.0.0.1, as routing.lookup() holds them.
        held = [r.network.prefixlen for r in self.routes if r.local and ip in r.network]
        if ip in LOOPBACK_NET and any(a in LOOPBACK_NET for a in self.local_addresses()):
            held.append(LOOPBACK_NET.prefixlen)
        # One trie for local and main (routing.lookup()): a longer main route takes the address elsewhere.
        beaten = any(
            not r.local
            and not (link_scope and r.via is not None)
            and ip in r.network
            and r.network.prefixlen > max(held, default=32)
            for r in self.routes
        )
        return bool(held) and not beaten

    def is_local(self, ip: ipaddress.IPv4Address) -> bool:
        """inet_addr_type() == RTN_LOCAL, asking the local table (as inet_addr_type_dev_table() and
        nft's `fib daddr type` do, with no device): one of the host's addresses, or any address of
        127/8 or of a prefix put on lo, which fib_add_ifaddr() (net/ipv4/fib_frontend.c) makes
        RTN_LOCAL as a whole (on_lo(): while lo holds it, and no longer main route takes it elsewhere),
        but for the prefix's broadcast address (a /32 RTN_BROADCAST route)."""
        if ip in self.local_addresses():
            return True
        return self.on_lo(ip) and ip not in self.broadcast_addresses()

    def local_source(self, dst: str) -> str:
        """The preferred source of the local-table route that holds `dst`: fib_add_ifaddr() adds each
        address's local route with `src PRIMARY`, the first address of its subnet on its device (a
        secondary's is that primary), lo's prefix route (127.0.0.0/8, or any prefix put on lo) and each
        subnet's broadcast route the same way; 0.0.0.0 is the loopback's own."""
        ip = ipaddress.IPv4Address(dst)
        if int(ip) == 0:
            return "127.0.0.1"
        # An address's own /32 first, then a subnet's broadcast /32, then the longest of lo's prefixes
        # holding it (fib_table_lookup() is longest-prefix: 127.1.0.0/16 put on lo beats 127.0.0.0/8, and
        # says src 127.1.0.1).
        found = [
            (address.ip == ip, ip == address.network.broadcast_address, address.network.prefixlen, iface, address)
            for iface in self.ifaces.values()
            for address in iface.addresses
            if address.ip == ip
            or ((iface.kind == "loopback" or ip == address.network.broadcast_address) and ip in address.network)
        ]
        if not found:
            return dst
        *_, iface, address = max(found, key=lambda f: f[:3])
        primary = iface.primary_of(address.network)
        assert primary is not None  # `address` itself is in its network
        return str(primary.ip)
