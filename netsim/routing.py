"""Route lookup (net/ipv4/route.c, fib): local addresses, connected networks, gateways."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from netsim.addresses import LOOPBACK_NET


@dataclass(frozen=True)
class RouteEntry:
    network: ipaddress.IPv4Network
    dev: str
    via: ipaddress.IPv4Address | None = None


@dataclass(frozen=True)
class NextHop:
    kind: str  # "local" (delivered through lo) or "link" (sent on dev to `neighbour`)
    dev: str
    neighbour: str | None = None


def lookup(
    dst: ipaddress.IPv4Address,
    local_addresses: set[ipaddress.IPv4Address],
    routes: list[RouteEntry],
) -> NextHop | None:
    """The local table first (own addresses, and 127/8 once lo has 127.0.0.1), then longest prefix.

    A fresh namespace's lo has no address until it first comes up, so it cannot even reach its
    own 127.0.0.1 ("Network is unreachable"). Routes through a device that is down are not in
    `routes` at all (fib_disable_ip() removed them); local ones stay, and point at lo, up or not.
    """
    loopback = any(a in LOOPBACK_NET for a in local_addresses)
    if dst in local_addresses or (loopback and dst in LOOPBACK_NET):
        return NextHop("local", "lo")
    best: RouteEntry | None = None
    for route in routes:
        if dst in route.network and (best is None or route.network.prefixlen > best.network.prefixlen):
            best = route
    if best is None:
        return None
    return NextHop("link", best.dev, str(best.via or dst))
