"""Route lookup (net/ipv4/route.c, fib_trie.c): local addresses, connected networks, gateways.

fib_table_lookup() walks the trie for the longest prefix that contains the destination; among
routes of equal length the first added wins here (the kernel then orders by metric, all 0 here).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from netsim.addresses import LOOPBACK_NET


@dataclass(frozen=True)
class RouteEntry:
    network: ipaddress.IPv4Network
    dev: str
    via: ipaddress.IPv4Address | None = None
    # The route's preferred source: a connected route's is its subnet's primary address on the device
    # (fib_add_ifaddr() adds it with `src PRIMARY`), which fib_select_path() uses before asking the
    # device (inet_select_addr()). None for a route added by hand.
    src: ipaddress.IPv4Address | None = None
    # fib_check_nh_v4_gw() decides once, when the route is added, that its gateway is one of the
    # host's own addresses (scope host): rt_set_nexthop() then uses no gateway, whatever happens to
    # the address later.
    gateway_is_host: bool = False
    # A prefix on lo: fib_add_ifaddr() makes it RTN_LOCAL in the local table, so every address in it
    # is the host's own (a packet for 10.9.0.77 is delivered when lo holds 10.9.0.1/24).
    local: bool = False


ANY_ADDRESS = ipaddress.IPv4Address("0.0.0.0")
LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


@dataclass(frozen=True)
class NextHop:
    # "local" (delivered through lo), "link" (sent on dev to `neighbour`), "broadcast" (a subnet's
    # broadcast address, from the local table) or "multicast" (224/4, on the device the table picks)
    kind: str
    dev: str
    neighbour: str | None = None
    gateway: str | None = None  # the route's `via`, even when it is the destination itself
    src: str | None = None  # the route's preferred source (RouteEntry.src), if it has one


def lookup(
    dst: ipaddress.IPv4Address,
    local_addresses: set[ipaddress.IPv4Address],
    routes: list[RouteEntry],
    broadcasts: dict[ipaddress.IPv4Address, str] | None = None,
) -> NextHop | None:
    """The local table first (own addresses, and 127/8 once lo has 127.0.0.1), then longest prefix.

    A fresh namespace's lo has no address until it first comes up, so it cannot even reach its
    own 127.0.0.1 ("Network is unreachable"). Routes through a device that is down are not in
    `routes` at all (fib_disable_ip() removed them); local ones stay, and point at lo, up or not.

    The local table also holds each subnet's broadcast address (fib_add_ifaddr(), net/ipv4/
    fib_frontend.c, for a prefix shorter than /31; not the network's own address any more), given
    in `broadcasts` with its device. A packet for 0.0.0.0 is one for the host itself
    (ip_route_output_key_hash_rcu(), net/ipv4/route.c: no destination means the loopback). A
    multicast destination takes the device of the route that matches it, without its gateway
    (__mkroute_output() makes it RTN_MULTICAST).
    """
    loopback = any(a in LOOPBACK_NET for a in local_addresses)
    if dst in local_addresses or dst == ANY_ADDRESS:
        return NextHop("local", "lo")
    if broadcasts and dst in broadcasts:
        # A /32 in the local table, longer than lo's prefixes: 127.255.255.255 is broadcast, not local.
        return NextHop("broadcast", broadcasts[dst])
    if (loopback and dst in LOOPBACK_NET) or in_local_prefix(dst, routes):
        return NextHop("local", "lo")
    best: RouteEntry | None = None
    for route in routes:
        if dst in route.network and (best is None or route.network.prefixlen > best.network.prefixlen):
            best = route
    if best is None:
        return None
    if dst.is_multicast:
        return NextHop("multicast", best.dev)
    if dst == LIMITED_BROADCAST:
        # __mkroute_output(): 255.255.255.255 is RTN_BROADCAST on the matching route's device,
        # without its gateway (fi = NULL), and connect() refuses it (tcp_v4_connect(): RTCF_BROADCAST).
        return NextHop("broadcast", best.dev)
    if best.via is not None and best.gateway_is_host:
        # A gateway that is the host's own address: fib_check_nh_v4_gw() keeps its scope (host),
        # and rt_set_nexthop() uses a gateway only of scope link (net/ipv4/fib_semantics.c,
        # route.c), so the destination is resolved on the route's device as if on-link.
        return NextHop("link", best.dev, str(dst), None)
    src = str(best.src) if best.src is not None else None
    return NextHop("link", best.dev, str(best.via or dst), str(best.via) if best.via else None, src)


def in_local_prefix(dst: ipaddress.IPv4Address, routes: list[RouteEntry]) -> bool:
    """Within a prefix put on lo, which fib_add_ifaddr() makes RTN_LOCAL (RouteEntry.local), and no longer
    route holds it: without policy rules the local table shares the main table's trie (fib_new_table(),
    net/ipv4/fib_frontend.c: RT_TABLE_LOCAL is an alias of RT_TABLE_MAIN), so fib_lookup() and
    inet_addr_type_table() are one longest-prefix match over both; of one prefix in both, the local alias
    comes first (fib_insert_alias(): tb_id descending)."""
    best = max((r for r in routes if dst in r.network), key=lambda r: (r.network.prefixlen, r.local), default=None)
    return best is not None and best.local


def route_get(
    dst: ipaddress.IPv4Address,
    local_addresses: set[ipaddress.IPv4Address],
    routes: list[RouteEntry],
    source_of: Callable[[str, str], str],
    broadcasts: dict[ipaddress.IPv4Address, str],
    local_source: Callable[[str], str],
) -> dict[str, str | None]:
    """`ip -j route get DST` (inet_rtm_getroute()): the route a packet to `dst` would take.

    The same lookup as a packet's; `prefsrc` is the address of the interface it leaves by
    (fib_result_prefsrc() with no `src` on the route: inet_select_addr() of that device toward
    the next hop), which `source_of(dev, next_hop)` answers; a local destination's is its local
    route's `src`, which `local_source(dst)` answers.
    """
    hop = lookup(dst, local_addresses, routes, broadcasts)
    if hop is None:
        return {"error": "Network is unreachable"}
    if hop.kind == "local":
        # The local table's entry answers: an own address is its own source; 127/8 is one route,
        # `local 127.0.0.0/8 dev lo src 127.0.0.1` (fib_add_ifaddr()), so its source is 127.0.0.1,
        # as it is for 0.0.0.0 (the loopback's own address).
        # A secondary's local route says `src PRIMARY` (fib_add_ifaddr()): `local_source` answers.
        prefsrc = local_source(str(dst))
        return {"type": "local", "dst": str(dst), "gateway": None, "dev": "lo", "prefsrc": prefsrc}
    if hop.kind in ("broadcast", "multicast"):
        # A broadcast route's src is its prefix's primary (fib_magic(..., prim) in fib_add_ifaddr()); on lo
        # that is 127.0.0.1 or the prefix's own address, which inet_select_addr() would skip (scope host).
        prefsrc = local_source(str(dst)) if hop.dev == "lo" else source_of(hop.dev, str(dst))
        return {"type": hop.kind, "dst": str(dst), "gateway": None, "dev": hop.dev, "prefsrc": prefsrc}
    # The matched route's gateway, even when it is the destination itself: with its subnet gone,
    # `ip route get 10.0.0.1` answers "via 10.0.0.1" through the default route (fib_select_path()).
    gateway = hop.gateway
    assert hop.neighbour is not None  # lookup() names a link's neighbour: the gateway or dst itself
    prefsrc = hop.src or source_of(hop.dev, hop.neighbour)
    # No address of a fitting scope anywhere: inet_select_addr() gives 0, and rt_fill_info() puts no
    # RTA_PREFSRC in the answer (outsider3's 102).
    prefsrc = None if prefsrc == str(ANY_ADDRESS) else prefsrc
    return {"type": "unicast", "dst": str(dst), "gateway": gateway, "dev": hop.dev, "prefsrc": prefsrc}


def route_get_text(result: dict[str, str | None]) -> str:
    """What `ip route get` prints as root for that result, as iproute2 words it."""
    if "error" in result:
        return f"RTNETLINK answers: {result['error']}"
    if result["type"] == "local":
        return f"local {result['dst']} dev lo src {result['prefsrc']} uid 0 \n    cache <local> "
    if result["type"] in ("broadcast", "multicast"):
        flag = "<local,brd>" if result["type"] == "broadcast" else "<mc>"
        return f"{result['type']} {result['dst']} dev {result['dev']} src {result['prefsrc']} uid 0 \n    cache {flag} "
    via = f" via {result['gateway']}" if result["gateway"] else ""
    src = f" src {result['prefsrc']}" if result["prefsrc"] else ""
    return f"{result['dst']}{via} dev {result['dev']}{src} uid 0 \n    cache "
