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
    # What inet_select_addr() is asked toward when the route has no src: the nexthop's gateway as the
    # route holds it (fib_result_prefsrc() -> fib_info_update_nhc_saddr(), net/ipv4/fib_semantics.c:
    # nh->fib_nh_gw4, even a gateway rt_set_nexthop() does not use), None for a route with no gateway
    # (gw 0: the device's first primary address), and for a local-table broadcast route its own
    # address (fib_add_ifaddr() gave it `src PRIMARY`, the primary of the subnet it is the end of).
    toward: str | None = None


def lookup(
    dst: ipaddress.IPv4Address,
    local_addresses: set[ipaddress.IPv4Address],
    routes: list[RouteEntry],
    broadcasts: dict[ipaddress.IPv4Address, str] | None = None,
) -> NextHop | None:
    """The local table's /32s first (own addresses, broadcasts), then the longest prefix, where a prefix
    on lo (127/8 once lo has 127.0.0.1) is local and wins a tie.

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
        # A /32 of the local table, more specific than a prefix on lo that holds it (127.255.255.255 in
        # 127.0.0.0/8): fib_add_ifaddr() adds a broadcast route for lo's prefixes too.
        return NextHop("broadcast", broadcasts[dst], toward=str(dst))
    best: RouteEntry | None = None
    for route in routes:
        if route.local or dst not in route.network:
            continue
        if best is None or route.network.prefixlen > best.network.prefixlen:
            best = route
    # A prefix on lo (127.0.0.0/8 too) is RTN_LOCAL in the local table, which fib_lookup() searches in
    # one trie with main (fib4_rules_init(), net/ipv4/fib_rules.c: the tables are merged until a rule is
    # added): the longer prefix wins, a tie goes to local (fib_insert_alias() puts the local table's
    # alias first), so a main route more specific than lo's prefix takes its addresses elsewhere.
    held = [r.network.prefixlen for r in routes if r.local and dst in r.network]
    held += [LOOPBACK_NET.prefixlen] if loopback and dst in LOOPBACK_NET else []
    if held and (best is None or best.network.prefixlen <= max(held)):
        return NextHop("local", "lo")
    if best is None:
        return None
    src = str(best.src) if best.src is not None else None
    toward = str(best.via) if best.via is not None else None
    # fib_select_path() picks the source from the matched route before __mkroute_output() decides
    # what kind of route it makes (net/ipv4/route.c, ip_route_output_key_hash_rcu()).
    if dst.is_multicast:
        # __mkroute_output() (net/ipv4/route.c): RTN_MULTICAST keeps the route's gateway unless the route
        # is shorter than /4 ("If multicast route do not exist use default one, but do not gateway").
        keep = best.via is not None and not best.gateway_is_host and best.network.prefixlen >= 4
        return NextHop("multicast", best.dev, gateway=toward if keep else None, src=src, toward=toward)
    if dst == LIMITED_BROADCAST:
        # __mkroute_output(): 255.255.255.255 is RTN_BROADCAST on the matching route's device,
        # without its gateway (fi = NULL), and connect() refuses it (tcp_v4_connect(): RTCF_BROADCAST).
        return NextHop("broadcast", best.dev, src=src, toward=toward)
    if best.via is not None and best.gateway_is_host:
        # A gateway that is the host's own address: fib_check_nh_v4_gw() keeps its scope (host),
        # and rt_set_nexthop() uses a gateway only of scope link (net/ipv4/fib_semantics.c,
        # route.c), so the destination is resolved on the route's device as if on-link.
        return NextHop("link", best.dev, str(dst), None, toward=toward)
    return NextHop("link", best.dev, str(best.via or dst), toward, src, toward)


def route_get(
    dst: ipaddress.IPv4Address,
    local_addresses: set[ipaddress.IPv4Address],
    routes: list[RouteEntry],
    source_of: Callable[[str, str | None], str],
    broadcasts: dict[ipaddress.IPv4Address, str],
    local_source: Callable[[str], str],
) -> dict[str, str | None]:
    """`ip -j route get DST` (inet_rtm_getroute()): the route a packet to `dst` would take.

    The same lookup as a packet's; `prefsrc` is the address of the interface it leaves by
    (fib_result_prefsrc() with no `src` on the route: inet_select_addr() of that device toward
    the route's gateway, or none), which `source_of(dev, NextHop.toward)` answers; a local
    destination's is its local route's `src`, which `local_source(dst)` answers.
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
    if hop.kind == "broadcast" and hop.toward == str(dst):
        # A subnet's broadcast route says `src PRIMARY` (fib_add_ifaddr()), 127.0.0.1 on lo's 127/8.
        prefsrc = local_source(str(dst))
        return {"type": "broadcast", "dst": str(dst), "gateway": None, "dev": hop.dev, "prefsrc": prefsrc}
    if hop.kind in ("broadcast", "multicast"):
        prefsrc = hop.src or source_of(hop.dev, hop.toward)
        return {"type": hop.kind, "dst": str(dst), "gateway": hop.gateway, "dev": hop.dev, "prefsrc": prefsrc}
    # The matched route's gateway, even when it is the destination itself: with its subnet gone,
    # `ip route get 10.0.0.1` answers "via 10.0.0.1" through the default route (fib_select_path()).
    gateway = hop.gateway
    prefsrc = hop.src or source_of(hop.dev, hop.toward)
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
        via = f" via {result['gateway']}" if result["gateway"] else ""  # a multicast route of /4 or longer
        head = f"{result['type']} {result['dst']}{via} dev {result['dev']} src {result['prefsrc']}"
        return f"{head} uid 0 \n    cache {flag} "
    via = f" via {result['gateway']}" if result["gateway"] else ""
    src = f" src {result['prefsrc']}" if result["prefsrc"] else ""
    return f"{result['dst']}{via} dev {result['dev']}{src} uid 0 \n    cache "
