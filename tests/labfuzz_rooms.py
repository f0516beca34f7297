"""The lab fuzzer's `rooms` family: namespaces and cables that come and go while traffic flows.

A hub with a bridge of containers (and maybe a second bridge to a far host, routed and maybe
masqueraded by the name of its device), two containers there from the start and two that do not
exist yet (`absent: true`). The steps build rooms as a container runtime does (netns_add, veth_add,
link_move, link_rename, master, addresses, up, a default route), in order or half-done, and take
them apart again in any order (link_del of either end, nomaster, netns_del, renames and moves of
live devices, addresses and routes deleted), with connects, listeners (some SO_REUSEPORT), ARP,
broadcasts, route lookups and short waits in between. What it pins is where those meet:
dev_change_net_namespace() and dev_change_name() (net/core/dev.c), fib_sync_down_dev() and
fib_disable_ip() (net/ipv4/fib_semantics.c, fib_frontend.c), neigh_ifdown() (net/core/neighbour.c),
br_del_if() and br_fdb_delete_by_port() (net/bridge/br_if.c, br_fdb.c), veth_dellink()
(drivers/net/veth.c), nftables' `oifname` matched by name at packet time, and the sockets a
deleted namespace takes with it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from labfuzz import _firewall_del

WAIT_BUDGET = 12.0
PORTS = [80, 8080, 9000]
# Names for the hub's ends of the cables the steps make: not declared under br0's ports (a declared
# port no cable fills is made at the start), they become ports when a step plugs them in.
DYNAMIC_PORTS = ("v1", "v2")


@dataclass
class Dev:
    """One network interface the generator knows of (lo left out): where it is and what it holds."""

    ns: str
    name: str
    peer: Dev | None = None
    master: str | None = None
    up: bool = False
    addresses: list[str] = field(default_factory=list)  # CIDRs


@dataclass
class Rooms:
    rng: random.Random
    net: str  # "10.S"
    present: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    devs: list[Dev] = field(default_factory=list)
    routes: list[tuple[str, str]] = field(default_factory=list)  # (host, to)
    listeners: list[tuple[str, str]] = field(default_factory=list)  # (host, bind)
    firewall: list[tuple[str, str, int]] = field(default_factory=list)
    bridges: list[str] = field(default_factory=list)
    waited: float = 0.0
    serial: int = 0

    def ips(self) -> list[str]:
        return [c.split("/")[0] for d in self.devs for c in d.addresses]

    def some_ip(self) -> str:
        known = self.ips()
        if known and self.rng.random() < 0.8:
            return self.rng.choice(known)
        return f"{self.net}.0.{self.rng.choice([1, 2, 25, 99])}"

    def devs_in(self, ns: str) -> list[Dev]:
        return [d for d in self.devs if d.ns == ns]

    def container_devs(self) -> list[Dev]:
        return [d for d in self.devs if d.ns != "hub" and d.ns in self.present]

    def fresh_name(self, ns: str, stem: str) -> str:
        taken = {d.name for d in self.devs_in(ns)}
        for n in range(0, 9):
            if f"{stem}{n}" not in taken:
                return f"{stem}{n}"
        return f"{stem}9"

    def free_ports(self) -> list[str]:
        """The names for a new cable's hub end that no device of the hub holds now."""
        taken = {d.name for d in self.devs_in("hub")}
        return [p for p in DYNAMIC_PORTS if p not in taken]

    def gone(self, dev: Dev) -> None:
        """A device deleted, with its veth peer (veth_dellink() takes both ends)."""
        for d in (dev, dev.peer):
            if d is not None and d in self.devs:
                self.devs.remove(d)
        self.routes = [(h, to) for h, to in self.routes if any(d.ns == h for d in self.devs)]


