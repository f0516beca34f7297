"""The lab fuzzer's `names` family: names and ssh tunnels (`python tests/labfuzz.py --family names`).

One bridge with two or three hosts and a router, the router's other leg a cable to a far host. Hosts
get /etc/hosts lines, resolv.conf nameservers (a DNS server on a neighbour, one across the router, one
on the host's own 127.0.0.1, and some at nobody: 127.0.0.53, a host with no server, an address nobody
holds), DNS servers with records (dotted names, so a name above one is NODATA, in mixed case), and
sshd. The steps resolve names (in a hosts file, in DNS in another case, above or below a record,
unknown, numeric in inet_aton()'s forms), start ssh -L forwards (with and without -g, bind addresses,
targets that listen, refuse, drop, nobody holds, or another forward: a chain) and knock on their
listeners, and meddle between them: links down and up, an address or a route deleted, a route added,
a firewall rule deleted, time passing. Slow paths (a nameserver nobody holds: 3 s of ARP per try)
stay rare, so a case takes seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from labfuzz import _firewall_del, _mac

# Record names: dotted ones have names above them (lab, svc.lab, home.arpa: NODATA) and below them.
RECORD_NAMES = ["web", "db", "Web.Lab", "db.lab", "api.svc.lab", "files.home.arpa", "Cache", "x9"]
FILE_NAMES = ["gw", "nas", "Printer.lan", "web", "db.lab", "host.containers.internal"]
NUMERIC = ["10.1", "167772161", "127.1", "0x7f.1", "1.2.3.4", "010.0.0.1", "4294967295", "1"]
UNKNOWN = ["nothere", "nothere.lab", "www.web", "lan", "internal"]
TARGET_PORTS = {"listen": 9001, "reject": 9002, "reset": 9003, "drop": 9004, "nobody": 9009}
FORWARD_PORTS = [19001, 19002, 19003, 19004, 19005]


@dataclass
class Names:
    """What the generator knows of the scenario it writes: addresses, servers, forwards."""

    rng: random.Random
    net: str  # "10.S.0": the bridge's /24
    far_net: str  # "10.S.1": the router's other side
    hosts: dict[str, dict[str, Any]]
    addr: dict[str, str] = field(default_factory=dict)  # host -> its (first) address
    clients: list[str] = field(default_factory=list)  # hosts on the bridge
    records: dict[str, str] = field(default_factory=dict)  # every name any DNS server knows
    file_names: list[str] = field(default_factory=list)
    sshd: list[str] = field(default_factory=list)
    forwards: list[tuple[str, str, int]] = field(default_factory=list)  # (client, bind address, port)
    firewall: list[tuple[str, str, int]] = field(default_factory=list)
    routes: list[tuple[str, str, str]] = field(default_factory=list)
    dev_of: dict[str, str] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)  # hosts whose address a step deleted
    waited: float = 0.0


def generate(seed: int) -> dict[str, Any]:
    """The scenario of one seed, as the mapping a YAML file holds (same seed, same scenario)."""
    rng = random.Random(seed)
    subnet = rng.randrange(1, 250)
    net, far_net = f"10.{subnet}.0", f"10.{subnet}.1"
    seed_byte = seed % 256
    clients = ["ann", "ben"] + (["cat"] if rng.random() < 0.6 else [])
    ports: dict[str, dict[str, Any]] = {}
    hosts: dict[str, dict[str, Any]] = {"sw": {}}
    w = Names(rng=rng, net=net, far_net=far_net, hosts=hosts, clients=clients)
    for index, name in enumerate(clients, start=1):
        ports[f"p{index}"] = {}
        address = f"{net}.{10 + index}"
        hosts[name] = {
            "interfaces": {
                "eth0": {"mac": _mac(seed_byte, index, 1), "address": f"{address}/24", "plug": f"br0.p{index}"}
            }
        }
        w.addr[name] = address
        w.dev_of[name] = "eth0"
        if rng.random() < 0.8:
            hosts[name]["gateway"] = f"{net}.1"
            w.routes.append((name, "default", f"{net}.1"))
    ports["p9"] = {}
    hosts["rt"] = {
        "interfaces": {
            "eth0": {"mac": _mac(seed_byte, 9, 1), "address": f"{net}.1/24", "plug": "br0.p9"},
            "eth1": {"mac": _mac(seed_byte, 9, 2), "address": f"{far_net}.1/24", "plug": "far.eth0"},
        },
        "ip_forward": rng.random() < 0.9,
    }
    w.addr["rt"] = f"{net}.1"
    hosts["far"] = {"interfaces": {"eth0": {"mac": _mac(seed_byte, 10, 1), "address": f"{far_net}.5/24"}}}
    w.addr["far"] = f"{far_net}.5"
    w.dev_of["far"] = "eth0"
    if rng.random() < 0.85:
        hosts["far"]["gateway"] = f"{far_net}.1"
        w.routes.append(("far", "default", f"{far_net}.1"))
    _dns_servers(w)
    for name in clients:
        _resolver_files(w, name)
    _services(w)
    for host in hosts.values():
        if host:
            host["tcp_syn_retries"] = 1
    steps = [_step(w, i) for i in range(rng.randint(5, 12))]
    return {
        "title": f"Fuzz case {seed}",
        "bridges": {"br0": {"host": "sw", "ports": ports}},
        "hosts": hosts,
        "steps": [s for s in steps if s is not None],
    }


def _dns_servers(w: Names) -> None:
    """A server on ben (most of the time), maybe one on far across the router and one on a client's
    own 127.0.0.1; each knows a few of RECORD_NAMES, pointing at hosts or at nobody."""
    rng = w.rng
    places: list[tuple[str, str]] = []
    if rng.random() < 0.85:
        places.append(("ben", w.addr["ben"]))
    if rng.random() < 0.5:
        places.append(("far", w.addr["far"]))
    if rng.random() < 0.3:
        places.append((rng.choice(w.clients), "127.0.0.1"))
    if rng.random() < 0.15:
        places.append(("rt", w.addr["rt"]))
    for host, listen in places:
        records: dict[str, str] = {}
        for name in rng.sample(RECORD_NAMES, rng.randint(2, 5)):
            records[name] = rng.choice([*w.addr.values(), f"{w.net}.77", "192.0.2.7"])
            w.records.setdefault(name, records[name])
        w.hosts[host].setdefault("dns_servers", []).append({"listen": listen, "records": records})


def _resolver_files(w: Names, name: str) -> None:
    rng = w.rng
    host = w.hosts[name]
    if rng.random() < 0.5:
        lines = []
        for _ in range(rng.randint(1, 2)):
            names = rng.sample(FILE_NAMES, rng.randint(1, 2))
            lines.append({"address": rng.choice([*w.addr.values(), "192.0.2.9", "127.0.0.1"]), "names": names})
            w.file_names += names
        host["hosts_file"] = lines
    if rng.random() < 0.1:
        return  # no resolv.conf nameserver: the C library asks 127.0.0.1
    servers = [
        (s["listen"], h)
        for h, spec in w.hosts.items()
        for s in spec.get("dns_servers", [])
        if s["listen"] != "127.0.0.1" or h == name
    ]
    chosen: list[str] = []
    slow = False
    for _ in range(rng.choices([1, 2, 3], weights=[5, 4, 1])[0]):
        pick = rng.random()
        if servers and pick < 0.55:
            ns = rng.choice(servers)[0]
        elif pick < 0.65:
            ns = "127.0.0.53"  # nobody listens: ICMP port unreachable on lo, the next at once
        elif pick < 0.75:
            ns = "127.0.0.1"
        elif pick < 0.85:
            ns = w.addr[rng.choice([h for h in w.addr if h != name])]  # a host, maybe with no server
        elif pick < 0.9:
            ns = w.addr[name]
        elif not slow and pick < 0.95:
            ns, slow = f"{w.net}.77", True  # nobody holds it: ARP gives up after 3 s
        else:
            ns = f"{w.far_net}.{rng.choice([5, 1])}"
        if ns not in chosen:
            chosen.append(ns)
    host["nameservers"] = chosen


def _services(w: Names) -> None:
    """sshd on ben and/or far; targets that listen, reject, reset or drop, and firewalls for them."""
    rng = w.rng
    for host in ("ben", "far"):
        if rng.random() < 0.6:
            w.hosts[host]["sshd"] = True
            w.sshd.append(host)
    for host in [*w.clients, "far"]:
        spec = w.hosts[host]
        if rng.random() < 0.7:
            binds = ["0.0.0.0:9001"] + (["127.0.0.1:9005"] if rng.random() < 0.3 else [])
            spec["listeners"] = binds
        if rng.random() < 0.4:
            kind = rng.choice(["reject", "reset", "drop"])
            rule = {"reject": "reject_tcp_ports", "reset": "reset_tcp_ports", "drop": "drop_tcp_ports"}[kind]
            port = TARGET_PORTS[kind]
            spec.setdefault("listeners", []).append(f"0.0.0.0:{port}")
            spec[rule] = [port]
            w.firewall.append((host, rule, port))


WEIGHTS: dict[str, int] = {
    "resolve": 12,
    "ssh_forward": 5,
    "knock": 6,
    "link_updown": 2,
    "addr_del": 1,
    "route_del": 1,
    "route_add": 1,
    "firewall_del": 1,
    "wait": 2,
    "connect": 1,
}


def _step(w: Names, index: int) -> dict[str, Any] | None:
    kind = w.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    body = _BUILDERS[kind](w)
    if body is None:
        return None
    return {"id": f"s{index + 1}-{kind.replace('_', '-')}", **body}


def _swapcase(name: str, rng: random.Random) -> str:
    return "".join(c.swapcase() if rng.random() < 0.5 else c for c in name)


def _resolve(w: Names) -> dict[str, Any]:
    rng = w.rng
    pick = rng.random()
    records = list(w.records)
    if records and pick < 0.35:
        name = rng.choice(records)
        name = _swapcase(name, rng) if rng.random() < 0.4 else name
    elif records and pick < 0.5:
        dotted = [r for r in records if "." in r]
        if dotted:
            parent = rng.choice(dotted).split(".", 1)[1]
            name = parent if rng.random() < 0.7 else _swapcase(parent, rng)
        else:
            name = "www." + rng.choice(records)
    elif w.file_names and pick < 0.68:
        name = rng.choice(w.file_names)
        name = _swapcase(name, rng) if rng.random() < 0.3 else name
    elif pick < 0.82:
        name = rng.choice(NUMERIC)
    else:
        name = rng.choice(UNKNOWN)
    return {"resolve": {"by": rng.choice(w.clients), "name": name}}


def _ssh_forward(w: Names) -> dict[str, Any] | None:
    rng = w.rng
    if not w.sshd:
        return None
    server = rng.choice(w.sshd)
    by = rng.choice([c for c in w.clients if c != server])
    port = rng.choice(FORWARD_PORTS)
    bind = rng.choice([None, None, None, "", "*", "localhost", "127.0.0.1", w.addr[by]])
    gateway_ports = rng.random() < 0.4
    pick = rng.random()
    chain = [f for f in w.forwards if f[0] == by and f[1] != "127.0.0.1" and f[2] != port]
    if pick < 0.3:
        host, hostport = "localhost", rng.choice([9001, 9005, 9009, 22])
    elif pick < 0.7:
        host = w.addr[rng.choice([h for h in w.addr if h != "rt"])]
        hostport = rng.choice(list(TARGET_PORTS.values()))
    elif chain and pick < 0.85:
        _, listen, hostport = rng.choice(chain)
        host = w.addr[by] if listen == "0.0.0.0" else listen
    elif pick < 0.93:
        host, hostport = f"{w.net}.77", 9001  # nobody holds it: ARP gives up after 3 s
    else:
        host, hostport = rng.choice(["127.0.0.1", f"{w.far_net}.1"]), rng.choice([9001, 22])
    lead = "" if bind is None else f"{bind}:"
    body: dict[str, Any] = {"by": by, "server": w.addr[server], "forward": f"{lead}{port}:{host}:{hostport}"}
    if gateway_ports:
        body["gateway_ports"] = True
    if bind is None:
        listen = "0.0.0.0" if gateway_ports else "127.0.0.1"
    elif bind in ("", "*"):
        listen = "0.0.0.0"
    elif bind == "localhost":
        listen = "127.0.0.1"
    else:
        listen = bind
    w.forwards.append((by, listen, port))
    return {"ssh_forward": body}


def _knock(w: Names) -> dict[str, Any] | None:
    rng = w.rng
    if not w.forwards:
        return None
    client, listen, port = rng.choice(w.forwards)
    if listen == "127.0.0.1" or rng.random() < 0.4:
        by, to = client, ("127.0.0.1" if listen in ("127.0.0.1", "0.0.0.0") else listen)
    else:
        by, to = rng.choice([h for h in w.addr if h != client]), w.addr[client]
    body: dict[str, Any] = {"by": by, "to": f"{to}:{port}"}
    if rng.random() < 0.8:
        body["read"] = True
    return {"connect": body}


def _connect(w: Names) -> dict[str, Any]:
    rng = w.rng
    by = rng.choice(w.clients)
    to = w.addr[rng.choice([h for h in w.addr if h != by])]
    return {"connect": {"by": by, "to": f"{to}:{rng.choice([9001, 9002, 22])}", "deadline": 1.5}}


def _link_updown(w: Names) -> dict[str, Any]:
    rng = w.rng
    pick = rng.random()
    if pick < 0.4:
        by, dev = rng.choice(w.clients), "eth0"
    elif pick < 0.7:
        by, dev = "sw", f"p{rng.randint(1, len(w.clients))}"
    elif pick < 0.85:
        by, dev = "rt", rng.choice(["eth0", "eth1"])
    else:
        by, dev = rng.choice(["ann", "ben", "far"]), "lo"
    return {"link_set": {"by": by, "dev": dev, "up": rng.random() < 0.5}}


def _addr_del(w: Names) -> dict[str, Any] | None:
    held = [h for h in w.addr if h in w.dev_of and h not in w.deleted]
    if not held:
        return None
    host = w.rng.choice(held)
    w.deleted.append(host)
    address = w.addr[host]
    return {"addr_del": {"by": host, "dev": w.dev_of[host], "address": f"{address}/24"}}


def _route_del(w: Names) -> dict[str, Any] | None:
    if not w.routes:
        return None
    by, to, via = w.rng.choice(w.routes)
    w.routes.remove((by, to, via))
    return {"route_del": {"by": by, "to": to}}


def _route_add(w: Names) -> dict[str, Any] | None:
    rng = w.rng
    by = rng.choice(w.clients)
    to = rng.choice(["default", f"{w.far_net}.0/24"])
    if any(r[0] == by and r[1] == to for r in w.routes):
        return None
    via = rng.choice([f"{w.net}.1", f"{w.net}.1", w.addr.get("ben", f"{w.net}.12")])
    w.routes.append((by, to, via))
    return {"route_add": {"by": by, "to": to, "via": via}}


def _wait(w: Names) -> dict[str, Any] | None:
    seconds = w.rng.choice([0.5, 1, 2, 4])
    if w.waited + seconds > 8:
        return None
    w.waited += seconds
    return {"wait": seconds}


_BUILDERS = {
    "resolve": _resolve,
    "ssh_forward": _ssh_forward,
    "knock": _knock,
    "link_updown": _link_updown,
    "addr_del": _addr_del,
    "route_del": _route_del,
    "route_add": _route_add,
    "firewall_del": _firewall_del,
    "wait": _wait,
    "connect": _connect,
}
assert set(_BUILDERS) == set(WEIGHTS)
