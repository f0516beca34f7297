"""A network namespace: its own lo, interfaces, routes, neighbours, sockets and firewall."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from netsim.neighbour import NeighbourTable
from netsim.netfilter import Netfilter
from netsim.routing import RouteEntry


@dataclass(eq=False)
class Iface:
    name: str
    mac: str
    address: ipaddress.IPv4Interface | None
    kind: str  # "loopback", "veth" or "bridge" (the bridge device, the host's own seat in the room)
    ns: str = ""  # the namespace it is in now
    up: bool = True
    peer: Iface | None = None  # the other end of a veth cable
    master: str | None = None  # the bridge this interface is a port of; its name is the port's name


@dataclass
class Connection:
    """A socket in SYN_SENT, waiting for the answer that decides connect()'s result."""

    src_ip: str
    sport: int
    dst_ip: str
    dport: int
    state: str = "SYN_SENT"  # or one of tcp.OUTCOMES
    ttl: int = 64  # IP_TTL of the socket: what its packets leave with


@dataclass
class Namespace:
    name: str
    label: str
    ifaces: dict[str, Iface] = field(default_factory=dict)
    routes: list[RouteEntry] = field(default_factory=list)
    neigh: NeighbourTable = field(default_factory=NeighbourTable)
    listeners: set[tuple[str, int]] = field(default_factory=set)
    drop_tcp_ports: set[int] = field(default_factory=set)
    reject_tcp_ports: set[int] = field(default_factory=set)
    tcp_syn_retries: int = 6
    connections: list[Connection] = field(default_factory=list)
    ip_forward: bool = False  # net.ipv4.ip_forward: a new namespace does not route for others
    netfilter: Netfilter = field(default_factory=Netfilter)

    def local_addresses(self) -> set[ipaddress.IPv4Address]:
        # Weak host model: every address of every interface that is up is "mine", whichever the port.
        return {i.address.ip for i in self.ifaces.values() if i.address is not None and i.up}

    def lo_up(self) -> bool:
        lo = self.ifaces.get("lo")
        return lo is not None and lo.up

    def source_address(self, dev: str) -> str:
        iface = self.ifaces.get(dev)
        if iface is not None and iface.address is not None:
            return str(iface.address.ip)
        return "127.0.0.1"