def generate(seed: int) -> dict[str, Any]:
    """The `rooms` scenario of one seed, as the mapping a YAML file holds."""
    rng = random.Random(seed)
    net = f"10.{rng.randrange(1, 250)}"
    world = Rooms(rng=rng, net=net, present=["hub", "ann", "ben"], absent=["cat", "dan"])
    far = rng.random() < 0.5
    bridges: dict[str, dict[str, Any]] = {
        "br0": {
            "host": "hub",
            "address": f"{net}.0.1/24",
            "ports": {"p1": {}, "p2": {}},
        }
    }
    world.bridges = ["br0"]
    world.devs.append(Dev("hub", "br0", up=True, addresses=[f"{net}.0.1/24"]))
    hosts: dict[str, dict[str, Any]] = {"hub": {}}
    for index, name in enumerate(["ann", "ben"], start=1):
        host: dict[str, Any] = {
            "interfaces": {
                "eth0": {"mac": f"02:{seed % 256:02x}:00:00:0{index}:01", "address": f"{net}.0.1{index}/24"}
            },
            "tcp_syn_retries": 1,
        }
        host["interfaces"]["eth0"]["plug"] = f"br0.p{index}"
        if rng.random() < 0.8:
            host["gateway"] = f"{net}.0.1"
            world.routes.append((name, "default"))
        port = rng.choice(PORTS)
        host["listeners"] = [f"0.0.0.0:{port}"]
        world.listeners.append((name, f"0.0.0.0:{port}"))
        if rng.random() < 0.2:
            host["reject_tcp_ports"] = [8080]
            world.firewall.append((name, "reject_tcp_ports", 8080))
        hosts[name] = host
        port_dev = Dev("hub", f"p{index}", master="br0", up=True)
        leg = Dev(name, "eth0", peer=port_dev, up=True, addresses=[f"{net}.0.1{index}/24"])
        port_dev.peer = leg
        world.devs += [port_dev, leg]
    if far:
        bridges["br1"] = {"host": "hub", "address": f"{net}.1.1/24", "ports": {"q1": {}}}
        world.bridges.append("br1")
        world.devs.append(Dev("hub", "br1", up=True, addresses=[f"{net}.1.1/24"]))
        hosts["hub"]["ip_forward"] = True
        if rng.random() < 0.6:
            rule: dict[str, Any] = {"saddr": f"{net}.0.0/24"}
            if rng.random() < 0.6:
                rule["oifname"] = "br1"
            hosts["hub"]["masquerade"] = [rule]
        hosts["far"] = {
            "interfaces": {"eth0": {"mac": f"02:{seed % 256:02x}:00:00:09:01", "address": f"{net}.1.20/24"}},
            "listeners": ["0.0.0.0:80"],
            "gateway": f"{net}.1.1",
            "tcp_syn_retries": 1,
        }
        hosts["far"]["interfaces"]["eth0"]["plug"] = "br1.q1"
        port_dev = Dev("hub", "q1", master="br1", up=True)
        leg = Dev("far", "eth0", peer=port_dev, up=True, addresses=[f"{net}.1.20/24"])
        port_dev.peer = leg
        world.devs += [port_dev, leg]
        world.present.append("far")
        world.listeners.append(("far", "0.0.0.0:80"))
    hosts["hub"]["tcp_syn_retries"] = 1
    for name in world.absent:
        hosts[name] = {"absent": True, "tcp_syn_retries": 1}
    steps: list[dict[str, Any]] = []
    for _ in range(rng.randint(6, 16)):
        kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        for body in BUILDERS[kind](world):
            world.serial += 1
            action = next(iter(body))
            steps.append({"id": f"s{world.serial}-{action.replace('_', '-')}", **body})
    return {"title": f"Fuzz case {seed}", "bridges": bridges, "hosts": hosts, "steps": steps}


# --- Building a room -----------------------------------------------------------------------


def _netns_add(w: Rooms) -> list[dict[str, Any]]:
    if not w.absent:
        return []
    name = w.absent.pop(0)
    w.present.append(name)
    return [{"netns_add": name}]


def _veth_add(w: Rooms, to_a_port: bool | None = None) -> list[dict[str, Any]]:
    """A cable: mostly one meant for a free port of br0 (its other end `tmpN`), else one inside a room."""
    if to_a_port is None:
        to_a_port = bool(w.free_ports()) and w.rng.random() < 0.8
    if to_a_port:
        name = w.free_ports()[0]
        by, peer = "hub", w.fresh_name("hub", "tmp")
    else:
        by = w.rng.choice(w.present)
        name = w.fresh_name(by, "x")
        peer = f"y{name[1:]}"
    a, b = Dev(by, name), Dev(by, peer)
    a.peer, b.peer = b, a
    w.devs += [a, b]
    body: dict[str, Any] = {"by": by, "name": name, "peer": peer}
    return [{"veth_add": body}]


def _link_move(w: Rooms) -> list[dict[str, Any]]:
    movable = [d for d in w.devs if d.name not in w.bridges and d.ns in w.present]
    if not movable or len(w.present) < 2:
        return []
    tmp = [d for d in movable if d.name.startswith(("tmp", "y"))]
    dev = w.rng.choice(tmp if tmp and w.rng.random() < 0.8 else movable)
    free = [h for h in w.present if h != dev.ns and dev.name not in {d.name for d in w.devs_in(h)}]
    if not free:
        return []
    newest = [h for h in free if h not in ("hub", "ann", "ben", "far")]
    to = w.rng.choice(newest if newest and w.rng.random() < 0.8 else free)
    body = {"by": dev.ns, "dev": dev.name, "to": to}
    dev.ns, dev.up, dev.master, dev.addresses = to, False, None, []  # a move takes it down, its addresses go
    return [{"link_move": body}]


def _link_rename(w: Rooms) -> list[dict[str, Any]]:
    """A rename: of a device that is up, half the time (dev_change_name() takes it live since Linux
    6.2), else brought down first and maybe up after; netsim renames neither bridges nor their ports."""
    devs = [d for d in w.devs if d.ns in w.present and d.master is None and d.name not in w.bridges]
    if not devs:
        return []
    dev = w.rng.choice(devs)
    out: list[dict[str, Any]] = []
    was_up = dev.up
    if dev.up and w.rng.random() < 0.5:
        name = w.fresh_name(dev.ns, "eth" if dev.ns != "hub" else w.rng.choice(["v", "wan", "tmp"]))
        out.append({"link_rename": {"by": dev.ns, "dev": dev.name, "name": name}})
        dev.name = name
        return out
    if dev.up:
        out.append({"link_set": {"by": dev.ns, "dev": dev.name, "up": False}})
    stem = "eth" if dev.ns != "hub" else w.rng.choice(["v", "wan", "tmp"])
    name = w.fresh_name(dev.ns, stem)
    out.append({"link_rename": {"by": dev.ns, "dev": dev.name, "name": name}})
    dev.name = name
    if was_up and w.rng.random() < 0.7:
        out.append({"link_set": {"by": dev.ns, "dev": dev.name, "up": True}})
    else:
        dev.up = False
    return out


def _plug(w: Rooms) -> list[dict[str, Any]]:
    loose = [d for d in w.devs_in("hub") if d.master is None and d.name not in w.bridges]
    if not loose:
        return []
    dev = w.rng.choice(loose)
    dev.master = w.rng.choice(w.bridges)
    body: dict[str, Any] = {"by": "hub", "dev": dev.name, "master": dev.master}
    if w.rng.random() < 0.7:
        body["up"] = dev.up = True
    return [{"link_set": body}]


def _updown(w: Rooms) -> list[dict[str, Any]]:
    devs = [d for d in w.devs if d.ns in w.present]
    if not devs:
        return []
    dev = w.rng.choice(devs)
    dev.up = not dev.up if w.rng.random() < 0.8 else dev.up
    return [{"link_set": {"by": dev.ns, "dev": dev.name, "up": dev.up}}]


def _addr_add(w: Rooms) -> list[dict[str, Any]]:
    devs = w.container_devs() or [d for d in w.devs if d.ns in w.present]
    dev = w.rng.choice(devs)
    third = "1" if len(w.bridges) > 1 and w.rng.random() < 0.2 else "0"
    cidr = f"{w.net}.{third}.{w.rng.randrange(20, 30)}/{w.rng.choice([24, 24, 24, 32])}"
    if cidr.split("/")[0] in w.ips():
        return []
    dev.addresses.append(cidr)
    return [{"addr_add": {"by": dev.ns, "dev": dev.name, "address": cidr}}]


def _addr_del(w: Rooms) -> list[dict[str, Any]]:
    held = [(d, c) for d in w.devs if d.ns in w.present for c in d.addresses]
    if not held:
        return []
    dev, cidr = w.rng.choice(held)
    dev.addresses.remove(cidr)
    return [{"addr_del": {"by": dev.ns, "dev": dev.name, "address": cidr}}]


def _route_add(w: Rooms) -> list[dict[str, Any]]:
    """A route via the hub, on a host with an address up on br0's network (the kernel refuses a
    gateway on no network that is up), to somewhere it has no route to yet."""
    hosts = [
        h
        for h in w.present
        if h != "hub" and any(d.up and any(c.startswith(f"{w.net}.0.") for c in d.addresses) for d in w.devs_in(h))
    ]
    if not hosts:
        return []
    by = w.rng.choice(hosts)
    to = "default" if w.rng.random() < 0.8 else f"{w.net}.1.0/24"
    if (by, to) in w.routes:
        return []
    w.routes.append((by, to))
    return [{"route_add": {"by": by, "to": to, "via": f"{w.net}.0.1"}}]


def _route_del(w: Rooms) -> list[dict[str, Any]]:
    held = [r for r in w.routes if r[0] in w.present]
    if not held:
        return []
    by, to = w.rng.choice(held)
    w.routes.remove((by, to))
    return [{"route_del": {"by": by, "to": to}}]


def _room(w: Rooms) -> list[dict[str, Any]]:
    """A whole room built the way a container runtime builds one, sometimes left half-done."""
    if not w.absent or not w.free_ports():
        return []
    out = _netns_add(w)
    host = w.present[-1]
    out += _veth_add(w, to_a_port=True)
    port, tmp = w.devs[-2], w.devs[-1]
    # How many of the six steps after the cable happen: mostly all, sometimes the room is left half-done.
    steps = w.rng.choice([6, 6, 6, 1, 3, 4, 5])
    if steps >= 1:
        out.append({"link_move": {"by": "hub", "dev": tmp.name, "to": host}})
        tmp.ns = host
    if steps >= 2:
        name = w.fresh_name(host, "eth")
        out.append({"link_rename": {"by": host, "dev": tmp.name, "name": name}})
        tmp.name = name
    if steps >= 3:
        out.append({"link_set": {"by": "hub", "dev": port.name, "master": "br0", "up": True}})
        port.master, port.up = "br0", True
    if steps >= 4:
        cidr = f"{w.net}.0.{w.rng.randrange(20, 30)}/24"
        if cidr.split("/")[0] not in w.ips():
            out.append({"addr_add": {"by": host, "dev": tmp.name, "address": cidr}})
            tmp.addresses.append(cidr)
    if steps >= 5:
        out.append({"link_set": {"by": host, "dev": tmp.name, "up": True}})
        tmp.up = True
    if steps >= 6 and tmp.addresses and (host, "default") not in w.routes:
        out.append({"route_add": {"by": host, "to": "default", "via": f"{w.net}.0.1"}})
        w.routes.append((host, "default"))
    return out


# --- Taking it apart -----------------------------------------------------------------------


def _nomaster(w: Rooms) -> list[dict[str, Any]]:
    ports = [d for d in w.devs_in("hub") if d.master is not None]
    if not ports:
        return []
    dev = w.rng.choice(ports)
    dev.master = None
    return [{"nomaster": {"by": "hub", "dev": dev.name}}]


def _link_del(w: Rooms) -> list[dict[str, Any]]:
    devs = [d for d in w.devs if d.ns in w.present and d.peer is not None]
    if not devs:
        return []
    dev = w.rng.choice(devs)
    body = {"by": dev.ns, "dev": dev.name}
    w.gone(dev)
    return [{"link_del": body}]


def _netns_del(w: Rooms) -> list[dict[str, Any]]:
    rooms = [h for h in w.present if h not in ("hub",)]
    if not rooms:
        return []
    late = [h for h in rooms if h in ("cat", "dan")]
    host = w.rng.choice(late if late and w.rng.random() < 0.8 else rooms)
    for dev in w.devs_in(host):
        if dev.peer is not None and dev.peer.ns != host:
            dev.peer.peer = None
            w.gone(dev.peer)  # the far end of a cable goes with it (veth_dellink())
        if dev in w.devs:
            w.devs.remove(dev)
    w.present.remove(host)
    w.listeners = [(h, b) for h, b in w.listeners if h != host]
    w.routes = [(h, to) for h, to in w.routes if h != host]
    return [{"netns_del": host}]


# --- Traffic between the changes ---------------------------------------------------------------


def _connect(w: Rooms) -> list[dict[str, Any]]:
    by = w.rng.choice(w.present)
    body: dict[str, Any] = {"by": by, "to": f"{w.some_ip()}:{w.rng.choice(PORTS)}"}
    if w.rng.random() < 0.4:
        body["deadline"] = w.rng.choice([0.4, 1.5])
    return [{"connect": body}]


def _listen(w: Rooms) -> list[dict[str, Any]]:
    by = w.rng.choice(w.present)
    mine = [c.split("/")[0] for d in w.devs_in(by) for c in d.addresses]
    bind = f"{w.rng.choice(['0.0.0.0', *mine])}:{w.rng.choice(PORTS)}"
    body: dict[str, Any] = {"by": by, "bind": bind, "may_fail": True}
    if w.rng.random() < 0.3:
        body["reuseport"] = True
    else:
        w.listeners.append((by, bind))
    return [{"listen": body}]


def _close(w: Rooms) -> list[dict[str, Any]]:
    held = [(h, b) for h, b in w.listeners if h in w.present]
    if not held:
        return []
    by, bind = w.rng.choice(held)
    w.listeners.remove((by, bind))
    return [{"close": {"by": by, "bind": bind}}]


def _arp(w: Rooms) -> list[dict[str, Any]]:
    return [{"arp": {"by": w.rng.choice(w.present), "target": w.some_ip()}}]


def _send(w: Rooms) -> list[dict[str, Any]]:
    legs = [d for d in w.devs if d.ns in w.present and d.ns != "hub" and d.peer is not None and d.up]
    if not legs:
        return []
    dev = w.rng.choice(legs)
    frame: dict[str, Any] = {"by": dev.ns, "dev": dev.name, "dst": w.rng.choice(["broadcast", "ann", "ben"])}
    return [{"send": frame}]


def _route_get(w: Rooms) -> list[dict[str, Any]]:
    return [{"route_get": {"by": w.rng.choice(w.present), "to": w.some_ip()}}]


def _wait(w: Rooms) -> list[dict[str, Any]]:
    seconds = w.rng.choice([0.5, 1, 2, 5])
    if w.waited + seconds > WAIT_BUDGET:
        return []
    w.waited += seconds
    return [{"wait": seconds}]


def _masquerade(w: Rooms) -> list[dict[str, Any]]:
    names = [d.name for d in w.devs_in("hub") if d.master is None]
    body: dict[str, Any] = {"by": "hub", "saddr": f"{w.net}.0.0/24"}
    if w.rng.random() < 0.6:
        body["oifname"] = w.rng.choice(names)
    return [{"masquerade": body}]


def _unfirewall(w: Rooms) -> list[dict[str, Any]]:
    body = _firewall_del(w)
    return [body] if body is not None else []


WEIGHTS: dict[str, int] = {
    "room": 6,
    "netns_add": 2,
    "veth_add": 2,
    "link_move": 3,
    "link_rename": 3,
    "plug": 2,
    "updown": 3,
    "addr_add": 2,
    "addr_del": 2,
    "route_add": 2,
    "route_del": 2,
    "nomaster": 2,
    "link_del": 3,
    "netns_del": 3,
    "connect": 10,
    "listen": 3,
    "close": 2,
    "arp": 3,
    "send": 2,
    "route_get": 2,
    "wait": 2,
    "masquerade": 1,
    "firewall_del": 1,
}
BUILDERS = {
    "room": _room,
    "netns_add": _netns_add,
    "veth_add": _veth_add,
    "link_move": _link_move,
    "link_rename": _link_rename,
    "plug": _plug,
    "updown": _updown,
    "addr_add": _addr_add,
    "addr_del": _addr_del,
    "route_add": _route_add,
    "route_del": _route_del,
    "nomaster": _nomaster,
    "link_del": _link_del,
    "netns_del": _netns_del,
    "connect": _connect,
    "listen": _listen,
    "close": _close,
    "arp": _arp,
    "send": _send,
    "route_get": _route_get,
    "wait": _wait,
    "masquerade": _masquerade,
    "firewall_del": _unfirewall,
}
assert set(BUILDERS) == set(WEIGHTS)
